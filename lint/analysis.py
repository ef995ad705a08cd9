"""Facts about one parsed module that several rules share.

Everything here is computed lazily and at most once per file, so a rule that
does not need, say, the parent map never pays for it. Nothing here imports
the libraries it reasons about (metaflow, torch, numpy): names are resolved
from the module's own import statements.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePath
from typing import Protocol

from lint.astutil import (
    FunctionNode,
    call_name,
    dotted,
    identifiers,
    is_numeric_literal,
    local_names,
    mentions_file,
    self_attr,
    walk_body,
    words,
)
from lint.imports import import_file


class Settings(Protocol):
    """What the analysis reads of :class:`lint.settings.Settings` (typed here so this module
    does not import the settings, which import the rule registry, which imports this module)."""

    @property
    def root(self) -> Path | None: ...
    @property
    def project_packages(self) -> tuple[str, ...]: ...


# The ast helpers above are re-exported: rules import them from here with the facts they work on.
__all__ = [
    "SEAMS", "FlowClass", "FunctionNode", "Module", "Settings", "call_name", "dotted",
    "foreach_of", "foreach_values", "identifiers", "in_seeded_scope", "inputs_name",
    "is_join", "is_numeric_literal", "is_step", "local_assignment", "local_names",
    "mentions_file", "next_calls", "self_attr", "unwrap", "walk_body", "words",
]

SEAMS = frozenset({"make_data", "build_model", "train_arm", "metric"})

_NOQA = re.compile(r"#\s*noqa\s*:\s*(?P<codes>[A-Za-z]+[0-9]+(?:\s*,\s*[A-Za-z]+[0-9]+)*)", re.I)


def is_step(func: ast.AST) -> bool:
    """True for a function decorated with Metaflow's ``@step`` (any spelling of it)."""
    if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    for deco in func.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        name = dotted(target)
        if name is not None and name.rsplit(".", 1)[-1] == "step":
            return True
    return False


def is_join(func: FunctionNode) -> bool:
    """True for a step that takes ``inputs`` (any name) after ``self``."""
    return len(func.args.args) >= 2


def inputs_name(func: FunctionNode) -> str:
    """The name a join step gives its inputs parameter."""
    return func.args.args[1].arg


@dataclass
class FlowClass:
    """A class that is a FlowSpec subclass or holds ``@step`` methods."""

    node: ast.ClassDef
    steps: dict[str, FunctionNode] = field(default_factory=dict)
    methods: dict[str, FunctionNode] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The class name."""
        return self.node.name

    @cached_property
    def self_assignments(self) -> list[tuple[FunctionNode, str, ast.expr | None, ast.expr]]:
        """``(step, attr, value, target)`` for each ``self.attr = value`` in a step.

        Subscript stores (``self.models[k] = v``) and ``self.attr.append(v)``
        are included with ``v`` as the value, since they fill the same artifact.
        Tuple targets give ``None`` as the value when it cannot be paired.
        """
        found = []
        for step in self.steps.values():
            for sub in walk_body(step):
                if isinstance(sub, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                    targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
                    for target in targets:
                        found.extend(_pair_targets(step, target, sub.value))
                elif (
                    isinstance(sub, ast.Call)
                    and isinstance(sub.func, ast.Attribute)
                    and sub.func.attr in {"append", "extend", "add", "insert"}
                    and self_attr(sub.func.value)
                    and sub.args
                ):
                    found.append((step, self_attr(sub.func.value), sub.args[-1], sub))
        return found

    @cached_property
    def successors(self) -> dict[str, list[tuple[str, ast.Call]]]:
        """Each step's ``self.next`` targets with the call that names them."""
        edges: dict[str, list[tuple[str, ast.Call]]] = {}
        for name, step in self.steps.items():
            for call in next_calls(step):
                for arg in call.args:
                    target = self_attr(arg)
                    if target is not None:
                        edges.setdefault(name, []).append((target, call))
        return edges


def _pair_targets(step, target, value):
    attr = self_attr(target)
    if attr is not None:
        return [(step, attr, value, target)]
    if isinstance(target, ast.Subscript) and self_attr(target.value):
        return [(step, self_attr(target.value), value, target)]
    if isinstance(target, (ast.Tuple, ast.List)):
        values = value.elts if isinstance(value, (ast.Tuple, ast.List)) else None
        pairs = []
        for index, element in enumerate(target.elts):
            element_value = values[index] if values and len(values) == len(target.elts) else None
            pairs.extend(_pair_targets(step, element, element_value))
        return pairs
    return []


