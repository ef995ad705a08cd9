"""Provenance: git state (on temporary repositories), launch capture in the shell, the ``results["provenance"]`` block."""

from __future__ import annotations

import json
import os
import re
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from components import shell

from components.engine import provenance
from components.engine.provenance import dirty_warning, durations, git_state, parse_resume_tag, resume_tag, run_provenance

ROOT = Path(__file__).resolve().parents[1]


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """A git repository with one commit holding ``flow.py`` and a ``.gitignore`` for ``*.log``."""
    _git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "flow.py").write_text("print('v1')\n")
    (tmp_path / ".gitignore").write_text("*.log\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


def test_git_state_of_a_clean_checkout_names_the_commit(repo):
    state = git_state(repo / "flow.py")
    assert state["commit"] == _git(repo, "rev-parse", "HEAD")
    assert state["branch"] == "main"
    assert state["dirty"] is False and state["diff_hash"] is None and state["changed"] == []
    assert dirty_warning(state) is None


def test_git_state_detects_a_modified_tracked_file_and_hashes_the_diff(repo):
    (repo / "flow.py").write_text("print('v2')\n")
    state = git_state(repo)
    assert state["dirty"] is True and state["changed"] == ["flow.py"] and state["changed_count"] == 1
    assert re.fullmatch(r"[0-9a-f]{16}", state["diff_hash"])
    assert git_state(repo)["diff_hash"] == state["diff_hash"], "the same edit must hash the same"
    (repo / "flow.py").write_text("print('v3')\n")
    assert git_state(repo)["diff_hash"] != state["diff_hash"], "a different edit must hash differently"
    (repo / "flow.py").write_text("print('v1')\n")
    assert git_state(repo)["dirty"] is False


def test_git_state_counts_staged_and_untracked_files_but_not_ignored_ones(repo):
    (repo / "run.log").write_text("ignored\n")
    assert git_state(repo)["dirty"] is False
    (repo / "new_component.py").write_text("x = 1\n")
    untracked = git_state(repo)
    assert untracked["dirty"] is True and untracked["changed"] == ["new_component.py"]
    (repo / "new_component.py").write_text("x = 2\n")
    assert git_state(repo)["diff_hash"] != untracked["diff_hash"], "untracked contents are part of the hash"
    _git(repo, "add", "new_component.py")
    assert git_state(repo)["dirty"] is True


def test_git_state_outside_a_checkout_says_why(tmp_path):
    state = git_state(tmp_path)
    assert state["commit"] is None and "not inside a git checkout" in state["reason"]
    assert "no git commit recorded" in dirty_warning(state)


def test_dirty_warning_names_the_files_commit_and_diff_hash(repo):
    (repo / "flow.py").write_text("print('v2')\n")
    state = git_state(repo)
    warning = dirty_warning(state)
    assert warning.startswith("axisflow: warning: the checkout has uncommitted changes (flow.py)")
    assert state["commit"][:12] in warning and state["diff_hash"] in warning


def test_resume_tag_round_trips_and_fits_metaflow_tag_rules(repo):
    clean = git_state(repo)
    assert parse_resume_tag(["other", resume_tag(clean)]) == {"commit": clean["commit"], "dirty": False, "diff_hash": None}
    (repo / "flow.py").write_text("print('v2')\n")
    dirty = git_state(repo)
    assert parse_resume_tag([resume_tag(dirty)]) == {"commit": dirty["commit"], "dirty": True, "diff_hash": dirty["diff_hash"]}
    assert len(resume_tag(dirty)) < 500
    assert parse_resume_tag(["user:x"]) is None


def test_package_versions_cover_the_stack_and_match_installed_metadata():
    versions = provenance.package_versions()
    assert set(versions) >= {"python", "metaflow", "torch", "numpy", "scipy", "hydra-core"}
    for name in ("metaflow", "torch", "numpy", "scipy", "hydra-core"):
        assert versions[name] == metadata.version(name)
    assert provenance.package_versions(["no-such-distribution-axf"])["no-such-distribution-axf"] is None


def test_package_versions_record_every_declared_dependency():
    """scikit-learn was missing: the recorded stack is the project's declared dependencies, not a second list."""
    import tomllib
    from pathlib import Path

    declared = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.match(r"[A-Za-z0-9._-]+", req).group(0) for req in declared}
    versions = provenance.package_versions()
    assert {"scikit-learn", "torch", "metaflow", "pyarrow"} <= names <= set(versions)
    assert versions["scikit-learn"] == metadata.version("scikit-learn")


