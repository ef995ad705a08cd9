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

The naive alternative (``naive_folds_as_seeds``) treats every (replicate, fold)
score as an independent seed and summarizes it with the bootstrap family; it
exists to show the difference, and the results header and every row say so.

Both are interval strategies of the one engine (:func:`components.stats.aggregate`
picks them from ``cv_interval``), so paired rows and declared contrasts work the
same under cross-validation as without it.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from components.stats.cells import Cell, describe
from components.stats.intervals import Bootstrap, Row, RowSummary, Strategy
from components.stats.resampling import Floats
from components.stats.settings import Bounds, Settings

__all__ = ["NAIVE_NOTE", "CorrectedT", "NaiveFolds", "corrected_t_interval", "corrected_t_p_value", "naive_t_interval"]

#: The note every row carries when folds are treated as independent seeds.
NAIVE_NOTE = "NAIVE interval: folds treated as independent seeds, ignoring their correlation; it is too narrow"


def corrected_t_interval(scores: Any, *, test_train_ratio: float, confidence: float = 0.95) -> tuple[Floats, Floats, Floats]:
    """Nadeau-Bengio corrected resampled t interval of each row of ``scores``.

    ``scores`` has shape ``(rows, J)``: the ``J = r*k`` fold scores of one cell
    (or paired differences). Returns ``(mean, low, high)``, each ``(rows,)``.
    ``test_train_ratio`` is ``n_test/n_train`` of one split (``1/(k-1)`` for k-fold).
    """
    from scipy import special  # the t quantile alone: scipy.stats costs the join ~0.5 s CPU to import

    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError(f"scores must have shape (rows, J) with J >= 2, got {scores.shape}")
    j = scores.shape[1]
    mean = scores.mean(axis=1)
    variance = (1.0 / j + test_train_ratio) * scores.var(axis=1, ddof=1)
    half = special.stdtrit(j - 1, 0.5 + confidence / 2) * np.sqrt(variance)  # = scipy.stats.t.ppf, bit for bit
    return mean, mean - half, mean + half


def corrected_t_p_value(scores: Any, *, test_train_ratio: float) -> Floats:
    """Two-sided p-value of "mean = 0" for each row under the corrected resampled t (the interval's own test)."""
    from scipy import special

    scores = np.asarray(scores, dtype=np.float64)
    j = scores.shape[1]
    se = np.sqrt((1.0 / j + test_train_ratio) * scores.var(axis=1, ddof=1))
    mean = scores.mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, np.abs(mean) / np.where(se > 0, se, 1.0), np.where(mean == 0, 0.0, np.inf))
    p: Floats = 2.0 * special.stdtr(j - 1, -t)  # = scipy.stats.t.sf(t, j - 1), bit for bit
    return p


def naive_t_interval(scores: Any, *, confidence: float = 0.95) -> tuple[Floats, Floats, Floats]:
    """The fold-as-seed Student-t interval ``mean +- t_{J-1} * S / sqrt(J)`` of each row (for comparison only)."""
    from scipy import special

    scores = np.asarray(scores, dtype=np.float64)
    j = scores.shape[1]
    mean = scores.mean(axis=1)
    half = special.stdtrit(j - 1, 0.5 + confidence / 2) * scores.std(axis=1, ddof=1) / math.sqrt(j)
    return mean, mean - half, mean + half


def _clip(value: float, bounds: Bounds | None) -> float:
    if bounds is None:
        return value
    low, high = bounds
    if low is not None:
        value = max(value, low)
    if high is not None:
        value = min(value, high)
    return value


