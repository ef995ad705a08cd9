"""Pure helpers over ``ast`` nodes, shared by every other module of the linter.

This is the leaf of ``lint/``: it imports only the standard library and
nothing from ``lint``, so :mod:`lint.analysis`, :mod:`lint.dataflow` and
:mod:`lint.imports` can all build on it without importing one another in a
cycle. Nothing here reads files or knows about Metaflow flows.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

__all__ = [
    "FunctionNode",
    "call_name",
    "dotted",
    "identifiers",
    "is_numeric_literal",
    "literal",
    "literal_strings",
    "local_names",
    "mentions_file",
    "self_attr",
    "walk_body",
    "words",
]

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_MISSING = object()


def words(identifier: str) -> set[str]:
    """Split an identifier into lowercase words: ``trainLRs_grid`` -> {train, lrs, grid}."""
    return {w.lower() for w in _WORD.findall(identifier)}


def dotted(node: ast.AST) -> str | None:
    """The source spelling of a ``Name``/``Attribute`` chain (``np.random.rand``), else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def call_name(call: ast.Call) -> str | None:
    """The last component of a call's callee: ``train_arm`` for ``seams.train_arm(...)``."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def self_attr(node: ast.AST) -> str | None:
    """``"x"`` for the expression ``self.x``, else None."""
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    ):
        return node.attr
    return None


def identifiers(node: ast.AST) -> set[str]:
    """Every name, attribute and string key spelled inside an expression."""
    found: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            found.add(sub.attr)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            if sub.value.isidentifier():
                found.add(sub.value)
    return found


def mentions_file(node: ast.AST) -> bool:
    """True if ``__file__`` appears anywhere in the expression."""
    return any(isinstance(sub, ast.Name) and sub.id == "__file__" for sub in ast.walk(node))


def walk_body(func: FunctionNode) -> Iterator[ast.AST]:
    """Walk a function's body only: not its decorators, annotations or defaults."""
    for stmt in func.body:
        yield from ast.walk(stmt)


def local_names(func: FunctionNode) -> set[str]:
    """Names bound locally in a function (parameters and stores), minus ``global`` ones."""
    args = func.args
    names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    names.update(a.arg for a in (args.vararg, args.kwarg) if a is not None)
    declared_global: set[str] = set()
    for sub in walk_body(func):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            names.add(sub.id)
        elif isinstance(sub, ast.Global):
            declared_global.update(sub.names)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(sub.name)
    return names - declared_global


def is_numeric_literal(node: ast.AST) -> bool:
    """True for ``3``, ``3e-4``, ``-1``, ``2**10``, ``(64, 64)``: numbers and simple arithmetic on them."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float, complex)) and not isinstance(node.value, bool)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        return is_numeric_literal(node.operand)
    if isinstance(node, ast.BinOp):
        return is_numeric_literal(node.left) and is_numeric_literal(node.right)
    if isinstance(node, (ast.Tuple, ast.List)):
        return bool(node.elts) and all(is_numeric_literal(elt) for elt in node.elts)
    return False


def literal(node: ast.AST | None, default: object = None) -> object:
    """The Python value of a literal expression (``3``, ``"a"``, ``-1``, ``[1, 2]``), else ``default``.

    Uses :func:`ast.literal_eval`, so nothing is ever executed; names, calls
    and anything else that is not a literal give ``default``.
    """
    if node is None:
        return default
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return default


def literal_strings(node: ast.AST | None) -> list[str] | None:
    """The strings of a literal string or list/tuple/set of strings (``["a", "b"]``), else None."""
    value = literal(node, _MISSING)
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)) and all(isinstance(v, str) for v in value):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    return None