def test_durations_split_the_run_into_phases_and_branches():
    records = [
        {"key": "a", "timing": {"started_at": 110.0, "finished_at": 130.0, "branch_seconds": 15.5}},
        {"key": "b", "timing": {"started_at": 112.0, "finished_at": 150.0, "branch_seconds": 30.25}},
    ]
    out = durations(100.0, 160.0, records)
    assert out == {
        "wall_seconds": 60.0,
        "before_fan_out_seconds": 10.0,
        "fan_out_seconds": 40.0,
        "after_fan_out_seconds": 10.0,
        "branch_seconds": {"a": 15.5, "b": 30.25},
    }
    assert durations(None, 160.0, [])["wall_seconds"] is None


def _launch_config(git):
    return {
        "experiment": {"name": "smoke", "contract": "order_independent"},
        shell.LAUNCH_KEY: {"overrides": ["experiment=smoke"], "config_hash": "abc", "lint": {"verdict": "clean"}, "git": git},
    }


def test_run_provenance_holds_every_field_and_no_environment(monkeypatch, repo):
    monkeypatch.setenv("AXF_TEST_SECRET_TOKEN", "s3cr3t-value-that-must-not-leak")
    git = git_state(repo)
    prov = run_provenance(_launch_config(git), [], flow="F", run_id="7", user="u", started_at=1000.0, ended_at=1012.5)
    assert prov["schema"] == provenance.SCHEMA
    assert (prov["flow"], prov["run_id"], prov["experiment"], prov["contract"]) == ("F", "7", "smoke", "order_independent")
    assert prov["config_hash"] == "abc" and prov["overrides"] == ["experiment=smoke"]
    assert prov["lint"] == {"verdict": "clean"}
    assert prov["git"]["commit"] == git["commit"] and prov["git"]["captured_at"] == "launch"
    assert prov["started_at"] == "1970-01-01T00:16:40.000+00:00" and prov["durations"]["wall_seconds"] == 12.5
    assert prov["resumed_from"] is None and "resume_git" not in prov
    assert set(prov["packages"]) >= {"python", "torch", "hydra-core"} and prov["platform"]["system"]
    assert "s3cr3t" not in json.dumps(prov)


def test_run_provenance_of_a_resume_records_the_resuming_checkout(repo):
    git = git_state(repo)
    same = run_provenance(_launch_config(git), [], flow="F", run_id="8", origin_run_id="7", tags=[resume_tag(git)])
    assert same["resumed_from"] == "7" and same["resume_git"]["commit"] == git["commit"]
    assert same["code_changed_on_resume"] is False
    (repo / "flow.py").write_text("print('v2')\n")
    changed = run_provenance(_launch_config(git), [], flow="F", run_id="9", origin_run_id="7", tags=[resume_tag(git_state(repo))])
    assert changed["code_changed_on_resume"] is True


def test_parse_config_carries_the_launch_git_state_outside_the_config_hash():
    state = {"commit": "f" * 40, "dirty": False, "diff_hash": None}
    with_git = shell.parse_config(json.dumps({"overrides": ["experiment=smoke"], "git": state}))
    without = shell.parse_config(json.dumps({"overrides": ["experiment=smoke"]}))
    assert with_git[shell.LAUNCH_KEY]["git"] == state
    assert without[shell.LAUNCH_KEY]["git"]["commit"] is None
    assert with_git[shell.LAUNCH_KEY]["config_hash"] == without[shell.LAUNCH_KEY]["config_hash"]


def _copy_flow(repo: Path) -> Path:
    flow = repo / "flow.py"
    flow.write_text('"""A trivial flow file the lint gate accepts."""\n')
    _git(repo, "add", "flow.py")
    _git(repo, "commit", "-q", "-m", "flow")
    return flow


def test_prepare_argv_captures_git_at_launch_and_warns_when_dirty(repo, capsys):
    flow = _copy_flow(repo)
    argv = shell.prepare_argv(["flow.py", "run", "experiment=smoke"], str(flow))
    value = json.loads(argv[argv.index("--config-value") + 2])
    assert value["git"]["commit"] == _git(repo, "rev-parse", "HEAD") and value["git"]["dirty"] is False
    assert "warning" not in capsys.readouterr().err

    (repo / "scratch.py").write_text("x = 1\n")
    argv = shell.prepare_argv(["flow.py", "run", "experiment=smoke"], str(flow))
    value = json.loads(argv[argv.index("--config-value") + 2])
    assert value["git"]["dirty"] is True and value["git"]["changed"] == ["scratch.py"]
    assert "uncommitted changes (scratch.py)" in capsys.readouterr().err


