"""AXF402: a join that builds an ordered result in the order inputs arrive."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from lint.analysis import (
    FunctionNode,
    Module,
    call_name,
    dotted,
    inputs_name,
    is_join,
    walk_body,
    words,
)
from lint.findings import Finding
from lint.rules.base import Rule

ORDERED_WRAPPERS = frozenset(
    {"list", "tuple", "array", "asarray", "stack", "vstack", "hstack", "concatenate", "cat",
     "concat", "DataFrame", "join", "chain"}
)
ORDER_FREE = frozenset(
    {"sorted", "sum", "fsum", "min", "max", "any", "all", "len", "mean", "median", "std", "var",
     "nanmean", "nanmedian", "nanstd", "nanvar", "nansum", "nanmin", "nanmax", "amin", "amax",
     "average", "percentile", "quantile", "nanpercentile", "nanquantile", "sem", "prod",
     "count_nonzero", "set", "frozenset", "dict", "Counter", "next", "unique"}
)
_GROWERS = frozenset({"append", "extend", "insert"})


class JoinArrivalOrderRule(Rule):
    """## What it does
    Flags a join step (a step taking ``inputs``) that builds an ordered result
    straight from ``inputs``: a ``for`` loop over ``inputs`` (also through
    ``enumerate``/``zip``) that appends, extends, inserts or ``+=`` into a
    list, or accumulates ``acc[k] += value`` (list concatenation and float
    sums both depend on the order; counts such as ``+= 1`` or
    ``+= len(x)`` do not and pass); a list comprehension or generator over
    ``inputs``, also when it sits inside a dict, list or tuple literal
    (``self.summary = {"rows": [inp.row for inp in inputs]}``); or
    ``list(inputs)`` / ``tuple(inputs)``; unless the result is sorted later
    in the same step (``result.sort(...)`` or ``sorted(result, ...)``). When
    each row carries its own key (``{"seed": inp.seed, ...}``), the message
    says to sort the rows by that key.

    Iterating ``sorted(inputs, key=...)`` passes, as do dict comprehensions
    keyed by branch key, reductions whose value does not depend on order
    (``all``, ``any``, ``min``, ``max``, ``len``, ``sum``, ``mean``, ``std``,
    ``median``, ``set``...), also through a local list read only by such
    reductions (``rows = [...]; np.mean(rows, axis=0)``), a filter that can
    keep at most one input of a two-branch join
    (``[i for i in inputs if hasattr(i, "study")]``), and reading one input
    (``inputs[0].plan``). A comprehension handed to any
    other function is flagged, since that function sees arrival order.

    ## Why is this bad?
    When Metaflow orders join inputs depends on the kind of join:

    - a **foreach** join receives its inputs in split order on Metaflow
      2.19.23 and later, and in completion order before that (so the worker
      count changes it);
    - a join of **static branches** (``self.next(self.a, self.b)``) receives
      them in an order that is not defined at all: on Metaflow 2.19.39 it
      changes with ``PYTHONHASHSEED``, that is, from one run to the next,
      even at one worker (tests/lint/test_lint_join_order.py runs a
      four-branch flow under two hash seeds and checks this).

    Neither order is a property of your experiment. A result table, a
    per-seed list or a bootstrap that depends on it differs between runs,
    which is exactly what the ``order_independent`` contract and
    ``axisflow prove`` rule out.

    ## Example
    ```python
    @step
    def join(self, inputs):
        self.records = [inp.record for inp in inputs]
        self.next(self.end)
    ```

    ## Use instead
    ```python
    @step
    def join(self, inputs):
        ordered = sorted(inputs, key=lambda inp: inp.branch_key)
        self.records = [inp.record for inp in ordered]
        self.next(self.end)
    ```
    """

    code = "AXF402"
    name = "join-arrival-order"
    summary = "A join builds an ordered result in the order its inputs arrive."
    message = "join '{join}' builds {what} in the order inputs arrive ({order}); {fix}"

    def check(self, module: Module) -> Iterator[Finding]:
        for _, step in module.steps:
            if not is_join(step):
                continue
            inputs = inputs_name(step)
            order = join_order_note(module, step)
            for node in walk_body(step):
                what = None
                if isinstance(node, (ast.For, ast.AsyncFor)) and _iterates(node.iter, inputs):
                    what = _loop_result(module, step, node)
                elif isinstance(node, (ast.ListComp, ast.GeneratorExp)) and any(
                    _iterates(gen.iter, inputs) for gen in node.generators
                ):
                    what = _context_result(module, step, node)
                elif (
                    isinstance(node, ast.Call)
                    and call_name(node) in {"list", "tuple"}
                    and isinstance(node.func, ast.Name)
                    and len(node.args) == 1
                    and isinstance(node.args[0], ast.Name)
                    and node.args[0].id == inputs
                ):
                    what = _context_result(module, step, node)
                if what is not None and isinstance(node, (ast.ListComp, ast.GeneratorExp)):
                    if _keeps_one_branch(module, step, node):
                        what = None
                if what is not None:
                    key = _row_key(node, inputs)
                    branches = static_branches(module, step)
                    if key is not None:
                        fix = f"each row carries its key '{key}', so sort the rows by it"
                    elif branches:
                        named = ", ".join(f"{inputs}.{name}" for name in branches)
                        fix = f"read each branch by name ({named}) or sort by a field each input carries"
                    else:
                        fix = f"iterate sorted({inputs}, key=...) by branch key"
                    yield self.finding(module, node, join=step.name, what=what, order=order, fix=fix)


def _iterates(node: ast.expr, inputs: str) -> bool:
    if isinstance(node, ast.Name):
        return node.id == inputs
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id in {"enumerate", "zip", "iter", "reversed", "list", "tuple"}:
            return any(_iterates(arg, inputs) for arg in node.args)
    return False


def _loop_result(module: Module, step: FunctionNode, loop: ast.For | ast.AsyncFor) -> str | None:
    grown: list[str] = []
    for stmt in loop.body:
        for sub in ast.walk(stmt):
            if (
                isinstance(sub, ast.Call)
                and isinstance(sub.func, ast.Attribute)
                and sub.func.attr in _GROWERS
            ):
                root = _root(sub.func.value)
                if root is not None:
                    grown.append(root)
            elif isinstance(sub, ast.AugAssign) and isinstance(sub.op, ast.Add):
                accumulates = isinstance(sub.target, ast.Subscript) and not _is_constant(sub.value)
                if accumulates or isinstance(sub.value, (ast.List, ast.ListComp, ast.Tuple)):
                    root = _root(sub.target)
                    if root is not None:
                        grown.append(root)
    unsorted = [
        root for root in grown
        if not _sorted_later(step, root, loop.lineno) and not _only_reduced(module, step, root, loop.lineno)
    ]
    if not unsorted:
        return None
    return ", ".join(f"'{root}'" for root in sorted(set(unsorted)))


def _context_result(module: Module, step: FunctionNode, node: ast.AST) -> str | None:
    parent = module.parents.get(node)
    while True:
        while isinstance(parent, (ast.Dict, ast.List, ast.Tuple, ast.Starred)):
            node, parent = parent, module.parents.get(parent)
        if isinstance(parent, ast.keyword):
            node, parent = parent, module.parents.get(parent)
        if not (isinstance(parent, ast.Call) and call_name(parent) in ORDERED_WRAPPERS):
            break
        node, parent = parent, module.parents.get(parent)
    if isinstance(parent, ast.Call):
        if call_name(parent) in ORDER_FREE or node is parent.func:
            return None
        return f"an argument of {call_name(parent) or 'a call'}()"
    if isinstance(parent, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
        roots = [_root(target) for target in targets]
        unsorted = [
            root for root in roots
            if root is None
            or not (_sorted_later(step, root, parent.lineno) or _only_reduced(module, step, root, parent.lineno))
        ]
        if not unsorted:
            return None
        return ", ".join(f"'{root}'" if root else "a list" for root in unsorted)
    return None


def _only_reduced(module: Module, step: FunctionNode, root: str, after: int) -> bool:
    """True if a local list is read, after line ``after``, only by order-free reductions.

    ``rows = [[i.acc, i.loss] for i in inputs]; self.avg = np.mean(rows, axis=0)``:
    the mean does not depend on the order of the rows. Each read may sit
    inside ``np.array(...)``-style wrappers, or call a reduction method
    (``np.asarray(rows).mean()``). An artifact (``self.rows``) is never only
    reduced: the list itself is stored.
    """
    if "." in root:
        return False
    reads = [
        node for node in walk_body(step)
        if isinstance(node, ast.Name) and node.id == root and isinstance(node.ctx, ast.Load)
        and node.lineno >= after
    ]
    return bool(reads) and all(_reduced(module, read) for read in reads)


def _reduced(module: Module, read: ast.Name) -> bool:
    parents = module.parents
    node: ast.AST = read
    parent = parents.get(read)
    while isinstance(parent, ast.Call) and node in parent.args and call_name(parent) in ORDERED_WRAPPERS - {"join"}:
        node, parent = parent, parents.get(parent)
    if isinstance(parent, ast.Call) and node in parent.args:
        return call_name(parent) in ORDER_FREE - {"sorted", "next", "dict"}
    if isinstance(parent, ast.Attribute) and parent.value is node:
        if parent.attr in _GROWERS and node is read:
            return True  # the loop filling the list, not a use of it
        return parent.attr in ORDER_FREE and isinstance(parents.get(parent), ast.Call)
    return False


def _keeps_one_branch(module: Module, step: FunctionNode, comp: ast.ListComp | ast.GeneratorExp) -> bool:
    """True for a filter that can keep at most one input of a two-branch static join.

    ``[inp for inp in inputs if not hasattr(inp, "study")]`` in a join of two
    branches picks the branch by an artifact only one of them carries (the
    same for ``inp.kind == "trials"``): a list of at most one input has no order.
    """
    if len(static_branches(module, step)) != 2 or len(comp.generators) != 1:
        return False
    generator = comp.generators[0]
    if not isinstance(generator.target, ast.Name) or not generator.ifs:
        return False
    target = generator.target.id
    return any(_branch_test(condition, target) for condition in generator.ifs)


def _branch_test(condition: ast.expr, target: str) -> bool:
    if isinstance(condition, ast.UnaryOp) and isinstance(condition.op, ast.Not):
        condition = condition.operand
    if isinstance(condition, ast.Call) and call_name(condition) == "hasattr" and condition.args:
        return isinstance(condition.args[0], ast.Name) and condition.args[0].id == target
    if (
        isinstance(condition, ast.Compare) and len(condition.ops) == 1
        and isinstance(condition.ops[0], (ast.Eq, ast.NotEq, ast.Is, ast.IsNot))
        and isinstance(condition.comparators[0], ast.Constant)
    ):
        left = condition.left
        return isinstance(left, ast.Attribute) and isinstance(left.value, ast.Name) and left.value.id == target
    return False


def _is_constant(node: ast.AST) -> bool:
    """True for a count-like increment (``1``, ``-1``, ``len(x)``, ``int(x)``), whose sum is order-free."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id in {"len", "int", "bool"}
    return isinstance(node, ast.Constant) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant)
    )


