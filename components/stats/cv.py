"""Intervals for cross-validated experiments: folds are averaged within a replicate, and the
interval accounts for the correlation between folds.

Why not the usual interval: the ``k`` test-fold scores of one replicate share
most of their training data (any two training folds overlap in ``(k-2)/(k-1)``
of the rows), and the ``r`` replicates (repeats of k-fold with new fold
assignments) re-use the same table. Treating the ``J = r*k`` scores as
independent seeds gives an interval that is far too narrow (Bates, Hastie &
Tibshirani, JASA 2023; measured in ``benchmarks/cv_coverage.py``).

The default, ``nadeau_bengio``, is the corrected resampled t of Nadeau & Bengio
(Machine Learning 52, 2003), as used for repeated k-fold by Bouckaert & Frank
(2004): with ``S^2`` the sample variance of the ``J`` fold scores,

    mean +- t_{J-1, (1+c)/2} * sqrt((1/J + n_test/n_train) * S^2),

where ``n_test/n_train = 1/(k-1)`` for k-fold. The extra ``n_test/n_train``
term is their estimate of the correlation between fold scores. Paired
differences use the same formula on the per-fold differences ``method -
baseline`` (same replicate, same fold, hence the same split). What it
estimates is the expected error of the procedure trained on ``n - n/k`` rows
from this population, not the error of one particular fitted model.

The naive alternative (``naive_folds_as_seeds``) hands every (replicate, fold)
score to :func:`components.stats.aggregate` as if it were an independent seed;
it exists to show the difference, and the results header and every row say so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from components.seeding import canonical

__all__ = ["NAIVE_NOTE", "aggregate_folds", "corrected_t_interval", "corrected_t_p_value", "naive_t_interval"]

#: The note every row carries when folds are treated as independent seeds.
NAIVE_NOTE = "NAIVE interval: folds treated as independent seeds, ignoring their correlation; it is too narrow"


def corrected_t_interval(scores: Any, *, test_train_ratio: float, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nadeau-Bengio corrected resampled t interval of each row of ``scores``.

    ``scores`` has shape ``(rows, J)``: the ``J = r*k`` fold scores of one cell
    (or paired differences). Returns ``(mean, low, high)``, each ``(rows,)``.
    ``test_train_ratio`` is ``n_test/n_train`` of one split (``1/(k-1)`` for k-fold).
    """
    from scipy import stats

    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError(f"scores must have shape (rows, J) with J >= 2, got {scores.shape}")
    j = scores.shape[1]
    mean = scores.mean(axis=1)
    variance = (1.0 / j + test_train_ratio) * scores.var(axis=1, ddof=1)
    half = stats.t.ppf(0.5 + confidence / 2, j - 1) * np.sqrt(variance)
    return mean, mean - half, mean + half


def corrected_t_p_value(scores: Any, *, test_train_ratio: float) -> np.ndarray:
    """Two-sided p-value of "mean = 0" for each row under the corrected resampled t (the interval's own test)."""
    from scipy import stats

    scores = np.asarray(scores, dtype=np.float64)
    j = scores.shape[1]
    se = np.sqrt((1.0 / j + test_train_ratio) * scores.var(axis=1, ddof=1))
    mean = scores.mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, np.abs(mean) / np.where(se > 0, se, 1.0), np.where(mean == 0, 0.0, np.inf))
    return 2.0 * stats.t.sf(t, j - 1)