def test_prepare_argv_resume_tags_the_checkout_and_refuses_overrides(repo, monkeypatch, capsys):
    flow = _copy_flow(repo)
    monkeypatch.setattr(shell, "_origin_config", lambda flow_file, after: None)
    argv = shell.prepare_argv(["flow.py", "resume", "--origin-run-id", "12"], str(flow))
    assert argv[-2:] == ["--tag", resume_tag(git_state(repo))]
    assert "--config-value" not in argv
    with pytest.raises(SystemExit) as exit_info:
        shell.prepare_argv(["flow.py", "resume", "training.lr=0.1"], str(flow))
    assert exit_info.value.code == 2
    assert "resume reuses the original run's config; drop the override(s) training.lr=0.1" in capsys.readouterr().err


def _inputs() -> dict:
    """The input hashes a launch of the default config records (the resumed run's, unchanged)."""
    from components.engine.reuse import launch_inputs
    from components.spec.config import load_spec

    return launch_inputs(load_spec([])[1])


def test_prepare_argv_resume_keeps_a_single_worker_contract(repo, monkeypatch, capsys):
    flow = _copy_flow(repo)
    origin = {"experiment": {"name": "serial", "contract": "single_worker"}, shell.LAUNCH_KEY: {"git": git_state(repo), "inputs": _inputs()}}
    monkeypatch.setattr(shell, "_origin_config", lambda flow_file, after: origin)
    argv = shell.prepare_argv(["flow.py", "resume"], str(flow))
    assert argv[argv.index("--max-workers") + 1] == "1"
    with pytest.raises(SystemExit):
        shell.prepare_argv(["flow.py", "resume", "--max-workers", "4"], str(flow))
    assert "declares contract single_worker" in capsys.readouterr().err


def test_prepare_argv_resume_warns_when_the_code_changed_since_the_original(repo, monkeypatch, capsys):
    flow = _copy_flow(repo)
    origin = {"experiment": {"contract": "order_independent"}, shell.LAUNCH_KEY: {"git": git_state(repo), "inputs": _inputs()}}
    monkeypatch.setattr(shell, "_origin_config", lambda flow_file, after: origin)
    (repo / "flow.py").write_text('"""Edited after the original run."""\n')
    shell.prepare_argv(["flow.py", "resume"], str(flow))
    assert "resuming with different code" in capsys.readouterr().err


def test_flow_name_is_the_class_the_script_instantiates(tmp_path):
    script = tmp_path / "f.py"
    script.write_text("class Helper:\n    pass\n\nclass MyFlow(Base):\n    pass\n\nclass Other:\n    pass\n\n"
                      "if __name__ == '__main__':\n    MyFlow()\n")
    assert shell._flow_name(str(script)) == "MyFlow"


@pytest.mark.slow
def test_smoke_run_results_carry_complete_provenance(smoke_run):
    results = smoke_run.run["end"].task.data.results
    prov = results["provenance"]
    assert prov["schema"] == provenance.SCHEMA
    assert prov["run_id"] == smoke_run.run.id and prov["flow"] == "InvestigationFlow"
    assert (prov["experiment"], prov["contract"]) == (results["experiment"], results["contract"])
    assert prov["config_hash"] == results["config_hash"] and prov["overrides"] == results["overrides"]
    assert prov["lint"]["verdict"] in ("clean", "overridden")
    # Git was captured at launch from this checkout: a real commit, which HEAD has (or is).
    git = prov["git"]
    assert re.fullmatch(r"[0-9a-f]{40}", git["commit"]) and isinstance(git["dirty"], bool)
    assert subprocess.run(["git", "merge-base", "--is-ancestor", git["commit"], "HEAD"], cwd=ROOT).returncode == 0
    assert (git["diff_hash"] is not None) == git["dirty"]
    # The run used this interpreter's environment (Runner launches sys.executable).
    assert prov["packages"] == provenance.package_versions()
    assert prov["environment"] == provenance.environment() and prov["environment"]["lock"].startswith("uv.lock:")
    assert prov["started_at"] < prov["ended_at"]
    timing = prov["durations"]
    assert set(timing["branch_seconds"]) == set(results["data_fingerprints"])
    assert timing["wall_seconds"] >= timing["fan_out_seconds"] > 0
    assert prov["resumed_from"] is None
