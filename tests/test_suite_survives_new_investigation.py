"""A researcher's investigation never breaks the project's own test suite.

``axisflow new`` (a multiclass question on a dataset that ships in
scikit-learn) in a copy of the repository; then the whole non-slow suite of
that copy -- the framework's tests and the investigation's own generated test --
must pass, because every test that enumerates experiments reads them from the
configs; and the investigation, once reviewed, runs to a results table, to
which a secondary metric is then added without retraining or a new review.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from components.gates.review import TRAPS
from conftest import run_in_copy

ROOT = Path(__file__).resolve().parents[1]
IGNORED = (".git", ".venv", ".metaflow", "__pycache__", ".pytest_cache")


# It runs the whole non-slow suite a second time (minutes on two cores): CI runs it as a stage of its own.
@pytest.mark.ci_only
@pytest.mark.slow
def test_the_non_slow_suite_passes_in_a_copy_with_a_scaffolded_loader_investigation_which_then_runs(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(*IGNORED))
    env = {**os.environ, "METAFLOW_USER": os.environ.get("METAFLOW_USER", "axisflow-tests")}

    def run(*args: str, timeout: int) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], cwd=repo, env=env, capture_output=True, text=True, timeout=timeout)

    new = run("-m", "components.cli", "new", "digits_day", "--task", "multiclass", "--loader", "sklearn.datasets.load_digits", timeout=300)
    assert new.returncode == 0, new.stderr

    report = tmp_path / "suite.xml"
    suite = run("-m", "pytest", "-m", "not slow", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", timeout=3600)
    assert suite.returncode == 0, suite.stdout[-4000:] + suite.stderr[-2000:]
    own = [case for case in ElementTree.parse(report).getroot().iter("testcase") if "test_digits_day" in case.get("classname", "")]
    # The investigation's own generated tests ran in that suite, and none failed or was skipped.
    assert len(own) >= 4 and not any(len(case) for case in own), [ElementTree.tostring(c)[:300] for c in own]

    verdicts = [f"--verdict={trap}=pass:checked the scaffold's declarations for {trap}" for trap in TRAPS]
    review = run("-m", "components.cli", "review", "experiment=digits_day_smoke", "--record", "--reviewer", "test", *verdicts, timeout=300)
    assert review.returncode == 0, review.stderr
    result = run_in_copy(repo, ["experiment=digits_day_smoke"], tmp_path / "store")
    assert result["status"] == "successful", result["output"][-3000:]
    results = result["results"]
    assert results["task"] == "multiclass" and results["dataset"]["loader"] == "sklearn.datasets.load_digits"
    assert results["dataset"]["rows"] == 1797 and len(results["dataset"]["sha256"]) == 64
    assert {c["method"] for c in results["cells"]} == {"digits_day_baseline", "digits_day_mlp"}
    assert all(0.0 <= c["mean"] <= 1.0 for c in results["cells"])

    # A second metric on the finished run: every arm is reused and rescored from its stored predictions, no new review.
    added = "+experiment.secondary_metrics.macro_f1={_target_:components.library.metrics.macro_f1}"
    again = run_in_copy(repo, ["experiment=digits_day_smoke", added], tmp_path / "store")
    assert again["status"] == "successful", again["output"][-3000:]
    second = again["results"]
    assert second["provenance"]["reuse"]["reused"] == second["provenance"]["reuse"]["arms"] > 0
    assert second["provenance"]["review"]["verdict"] == "reviewed"
    assert repr(second["cells"]) == repr(results["cells"])
    f1 = second["secondary"]["macro_f1"]
    assert [(c["method"], c["n"]) for c in f1["cells"]] == [(c["method"], c["n"]) for c in results["cells"]]
    assert all(0.0 <= c["mean"] <= 1.0 for c in f1["cells"])