class CorrectedT(Strategy):
    """``nadeau_bengio``: the corrected resampled t over all ``r x k`` fold scores of a row.

    A replicate unit is ``(replicate, fold)``; a row reports one value per
    replicate (its mean over the folds), ``n`` = replicates, and the fold scores
    (``fold_values`` of a cell, ``fold_diffs`` of a comparison).
    """

    #: A bound of an interval clipped into a metric's range (shared with the nested-CV strategy).
    clip = staticmethod(_clip)

    def __init__(self, settings: Settings, folds: int, fold_axis: str) -> None:
        super().__init__(settings)
        self.folds, self.fold_axis = folds, fold_axis

    def unit(self, seed: int, fold: int | None) -> Hashable:
        """``(replicate, fold)``."""
        return (seed, fold)

    def check_cell(self, cell: Cell) -> None:
        """Every replicate of the cell has every fold, or is dropped whole when a fold's value was dropped.

        Under ``nan_policy: omit`` a fold whose value failed leaves its replicate
        with a mean over other folds than the rest: the replicate's remaining
        folds are dropped too and counted in ``n_dropped``, so the row holds only
        complete replicates, as without a fold axis a failed seed is left out.
        """
        replicates: dict[int, set[int]] = {}
        for replicate, fold in [*cell.values, *cell.dropped_units]:
            replicates.setdefault(replicate, set()).add(fold)
        for replicate in sorted(replicates):
            failed = sorted(fold for r, fold in cell.dropped_units if r == replicate)  # type: ignore[misc, has-type]  # a CV unit is (replicate, fold)
            missing = sorted(set(range(self.folds)) - replicates[replicate])
            if missing:
                raise ValueError(f"{describe(cell.axes, cell.method)}, replicate {replicate}: folds {missing} are missing")
            if failed:
                kept = [unit for unit in cell.values if unit[0] == replicate]
                for unit in kept:
                    del cell.values[unit]
                cell.dropped += len(kept)

    def matrix(self, row: Row) -> Floats:
        """The row's scores, shape ``(replicates, folds)``."""
        return np.array(row.values, dtype=np.float64).reshape(-1, self.folds)

    def seeds(self, row: Row) -> list[Any]:
        """The replicates."""
        return sorted({replicate for replicate, _ in row.units})

    def values(self, row: Row) -> list[float]:
        """Each replicate's mean over its folds."""
        return [float(v) for v in self.matrix(row).mean(axis=1).tolist()]

    def extra(self, row: Row, paired: bool = False) -> dict[str, Any]:
        """The fold scores (``r x k``) and the number of folds."""
        key = "fold_diffs" if paired else "fold_values"
        return {key: self.matrix(row).tolist(), "folds": self.folds}

    def cell_layout(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Axes, method, n, seeds and folds first, then the statistics."""
        order = ("axes", "method", "n", "seeds", "folds", "mean", "ci_low", "ci_high", "std", "values", "fold_values")
        return {key: entry[key] for key in order}

    def summarize(self, rows: Sequence[Row], bounds: Sequence[Bounds | None], want_p: Sequence[bool]) -> list[RowSummary]:
        """The corrected interval of each row's fold scores (within its bounds) and the corrected t test's p-value."""
        return [self._summary(row, limits, asked) for row, limits, asked in zip(rows, bounds, want_p)]

    def _summary(self, row: Row, bounds: Bounds | None, want_p: bool) -> RowSummary:
        matrix = self.matrix(row)
        per_replicate = matrix.mean(axis=1)
        flat = matrix.reshape(1, -1)
        ratio = 1.0 / (self.folds - 1)
        std = float(per_replicate.std(ddof=1)) if len(per_replicate) > 1 else None
        if np.all(flat == flat[0, 0]):
            # Equal fold scores: a zero-width interval would claim certainty (the engine gives a comparison the sign-flip p).
            return {"mean": float(flat[0, 0]), "std": std, "ci_low": None, "ci_high": None, "p_value": None, "flat": True}
        mean_a, low_a, high_a = corrected_t_interval(flat, test_train_ratio=ratio, confidence=self.settings.confidence)
        return {
            "mean": float(mean_a[0]),
            "std": std,
            "ci_low": _clip(float(low_a[0]), bounds),
            "ci_high": _clip(float(high_a[0]), bounds),
            "p_value": float(corrected_t_p_value(flat, test_train_ratio=ratio)[0]) if want_p else None,
            "flat": False,
        }

    def describe(self, block: dict[str, Any]) -> dict[str, Any]:
        """Closed form: no resampling and no seed; says which interval and how many folds."""
        return {
            "method": f"Nadeau-Bengio corrected resampled t over replicates x {self.folds} folds (accounts for fold correlation)",
            "interval": "nadeau_bengio",
            "confidence": block["confidence"],
            # Closed form: no resampling, no seed (the results header prints these two).
            "n_resamples": "no",
            "seed": "n/a",
            "higher_is_better": block["higher_is_better"],
            "nan_policy": block["nan_policy"],
            "stream_axes": None,
            "folds": self.folds,
            "fold_axis": self.fold_axis,
            "multiplicity": block["multiplicity"],
            "family_size": block["family_size"],
            "contrasts": block["contrasts"] or None,
            "bounds": block["bounds"],
        }


class NaiveFolds(Bootstrap):
    """``naive_folds_as_seeds``: every (replicate, fold) score an independent seed ``replicate * k + fold``.

    Too narrow by design (it ignores the correlation between folds); every row
    carries :data:`NAIVE_NOTE`.
    """

    def __init__(self, settings: Settings, folds: int, fold_axis: str) -> None:
        super().__init__(settings)
        self.folds, self.fold_axis = folds, fold_axis

    def unit(self, seed: int, fold: int | None) -> Hashable:
        """``replicate * k + fold``: the fold as if it were a seed."""
        return seed * self.folds + (fold or 0)

    def finish(self, row: dict[str, Any]) -> None:
        """Every row says it is naive."""
        row["note"] = NAIVE_NOTE

    def describe(self, block: dict[str, Any]) -> dict[str, Any]:
        """The bootstrap block, its method named NAIVE, with the interval and the folds."""
        return {
            **block,
            "method": f"NAIVE {block['method']} over replicate x fold scores as if independent seeds (ignores fold correlation; too narrow)",
            "interval": "naive_folds_as_seeds",
            "folds": self.folds,
            "fold_axis": self.fold_axis,
        }
