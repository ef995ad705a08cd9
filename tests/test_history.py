"""Run history: ``axisflow runs`` and ``axisflow diff`` (pure parts, then two real runs sharing one datastore)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components.outputs.history import compare_cells, diff_configs, format_diff, format_runs, headline, moved_cells, verdict_changes
from components.outputs.runs import experiment_of


def _cell(method, mean, low, high, epochs=2):
    return {"axes": {"epochs": epochs}, "method": method, "n": 3, "mean": mean, "ci_low": low, "ci_high": high}


def _pair(method, verdict, diff, epochs=2):
    return {"axes": {"epochs": epochs}, "method": method, "baseline": "logreg", "mean_diff": diff, "verdict": verdict}


def test_diff_configs_lists_changed_added_and_removed_dotted_keys_and_ignores_launch_metadata():
    a = {"training": {"lr": 0.001, "epochs": 4}, "method": {"mlp": {"hidden": [64, 64]}}, "axisflow": {"config_hash": "x"}}
    b = {"training": {"lr": 0.01, "epochs": 4, "clip": 1.0}, "method": {"mlp": {"hidden": [32]}}, "axisflow": {"config_hash": "y"}}
    changes = {c["key"]: c for c in diff_configs(a, b)}
    assert set(changes) == {"training.lr", "training.clip", "method.mlp.hidden"}
    assert (changes["training.lr"]["old"], changes["training.lr"]["new"]) == (0.001, 0.01)
    assert changes["training.clip"]["added"] and not changes["training.clip"]["removed"]
    assert changes["method.mlp.hidden"]["new"] == [32]
    assert diff_configs(a, a) == []


def test_moved_cells_need_each_mean_outside_the_other_runs_interval():
    a = {"cells": [_cell("mlp", 0.70, 0.65, 0.75), _cell("logreg", 0.80, 0.78, 0.82), _cell("lone", 0.5, None, None)]}
    b = {"cells": [_cell("mlp", 0.90, 0.85, 0.95), _cell("logreg", 0.83, 0.79, 0.87), _cell("lone", 0.9, None, None)]}
    moved = moved_cells(a, b)
    assert [m["method"] for m in moved] == ["mlp"]  # logreg: the old mean is inside the new CI; "lone" has no CI
    assert moved[0]["delta"] == pytest.approx(0.20) and moved[0]["a_ci"] == [0.65, 0.75]


def test_verdict_changes_report_old_and_new_verdicts():
    a = {"paired": [_pair("mlp", "worse", -0.1), _pair("mlp", "better", 0.1, epochs=4)]}
    b = {"paired": [_pair("mlp", "better", 0.05), _pair("mlp", "better", 0.2, epochs=4)]}
    changes = verdict_changes(a, b)
    assert [(c["axes"], c["old"], c["new"]) for c in changes] == [({"epochs": 2}, "worse", "better")]


def test_headline_names_the_best_method_of_the_first_cell_and_counts_verdicts():
    results = {
        "metric": {"name": "auroc", "higher_is_better": True},
        "baseline": "logreg",
        "cells": [_cell("logreg", 0.8, 0.78, 0.82), _cell("mlp", 0.9, 0.85, 0.95), _cell("mlp", 0.99, 0.98, 1.0, epochs=4)],
        "paired": [_pair("mlp", "better", 0.1), _pair("mlp", None, 0.1, epochs=4)],
    }
    assert headline(results) == "auroc best mlp 0.900 [0.850, 0.950] @ epochs=2; vs logreg: 1 better, 1 without interval"


def test_format_runs_puts_one_run_per_line_with_the_dirty_flag():
    row = {
        "run_id": "17", "started_at": "2026-01-01T00:00:00", "status": "failed", "experiment": "smoke",
        "contract": "order_independent", "config_hash": "abc", "commit": "0123456789abcdef", "dirty": True,
        "duration_seconds": 61.4, "resumed_from": None, "headline": "branch/7: RuntimeError: boom",
    }
    lines = format_runs([row, {**row, "run_id": "18", "resumed_from": "17", "status": "successful"}]).splitlines()
    assert lines[0].split() == ["RUN", "STARTED", "STATUS", "EXPERIMENT", "CONTRACT", "CONFIG", "COMMIT", "DURATION", "HEADLINE"]
    assert lines[1].split()[:8] == ["17", "2026-01-01T00:00:00", "failed", "smoke", "order_independent", "abc", "0123456789+dirty", "61s"]
    assert lines[2].endswith("[resume of 17] branch/7: RuntimeError: boom")


@pytest.fixture(scope="module")
def two_runs(smoke_run, tmp_path_factory):
    """A copy of the shared smoke datastore plus a second smoke run with ``training.lr=0.01`` in it."""
    from conftest import copy_datastore, run_smoke

    # A copy: the shared datastore holds the shared run only, for good.
    root = copy_datastore(smoke_run, tmp_path_factory.mktemp("history-datastore"))
    changed = run_smoke(root, "training.lr=0.01")
    return root, smoke_run.run.id, changed.run.id


def _cli(root, *args):
    return subprocess.run([sys.executable, "-m", "components.cli", *args], cwd=root, capture_output=True, text=True)


class _FakeRun:
    """Just enough of a client ``Run`` for :func:`experiment_of`: tags and the ``_parameters`` task's config."""

    def __init__(self, tags, config):
        self.tags = frozenset(tags)
        self.reads = 0
        self._config = config

    def __getitem__(self, step):
        assert step == "_parameters"
        self.reads += 1
        return type("Step", (), {"task": {"config": type("Artifact", (), {"data": self._config})()}})()


