"""The suite's own machinery: a session fixture built once for all pytest-xdist workers, and the ``ci_only`` stage.

``conftest.shared_across_workers`` builds a finished run once per session
whichever worker asks first; tests marked ``ci_only`` are left out of the
README's command for time and must still run in CI.
"""

from __future__ import annotations

import shlex
import threading
import time
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import ROOT, FinishedRun, shared_across_workers


class _Factory:
    """Just enough of pytest's ``tmp_path_factory``: the session's (or a worker's) temp folder."""

    def __init__(self, basetemp: Path):
        self.basetemp = basetemp

    def getbasetemp(self) -> Path:
        return self.basetemp


def _worker(session: Path, name: str) -> tuple[_Factory, SimpleNamespace]:
    """A worker as xdist starts one: its temp folder inside the session's, ``workerinput`` on its config."""
    (session / name).mkdir(parents=True, exist_ok=True)
    return _Factory(session / name), SimpleNamespace(workerinput={"workerid": name})


def _builder(calls: list[Path], seconds: float = 0.0):
    def build(root: Path) -> FinishedRun:
        calls.append(root)
        time.sleep(seconds)
        running = SimpleNamespace(run=SimpleNamespace(pathspec="InvestigationFlow/7"), status="successful", stdout="out", stderr="err")
        return FinishedRun(running, root)
    return build


def test_two_workers_of_one_session_build_once_and_read_the_same_run(tmp_path):
    calls: list[Path] = []
    results = {}

    def ask(worker: str) -> None:
        results[worker] = shared_across_workers(*_worker(tmp_path, worker), "store", _builder(calls, seconds=0.3))

    threads = [threading.Thread(target=ask, args=(w,)) for w in ("popen-gw0", "popen-gw1")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [tmp_path / "store"]
    assert {(r.pathspec, r.status, r.stdout, r.stderr, r.datastore_root) for r in results.values()} == {
        ("InvestigationFlow/7", "successful", "out", "err", tmp_path / "store")
    }


def test_without_xdist_the_session_temp_folder_is_used_even_if_the_environment_names_a_worker(tmp_path, monkeypatch):
    # A pytest started from inside a worker's test inherits PYTEST_XDIST_WORKER; the parent folder is not its own.
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    session = tmp_path / "pytest-1"
    session.mkdir()
    calls: list[Path] = []
    shared_across_workers(_Factory(session), SimpleNamespace(), "store", _builder(calls))
    assert calls == [session / "store"] and not list(tmp_path.glob("store*"))


def test_a_build_that_failed_in_one_worker_fails_the_others_at_once_naming_the_fixture(tmp_path):
    def broken(root: Path) -> FinishedRun:
        raise RuntimeError("smoke run failed")

    with pytest.raises(RuntimeError, match="smoke run failed"):
        shared_across_workers(*_worker(tmp_path, "popen-gw0"), "store", broken)
    calls: list[Path] = []
    with pytest.raises(pytest.fail.Exception, match=r"^the shared fixture store failed in another worker: RuntimeError: smoke run failed$"):
        shared_across_workers(*_worker(tmp_path, "popen-gw1"), "store", _builder(calls))
    assert calls == []


def test_ci_only_tests_are_left_out_of_the_readme_command_and_run_as_a_stage_of_ci():
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    addopts = shlex.split(options["addopts"])
    assert addopts[addopts.index("-m") + 1] == "not ci_only"
    assert any(marker.startswith("ci_only:") for marker in options["markers"])
    stages = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert stages.index("uv run pytest") < stages.index("uv run pytest -m ci_only")
