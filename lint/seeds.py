"""Where seeds go and where they come from: shared by the AXF6xx rules.

A *seed argument* is an argument that seeds randomness: any argument of a
known seeding call (``np.random.default_rng``, ``torch.manual_seed``...), a
``seed=``/``random_state=`` keyword of any call, the third positional
argument of the ``make_data`` and ``train_arm`` seams, a positional argument
that binds a seed-named parameter of a helper in the same file, and a
positional argument spelled as a seed (``train(data, seed)``) of a function
it cannot see. Its *origin* is read from the data-flow slice of the argument.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from lint.analysis import FunctionNode, Module, call_name, is_numeric_literal, is_step, self_attr
from lint.dataflow import Param, dataflow_of, params_in

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
# Global-state reseeds that seed a whole task when a step calls them with a fixed seed, and the
# state each one governs.
GLOBAL_RESEEDERS = {
    "numpy.random.seed": "numpy", "random.seed": "random", "torch.manual_seed": "torch",
    "torch.random.manual_seed": "torch", "torch.cuda.manual_seed": "torch",
    "torch.cuda.manual_seed_all": "torch",
}
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
SEED_WORDS = frozenset({"seed", "seeds", "random_state"})
SEED_KEYWORDS = frozenset({"seed", "random_state", "rng_seed", "random_seed", "base_seed"})
# Seams that take the branch seed as their third positional argument.
SEEDED_SEAMS = {"make_data": 2, "train_arm": 2}


@dataclass(frozen=True)
class SeedArgument:
    """An argument that seeds randomness, the call it goes to, and a name for that sink."""

    argument: ast.expr
    call: ast.Call
    sink: str


def _seedish(name: str) -> bool:
    lowered = name.lower()
    return "seed" in lowered or lowered in SEED_WORDS or "random_state" in lowered


def seed_arguments(module: Module, call: ast.Call) -> list[SeedArgument]:
    """The arguments of ``call`` that act as a seed (see the module docstring)."""
    qualified = module.qualname(call.func)
    method = call.func.attr if isinstance(call.func, ast.Attribute) else None
    sink = qualified or call_name(call) or "the call"
    found: list[ast.expr] = []
    if qualified in SEEDERS or (qualified is None and method in {"manual_seed", "seed"}):
        found.extend(arg for arg in call.args if not isinstance(arg, ast.Starred))
        found.extend(keyword.value for keyword in call.keywords if keyword.arg is not None)
        return [SeedArgument(arg, call, sink) for arg in found]
    found.extend(keyword.value for keyword in call.keywords if keyword.arg in SEED_KEYWORDS)
    position = SEEDED_SEAMS.get(call_name(call) or "")
    if position is not None and len(call.args) > position:
        found.append(call.args[position])
    helper = dataflow_of(module).helper(call, imported=False)
    if helper is not None:
        params = [a.arg for a in [*helper[1].args.posonlyargs, *helper[1].args.args]]
        if params and params[0] in {"self", "cls"} and isinstance(call.func, ast.Attribute):
            params = params[1:]
        found.extend(
            arg for param, arg in zip(params, call.args) if _seedish(param) and arg not in found
        )
    elif qualified is None or not qualified.startswith(("numpy.", "torch.", "random.")):
        for arg in call.args:
            spelled = arg.id if isinstance(arg, ast.Name) else self_attr(arg)
            if spelled is not None and _seedish(spelled) and arg not in found:
                found.append(arg)
    return [SeedArgument(arg, call, sink) for arg in found]


def all_seed_arguments(module: Module) -> list[SeedArgument]:
    """Every seed argument in the module, computed once."""
    cached = module.__dict__.get("_seed_arguments")
    if cached is None:
        cached = [found for call in module.calls for found in seed_arguments(module, call)]
        module.__dict__["_seed_arguments"] = cached
    return cached


def volatile_source(module: Module, node: ast.AST) -> str | None:
    """A spelling of ``node`` when it is a run-identity or clock source, else None."""
    if isinstance(node, ast.Attribute):
        qualified = module.qualname(node)
        if qualified in RUN_IDENTITY:
            return qualified.removeprefix("metaflow.")
        if self_attr(node) == "index" and in_flow_class(module, node):
            return "self.index (the foreach split index)"
    elif isinstance(node, ast.Call):
        qualified = module.qualname(node.func)
        if qualified in VOLATILE_CALLS:
            return f"{qualified}()"
    return None


def salted_hash(module: Module, node: ast.AST | Param) -> ast.Call | None:
    """``node`` when it is a builtin ``hash(...)`` of something that may be a str, bytes or tuple."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "hash"
        and "hash" not in module.imports
        and "hash" not in module.functions
        and len(node.args) == 1
    ):
        return None
    argument = node.args[0]
    if _provably_numeric(argument):
        return None
    return node