def test_experiment_of_reads_the_tag_and_falls_back_to_the_config():
    tagged = _FakeRun({"user:me", "experiment:smoke"}, {"experiment": {"name": "smoke"}})
    assert experiment_of(tagged) == "smoke" and tagged.reads == 0, "a tagged run's config is not loaded"
    untagged = _FakeRun({"user:me"}, {"experiment": {"name": "reference"}})
    assert experiment_of(untagged) == "reference" and untagged.reads == 1
    retagged = _FakeRun({"experiment:a", "experiment:b"}, {"experiment": {"name": "a"}})
    assert experiment_of(retagged) == "a", "two experiment tags (a manual edit) defer to the config"
    assert experiment_of(_FakeRun(set(), {})) is None


@pytest.fixture(scope="module")
def experiments(two_runs, tmp_path_factory):
    """``two_runs``' datastore (two ``smoke`` runs) copied, plus a newer run of experiment ``other``.

    The oldest smoke run loses its ``experiment:smoke`` tag, as a run launched
    before the shell tagged runs: it must still count as a smoke run.
    """
    from conftest import run_smoke

    source, first, second = two_runs
    root = tmp_path_factory.mktemp("experiments-datastore")
    shutil.copytree(source / ".metaflow", root / ".metaflow")
    # A renamed experiment has no review record of its own; this test run allows that explicitly.
    other = run_smoke(root, "experiment.name=other", review_allow=("all",)).run.id
    # Edited in place: Metaflow's own remove_tag rewrites the run's creation time too, making it the newest run.
    meta = root / ".metaflow" / "InvestigationFlow" / first / "_meta" / "_self.json"
    record = json.loads(meta.read_text())
    assert record["tags"] == ["experiment:smoke"]
    meta.write_text(json.dumps({**record, "tags": []}))
    return root, first, second, other


@pytest.mark.slow
def test_results_of_an_experiment_is_its_latest_run_never_a_newer_one_of_another(experiments):
    root, first, second, other = experiments
    latest = _cli(root, "results")
    assert latest.returncode == 0, latest.stderr
    assert latest.stdout.startswith(f"InvestigationFlow/{other} (experiment other, finished ")

    smoke = _cli(root, "results", "--experiment", "smoke")
    assert smoke.returncode == 0, smoke.stderr
    assert smoke.stdout.startswith(f"InvestigationFlow/{second} (experiment smoke, finished ")

    wrong = _cli(root, "results", "--run", other, "--experiment", "smoke")
    assert wrong.returncode == 2 and wrong.stdout == ""
    assert wrong.stderr == f"axisflow: error: run InvestigationFlow/{other} is experiment other, not smoke (drop --experiment or pick another run)\n"


