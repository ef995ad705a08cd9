"""Each seam alone, without Metaflow: data, model, training and metric are pure functions of their inputs."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from components.spec.config import load_spec
from components.spec.declarations import ImplementationError
from components.spec.seams import Dataset, build_model, make_data, metric, train_arm

SPEC = load_spec(["experiment=smoke"])[1]
ROOT = Path(__file__).resolve().parents[1]
AUROC = {"name": "auroc", "_target_": "components.library.metrics.auroc"}
ACCURACY = {"name": "accuracy", "_target_": "components.library.metrics.accuracy", "threshold": 0.5}
RMSE = {"name": "rmse", "_target_": "components.library.metrics.rmse"}
MLP = {"_target_": "components.library.models.mlp", "hidden": [8]}


def _data(noise=0.0, seed=7):
    return make_data(SPEC.data, {"label_noise": noise}, seed)


def test_make_data_is_a_pure_function_of_spec_axes_and_seed():
    a, b = _data(seed=7), _data(seed=7)
    assert a.fingerprint() == b.fingerprint()
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert _data(seed=8).fingerprint() != a.fingerprint()


def test_make_data_shapes_and_balance():
    data = _data()
    assert data.X_train.shape == (SPEC.data["n_train"], SPEC.data["n_features"])
    assert data.X_test.dtype == np.float32 and data.y_test.dtype == np.int64
    assert 0.4 < data.y_test.mean() < 0.6


def test_make_data_label_noise_flips_training_labels_only():
    clean, noisy = _data(0.0), _data(0.3)
    np.testing.assert_array_equal(clean.X_train, noisy.X_train)
    np.testing.assert_array_equal(clean.y_test, noisy.y_test)
    flipped = np.mean(clean.y_train != noisy.y_train)
    assert 0.2 < flipped < 0.4
    noisier = _data(0.45)
    # Flips nest across noise levels for one seed: the noise level is the only thing that changes.
    assert np.all((noisy.y_train != clean.y_train) <= (noisier.y_train != clean.y_train))


def test_make_data_rejects_noise_at_or_above_one_half():
    with pytest.raises(ValueError, match="label_noise"):
        _data(0.5)


def test_make_data_unknown_generator_names_the_key():
    with pytest.raises(ImplementationError, match="data._target_ 'components.nope.teacher'"):
        make_data({**SPEC.data, "_target_": "components.nope.teacher"}, {}, 0)


def test_build_model_initialisation_depends_only_on_seed():
    import torch

    a = build_model(MLP, in_features=4, out_features=1, seed=11)
    b = build_model(MLP, in_features=4, out_features=1, seed=11)
    c = build_model(MLP, in_features=4, out_features=1, seed=12)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))


def test_build_model_unknown_builder_names_the_key():
    with pytest.raises(ImplementationError, match="model._target_ 'components.library.models.transformer'"):
        build_model({"_target_": "components.library.models.transformer"}, in_features=2, out_features=1, seed=0)


@pytest.mark.parametrize("method", ["logreg", "mlp", "mlp_early_stop"])
def test_train_arm_is_deterministic_for_a_seed(method):
    data = _data(0.2)
    spec = {**SPEC.method(method).spec, "name": method}
    train_cfg = {**SPEC.training, "epochs": 3}
    first, second = train_arm(spec, data, 5, train_cfg, metric_spec=AUROC), train_arm(spec, data, 5, train_cfg, metric_spec=AUROC)
    np.testing.assert_array_equal(first.predictions, second.predictions)
    assert first.val_score == second.val_score
    assert first.predictions.shape == (len(data.y_test),)
    assert np.all((first.predictions >= 0) & (first.predictions <= 1))
    other = train_arm(spec, data, 6, train_cfg, metric_spec=AUROC)
    if method != "logreg":  # L-BFGS on a convex loss converges to the same optimum from any start
        assert not np.array_equal(first.predictions, other.predictions)


def test_train_arm_records_per_epoch_telemetry():
    data = _data(0.2)
    result = train_arm({**SPEC.method("mlp").spec, "name": "mlp"}, data, 1, {**SPEC.training, "epochs": 4}, metric_spec=AUROC)
    assert result.history["epoch"] == [0.0, 1.0, 2.0, 3.0]
    assert len(result.history["train_loss"]) == len(result.history["val_metric"]) == 4
    assert result.info["epochs_run"] == 4
    assert result.val_score == pytest.approx(result.history["val_metric"][-1])


def test_train_arm_training_config_is_authoritative():
    data = _data(0.0)
    spec = {**SPEC.method("mlp").spec, "name": "mlp"}
    short = train_arm(spec, data, 1, {**SPEC.training, "epochs": 1}, metric_spec=AUROC)
    long = train_arm(spec, data, 1, {**SPEC.training, "epochs": 3}, metric_spec=AUROC)
    assert short.info["epochs_run"] == 1 and long.info["epochs_run"] == 3


def test_metric_auroc_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 60)
    scores = np.round(rng.random(60), 1)  # rounding creates ties
    pairs = [(p, n) for p, n in itertools.product(scores[labels == 1], scores[labels == 0])]
    expected = np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs])
    assert metric(scores, labels, metric_spec=AUROC) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("case", range(40))
def test_metric_auroc_equals_the_rank_sum_statistic_bit_for_bit(case):
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(case)
    n = int(rng.integers(2, 3000))
    labels = rng.integers(0, 2, n)
    labels[:2] = (0, 1)
    scores = np.round(rng.random(n), int(rng.integers(1, 6)))  # few decimals: many ties
    u = mannwhitneyu(scores[labels == 1], scores[labels == 0], method="asymptotic").statistic
    assert metric(scores, labels, metric_spec=AUROC) == float(u / (labels.sum() * (n - labels.sum())))


def test_branch_task_modules_do_not_import_scipy():
    """scipy costs a branch task over a second to import and nothing there needs it."""
    code = (
        "import sys; import components.engine.branch, components.library.metrics, components.engine.telemetry, components.stats, "
        "components.engine.surface, components.spec.config; print('scipy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_metric_accuracy_binary_multiclass_and_unknown_path():
    assert metric(np.array([0.9, 0.2, 0.6]), np.array([1, 0, 0]), metric_spec=ACCURACY) == pytest.approx(2 / 3)
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]])
    assert metric(proba, np.array([0, 2, 0]), metric_spec=ACCURACY) == pytest.approx(2 / 3)
    with pytest.raises(ImplementationError, match="experiment.metric._target_ 'components.library.metrics.f1'"):
        metric(np.array([0.5]), np.array([1]), metric_spec={"name": "f1", "_target_": "components.library.metrics.f1"})


def test_metric_rmse_is_lower_is_better_and_nonnegative():
    from components.spec.declarations import declaration_of
    from components.library import metrics

    assert metric(np.array([1.0, 2.0]), np.array([1.0, 4.0]), metric_spec=RMSE) == pytest.approx(np.sqrt(2.0))
    info = declaration_of(metrics.rmse, "metric", "rmse").metric
    assert info.direction == "lower" and info.range == (0.0, None) and not info.higher_is_better


def test_metrics_declare_their_step_on_the_test_split():
    from components.spec.seams import metric_resolution

    rng = np.random.default_rng(0)
    targets = np.array([1] * 7 + [0] * 5)
    assert metric_resolution(rng.random(12), targets, metric_spec=ACCURACY) == 1 / 12
    step = metric_resolution(rng.random(12), targets, metric_spec=AUROC)
    assert step == 1 / (2 * 7 * 5)
    # Every AUROC on this split, ties included, is a whole number of steps.
    for scores in (rng.random(12), rng.integers(0, 3, 12).astype(float)):
        value = metric(scores, targets, metric_spec=AUROC)
        assert value / step == pytest.approx(round(value / step), abs=1e-9)
    assert metric_resolution(np.array([1.0]), np.array([1.0]), metric_spec=RMSE) is None


def test_a_metric_resolution_that_is_not_a_positive_step_is_a_seam_error(monkeypatch):
    import dataclasses

    from components.library import metrics
    from components.spec.seams import SeamError, metric_resolution

    declaration = metrics.accuracy.__axisflow__
    broken = dataclasses.replace(declaration, metric=dataclasses.replace(declaration.metric, resolution=lambda p, t: 0.0))
    monkeypatch.setattr(metrics.accuracy, "__axisflow__", broken)
    with pytest.raises(SeamError, match=r"accuracy resolution.*is 0\.0; a metric's resolution is a positive finite step"):
        metric_resolution(np.array([0.9]), np.array([1]), metric_spec=ACCURACY)


def test_metric_auroc_needs_both_classes():
    with pytest.raises(ValueError, match="both classes"):
        metric(np.array([0.1, 0.2]), np.array([1, 1]), metric_spec=AUROC)


def _task(task: str, seed: int = 0) -> Dataset:
    """A small, learnable dataset of ``task`` (binary, multiclass with 3 classes, regression)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((300, 4)).astype(np.float32)
    signal = X @ np.array([1.5, -1.0, 0.5, 0.0])
    if task == "regression":
        y = (signal + 0.1 * rng.standard_normal(300)).astype(np.float32)
        classes = None
    elif task == "multiclass":
        y = np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3])).astype(np.int64)
        classes = 3
    else:
        y = (signal > 0).astype(np.int64)
        classes = 2
    return Dataset(task, X[:200], y[:200], X[200:250], y[200:250], X[250:], y[250:], n_classes=classes)


