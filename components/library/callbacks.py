"""Composable training callbacks: periodic validation and early stopping.

A trainer calls ``on_train_begin``, then ``on_epoch_end`` after every epoch (in
list order, so an :class:`Evaluate` placed first fills the logs that later
callbacks read), then ``on_train_end``. Callbacks see a :class:`TrainState`;
any randomness they need comes from ``state.rng`` (seeded by the trainer from
the branch key), never from a global RNG.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Literal

import numpy as np
from pydantic import Field

from components.spec.declarations import Params, callback

__all__ = ["Callback", "EarlyStopping", "EarlyStoppingParams", "Evaluate", "TrainState", "run_callbacks"]


@dataclass
class TrainState:
    """Mutable state shared by a trainer and its callbacks.

    ``logs`` holds this epoch's scalars (``train_loss``, ``val_loss``, ``val_metric`` ...);
    ``history`` accumulates one list per scalar name, aligned on ``history["epoch"]``
    (a value is NaN at epochs where it was not computed). Setting ``stop`` ends
    training after the current epoch.
    """

    model: Any
    rng: np.random.Generator
    epoch: int = -1
    logs: dict[str, float] = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=dict)
    stop: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    def record(self) -> None:
        """Append this epoch's logs to the history (NaN-padding missing names)."""
        # Sorted: set order follows the per-process string hash seed and would make records differ between runs.
        names = sorted(set(self.history) | set(self.logs) | {"epoch"})
        length = len(self.history.get("epoch", []))
        for name in names:
            column = self.history.setdefault(name, [float("nan")] * length)
            column.append(float(self.epoch) if name == "epoch" else float(self.logs.get(name, float("nan"))))


class Callback:
    """Base class: override any hook; the defaults do nothing."""

    def on_train_begin(self, state: TrainState) -> None:
        """Called once before the first epoch."""

    def on_epoch_end(self, state: TrainState) -> None:
        """Called after every epoch with ``state.logs`` holding that epoch's scalars."""

    def on_train_end(self, state: TrainState) -> None:
        """Called once after the last epoch (or after an early stop)."""

    def state_dict(self) -> dict[str, Any]:
        """What a mid-arm checkpoint saves of this callback: a deep copy of its attributes."""
        return copy.deepcopy(vars(self))

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (resuming an arm from its checkpoint)."""
        vars(self).update(copy.deepcopy(state))


class Evaluate(Callback):
    """Every ``every`` epochs (and at the last one), add ``evaluate(model)``'s scalars to the logs.

    ``evaluate`` returns a mapping such as ``{"val_metric": 0.91, "val_loss": 0.33}``.
    """

    def __init__(self, evaluate: Callable[[Any], dict[str, float]], every: int = 1, last_epoch: int | None = None):
        if every < 1:
            raise ValueError(f"evaluation interval must be >= 1, got {every}")
        self.evaluate, self.every, self.last_epoch = evaluate, every, last_epoch

    def on_epoch_end(self, state: TrainState) -> None:
        """Evaluate on schedule."""
        if (state.epoch + 1) % self.every == 0 or state.epoch == self.last_epoch:
            state.logs.update(self.evaluate(state.model))


class EarlyStoppingParams(Params):
    """Settings of :class:`EarlyStopping`."""

    monitor: Literal["val_metric", "val_loss"] = Field(
        description="val_metric: the experiment's metric on the validation split (in its declared direction); val_loss: the training loss there (lower is better)"
    )
    patience: Annotated[int, Field(ge=0, description="evaluations without improvement before stopping")]
    min_delta: Annotated[float, Field(ge=0.0, description="an improvement must exceed this")]
    restore_best: bool = Field(description="restore the best weights when training ends")


@callback(params=EarlyStoppingParams, selects=True)
class EarlyStopping(Callback):
    """Stop once ``monitor`` has not improved for ``patience`` evaluations; optionally restore the best weights.

    With the best value at epoch ``b`` and an evaluation every epoch, training
    stops at the end of epoch ``b + patience`` (the Keras convention).

    The direction follows what is monitored: ``val_metric`` in the experiment
    metric's declared direction (``metric_higher_is_better``), ``val_loss``
    downwards. An improvement must exceed ``min_delta``. Epochs where ``monitor``
    was not computed are ignored. After training, ``state.info`` holds
    ``best_epoch``, ``best_value`` and ``stopped_epoch`` (None if the budget ran
    out first).
    """

    def __init__(self, params: EarlyStoppingParams, metric_higher_is_better: bool):
        self.monitor, self.patience = params.monitor, params.patience
        self.mode = "max" if params.monitor == "val_metric" and metric_higher_is_better else "min"
        self.min_delta, self.restore_best = params.min_delta, params.restore_best

    def on_train_begin(self, state: TrainState) -> None:
        """Reset the tracked best."""
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.best_weights: Any = None
        self.waited = 0
        self.stopped_epoch: int | None = None

    def _improved(self, value: float) -> bool:
        if self.best_value is None:
            return True
        if self.mode == "max":
            return value > self.best_value + self.min_delta
        return value < self.best_value - self.min_delta

    def on_epoch_end(self, state: TrainState) -> None:
        """Track the best value and stop once patience runs out."""
        if self.monitor not in state.logs:
            return
        value = float(state.logs[self.monitor])
        if np.isnan(value):
            raise ValueError(f"early_stopping.monitor {self.monitor!r} is NaN at epoch {state.epoch}")
        if self._improved(value):
            self.best_value, self.best_epoch, self.waited = value, state.epoch, 0
            if self.restore_best:
                self.best_weights = copy.deepcopy(state.model.state_dict())
            return
        self.waited += 1
        if self.waited >= self.patience:
            state.stop = True
            self.stopped_epoch = state.epoch

    def on_train_end(self, state: TrainState) -> None:
        """Restore the best weights if asked, and report where the best epoch was."""
        if self.best_epoch is None:
            raise ValueError(f"early_stopping.monitor {self.monitor!r} was never logged; known logs: {sorted(state.logs)}")
        if self.restore_best and self.best_weights is not None:
            state.model.load_state_dict(self.best_weights)
        state.info.update(best_epoch=self.best_epoch, best_value=self.best_value, stopped_epoch=self.stopped_epoch)


def run_callbacks(callbacks: list[Callback], hook: str, state: TrainState) -> None:
    """Call ``hook`` on every callback in order."""
    for callback in callbacks:
        getattr(callback, hook)(state)
