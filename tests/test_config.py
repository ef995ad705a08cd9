"""Config composition and validation: every shipped experiment composes, every mistake is one line naming its key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from components.config import CONFIG_DIR, ConfigError, compose, config_hash, load_spec, validate

ROOT = Path(__file__).resolve().parents[1]
FLOW = ROOT / "flows" / "investigation.py"
EXPERIMENTS = sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_shipped_experiment_composes_and_validates(experiment):
    config, spec = load_spec([f"experiment={experiment}"])
    assert spec.name == experiment
    assert spec.contract in ("order_independent", "single_worker", "nondeterministic")
    assert spec.baseline in {m.name for m in spec.methods}
    assert spec.data_axes and spec.training_axes


def test_reference_experiment_is_the_default():
    _, spec = load_spec([])
    assert spec.name == "reference"
    assert spec.seeds >= 5
    kinds = {m.kind for m in spec.methods}
    assert kinds == {"axis_agnostic", "axis_dependent"}


def test_compose_is_pure_across_calls():
    first = compose(["experiment=smoke", "training.lr=0.01"])
    second = compose(["experiment=smoke"])
    assert first["training"]["lr"] == 0.01
    assert second["training"]["lr"] == 0.001
    assert compose(["experiment=smoke"]) == second


def test_config_hash_ignores_key_order_and_sees_values():
    config = compose(["experiment=smoke"])
    reordered = json.loads(json.dumps(config, sort_keys=True))
    assert config_hash(reordered) == config_hash(config)
    assert config_hash(compose(["experiment=smoke", "training.lr=0.01"])) != config_hash(config)


BAD_INPUTS = {
    "unknown-group-option": (["experiment=nope"], "experiment/nope"),
    "unknown-method-option": (["method=[logreg,nope]"], "method/nope"),
    "unknown-override-key": (["training.epochz=3"], "training.epochz"),
    "unknown-kind": (["method.mlp.kind=sometimes"], "method.mlp.kind"),
    "method-sets-training-key": (["+method.mlp.epochs=5"], "method.mlp.epochs"),
    "empty-axis": (["experiment.axes.data.label_noise=[]"], "experiment.axes.data.label_noise"),
    "axis-both-data-and-training": (["+experiment.axes.training.label_noise=[0.1]"], "label_noise"),
    "non-integer-seeds": (["experiment.seeds=five"], "experiment.seeds"),
    "fractional-seeds": (["experiment.seeds=2.5"], "experiment.seeds"),
    "zero-seeds": (["experiment.seeds=0"], "experiment.seeds"),
    "missing-contract": (["~experiment.contract"], "experiment.contract"),
    "unknown-contract": (["experiment.contract=mostly"], "experiment.contract"),
    "unknown-training-axis": (["+experiment.axes.training.momentum=[0.9]"], "experiment.axes.training.momentum"),
    "unknown-data-axis": (["+experiment.axes.data.label_nose=[0.1]"], "experiment.axes.data.label_nose"),
    "baseline-not-selected": (["method=[mlp,mlp_early_stop]"], "experiment.baseline"),
    "unknown-metric": (["experiment.metric.name=f1"], "experiment.metric.name"),
    "repeated-axis-value": (["experiment.axes.training.epochs=[2,2]"], "experiment.axes.training.epochs"),
    "unknown-statistics-setting": (["+experiment.statistics.methd=bca"], "experiment.statistics.methd"),
    "unknown-statistics-method": (["experiment.statistics.method=jackknife"], "experiment.statistics.method"),
    "confidence-as-percent": (["experiment.statistics.confidence=95"], "experiment.statistics.confidence"),
    "zero-resamples": (["experiment.statistics.n_resamples=0"], "experiment.statistics.n_resamples"),
    "unknown-nan-policy": (["+experiment.statistics.nan_policy=ignore"], "experiment.statistics.nan_policy"),
    "flow-owned-statistics-setting": (["+experiment.statistics.stream_axes=[label_noise]"], "experiment.statistics.stream_axes"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_config_raises_one_line_error_naming_the_key(case):
    overrides, key = BAD_INPUTS[case]
    with pytest.raises(ConfigError) as info:
        load_spec(["experiment=smoke", *overrides])
    message = str(info.value)
    assert "\n" not in message
    assert key in message


def test_validate_rejects_boolean_seed_count():
    config = compose(["experiment=smoke"])
    config["experiment"]["seeds"] = True
    with pytest.raises(ConfigError, match="experiment.seeds"):
        validate(config)


def _launch(tmp_path: Path, *words: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "METAFLOW_USER": "axisflow-tests"}
    return subprocess.run(
        [sys.executable, str(FLOW), "run", *words], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "case",
    ["unknown-group-option", "unknown-override-key", "unknown-kind", "method-sets-training-key", "empty-axis",
     "axis-both-data-and-training", "non-integer-seeds", "confidence-as-percent"],
)
def test_flow_run_with_bad_override_exits_2_before_any_task(tmp_path, case):
    overrides, key = BAD_INPUTS[case]
    result = _launch(tmp_path, "experiment=smoke", *overrides)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("axisflow: error:") and key in lines[0], result.stderr
    assert not (tmp_path / ".metaflow").exists(), "a task or run record was created despite the config error"
