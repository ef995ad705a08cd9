"""Trivial ``train_arm`` and ``metric`` implementations for the shell-scaling benchmark.

``benchmarks/scaling_flow.py`` registers them, so each foreach branch does almost
no work and imports neither torch nor scipy: what remains of a branch task is the shell's own
cost (process start, imports, datastore I/O). Not for real investigations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

__all__ = ["METRIC", "TRAINER", "Scored", "first_feature", "plain_accuracy"]

#: Registry entry for :func:`first_feature` (``method.<name>.impl: first_feature``).
TRAINER = ("first_feature", "benchmarks.scaling_seams:first_feature")
#: Registry entry for :func:`plain_accuracy` (``experiment.metric.name: plain_accuracy``).
METRIC = ("plain_accuracy", "benchmarks.scaling_seams:plain_accuracy")


@dataclass
class Scored:
    """The fields of a ``TrainResult`` that the branch runner reads, without a model."""

    model: Any
    scores: np.ndarray
    val_score: float
    history: dict[str, list[float]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


def first_feature(method_spec: Mapping[str, Any], data, seed: int, train_cfg: Mapping[str, Any]) -> Scored:
    """Fit nothing: score every test example by the logistic of its first feature.

    Deterministic in ``data`` alone; ``seed`` and ``train_cfg`` are accepted
    because the ``train_arm`` seam passes them.
    """
    scores = 1.0 / (1.0 + np.exp(-data.X_test[:, 0].astype(np.float64)))
    val = 1.0 / (1.0 + np.exp(-data.X_val[:, 0].astype(np.float64)))
    val_score = float(np.mean((val >= 0.5) == data.y_val))
    return Scored(model=None, scores=scores, val_score=val_score, info={"epochs_run": 0})


def plain_accuracy(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> float:
    """Fraction of examples whose thresholded score equals the label (NumPy only)."""
    return float(np.mean((np.asarray(scores) >= threshold) == np.asarray(labels)))
