"""Nested cross-validation: an interval for the error of the model one would deploy, fitted on the whole table.

Cross-validation's point estimate and the Nadeau-Bengio interval
(:mod:`components.stats.cv`) target the *procedure*: the expected error of the
method trained on ``n - n/k`` rows of the population. Bates, Hastie &
Tibshirani ("Cross-validation: what does it estimate and how well does it do
it?", JASA 119(546), 2024; online 2023) show that this is what CV estimates
well, and give nested cross-validation (NCV, their Algorithm 1) for an interval
whose target is ``Err_XY``: the error of the model fitted on the data at hand.

For every replicate (a repeat of k-fold with its own fold assignment) and
every outer fold ``k``:

* ``e_out``: per-example losses on fold ``k`` of the model fitted on the other
  ``K - 1`` folds (the ordinary CV errors);
* ``e_in``: the inner CV errors on the outer training part -- for each
  ``j != k``, per-example losses on fold ``j`` of the model fitted on the
  ``K - 2`` folds other than ``j`` and ``k``;
* ``a_k = (mean(e_in) - mean(e_out))**2`` and ``b_k = var(e_out) / |fold k|``.

Then, with ``R`` replicates and ``n`` rows,

* ``MSE = (K - 1)/K * (mean(a) - mean(b))`` -- the paper's estimate of the
  mean squared error of the CV estimate (the ``(K-1)/K`` rescales it from the
  ``n (K-1)/K`` rows the inner CV sees to ``n``);
* ``Err_NCV`` the mean of every inner error, ``Err_CV`` the mean of every outer
  error, and the bias correction ``(1 + (K - 2)/K) (Err_NCV - Err_CV)`` (the
  paper's; the authors' R package ``nestedcv`` uses ``1 + ((K - 2)/K)**1.5``);
* ``SE = sqrt(max(0, MSE))`` held between the naive ``sd(e_in)/sqrt(n)`` (all
  folds independent) and ``sqrt(K)`` times it (all folds fully dependent);
* the interval ``Err_NCV - bias +- z_{(1+c)/2} SE``, and its own two-sided z
  test's p-value (the interval's inversion).

It needs the metric as a mean of per-example values (accuracy: the 0/1
correctness of each example; MAE: absolute errors); the formulas are the same
for losses and for scores whose mean is the metric, since ``a``, ``b`` and the
bias are unchanged by ``v -> 1 - v``. A paired comparison applies the same
estimator to the per-example differences ``method - baseline`` (both fitted on
the same folds), so its interval targets the difference between the two models
one would deploy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from components.stats.cv import CorrectedT
from components.stats.intervals import Row, RowSummary
from components.stats.settings import Bounds

__all__ = ["NestedEstimate", "PerExample", "NestedCV", "nested_cv_estimate"]


@dataclass(frozen=True)
class PerExample:
    """One (replicate, outer fold) unit's per-example values: ``outer`` on the test fold, ``inner`` on the inner folds.

    ``outer`` has shape ``(|fold k|,)``; ``inner`` is the concatenation, inner
    held-out fold by fold in ascending order, of each fold's per-example values
    (shape ``(n - |fold k|,)``). Subtracting two units' values (same split,
    same rows) gives the per-example differences of a paired comparison.
    """

    outer: np.ndarray
    inner: np.ndarray

    def __sub__(self, other: "PerExample") -> "PerExample":
        if self.outer.shape != other.outer.shape or self.inner.shape != other.inner.shape:
            raise ValueError(
                f"per-example values of different rows cannot be paired (outer {self.outer.size} vs {other.outer.size}, "
                f"inner {self.inner.size} vs {other.inner.size})"
            )
        return PerExample(self.outer - other.outer, self.inner - other.inner)

    @classmethod
    def of(cls, value: Any, where: str) -> "PerExample":
        """From a branch record's ``{"outer": [...], "inner": [...]}``; raises naming ``where`` when it is not one."""
        if not isinstance(value, Mapping) or set(value) != {"outer", "inner"}:
            raise ValueError(f"{where}: per_example must be a mapping with 'outer' and 'inner' lists, got {type(value).__name__}")
        outer, inner = (np.asarray(value[key], dtype=np.float64) for key in ("outer", "inner"))
        if outer.ndim != 1 or inner.ndim != 1 or outer.size < 2 or inner.size < 2:
            raise ValueError(f"{where}: per_example needs at least 2 outer and 2 inner values (got {outer.size} and {inner.size})")
        return cls(outer, inner)


@dataclass(frozen=True)
class NestedEstimate:
    """Nested CV's estimate of the deployed model's error and its interval, with the pieces it is built from.

    ``estimate = err_ncv - bias`` is the interval's centre; ``se`` the clipped
    standard error, between ``se_naive`` and ``sqrt(K) * se_naive``; ``mse`` the
    rescaled MSE estimate of the CV point estimate (may be negative before the
    clip); ``n`` the table's rows.
    """

    estimate: float
    low: float
    high: float
    p_value: float
    se: float
    se_naive: float
    mse: float
    bias: float
    err_ncv: float
    err_cv: float
    n: int


