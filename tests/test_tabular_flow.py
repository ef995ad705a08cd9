"""End to end on a real table under cross-validation: the tabular_cv smoke experiment through metaflow.Runner."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from components.library.tables import describe_source
from components.outputs.runs import run_flow
from components.schema import check_record, check_results
from conftest import FLOW, ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tabular_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tabular-datastore")
    with run_flow(FLOW, ["experiment=tabular_cv_smoke"], max_workers=2, datastore_root=root) as running:
        assert running.status == "successful", running.stdout + running.stderr
        run = running.run
        return root, run["end"].task.data.results, run["join"].task.data.records


def test_tabular_results_follow_the_schema_and_record_the_table_hash(tabular_run):
    _, results, records = tabular_run
    check_results(results)
    for record in records:
        check_record(record)
    assert results["dataset"]["sha256"] == describe_source({"path": "data/breast_cancer.csv", "format": "csv"})["sha256"]
    assert results["provenance"]["dataset"] == results["dataset"]
    assert results["cross_validation"]["folds"] == [0, 1, 2] and results["statistics"]["interval"] == "nadeau_bengio"


def test_tabular_cells_average_folds_within_each_replicate(tabular_run):
    _, results, records = tabular_run
    assert len(records) == 6  # 3 folds x 2 replicates, one branch each
    for cell in results["cells"]:
        assert cell["n"] == 2 and len(cell["fold_values"]) == 2 and all(len(row) == 3 for row in cell["fold_values"])
        assert 0.0 <= cell["ci_low"] <= cell["mean"] <= cell["ci_high"] <= 1.0


def test_tabular_results_cli_names_the_fold_aware_interval(tabular_run):
    root, _, _ = tabular_run
    out = subprocess.run(
        [sys.executable, "-m", "components.cli", "results", "--experiment", "tabular_cv_smoke"], cwd=root,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "Nadeau-Bengio corrected resampled t over replicates x 3 folds" in out.stdout


def test_nested_cross_validation_runs_through_the_flow(tmp_path):
    """``cv_interval: nested`` end to end: inner fits in the branches, per-example values in the records, the estimand in the CLI."""
    overrides = ["experiment=tabular_cv_smoke", "experiment.statistics.cv_interval=nested"]
    with run_flow(FLOW, overrides, max_workers=2, datastore_root=tmp_path) as running:
        assert running.status == "successful", running.stdout + running.stderr
        results, records = running.run["end"].task.data.results, running.run["join"].task.data.records
    check_results(results)
    assert results["statistics"]["interval"] == "nested" and len(records) == 6
    # Per-example values are the primary metric's: the secondary metrics fall back to Nadeau-Bengio and say so.
    assert {block["statistics"]["interval"] for block in results["secondary"].values()} == {"nadeau_bengio"}
    assert results["per_class"] and all(sum(map(sum, row["confusion"])) == 2 * 569 for row in results["per_class"])
    for record in records:
        check_record(record)
        assert all(len(t["per_example"]["outer"]) + len(t["per_example"]["inner"]) == 569 for t in record["trainings"])
    out = subprocess.run(
        [sys.executable, "-m", "components.cli", "results", "--experiment", "tabular_cv_smoke"], cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "they estimate the error of the model one would deploy, fitted on all n rows of this table" in out.stdout


#: A secondary metric added to the finished tabular_cv_smoke run: macro-F1 at another threshold.
ADDED = "+experiment.secondary_metrics.f1_at_03={_target_:components.library.metrics.macro_f1,threshold:0.3}"


@pytest.fixture(scope="module")
def with_added_metric(tabular_run):
    """The finished run again, in its datastore, with one more secondary metric (``--reuse`` auto, no review override).

    Returns its results and records, and ``{arm key: (predictions, targets)}`` read from the branch tasks of
    the first run, which trained every arm.
    """
    import metaflow

    from components.engine.reuse import PREDICTIONS, predictions_by_arm

    root, _, records = tabular_run
    with run_flow(FLOW, ["experiment=tabular_cv_smoke", ADDED], max_workers=2, datastore_root=root) as running:
        assert running.status == "successful", running.stdout + running.stderr
        run = running.run
        results, new_records = run["end"].task.data.results, run["join"].task.data.records
        stored = {}
        metaflow.metadata(f"local@{root}")
        for task in {arm["task"] for record in records for arm in record["provenance"]["arms"]}:
            stored.update(predictions_by_arm(metaflow.Task(task, _namespace_check=False)[PREDICTIONS].data))
        return results, new_records, stored


def test_tabular_run_reports_each_secondary_metric_with_cells_and_paired_rows(tabular_run):
    _, results, records = tabular_run
    assert list(results["secondary"]) == ["macro_f1", "log_loss", "brier"]
    for name, block in results["secondary"].items():
        assert block["metric"]["name"] == name and block["statistics"]["interval"] == "nadeau_bengio"
        assert [(c["method"], c["n"]) for c in block["cells"]] == [(c["method"], c["n"]) for c in results["cells"]]
        assert len(block["paired"]) == len(results["paired"]) == 2
        low, high = block["metric"]["range"]
        assert all(low <= c["mean"] and (high is None or c["mean"] <= high) for c in block["cells"])
    assert all(set(t["secondary"]) == {"macro_f1", "log_loss", "brier"} for r in records for t in r["trainings"])


def test_adding_a_secondary_metric_reuses_every_arm_and_scores_it_as_a_fresh_run_would(tabular_run, with_added_metric):
    from components.library.metrics import MacroF1Params, macro_f1

    _, first, _ = tabular_run
    results, records, stored = with_added_metric
    reuse = results["provenance"]["reuse"]
    assert reuse["reused"] == reuse["arms"] == 18 and "train_arm" not in results["work"]
    assert results["provenance"]["review"]["verdict"] == "reviewed"  # no new review, no override
    # The primary and the earlier secondary metrics: rescored from stored predictions, equal to scoring at training time.
    for field in ("cells", "paired", "contrasts", "statistics"):
        assert repr(results[field]) == repr(first[field])
    for name, block in first["secondary"].items():
        assert repr(results["secondary"][name]) == repr(block)
    # The added one: each arm's value is macro-F1 at 0.3 of the predictions its training task stored.
    assert list(results["secondary"]) == ["macro_f1", "log_loss", "brier", "f1_at_03"]
    for record in records:
        for arm, training in zip(record["provenance"]["arms"], record["trainings"]):
            predictions, targets = stored[arm["key"]]
            assert training["secondary"]["f1_at_03"] == macro_f1(MacroF1Params(threshold=0.3), predictions, targets)


def test_results_cli_picks_a_secondary_metric(tabular_run):
    root, first, _ = tabular_run

    def results(*args):
        return subprocess.run(
            [sys.executable, "-m", "components.cli", "results", "--run", first["provenance"]["run_id"], *args], cwd=root,
            env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120,
        )

    out = results("--metric", "log_loss")
    assert out.returncode == 0, out.stderr
    assert "log_loss (secondary metric; lower is better)" in out.stdout and "Secondary metric, descriptive" in out.stdout
    bad = results("--metric", "f2")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "axisflow: error: metric 'f2' is not in these results; they report: accuracy (primary), macro_f1, log_loss, brier"
    ]


def test_tabular_per_class_results_name_the_tables_classes(tabular_run):
    _, results, records = tabular_run
    for row in results["per_class"]:
        assert row["classes"] == ["malignant", "benign"] and row["arms"] == 6 and row["threshold"] == 0.5
        assert sum(map(sum, row["confusion"])) == 2 * 569  # every row of the table once per replicate
        assert all(len(rate["fold_values"]) == 2 for rate in row["recall"])
