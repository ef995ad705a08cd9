"""A small intra-module data-flow analysis shared by the rules.

Two questions are answered, both conservatively and without running code:

- **Where does a value come from?** :meth:`DataFlow.slice` walks an
  expression backwards through local assignments (plain, tuple, augmented,
  annotated, walrus), ``for``/comprehension/``with`` targets, ``self.x``
  artifacts assigned in any step of the same flow, module-level names,
  constants imported from project modules, and one level into helper
  functions (local functions, ``self.method`` helpers and functions imported
  from project modules), binding the helper's parameters to the call's
  arguments by position and keyword.
- **Where does a value go?** :meth:`DataFlow.reaches_result` follows a value
  forwards through expressions, containers, call results, mutating method
  calls (``xs.append(v)``, ``model.fit(v)``), subscript stores and local
  names, and says whether it can reach a result: an artifact (``self.x =``),
  a return or yield, a parameter the caller sees, a module-level name, or a
  call that records it (a metric, a log, a card, a file), including a method
  that records its receiver (``model.save(path)``). Anything it cannot
  model counts as reaching a result, so an unknown case is never a silent pass.

Only the standard library is used, and facts are cached per function.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from weakref import WeakKeyDictionary

from lint.analysis import Module
from lint.astutil import FunctionNode, call_name, dotted, self_attr, walk_body, words

__all__ = ["DataFlow", "Param", "dataflow_of", "params_in"]

# A value used only through these attributes is inspected, not consumed.
INSPECTORS = frozenset({"shape", "dtype", "device", "ndim", "size", "nbytes", "itemsize", "is_cuda"})
# Calls whose result says nothing about the values of their arguments.
DISCARDING_CALLS = frozenset({"len", "print", "type", "isinstance", "id", "callable", "hasattr"})
# Method calls that store their arguments into the receiver.
MUTATORS = frozenset(
    {"append", "extend", "insert", "add", "update", "setdefault", "fit", "partial_fit",
     "fit_transform", "put", "push", "load_state_dict", "copy_", "set_", "add_", "mul_",
     "fill_", "appendleft", "extendleft", "__setitem__", "register_buffer", "assign"}
)
# Words in a callee's name that mean the call records what it is given.
RECORDING_WORDS = frozenset(
    {"metric", "metrics", "score", "log", "card", "report", "save", "dump", "export", "write",
     "record", "track", "savefig", "csv", "parquet", "json", "evaluate", "eval", "upload",
     "store", "persist", "publish"}
)
# How many ``name -> value`` steps a backward slice follows.
MAX_DEPTH = 12


class Param:
    """A marker in a backward slice: the value is (partly) a parameter of ``function``."""

    def __init__(self, function: FunctionNode, name: str) -> None:
        self.function = function
        self.name = name


_FLOWS: WeakKeyDictionary[Module, DataFlow] = WeakKeyDictionary()


def dataflow_of(module: Module) -> DataFlow:
    """The module's :class:`DataFlow`, built once per parsed module and shared by all rules."""
    flow = _FLOWS.get(module)
    if flow is None:
        flow = _FLOWS[module] = DataFlow(module)
    return flow


