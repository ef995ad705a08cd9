"""Metrics behind the ``metric`` seam, each declaring its direction and range.

A metric is ``fn(params, predictions, targets) -> float``. Predictions come in
the task's form (see :class:`components.spec.seams.TrainResult`).
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field

from components.spec.declarations import NoParams, Params, metric, only_for

__all__ = ["absolute_errors", "accuracy", "auroc", "brier", "correct", "log_loss", "macro_f1", "mae", "rmse"]


def _finite(predictions: np.ndarray, name: str, ndim: int | None = None) -> np.ndarray:
    """``predictions`` as float64, refusing NaN/inf (an argmax or a comparison would turn them into a score)."""
    values = np.asarray(predictions, dtype=np.float64)
    if ndim is not None and values.ndim != ndim:
        raise ValueError(f"{name} needs predictions of shape (n,), got {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError(f"{name}: {int((~np.isfinite(values)).sum())} of {values.size} predictions are not finite")
    return values


def _per_pair(predictions: np.ndarray, targets: np.ndarray) -> float:
    """AUROC's step on this split: U counts (positive, negative) pairs in halves (a tie counts 1/2)."""
    n_pos = int(np.asarray(targets).sum())
    return 1.0 / (2 * max(1, n_pos) * max(1, np.asarray(targets).size - n_pos))


def _one_example(predictions: np.ndarray, targets: np.ndarray) -> float:
    """Accuracy's step on this split: one test example."""
    return 1.0 / max(1, len(targets))


