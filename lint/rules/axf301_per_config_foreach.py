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
    unwrap,
    walk_body,
    words,
)
from lint.findings import Finding
from lint.rules.base import Rule

TRAINING_WORDS = frozenset(
    {
        "method", "methods", "model", "models", "arm", "arms", "lr", "lrs", "learning",
        "epoch", "epochs", "wd", "decay", "hparam", "hparams", "hyperparam", "hyperparams",
        "hyperparameter", "hyperparameters", "optimizer", "optimizers", "optim", "training",
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

    - the value assigned to ``self.name`` (through ``list``/``sorted``, one
      local variable, or a loop that appends to it) is an
      ``itertools.product(...)``, a comprehension or a nested loop, and one of
      its axes (iterable or loop variable) is spelled with a training word:
      method, model, arm, lr, learning (rate), epoch, wd, decay, hparam,
      hyperparam(eter), optimizer, training; or
    - ``self.name`` is a plain reference spelled that way
      (``self.methods = list(cfg.methods)``); or
    - the artifact name itself says it is a config grid: it contains a
      training word or one of config, cell, grid, sweep, trial, unless it
      also says data or dataset (``data_configs`` is a data axis).

    A product of data axes and seeds (``product(noise_levels, seeds)``) is the
    intended grain and passes. The rule cannot see through calls to other
    functions (a planner's ``plan.branches``), so a planner that returns a
    per-config grid is not caught here.

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
    message = (
        "foreach '{attr}' fans out per config cell ({evidence}); fan out over data axes "
        "x seed and train every method inside the branch"
    )

    def check(self, module: Module) -> Iterator[Finding]:
        for flow, step in module.steps:
            for call in next_calls(step):
                attr = foreach_of(call)
                if attr is None:
                    continue
                evidence = _name_evidence(attr)
                for value, where in foreach_values(module, flow, step, call, attr):
                    evidence |= _value_evidence(module, value, where, attr)
                if evidence:
                    yield self.finding(
                        module, call, attr=attr, evidence=", ".join(sorted(evidence))
                    )


def _name_evidence(attr: str) -> set[str]:
    spelled = words(attr)
    if spelled & DATA_WORDS:
        return set()
    return {f"name '{attr}'"} if spelled & (TRAINING_WORDS | GRID_WORDS) else set()


def _training_words(node: ast.AST) -> set[str]:
    found = set()
    for name in identifiers(node):
        if words(name) & TRAINING_WORDS:
            found.add(name)
    return found


def _value_evidence(module: Module, value: ast.expr, where: FunctionNode, attr: str) -> set[str]:
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr in {
        "append", "extend",
    }:
        return _loop_evidence(module, value)
    value = unwrap(value, frozenset({"list", "tuple", "sorted"}))
    axes: list[ast.AST]
    if isinstance(value, ast.Call) and (
        (module.qualname(value.func) or dotted(value.func) or "").endswith("product")
    ):
        axes = list(value.args)
    elif isinstance(value, (ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp)):
        axes = [part for gen in value.generators for part in (gen.iter, gen.target)]
    elif isinstance(value, (ast.Name, ast.Attribute, ast.Subscript)):
        axes = [value]
    elif isinstance(value, ast.List) and not value.elts:
        return _appends_evidence(module, where, attr)
    else:
        axes = []
    found = set()
    for axis in axes:
        found |= _training_words(axis)
    return found


def _appends_evidence(module: Module, where: FunctionNode, attr: str) -> set[str]:
    """Axes of loops that append into the list later stored as ``self.<attr>``."""
    receivers = {attr}
    for sub in walk_body(where):
        if isinstance(sub, ast.Assign) and isinstance(sub.value, ast.Name):
            if any(self_attr(target) == attr for target in sub.targets):
                receivers.add(sub.value.id)
    found = set()
    for sub in walk_body(where):
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr in {"append", "extend"}
        ):
            receiver = sub.func.value
            name = receiver.id if isinstance(receiver, ast.Name) else self_attr(receiver)
            if name in receivers:
                found |= _loop_evidence(module, sub)
    return found


def _loop_evidence(module: Module, append: ast.Call) -> set[str]:
    found = set()
    node = module.parents.get(append)
    while node is not None and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        if isinstance(node, (ast.For, ast.AsyncFor)):
            found |= _training_words(node.iter) | _training_words(node.target)
        node = module.parents.get(node)
    return found
