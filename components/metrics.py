"""Evaluation metrics behind the ``metric`` seam. Scores are probabilities of class 1."""

from __future__ import annotations

import numpy as np

__all__ = ["accuracy", "auroc"]


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U / (n_pos * n_neg)); ties count one half.

    ``scores`` and ``labels`` have shape ``(n,)``; labels are in {0, 1} with both present.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
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


def accuracy(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> float:
    """Fraction of examples whose thresholded score equals the label."""
    predicted = (np.asarray(scores) >= threshold).astype(np.int64)
    return float(np.mean(predicted == np.asarray(labels)))