def nested_cv_estimate(units: Sequence[Sequence[PerExample]], *, confidence: float = 0.95) -> NestedEstimate:
    """Bates, Hastie & Tibshirani's nested-CV interval from ``units[r][k]``: replicate ``r``, outer fold ``k``.

    Every replicate has the same ``K >= 3`` folds (an inner CV needs ``K - 1 >=
    2`` folds), and its outer folds partition the table, so ``n`` is one
    replicate's outer values. See the module docstring for the formulas.
    """
    from scipy import special

    folds = {len(replicate) for replicate in units}
    if not units or len(folds) != 1 or min(folds) < 3:
        raise ValueError(f"nested cross-validation needs every replicate to have the same K >= 3 outer folds, got {sorted(folds)}")
    k = folds.pop()
    flat = [unit for replicate in units for unit in replicate]
    a = np.array([(unit.inner.mean() - unit.outer.mean()) ** 2 for unit in flat])
    b = np.array([unit.outer.var(ddof=1) / unit.outer.size for unit in flat])
    inner = np.concatenate([unit.inner for unit in flat])
    outer = np.concatenate([unit.outer for unit in flat])
    n = int(round(outer.size / len(units)))
    mse = (k - 1) / k * float(a.mean() - b.mean())
    se_naive = float(inner.std(ddof=1)) / math.sqrt(n)
    se = min(max(math.sqrt(max(0.0, mse)), se_naive), math.sqrt(k) * se_naive)
    err_ncv, err_cv = float(inner.mean()), float(outer.mean())
    bias = (1 + (k - 2) / k) * (err_ncv - err_cv)
    estimate = err_ncv - bias
    half = float(special.ndtri(0.5 + confidence / 2)) * se
    if se > 0:
        p_value = float(2 * special.ndtr(-abs(estimate) / se))
    else:
        p_value = 1.0 if estimate == 0 else 0.0
    return NestedEstimate(estimate, estimate - half, estimate + half, p_value, se, se_naive, mse, bias, err_ncv, err_cv, n)


class NestedCV(CorrectedT):
    """``nested``: the interval of :func:`nested_cv_estimate` over a row's ``r x k`` units' per-example values.

    The layout is :class:`~components.stats.cv.CorrectedT`'s (``values`` per
    replicate, ``fold_values``/``fold_diffs``); the row's ``mean`` is the
    bias-corrected NCV estimate the interval is centred on, so it differs from
    the mean of ``values`` (the plain CV scores) by the bias correction.
    """

    needs_per_example = True

    def per_example(self, value: Any, where: str) -> PerExample:
        """An observation's per-example values (a record of a run without them cannot be summarized this way)."""
        if value is None:
            raise ValueError(
                f"{where} has no per-example values; cv_interval nested needs records from a run with cv_interval: nested "
                "(each branch then also fits the inner folds)"
            )
        return PerExample.of(value, where)

    def summarize(self, rows: Sequence[Row], bounds: Sequence[Bounds | None], want_p: Sequence[bool]) -> list[RowSummary]:
        """The nested-CV interval of each row (within its bounds) and its z test's p-value."""
        return [self._nested(row, limits, asked) for row, limits, asked in zip(rows, bounds, want_p)]

    def _nested(self, row: Row, bounds: Bounds | None, want_p: bool) -> RowSummary:
        per_replicate = self.matrix(row).mean(axis=1)
        std = float(per_replicate.std(ddof=1)) if len(per_replicate) > 1 else None
        payloads = list(row.payloads or [])
        if len(payloads) != len(row.units):
            raise ValueError("nested cross-validation needs per-example values for every unit of a row")
        units = [payloads[i : i + self.folds] for i in range(0, len(payloads), self.folds)]
        values = np.concatenate([np.concatenate([u.outer, u.inner]) for u in payloads])
        if np.all(values == values[0]):
            # Equal per-example values everywhere: a zero-width interval would claim certainty.
            return {"mean": float(values[0]), "std": std, "ci_low": None, "ci_high": None, "p_value": None, "flat": True}
        found = nested_cv_estimate(units, confidence=self.settings.confidence)
        if found.se == 0:
            return {"mean": found.estimate, "std": std, "ci_low": None, "ci_high": None, "p_value": None, "flat": True}
        return {
            "mean": found.estimate,
            "std": std,
            "ci_low": self.clip(found.low, bounds),
            "ci_high": self.clip(found.high, bounds),
            "p_value": found.p_value if want_p else None,
            "flat": False,
        }

    def describe(self, block: dict[str, Any]) -> dict[str, Any]:
        """The corrected-t block with nested CV's method and interval names."""
        return {
            **super().describe(block),
            "method": (
                f"nested cross-validation (Bates, Hastie & Tibshirani 2023) over replicates x {self.folds} folds: "
                "bias-corrected estimate +- z x clipped MSE-based SE"
            ),
            "interval": "nested",
        }
