"""AXF601: randomness drawn from a library's global state."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from lint.analysis import Module, in_seeded_scope, is_step
from lint.dataflow import dataflow_of
from lint.findings import Finding
from lint.rules.base import Rule
from lint.seeds import TORCH_SEEDERS, global_state, reseeded


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
    And a task reseed: ``np.random.seed(s)``, ``random.seed(s)`` or
    ``torch.manual_seed(s)`` (or ``torch.cuda.manual_seed(_all)``) as an
    unconditional top-level statement of a ``@step``, before the step draws
    from that state, with ``s`` fixed: a literal (``np.random.seed(1234)``),
    a module-level numeric constant, or derived from the config or the branch
    (a ``self.`` artifact or parameter, not the task's identity). Every
    Metaflow task is a fresh process, so that seeds the whole task
    deterministically (for torch it is the only way to seed ``nn.Module``
    default initialisation, since no layer takes a ``generator=``); draws
    from the same state later in that step are then covered too. A reseed in
    a helper or in library code is still flagged: there it governs whatever
    else runs in the process.

    A step that calls a project helper imported from another file (found
    beside the flow or below the project root) is flagged at the call when
    that helper draws from global state and the draw reaches its result.

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
        for node in module.calls:
            verdict = _verdict(module, node)
            if verdict is None:
                continue
            qualified = verdict[0]
            state = global_state(module, node)
            if state is not None and reseeded(module, node, state):
                continue  # the task reseeds this state with a fixed seed first (or this is that reseed)
            if qualified not in TORCH_SEEDERS and not _result_reached(module, node, qualified):
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
        yield from self._imported_draws(module)

    def _imported_draws(self, module: Module) -> Iterator[Finding]:
        """Draws from global state inside a project helper imported from another file that a step calls."""
        for call in module.calls:
            step = module.enclosing_function(call)
            if step is None or not is_step(step):
                continue
            found = dataflow_of(module).helper(call)
            if found is None or found[0] is module:
                continue
            other, helper = found
            for sub in ast.walk(helper):
                if not isinstance(sub, ast.Call):
                    continue
                verdict = _verdict(other, sub)
                state = global_state(other, sub)
                if verdict is None or state is None or verdict[0] in TORCH_SEEDERS:
                    continue
                if reseeded(module, call, state) or not dataflow_of(other).reaches_result(sub):
                    continue
                qualified, state_text, fix = verdict
                where = (
                    f" in {helper.name}() (line {sub.lineno} of {other.path.rsplit('/', 1)[-1]}), "
                    f"called by step '{step.name}',"
                )
                yield self.finding(module, call, call=qualified, where=where, state=state_text, fix=fix)
                break


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


#: The message parts for each global state: what it is, and what to draw from instead.
_STATES = {
    "numpy": ("NumPy's global random state", "draw from np.random.default_rng(seed)"),
    "random": ("the random module's global state", "draw from random.Random(seed)"),
    "torch": ("torch's global generator", "pass generator=torch.Generator().manual_seed(seed)"),
}


def _verdict(module: Module, call: ast.Call) -> tuple[str, str, str] | None:
    """``(qualified name, state, fix)`` for a call that draws from or seeds global random state."""
    state = global_state(module, call)
    if state is None:
        return None
    qualified = module.qualname(call.func) or ""
    text, fix = _STATES[state]
    if qualified in TORCH_SEEDERS:
        fix += " where randomness is drawn"
    return qualified, text, fix
