"""Failure handling and crash recovery, end to end.

A planted one-time failure in one branch fails the run with a message naming
the branch, method and training axes (plus the original traceback) and pins
nothing; a run whose process group is SIGKILLed mid-fan-out leaves finished
branches behind. In both cases ``resume`` through the shell re-runs only the
unfinished branches (Metaflow clones the tasks that finished; a re-run task
takes the branches it had finished from the checkpoint store) and pins the same
output surface as an uninterrupted run (the shared ``smoke_run``), provenance aside.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import FLOW, ROOT

FAIL_ONCE_FLOW = ROOT / "tests" / "fixtures" / "failing" / "fail_once_flow.py"
PLANTED_BRANCH = "label_noise=0.3,seed=2"  # the last branch of experiment=smoke


def _surface(results) -> str:
    """The output surface without provenance, as canonical JSON (floats keep every digit)."""
    return json.dumps({k: v for k, v in results.items() if k != "provenance"}, sort_keys=True)


def _run(root: Path, pathspec: str):
    """The client Run ``pathspec`` in the datastore under ``root``.

    Metaflow's client keeps one local datastore root per process (every
    ``Runner`` result re-points it), so each read names its datastore first.
    """
    import metaflow

    metaflow.metadata(f"local@{root}")
    return metaflow.Run(pathspec, _namespace_check=False)


def _clean(smoke_run):
    """The uninterrupted run's output surface and branch count."""
    results = _run(smoke_run.datastore_root, smoke_run.run.pathspec)["end"].task.data.results
    return _surface(results), results["plan"]["branches"]


def _resume(flow_file: Path, root: Path, origin_id: str, env: dict[str, str] | None = None) -> tuple[str, str]:
    """Resume ``origin_id`` through the shell (no config value: resume reuses the original's): ``(run pathspec, output)``."""
    from metaflow import Runner

    with Runner(str(flow_file), cwd=str(root), env=env or {}) as runner:
        resumed = runner.resume(origin_run_id=origin_id, max_workers=2)
        if resumed.status != "successful":
            pytest.fail(f"resume failed ({resumed.status}):\n{resumed.stdout}\n{resumed.stderr}")
        return resumed.run.pathspec, resumed.stdout + resumed.stderr


def _split_clones(run):
    """Branch tasks of a resumed run: (cloned origin task ids, branch keys taken from the failed task, keys executed again).

    A task runs one or more branches (``experiment.branches_per_task``): a task
    ``resume`` re-ran takes the branches its failed original finished from the
    checkpoint store (their record says ``timing.resumed_from``) and runs the rest.
    """
    cloned, restored, executed = set(), [], []
    for task in run["branch"]:
        if task.origin_pathspec:
            cloned.add(task.origin_pathspec.rsplit("/", 1)[-1])
            continue
        for record in task["branch_records"].data:
            (restored if "resumed_from" in record["timing"] else executed).append(record["key"])
    return cloned, sorted(restored), sorted(executed)


def _finished_branch_tasks(run) -> dict[str, list[str]]:
    """Task id -> branch keys of every branch task of ``run`` that completed successfully."""
    return {t.id: [r["key"] for r in t["branch_records"].data] for t in run["branch"] if t.finished and t.successful}


