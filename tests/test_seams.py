"""Each seam alone, without Metaflow: data, model, training and metric are pure functions of their inputs."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from components.config import load_spec
from components.seams import build_model, make_data, metric, train_arm

SPEC = load_spec(["experiment=smoke"])[1]
ROOT = Path(__file__).resolve().parents[1]


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
    with pytest.raises(KeyError, match="data.generator 'nope'"):
        make_data({**SPEC.data, "generator": "nope"}, {}, 0)


def test_build_model_initialisation_depends_only_on_seed():
    import torch

    spec = {"arch": "mlp", "hidden": [8], "in_features": 4, "seed": 11}
    a, b, c = build_model(spec), build_model(spec), build_model({**spec, "seed": 12})
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert not torch.equal(next(a.parameters()), next(c.parameters()))
    assert a(torch.zeros(3, 4)).shape == (3, 1)


def test_build_model_unknown_arch_names_the_key():
    with pytest.raises(KeyError, match="model.arch 'transformer'"):
        build_model({"arch": "transformer", "in_features": 2, "seed": 0})


@pytest.mark.parametrize("method", ["logreg", "mlp", "mlp_early_stop"])
def test_train_arm_is_deterministic_for_a_seed(method):
    data = _data(0.2)
    spec = {**SPEC.method(method).spec, "name": method}
    train_cfg = {**SPEC.training, "epochs": 3}
    first, second = train_arm(spec, data, 5, train_cfg), train_arm(spec, data, 5, train_cfg)
    np.testing.assert_array_equal(first.scores, second.scores)
    assert first.val_score == second.val_score
    assert first.scores.shape == (len(data.y_test),)
    assert np.all((first.scores >= 0) & (first.scores <= 1))
    other = train_arm(spec, data, 6, train_cfg)
    if method != "logreg":  # L-BFGS on a convex loss converges to the same optimum from any start
        assert not np.array_equal(first.scores, other.scores)


def test_train_arm_records_per_epoch_telemetry():
    data = _data(0.2)
    result = train_arm({**SPEC.method("mlp").spec, "name": "mlp"}, data, 1, {**SPEC.training, "epochs": 4})
    assert result.history["epoch"] == [0.0, 1.0, 2.0, 3.0]
    assert len(result.history["train_loss"]) == len(result.history["val_auroc"]) == 4
    assert result.info["epochs_run"] == 4
    assert result.val_score == pytest.approx(result.history["val_auroc"][-1])


def test_train_arm_training_config_is_authoritative():
    data = _data(0.0)
    spec = {**SPEC.method("mlp").spec, "name": "mlp"}
    short = train_arm(spec, data, 1, {**SPEC.training, "epochs": 1})
    long = train_arm(spec, data, 1, {**SPEC.training, "epochs": 3})
    assert short.info["epochs_run"] == 1 and long.info["epochs_run"] == 3


def test_metric_auroc_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 60)
    scores = np.round(rng.random(60), 1)  # rounding creates ties
    pairs = [(p, n) for p, n in itertools.product(scores[labels == 1], scores[labels == 0])]
    expected = np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs])
    assert metric(scores, labels, name="auroc") == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("case", range(40))
def test_metric_auroc_equals_the_rank_sum_statistic_bit_for_bit(case):
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(case)
    n = int(rng.integers(2, 3000))
    labels = rng.integers(0, 2, n)
    labels[:2] = (0, 1)
    scores = np.round(rng.random(n), int(rng.integers(1, 6)))  # few decimals: many ties
    u = mannwhitneyu(scores[labels == 1], scores[labels == 0], method="asymptotic").statistic
    assert metric(scores, labels, name="auroc") == float(u / (labels.sum() * (n - labels.sum())))


def test_branch_task_modules_do_not_import_scipy():
    """scipy costs a branch task over a second to import and nothing there needs it."""
    code = (
        "import sys; import components.branch, components.metrics, components.telemetry, components.stats, "
        "components.surface, components.config; print('scipy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_metric_accuracy_and_unknown_name():
    assert metric(np.array([0.9, 0.2, 0.6]), np.array([1, 0, 0]), name="accuracy") == pytest.approx(2 / 3)
    with pytest.raises(KeyError, match="experiment.metric.name 'f1'"):
        metric(np.array([0.5]), np.array([1]), name="f1")


def test_metric_auroc_needs_both_classes():
    with pytest.raises(ValueError, match="both classes"):
        metric(np.array([0.1, 0.2]), np.array([1, 1]), name="auroc")