@metric(
    params=NoParams,
    tasks=("binary",),
    direction="higher",
    range=(0.0, 1.0),
    definition="area under the ROC curve of the class-1 probabilities: P(score of a random positive > a random negative), ties 1/2",
    resolution=_per_pair,
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


def correct(params: AccuracyParams, predictions: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Accuracy per example: 1.0 where the predicted class equals the label, else 0.0 (one minus the 0/1 loss); shape ``(n,)``."""
    missing = "accuracy on binary predictions needs experiment.metric.threshold"
    predicted = _predicted_classes(_finite(predictions, "accuracy"), params.threshold, missing)
    return (predicted == np.asarray(targets)).astype(np.float64)


@metric(
    params=AccuracyParams,
    tasks=("binary", "multiclass"),
    direction="higher",
    range=(0.0, 1.0),
    definition="fraction of test examples whose predicted class (binary: probability >= threshold; multiclass: argmax) equals the label",
    per_example=correct,
    resolution=_one_example,
)
def accuracy(params: AccuracyParams, predictions: np.ndarray, targets: np.ndarray) -> float:
    """Fraction of examples whose predicted class equals the label (the mean of :func:`correct`)."""
    return float(np.mean(correct(params, predictions, targets)))


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


def absolute_errors(params: NoParams, predictions: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """MAE per example: ``|prediction - target|``, shape ``(n,)``."""
    diff = _finite(predictions, "mae", ndim=1) - np.asarray(targets, dtype=np.float64)
    return np.abs(diff)


@metric(
    params=NoParams,
    tasks=("regression",),
    direction="lower",
    range=(0.0, None),
    definition="mean absolute error of the predicted values against the test targets",
    per_example=absolute_errors,
)
def mae(params: NoParams, predictions: np.ndarray, targets: np.ndarray) -> float:
    """Mean absolute error (the mean of :func:`absolute_errors`); ``predictions`` and ``targets`` have shape ``(n,)``."""
    return float(np.mean(absolute_errors(params, predictions, targets)))


def _predicted_classes(predictions: np.ndarray, threshold: float | None, missing: str) -> np.ndarray:
    """Class ids from probabilities: argmax of a ``(n, k)`` matrix, ``p >= threshold`` of class-1 probabilities ``(n,)``.

    Binary predictions without a threshold raise ``ValueError(missing + " (predict class 1 at or above it)")``.
    """
    if predictions.ndim == 2:
        return predictions.argmax(axis=1)
    if threshold is None:
        raise ValueError(f"{missing} (predict class 1 at or above it)")
    return (predictions >= threshold).astype(np.int64)


def _class_probabilities(predictions: np.ndarray) -> np.ndarray:
    """A ``(n, k)`` probability matrix: binary class-1 probabilities ``(n,)`` become the columns ``1 - p, p``."""
    return np.stack([1.0 - predictions, predictions], axis=1) if predictions.ndim == 1 else predictions


class MacroF1Params(Params):
    """Settings of :func:`macro_f1`."""

    threshold: Annotated[Annotated[float, Field(gt=0.0, lt=1.0)] | None, only_for("binary")] = Field(
        default=None, description="predict class 1 when its probability is at least this (multiclass takes the argmax)"
    )


@metric(
    params=MacroF1Params,
    tasks=("binary", "multiclass"),
    direction="higher",
    range=(0.0, 1.0),
    definition="unweighted mean over classes (those among the labels or the predicted classes) of F1 = 2TP / (2TP + FP + FN); "
    "predicted class as in accuracy (binary: probability >= threshold; multiclass: argmax)",
)
def macro_f1(params: MacroF1Params, predictions: np.ndarray, targets: np.ndarray) -> float:
    """Macro-averaged F1 over the classes present among labels or predictions (scikit-learn's ``f1_score(average="macro")``).

    ``predictions`` are probabilities, ``(n,)`` for binary or ``(n, n_classes)``;
    ``targets`` integer class ids ``(n,)``. Every class in the union has
    ``2TP + FP + FN > 0``, so no division by zero arises.
    """
    predicted = _predicted_classes(_finite(predictions, "macro_f1"), params.threshold, "macro_f1 on binary predictions needs its threshold")
    labels = np.asarray(targets).astype(np.int64)
    classes = np.union1d(labels, predicted)
    scores = []
    for k in classes:
        tp = float(np.sum((predicted == k) & (labels == k)))
        fp = float(np.sum((predicted == k) & (labels != k)))
        fn = float(np.sum((predicted != k) & (labels == k)))
        scores.append(2.0 * tp / (2.0 * tp + fp + fn))
    return float(np.mean(scores))


class LogLossParams(Params):
    """Settings of :func:`log_loss`."""

    eps: Annotated[float, Field(gt=0.0, lt=0.5, description="probabilities are clipped to [eps, 1 - eps] before the log, so a confident miss costs at most -log(eps)")]


@metric(
    params=LogLossParams,
    tasks=("binary", "multiclass"),
    direction="lower",
    range=(0.0, None),
    definition="mean over test examples of -log(probability given to the true class), probabilities clipped to [eps, 1 - eps]",
)
def log_loss(params: LogLossParams, predictions: np.ndarray, targets: np.ndarray) -> float:
    """Cross-entropy of the predicted probabilities against the labels (natural log).

    ``predictions`` are class-1 probabilities ``(n,)`` (binary) or a ``(n, n_classes)``
    matrix; only the probability of each example's true class is read.
    """
    probabilities = _class_probabilities(_finite(predictions, "log_loss"))
    labels = np.asarray(targets).astype(np.int64)
    true = probabilities[np.arange(labels.size), labels]
    return float(np.mean(-np.log(np.clip(true, params.eps, 1.0 - params.eps))))


@metric(
    params=NoParams,
    tasks=("binary",),
    direction="lower",
    range=(0.0, 1.0),
    definition="Brier score: mean over test examples of (class-1 probability - label)^2",
)
def brier(params: NoParams, predictions: np.ndarray, targets: np.ndarray) -> float:
    """Mean squared error of the class-1 probabilities ``(n,)`` (or the second column of ``(n, 2)``) against labels in {0, 1}."""
    probabilities = _finite(predictions, "brier")
    positive = probabilities[:, 1] if probabilities.ndim == 2 else probabilities
    diff = positive - np.asarray(targets, dtype=np.float64)
    return float(np.mean(diff * diff))
