"""Standard practice the worksheet shows but does not flag, and the facts two scales of one experiment share.

A flag asks the reviewer to argue something away, so it must point at what is
likely wrong, not at what every careful investigation does (issue 23 measured
three flags on an ordinary early-stopped, cross-validated MLP). Three
practices are shown in the worksheet and left unflagged, because they are the
same for every method in a comparison:

* **Early stopping on the validation split** (a selecting callback monitoring
  ``val_metric`` or ``val_loss``), while the table reports another metric on
  the test split: the test split is never used to choose, every method sees
  the same validation split. Its checkpoints are one configuration's training
  procedure, not a search among configurations, so they count as one
  configuration when budgets are compared (the per-cell checkpoint counts are
  shown), and a change of ``training.epochs`` does not change its facts.
* **A per-method selection budget**: each method's budget stays in the
  worksheet's budget lines and facts; only a *search* among configurations
  against a baseline that gets a different number is flagged.
* **An order that does not matter**: a scikit-learn estimator tree in which no
  estimator takes a ``shuffle`` setting (``Ridge``, ``LogisticRegression``,
  gradient boosting, a ``Pipeline`` of them) fits the whole training split at once
  (no minibatch order), so it is not compared with the minibatch orders of
  other methods.

:func:`scale_free` defines when one review covers two experiments: their
facts agree after forgetting the *values* of each axis (keeping which keys are
swept) and the per-cell breakdown of each selection budget (keeping its
distinct counts). A smoke version of an experiment sweeps fewer or smaller
values of the same axes with the same methods, generator, metric and
selection, so it has the same scale-free facts and is covered by the full
experiment's record; a smoke version with other methods is not.
"""

from __future__ import annotations

import inspect
from typing import Any, Iterator, Mapping

from components.spec.declarations import TARGET, ImplementationError, declaration_of, locate

__all__ = ["VALIDATION_MONITORS", "early_stopping_monitor", "one_pass_estimators", "scale_free"]

#: Selection monitors measured on the validation split: selecting on them never looks at the test split.
VALIDATION_MONITORS = ("val_metric", "val_loss")


def early_stopping_monitor(method: Mapping[str, Any]) -> str | None:
    """The validation monitor of ``method``'s selecting callback (early stopping with restore), else ``None``."""
    for cb in method.get("callbacks") or []:
        if isinstance(cb, Mapping) and cb.get("monitor") in VALIDATION_MONITORS and _selects(cb.get(TARGET)):
            return str(cb["monitor"])
    return None


def _selects(target: Any) -> bool:
    try:
        return bool(declaration_of(locate(str(target), TARGET), "callback", TARGET).selects)
    except ImplementationError:
        return False


def one_pass_estimators(method: Mapping[str, Any]) -> list[str] | None:
    """The estimators ``method`` nests when none of them takes a ``shuffle`` setting, else ``None``.

    Such an estimator tree sees the training split as one batch, never as a
    sequence of minibatches, so the order of examples is not part of how it
    trains. ``None`` when the method nests anything but scikit-learn
    estimators (a torch model trains in minibatches), an estimator that
    shuffles (``SGDClassifier``, ``MLPClassifier``, ...), or one that cannot
    be read.
    """
    targets = [target for target in _nested_targets(method) if target]
    if not targets or not all(target.startswith("sklearn.") for target in targets):
        return None
    for target in targets:
        try:
            parameters = inspect.signature(locate(target, TARGET)).parameters
        except (ImplementationError, TypeError, ValueError):
            return None
        if "shuffle" in parameters:
            return None
    return targets


def _nested_targets(node: Any, top: bool = True) -> Iterator[str]:
    if isinstance(node, Mapping):
        if not top and TARGET in node:
            yield str(node[TARGET])
        for key, value in node.items():
            if key != "callbacks":
                yield from _nested_targets(value, False)
    elif isinstance(node, list):
        for value in node:
            yield from _nested_targets(value, False)


def scale_free(facts: Mapping[str, Any]) -> dict[str, Any]:
    """``facts`` (a worksheet's, JSON-shaped) without what only sets the scale: axis values and per-cell budgets."""
    out = {trap: value for trap, value in facts.items()}
    axes = facts.get("axes_vs_source")
    if isinstance(axes, Mapping):
        out["axes_vs_source"] = {
            **axes,
            **{key: sorted(axes[key]) for key in ("data_axes", "training_axes") if isinstance(axes.get(key), Mapping)},
        }
    selection = facts.get("sweep_inflation")
    if isinstance(selection, Mapping) and isinstance(selection.get("methods"), Mapping):
        methods = {
            name: {**entry, "budget": _counts(entry.get("budget"))} if isinstance(entry, Mapping) else entry
            for name, entry in selection["methods"].items()
        }
        out["sweep_inflation"] = {**selection, "methods": methods}
    return out


def _counts(budget: Any) -> Any:
    if isinstance(budget, Mapping):
        return sorted(set(budget.values()), key=lambda count: (count is None, count or 0))
    return budget
