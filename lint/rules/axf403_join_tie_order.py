"""AXF403: a join that picks the best input with ties broken by arrival order."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from lint.analysis import FunctionNode, Module, dotted, inputs_name, is_join, self_attr, walk_body, words
from lint.dataflow import dataflow_of
from lint.findings import Finding
from lint.rules.axf402_join_arrival_order import KEY_WORDS, join_order_note
from lint.rules.base import Rule


class JoinTieOrderRule(Rule):
    """## What it does
    Flags a join step that picks one item out of its ``inputs`` (or out of
    anything built from them, followed through the shared data-flow, also
    one level into a helper in the same file that the join hands them to)
    by a score: ``max(..., key=...)``, ``min(..., key=...)``,
    ``sorted(..., key=...)`` indexed with ``[0]``/``[-1]`` (directly, or
    through a local name or an artifact set earlier in the step:
    ``self.results = sorted(...); self.best = self.results[0]``), or a
    hand-written best-so-far loop over the inputs
    (``if inp.acc > best_acc: best, best_acc = inp, inp.acc``). A pick in a
    later step from an artifact the join filled in arrival order
    (``self.results = {k(i): i.score for i in inputs}``, then
    ``max(self.results, key=...)``) is flagged too. A key that already breaks ties (a lambda
    returning a tuple, or a key spelled as a branch key: seed, index, fold,
    name, key...) passes, as does a pick from inputs first sorted by a key
    (``sorted(inputs, key=...)``).

    ## Why is this bad?
    ``max``, ``min`` and ``sorted`` keep the first of equal items, so when
    two branches tie (equal accuracy on a small test set is common) the
    "best" one is whichever arrived first. Join inputs arrive in split order
    only for foreach joins on recent Metaflow, and in an order that changes
    with ``PYTHONHASHSEED`` for static branches (see AXF402), so the chosen
    model can change between runs with identical numbers.

    ## Example
    ```python
    @step
    def join(self, inputs):
        self.best = max(inputs, key=lambda inp: inp.accuracy)
    ```

    ## Use instead
    ```python
    @step
    def join(self, inputs):
        self.best = max(inputs, key=lambda inp: (inp.accuracy, -inp.index))
    ```
    """

    code = "AXF403"
    name = "join-tie-order"
    summary = "A join picks the best input by a score, so ties are broken by arrival order."
    message = (
        "join '{join}' picks one input with {how} by {key}; ties keep the order inputs "
        "arrive ({order}); add a tie-breaker, e.g. key=lambda x: (score, branch key)"
    )

    def check(self, module: Module) -> Iterator[Finding]:
        for flow, step in module.steps:
            if not is_join(step):
                yield from self._later_picks(module, flow, step)
                continue
            inputs = inputs_name(step)
            order = join_order_note(module, step)
            for node in walk_body(step):
                found = _tie_pick(module, step, node, inputs) or _best_so_far(module, step, node, inputs)
                if found is not None:
                    how, key = found
                    yield self.finding(module, node, join=step.name, how=how, key=key, order=order)
                elif isinstance(node, ast.Call):
                    found = _tie_pick_in_helper(module, step, node, inputs)
                    if found is not None:
                        how, key = found
                        yield self.finding(module, node, join=step.name, how=how, key=key, order=order)


    def _later_picks(self, module: Module, flow, step: FunctionNode) -> Iterator[Finding]:
        """A pick in a later step from an artifact a join filled in arrival order (``self.results``)."""
        joins = [(join, inputs_name(join)) for join in flow.steps.values() if is_join(join)]
        if not joins:
            return
        for node in walk_body(step):
            for join, inputs in joins:
                found = _tie_pick(module, step, node, inputs, artifacts_only=True)
                if found is not None:
                    how, key = found
                    order = join_order_note(module, join)
                    yield self.finding(
                        module, node, join=join.name, how=f"{how} in step '{step.name}'", key=key, order=order
                    )
                    break


def _tie_pick(
    module: Module, func: FunctionNode, node: ast.AST, source: str, *, artifacts_only: bool = False
) -> tuple[str, str] | None:
    """``(how, key)`` when ``node`` picks one item by a tie-prone key from values built from ``source``.

    ``artifacts_only`` (a step after the join) requires the picked values to
    come through a ``self.`` artifact.
    """
    pick = _pick(module, func, node)
    if pick is None:
        return None
    call, how = pick
    key = _keyword(call, "key")
    if key is None or _breaks_ties(key) or not call.args:
        return None
    if artifacts_only and not any(self_attr(sub) is not None for sub in ast.walk(call.args[0])):
        return None
    if not _from_inputs(module, func, call.args[0], source):
        return None
    return how, _text(key)


_COMPARISONS = {ast.Gt: ">", ast.GtE: ">=", ast.Lt: "<", ast.LtE: "<="}


def _best_so_far(module: Module, step: FunctionNode, node: ast.AST, inputs: str) -> tuple[str, str] | None:
    """A hand-written best-so-far loop over the inputs: ``if inp.acc > best: best = inp.acc``.

    With ``>`` (or ``<``) the first of tied inputs wins, with ``>=`` the
    last: either way arrival order decides. A comparison of tuples (a
    tie-breaker) or of a key spelled as a branch key passes.
    """
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return None
    test = node.test
    if len(test.ops) != 1 or type(test.ops[0]) not in _COMPARISONS:
        return None
    loop = module.parents.get(node)
    while loop is not None and loop is not step and not isinstance(loop, (ast.For, ast.AsyncFor)):
        loop = module.parents.get(loop)
    if not isinstance(loop, (ast.For, ast.AsyncFor)) or not _from_inputs(module, step, loop.iter, inputs):
        return None
    targets = {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
    for score, best in ((test.left, test.comparators[0]), (test.comparators[0], test.left)):
        if not any(isinstance(n, ast.Name) and n.id in targets for n in ast.walk(score)):
            continue
        spelled = dotted(best)
        if spelled is None or any(isinstance(side, ast.Tuple) for side in (score, best)):
            continue
        if _breaks_ties(score):
            continue
        updated = any(
            isinstance(sub, (ast.Assign, ast.AugAssign, ast.AnnAssign))
            and any(dotted(t) == spelled for t in (sub.targets if isinstance(sub, ast.Assign) else [sub.target]))
            for stmt in node.body for sub in ast.walk(stmt)
        )
        if updated:
            return f"a best-so-far loop ('{_COMPARISONS[type(test.ops[0])]}')", _text(score)
    return None


def _tie_pick_in_helper(module: Module, step: FunctionNode, call: ast.Call, inputs: str) -> tuple[str, str] | None:
    """A tie-prone pick inside a same-file helper that the join hands its inputs to (one level)."""
    found = dataflow_of(module).helper(call, imported=False)
    if found is None:
        return None
    helper = found[1]
    names = [a.arg for a in [*helper.args.posonlyargs, *helper.args.args]]
    if names and names[0] in {"self", "cls"} and isinstance(call.func, ast.Attribute):
        names = names[1:]
    bound = [(name, arg) for name, arg in zip(names, call.args)]
    bound += [(k.arg, k.value) for k in call.keywords if k.arg is not None]
    for name, arg in bound:
        if not _from_inputs(module, step, arg, inputs):
            continue
        for node in walk_body(helper):
            pick = _tie_pick(module, helper, node, name)
            if pick is not None:
                how, key = pick
                return f"{how} in {helper.name}()", key
    return None


def _pick(module: Module, step: FunctionNode, node: ast.AST) -> tuple[ast.Call, str] | None:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"max", "min"}:
        return node, f"{node.func.id}()"
    if isinstance(node, ast.Subscript) and _first_or_last(node.slice):
        value: ast.AST = node.value
        if isinstance(value, ast.Name):
            bound = dataflow_of(module).bindings(step).get(value.id, [])
            values = [v for line, v in bound if line <= node.lineno and v is not None]
            value = values[-1] if values else value
        elif isinstance(value, ast.Attribute) and self_attr(value) is not None:
            assigned = [
                (target.lineno, v) for where, attr, v, target in _self_assignments(module)
                if where is step and attr == value.attr and v is not None and target.lineno <= node.lineno
            ]
            value = max(assigned, key=lambda item: item[0])[1] if assigned else value
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "sorted":
            return value, "sorted(...)[" + _text(node.slice) + "]"
    return None


def _self_assignments(module: Module) -> list:
    return [item for flow in module.flow_classes for item in flow.self_assignments]


def _first_or_last(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in (0, -1)
    return isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant) and node.operand.value == 1


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _breaks_ties(key: ast.expr) -> bool:
    body = key.body if isinstance(key, ast.Lambda) else key
    if isinstance(body, ast.Tuple):
        return True
    spelled = {w for sub in ast.walk(body) for w in words(_name(sub))}
    return bool(spelled & KEY_WORDS)


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return ""


def _from_inputs(module: Module, step: FunctionNode, expr: ast.expr, inputs: str) -> bool:
    """True if ``expr`` is built from ``inputs`` without passing through a keyed sort of them."""
    reads = False
    for node in dataflow_of(module).slice(expr, step):
        if isinstance(node, ast.Name) and node.id == inputs:
            reads = True
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "sorted"
            and _keyword(node, "key") is not None
            and node.args
            and any(isinstance(sub, ast.Name) and sub.id == inputs for sub in ast.walk(node.args[0]))
            and node is not expr
        ):
            return False
    return reads


def _text(node: ast.AST) -> str:
    shown = ast.unparse(node)
    return shown if len(shown) <= 40 else shown[:37] + "..."
