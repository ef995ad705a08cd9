"""What crosses a seam is checked: datasets, predictions and metric values, failing in one line naming the arm and field."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from components.engine.branch import run_branch
from components.engine.planner import branches
from components.engine.surface import aggregate_records, build_results
from components.library.metrics import accuracy, AccuracyParams, auroc
from components.spec.config import load_spec
from components.spec.declarations import MetricInfo, NoParams
from components.spec.seams import Dataset, SeamError, check_dataset, check_predictions, check_value, make_data, metric, train_arm
from components.schema import check_record, check_results

RIDGE = "{_target_:sklearn.linear_model.Ridge,alpha:1.0}"
FAST = ("experiment=sample_size_smoke", "experiment.seeds=2", "experiment.axes.data.n_train=[40]", "method=[ridge]")
NAN_EVERY = "+method.broken={_target_:tests.fixtures.seam_plants.nan_every,kind:axis_agnostic,estimator:" + RIDGE + ",every:%d}"
SHIFTED = {"_target_": "tests.fixtures.seam_plants.shifted_labels", "n_classes": 10, "shift": 1}


def _classes(n_classes=3, task="multiclass", **changes):
    rng = np.random.default_rng(0)
    parts = {}
    for split, n in (("train", 30), ("val", 10), ("test", 20)):
        parts[f"X_{split}"] = rng.standard_normal((n, 4)).astype(np.float32)
        parts[f"y_{split}"] = rng.integers(0, n_classes, n).astype(np.int64)
    parts.update(changes)
    return Dataset(task, n_classes=n_classes, **parts)


def _regression(**changes):
    rng = np.random.default_rng(0)
    parts = {}
    for split, n in (("train", 30), ("val", 10), ("test", 20)):
        parts[f"X_{split}"] = rng.standard_normal((n, 4)).astype(np.float32)
        parts[f"y_{split}"] = rng.standard_normal(n).astype(np.float32)
    parts.update(changes)
    return Dataset("regression", **parts)


def test_a_well_formed_dataset_of_every_task_passes():
    check_dataset(_classes(), "multiclass")
    check_dataset(_classes(2, "binary"), "binary")
    check_dataset(_regression(), "regression")


@pytest.mark.parametrize(
    "data, field, words",
    [
        (_classes(10, y_train=np.arange(1, 11).repeat(3)), "y_train", "labels 1..10, outside 0..9"),
        (_classes(y_val=np.full(10, -1)), "y_val", "labels -1..-1"),
        (_classes(y_test=np.zeros(20, dtype=np.float64)), "y_test", "float64 labels"),
        (_classes(y_train=np.array(["a", "b", "c"] * 10)), "y_train", "<U1 labels"),
        (_classes(y_train=np.zeros(30, dtype=bool)), "y_train", "bool labels"),
        (_classes(2, "binary", y_train=np.full(30, 2)), "y_train", "outside 0..1"),
        (_classes(3, "binary"), "n_classes", "a binary dataset has n_classes=2"),
        (replace(_classes(), n_classes=None), "n_classes", "integer n_classes"),
        (_regression(y_val=np.full(10, np.nan, dtype=np.float32)), "y_val", "non-finite"),
        (_regression(y_train=np.array(["1.0"] * 30)), "y_train", "must be numbers"),
        (_regression(X_train=np.full((30, 4), np.inf, dtype=np.float32)), "X_train", "non-finite"),
        (_regression(X_test=np.full((20, 4), 1e300)), "X_test", "beyond float32's range"),
        (_regression(X_val=np.ones((10, 4), dtype=np.float32) * np.float32("nan")), "X_val", "first nan at row 0, column 0"),
        (_regression(X_train=np.ones(30, dtype=np.float32)), "X_train", "numpy array of shape (n, *input_shape)"),
        (_regression(X_val=np.ones((10, 5), dtype=np.float32)), "X_val", "5 features, but X_train has 4"),
        (_regression(y_test=np.ones(19, dtype=np.float32)), "y_test", "19 rows, but X_test has 20"),
        (_regression(X_val=np.ones((0, 4), dtype=np.float32), y_val=np.ones(0, dtype=np.float32)), "X_val", "is empty"),
        (_regression(X_train=np.array([["a"] * 4] * 30)), "X_train", "features must be numbers"),
        (_regression(y_train=np.ones((30, 1), dtype=np.float32)), "y_train", "1-D numpy array"),
    ],
)
def test_a_dataset_breaking_its_promise_fails_naming_the_field(data, field, words):
    with pytest.raises(SeamError) as raised:
        check_dataset(data)
    assert raised.value.field == field and words in str(raised.value), str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_dataset_of_another_task_than_declared_fails():
    with pytest.raises(SeamError, match="task is 'multiclass', but the generator declares task='binary'"):
        check_dataset(_classes(), "binary")


def test_make_data_refuses_labels_one_to_ten_before_any_trainer_runs():
    with pytest.raises(SeamError, match=r"y_train has labels 1\.\.10, outside 0\.\.9 \(n_classes=10\); class ids start at 0"):
        make_data(SHIFTED, {}, 3)
    assert make_data({**SHIFTED, "shift": 0}, {}, 3).n_classes == 10


@pytest.mark.parametrize(
    "data, predictions, words",
    [
        (_classes(2, "binary"), np.full(20, np.nan), "20 non-finite value(s) of 20"),
        (_classes(2, "binary"), np.full(19, 0.5), "shape (19,)"),
        (_classes(2, "binary"), np.linspace(-0.5, 1.5, 20), "outside [0, 1]"),
        (_classes(3), np.full((20, 3), 0.5), "row 0 sums to 1.5, not 1"),
        (_classes(3), np.full((20, 2), 0.5), "needs (20, 3)"),
        (_regression(), np.zeros((20, 1)), "needs (20,)"),
        (_regression(), np.array(["1"] * 20), "expected numbers"),
        (_regression(), np.r_[np.zeros(19), np.inf], "first inf at row 19"),
    ],
)
def test_predictions_that_do_not_fit_the_task_fail_naming_the_field(data, predictions, words):
    with pytest.raises(SeamError) as raised:
        check_predictions(predictions, data)
    assert raised.value.field == "predictions" and words in str(raised.value), str(raised.value)


def test_well_formed_predictions_pass():
    check_predictions(np.full(20, 0.3), _classes(2, "binary"))
    check_predictions(np.full((20, 2), 0.5), _classes(2, "binary"))
    check_predictions(np.full((20, 3), 1 / 3), _classes(3))
    check_predictions(np.linspace(-5, 5, 20), _regression())


@pytest.mark.parametrize("value, words", [(1.2, "outside the metric's declared range [0.0, 1.0]"), (-0.1, "outside"), (float("nan"), "must be finite"), (True, "returns a number"), ("0.5", "returns a number")])
def test_a_metric_value_outside_its_declared_range_or_not_finite_fails(value, words):
    with pytest.raises(SeamError, match="value") as raised:
        check_value(value, MetricInfo("higher", (0.0, 1.0), "-"))
    assert words in str(raised.value)


def test_nan_predictions_never_get_a_finite_score():
    labels = np.array([0, 1] * 10)
    for fn, params in ((auroc, NoParams()), (accuracy, AccuracyParams(threshold=0.5))):
        with pytest.raises(ValueError, match="not finite"):
            fn(params, np.full(20, np.nan), labels)
    with pytest.raises(ValueError, match="not finite"):
        accuracy(AccuracyParams(threshold=0.5), np.full((20, 3), np.nan), labels)
    with pytest.raises(SeamError, match="predictions"):
        metric(np.full(20, np.nan), labels, metric_spec={"name": "auroc", "_target_": "components.library.metrics.auroc"})


def test_the_metric_seam_refuses_a_value_outside_the_declared_range():
    with pytest.raises(SeamError, match=r"neg is -\d.*outside the metric's declared range \[0.0, inf\]"):
        metric(np.zeros(5), np.ones(5), metric_spec={"name": "neg", "_target_": "tests.fixtures.seam_plants.negative_rmse"})


def test_train_arm_refuses_predictions_of_the_wrong_length():
    config, spec = load_spec([*FAST, "+method.short={_target_:tests.fixtures.seam_plants.short_predictions,kind:axis_agnostic,estimator:" + RIDGE + "}"])
    data = make_data(spec.data, {"n_train": 40}, 1)
    with pytest.raises(SeamError, match=r"predictions have shape \(199,\); a regression task with 200 test rows needs \(200,\)"):
        train_arm({**spec.method("short").spec, "name": "short"}, data, 1, spec.training, metric_spec=spec.metric)


def _run(*overrides):
    config, spec = load_spec([*FAST, *overrides])
    records = [run_branch(config, branch, log=lambda _: None) for branch in branches(spec)]
    return config, spec, records


def test_under_nan_policy_raise_a_nan_arm_fails_its_branch_in_one_line_naming_the_arm_and_field():
    config, spec = load_spec([*FAST, NAN_EVERY % 1])
    with pytest.raises(RuntimeError) as raised:
        run_branch(config, branches(spec)[0], log=lambda _: None)
    text = str(raised.value)
    assert "\n" not in text
    assert text.startswith("branch n_train=40,seed=0, method broken, training axes none: SeamError: predictions has 200 non-finite value(s)")


def _failed_results(every):
    config, spec, records = _run(NAN_EVERY % every, "+experiment.statistics.nan_policy=omit")
    for record in records:
        check_record(record)
    results = build_results(config, records, aggregate_records(config, records))
    check_results(results)
    return records, results


def test_under_nan_policy_omit_a_failed_arm_is_recorded_with_its_reason_and_the_run_goes_on():
    records, results = _failed_results(1)
    failed = [t for r in records for t in r["trainings"] if t["method"] == "broken"]
    assert len(failed) == 2 and all(math.isnan(t["value"]) and "SeamError: predictions has 200 non-finite" in t["failure"] for t in failed)
    assert all("failure" not in t for r in records for t in r["trainings"] if t["method"] == "ridge")
    # An axis-agnostic arm supplies every training cell (weight_decay 0.0 and 0.1): one failure per cell and seed.
    assert sorted((f["seed"], f["axes"]["weight_decay"]) for f in results["failures"] if f["method"] == "broken") == [(0, 0.0), (0, 0.1), (1, 0.0), (1, 0.1)]
    assert results["failures"][0]["failure"].startswith("branch n_train=40,seed=0, method broken")
    cell = next(c for c in results["cells"] if c["method"] == "broken")
    assert cell["n"] == 0 and cell["mean"] is None and cell["n_dropped"] == 2 and len(results["failures"]) == 4


def test_a_clean_run_has_no_failures_field():
    _, _, records = _run("+experiment.statistics.nan_policy=omit")
    config = load_spec(list(FAST))[0]
    assert "failures" not in build_results(config, records, aggregate_records(config, records))


@pytest.mark.parametrize("every", [1, 2])
def test_every_reader_copes_with_failed_arms_and_empty_cells(every, tmp_path):
    from components.outputs.history import diff_results, format_diff, headline
    from components.outputs.query import format_table
    from components.outputs.report import report_figures, save_figures

    records, results = _failed_results(every)
    assert headline(results).startswith("rmse best ridge")
    text = format_table(results)
    assert "failed" in text and "Failed arms" in text and "SeamError: predictions" in text
    assert "## Failed arms" in format_table(results, "md")
    assert "broken" in format_table(results, "csv") and '"failures"' in format_table(results, "json")
    _, clean = _failed_results(10**9)
    diff = {"a": "A", "b": "B", "config_hash": ["h", "h"], "config": [], "code": [{"commit": "c", "diff_hash": None, "dirty": False}] * 2,
            "missing_results": [], **diff_results(clean, results)}
    text = format_diff(diff)
    assert f"failed arm observations: 0 -> {len(results['failures'])}" in text
    if every == 1:
        assert "broken: no value left (every seed failed)" in text
    assert save_figures(report_figures(results, records), tmp_path)