def next_calls(step: FunctionNode) -> Iterator[ast.Call]:
    """The ``self.next(...)`` calls in a step."""
    for sub in walk_body(step):
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr == "next"
            and isinstance(sub.func.value, ast.Name)
            and sub.func.value.id == "self"
        ):
            yield sub


def foreach_of(call: ast.Call) -> str | None:
    """The artifact name in ``self.next(..., foreach="name")``, when it is a literal."""
    for keyword in call.keywords:
        if (
            keyword.arg == "foreach"
            and isinstance(keyword.value, ast.Constant)
            and isinstance(keyword.value.value, str)
        ):
            return keyword.value.value
    return None


class Module:
    """One parsed file plus the lazily computed facts the rules share."""

    def __init__(self, path: str, source: str, tree: ast.Module, settings: Settings) -> None:
        self.path = path
        self.source = source
        self.tree = tree
        self.settings = settings

    @cached_property
    def nodes(self) -> list[ast.AST]:
        """Every node of the tree in ``ast.walk`` order, walked once and shared by all rules."""
        order: list[ast.AST] = [self.tree]
        parent_of: dict[ast.AST, ast.AST] = {}
        index = 0
        while index < len(order):
            node = order[index]
            for child in ast.iter_child_nodes(node):
                parent_of[child] = node
                order.append(child)
            index += 1
        self.__dict__["parents"] = parent_of
        return order

    @cached_property
    def calls(self) -> list[ast.Call]:
        """Every call expression in the file."""
        return [node for node in self.nodes if isinstance(node, ast.Call)]

    @cached_property
    def imports(self) -> dict[str, str]:
        """Local binding -> dotted module path, from every import in the file.

        ``import torch.nn as nn`` and ``from torch import nn`` both bind
        ``nn -> torch.nn``; ``import numpy.random`` binds ``numpy -> numpy``.
        Imports inside functions count too, since flows import heavy modules
        inside steps. Relative imports are skipped.
        """
        bound: dict[str, str] = {}
        for node in self.nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        bound[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".", 1)[0]
                        bound[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name != "*":
                        bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        return bound

    @cached_property
    def from_imports(self) -> dict[str, tuple[str, int, str]]:
        """Local binding -> ``(module, level, name)`` for every ``from ... import name``.

        Relative imports are kept (``level`` counts the dots), so project
        modules can be followed by :meth:`imported_definition`.
        """
        bound: dict[str, tuple[str, int, str]] = {}
        for node in self.nodes:
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.name != "*":
                        bound[alias.asname or alias.name] = (node.module or "", node.level, alias.name)
        return bound

    def imported_definition(self, name: str) -> tuple[Module, ast.AST] | None:
        """What a name imported from a project module is: its function, class or constant value.

        Only files found below the settings root or beside this file are
        read (never an installed package); each is parsed once per process.
        """
        cache = self.__dict__.setdefault("_imported", {})
        if name not in cache:
            cache[name] = self._imported_definition(name)
        return cache[name]

    def _imported_definition(self, name: str) -> tuple[Module, ast.AST] | None:
        spec = self.from_imports.get(name)
        if spec is None:
            return None
        source_module, level, original = spec
        if not source_module and not level:
            return None
        path = import_file(self.path, source_module, level, (self.settings.root, Path(self.path).resolve().parent))
        if path is None:
            return None
        other = _load_module(path, self.settings)
        if other is None or other is self:
            return None
        if original in other.functions:
            return other, other.functions[original]
        value = other.module_value(original)
        return (other, value) if value is not None else None

    def qualname(self, node: ast.AST) -> str | None:
        """The fully qualified name an expression refers to, through the file's imports.

        ``T.randn`` -> ``torch.randn`` after ``import torch as T``; a chain whose
        root is not an imported name resolves to None.
        """
        spelled = dotted(node)
        if spelled is None:
            return None
        root, _, rest = spelled.partition(".")
        if root not in self.imports:
            return None
        return self.imports[root] + ("." + rest if rest else "")

    @cached_property
    def parents(self) -> dict[ast.AST, ast.AST]:
        """Child node -> parent node for the whole tree (filled by the same walk as :attr:`nodes`)."""
        self.__dict__.pop("nodes", None)
        _ = self.nodes
        return self.__dict__["parents"]

    def enclosing_function(self, node: ast.AST) -> FunctionNode | None:
        """The innermost function containing ``node``, if any."""
        current = self.parents.get(node)
        while current is not None:
            if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return current
            current = self.parents.get(current)
        return None

    @cached_property
    def comments(self) -> dict[int, list[str]]:
        """Line number -> the comment tokens on that line."""
        found: dict[int, list[str]] = {}
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(self.source).readline))
        except (tokenize.TokenError, SyntaxError):
            for number, text in enumerate(self.source.splitlines(), start=1):
                if "#" in text:
                    found.setdefault(number, []).append(text[text.index("#") :])
            return found
        for token in tokens:
            if token.type == tokenize.COMMENT:
                found.setdefault(token.start[0], []).append(token.string)
        return found

    def noqa_codes(self, line: int) -> set[str]:
        """Codes named by ``# noqa: CODE[,CODE]`` on a line; a bare ``# noqa`` names none."""
        codes: set[str] = set()
        for comment in self.comments.get(line, ()):
            for match in _NOQA.finditer(comment):
                codes.update(c.strip().upper() for c in match.group("codes").split(","))
        return codes

    @cached_property
    def is_pep723_script(self) -> bool:
        """True if the file carries an inline script metadata block (``# /// script``)."""
        if "# /// script" not in self.source:
            return False
        return any(
            comment.strip() == "# /// script"
            for comments in self.comments.values()
            for comment in comments
        )

    @cached_property
    def functions(self) -> dict[str, FunctionNode]:
        """Module-level function definitions by name."""
        return {
            node.name: node
            for node in self.tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        }

    @cached_property
    def module_assignments(self) -> dict[str, list[ast.expr]]:
        """Module-level ``NAME = value`` (and annotated) assignments, in source order."""
        found: dict[str, list[ast.expr]] = {}
        for stmt in self.tree.body:
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        found.setdefault(target.id, []).append(stmt.value)
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                if isinstance(stmt.target, ast.Name):
                    found.setdefault(stmt.target.id, []).append(stmt.value)
        return found

    def module_value(self, name: str) -> ast.expr | None:
        """The value of a name assigned exactly once at module level, else None."""
        values = self.module_assignments.get(name, [])
        return values[0] if len(values) == 1 else None

    @cached_property
    def flow_classes(self) -> list[FlowClass]:
        """Classes that subclass FlowSpec (directly or via a class in this file) or hold steps."""
        flows: list[FlowClass] = []
        flow_names: set[str] = set()
        for node in self.nodes:
            if not isinstance(node, ast.ClassDef):
                continue
            base_names = {dotted(base) for base in node.bases}
            is_flow = any(
                name is not None
                and (name.rsplit(".", 1)[-1] == "FlowSpec" or name in flow_names)
                for name in base_names
            )
            flow = FlowClass(node)
            for stmt in node.body:
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    if is_step(stmt):
                        flow.steps[stmt.name] = stmt
                    else:
                        flow.methods[stmt.name] = stmt
            if is_flow or flow.steps:
                flows.append(flow)
                flow_names.add(node.name)
        return flows

    @cached_property
    def steps(self) -> list[tuple[FlowClass, FunctionNode]]:
        """Every step of every flow class in the file."""
        return [(flow, step) for flow in self.flow_classes for step in flow.steps.values()]

    @cached_property
    def is_flow_file(self) -> bool:
        """True if the file defines a flow (a FlowSpec subclass or ``@step`` methods)."""
        return bool(self.flow_classes)

    @cached_property
    def relative_parts(self) -> tuple[str, ...]:
        """Path components relative to the settings root when under it, else as given."""
        path = PurePath(self.path)
        root = self.settings.root
        if root is not None:
            try:
                return Path(self.path).resolve().relative_to(root).parts
            except ValueError:
                pass
        return path.parts

    def classify_path(self, node: ast.AST, _depth: int = 0) -> str:
        """Say whether a path expression depends on the working directory.

        Returns ``"relative"`` (it resolves against the working directory),
        ``"absolute"`` (an absolute literal, ``~``, a URL, or anchored to
        ``__file__``) or ``"unknown"`` (a parameter, a call we cannot see into).
        ``Path(...).resolve()``, ``os.path.abspath(...)`` and ``str(...)``
        keep the verdict of their argument: making a relative path absolute
        against the working directory does not anchor it.
        """
        if _depth > 20:
            return "unknown"

        def again(sub: ast.AST) -> str:
            return self.classify_path(sub, _depth + 1)

        if mentions_file(node):
            return "absolute"
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return _classify_literal(node.value)
        if isinstance(node, ast.JoinedStr):
            if not node.values:
                return "unknown"
            first = node.values[0]
            if isinstance(first, ast.FormattedValue):
                return again(first.value)
            return again(first)
        if isinstance(node, ast.Lambda):
            return again(node.body)
        if isinstance(node, ast.Name):
            value = self.module_value(node.id)
            return again(value) if value is not None else "unknown"
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.Add)):
            left = again(node.left)
            if isinstance(node.op, ast.Div) and again(node.right) == "absolute":
                return "absolute"
            return left
        if isinstance(node, ast.Attribute) and node.attr in {"parent", "parents"}:
            return again(node.value)
        if isinstance(node, ast.Subscript):
            if isinstance(node.value, ast.Attribute) and node.value.attr == "parents":
                return again(node.value.value)
            return "unknown"
        if isinstance(node, ast.Call):
            return self._classify_path_call(node, again)
        return "unknown"

    def _classify_path_call(self, call: ast.Call, again) -> str:
        name = self.qualname(call.func) or dotted(call.func) or ""
        last = call_name(call) or ""
        if name in {"os.getcwd", "os.getcwdb"} or (
            isinstance(call.func, ast.Attribute) and call.func.attr in {"cwd", "getcwd"}
        ):
            return "relative"
        if last in {"Path", "PurePath", "PosixPath", "PurePosixPath", "WindowsPath"}:
            return again(call.args[0]) if call.args else "relative"
        if name.endswith("path.join") or (isinstance(call.func, ast.Attribute) and last == "joinpath"):
            parts = list(call.args)
            if isinstance(call.func, ast.Attribute) and last == "joinpath":
                parts.insert(0, call.func.value)
            verdicts = [again(part) for part in parts]
            if "absolute" in verdicts:
                return "absolute"
            return verdicts[0] if verdicts else "unknown"
        if last in {"abspath", "realpath", "normpath", "expanduser", "dirname", "fspath", "str"}:
            return again(call.args[0]) if call.args else "unknown"
        if isinstance(call.func, ast.Attribute) and last in {
            "resolve", "absolute", "expanduser", "with_suffix", "with_name", "with_stem",
            "as_posix", "__fspath__",
        }:
            return again(call.func.value)
        return "unknown"


