"""``axisflow new``: a scaffolded investigation lints clean, passes its own test, and (once reviewed) runs to a results table.

Each end-to-end test works in a copy of the repository and launches from a
process started in the copy (see :func:`conftest.run_in_copy`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components.gates.review import TRAPS
from conftest import run_in_copy
from components.gates.scaffold import TASKS, ScaffoldError, plan_files, scaffold

ROOT = Path(__file__).resolve().parents[1]
IGNORED = (".git", ".venv", ".metaflow", "__pycache__", ".pytest_cache")
ENV = {**os.environ, "METAFLOW_USER": os.environ.get("METAFLOW_USER", "axisflow-tests")}


def _copy(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(*IGNORED))
    return repo


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not any(part in IGNORED for part in p.relative_to(root).parts)
    }


def _run(repo: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` in the copy, so its own ``components`` (cwd first on sys.path) is the one imported."""
    return subprocess.run([sys.executable, *args], cwd=repo, env=ENV, capture_output=True, text=True, timeout=timeout)


def _record_review(repo: Path, experiment: str) -> None:
    verdicts = [f"--verdict={trap}=pass:checked the scaffold's declarations for {trap}" for trap in TRAPS]
    out = _run(repo, "-m", "components.cli", "review", f"experiment={experiment}", "--record", "--reviewer", "test", *verdicts)
    assert out.returncode == 0, out.stderr


def _error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("axisflow: error:")]


def test_scaffold_writes_only_the_investigation_folder_its_configs_and_its_test():
    for task in TASKS:
        paths = plan_files("soil_moisture", task)
        assert all(
            p.startswith(("components/investigations/soil_moisture/", "configs/")) or p == "tests/test_soil_moisture.py" for p in paths
        )
        assert {"configs/experiment/soil_moisture.yaml", "configs/experiment/soil_moisture_smoke.yaml"} <= set(paths)


@pytest.mark.parametrize("name", ["Bad-Name", "1st", "class", "x", "reference", "probe_smoke", "a" * 41, "evil\n", "a/b"])
def test_a_bad_name_is_rejected_with_one_line_and_nothing_written(name):
    before = _digest(ROOT / "configs")
    out = _run(ROOT, "-m", "components.cli", "new", name, "--task", "binary")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith(f"axisflow: error: investigation name {name!r} must be")
    assert _digest(ROOT / "configs") == before


def test_an_unknown_task_is_rejected_with_one_line():
    out = _run(ROOT, "-m", "components.cli", "new", "probe", "--task", "ordinal")
    assert out.returncode == 2 and out.stderr == "axisflow: error: --task 'ordinal' is not a task axisflow new scaffolds; choose one of binary, multiclass, regression\n"


def _skeleton(tmp_path: Path) -> Path:
    """The two things ``scaffold`` needs to recognise an axisflow repository, and nothing else."""
    repo = tmp_path / "repo"
    (repo / "configs" / "experiment").mkdir(parents=True)
    (repo / "configs" / "config.yaml").write_text("defaults: []\n")
    (repo / "components" / "investigations").mkdir(parents=True)
    return repo


def _files(repo: Path) -> list[str]:
    return sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file() or p.is_symlink())


@pytest.mark.parametrize("name", ["evil\n", "evil\r", "a/b", "../escape", "probe.x", "import", "match\x00", "ünï", " probe", "probe "])
def test_a_name_that_is_not_a_plain_identifier_writes_nothing(tmp_path, name):
    repo = _skeleton(tmp_path)
    with pytest.raises(ScaffoldError, match=r"^investigation name '.*' must be") as caught:
        scaffold(name, "binary", root=repo)
    assert "\n" not in str(caught.value) and "\x00" not in str(caught.value)
    assert _files(repo) == ["configs/config.yaml"] and not (tmp_path / "escape").exists()


