"""AXF401: a model or tensor artifact reaching merge_artifacts."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from lint.analysis import (
    FlowClass,
    FunctionNode,
    Module,
    call_name,
    dotted,
    foreach_of,
    is_join,
    local_assignment,
    next_calls,
    self_attr,
    walk_body,
)
from lint.findings import Finding
from lint.rules.base import Rule

TENSOR_FACTORIES = frozenset(
    {
        "tensor", "as_tensor", "from_numpy", "zeros", "ones", "empty", "full", "eye",
        "zeros_like", "ones_like", "empty_like", "full_like", "rand", "randn", "randint",
        "randperm", "rand_like", "randn_like", "randint_like", "arange", "linspace",
        "logspace", "stack", "cat", "concat", "load", "normal", "bernoulli", "multinomial",
    }
)
TENSOR_METHODS = frozenset({"to", "cuda", "cpu", "detach"})


class ModelMergeArtifactsRule(Rule):
    """## What it does
    Flags ``self.merge_artifacts(inputs)`` in a join step when a step on the
    branches into that join stores a model or a tensor as an artifact that is
    neither listed in ``exclude=[...]`` nor left out by ``include=[...]``.

    A value counts as a model or tensor when it is: an instance of a
    ``torch.nn`` class under any import spelling (``nn.Linear``,
    ``torch.nn.Sequential``, ``T.nn.Module``), of a class in the same file
    that subclasses ``nn.Module``, or the result of ``build_model(...)``; a
    ``train_arm(...)`` result or the ``.model`` of anything (a train result
    carries the model); a tensor from a ``torch`` factory (``torch.tensor``,
    ``zeros``, ``randn``, ``from_numpy``, ``stack``, ``load``...) or
    ``torch.nn.functional``; anything ending in ``.to(...)``, ``.cuda()``,
    ``.cpu()`` or ``.detach()``; or a list, dict or comprehension holding one.
    Values are followed through one local variable, and ``self.models[k] = m``
    or ``self.models.append(m)`` count as storing ``m``. Steps before the
    split are not considered, because their artifacts are identical in every
    branch; a later ``self.x = None`` or ``del self.x`` in the same step
    clears the attribute. A join on the way passes on only what it assigns
    and what its own ``merge_artifacts(include=[...])`` keeps, so per-fold
    models dropped by an inner join do not reach a later one. An artifact
    that only one branch of a static join carries is not flagged: with
    nothing to compare it against, ``merge_artifacts`` just copies it.

    ## Why is this bad?
    ``merge_artifacts`` merges an attribute only if every branch holds the
    same pickled bytes. A pickled torch model embeds memory addresses, so even
    identical models differ and the join fails at run time, after all the
    branch compute has been spent. Models in artifacts also bloat the
    datastore; branches should hand the join compact scalar records.

    ## Example
    ```python
    @step
    def branch(self):
        self.model = build_model(self.model_spec)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs)
    ```

    ## Use instead
    ```python
    @step
    def branch(self):
        model = build_model(self.model_spec)
        self.record = {"branch": self.key, "score": evaluate(model)}
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs, exclude=["record"])
    ```
    """

    code = "AXF401"
    name = "model-merge-artifacts"
    summary = "A join merge_artifacts a model or tensor artifact set on the branches."
    message = (
        "join '{join}' merges '{attr}', {kind} set in step '{origin}'; "
        "add it to exclude=[...] or hand the join scalar records"
    )

    def check(self, module: Module) -> Iterator[Finding]:
        classes = _module_classes(module) if module.flow_classes else set()
        for flow in module.flow_classes:
            for join in [step for step in flow.steps.values() if is_join(step)]:
                calls = _merge_calls(join)
                if not calls:
                    continue
                carried, branches = _carried_into(module, flow, join, classes, set())
                for call in calls:
                    for attr in sorted(_kept(call, carried)):
                        if branches[attr] < 2:
                            continue  # one branch carries it: nothing to compare, the merge copies it
                        kind, origin = carried[attr]
                        yield self.finding(
                            module, call, join=join.name, attr=attr, kind=kind, origin=origin
                        )


def _merge_calls(join: FunctionNode) -> list[ast.Call]:
    return [
        sub
        for sub in walk_body(join)
        if isinstance(sub, ast.Call)
        and isinstance(sub.func, ast.Attribute)
        and self_attr(sub.func) == "merge_artifacts"
    ]


def _carried_into(module, flow, join, classes, seen) -> tuple[dict[str, tuple[str, str]], dict[str, int]]:
    """Model or tensor artifacts that reach ``join`` (attr -> (kind, origin step)), and on how many
    of its inputs each can differ: a foreach join counts as many inputs, a static join as one per
    branch that carries the attribute.

    A join upstream on a branch passes on only what it assigns itself and what its own
    ``merge_artifacts(include=..., exclude=...)`` keeps.
    """
    seen = seen | {join.name}
    carried: dict[str, tuple[str, str]] = {}
    branches: dict[str, int] = {}
    per_branch = _branch_steps(flow, join)
    foreach = len(per_branch) == 1
    for steps in per_branch.values():
        here = _model_artifacts(module, flow, steps, classes)
        for inner in steps:
            if is_join(inner) and inner is not join and inner.name not in seen:
                inner_carried, _ = _carried_into(module, flow, inner, classes, seen)
                for call in _merge_calls(inner):
                    for attr in _kept(call, inner_carried):
                        here.setdefault(attr, inner_carried[attr])
        for attr, found in here.items():
            carried.setdefault(attr, found)
            branches[attr] = branches.get(attr, 0) + (2 if foreach else 1)
    return carried, branches


def _module_classes(module: Module) -> set[str]:
    """Names of classes in the file that derive from nn.Module, directly or via each other."""
    found: set[str] = set()
    changed = True
    classes = [node for node in module.nodes if isinstance(node, ast.ClassDef)]
    while changed:
        changed = False
        for node in classes:
            if node.name in found:
                continue
            for base in node.bases:
                qualified = module.qualname(base) or ""
                if qualified.startswith("torch.nn.") or dotted(base) in found:
                    found.add(node.name)
                    changed = True
                    break
    return found


def _branch_steps(flow: FlowClass, join: FunctionNode) -> dict[str, list[FunctionNode]]:
    """Per input edge of ``join`` (its predecessor step), the steps back to the split that opens it.

    The walk stops at a split and at another join (which is included: its own
    artifacts and what its ``merge_artifacts`` keeps travel on, see
    :func:`_carried_into`). A join nothing leads to counts every other step as one branch.
    """
    predecessors: dict[str, set[str]] = {}
    splits: set[str] = set()
    for name, edges in flow.successors.items():
        for target, _ in edges:
            predecessors.setdefault(target, set()).add(name)
    for name, step in flow.steps.items():
        for call in next_calls(step):
            if foreach_of(call) is not None or len(call.args) > 1:
                splits.add(name)
    if join.name not in predecessors:
        return {"": [step for name, step in flow.steps.items() if name != join.name]}
    found: dict[str, list[FunctionNode]] = {}
    for start in sorted(predecessors[join.name]):
        seen: set[str] = set()
        frontier = [start]
        while frontier:
            name = frontier.pop()
            if name in seen or name in splits or name not in flow.steps:
                continue
            seen.add(name)
            if not is_join(flow.steps[name]):
                frontier.extend(predecessors.get(name, ()))
        found[start] = [flow.steps[name] for name in sorted(seen)]
    return found


def _model_artifacts(module, flow, steps, classes) -> dict[str, tuple[str, str]]:
    """attr -> (kind, step name) for model or tensor artifacts the given steps leave behind."""
    step_ids = {id(step) for step in steps}
    last: dict[tuple[int, str], tuple[int, str | None, str]] = {}
    ordered = sorted(flow.self_assignments, key=lambda item: (item[3].lineno, item[3].col_offset))
    for step, attr, value, target in ordered:
        if id(step) not in step_ids:
            continue
        kind = _kind(module, value, step, classes) if value is not None else None
        key = (id(step), attr)
        line = target.lineno
        appended = isinstance(target, (ast.Call, ast.Subscript))
        if appended:
            kind = _container(kind)
            if key in last:
                kind = kind or last[key][1]
        if key not in last or line >= last[key][0]:
            last[key] = (line, kind, step.name)
    for step in steps:
        for sub in walk_body(step):
            if isinstance(sub, ast.Delete):
                for target in sub.targets:
                    attr = self_attr(target)
                    if attr is not None:
                        last.pop((id(step), attr), None)
    carried: dict[str, tuple[str, str]] = {}
    for (_, attr), (_, kind, origin) in sorted(last.items(), key=lambda item: item[1][0]):
        if kind is not None:
            carried.setdefault(attr, (kind, origin))
    return carried


def _kind(module: Module, value: ast.AST, func: FunctionNode, classes: set[str], depth=0) -> str | None:
    if depth > 5:
        return None
    if isinstance(value, ast.Name):
        local = local_assignment(func, value.id, value.lineno)
        return _kind(module, local, func, classes, depth + 1) if local is not None else None
    if isinstance(value, ast.Attribute) and value.attr == "model":
        return "a model"
    if isinstance(value, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
        return _container(_kind(module, value.elt, func, classes, depth + 1))
    if isinstance(value, ast.DictComp):
        return _container(_kind(module, value.value, func, classes, depth + 1))
    if isinstance(value, (ast.List, ast.Tuple, ast.Set)):
        kinds = [_kind(module, elt, func, classes, depth + 1) for elt in value.elts]
        return _container(next((k for k in kinds if k), None))
    if isinstance(value, ast.Dict):
        kinds = [_kind(module, v, func, classes, depth + 1) for v in value.values]
        return _container(next((k for k in kinds if k), None))
    if not isinstance(value, ast.Call):
        return None
    qualified = module.qualname(value.func) or ""
    name = call_name(value)
    if name == "build_model" or (isinstance(value.func, ast.Name) and value.func.id in classes):
        return "a model"
    if name == "train_arm":
        return "a train result holding a model"
    if qualified.startswith("torch.nn.functional."):
        return "a tensor"
    if qualified.startswith("torch.nn.") and name and name[:1].isupper():
        return "a model"
    if qualified.startswith("torch.") and qualified.count(".") == 1 and name in TENSOR_FACTORIES:
        return "a tensor"
    if isinstance(value.func, ast.Attribute) and name in TENSOR_METHODS:
        return "a model or tensor"
    return None


def _container(kind: str | None) -> str | None:
    if kind is None or kind.startswith("a container"):
        return kind
    return f"a container holding {kind}"


def _kept(call: ast.Call, carried: dict[str, tuple[str, str]]) -> set[str]:
    """The carried attributes this merge_artifacts call would still merge."""
    include = exclude = None
    for keyword in call.keywords:
        names = _string_list(keyword.value)
        if keyword.arg == "include":
            if names is None:
                return set()
            include = names
        elif keyword.arg == "exclude":
            if names is None:
                return set()
            exclude = names
    positional = call.args[1:]
    if positional:
        exclude = _string_list(positional[0])
        if exclude is None:
            return set()
        if len(positional) > 1:
            include = _string_list(positional[1])
            if include is None:
                return set()
    kept = set(carried)
    if include is not None:
        kept &= include
    if exclude is not None:
        kept -= exclude
    return kept


def _string_list(node: ast.expr) -> set[str] | None:
    if isinstance(node, ast.Constant) and node.value is None:
        return set()
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        if all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
            return {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return None
