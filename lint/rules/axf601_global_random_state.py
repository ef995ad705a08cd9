"""AXF601: randomness drawn from a library's global state."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from lint.analysis import FunctionNode, Module, in_seeded_scope, is_step
from lint.dataflow import dataflow_of
from lint.findings import Finding
from lint.rules.base import Rule
from lint.seeds import branch_derived

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

    Two idioms are not flagged. A draw whose value reaches no result (no
    artifact, return value, metric, log or file, followed through the shared
    data-flow) is throw-away: a dummy input used only for its ``.shape``.
    And ``torch.manual_seed(x)`` (or ``torch.cuda.manual_seed(_all)``) as a
    top-level statement of a ``@step``, before the step draws anything, with
    ``x`` derived from the config or the branch (a ``self.`` artifact or
    parameter, not the task's identity): every Metaflow task is a fresh
    process, so that seeds the whole task deterministically, and it is the
    only way to seed ``nn.Module`` default initialisation (no layer takes a
    ``generator=``). Torch draws later in that step are then covered too.

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
    message = "{call}(){where} uses {state}; {fix}"

    def check(self, module: Module) -> Iterator[Finding]:
        if not in_seeded_scope(module):
            return
        seeded_from = _task_seeds(module)
        for node in module.calls:
            verdict = _verdict(module, node)
            if verdict is None:
                continue
            qualified = verdict[0]
            if qualified in TORCH_SEEDERS:
                if node in seeded_from.values():
                    continue
            else:
                step = module.enclosing_function(node)
                seed = seeded_from.get(step) if step is not None else None
                if qualified.startswith("torch.") and seed is not None and seed.lineno < node.lineno:
                    continue
                if not _result_reached(module, node, qualified):
                    continue
            call, state, fix = verdict
            step = module.enclosing_function(node)
            where = f" in step '{step.name}'" if step is not None and is_step(step) else ""
            if qualified in TORCH_SEEDERS and where:
                fix = (
                    "make it the step's first statement with a seed from the config or the branch "
                    "(self.seed, self.input), or pass generator=torch.Generator().manual_seed(seed) "
                    "where randomness is drawn"
                )
            yield self.finding(module, node, call=call, where=where, state=state, fix=fix)


def _result_reached(module: Module, call: ast.Call, qualified: str) -> bool:
    """Reseeding always matters; an in-place shuffle matters through its argument."""
    last = qualified.rsplit(".", 1)[-1]
    if last in {"seed", "setstate"}:
        return True
    if last == "shuffle" and call.args:
        return dataflow_of(module).reaches_result(call.args[0]) or _mutates_result(module, call.args[0])
    return dataflow_of(module).reaches_result(call)


def _mutates_result(module: Module, argument: ast.expr) -> bool:
    """True if an in-place shuffle's argument is a name whose other reads reach a result."""
    root = argument
    while isinstance(root, (ast.Subscript, ast.Attribute)):
        if isinstance(root, ast.Attribute) and isinstance(root.value, ast.Name) and root.value.id == "self":
            return True
        root = root.value
    if not isinstance(root, ast.Name):
        return True
    func = module.enclosing_function(argument)
    if func is None:
        return True
    return any(
        load is not root and dataflow_of(module).reaches_result(load)
        for load in dataflow_of(module).loads(func).get(root.id, ())
    ) or root.id in {a.arg for a in func.args.args}


def _task_seeds(module: Module) -> dict[FunctionNode, ast.Call]:
    """Steps that seed torch from the config or the branch as they start, with that call."""
    found: dict[FunctionNode, ast.Call] = {}
    for _, step in module.steps:
        if not is_step(step):
            continue
        for stmt in step.body:
            call = stmt.value if isinstance(stmt, ast.Expr) else None
            if isinstance(call, ast.Call) and module.qualname(call.func) in TORCH_SEEDERS:
                if call.args and branch_derived(module, call.args[0]):
                    found[step] = call
                break
            if any(
                isinstance(sub, ast.Call) and _verdict(module, sub) is not None
                for sub in ast.walk(stmt)
            ):
                break
    return found


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
