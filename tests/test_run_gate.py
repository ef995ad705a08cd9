"""The lint gate in front of `run`: findings block the launch unless explicitly allowed, and the override is recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from components.shell import CONFIG_NAME, LAUNCH_KEY, parse_config, prepare_argv

ROOT = Path(__file__).resolve().parents[1]
PLANT = '''

import random as _random


def _jitter():
    return _random.random()  # a draw from the interpreter's global random state
'''
#: A scope finding (a hyper-parameter in a module constant, AXF101 as a warning): reported, never blocking.
WARNING_PLANT = '''

_EPOCHS = 3


def _budget():
    return _EPOCHS
'''


def _plant(tmp_path: Path, module_code: str, step_code: str) -> Path:
    """A copy of the shell with ``module_code`` above the class and ``step_code`` in its start step."""
    (tmp_path / "components").symlink_to(ROOT / "components")
    text = (ROOT / "flows" / "investigation.py").read_text()
    anchor = "@ship_project\n"
    step = "        self.started_at = utc_now()\n"
    # Both anchors must be there: a plant that silently misses would make every gate test pass for nothing.
    assert text.count(anchor) == 1 and text.count(step) == 1, "the shell changed; move the plant's anchors"
    text = text.replace(anchor, module_code.lstrip("\n") + "\n\n" + anchor, 1)
    text = text.replace(step, step + step_code, 1)
    flow = tmp_path / "flows" / "planted.py"
    flow.parent.mkdir()
    flow.write_text(text)
    return flow


@pytest.fixture
def planted_flow(tmp_path):
    """A copy of the shell whose start step stores a draw from global random state (AXF601, an error)."""
    return _plant(tmp_path, PLANT, "        self.jitter = _jitter()\n")


def test_run_gate_reports_warnings_without_blocking(tmp_path, capsys):
    flow = _plant(tmp_path, WARNING_PLANT, "        print(_budget())\n")
    argv = prepare_argv([str(flow), "run", "experiment=smoke"], str(flow))
    lint = parse_config(argv[argv.index("--config-value") + 2])[LAUNCH_KEY]["lint"]
    assert lint["verdict"] == "clean"
    assert any("AXF101" in finding for finding in lint["findings"])
    err = capsys.readouterr().err
    assert "AXF101" in err and "do not block the run" in err


def test_run_gate_blocks_a_flow_with_findings_before_any_task(planted_flow, tmp_path):
    env = {**os.environ, "METAFLOW_USER": "axisflow-tests"}
    out = subprocess.run(
        [sys.executable, str(planted_flow), "run", "experiment=smoke"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 2
    assert "AXF601" in out.stderr and "planted.py" in out.stderr
    assert "blocks on errors only" in out.stderr and "--lint-allow AXF601" in out.stderr.splitlines()[-1]
    assert not (tmp_path / ".metaflow").exists()


def test_run_gate_override_names_codes_and_is_recorded_in_the_config(planted_flow):
    argv = prepare_argv([str(planted_flow), "run", "experiment=smoke", "--lint-allow", "AXF601"], str(planted_flow))
    assert "--lint-allow" not in argv
    value = argv[argv.index("--config-value") + 2]
    assert argv[argv.index("--config-value") + 1] == CONFIG_NAME
    lint = parse_config(value)[LAUNCH_KEY]["lint"]
    assert lint["verdict"] == "overridden"
    assert lint["allowed"] == ["AXF601"]
    assert any("AXF601" in finding for finding in lint["findings"])


def test_run_gate_override_of_another_code_still_blocks(planted_flow, capsys):
    with pytest.raises(SystemExit) as info:
        prepare_argv([str(planted_flow), "run", "experiment=smoke", "--lint-allow", "AXF101"], str(planted_flow))
    assert info.value.code == 2
    assert "AXF601" in capsys.readouterr().err


def test_run_gate_passes_the_shipped_flow_clean():
    flow = ROOT / "flows" / "investigation.py"
    argv = prepare_argv([str(flow), "run", "experiment=smoke"], str(flow))
    value = json.loads(argv[argv.index("--config-value") + 2])
    assert value["lint"]["verdict"] == "clean"
    assert value["overrides"] == ["experiment=smoke"]


def test_deploy_gate_blocks_argo_create_of_a_flow_with_findings(planted_flow, capsys):
    with pytest.raises(SystemExit) as info:
        prepare_argv([str(planted_flow), "argo-workflows", "create", "--only-json", "experiment=smoke"], str(planted_flow))
    assert info.value.code == 2
    assert "AXF601" in capsys.readouterr().err


@pytest.mark.parametrize("scheduler", ["argo-workflows", "step-functions", "airflow"])
def test_deploy_gate_records_its_verdict_in_the_deployed_config(scheduler):
    flow = ROOT / "flows" / "investigation.py"
    argv = prepare_argv([str(flow), scheduler, "create", "experiment=smoke"], str(flow))
    value = json.loads(argv[argv.index("--config-value") + 2])
    assert value["lint"]["verdict"] == "clean" and value["overrides"] == ["experiment=smoke"]
    # Runs the deployment starts carry the experiment tag; an order_independent experiment keeps the
    # scheduler's own parallelism (no --max-workers added).
    assert argv[argv.index("create"):] == ["create", "--tag", "experiment:smoke"]


def test_run_is_tagged_with_its_experiment_name():
    flow = ROOT / "flows" / "investigation.py"
    # A renamed experiment is a new one with no review record: the tag is under test here, so allow that explicitly.
    argv = prepare_argv([str(flow), "run", "experiment=smoke", "experiment.name=other", "--max-workers", "2", "--review-allow", "all"], str(flow))
    assert argv[argv.index("run"):-2] == ["run", "--max-workers", "2", "--tag", "experiment:other"]
    # Metaflow writes the run id where the shell can read the failed run's one-line reason back at exit.
    assert argv[-2] == "--run-id-file" and Path(argv[-1]).is_file()


def test_deploy_of_a_single_worker_experiment_refuses_parallelism_and_defaults_to_one(capsys):
    flow = ROOT / "flows" / "investigation.py"
    single = ["experiment=smoke", "experiment.contract=single_worker"]
    with pytest.raises(SystemExit) as info:
        prepare_argv([str(flow), "argo-workflows", "create", "--max-workers", "4", *single], str(flow))
    assert info.value.code == 2
    assert "single_worker" in capsys.readouterr().err
    argv = prepare_argv([str(flow), "argo-workflows", "create", *single], str(flow))
    assert argv[-2:] == ["--max-workers", "1"]


def test_scheduler_commands_other_than_create_are_not_gated(planted_flow):
    argv = prepare_argv([str(planted_flow), "argo-workflows", "trigger", "experiment=smoke"], str(planted_flow))
    assert "lint" not in json.loads(argv[argv.index("--config-value") + 2])


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["--reuse", "bogus"], "--reuse 'bogus' is not a reuse mode; choose one of auto, off, verify"),
        (["--reuse=sometimes"], "--reuse 'sometimes' is not a reuse mode"),
        (["--reuse"], "--reuse needs a mode: auto, off, verify"),
        (["--review-allow"], "--review-allow needs TRAP[,TRAP] or all"),
        (["--lint-allow", "--max-workers", "2"], "--lint-allow needs CODE[,CODE]"),
    ],
)
def test_bad_flow_flags_are_refused_before_metaflow_creates_a_run(words, message, capsys):
    flow = ROOT / "flows" / "investigation.py"
    with pytest.raises(SystemExit) as info:
        prepare_argv([str(flow), "run", "experiment=smoke", *words], str(flow))
    err = capsys.readouterr().err
    assert info.value.code == 2 and message in err and err.count("\n") == 1
