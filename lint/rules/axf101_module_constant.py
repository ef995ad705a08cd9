"""AXF101: a module-level numeric constant used as a hyperparameter."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from lint.analysis import (
    SEAMS,
    FlowClass,
    FunctionNode,
    Module,
    call_name,
    is_numeric_literal,
    local_names,
    self_attr,
    walk_body,
)
from lint.findings import Finding
from lint.rules.base import Rule


class ModuleConstantRule(Rule):
    """## What it does
    Flags a module-level assignment of a number (``_EP = 15``, ``LR = 3e-4``,
    ``-1``, ``2**10``, or a tuple/list of numbers such as ``HIDDEN = (64, 64)``)
    when the value is

    - read inside a Metaflow step (a ``@step`` method), or inside a helper
      function or method of the same file that a step calls, directly or
      through other helpers; or
    - passed, directly or through such a helper, as an argument of a seam
      call (``make_data``, ``build_model``, ``train_arm``, ``metric``) anywhere
      in the file.

    Number-valued class attributes of a flow read as ``self.NAME`` in a step
    are flagged the same way. The finding sits on the constant's assignment
    and names the first place that uses it.

    Not flagged: dunder names (``__version__``), non-numeric values (paths
    anchored to ``__file__``, loggers, strings), names only used at module
    level, and constants used inside library functions that no step reaches.
    A constant used as a default value in a function signature is a library
    fallback and is allowed in library code (``components/``); in a flow file
    the default of a helper that a step calls is flagged, because the step
    then silently runs on it. In a flow file, a numeric constant imported
    from a project module (``from .settings import EPOCHS``, a file found
    below the project root or beside the flow) is followed the same way and
    the finding sits on the import.

    ## Why is this bad?
    The config is the single source of an experiment's behaviour. A number
    hard-coded next to the flow is invisible to overrides
    (``training.epochs=3`` does nothing), is not recorded in the resolved
    config or its hash, and lets two people reading the same config run
    different experiments.

    ## Example
    ```python
    EPOCHS = 15

    class Investigation(FlowSpec):
        @step
        def branch(self):
            self.result = train_arm(self.method, self.data, self.seed, {"epochs": EPOCHS})
    ```

    ## Use instead
    ```python
    class Investigation(FlowSpec):
        @step
        def branch(self):
            train_cfg = self.cfg["training"]
            self.result = train_arm(self.method, self.data, self.seed, train_cfg)
    ```
    """

    code = "AXF101"
    name = "module-constant"
    summary = "A module-level numeric constant feeds a step or a seam call instead of the config."
    message = "module-level constant '{constant}'{origin} is used in {where}; read it from the config instead"
    # A constant in a step is a scope finding (often a resource knob or a hyper-parameter the
    # author fixed on purpose); one passed to a seam call bypasses the config and its hash, so
    # the reuse key cannot see it: that one is an error.
    severity = "warning"

    def check(self, module: Module) -> Iterator[Finding]:
        constants: dict[str, ast.AST] = dict(_numeric_constants(module.tree.body))
        imported = _imported_constants(module) if module.is_flow_file else {}
        for name, node in imported.items():
            constants.setdefault(name, node)
        class_constants = {
            flow.name: _numeric_constants(flow.node.body) for flow in module.flow_classes
        }
        if not constants and not any(class_constants.values()):
            return
        tracer = _Tracer(module, set(constants), class_constants)
        uses: dict[tuple[str | None, str], str] = {}
        seam_uses: set[tuple[str | None, str]] = set()
        for flow, step in module.steps:
            for key, helper in tracer.reads(step, flow).items():
                where = f"step '{step.name}'" + (f" via '{helper}'" if helper else "")
                uses.setdefault(key, where)
        for call in module.calls:
            if call_name(call) in SEAMS:
                for key, helper in tracer.argument_reads(call).items():
                    where = f"the {call_name(call)}() call on line {call.lineno}"
                    uses.setdefault(key, where + (f" via '{helper}'" if helper else ""))
                    seam_uses.add(key)
        for (owner, name), where in sorted(uses.items(), key=lambda item: str(item[0])):
            target = constants[name] if owner is None else class_constants[owner][name]
            constant = name if owner is None else f"{owner}.{name}"
            origin = ""
            if owner is None and name in imported and constants[name] is imported[name]:
                origin = f" (imported from '{_module_of(imported[name])}')"
            severity = "error" if (owner, name) in seam_uses else self.severity
            yield self.finding(
                module, target, severity=severity, constant=constant, origin=origin, where=where
            )


def _imported_constants(module: Module) -> dict[str, ast.ImportFrom]:
    """Names a flow imports from a project module where they are numeric literals, with the import."""
    found: dict[str, ast.ImportFrom] = {}
    for node in module.tree.body:
        if not isinstance(node, ast.ImportFrom):
            continue
        for alias in node.names:
            name = alias.asname or alias.name
            definition = module.imported_definition(name)
            if definition is not None and is_numeric_literal(definition[1]):
                found[name] = node
    return found


def _module_of(node: ast.ImportFrom) -> str:
    return "." * node.level + (node.module or "")


def _numeric_constants(body: list[ast.stmt]) -> dict[str, ast.Name]:
    found: dict[str, ast.Name] = {}
    for stmt in body:
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        else:
            continue
        if not is_numeric_literal(value):
            continue
        for target in targets:
            if isinstance(target, ast.Name) and not (
                target.id.startswith("__") and target.id.endswith("__")
            ):
                found.setdefault(target.id, target)
    return found


class _Tracer:
    """Which constants a function reads, itself or through helpers it calls."""

    def __init__(self, module: Module, constants: set[str], class_constants: dict) -> None:
        self.module = module
        self.constants = constants
        self.class_constants = class_constants
        self.flow_of_method = {
            id(method): flow for flow in module.flow_classes for method in flow.methods.values()
        }
        self.flow_of_step = {id(step): flow for flow, step in module.steps}
        self._memo: dict[int, dict] = {}

    def reads(self, func: FunctionNode, flow: FlowClass | None, _active=None) -> dict:
        """(owner, constant) -> helper name ('' when read directly) for one function."""
        if id(func) in self._memo:
            return self._memo[id(func)]
        active = _active if _active is not None else set()
        if id(func) in active:
            return {}
        active.add(id(func))
        is_helper = id(func) not in self.flow_of_step
        nodes = list(walk_body(func))
        if is_helper and self.module.is_flow_file:
            defaults = [*func.args.defaults, *(d for d in func.args.kw_defaults if d)]
            nodes.extend(sub for default in defaults for sub in ast.walk(default))
        found = self._direct(nodes, local_names(func), flow)
        for callee, callee_flow in self._callees(nodes, func, flow):
            for key, helper in self.reads(callee, callee_flow, active).items():
                found.setdefault(key, helper or callee.name)
        active.discard(id(func))
        self._memo[id(func)] = found
        return found

    def argument_reads(self, call: ast.Call) -> dict:
        """Constants that reach a call's arguments, directly or through helper calls."""
        enclosing = self.module.enclosing_function(call)
        shadowed = local_names(enclosing) if enclosing is not None else set()
        flow = None
        if enclosing is not None:
            flow = self.flow_of_step.get(id(enclosing)) or self.flow_of_method.get(id(enclosing))
        arguments = [*call.args, *(keyword.value for keyword in call.keywords)]
        nodes = [sub for argument in arguments for sub in ast.walk(argument)]
        found = self._direct(nodes, shadowed, flow)
        for callee, callee_flow in self._callees(nodes, enclosing, flow):
            for key, helper in self.reads(callee, callee_flow).items():
                found.setdefault(key, helper or callee.name)
        return found

    def _direct(self, nodes, shadowed: set[str], flow: FlowClass | None) -> dict:
        found: dict = {}
        class_consts = self.class_constants.get(flow.name, {}) if flow is not None else {}
        for sub in nodes:
            if (
                isinstance(sub, ast.Name)
                and isinstance(sub.ctx, ast.Load)
                and sub.id in self.constants
                and sub.id not in shadowed
            ):
                found.setdefault((None, sub.id), "")
            elif isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Load) and flow:
                owner = sub.value
                if sub.attr in class_consts and (
                    self_attr(sub) or (isinstance(owner, ast.Name) and owner.id == flow.name)
                ):
                    found.setdefault((flow.name, sub.attr), "")
        return found

    def _callees(self, nodes, func, flow):
        shadowed = local_names(func) if func is not None else set()
        for sub in nodes:
            if not isinstance(sub, ast.Call):
                continue
            target = sub.func
            if isinstance(target, ast.Name) and target.id not in shadowed:
                callee = self.module.functions.get(target.id)
                if callee is not None and callee is not func:
                    yield callee, None
            elif flow is not None and self_attr(target) in flow.methods:
                yield flow.methods[self_attr(target)], flow
