"""The shared torch trainer with feature scaling as part of the method, fitted on the training split only.

A method config::

    mlp_scaled:
      _target_: components.library.scaled_torch.train_torch_scaled
      kind: axis_dependent
      scaling: standard          # standard | none
      model: {_target_: components.library.models.mlp, hidden: [32]}
      callbacks: [...]

``standard`` subtracts the training split's per-feature mean and divides by its
standard deviation (a constant feature is only centred); the same transform is
applied to the validation and test splits, which never contribute to it. Under
cross-validation this is "standardisation fitted per fold".
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal, Mapping

import numpy as np
from pydantic import Field

from components.spec.declarations import trainer
from components.library.torch_train import TORCH_TRAINING_KEYS, HEADS, TorchParams, checkpoint_budget, train_torch, uses_callbacks
from components.spec.seams import Dataset, Scorer, TrainResult

__all__ = ["ScaledTorchParams", "standardize", "train_torch_scaled"]


class ScaledTorchParams(TorchParams):
    """Settings of :func:`train_torch_scaled`: :class:`TorchParams` plus ``scaling``."""

    scaling: Literal["standard", "none"] = Field(description="standard: z-score each feature with the training split's mean and std; none: raw inputs")


def standardize(data: Dataset) -> Dataset:
    """``data`` with every split z-scored by the training split's per-feature mean and standard deviation."""
    mean = data.X_train.mean(axis=0, dtype=np.float64)
    std = data.X_train.std(axis=0, dtype=np.float64)
    std = np.where(std > 0, std, 1.0)

    def scale(X: np.ndarray) -> np.ndarray:
        return ((X - mean) / std).astype(np.float32)

    return replace(data, X_train=scale(data.X_train), X_val=scale(data.X_val), X_test=scale(data.X_test))


@trainer(
    params=ScaledTorchParams,
    tasks=tuple(HEADS),
    reads_training=TORCH_TRAINING_KEYS,
    imports=("torch",),
    data_order="minibatches of the training split in an order drawn from the arm's seed; reshuffled per training.reshuffle",
    selection=(
        "the final epoch's model, or the best validation epoch when an early-stopping callback restores it; "
        "scaling statistics from the training split only"
    ),
    selection_budget=checkpoint_budget,
    uses_validation=uses_callbacks,
)
def train_torch_scaled(params: ScaledTorchParams, data: Dataset, seed: int, training: Mapping[str, object], scorer: Scorer) -> TrainResult:
    """Scale the inputs as ``params.scaling`` says (fitted on ``data.X_train``), then train with :func:`train_torch`."""
    inner = TorchParams(model=params.model, callbacks=params.callbacks)
    return train_torch(inner, standardize(data) if params.scaling == "standard" else data, seed, training, scorer)
