"""AXF603: a seed derived from the run's identity or the clock."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from lint.analysis import Module, call_name, in_seeded_scope, local_assignment, self_attr
from lint.findings import Finding
from lint.rules.base import Rule

# Attributes of Metaflow's ``current`` that name this run or task rather than the branch.
RUN_IDENTITY = frozenset(
    {"metaflow.current.task_id", "metaflow.current.run_id", "metaflow.current.pathspec",
     "metaflow.current.retry_count", "metaflow.current.origin_run_id"}
)
# Calls whose value depends on the process, the thread or the wall clock.
VOLATILE_CALLS = frozenset(
    {"os.getpid", "os.getppid", "time.time", "time.time_ns", "time.perf_counter",
     "time.perf_counter_ns", "time.monotonic", "time.monotonic_ns", "datetime.datetime.now",
     "datetime.datetime.utcnow", "datetime.datetime.today", "datetime.date.today",
     "threading.get_ident", "threading.get_native_id", "uuid.uuid1", "uuid.uuid4"}
)
SEEDERS = frozenset(
    {"numpy.random.default_rng", "numpy.random.seed", "numpy.random.RandomState",
     "numpy.random.SeedSequence", "random.seed", "random.Random", "torch.manual_seed",
     "torch.random.manual_seed", "torch.cuda.manual_seed", "torch.cuda.manual_seed_all"}
)
# Seams that take the branch seed as their third positional argument.
SEEDED_SEAMS = {"make_data": 2, "train_arm": 2}
# How many ``name = value`` hops are followed back from a seed argument.
MAX_HOPS = 5


class RunIdentitySeedRule(Rule):
    """## What it does
    In flow files and in files under a ``components/`` folder, flags a seed
    computed from the run's identity or the clock rather than the branch
    key. The sources are Metaflow's ``current.task_id``, ``run_id``,
    ``pathspec``, ``retry_count`` and ``origin_run_id``; ``self.index`` (the
    foreach split index) in a flow; ``os.getpid()``; ``time.time()``,
    ``time.time_ns()``, ``time.perf_counter()``, ``time.monotonic()`` and
    ``datetime.now()``; ``threading.get_ident()``; ``uuid.uuid4()``. They are
    flagged when they reach, directly or through local ``name = value``
    assignments in the same function, a seeding call:
    ``np.random.default_rng``, ``np.random.seed``, ``np.random.RandomState``,
    ``random.seed``, ``random.Random``, ``torch.manual_seed``,
    ``torch.cuda.manual_seed(_all)``, any ``.manual_seed(...)`` or
    ``.seed(...)`` method, a ``seed=`` keyword of any call, or the third
    positional argument of the ``make_data`` and ``train_arm`` seams. All
    import spellings resolve (``from metaflow import current as cur``,
    ``from time import time``, ``from numpy.random import default_rng``).
    ``self.input`` is the branch's own data and is fine; the clock used only
    for timing is fine.

    ## Why is this bad?
    Task ids, run ids, process ids and timestamps change with scheduling,
    retries, ``resume`` and remote execution, so the numbers drawn are no
    longer a function of the config. Metaflow's local runtime happens to
    number tasks in split order, so a rerun at the same worker count can
    agree with itself and the prove gate cannot always catch it.

    ## Example
    ```python
    rng = np.random.default_rng(int(current.task_id))
    ```

    ## Use instead
    ```python
    rng = np.random.default_rng(derive_seed(self.input["seed"], "data"))
    ```
    """

    code = "AXF603"
    name = "run-identity-seed"
    summary = "A seed is derived from the run's identity or the clock instead of the branch key."
    message = "{sink} is seeded from {source}, which changes between runs; derive the seed from the branch key"

    def check(self, module: Module) -> Iterator[Finding]:
        if not in_seeded_scope(module):
            return
        for node in module.calls:
            sink = _sink_name(module, node)
            for argument in _seed_arguments(module, node):
                source = _source(module, argument, MAX_HOPS)
                if source is not None:
                    yield self.finding(module, argument, sink=sink, source=source)
                    break


def _sink_name(module: Module, call: ast.Call) -> str:
    return module.qualname(call.func) or call_name(call) or "the call"


def _seed_arguments(module: Module, call: ast.Call) -> list[ast.expr]:
    """The argument expressions of ``call`` that act as a seed."""
    qualified = module.qualname(call.func)
    method = call.func.attr if isinstance(call.func, ast.Attribute) else None
    found: list[ast.expr] = []
    if qualified in SEEDERS or (qualified is None and method in {"manual_seed", "seed"}):
        found.extend(call.args)
        found.extend(keyword.value for keyword in call.keywords if keyword.arg is not None)
    else:
        found.extend(keyword.value for keyword in call.keywords if keyword.arg == "seed")
        position = SEEDED_SEAMS.get(call_name(call) or "")
        if position is not None and len(call.args) > position:
            found.append(call.args[position])
    return found


def _source(module: Module, node: ast.expr, hops: int) -> str | None:
    """The spelling of the first run-identity or clock source inside ``node``, following local names."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute):
            qualified = module.qualname(sub)
            if qualified in RUN_IDENTITY:
                return qualified.removeprefix("metaflow.")
            if self_attr(sub) == "index" and _in_flow_class(module, sub):
                return "self.index (the foreach split index)"
        elif isinstance(sub, ast.Call):
            qualified = module.qualname(sub.func)
            if qualified in VOLATILE_CALLS:
                return f"{qualified}()"
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and hops > 0:
            value = _assigned_value(module, sub)
            if value is not None:
                source = _source(module, value, hops - 1)
                if source is not None:
                    return source
    return None


def _assigned_value(module: Module, name: ast.Name) -> ast.expr | None:
    """The value last assigned to ``name`` above it in the same function, or at module level."""
    scope = module.enclosing_function(name)
    if scope is not None:
        return local_assignment(scope, name.id, name.lineno)
    return module.module_value(name.id)


def _in_flow_class(module: Module, node: ast.AST) -> bool:
    flow_nodes = {flow.node for flow in module.flow_classes}
    current = module.parents.get(node)
    while current is not None:
        if isinstance(current, ast.ClassDef):
            return current in flow_nodes
        current = module.parents.get(current)
    return False
