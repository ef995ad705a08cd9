"""AXF302: a foreach over a set or a dict view."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from lint.analysis import Module, foreach_of, foreach_values, next_calls
from lint.findings import Finding
from lint.rules.base import Rule

_SET_OPS = (ast.BitOr, ast.BitAnd, ast.Sub, ast.BitXor)


class UnorderedForeachRule(Rule):
    """## What it does
    Flags the value of ``self.x`` when a step fans out with
    ``self.next(..., foreach="x")`` and ``self.x`` is a set or a dict view: a
    set literal or comprehension, ``set(...)``, ``frozenset(...)``, a set
    operation (``a | b``) on one of those, or ``.keys()``, ``.values()``,
    ``.items()``. The value is followed through one local variable. Wrapping
    it in ``list(...)``, ``tuple(...)`` or ``sorted(...)`` passes (``sorted``
    is the better fix: it also fixes the order).

    ## Why is this bad?
    Metaflow splits a foreach by indexing the artifact. A set has no stable
    index, so branches are silently duplicated and dropped (Metaflow issue
    #469); a dict view cannot be indexed at all. Even when it runs, a set of
    strings iterates in a per-process hash order, so branch numbering differs
    between runs.

    ## Example
    ```python
    self.noise_levels = {0.0, 0.1, 0.2}
    self.next(self.branch, foreach="noise_levels")
    ```

    ## Use instead
    ```python
    self.noise_levels = sorted({0.0, 0.1, 0.2})
    self.next(self.branch, foreach="noise_levels")
    ```
    """

    code = "AXF302"
    name = "unordered-foreach"
    summary = "A foreach iterates a set or dict view, which Metaflow mis-splits."
    message = "foreach '{attr}' is a {kind}; Metaflow mis-splits it, so pass sorted(...) instead"

    def check(self, module: Module) -> Iterator[Finding]:
        for flow, step in module.steps:
            for call in next_calls(step):
                attr = foreach_of(call)
                if attr is None:
                    continue
                for value, _ in foreach_values(module, flow, step, call, attr):
                    kind = _unordered_kind(value)
                    if kind is not None:
                        yield self.finding(module, value, attr=attr, kind=kind)


def _unordered_kind(node: ast.expr) -> str | None:
    if isinstance(node, (ast.Set, ast.SetComp)):
        return "set"
    if isinstance(node, ast.BinOp) and isinstance(node.op, _SET_OPS):
        return _unordered_kind(node.left) or _unordered_kind(node.right)
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id in {"set", "frozenset"}:
            return func.id
        if isinstance(func, ast.Attribute) and func.attr in {"keys", "values", "items"}:
            if not node.args:
                return f"dict .{func.attr}() view"
    return None