def naive_t_interval(scores: Any, *, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fold-as-seed Student-t interval ``mean +- t_{J-1} * S / sqrt(J)`` of each row (for comparison only)."""
    from scipy import stats

    scores = np.asarray(scores, dtype=np.float64)
    j = scores.shape[1]
    mean = scores.mean(axis=1)
    half = stats.t.ppf(0.5 + confidence / 2, j - 1) * scores.std(axis=1, ddof=1) / math.sqrt(j)
    return mean, mean - half, mean + half


def _clip(value: float, bounds: Sequence[float | None]) -> float:
    low, high = bounds
    if low is not None:
        value = max(value, low)
    if high is not None:
        value = min(value, high)
    return value


def _collect(observations: Iterable[Mapping[str, Any]], fold_axis: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Group observations by (axes without the fold, method) into ``{replicate: {fold: value}}``."""
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for obs in observations:
        axes = {k: v for k, v in obs["axes"].items() if k != fold_axis}
        if fold_axis not in obs["axes"]:
            raise ValueError(f"observation of {obs['method']} at {axes} has no {fold_axis!r} axis")
        key = (canonical(axes), str(obs["method"]))
        cell = cells.setdefault(key, {"axes": axes, "method": str(obs["method"]), "scores": {}})
        value = float(obs["value"])
        fold, replicate = int(obs["axes"][fold_axis]), int(obs["seed"])
        if not math.isfinite(value):
            raise ValueError(f"{obs['method']} at {axes}, replicate {replicate}, fold {fold}: metric value {value} is not finite")
        if fold in cell["scores"].setdefault(replicate, {}):
            raise ValueError(f"{obs['method']} at {axes}, replicate {replicate}: fold {fold} observed twice")
        cell["scores"][replicate][fold] = value
    return cells


def _matrix(cell: Mapping[str, Any], n_splits: int) -> tuple[list[int], np.ndarray]:
    """Replicates (sorted) and their fold scores, shape ``(r, k)``; every replicate must have every fold."""
    replicates = sorted(cell["scores"])
    for replicate in replicates:
        missing = sorted(set(range(n_splits)) - set(cell["scores"][replicate]))
        if missing:
            raise ValueError(f"{cell['method']} at {cell['axes']}, replicate {replicate}: folds {missing} are missing")
    return replicates, np.array([[cell["scores"][r][f] for f in range(n_splits)] for r in replicates])


def _summary(matrix: np.ndarray, n_splits: int, confidence: float) -> dict[str, Any]:
    per_replicate = matrix.mean(axis=1)
    flat = matrix.reshape(1, -1)
    ratio = 1.0 / (n_splits - 1)
    if np.all(flat == flat[0, 0]):
        mean = low = high = float(flat[0, 0])
    else:
        mean_a, low_a, high_a = corrected_t_interval(flat, test_train_ratio=ratio, confidence=confidence)
        mean, low, high = float(mean_a[0]), float(low_a[0]), float(high_a[0])
    return {
        "p_value": float(corrected_t_p_value(flat, test_train_ratio=ratio)[0]),
        "mean": mean,
        "ci_low": low,
        "ci_high": high,
        "std": float(per_replicate.std(ddof=1)) if len(per_replicate) > 1 else None,
        "values": per_replicate.tolist(),
        "fold_values": matrix.tolist(),
    }


def aggregate_folds(
    observations: Iterable[Mapping[str, Any]],
    *,
    baseline: str,
    higher_is_better: bool,
    n_splits: int,
    interval: str,
    metric_range: Sequence[float | None] = (None, None),
    fold_axis: str = "fold",
    stream_axes: Sequence[str] = (),
    **settings: Any,
) -> dict[str, Any]:
    """Cells and paired differences of a cross-validated experiment, in :func:`components.stats.aggregate`'s shape.

    ``observations`` are ``{"axes": {..., fold_axis: f}, "method", "seed": replicate, "value"}``.
    With ``interval="nadeau_bengio"`` each cell (axes without the fold) has
    ``n`` = replicates, ``values`` = each replicate's mean over its ``n_splits``
    folds, ``fold_values`` (``r x k``), ``mean`` over all folds and the corrected
    interval (clipped to ``metric_range``); each paired row the same for the
    per-fold differences against ``baseline`` (``diffs`` per replicate;
    ``wins`` and ``p_improve`` count replicates, by their fold-averaged difference; ``p_value`` is the
    corrected t test's, ``p_adjusted`` adjusted over the paired rows with
    ``multiplicity`` (Holm by default) and ``verdict`` family-wise as in
    :func:`components.stats.aggregate`; ``verdict_per_row`` reads the row's own interval). ``settings`` are
    ``experiment.statistics`` (``confidence``; with
    ``interval="naive_folds_as_seeds"`` also the bootstrap ones, passed on to
    :func:`components.stats.aggregate` with each (replicate, fold) as a seed).
    """
    from components import stats

    settings = {k: v for k, v in settings.items() if k != "cv_interval"}
    if interval == "naive_folds_as_seeds":
        relabelled = [
            {
                "axes": {k: v for k, v in obs["axes"].items() if k != fold_axis},
                "method": obs["method"],
                "seed": int(obs["seed"]) * n_splits + int(obs["axes"][fold_axis]),
                "value": obs["value"],
            }
            for obs in observations
        ]
        method = settings.pop("method", "default")
        if method != "default":
            settings["method"] = method
        out = stats.aggregate(
            relabelled, baseline=baseline, higher_is_better=higher_is_better, stream_axes=list(stream_axes), bounds=tuple(metric_range), **settings
        )
        for row in [*out["cells"], *out["paired"]]:
            row["note"] = NAIVE_NOTE
        out["settings"].update(
            method=f"NAIVE {out['settings']['method']} over replicate x fold scores as if independent seeds (ignores fold correlation; too narrow)",
            interval=interval,
            folds=n_splits,
            fold_axis=fold_axis,
        )
        return out
    if interval != "nadeau_bengio":
        raise ValueError(f"unknown cv interval {interval!r}; known: nadeau_bengio, naive_folds_as_seeds")

    confidence = float(settings.get("confidence", 0.95))
    cells = _collect(observations, fold_axis)
    methods = sorted({m for _, m in cells})
    if baseline not in methods:
        raise ValueError(f"baseline method {baseline!r} has no observations; methods found: {', '.join(methods) or 'none'}")
    ordered = sorted(cells.values(), key=lambda c: stats.cell_sort_key(c["axes"], c["method"]))
    cell_out = []
    matrices = {}
    for cell in ordered:
        replicates, matrix = _matrix(cell, n_splits)
        matrices[canonical(cell["axes"]), cell["method"]] = (replicates, matrix)
        summary = _summary(matrix, n_splits, confidence)
        summary.pop("p_value")
        summary["ci_low"], summary["ci_high"] = _clip(summary["ci_low"], metric_range), _clip(summary["ci_high"], metric_range)
        cell_out.append({"axes": dict(cell["axes"]), "method": cell["method"], "n": len(replicates), "seeds": replicates, "folds": n_splits, **summary})

    alpha = 1.0 - confidence
    multiplicity = settings.get("multiplicity", stats.DEFAULT_MULTIPLICITY)
    rows = []
    for cell in ordered:
        if cell["method"] == baseline:
            continue
        text = canonical(cell["axes"])
        if (text, baseline) not in matrices:
            raise ValueError(f"baseline {baseline!r} has no observations at {cell['axes']}")
        mine, theirs = dict(zip(*matrices[text, cell["method"]])), dict(zip(*matrices[text, baseline]))
        common = sorted(mine.keys() & theirs.keys())
        diff = np.array([mine[r] - theirs[r] for r in common])
        rows.append((cell, common, diff, _summary(diff, n_splits, confidence)))
    # Verdicts are family-wise over the run's paired rows, as for seed-only experiments (components.stats).
    adjusted = stats.adjust_p_values([summary["p_value"] for *_, summary in rows], multiplicity)
    paired_out = []
    for (cell, common, diff, summary), p_adj in zip(rows, adjusted):
        # Counted over replicates (fold-averaged differences), like the table's n.
        wins = stats.wins(summary["values"], higher_is_better)
        verdict, per_row = stats.family_verdict(
            summary["ci_low"], summary["ci_high"], p_adj, summary["mean"],
            multiplicity=multiplicity, alpha=alpha, higher_is_better=higher_is_better,
        )
        paired_out.append(
            {
                "axes": dict(cell["axes"]),
                "method": cell["method"],
                "baseline": baseline,
                "n": len(common),
                "mean_diff": summary["mean"],
                "ci_low": summary["ci_low"],
                "ci_high": summary["ci_high"],
                "p_value": summary["p_value"],
                "p_adjusted": p_adj,
                "wins": wins,
                "p_improve": wins / len(common),
                "verdict": verdict,
                "verdict_per_row": per_row,
                "seeds": common,
                "diffs": summary["values"],
                "fold_diffs": summary["fold_values"],
                "folds": n_splits,
            }
        )
    return {
        "settings": {
            "method": f"Nadeau-Bengio corrected resampled t over replicates x {n_splits} folds (accounts for fold correlation)",
            "interval": interval,
            "confidence": confidence,
            # Closed form: no resampling, no seed (the results header prints these two).
            "n_resamples": "no",
            "seed": "n/a",
            "higher_is_better": bool(higher_is_better),
            "nan_policy": "raise",
            "stream_axes": None,
            "folds": n_splits,
            "fold_axis": fold_axis,
            "multiplicity": multiplicity,
            "family_size": len(paired_out),
            "contrasts": None,
            "bounds": list(metric_range),
        },
        "cells": cell_out,
        "paired": paired_out,
        "contrasts": [],
    }