@pytest.mark.parametrize(
    ("task", "metric_spec", "good"),
    [("binary", AUROC, lambda v: v > 0.9), ("multiclass", ACCURACY, lambda v: v > 0.7), ("regression", RMSE, lambda v: v < 0.6)],
)
@pytest.mark.parametrize("trainer", ["torch", "sklearn"])
def test_one_training_loop_and_sklearn_estimators_serve_every_task_type(task, metric_spec, good, trainer):
    data = _task(task)
    training = {**SPEC.training, "epochs": 60, "lr": 0.01}
    if trainer == "torch":
        method = {"_target_": "components.library.torch_train.train_torch", "name": "net", "model": MLP, "callbacks": []}
    else:
        estimator = "sklearn.linear_model.Ridge" if task == "regression" else "sklearn.linear_model.LogisticRegression"
        method = {"_target_": "components.library.sklearn_train.fit_estimator", "name": "sk", "estimator": {"_target_": estimator}}
    result = train_arm(method, data, 3, training, metric_spec=metric_spec)
    shape = (len(data.y_test), 3) if task == "multiclass" else (len(data.y_test),)
    assert np.asarray(result.predictions).shape == shape
    value = metric(result.predictions, data.y_test, metric_spec=metric_spec)
    assert good(value), value
    again = train_arm(method, data, 3, training, metric_spec=metric_spec)
    np.testing.assert_array_equal(result.predictions, again.predictions)


