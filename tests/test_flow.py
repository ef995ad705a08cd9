"""End-to-end: the smoke experiment through metaflow.Runner, its work counted from its own records."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FLOW, ROOT

pytestmark = pytest.mark.slow


def _records(smoke_run):
    return smoke_run.run["join"].task.data.records


def _results(smoke_run):
    return smoke_run.run["end"].task.data.results


def test_smoke_run_generates_data_exactly_once_per_branch(smoke_run):
    records = _records(smoke_run)
    assert len(records) == _results(smoke_run)["plan"]["branches"] == 6
    assert [r["counts"]["make_data"] for r in records] == [1] * len(records)
    assert len({r["data_fingerprint"] for r in records}) == len(records)


def test_smoke_run_trains_axis_agnostic_baseline_once_per_branch(smoke_run):
    for record in _records(smoke_run):
        assert record["counts"]["train_arm:logreg"] == 1
        logreg = [t for t in record["trainings"] if t["method"] == "logreg"]
        assert len(logreg) == 1 and logreg[0]["train_axes"] == {}


def test_smoke_run_trains_axis_dependent_methods_once_per_training_value(smoke_run):
    epochs = _results(smoke_run)["axes"]["training"]["epochs"]
    for record in _records(smoke_run):
        for method in ("mlp", "mlp_early_stop"):
            assert record["counts"][f"train_arm:{method}"] == len(epochs)
            done = [t["train_axes"] for t in record["trainings"] if t["method"] == method]
            assert done == [{"epochs": e} for e in epochs]


def test_smoke_run_work_totals_match_the_plan(smoke_run):
    results = _results(smoke_run)
    assert results["work"]["make_data"] == results["plan"]["data_generations"]
    assert results["work"]["train_arm"] == results["plan"]["trainings"]


def test_smoke_results_cover_every_cell_and_pair_with_the_baseline(smoke_run):
    results = _results(smoke_run)
    noise, epochs = results["axes"]["data"]["label_noise"], results["axes"]["training"]["epochs"]
    cells = {(c["axes"]["label_noise"], c["axes"]["epochs"], c["method"]) for c in results["cells"]}
    assert cells == {(n, e, m) for n in noise for e in epochs for m in results["methods"]}
    for cell in results["cells"]:
        assert cell["n"] == results["seeds"] == len(cell["values"])
        assert cell["ci_low"] <= cell["mean"] <= cell["ci_high"]
    paired = {(p["axes"]["label_noise"], p["axes"]["epochs"], p["method"]) for p in results["paired"]}
    assert paired == {(n, e, m) for n in noise for e in epochs for m in ("mlp", "mlp_early_stop")}
    assert all(p["baseline"] == "logreg" for p in results["paired"])


def test_axis_agnostic_score_is_shared_across_training_cells(smoke_run):
    results = _results(smoke_run)
    for noise in results["axes"]["data"]["label_noise"]:
        cells = [c for c in results["cells"] if c["method"] == "logreg" and c["axes"]["label_noise"] == noise]
        assert len(cells) == 2 and cells[0]["values"] == cells[1]["values"]
        # A branch is one replicate for every training-axis value, so the same
        # scores are resampled the same way in every training cell: same interval.
        assert (cells[0]["ci_low"], cells[0]["ci_high"]) == (cells[1]["ci_low"], cells[1]["ci_high"])
    assert results["statistics"]["stream_axes"] == ["label_noise"]


def test_smoke_run_twice_gives_bit_identical_results(smoke_run, smoke_rerun_without_reuse):
    # Same datastore, new run id: this process's Metaflow client reads one local datastore.
    # --reuse off: this checks that recomputing gives the same bits (tests/test_reuse.py checks reusing does).
    again = smoke_rerun_without_reuse
    first, second = _results(smoke_run), again.run["end"].task.data.results
    first, second = ({k: v for k, v in r.items() if k != "provenance"} for r in (first, second))
    assert first == second
    assert repr(first) == repr(second)  # floats bit-for-bit, not just ==


def _without_run_facts(record: dict) -> dict:
    """A branch record without what names its run or task, or says how long it took."""
    arms = [{k: v for k, v in arm.items() if k not in ("run", "task")} for arm in record["provenance"]["arms"]]
    return {**{k: v for k, v in record.items() if k not in ("timing", "provenance")}, "arms": arms}


def test_a_branch_record_does_not_depend_on_the_task_that_ran_it_or_its_company(smoke_run, smoke_rerun_without_reuse):
    # branches_per_task: auto deals the 6 branches into one task per local worker: 2 tasks of 3 at --max-workers 2
    # (on a machine with 2 cores or more), 1 task of 6 at --max-workers 1.
    cores = len(os.sched_getaffinity(0))
    assert sorted(len(t["branch_records"].data) for t in smoke_run.run["branch"]) == ([3, 3] if cores >= 2 else [6])
    assert [len(t["branch_records"].data) for t in smoke_rerun_without_reuse.run["branch"]] == [6]
    grouped, alone = (run.run["join"].task.data.records for run in (smoke_run, smoke_rerun_without_reuse))
    assert repr([_without_run_facts(r) for r in grouped]) == repr([_without_run_facts(r) for r in alone])
    assert smoke_run.run["end"].task.data.results["provenance"]["fanout"] == {"slots": min(2, cores), "tasks": 2 if cores >= 2 else 1}
    # What the multi-branch tasks saved for a resume was cleared by the join (blanked: Metaflow's storage has no delete).
    saved = list(smoke_run.datastore_root.rglob("axisflow-checkpoints/finished-*"))
    assert len(saved) == (4 if cores >= 2 else 5) and all(blob.stat().st_size == 0 for blob in saved)


def test_results_cli_prints_table_of_latest_run(smoke_run):
    out = subprocess.run(
        [sys.executable, "-m", "components.cli", "results"], cwd=smoke_run.datastore_root,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    for method in ("logreg", "mlp", "mlp_early_stop"):
        assert method in out.stdout
    assert re.search(r"mlp\s+3\s+\d\.\d+\s+\[\d\.\d+, \d\.\d+\]", out.stdout), out.stdout
    assert "Paired differences vs baseline logreg" in out.stdout


def test_smoke_records_and_results_follow_the_one_schema(smoke_run):
    from components.schema import RESULTS_SCHEMA, check_record, check_results

    results = _results(smoke_run)
    assert results["schema"] == RESULTS_SCHEMA
    check_results(results)
    for record in _records(smoke_run):
        check_record(record)


def test_smoke_per_class_matrices_are_the_sum_of_the_records_over_seeds(smoke_run):
    import numpy as np

    results, records = _results(smoke_run), _records(smoke_run)
    rows = results["per_class"]
    assert len(rows) == len(results["cells"])
    for row in rows:
        arms = [
            t["confusion"]["counts"]
            for r in records if r["data_axes"]["label_noise"] == row["axes"]["label_noise"]
            for t in r["trainings"] if t["method"] == row["method"] and t["train_axes"].get("epochs", row["axes"]["epochs"]) == row["axes"]["epochs"]
        ]
        assert row["arms"] == len(arms) == results["seeds"]
        assert row["confusion"] == np.sum(arms, axis=0).tolist()
        assert row["threshold"] == 0.5 and "declares no threshold" in row["decision"]  # the smoke metric is auroc


def test_results_cli_shows_per_class_results_and_the_long_csv(smoke_run):
    import io

    import pandas as pd

    def cli(*args):
        out = subprocess.run(
            [sys.executable, "-m", "components.cli", "results", *args], cwd=smoke_run.datastore_root,
            env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert "true \\ predicted" in cli("--per-class")
    results = _results(smoke_run)
    frame = pd.read_csv(io.StringIO(cli("--format", "csv", "--long")))
    assert len(frame) == sum(c["n"] for c in results["cells"]) and list(frame.columns) == ["label_noise", "epochs", "method", "seed", "value"]
    classes = pd.read_csv(io.StringIO(cli("--format", "csv", "--per-class")))
    assert len(classes) == 2 * len(results["cells"]) and {"predicted:0", "predicted:1", "recall_ci_low"} <= set(classes.columns)