@pytest.mark.slow
def test_planted_branch_failure_is_named_pins_nothing_and_resume_reruns_only_unfinished_branches(smoke_run, tmp_path):
    from components.outputs.runs import run_flow

    clean, total = _clean(smoke_run)
    marker = tmp_path / "planted.json"
    marker.write_text(json.dumps({"branch": PLANTED_BRANCH, "method": "mlp"}))
    env = {"AXISFLOW_PLANTED_FAILURE": str(marker)}
    root = tmp_path / "datastore"
    with run_flow(FAIL_ONCE_FLOW, ["experiment=smoke"], datastore_root=root, env=env) as failed:
        status, output, origin = failed.status, failed.stdout + failed.stderr, _run(root, failed.run.pathspec)

    assert status == "failed"
    assert f"branch {PLANTED_BRANCH}, method mlp, training axes epochs=2: FloatingPointError: planted failure" in output
    # Metaflow prints the chained original traceback too: the planted trainer's frame and the chain marker.
    assert "planted_trainer" in output and "direct cause of the following exception" in output
    assert not marker.exists(), "the planted failure fires once"
    # Nothing reached the output surface: the end step never ran.
    assert not origin.successful and "end" not in {step.id for step in origin}

    finished = _finished_branch_tasks(origin)
    assert PLANTED_BRANCH not in {key for keys in finished.values() for key in keys}
    pathspec, output = _resume(FAIL_ONCE_FLOW, root, origin.id, env)
    resumed = _run(root, pathspec)
    cloned, restored, executed = _split_clones(resumed)
    assert cloned == set(finished), "exactly the tasks that finished were cloned"
    # Only the failed branch is computed again: the others finished in a cloned task, or in the failed task before it failed.
    assert executed == [PLANTED_BRANCH]
    assert len(restored) + sum(len(finished[t]) for t in cloned) == total - 1 and PLANTED_BRANCH not in restored
    for key in restored:
        assert f"[{key}] finished before its task stopped; taken from the run being resumed" in output
    # The resumed run's join cleared what the stopped run's tasks saved, and what its own tasks saved.
    saved_blobs = list((root / ".metaflow").rglob("axisflow-checkpoints/finished-*"))
    assert saved_blobs and all(blob.stat().st_size == 0 for blob in saved_blobs)

    results = resumed["end"].task.data.results
    assert _surface(results) == clean
    assert results["provenance"]["resumed_from"] == origin.id
    assert "experiment:smoke" in resumed.tags, "the shell tags a resumed run with its original's experiment"
    assert results["provenance"]["resume_git"]["commit"] == results["provenance"]["git"]["commit"]


_STARTED = re.compile(r"/branch/(\d+) \(pid \d+\)\] \[([^\]]+)\] branch \d+/\d+ started")


def _launch_and_kill_in_a_task(root: Path, deadline_seconds: float = 1200) -> tuple[str, set[str]]:
    """Start a smoke run as its own process group; SIGKILL the group once a task has started its second branch.

    Returns the killed run's id and the branches its output shows finished and
    saved: in a task, a branch is saved before the next one starts.
    """
    value = json.dumps({"overrides": ["experiment=smoke"]})
    run_id_file = root / "run-id"
    command = [sys.executable, str(FLOW), "--config-value", "config", value, "run", "--max-workers", "2", "--run-id-file", str(run_id_file)]
    proc = subprocess.Popen(
        command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout] + [lines.put(None)], daemon=True).start()
    seen, started, deadline = [], {}, time.monotonic() + deadline_seconds
    try:
        while max(map(len, started.values()), default=0) < 2:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.1))
            if line is None:
                pytest.fail("the run ended before it could be killed:\n" + "".join(seen))
            seen.append(line)
            if match := _STARTED.search(line):
                started.setdefault(match.group(1), []).append(match.group(2))
    except queue.Empty:
        pytest.fail("timed out waiting for a task's second branch:\n" + "".join(seen))
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return run_id_file.read_text().strip(), {key for keys in started.values() for key in keys[:-1]}