def _provably_numeric(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id in {"int", "float", "len", "round"}
    if isinstance(node, ast.BinOp):
        return _provably_numeric(node.left) and _provably_numeric(node.right)
    return False


def origins(module: Module, expr: ast.AST) -> list:
    """The data-flow slice of ``expr`` as a list (see :meth:`lint.dataflow.DataFlow.slice`)."""
    return dataflow_of(module).sliced(expr)


def callers_binding(module: Module, param: Param) -> Iterator[tuple[ast.Call, ast.expr]]:
    """Call sites in the module of the function owning ``param``, with the argument bound to it."""
    func = param.function
    params = [a.arg for a in [*func.args.posonlyargs, *func.args.args]]
    for call in dataflow_of(module).calls_of(func):
        positional = params
        if positional and positional[0] in {"self", "cls"} and isinstance(call.func, ast.Attribute):
            positional = positional[1:]
        for name, arg in zip(positional, call.args):
            if name == param.name:
                yield call, arg
        for keyword in call.keywords:
            if keyword.arg == param.name:
                yield call, keyword.value


def branch_derived(module: Module, expr: ast.AST) -> bool:
    """True if a seed comes from the config or the branch: a ``self.`` artifact or parameter
    (not ``self.index``), a function parameter or a Metaflow ``Parameter``, with no run-identity,
    clock or salted-hash source anywhere in its slice."""
    slice_nodes = origins(module, expr)
    derived = False
    for node in slice_nodes:
        if volatile_source(module, node) is not None or salted_hash(module, node) is not None:
            return False
        if self_attr(node) is not None and self_attr(node) != "index":
            derived = True
    return derived or bool(params_in(slice_nodes))


def global_state(module: Module, call: ast.Call) -> str | None:
    """The global random state a call draws from or seeds: ``"numpy"``, ``"random"``, ``"torch"``, else None.

    Seeded objects (``np.random.default_rng(s)``, ``random.Random(s)``) and
    torch calls given a ``generator=`` use no global state.
    """
    qualified = module.qualname(call.func)
    if qualified is None:
        return None
    head, _, last = qualified.rpartition(".")
    keywords = {keyword.arg for keyword in call.keywords}
    if head == "numpy.random" and last not in NUMPY_CONSTRUCTORS:
        return "numpy"
    if head == "random" and last in STDLIB_FUNCTIONS:
        return "random"
    if qualified in TORCH_SEEDERS:
        return "torch"
    if head == "torch" and last in TORCH_SAMPLERS and "generator" not in keywords:
        return "torch"
    if qualified.startswith("torch.utils.data") and "generator" not in keywords:
        shuffles = any(
            keyword.arg == "shuffle"
            and not (isinstance(keyword.value, ast.Constant) and not keyword.value.value)
            for keyword in call.keywords
        )
        if (last == "DataLoader" and shuffles) or last == "random_split":
            return "torch"
    return None


def fixed_seed(module: Module, expr: ast.AST) -> bool:
    """True for a seed that is the same on every run of a task: a numeric literal, a module-level
    numeric constant, or one derived from the config or the branch (see :func:`branch_derived`)."""
    if is_numeric_literal(expr):
        return True
    if isinstance(expr, ast.Name):
        value = module.module_value(expr.id)
        if value is not None and is_numeric_literal(value):
            return True
    return branch_derived(module, expr)


def task_reseeds(module: Module) -> dict[FunctionNode, dict[str, ast.Call]]:
    """Per step, the global states (numpy / random / torch) it reseeds for the whole task.

    Every Metaflow task is a fresh process, so ``np.random.seed(1234)`` as an
    unconditional statement of a step (``random.seed(0)``, ``torch.manual_seed(7)``,
    or a seed from the config or the branch) makes every later draw from that
    state in the step deterministic. It counts only when the step has not
    drawn from that state before it and the seed is fixed (:func:`fixed_seed`).
    """
    cache = module.__dict__.setdefault("_task_reseeds", {})
    if cache:
        return cache
    for _, step in module.steps:
        if not is_step(step):
            continue
        seeded: dict[str, ast.Call] = {}
        drawn: set[str] = set()
        for stmt in step.body:
            call = stmt.value if isinstance(stmt, ast.Expr) else None
            if isinstance(call, ast.Call):
                state = GLOBAL_RESEEDERS.get(module.qualname(call.func) or "")
                if (
                    state is not None and state not in drawn and state not in seeded
                    and len(call.args) == 1 and fixed_seed(module, call.args[0])
                ):
                    seeded[state] = call
                    continue
            for sub in ast.walk(stmt):
                if isinstance(sub, ast.Call):
                    state = global_state(module, sub)
                    if state is not None:
                        drawn.add(state)
        cache[step] = seeded
    return cache


def reseeded(module: Module, node: ast.AST, state: str) -> bool:
    """True if ``node`` is, or comes after, its step's task reseed of ``state`` (:func:`task_reseeds`)."""
    step = module.enclosing_function(node)
    while step is not None and not is_step(step):
        step = module.enclosing_function(step)
    seed = task_reseeds(module).get(step, {}).get(state) if step is not None else None
    if seed is None:
        return False
    # every node the seed rules ask about is an expression or statement, so it carries a position
    return node is seed or (seed.lineno, seed.col_offset) < (node.lineno, node.col_offset)  # type: ignore[attr-defined]


def in_flow_class(module: Module, node: ast.AST) -> bool:
    """True if ``node`` sits inside a flow class."""
    flow_nodes = {flow.node for flow in module.flow_classes}
    current = module.parents.get(node)
    while current is not None:
        if isinstance(current, ast.ClassDef):
            return current in flow_nodes
        current = module.parents.get(current)
    return False


__all__ = [
    "GLOBAL_RESEEDERS",
    "NUMPY_CONSTRUCTORS",
    "RUN_IDENTITY",
    "SEEDERS",
    "STDLIB_FUNCTIONS",
    "TORCH_SAMPLERS",
    "TORCH_SEEDERS",
    "SeedArgument",
    "all_seed_arguments",
    "branch_derived",
    "callers_binding",
    "fixed_seed",
    "global_state",
    "in_flow_class",
    "origins",
    "reseeded",
    "salted_hash",
    "seed_arguments",
    "task_reseeds",
    "volatile_source",
]