@pytest.mark.slow
def test_runs_filters_by_experiment_and_reads_untagged_runs_from_their_config(experiments):
    root, first, second, other = experiments
    every = json.loads(_cli(root, "runs", "--format", "json").stdout)
    assert [(r["run_id"], r["experiment"]) for r in every] == [(other, "other"), (second, "smoke"), (first, "smoke")]
    smoke = json.loads(_cli(root, "runs", "--experiment", "smoke", "--format", "json").stdout)
    assert [r["run_id"] for r in smoke] == [second, first]
    header, *rows = _cli(root, "runs", "--experiment", "other").stdout.splitlines()
    column = header.split().index("EXPERIMENT")
    assert [(row.split()[0], row.split()[column]) for row in rows] == [(other, "other")]


@pytest.mark.slow
def test_diff_of_an_experiment_defaults_to_its_two_latest_runs(experiments):
    root, first, second, other = experiments
    both = json.loads(_cli(root, "diff", "--experiment", "smoke", "--format", "json").stdout)
    assert (both["a"], both["b"]) == (f"InvestigationFlow/{first}", f"InvestigationFlow/{second}")
    assert [c["key"] for c in both["config"]] == ["training.lr"]
    against_latest = json.loads(_cli(root, "diff", first, "--format", "json").stdout)
    assert against_latest["b"] == f"InvestigationFlow/{other}"
    assert [c["key"] for c in against_latest["config"]] == ["experiment.name"]

    lone = _cli(root, "diff", "--experiment", "other")
    assert lone.returncode == 2
    assert lone.stderr == "axisflow: error: experiment other has 1 successful run(s); diff needs two (or name RUN_A and RUN_B)\n"


@pytest.mark.slow
@pytest.mark.parametrize("command", [["results"], ["report"], ["runs"], ["diff"]])
def test_an_experiment_without_runs_is_a_one_line_error(experiments, command):
    root = experiments[0]
    out = _cli(root, *command, "--experiment", "nope")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == (
        "axisflow: error: --experiment nope: flow InvestigationFlow has no run of that experiment "
        "(experiments with runs: other, smoke)\n"
    )
    assert not list(root.glob("axisflow-report-*")), "nothing is written"