@pytest.mark.slow
def test_sigkilled_run_resumes_without_recomputing_finished_branches(smoke_run, tmp_path):
    clean, total = _clean(smoke_run)
    origin_id, saved = _launch_and_kill_in_a_task(tmp_path)
    pathspec, output = _resume(FLOW, tmp_path, origin_id)
    resumed = _run(tmp_path, pathspec)
    origin = _run(tmp_path, f"InvestigationFlow/{origin_id}")
    finished = _finished_branch_tasks(origin)
    assert saved and not origin.successful

    cloned, restored, executed = _split_clones(resumed)
    assert cloned == set(finished), "every task that finished before the kill was cloned"
    # A branch finished in a killed task is taken from the checkpoint store, not recomputed.
    assert saved <= set(restored), f"saved before the kill: {sorted(saved)}; taken after it: {restored}"
    done_before = set(restored) | {key for t in cloned for key in finished[t]}
    assert len(done_before) + len(executed) == total and not done_before & set(executed)
    for key in restored:
        assert f"[{key}] finished before its task stopped; taken from the run being resumed" in output
    # The resumed run's join cleared what the stopped run's tasks saved, and what its own tasks saved.
    saved_blobs = list((tmp_path / ".metaflow").rglob("axisflow-checkpoints/finished-*"))
    assert saved_blobs and all(blob.stat().st_size == 0 for blob in saved_blobs)

    results = resumed["end"].task.data.results
    assert _surface(results) == clean
    assert results["provenance"]["resumed_from"] == origin_id

    # The run history shows the killed run as unfinished and the resume as its continuation.
    listed = subprocess.run(
        [sys.executable, "-m", "components.cli", "runs", "--format", "json"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    rows = {row["run_id"]: row for row in json.loads(listed.stdout)}
    assert rows[origin_id]["status"] == "unfinished" and rows[origin_id]["headline"] == "no results"
    assert rows[resumed.id]["status"] == "successful" and rows[resumed.id]["resumed_from"] == origin_id


# --- A resume refuses when what the arms depend on changed since the original run ------------------------------


def _resume_against(origin_inputs, monkeypatch, capsys, overrides=("experiment=sample_size_smoke",)):
    """``prepare_argv`` for ``resume`` of a run launched with ``overrides`` and ``origin_inputs`` recorded."""
    from components import shell

    origin = {"experiment": {"name": "sample_size_smoke", "contract": "order_independent"},
              "axisflow": {"overrides": list(overrides), "git": {}, **({"inputs": origin_inputs} if origin_inputs is not None else {})}}
    monkeypatch.setattr(shell, "_origin_config", lambda flow_file, after: origin)
    monkeypatch.setattr(shell, "_lint_gate", lambda flow_file, allow: {"verdict": "clean"})
    with pytest.raises(SystemExit) as exited:
        shell.prepare_argv([str(FLOW), "resume", "--origin-run-id", "7"], str(FLOW))
    return exited.value.code, capsys.readouterr().err.strip().splitlines()


def _inputs(*overrides):
    from components.engine.reuse import launch_inputs
    from components.spec.config import load_spec

    return launch_inputs(load_spec(list(overrides))[1])


def test_resume_after_a_generator_edit_is_refused_in_one_line(monkeypatch, capsys):
    recorded = _inputs("experiment=sample_size_smoke")
    recorded["code"]["components/investigations/sample_size/data.py"] = "0" * 16  # the generator the original ran
    code, lines = _resume_against(recorded, monkeypatch, capsys)
    assert code == 2
    assert lines[-1] == (
        "axisflow: error: resume refused: code changed (components/investigations/sample_size/data.py) since the original run; "
        "start a new run (finished arms are reused)"
    )


def test_resume_after_a_table_or_lock_change_is_refused(monkeypatch, capsys, tmp_path):
    import shutil

    table = tmp_path / "table.csv"
    shutil.copy2(ROOT / "data" / "breast_cancer.csv", table)
    overrides = ("experiment=tabular_cv_smoke", f"data.path={table}")
    recorded = _inputs(*overrides)
    table.write_text(table.read_text().replace("\n", "\r\n"))
    code, lines = _resume_against(recorded, monkeypatch, capsys, overrides)
    assert code == 2 and lines[-1].startswith(f"axisflow: error: resume refused: data file {table} changed (sha256 ")
    code, lines = _resume_against({**_inputs(*overrides), "lock": "uv.lock:0000"}, monkeypatch, capsys, overrides)
    assert code == 2 and lines[-1].startswith("axisflow: error: resume refused: uv.lock changed since the original run")
    code, lines = _resume_against(None, monkeypatch, capsys, overrides)
    assert code == 2 and "the original run recorded no input hashes" in lines[-1]
