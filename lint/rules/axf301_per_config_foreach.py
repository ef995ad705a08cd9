"""AXF301: a foreach that fans out per method or training-axis cell."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from lint.analysis import (
    FunctionNode,
    Module,
    dotted,
    foreach_of,
    foreach_values,
    identifiers,
    next_calls,
    self_attr,
    walk_body,
    words,
)
from lint.dataflow import dataflow_of
from lint.findings import Finding
from lint.rules.base import Rule

TRAINING_WORDS = frozenset(
    {
        "method", "methods", "model", "models", "arm", "arms", "lr", "lrs", "learning",
        "epoch", "epochs", "wd", "decay", "hparam", "hparams", "hyperparam", "hyperparams",
        "hyperparameter", "hyperparameters", "optimizer", "optimizers", "optim", "training",
        "depth", "estimators", "dropout", "width", "hidden", "layers", "momentum", "batch",
        "penalty", "regularization", "kernel",
    }
)
GRID_WORDS = frozenset(
    {"config", "configs", "cfgs", "cell", "cells", "grid", "sweep", "sweeps", "trial", "trials"}
)
DATA_WORDS = frozenset({"data", "dataset", "datasets"})


class PerConfigForeachRule(Rule):
    """## What it does
    Flags ``self.next(self.x, foreach="name")`` when the fan-out runs per
    method or per training-axis value rather than per data unit. This is a
    naming heuristic, so it reads what the code says it iterates:

    - the value assigned to ``self.name``, resolved through the shared
      data-flow (local names, tuple unpacking, ``list``/``sorted``, ``x.field``
      of a constructor call, ``d["key"]`` of a dict literal, one level into a
      planner helper defined in the file or imported from a project module,
      constants imported from project modules), is an
      ``itertools.product(...)``, a comprehension (also one whose iterable is
      such a product, as in ``[json.dumps(g) for g in product(...)]``), a list
      of dict literals, or a nested loop that appends to it, and one of its
      axes that *varies* is spelled with a training word: method, model, arm,
      lr, learning (rate), epoch, wd, decay, hparam, hyperparam(eter),
      optimizer, training, depth, estimators, dropout, width, hidden, layers,
      momentum, batch, penalty, regularization, kernel. For
      ``product(*grid.values())`` over a dict literal the axes are its keys;
      an axis with a single value (``"epochs": [10]``) does not vary and is
      not named; or
    - ``self.name`` is a plain reference spelled that way
      (``self.methods = list(cfg.methods)``); or
    - the artifact name itself says it is a config grid: it contains a
      training word or one of config, cell, grid, sweep, trial, unless it
      also says data or dataset (``data_configs`` is a data axis).

    A product of data axes and seeds (``product(noise_levels, seeds)``) is the
    intended grain and passes.

    The message names the varying keys and fits the flow. When a step
    before the fan-out stores a dataset artifact (``self.data``,
    ``self.x_train``, ``self.df``...), the flow is a plain hyperparameter
    sweep over data loaded once upstream: the message says that is fine in a
    generic flow when each config trains for long, and that batching configs
    per branch is axisflow's convention. Otherwise every task rebuilds the
    same data, and the message says to fan out over data axes x seed.

    ## Why is this bad?
    Every foreach branch is a separate task that re-imports the flow module
    and does datastore I/O (seconds each, more with torch). One branch per
    config cell multiplies that overhead by the number of methods and
    training-axis values, regenerates the same dataset for every method, and
    retrains axis-agnostic baselines that should train once per dataset.

    ## Example
    ```python
    @step
    def start(self):
        self.cells = list(itertools.product(self.methods, self.lrs, self.seeds))
        self.next(self.train, foreach="cells")
    ```

    ## Use instead
    ```python
    @step
    def start(self):
        self.branches = list(itertools.product(self.noise_levels, self.seeds))
        self.next(self.train, foreach="branches")  # every method trains in-process
    ```
    """

    code = "AXF301"
    name = "per-config-foreach"
    summary = "A foreach fans out per method or training-axis value instead of data axes x seed."
    message = "foreach '{attr}' fans out one task per config ({evidence}); {advice}"
    # Fan-out grain costs time, not correctness: a warning when every task rebuilds the same
    # data, an info when the sweep over data loaded upstream is the flow's purpose.
    severity = "warning"

    def check(self, module: Module) -> Iterator[Finding]:
        for flow, step in module.steps:
            for call in next_calls(step):
                attr = foreach_of(call)
                if attr is None:
                    continue
                varying: dict[str, None] = {}
                for value, where in foreach_values(module, flow, step, call, attr):
                    for name in _value_evidence(module, value, where, attr):
                        varying[name] = None
                named = _name_evidence(attr)
                if not varying and not named:
                    continue
                evidence = (
                    f"varying: {', '.join(varying)}" if varying else f"the name '{attr}'"
                )
                upstream = _data_loaded_upstream(module, flow, step, call)
                if upstream is not None:
                    yield self.finding(
                        module, call, severity="info", attr=attr, evidence=evidence,
                        advice=SWEEP_ADVICE.format(step=upstream),
                    )
                else:
                    yield self.finding(module, call, attr=attr, evidence=evidence, advice=GRID_ADVICE)


SWEEP_ADVICE = (
    "the data is loaded once upstream in '{step}', so this is a plain sweep: fine in a generic "
    "flow if each config trains for long; if tasks are short, give each branch a batch of configs "
    "(axisflow convention: fan out over data axes x seed, train every config in-process)"
)
GRID_ADVICE = (
    "every task rebuilds the same data; fan out over data axes x seed and train every config "
    "inside the branch (axisflow convention)"
)
DATA_ARTIFACT_WORDS = frozenset(
    {"data", "dataset", "datasets", "df", "frame", "x", "features", "corpus", "images", "splits",
     "table"}
)


def _name_evidence(attr: str) -> bool:
    spelled = words(attr)
    if spelled & DATA_WORDS:
        return False
    return bool(spelled & (TRAINING_WORDS | GRID_WORDS))


def _data_loaded_upstream(module: Module, flow, step: FunctionNode, call: ast.Call) -> str | None:
    """The step that stores a dataset artifact before this foreach, if one does."""
    targets = {self_attr(arg) for arg in call.args}
    for where, attr, value, target in flow.self_assignments:
        if where.name in targets or (where is step and target.lineno > call.lineno):
            continue
        if words(attr) & DATA_ARTIFACT_WORDS and not (words(attr) & TRAINING_WORDS):
            if where is step or _precedes(flow, where.name, step.name):
                return where.name
    return None


def _precedes(flow, earlier: str, later: str) -> bool:
    todo, seen = [earlier], set()
    while todo:
        name = todo.pop()
        if name == later:
            return True
        if name in seen:
            continue
        seen.add(name)
        todo.extend(target for target, _ in flow.successors.get(name, ()))
    return False


def _value_evidence(module: Module, value: ast.expr, where: FunctionNode, attr: str) -> list[str]:
    """The training-axis names that vary in the list a foreach fans out over."""
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr in {
        "append", "extend",
    }:
        return _loop_axes(module, module, value)
    found: list[str] = []
    for resolved, owner, scope in dataflow_of(module).values(value, where):
        found.extend(_axes_evidence(module, owner, resolved, scope, attr, 0))
    return list(dict.fromkeys(found))


def _axes_evidence(module, owner, value, scope, attr, depth) -> list[str]:
    if depth > 3:
        return []
    flow = dataflow_of(module)
    if isinstance(value, ast.Call) and (
        (owner.qualname(value.func) or dotted(value.func) or "").endswith("product")
    ):
        found = []
        for arg in value.args:
            if isinstance(arg, ast.Starred):
                found.extend(_starred_axes(module, owner, arg.value, scope))
            else:
                found.extend(_axis(module, owner, arg, arg, scope))
        return found
    if isinstance(value, (ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp)):
        found = []
        for gen in value.generators:
            inner = [
                (item, o, sc)
                for item, o, sc in (flow.values(gen.iter, scope) if owner is module else [])
                if _is_product(o, item)
                or (item is not gen.iter and isinstance(item, (ast.ListComp, ast.GeneratorExp)))
            ]
            if inner:
                for item, o, sc in inner:
                    found.extend(_axes_evidence(module, o, item, sc, attr, depth + 1))
            else:
                found.extend(_axis(module, owner, gen.target, gen.iter, scope))
        return found
    if isinstance(value, ast.List) and value.elts and all(isinstance(e, ast.Dict) for e in value.elts):
        return _varying_keys([e for e in value.elts if isinstance(e, ast.Dict)])
    if isinstance(value, (ast.Name, ast.Attribute, ast.Subscript)):
        return _training_names(value)
    if isinstance(value, ast.List) and not value.elts and scope is not None and owner is module:
        return _appends_axes(module, scope, attr)
    return []


def _is_product(owner, node) -> bool:
    return isinstance(node, ast.Call) and (
        owner.qualname(node.func) or dotted(node.func) or ""
    ).endswith("product")


def _starred_axes(module, owner, node, scope) -> list[str]:
    """Axes of ``product(*grid.values())`` over a dict literal: its keys whose lists vary."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "values":
        for base, _o, _sc in (dataflow_of(module).values(node.func.value, scope) if owner is module else []):
            if isinstance(base, ast.Dict):
                return [
                    key.value
                    for key, values in zip(base.keys, base.values)
                    if isinstance(key, ast.Constant) and isinstance(key.value, str)
                    and words(key.value) & TRAINING_WORDS and _varies(module, owner, values, scope)
                ]
    return _training_names(node)