KEY_WORDS = frozenset(
    {"key", "seed", "index", "idx", "fold", "branch", "id", "name", "method", "config", "input",
     "split", "shard", "param", "params", "lr", "alpha"}
)


def _row_key(node: ast.AST, inputs: str) -> str | None:
    """The key a row carries when the rows built from ``inputs`` are dicts or tuples holding one."""
    rows: list[ast.AST] = []
    if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
        rows.append(node.elt)
    elif isinstance(node, (ast.For, ast.AsyncFor)):
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr in _GROWERS:
                rows.extend(sub.args[-1:])
    for row in rows:
        if isinstance(row, ast.Dict):
            for key, value in zip(row.keys, row.values):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    if words(key.value) & KEY_WORDS and _reads_input(value):
                        return key.value
        elif isinstance(row, ast.Tuple) and row.elts and _reads_input(row.elts[0]):
            spelled = dotted(row.elts[0]) or ""
            if words(spelled) & KEY_WORDS:
                return spelled
    return None


def _reads_input(node: ast.AST) -> bool:
    return any(isinstance(sub, (ast.Attribute, ast.Subscript)) for sub in ast.walk(node))


def static_branches(module: Module, step: FunctionNode) -> list[str]:
    """The steps a static-branch join merges, in source order; empty for a foreach join."""
    predecessors = sorted({
        name
        for flow in module.flow_classes
        if step.name in flow.steps and flow.steps[step.name] is step
        for name, edges in flow.successors.items()
        for target, _ in edges
        if target == step.name
    })
    return predecessors if len(predecessors) > 1 else []


def join_order_note(module: Module, step: FunctionNode) -> str:
    """How Metaflow orders this join's inputs: by split for a foreach join, undefined for static branches."""
    if static_branches(module, step):
        return "static branches: the order varies with PYTHONHASHSEED between runs"
    return "foreach join: split order only on Metaflow 2.19.23+"


def _root(node: ast.AST) -> str | None:
    while isinstance(node, ast.Subscript):
        node = node.value
    return dotted(node)


def _sorted_later(step: FunctionNode, root: str, after: int) -> bool:
    for sub in walk_body(step):
        if not isinstance(sub, ast.Call) or sub.lineno < after:
            continue
        if isinstance(sub.func, ast.Attribute) and sub.func.attr == "sort":
            if _root(sub.func.value) == root:
                return True
        if isinstance(sub.func, ast.Name) and sub.func.id == "sorted" and sub.args:
            if any(dotted(n) == root for n in ast.walk(sub.args[0])):
                return True
    return False
