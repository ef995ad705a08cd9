"""End to end on a lower-is-better metric: the sample-size investigation's smoke experiment through metaflow.Runner."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from components.outputs.runs import run_flow
from components.schema import check_record, check_results
from conftest import FLOW, ROOT

pytestmark = pytest.mark.slow

#: A deliberately over-regularised ridge as the baseline, so the shipped ridge is clearly better (lower RMSE).
WEAK = "+method.ridge_weak={_target_:components.library.sklearn_train.fit_estimator,kind:axis_agnostic,estimator:{_target_:sklearn.linear_model.Ridge,alpha:3000.0}}"


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("regression-datastore")
    overrides = ["experiment=sample_size_smoke", "experiment.seeds=5", "method=[ridge,mlp_regressor]", WEAK, "experiment.baseline=ridge_weak"]
    # Adding a method changes fidelity facts the shipped review does not cover; this run allows that explicitly.
    with run_flow(FLOW, overrides, max_workers=2, datastore_root=root, review_allow=("all",)) as running:
        assert running.status == "successful", running.stdout + running.stderr
        run = running.run
        return root, run["end"].task.data.results, run["join"].task.data.records


def test_lower_is_better_metric_is_declared_in_results(regression_run):
    _, results, records = regression_run
    assert results["task"] == "regression"
    assert results["metric"] == {
        "name": "rmse", "target": "components.library.metrics.rmse", "higher_is_better": False, "range": [0.0, None],
        "definition": results["metric"]["definition"], "split": "test",
    }
    check_results(results)
    for record in records:
        check_record(record)


def test_a_method_with_lower_rmse_than_the_baseline_is_reported_better(regression_run):
    _, results, _ = regression_run
    ridge = [p for p in results["paired"] if p["method"] == "ridge"]
    assert ridge and all(p["mean_diff"] < 0 for p in ridge)
    assert all(p["verdict"] == "better" for p in ridge), ridge
    for row in results["paired"]:
        if row["verdict"] == "better":
            assert row["ci_high"] < 0  # lower RMSE than the baseline: the whole interval below zero
        elif row["verdict"] == "worse":
            assert row["ci_low"] > 0
    for cell in results["cells"]:
        assert cell["ci_low"] >= 0.0  # RMSE is declared nonnegative


def test_results_cli_says_lower_is_better_and_labels_verdicts(regression_run):
    root, _, _ = regression_run
    out = subprocess.run(
        [sys.executable, "-m", "components.cli", "results"], cwd=root,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "lower is better" in out.stdout and "rmse" in out.stdout
    assert "better" in out.stdout


def test_a_regression_run_has_no_per_class_results_and_the_cli_says_why(regression_run):
    root, results, records = regression_run
    assert "per_class" not in results and all("confusion" not in t for r in records for t in r["trainings"])
    out = subprocess.run(
        [sys.executable, "-m", "components.cli", "results", "--per-class"], cwd=root,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 2 and out.stderr.strip().splitlines() == [
        f"axisflow: error: experiment {results['experiment']} is a regression task; per-class results exist for binary and multiclass tasks only"
    ]
