"""Training callbacks: early stopping on planted validation curves, best-weight restore, evaluation schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from components.library.callbacks import Callback, EarlyStopping, EarlyStoppingParams, Evaluate, TrainState, run_callbacks


def _stopper(monitor="val_metric", patience=5, mode="max", min_delta=0.0, restore_best=True):
    """An EarlyStopping built as the trainer builds it: validated settings plus the monitored direction."""
    params = EarlyStoppingParams(monitor=monitor, patience=patience, min_delta=min_delta, restore_best=restore_best)
    stopper = EarlyStopping(params, metric_higher_is_better=mode == "max")
    assert stopper.mode == (mode if monitor == "val_metric" else "min")
    return stopper


def _train(curve, callbacks, model=None, monitor="val_metric"):
    """Drive ``callbacks`` like a trainer would, with ``curve[epoch]`` as the validation metric.

    The model is a ``torch.nn.Linear(1, 1)`` whose bias is set *in place* to the
    epoch number every epoch (as an optimizer step would), so the bias after
    training says which epoch's weights the model holds.
    """
    model = model or torch.nn.Linear(1, 1)
    state = TrainState(model=model, rng=np.random.default_rng(0))
    evaluate = Evaluate(lambda m: {monitor: curve[state.epoch]}, last_epoch=len(curve) - 1)
    chain = [evaluate, *callbacks]
    run_callbacks(chain, "on_train_begin", state)
    for epoch in range(len(curve)):
        with torch.no_grad():
            model.bias.fill_(float(epoch))
        state.epoch, state.logs = epoch, {"train_loss": 1.0 / (epoch + 1)}
        run_callbacks(chain, "on_epoch_end", state)
        state.record()
        if state.stop:
            break
    run_callbacks(chain, "on_train_end", state)
    return state, model


def _bias(model) -> float:
    return float(model.bias.detach())


# Best value 0.80 at epoch 3; nothing beats it afterwards.
PLANTED = [0.60, 0.70, 0.75, 0.80, 0.79, 0.78, 0.80, 0.77, 0.90, 0.95]


def test_early_stopping_stops_patience_epochs_after_the_best():
    stopper = _stopper("val_metric", patience=3, mode="max")
    state, _ = _train(PLANTED, [stopper])
    assert state.info == {"best_epoch": 3, "best_value": 0.80, "stopped_epoch": 6}
    assert state.history["epoch"] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]  # epochs 7.. never ran
    assert state.history["val_metric"] == PLANTED[:7]


def test_early_stopping_restores_the_best_epochs_weights():
    stopper = _stopper("val_metric", patience=3, mode="max", restore_best=True)
    _, model = _train(PLANTED, [stopper])
    # The trainer overwrote the bias in place at epochs 4-6; the restore must bring back epoch 3's copy.
    assert _bias(model) == 3.0


def test_early_stopping_without_restore_keeps_the_last_weights():
    stopper = _stopper("val_metric", patience=3, mode="max", restore_best=False)
    state, model = _train(PLANTED, [stopper])
    assert _bias(model) == 6.0
    assert state.info["best_epoch"] == 3


def test_early_stopping_min_mode_with_min_delta_ignores_tiny_improvements():
    losses = [1.0, 0.5, 0.49, 0.48, 0.47, 0.2]  # 0.49..0.47 improve by less than min_delta
    stopper = _stopper("val_loss", patience=2, mode="min", min_delta=0.05)
    state, model = _train(losses, [stopper], monitor="val_loss")
    assert state.info == {"best_epoch": 1, "best_value": 0.5, "stopped_epoch": 3}
    assert _bias(model) == 1.0


def test_early_stopping_zero_patience_stops_at_the_first_non_improvement():
    stopper = _stopper("val_metric", patience=0)
    state, _ = _train([0.5, 0.6, 0.6, 0.9], [stopper])
    assert state.info["stopped_epoch"] == 2


def test_early_stopping_runs_to_the_budget_when_the_curve_keeps_improving():
    stopper = _stopper("val_metric", patience=2)
    state, model = _train([0.1, 0.2, 0.3, 0.4], [stopper])
    assert state.info == {"best_epoch": 3, "best_value": 0.4, "stopped_epoch": None}
    assert _bias(model) == 3.0


def test_early_stopping_counts_only_epochs_where_the_monitor_was_evaluated():
    # Evaluated every second epoch (and the last): patience counts evaluations, not epochs.
    curve = [0.0, 0.8, 0.0, 0.7, 0.0, 0.6, 0.0, 0.5, 0.0, 0.4]
    model = torch.nn.Linear(1, 1)
    state = TrainState(model=model, rng=np.random.default_rng(0))
    chain = [Evaluate(lambda m: {"val_metric": curve[state.epoch]}, every=2, last_epoch=9), _stopper("val_metric", patience=2)]
    run_callbacks(chain, "on_train_begin", state)
    for epoch in range(10):
        with torch.no_grad():
            model.bias.fill_(float(epoch))
        state.epoch, state.logs = epoch, {}
        run_callbacks(chain, "on_epoch_end", state)
        state.record()
        if state.stop:
            break
    run_callbacks(chain, "on_train_end", state)
    assert state.info == {"best_epoch": 1, "best_value": 0.8, "stopped_epoch": 5}
    assert _bias(model) == 1.0
    assert [math.isnan(v) for v in state.history["val_metric"]] == [True, False, True, False, True, False]


def test_early_stopping_rejects_a_nan_monitor_and_a_missing_one():
    with pytest.raises(ValueError, match="val_metric.*NaN at epoch 1"):
        _train([0.5, float("nan"), 0.6], [_stopper("val_metric")])
    with pytest.raises(ValueError, match="'val_loss' was never logged"):
        _train([0.5, 0.6], [_stopper("val_loss", mode="min")])


def test_early_stopping_rejects_bad_settings():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="patience"):
        _stopper("val_metric", patience=-1)
    with pytest.raises(ValidationError, match="monitor"):
        _stopper("val_auroc")


def test_evaluate_runs_on_schedule_and_at_the_last_epoch():
    seen = []
    evaluate = Evaluate(lambda m: seen.append(state.epoch) or {"val": 1.0}, every=3, last_epoch=6)
    state = TrainState(model=None, rng=np.random.default_rng(0))
    for epoch in range(7):
        state.epoch, state.logs = epoch, {}
        evaluate.on_epoch_end(state)
    assert seen == [2, 5, 6]
    with pytest.raises(ValueError, match="interval"):
        Evaluate(lambda m: {}, every=0)


def test_train_state_history_aligns_names_that_appear_later():
    state = TrainState(model=None, rng=np.random.default_rng(0))
    state.epoch, state.logs = 0, {"train_loss": 1.0}
    state.record()
    state.epoch, state.logs = 1, {"train_loss": 0.5, "val_metric": 0.7}
    state.record()
    assert state.history["epoch"] == [0.0, 1.0]
    assert state.history["train_loss"] == [1.0, 0.5]
    assert math.isnan(state.history["val_metric"][0]) and state.history["val_metric"][1] == 0.7


def test_callbacks_run_in_list_order_with_every_hook():
    calls = []

    class Spy(Callback):
        def __init__(self, name):
            self.name = name

        def on_train_begin(self, state):
            calls.append((self.name, "begin"))

        def on_epoch_end(self, state):
            calls.append((self.name, "epoch"))

        def on_train_end(self, state):
            calls.append((self.name, "end"))

    state = TrainState(model=None, rng=np.random.default_rng(0))
    chain = [Spy("a"), Spy("b")]
    for hook in ("on_train_begin", "on_epoch_end", "on_train_end"):
        run_callbacks(chain, hook, state)
    assert calls == [("a", "begin"), ("b", "begin"), ("a", "epoch"), ("b", "epoch"), ("a", "end"), ("b", "end")]


def test_mlp_early_stop_returns_the_restored_models_validation_score():
    """End to end through the trainer: the returned model is the best epoch's, not the last one's."""
    from components.spec import seams
    from components.spec.config import load_spec

    _, spec = load_spec(["experiment=smoke"])
    data = seams.make_data(spec.data, {"label_noise": 0.3}, 11)
    method = spec.method("mlp_early_stop")
    callbacks = [{**c, "patience": 2} for c in method.spec["callbacks"]]
    result = seams.train_arm(
        {**method.spec, "callbacks": callbacks, "name": method.name}, data, 5, {**spec.training, "epochs": 60}, metric_spec=spec.metric
    )
    info, history = result.info, result.history
    assert info["stopped_epoch"] is not None, "the planted budget is long enough that early stopping must trigger"
    assert info["stopped_epoch"] == info["best_epoch"] + 2
    assert info["epochs_run"] == info["stopped_epoch"] + 1 == len(history["epoch"])
    assert history["val_metric"][info["best_epoch"]] == max(history["val_metric"]) == info["best_value"]
    # The model handed back scores exactly like the best epoch did: its weights were restored.
    assert result.val_score == info["best_value"]