class DataFlow:
    """Backward slices and forward reachability for one module."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self._bindings: dict[FunctionNode, dict[str, list[tuple[int, ast.AST | None]]]] = {}
        self._loads: dict[FunctionNode, dict[str, list[ast.Name]]] = {}
        self._helpers: dict[ast.Call, tuple[Module, FunctionNode] | None] = {}
        self._callers: dict[FunctionNode, list[ast.Call]] | None = None
        self._slices: dict[ast.AST, list] = {}

    # ----- definitions -------------------------------------------------

    def bindings(self, func: FunctionNode) -> dict[str, list[tuple[int, ast.AST | None]]]:
        """Name -> ``(line, value)`` for each place ``func`` binds it; ``None`` for a parameter."""
        if func in self._bindings:
            return self._bindings[func]
        bound: dict[str, list[tuple[int, ast.AST | None]]] = {}
        args = func.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None:
                bound.setdefault(arg.arg, []).append((func.lineno, None))

        def bind(target: ast.AST, value: ast.AST | None, line: int) -> None:
            if isinstance(target, ast.Name):
                bound.setdefault(target.id, []).append((line, value))
            elif isinstance(target, (ast.Tuple, ast.List)):
                values = value.elts if isinstance(value, (ast.Tuple, ast.List)) else None
                for index, element in enumerate(target.elts):
                    paired = values[index] if values and len(values) == len(target.elts) else value
                    bind(element, paired, line)
            elif isinstance(target, ast.Starred):
                bind(target.value, value, line)

        for node in walk_body(func):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    bind(target, node.value, node.lineno)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
                bind(node.target, node.value, node.lineno)
            elif isinstance(node, ast.NamedExpr):
                bind(node.target, node.value, node.lineno)
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                bind(node.target, node.iter, node.lineno)
            elif isinstance(node, ast.comprehension):
                bind(node.target, node.iter, node.iter.lineno)
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                bind(node.optional_vars, node.context_expr, node.context_expr.lineno)
        self._bindings[func] = bound
        return bound

    def loads(self, func: FunctionNode) -> dict[str, list[ast.Name]]:
        """Name -> every ``Name`` node that reads it in ``func``'s body."""
        if func not in self._loads:
            found: dict[str, list[ast.Name]] = {}
            for node in walk_body(func):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    found.setdefault(node.id, []).append(node)
            self._loads[func] = found
        return self._loads[func]

    def helper(self, call: ast.Call, *, imported: bool = True) -> tuple[Module, FunctionNode] | None:
        """The local, ``self.`` or project-imported function a call runs, when it can be found.

        ``imported=False`` looks only in this file, which never parses another module.
        """
        if not imported:
            found = self._helpers.get(call)
            if found is not None and found[0] is self.module:
                return found
            if call in self._helpers or not (
                isinstance(call.func, ast.Name) and call.func.id in self.module.functions
                or self_attr(call.func) is not None
            ):
                return None
        if call not in self._helpers:
            self._helpers[call] = self._find_helper(call)
        return self._helpers[call]

    def calls_of(self, func: FunctionNode) -> list[ast.Call]:
        """The calls in this module that run ``func`` (as found by :meth:`helper`)."""
        if self._callers is None:
            self._callers = {}
            for call in self.module.calls:
                found = self.helper(call, imported=False)
                if found is not None:
                    self._callers.setdefault(found[1], []).append(call)
        return self._callers.get(func, [])

    def _find_helper(self, call: ast.Call) -> tuple[Module, FunctionNode] | None:
        func = call.func
        module = self.module
        if isinstance(func, ast.Name):
            if func.id in module.functions:
                return module, module.functions[func.id]
            found = module.imported_definition(func.id)
            if found is not None and isinstance(found[1], (ast.FunctionDef, ast.AsyncFunctionDef)):
                return found  # type: ignore[return-value]
        elif isinstance(func, ast.Attribute) and self_attr(func) is not None:
            for flow in module.flow_classes:
                method = flow.methods.get(func.attr)
                if method is not None:
                    return module, method
        return None

    # ----- backward ----------------------------------------------------

    def slice(self, expr: ast.AST, scope: FunctionNode | None = None) -> Iterator[ast.AST | Param]:
        """Every node the value of ``expr`` depends on, ``expr``'s own nodes included.

        ``scope`` is the function ``expr`` sits in (found from the parent map
        when omitted). Parameters that cannot be bound to an argument appear
        as :class:`Param` markers. Each node is yielded at most once.
        """
        if scope is None:
            scope = self.module.enclosing_function(expr)
        seen: set[int] = set()
        stack: list[tuple[ast.AST, Module, FunctionNode | None, dict | None, int]] = [
            (expr, self.module, scope, None, 0)
        ]
        while stack:
            node, module, func, binds, depth = stack.pop()
            if id(node) in seen or depth > MAX_DEPTH:
                continue
            seen.add(id(node))
            for sub in ast.walk(node):
                if sub is not node and id(sub) in seen:
                    continue
                seen.add(id(sub))
                yield sub
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                    stack.extend(self._resolve_name(sub, module, func, binds, depth))
                elif isinstance(sub, ast.Attribute) and self_attr(sub) is not None and module is self.module:
                    for _, attr, value, _target in self._self_assignments():
                        if attr == sub.attr and value is not None:
                            stack.append((value, module, module.enclosing_function(value), None, depth + 1))
                elif isinstance(sub, ast.Call) and binds is None:
                    found = self.helper(sub) if module is self.module else None
                    if found is not None:
                        stack.extend(self._enter_helper(sub, found, func, depth))

    def sliced(self, expr: ast.AST) -> list[ast.AST | Param]:
        """:meth:`slice` as a list, computed once per expression and shared by the rules."""
        if expr not in self._slices:
            self._slices[expr] = list(self.slice(expr))
        return self._slices[expr]

    def _self_assignments(self) -> list:
        return [item for flow in self.module.flow_classes for item in flow.self_assignments]

    def _resolve_name(self, name, module, func, binds, depth):
        if func is not None:
            bound = self._bindings_of(module, func).get(name.id)
            if bound:
                before = [(line, value) for line, value in bound if line <= name.lineno]
                for _, value in before or bound:
                    if value is None:
                        if binds is not None and name.id in binds:
                            arg, caller_scope = binds[name.id]
                            yield (arg, self.module, caller_scope, None, depth + 1)
                        else:
                            yield (_ParamNode(func, name.id), module, func, binds, depth + 1)
                    else:
                        yield (value, module, func, binds, depth + 1)
                return
        value = module.module_value(name.id)
        if value is not None:
            yield (value, module, None, None, depth + 1)
            return
        found = module.imported_definition(name.id)
        if found is not None and not isinstance(found[1], (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield (found[1], found[0], None, None, depth + 1)

    def _bindings_of(self, module, func):
        if module is self.module:
            return self.bindings(func)
        return dataflow_of(module).bindings(func)

    def _enter_helper(self, call, found, caller_scope, depth):
        module, helper = found
        params = [a.arg for a in [*helper.args.posonlyargs, *helper.args.args]]
        if params and params[0] in {"self", "cls"} and isinstance(call.func, ast.Attribute):
            params = params[1:]
        binds: dict[str, tuple[ast.AST, FunctionNode | None]] = {}
        for param, arg in zip(params, call.args):
            if not isinstance(arg, ast.Starred):
                binds[param] = (arg, caller_scope)
        for keyword in call.keywords:
            if keyword.arg is not None:
                binds[keyword.arg] = (keyword.value, caller_scope)
        for node in walk_body(helper):
            if isinstance(node, (ast.Return, ast.Yield)) and node.value is not None:
                yield (node.value, module, helper, binds, depth + 1)

    def values(
        self, expr: ast.AST, scope: FunctionNode | None = None, *, _module: Module | None = None,
        _binds: dict | None = None, _depth: int = 0,
    ) -> list[tuple[ast.AST, Module, FunctionNode | None]]:
        """The concrete expressions ``expr`` may evaluate to, field by field.

        Unlike :meth:`slice`, which collects everything a value depends on,
        this resolves what it *is*: a name to its assigned values, ``x.f`` to
        the ``f=`` argument of the call that built ``x``, ``d["k"]`` to the
        ``"k"`` entry of a dict literal, ``a, b = helper()`` to the matching
        element of the helper's returned tuple, a helper call (local,
        ``self.`` or imported from a project module, one level) to its return
        values with parameters bound to arguments, and ``list``/``tuple``/
        ``sorted`` to their argument. Returns ``(expression, module, scope)``
        triples; anything it cannot resolve is returned as itself.
        """
        module = _module or self.module
        if scope is None and module is self.module:
            scope = self.module.enclosing_function(expr)
        if _depth > MAX_DEPTH:
            return [(expr, module, scope)]

        def again(node, node_scope=scope, node_module=module, binds=_binds):
            return self.values(node, node_scope, _module=node_module, _binds=binds, _depth=_depth + 1)

        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id in {
            "list", "tuple", "sorted"} and len(expr.args) == 1:
            return again(expr.args[0])
        if isinstance(expr, ast.Name):
            if scope is not None:
                bound = dataflow_of(module).bindings(scope).get(expr.id)
                if bound:
                    before = [(line, value) for line, value in bound if line <= expr.lineno] or bound
                    line, value = before[-1]
                    if value is None:
                        if _binds is not None and expr.id in _binds:
                            arg, caller_scope = _binds[expr.id]
                            return self.values(arg, caller_scope, _depth=_depth + 1)
                        return [(expr, module, scope)]
                    element = _element_of(scope, expr.id, line, value)
                    if element is not None:
                        return [
                            (item, m, sc)
                            for whole, m, sc in again(value)
                            for item in _pick_element(whole, element)
                        ]
                    return again(value)
            value = module.module_value(expr.id)
            if value is not None:
                return again(value, None)
            found = module.imported_definition(expr.id)
            if found is not None and not isinstance(found[1], (ast.FunctionDef, ast.AsyncFunctionDef)):
                return self.values(found[1], None, _module=found[0], _depth=_depth + 1)
            return [(expr, module, scope)]
        if isinstance(expr, ast.Attribute):
            if self_attr(expr) is not None and module is self.module:
                assigned = [
                    value for _, attr, value, _t in self._self_assignments()
                    if attr == expr.attr and value is not None
                ]
                if len(assigned) == 1:
                    return again(assigned[0], self.module.enclosing_function(assigned[0]))
                return [(expr, module, scope)]
            out = []
            for base, m, sc in again(expr.value):
                if isinstance(base, ast.Call):
                    field = next((k.value for k in base.keywords if k.arg == expr.attr), None)
                    if field is not None:
                        out.extend(self.values(field, sc, _module=m, _depth=_depth + 1))
                        continue
                out.append((expr, module, scope))
            return out
        if isinstance(expr, ast.Subscript) and isinstance(expr.slice, ast.Constant):
            out = []
            for base, m, sc in again(expr.value):
                if isinstance(base, ast.Dict):
                    for key, value in zip(base.keys, base.values):
                        if isinstance(key, ast.Constant) and key.value == expr.slice.value:
                            out.extend(self.values(value, sc, _module=m, _depth=_depth + 1))
                            break
                    else:
                        out.append((expr, module, scope))
                else:
                    out.append((expr, module, scope))
            return out
        if isinstance(expr, ast.Call) and _binds is None and module is self.module:
            found = self.helper(expr)
            if found is not None:
                helper_module, helper = found
                out = []
                for value, _m, helper_scope, binds, _d in self._enter_helper(expr, found, scope, _depth):
                    out.extend(self.values(value, helper_scope, _module=helper_module, _binds=binds,
                                           _depth=_depth + 1))
                return out or [(expr, module, scope)]
        return [(expr, module, scope)]

    # ----- forward -----------------------------------------------------

    def reaches_result(self, node: ast.AST) -> bool:
        """True if the value of ``node`` can reach an artifact, a return, a metric or the caller.

        A value passed to a helper function defined in the same file is
        followed one level into it, through the parameter it binds.
        """
        func = self.module.enclosing_function(node)
        if func is None:
            return True
        return self._reaches([node], func, inside_helper=False)

    def _reaches(self, start: Sequence[ast.AST], func: FunctionNode, *, inside_helper: bool) -> bool:
        parents = self.module.parents
        params = {a.arg for a in [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]}
        declared = {n for sub in walk_body(func) if isinstance(sub, (ast.Global, ast.Nonlocal)) for n in sub.names}
        todo: list[ast.AST] = list(start)
        done: set[int] = set()
        tainted: set[str] = set()

        def taint(name: str | None) -> bool:
            """Mark a local name; True if that name is itself a result."""
            if name is None or name == "self" or name in params or name in declared:
                return True
            if name not in self.bindings(func):
                return True  # a module-level or enclosing name: the caller can see it
            if name not in tainted:
                tainted.add(name)
                for load in self.loads(func).get(name, ()):
                    if self.module.enclosing_function(load) is not func:
                        return True  # read by a nested function or lambda: assume it escapes
                    todo.append(load)
            return False

        def into_helper(call: ast.Call, argument: ast.AST) -> bool:
            """Follow an argument into a same-file helper; True if it reaches a result there."""
            if inside_helper:
                return True
            found = self.helper(call, imported=False)
            if found is None:
                return False
            helper = found[1]
            names = [a.arg for a in [*helper.args.posonlyargs, *helper.args.args]]
            if names and names[0] in {"self", "cls"} and isinstance(call.func, ast.Attribute):
                names = names[1:]
            bound = None
            for name, arg in zip(names, call.args):
                if arg is argument:
                    bound = name
            for keyword in call.keywords:
                if keyword is argument or keyword.value is argument:
                    bound = keyword.arg
            if bound is None:
                return True
            loads = self.loads(helper).get(bound, [])
            return self._reaches(loads, helper, inside_helper=True)

        while todo:
            current = todo.pop()
            if id(current) in done:
                continue
            done.add(id(current))
            if self._climb(current, parents, taint, todo, into_helper):
                return True
        return False

    def _climb(self, current, parents, taint, todo, into_helper) -> bool:
        parent = parents.get(current)
        if parent is None:
            return True
        if isinstance(parent, ast.Attribute):
            if parent.attr in INSPECTORS:
                return False
            grandparent = parents.get(parent)
            if (
                isinstance(grandparent, ast.Call) and grandparent.func is parent
                and words(parent.attr) & RECORDING_WORDS
            ):
                return True  # a method that records its receiver: model.save(path), bst.save_model(...)
            todo.append(parent)
            return False
        if isinstance(parent, ast.keyword):
            current, parent = parent, parents.get(parent)
        if isinstance(parent, ast.Call):
            if current is parent.func:
                todo.append(parent)
                return False
            name = call_name(parent) or ""
            if name in DISCARDING_CALLS:
                return False
            if words(name) & RECORDING_WORDS or (dotted(parent.func) or "").startswith("current.card"):
                return True
            if isinstance(parent.func, ast.Name) and parent.func.id in self.module.functions:
                if into_helper(parent, current):
                    return True
            elif isinstance(parent.func, ast.Attribute):
                receiver = parent.func.value
                if self_attr(parent.func) is not None:
                    if self.helper(parent, imported=False) is None or into_helper(parent, current):
                        return True  # a flow method may store it on self
                elif name in MUTATORS:
                    if taint(_root_name(receiver)):
                        return True
            todo.append(parent)
            return False
        if isinstance(parent, ast.comprehension):
            for target in ast.walk(parent.target):
                if isinstance(target, ast.Name):
                    taint(target.id)
            todo.append(parents.get(parent))
            return False
        if isinstance(parent, (ast.Return, ast.Yield, ast.YieldFrom, ast.Lambda, ast.arguments,
                               ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Global)):
            return True
        if isinstance(parent, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr)):
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            if current in targets or current is getattr(parent, "target", None):
                return False  # the value is overwritten, not used
            for target in targets:
                if _stores_result(target, taint):
                    return True
            if isinstance(parent, ast.NamedExpr):
                todo.append(parent)
            return False
        if isinstance(parent, (ast.For, ast.AsyncFor)):
            if current is parent.iter:
                return _stores_result(parent.target, taint)
            return False
        if isinstance(parent, ast.withitem):
            if parent.optional_vars is not None:
                return _stores_result(parent.optional_vars, taint)
            return False
        if isinstance(parent, (ast.Expr, ast.If, ast.While, ast.Assert, ast.Raise, ast.Delete)):
            return False  # discarded, or only steers control flow
        if isinstance(parent, ast.expr):
            todo.append(parent)
            return False
        return True


def _element_of(func: FunctionNode, name: str, line: int, value: ast.AST) -> int | None:
    """The index of ``name`` in a tuple target ``a, b = value`` on ``line``, if it is one."""
    for node in walk_body(func):
        if isinstance(node, ast.Assign) and node.lineno == line and node.value is value:
            for target in node.targets:
                if isinstance(target, (ast.Tuple, ast.List)):
                    for index, element in enumerate(target.elts):
                        if isinstance(element, ast.Name) and element.id == name:
                            return index
    return None


def _pick_element(value: ast.AST, index: int) -> list[ast.AST]:
    if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) > index:
        return [value.elts[index]]
    return [value]


class _ParamNode(ast.AST):
    """An AST-shaped wrapper so parameters travel through the slice worklist."""

    _fields = ()

    def __init__(self, function: FunctionNode, name: str) -> None:
        super().__init__()
        self.param = Param(function, name)


def params_in(nodes) -> list[Param]:
    """The parameter markers among a slice's nodes."""
    return [node.param for node in nodes if isinstance(node, _ParamNode)]


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Subscript, ast.Attribute)):
        if self_attr(node) is not None:
            return "self"
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _stores_result(target: ast.AST, taint) -> bool:
    """Taint the names a store target binds or mutates; True if it stores on self or escapes."""
    if isinstance(target, ast.Name):
        return taint(target.id)
    if isinstance(target, (ast.Tuple, ast.List)):
        return any(_stores_result(element, taint) for element in target.elts)
    if isinstance(target, ast.Starred):
        return _stores_result(target.value, taint)
    if isinstance(target, (ast.Subscript, ast.Attribute)):
        return taint(_root_name(target))
    return True
