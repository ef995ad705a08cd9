"""Trivial ``train_arm`` and ``metric`` implementations for the shell-scaling benchmark.

``benchmarks/fanout.py`` selects them by import path, so each foreach branch does
almost no work and imports neither torch nor scipy: what remains of a branch task
is the shell's own cost (process start, imports, datastore I/O). Not for real
investigations.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from components.spec.declarations import NoParams, metric, trainer
from components.spec.seams import Dataset, Scorer, TrainResult

__all__ = ["first_feature", "plain_accuracy"]


@trainer(
    params=NoParams,
    tasks=("binary",),
    reads_training=(),
    data_order="none (nothing is fitted)",
    selection="none",
    uses_validation=False,
)
def first_feature(params: NoParams, data: Dataset, seed: int, training: Mapping[str, Any], scorer: Scorer) -> TrainResult:
    """Fit nothing: predict every example's class-1 probability as the logistic of its first feature.

    Deterministic in ``data`` alone; ``seed`` is accepted because the
    ``train_arm`` seam passes it.
    """
    predictions = 1.0 / (1.0 + np.exp(-data.X_test[:, 0].astype(np.float64)))
    val = 1.0 / (1.0 + np.exp(-data.X_val[:, 0].astype(np.float64)))
    return TrainResult(model=None, predictions=predictions, val_score=scorer(val, data.y_val), info={"epochs_run": 0})


@metric(params=NoParams, tasks=("binary",), direction="higher", range=(0.0, 1.0), definition="fraction of examples whose probability >= 0.5 matches the label")
def plain_accuracy(params: NoParams, predictions: np.ndarray, targets: np.ndarray) -> float:
    """Fraction of examples whose thresholded probability equals the label (NumPy only)."""
    return float(np.mean((np.asarray(predictions) >= 0.5) == np.asarray(targets)))
