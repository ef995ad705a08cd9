"""Per-class outcomes of a classifier on the test split: its predicted classes and confusion matrix.

The one place the framework turns class probabilities into predicted classes
for per-class results: the branch calls :func:`confusion` for every trained arm
of a binary or multiclass task and stores the counts in the arm's training
record; the join sums them and derives per-class recall and precision
(:func:`rates`), whose per-seed values get the experiment's intervals.

A predicted class is the argmax of the class probabilities (multiclass), or
class 1 when its probability is at least the threshold (binary). The threshold
is the primary metric's ``threshold`` when it declares one (``accuracy`` does),
else :data:`DEFAULT_THRESHOLD`; :func:`decision` says which, and the results
print it, because a matrix at another threshold would be another matrix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from components.spec.seams import CLASSIFICATION

__all__ = ["DEFAULT_THRESHOLD", "class_names", "confusion", "confusion_matrix", "decision", "predicted_classes", "rates"]

#: The binary threshold when the primary metric has none (``auroc`` reads no threshold).
DEFAULT_THRESHOLD = 0.5


def decision(task: str, metric_spec: Mapping[str, Any]) -> tuple[float | None, str]:
    """``(threshold, how a class is predicted, in words)`` for ``task``; the threshold is ``None`` (argmax) for multiclass."""
    if task != "binary":
        return None, "the class of highest probability (argmax)"
    threshold = metric_spec.get("threshold")
    if threshold is None:
        return DEFAULT_THRESHOLD, f"class 1 when its probability is at least {DEFAULT_THRESHOLD:g} (the metric declares no threshold)"
    return float(threshold), f"class 1 when its probability is at least {float(threshold):g} (the metric's threshold)"


def predicted_classes(predictions: Any, threshold: float | None) -> np.ndarray:
    """Class ids ``(n,)`` int64 from probabilities: argmax of ``(n, k)`` rows when ``threshold`` is ``None``, else class-1 ``>= threshold``.

    Binary predictions are the class-1 probabilities ``(n,)`` or both columns
    ``(n, 2)``; with a threshold the second column is compared.
    """
    values = np.asarray(predictions, dtype=np.float64)
    if threshold is None:
        if values.ndim != 2:
            raise ValueError(f"argmax needs class probabilities of shape (n, n_classes), got {values.shape}")
        labels: np.ndarray = values.argmax(axis=1).astype(np.int64)
        return labels
    if values.ndim == 2 and values.shape[1] == 2:
        values = values[:, 1]
    if values.ndim != 1:
        raise ValueError(f"a threshold needs class-1 probabilities of shape (n,) or (n, 2), got {values.shape}")
    return (values >= threshold).astype(np.int64)


def confusion_matrix(predicted: Any, labels: Any, n_classes: int) -> np.ndarray:
    """Counts ``(n_classes, n_classes)`` int64: entry ``[i, j]`` is how many examples of class ``i`` were predicted ``j``.

    Rows are the true class, columns the predicted one (scikit-learn's
    ``confusion_matrix`` with ``labels=range(n_classes)``); a class absent from
    ``labels`` has a row of zeros.
    """
    predicted, labels = np.asarray(predicted, dtype=np.int64), np.asarray(labels, dtype=np.int64)
    if predicted.shape != labels.shape or predicted.ndim != 1:
        raise ValueError(f"predicted classes {predicted.shape} and labels {labels.shape} must be 1-D of one length")
    for name, ids in (("labels", labels), ("predicted classes", predicted)):
        if ids.size and (ids.min() < 0 or ids.max() >= n_classes):
            raise ValueError(f"{name} range {ids.min()}..{ids.max()}, outside 0..{n_classes - 1}")
    counts = np.bincount(labels * n_classes + predicted, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes).astype(np.int64)


def class_names(data: Any) -> list[str]:
    """The dataset's class labels in class-id order (:attr:`Dataset.classes`), else the ids ``"0"``, ``"1"``, ..."""
    names = getattr(data, "classes", None)
    return [str(name) for name in names] if names is not None else [str(i) for i in range(int(data.n_classes))]


def confusion(predictions: Any, data: Any, metric_spec: Mapping[str, Any]) -> dict[str, Any] | None:
    """A training record's ``confusion`` for ``data``'s test split: ``{"classes", "counts", "threshold"}``.

    ``None`` unless the task is binary or multiclass (regression, or a task of
    one's own, gets no confusion matrix). ``counts`` is :func:`confusion_matrix` as nested lists, ``threshold`` the
    one :func:`decision` applied (``None``: argmax).
    """
    if data.task not in CLASSIFICATION:
        return None
    threshold, _ = decision(data.task, metric_spec)
    matrix = confusion_matrix(predicted_classes(predictions, threshold), data.y_test, int(data.n_classes))
    return {"classes": class_names(data), "counts": matrix.tolist(), "threshold": threshold}


def rates(counts: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-class ``(recall, precision)``, each ``(k,)`` float64, from a confusion matrix ``(k, k)``.

    Recall of class ``i`` is ``counts[i, i] / counts[i, :].sum()`` (NaN when
    class ``i`` is absent from the test split), precision ``counts[i, i] /
    counts[:, i].sum()`` (NaN when no example was predicted ``i``): an undefined
    rate stays undefined rather than becoming 0.
    """
    matrix = np.asarray(counts, dtype=np.float64)
    hits = np.diag(matrix)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(matrix.sum(axis=1) > 0, hits / matrix.sum(axis=1), np.nan)
        precision = np.where(matrix.sum(axis=0) > 0, hits / matrix.sum(axis=0), np.nan)
    return recall, precision
