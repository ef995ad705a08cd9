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


def test_tabular_per_class_results_name_the_tables_classes(tabular_run):
    _, results, records = tabular_run
    for row in results["per_class"]:
        assert row["classes"] == ["malignant", "benign"] and row["arms"] == 6 and row["threshold"] == 0.5
        assert sum(map(sum, row["confusion"])) == 2 * 569  # every row of the table once per replicate
        assert all(len(rate["fold_values"]) == 2 for rate in row["recall"])