_LOADED: dict[tuple[str, int], Module | None] = {}


def _load_module(path: Path, settings: Settings) -> Module | None:
    """Parse a project module once per process (keyed by path and modification time)."""
    try:
        key = (str(path), path.stat().st_mtime_ns)
    except OSError:
        return None
    if key not in _LOADED:
        try:
            source = path.read_text(encoding="utf-8")
            _LOADED[key] = Module(str(path), source, ast.parse(source), settings)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            _LOADED[key] = None
    return _LOADED[key]


def _classify_literal(text: str) -> str:
    if not text:
        return "unknown"
    if text.startswith(("/", "~", "\\\\")) or re.match(r"^[A-Za-z]:[\\/]", text):
        return "absolute"
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        return "absolute"
    return "relative"


def local_assignment(func: FunctionNode, name: str, before: int) -> ast.expr | None:
    """The last value assigned to a local ``name`` in ``func`` above line ``before``."""
    found = None
    for sub in walk_body(func):
        if isinstance(sub, ast.Assign) and sub.lineno < before:
            if any(isinstance(t, ast.Name) and t.id == name for t in sub.targets):
                if found is None or sub.lineno >= found[0]:
                    found = (sub.lineno, sub.value)
    return found[1] if found else None


def foreach_values(
    module: Module, flow: FlowClass, step: FunctionNode, call: ast.Call, attr: str
) -> list[tuple[ast.expr, FunctionNode]]:
    """What ``self.<attr>`` holds when ``call`` (a ``self.next(..., foreach=attr)``) runs.

    If ``step`` assigns the attribute before the call, the last such value;
    otherwise every value any step of the flow assigns to it. A bare local
    name is followed one hop to its last assignment in the same function.
    Values filled by ``self.attr.append(...)`` are returned as the append call.
    """
    assigned = [
        (value, where, target)
        for where, name, value, target in flow.self_assignments
        if name == attr and value is not None
    ]
    here = [item for item in assigned if item[1] is step and item[2].lineno < call.lineno]
    chosen = [max(here, key=lambda item: item[2].lineno)] if here else assigned
    values: list[tuple[ast.expr, FunctionNode]] = []
    for value, where, target in chosen:
        if isinstance(target, ast.Call):
            values.append((target, where))
            continue
        if isinstance(value, ast.Name):
            local = local_assignment(where, value.id, value.lineno + 1)
            if local is not None:
                value = local
        values.append((value, where))
    return values


def unwrap(node: ast.expr, wrappers: frozenset[str] = frozenset({"list", "tuple"})) -> ast.expr:
    """Strip ``list(...)``/``tuple(...)`` (or the given wrappers) around an expression."""
    while (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in wrappers
        and len(node.args) == 1
    ):
        node = node.args[0]
    return node


def in_seeded_scope(module: Module) -> bool:
    """True for flow files and files under a ``components`` folder: code whose randomness must be seeded."""
    return module.is_flow_file or "components" in module.relative_parts[:-1]