def test_early_stopping_follows_a_lower_is_better_metric():
    """On RMSE the monitor minimises: the restored model is the epoch with the lowest validation RMSE."""
    data = _task("regression")
    stopper = {"_target_": "components.library.callbacks.EarlyStopping", "monitor": "val_metric", "patience": 3, "min_delta": 0.0, "restore_best": True}
    method = {"_target_": "components.library.torch_train.train_torch", "name": "net", "model": MLP, "callbacks": [stopper]}
    result = train_arm(method, data, 3, {**SPEC.training, "epochs": 80, "lr": 0.05}, metric_spec=RMSE)
    curve = result.history["val_metric"]
    assert result.info["best_value"] == min(curve) == result.val_score
    assert result.info["best_epoch"] == curve.index(min(curve))


def test_a_trainer_is_handed_only_the_training_keys_it_declares():
    import types

    from components.spec.declarations import NoParams, trainer

    seen = {}

    @trainer(params=NoParams, tasks=("binary",), reads_training=("threads",), data_order="-", selection="-", uses_validation=False)
    def spy(params, data, seed, training, scorer):
        seen.update(training)
        raise StopIteration

    module = types.ModuleType("components.investigations.axisflow_spy_module")
    module.spy = spy
    sys.modules["components.investigations.axisflow_spy_module"] = module
    with pytest.raises(StopIteration):
        train_arm({"_target_": "components.investigations.axisflow_spy_module.spy", "name": "spy"}, _task("binary"), 0, SPEC.training, metric_spec=AUROC)
    assert seen == {"threads": SPEC.training["threads"]}