def _axis(module, owner, label: ast.AST, iterable: ast.AST, scope) -> list[str]:
    """Training-worded names of one axis (its target or iterable), when the axis varies."""
    names = _training_names(label) or _training_names(iterable)
    if not names or not _varies(module, owner, iterable, scope):
        return []
    return names


def _varies(module, owner, iterable: ast.AST, scope) -> bool:
    resolved = dataflow_of(module).values(iterable, scope) if owner is module else [(iterable, owner, scope)]
    for value, _o, _sc in resolved:
        if isinstance(value, (ast.List, ast.Tuple, ast.Set)):
            if len(value.elts) > 1:
                return True
        elif isinstance(value, ast.Constant):
            continue
        elif (
            isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "range"
            and len(value.args) == 1 and isinstance(value.args[0], ast.Constant)
        ):
            if isinstance(value.args[0].value, int) and value.args[0].value > 1:
                return True
        else:
            return True
    return False


def _varying_keys(rows: list[ast.Dict]) -> list[str]:
    """Training-worded keys whose values differ between the dict literals of a config list."""
    seen: dict[str, set[str]] = {}
    for row in rows:
        for key, value in zip(row.keys, row.values):
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                seen.setdefault(key.value, set()).add(ast.dump(value))
    return [key for key, values in seen.items() if len(values) > 1 and words(key) & TRAINING_WORDS]


def _training_names(node: ast.AST) -> list[str]:
    return sorted(name for name in identifiers(node) if words(name) & TRAINING_WORDS)


def _appends_axes(module: Module, where: FunctionNode, attr: str) -> list[str]:
    """Axes of loops that append into the list later stored as ``self.<attr>``."""
    receivers = {attr}
    for sub in walk_body(where):
        if isinstance(sub, ast.Assign) and isinstance(sub.value, ast.Name):
            if any(self_attr(target) == attr for target in sub.targets):
                receivers.add(sub.value.id)
    found = []
    for sub in walk_body(where):
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr in {"append", "extend"}
        ):
            receiver = sub.func.value
            name = receiver.id if isinstance(receiver, ast.Name) else self_attr(receiver)
            if name in receivers:
                found.extend(_loop_axes(module, module, sub))
    return found


def _loop_axes(module: Module, owner, append: ast.Call) -> list[str]:
    found = []
    node = module.parents.get(append)
    while node is not None and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        if isinstance(node, (ast.For, ast.AsyncFor)):
            found.extend(_axis(module, owner, node.target, node.iter, module.enclosing_function(node)))
        node = module.parents.get(node)
    return found
