"""AXF601: randomness drawn from a library's global state."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from lint.analysis import Module, in_seeded_scope
from lint.findings import Finding
from lint.rules.base import Rule

NUMPY_CONSTRUCTORS = frozenset(
    {"default_rng", "Generator", "RandomState", "SeedSequence", "BitGenerator", "PCG64",
     "PCG64DXSM", "MT19937", "Philox", "SFC64"}
)
STDLIB_FUNCTIONS = frozenset(
    {"random", "randint", "randrange", "randbytes", "getrandbits", "choice", "choices",
     "shuffle", "sample", "uniform", "triangular", "gauss", "normalvariate", "lognormvariate",
     "expovariate", "vonmisesvariate", "gammavariate", "betavariate", "paretovariate",
     "weibullvariate", "binomialvariate", "seed", "setstate"}
)
TORCH_SAMPLERS = frozenset(
    {"rand", "randn", "randint", "randperm", "normal", "bernoulli", "multinomial", "poisson",
     "rand_like", "randn_like", "randint_like"}
)
TORCH_SEEDERS = frozenset(
    {"torch.manual_seed", "torch.seed", "torch.random.manual_seed", "torch.random.seed",
     "torch.cuda.manual_seed", "torch.cuda.manual_seed_all"}
)


class GlobalRandomStateRule(Rule):
    """## What it does
    In flow files and in files under a ``components/`` folder, flags calls
    that draw from or reseed a library's hidden global random state:

    - NumPy's module-level functions (``np.random.rand``, ``randn``,
      ``randint``, ``choice``, ``shuffle``, ``permutation``, ``normal``,
      ``uniform``, ``seed``...), under any import spelling
      (``import numpy as np``, ``from numpy import random``,
      ``from numpy.random import randn``);
    - the stdlib ``random`` module's functions (``random.random``,
      ``randint``, ``choice``, ``shuffle``, ``seed``...);
    - ``torch.rand``, ``randn``, ``randint``, ``randperm``, ``normal``,
      ``bernoulli``, ``multinomial`` (and the ``_like`` variants) without a
      ``generator=`` keyword, and ``torch.manual_seed`` / ``torch.seed`` /
      ``torch.cuda.manual_seed(_all)`` at all;
    - ``DataLoader(..., shuffle=True)`` and ``random_split(...)`` without
      ``generator=``.

    Seeded objects are fine: ``np.random.default_rng(seed)`` and its
    methods, ``np.random.RandomState(seed)``, ``random.Random(seed)``,
    ``torch.Generator().manual_seed(seed)`` passed as ``generator=``. Other
    files (tests, benchmarks) are out of scope. In-place initialisers such as
    ``tensor.normal_()`` and ``nn.init.*`` are not checked.

    ## Why is this bad?
    Global state is shared by everything in the process: any library call
    that draws a number shifts every later draw, and a seed set in one place
    silently governs code elsewhere. Results then depend on what ran before
    in the same task, and seeds no longer derive from the branch key alone,
    so two runs at different worker counts can disagree.

    ## Example
    ```python
    def make_data(data_spec, data_axes, seed):
        np.random.seed(seed)
        x = np.random.randn(data_spec["n"], data_spec["d"])
    ```

    ## Use instead
    ```python
    def make_data(data_spec, data_axes, seed):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((data_spec["n"], data_spec["d"]))
    ```
    """

    code = "AXF601"
    name = "global-random-state"
    summary = "Randomness is drawn from (or seeded into) NumPy, random or torch global state."
    message = "{call}() uses {state}; {fix}"

    def check(self, module: Module) -> Iterator[Finding]:
        if not in_seeded_scope(module):
            return
        for node in module.calls:
            verdict = _verdict(module, node)
            if verdict is not None:
                call, state, fix = verdict
                yield self.finding(module, node, call=call, state=state, fix=fix)


def _verdict(module: Module, call: ast.Call) -> tuple[str, str, str] | None:
    qualified = module.qualname(call.func)
    if qualified is None:
        return None
    head, _, last = qualified.rpartition(".")
    keywords = {keyword.arg for keyword in call.keywords}
    if head == "numpy.random" and last not in NUMPY_CONSTRUCTORS:
        return qualified, "NumPy's global random state", "draw from np.random.default_rng(seed)"
    if head == "random" and last in STDLIB_FUNCTIONS:
        return qualified, "the random module's global state", "draw from random.Random(seed)"
    if qualified in TORCH_SEEDERS:
        return (
            qualified,
            "torch's global generator",
            "pass generator=torch.Generator().manual_seed(seed) where randomness is drawn",
        )
    if head == "torch" and last in TORCH_SAMPLERS and "generator" not in keywords:
        return qualified, "torch's global generator", "pass generator=torch.Generator().manual_seed(seed)"
    if qualified.startswith("torch.utils.data") and "generator" not in keywords:
        shuffles = any(
            keyword.arg == "shuffle"
            and not (isinstance(keyword.value, ast.Constant) and not keyword.value.value)
            for keyword in call.keywords
        )
        if (last == "DataLoader" and shuffles) or last == "random_split":
            return qualified, "torch's global generator", "pass generator=torch.Generator().manual_seed(seed)"
    return None