def test_a_scaffold_that_fails_part_way_leaves_no_file_behind(tmp_path, monkeypatch):
    from components.gates import scaffold as module

    repo, real, count = _skeleton(tmp_path), module.atomic_write, [0]

    def full_disk_on_the_fourth(path, data):
        count[0] += 1
        if count[0] == 4:
            raise OSError(28, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(module, "atomic_write", full_disk_on_the_fourth)
    with pytest.raises(OSError, match="No space left"):
        scaffold("probe", "binary", root=repo)
    assert _files(repo) == ["configs/config.yaml"] and not (repo / "components" / "investigations" / "probe").exists()
    monkeypatch.setattr(module, "atomic_write", real)
    assert len(scaffold("probe", "binary", root=repo)) == len(plan_files("probe", "binary"))


def test_scaffold_never_overwrites_even_a_dangling_symlink(tmp_path):
    repo = _skeleton(tmp_path)
    (repo / "configs" / "experiment" / "probe.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    with pytest.raises(ScaffoldError, match=r"^configs/experiment/probe.yaml already exists"):
        scaffold("probe", "binary", root=repo)
    assert not (tmp_path / "elsewhere.yaml").exists() and _files(repo) == ["configs/config.yaml", "configs/experiment/probe.yaml"]


def test_scaffold_never_overwrites(tmp_path):
    repo = _skeleton(tmp_path)
    (repo / "configs" / "experiment" / "probe_smoke.yaml").write_text("# someone else's\n")
    with pytest.raises(ScaffoldError, match=r"^configs/experiment/probe_smoke.yaml already exists; axisflow new never overwrites"):
        scaffold("probe", "regression", root=repo)
    assert sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()) == [
        "configs/config.yaml", "configs/experiment/probe_smoke.yaml",
    ]
    (repo / "configs" / "experiment" / "probe_smoke.yaml").unlink()
    scaffold("probe", "regression", root=repo)
    with pytest.raises(ScaffoldError, match=r"^components/investigations/probe/ already exists"):
        scaffold("probe", "binary", root=repo)


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_scaffolded_investigation_lints_passes_its_test_and_runs_to_a_results_table_once_reviewed(tmp_path, task):
    from components.outputs.query import format_table

    repo = _copy(tmp_path)
    name = f"probe_{task}"
    before = _digest(repo)
    out = _run(repo, "-m", "components.cli", "new", name, "--task", task)
    assert out.returncode == 0, out.stderr
    after = _digest(repo)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert changed == sorted(plan_files(name, task)), "only the investigation's folder, its configs and its test"

    lint = _run(repo, "-m", "lint", "flows", "components")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    # One process (-n 0): the generated test is a handful of quick checks, and two xdist workers would each import everything.
    tested = _run(repo, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", f"tests/test_{name}.py")
    assert tested.returncode == 0, tested.stdout[-3000:]
    assert " passed" in tested.stdout.splitlines()[-1] and "skipped" not in tested.stdout.splitlines()[-1]

    refused = _run(repo, "flows/investigation.py", "run", f"experiment={name}_smoke", timeout=300)
    assert refused.returncode == 2
    (line,) = _error_lines(refused.stderr)
    assert line.startswith(f"axisflow: error: experiment {name}_smoke has no review record (reviews/{name}_smoke.yaml)")
    assert not (repo / ".metaflow").exists()

    _record_review(repo, f"{name}_smoke")
    run = run_in_copy(repo, [f"experiment={name}_smoke"], tmp_path / "store")
    assert run["status"] == "successful", run["output"][-3000:]
    results = run["results"]
    assert results["experiment"] == f"{name}_smoke" and results["task"] == task
    assert results["provenance"]["review"]["verdict"] == "reviewed"
    table = format_table(results, "table")
    assert f"{name}_baseline" in table and f"{name}_mlp" in table
    low, high = {"binary": (0.0, 1.0), "multiclass": (0.0, 1.0), "regression": (0.0, float("inf"))}[task]
    assert {c["method"] for c in results["cells"]} == {f"{name}_baseline", f"{name}_mlp"}
    assert all(low <= c["mean"] <= high for c in results["cells"])


@pytest.mark.slow
def test_scaffolded_experiment_review_goes_stale_on_fidelity_facts_only_and_an_allowed_launch_records_the_override(tmp_path):
    repo = _copy(tmp_path)
    assert _run(repo, "-m", "components.cli", "new", "probe", "--task", "regression").returncode == 0
    _record_review(repo, "probe_smoke")

    for override, trap in (("experiment.axes.data.noise=[0.1]", "axes_vs_source"), ("training.reshuffle=once", "reshuffle_symmetry")):
        refused = _run(repo, "flows/investigation.py", "run", "experiment=probe_smoke", override, timeout=300)
        assert refused.returncode == 2, refused.stderr
        (line,) = _error_lines(refused.stderr)
        assert line.startswith("axisflow: error: experiment probe_smoke: facts changed since the review in reviews/probe_smoke.yaml")
        assert f" {trap} (" in line and line.endswith(f"--review-allow {trap}")
    assert not (repo / ".metaflow").exists()

    assert _launch_review(repo, "experiment=probe_smoke", "training.lr=0.01")["verdict"] == "reviewed"
    # The launch records the override in the config every task reads, and the run's provenance carries that block
    # (its way into a finished run's results is checked on the shipped smoke run).
    review = _launch_review(repo, "experiment=probe_smoke", "training.reshuffle=once", "--review-allow", "reshuffle_symmetry")
    assert review["verdict"] == "overridden" and review["allowed"] == ["reshuffle_symmetry"]
    assert review["unreviewed"] == ["reshuffle_symmetry"] and review["record"] == "reviews/probe_smoke.yaml"
    assert review["provenance"] == {k: v for k, v in review.items() if k != "provenance"}


#: Prints the review block a launch of the copy's flow with ``sys.argv[1:]`` would record, and the run provenance built from it.
_LAUNCH_REVIEW = (
    "import json, sys; from components.shell import LAUNCH_KEY, parse_config, prepare_argv; "
    "from components.engine.provenance import run_provenance; "
    "argv = prepare_argv(['flows/investigation.py', 'run', *sys.argv[1:]], 'flows/investigation.py'); "
    "config = parse_config(argv[argv.index('--config-value') + 2]); "
    "review = config[LAUNCH_KEY]['review']; "
    "print(json.dumps({**review, 'provenance': run_provenance(config, [], flow='InvestigationFlow', run_id='1')['review']}))"
)


def _launch_review(repo: Path, *args: str) -> dict:
    """The review block of a launch in the copy (no task starts), with ``provenance``: the same block as the run records it."""
    out = _run(repo, "-c", _LAUNCH_REVIEW, *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])