@pytest.mark.slow
def test_runs_lists_both_runs_newest_first_with_hash_commit_and_headline(two_runs):
    root, first, second = two_runs
    listed = _cli(root, "runs", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    ids = [row["run_id"] for row in rows]
    assert ids.index(second) < ids.index(first), "newest first"
    by_id = {row["run_id"]: row for row in rows}
    a, b = by_id[first], by_id[second]
    assert a["status"] == b["status"] == "successful" and a["experiment"] == b["experiment"] == "smoke"
    assert a["contract"] == "order_independent" and a["config_hash"] != b["config_hash"]
    assert b["overrides"] == ["experiment=smoke", "training.lr=0.01"]
    assert len(a["commit"]) == 40 and isinstance(a["dirty"], bool) and a["duration_seconds"] > 0
    assert a["headline"].startswith("auroc best ") and "vs logreg:" in a["headline"]

    table = _cli(root, "runs", "--limit", "1")
    assert table.returncode == 0 and len(table.stdout.strip().splitlines()) == 2
    assert table.stdout.splitlines()[1].startswith(second)


@pytest.mark.slow
def test_diff_names_the_changed_key_and_the_cells_it_moved(two_runs):
    root, first, second = two_runs
    out = _cli(root, "diff", first, second, "--format", "json")
    assert out.returncode == 0, out.stderr
    diff = json.loads(out.stdout)
    assert [(c["key"], c["old"], c["new"]) for c in diff["config"]] == [("training.lr", 0.001, 0.01)]
    assert diff["code"][0] == diff["code"][1] and diff["code"][0]["commit"]
    assert all(old == new for old, new in diff["packages"].values())
    assert diff["data"]["identical"] == diff["data"]["branches"][0] == 6, "the learning rate does not touch the data"
    moved = diff["cells"]["moved"]
    assert moved, "a 10x learning rate must move some MLP cells beyond their intervals"
    assert {m["method"] for m in moved} <= {"mlp", "mlp_early_stop"}, "logreg ignores training.lr: its cells are identical"

    text = _cli(root, "diff", first, f"InvestigationFlow/{second}")
    assert text.returncode == 0, text.stderr
    assert "  training.lr: 0.001 -> 0.01" in text.stdout
    assert f"cells: {len(moved)} of {diff['cells']['compared']} moved beyond both runs' confidence intervals" in text.stdout
    assert "packages: same (" in text.stdout


def test_diff_of_an_unknown_run_is_a_one_line_error(tmp_path):
    (tmp_path / ".metaflow").mkdir()
    out = _cli(tmp_path, "diff", "1", "2")
    assert out.returncode == 2 and out.stderr.startswith("axisflow: error: no run InvestigationFlow/1")
    assert len(out.stderr.strip().splitlines()) == 1


def test_format_diff_reports_missing_results_instead_of_cells():
    diff = {
        "a": "F/1", "b": "F/2", "config_hash": ["h", "h"], "config": [],
        "code": [{"commit": "c" * 40, "dirty": False, "diff_hash": None}] * 2,
        "packages": None, "platform": None, "data": None, "cells": None, "verdicts": None, "missing_results": ["F/2"],
    }
    text = format_diff(diff)
    assert "config: identical (hash h)" in text and "(same)" in text
    assert "results: F/2 has none (it did not finish successfully); cells not compared" in text


def test_compare_cells_counts_only_cells_both_runs_have():
    def cell(noise, mean):
        return {"axes": {"label_noise": noise}, "method": "mlp", "mean": mean, "ci_low": mean - 0.01, "ci_high": mean + 0.01}

    a = {"cells": [cell(0.0, 0.9), cell(0.2, 0.8)]}
    assert compare_cells(a, {"cells": [cell(0.2, 0.5), cell(0.4, 0.7)]})["compared"] == 1
    disjoint = compare_cells(a, {"cells": [cell(0.3, 0.5)]})
    assert disjoint == {"compared": 0, "moved": [], "emptied": [], "filled": []}
    diff = {
        "a": "F/1", "b": "F/2", "config_hash": ["h", "g"], "config": [],
        "code": [{"commit": "c" * 40, "dirty": False, "diff_hash": None}] * 2,
        "packages": None, "platform": None, "data": None, "cells": disjoint, "verdicts": [], "missing_results": [],
    }
    assert "cells: none in common (different axes or methods); nothing to compare" in format_diff(diff)


def test_cli_output_cut_short_by_a_closed_pipe_exits_quietly():
    """`axisflow results | head` must not end in a BrokenPipeError traceback."""
    code = (
        "import components.cli as cli\n"
        "def flood(args):\n"
        "    for _ in range(200_000):\n"
        "        print('x' * 80)\n"
        "    return 0\n"
        "cli._cmd_results = flood\n"
        "raise SystemExit(cli.main(['results']))\n"
    )
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"x" * 80
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and err == ""


def test_find_run_with_a_malformed_pathspec_is_one_line(tmp_path, monkeypatch):
    from components.outputs.runs import find_run

    monkeypatch.chdir(tmp_path)
    with pytest.raises(LookupError, match=r"^--run 'a/b/c' is neither a run id nor a Flow/run_id pathspec$"):
        find_run("InvestigationFlow", "a/b/c")
