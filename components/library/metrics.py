"""Metrics behind the ``metric`` seam, each declaring its direction and range.

A metric is ``fn(params, predictions, targets) -> float``. Predictions come in
the task's form (see :class:`components.spec.seams.TrainResult`).
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field

from components.spec.declarations import NoParams, Params, metric, only_for

__all__ = ["accuracy", "auroc", "mae", "rmse"]


def _finite(predictions: np.ndarray, name: str, ndim: int | None = None) -> np.ndarray:
    """``predictions`` as float64, refusing NaN/inf (an argmax or a comparison would turn them into a score)."""
    values = np.asarray(predictions, dtype=np.float64)
    if ndim is not None and values.ndim != ndim:
        raise ValueError(f"{name} needs predictions of shape (n,), got {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError(f"{name}: {int((~np.isfinite(values)).sum())} of {values.size} predictions are not finite")
    return values


@metric(
    params=NoParams,
    tasks=("binary",),
    direction="higher",
    range=(0.0, 1.0),
    definition="area under the ROC curve of the class-1 probabilities: P(score of a random positive > a random negative), ties 1/2",
)
def auroc(params: NoParams, predictions: np.ndarray, targets: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U / (n_pos * n_neg)); ties count one half.

    ``predictions`` and ``targets`` have shape ``(n,)``; targets are in {0, 1} with both present.
    """
    scores = _finite(predictions, "auroc", ndim=1)
    labels = np.asarray(targets)
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("auroc needs both classes among the labels")
    # U counts, over all (positive, negative) pairs, 1 when the positive scores higher
    # and 1/2 on a tie: two binary searches per positive into the sorted negatives.
    # The sum is integers and halves, exact in float64, so this equals the rank-sum
    # form (scipy.stats.mannwhitneyu) bit for bit -- without importing scipy into
    # every branch task (1.4 s there; see tests/test_seams.py).
    negatives = np.sort(scores[labels == 0])
    positives = scores[labels == 1]
    below = np.searchsorted(negatives, positives, side="left")
    at_most = np.searchsorted(negatives, positives, side="right")
    u = below.sum() + 0.5 * (at_most - below).sum()
    return float(u / (n_pos * n_neg))


class AccuracyParams(Params):
    """Settings of :func:`accuracy`: the threshold is read on binary tasks only (multiclass takes the argmax)."""

    threshold: Annotated[Annotated[float, Field(gt=0.0, lt=1.0)] | None, only_for("binary")] = Field(
        default=None, description="predict class 1 when its probability is at least this (multiclass takes the argmax)"
    )


@metric(
    params=AccuracyParams,
    tasks=("binary", "multiclass"),
    direction="higher",
    range=(0.0, 1.0),
    definition="fraction of test examples whose predicted class (binary: probability >= threshold; multiclass: argmax) equals the label",
)
def accuracy(params: AccuracyParams, predictions: np.ndarray, targets: np.ndarray) -> float:
    """Fraction of examples whose predicted class equals the label."""
    predictions = _finite(predictions, "accuracy")
    if predictions.ndim == 2:
        predicted = predictions.argmax(axis=1)
    elif params.threshold is None:
        raise ValueError("accuracy on binary predictions needs experiment.metric.threshold (predict class 1 at or above it)")
    else:
        predicted = (predictions >= params.threshold).astype(np.int64)
    return float(np.mean(predicted == np.asarray(targets)))


@metric(
    params=NoParams,
    tasks=("regression",),
    direction="lower",
    range=(0.0, None),
    definition="root mean squared error of the predicted values against the test targets",
)
def rmse(params: NoParams, predictions: np.ndarray, targets: np.ndarray) -> float:
    """Root mean squared error; ``predictions`` and ``targets`` have shape ``(n,)``."""
    diff = _finite(predictions, "rmse", ndim=1) - np.asarray(targets, dtype=np.float64)
    return float(np.sqrt(np.mean(diff * diff)))


@metric(
    params=NoParams,
    tasks=("regression",),
    direction="lower",
    range=(0.0, None),
    definition="mean absolute error of the predicted values against the test targets",
)
def mae(params: NoParams, predictions: np.ndarray, targets: np.ndarray) -> float:
    """Mean absolute error; ``predictions`` and ``targets`` have shape ``(n,)``."""
    diff = _finite(predictions, "mae", ndim=1) - np.asarray(targets, dtype=np.float64)
    return float(np.mean(np.abs(diff)))
