"""Per-class results of a classification run: summed confusion matrices and per-class recall and precision.

Every arm of a binary or multiclass task records its test confusion matrix
(:func:`components.spec.confusion.confusion`). :func:`per_class_rows` sums them
per (cell, method) over seeds and folds, and derives each seed's per-class
recall and precision (:func:`components.spec.confusion.rates`), which the one
statistics engine (:func:`components.stats.aggregate`) summarises as it does the
primary metric: the experiment's interval method, level and seed, and under
cross-validation its fold-aware interval. So a per-class interval means what a
cell's interval means: how the rate varies over seeds (and folds) of the whole
procedure.

Differences from the cells: a rate that is undefined for a seed (recall of a
class absent from that test split, precision of a class the arm never
predicted) or whose arm failed is dropped and counted (``n_dropped``), whatever
the experiment's ``nan_policy``; rows are not compared with the baseline (no
verdicts, nothing added to the family of comparisons); and no ``resolution``
is added to Student-t's variance (the metric's resolution is not a rate's), so
a class whose rate is equal on every seed gets no interval and a note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np

from components.constants import FOLD_AXIS
from components.schema import ClassRate, PerClassRow
from components.seeding import canonical
from components.spec.config import ExperimentSpec
from components.spec.confusion import decision, rates
from components.spec.seams import CLASSIFICATION
from components.engine.planner import trainings

__all__ = ["CLASS_AXIS", "per_class_rows"]

#: The axis naming a class while per-class rates go through the statistics engine (never shown).
CLASS_AXIS = "axisflow:class"
#: Statistics settings that do not carry over from the primary metric (see the module docstring).
_NOT_CARRIED = ("nan_policy", "multiplicity", "contrasts")


def per_class_rows(spec: ExperimentSpec, records: Sequence[Mapping[str, Any]]) -> list[PerClassRow] | None:
    """One :class:`components.schema.PerClassRow` per (cell, method) with a confusion matrix; ``None`` unless classification.

    ``records`` are the run's branch records; their trainings follow
    :func:`components.engine.planner.trainings` (the branch writes them in plan
    order), which says which training-axis cells each arm supplies.
    """
    if spec.task not in CLASSIFICATION:
        return None
    groups = _groups(spec, records)
    threshold, words = decision(spec.task, spec.metric)
    stats = {name: _rates(spec, groups, name) for name in ("recall", "precision")}
    rows = []
    for key, group in sorted(groups.items()):
        classes = group["classes"]
        if classes is None:  # every arm of the cell failed: nothing to count
            continue
        row = {
            "axes": group["axes"], "method": group["method"], "classes": list(classes), "threshold": threshold, "decision": words,
            "arms": len(group["counts"]), "confusion": np.sum(group["counts"], axis=0).astype(int).tolist(),
            **{name: [stats[name][key, i] for i in range(len(classes))] for name in stats},
        }
        rows.append(cast(PerClassRow, row))
    from components.stats import cell_sort_key

    return sorted(rows, key=lambda r: cell_sort_key(r["axes"], r["method"]))


def _groups(spec: ExperimentSpec, records: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """``{(cell text, method): {"axes", "method", "classes", "counts", "arms"}}``; ``arms`` lists ``(axes with fold, seed, confusion or None)``."""
    plan = trainings(spec)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        if "trainings" not in record:  # hand-built records (tests) may carry observations only
            continue
        if len(record["trainings"]) != len(plan):
            raise ValueError(f"branch {record['key']}: {len(record['trainings'])} trainings recorded, {len(plan)} planned")
        for training, item in zip(record["trainings"], plan):
            for cell in item.cells:
                axes = {**record["data_axes"], **cell}
                shown = {k: v for k, v in sorted(axes.items()) if k != FOLD_AXIS}
                key = (canonical(shown), item.method)
                group = groups.setdefault(key, {"axes": shown, "method": item.method, "classes": None, "counts": [], "arms": []})
                _add(group, axes, record["seed_index"], training.get("confusion"))
    return groups


def _add(group: dict[str, Any], axes: dict[str, Any], seed: int, confusion: Mapping[str, Any] | None) -> None:
    """Add one arm (``confusion`` ``None`` when it failed) to its cell's group; the cell's arms must agree on the classes."""
    group["arms"].append((axes, seed, confusion))
    if confusion is None:
        return
    if group["classes"] is not None and list(confusion["classes"]) != group["classes"]:
        raise ValueError(
            f"cell {group['axes']} method {group['method']}: arms name different classes "
            f"({', '.join(group['classes'])} vs {', '.join(confusion['classes'])})"
        )
    group["classes"] = list(confusion["classes"])
    group["counts"].append(np.asarray(confusion["counts"], dtype=np.int64))


def _rates(spec: ExperimentSpec, groups: Mapping[tuple[str, str], Mapping[str, Any]], name: str) -> dict[tuple[tuple[str, str], int], ClassRate]:
    """``{((cell text, method), class index): ClassRate}`` of one rate (``recall`` or ``precision``), one engine call per method."""
    from components import stats

    index = 0 if name == "recall" else 1
    settings = {k: v for k, v in stats.for_derived_values(spec.statistics).items() if k not in _NOT_CARRIED}
    folds: dict[str, Any] = {"fold_axis": FOLD_AXIS, "folds": len(spec.data_axes[FOLD_AXIS])} if FOLD_AXIS in spec.data_axes else {}
    by_method: dict[str, list[dict[str, Any]]] = {}
    for group in groups.values():
        if group["classes"] is None:
            continue
        k = len(group["classes"])
        for axes, seed, confusion in group["arms"]:
            values = rates(confusion["counts"])[index] if confusion is not None else np.full(k, np.nan)
            by_method.setdefault(group["method"], []).extend(
                {"axes": {**axes, CLASS_AXIS: c}, "method": group["method"], "seed": seed, "value": float(values[c])} for c in range(k)
            )
    out: dict[tuple[tuple[str, str], int], ClassRate] = {}
    for method, observations in sorted(by_method.items()):
        found = stats.aggregate(
            observations, baseline=method, bounds=(0.0, 1.0), nan_policy="omit", multiplicity="none",
            stream_axes=sorted(a for a in spec.data_axes if a != FOLD_AXIS), **folds, **settings,
        )
        for cell in found["cells"]:
            axes = {k: v for k, v in cell["axes"].items() if k != CLASS_AXIS}
            entry = {k: v for k, v in cell.items() if k not in ("axes", "method")}
            out[(canonical(axes), method), int(cell["axes"][CLASS_AXIS])] = cast(ClassRate, _flat_note(entry))
    return out


def _flat_note(entry: dict[str, Any]) -> dict[str, Any]:
    """A rate equal on every seed (and fold) has no interval; its note says so without the cells' advice on ``resolution``.

    (A cell's note suggests declaring the metric's resolution; per-class rates do not use it: see the module docstring.)
    """
    scores = [v for row in entry["fold_values"] for v in row] if "fold_values" in entry else entry["values"]
    if "note" in entry and len(scores) >= 2 and len(set(scores)) == 1:
        entry["note"] = f"all {len(scores)} values equal: no interval (a zero-width one would claim certainty)"
    return entry
