"""Training telemetry: learning curves per (cell, method, seed), seed-averaged curves, branch progress lines."""

from __future__ import annotations

import math

import pytest

from components.engine.branch import run_branch
from components.spec.config import load_spec
from components.engine.planner import branches
from components.engine.telemetry import branches_done, learning_curves, mean_curves


def _record(key, seed, noise, histories):
    """A branch record with a logreg (axis-agnostic) and an mlp trained at epochs 2 and 4."""
    trainings = [
        {"method": "logreg", "train_axes": {}, "history": histories["logreg"], "info": {"epochs_run": 1}},
        {"method": "mlp", "train_axes": {"epochs": 2}, "history": histories[2], "info": {"epochs_run": 2}},
        {"method": "mlp", "train_axes": {"epochs": 4}, "history": histories[4], "info": {"epochs_run": 3, "stopped_epoch": 2}},
    ]
    observations = [
        {"axes": {"label_noise": noise, "epochs": e}, "method": m, "seed": seed, "value": 0.5}
        for m in ("logreg", "mlp")
        for e in (2, 4)
    ]
    return {"key": key, "trainings": trainings, "observations": observations}


def _histories(offset):
    return {
        "logreg": {"epoch": [0.0], "train_loss": [0.3 + offset], "val_metric": [0.8]},
        2: {"epoch": [0.0, 1.0], "train_loss": [0.7 + offset, 0.5 + offset], "val_metric": [float("nan"), 0.7]},
        4: {"epoch": [0.0, 1.0, 2.0], "train_loss": [0.7 + offset, 0.4 + offset, 0.2 + offset], "val_metric": [0.6, 0.8, 0.9]},
    }


RECORDS = [_record("label_noise=0.0,seed=1", 1, 0.0, _histories(0.01)), _record("label_noise=0.0,seed=0", 0, 0.0, _histories(0.0))]


def test_learning_curves_give_one_curve_per_cell_method_and_seed_in_canonical_order():
    curves = learning_curves(RECORDS)
    assert [(c["axes"]["epochs"], c["method"], c["seed"]) for c in curves] == [
        (2, "logreg", 0), (2, "logreg", 1), (2, "mlp", 0), (2, "mlp", 1),
        (4, "logreg", 0), (4, "logreg", 1), (4, "mlp", 0), (4, "mlp", 1),
    ]


def test_learning_curves_match_each_cell_to_the_training_that_produced_it():
    curves = {(c["axes"]["epochs"], c["method"], c["seed"]): c for c in learning_curves(RECORDS)}
    long = curves[(4, "mlp", 1)]
    assert long["branch"] == "label_noise=0.0,seed=1" and long["train_axes"] == {"epochs": 4}
    assert long["epoch"] == [0, 1, 2] and long["curves"]["train_loss"] == [0.71, 0.41000000000000003, 0.21000000000000002]
    assert long["info"]["stopped_epoch"] == 2 and long["shared"] is False
    # The axis-agnostic baseline trained once; the same curve serves both training cells.
    assert curves[(2, "logreg", 0)]["curves"] == curves[(4, "logreg", 0)]["curves"]
    assert curves[(2, "logreg", 0)]["shared"] is True and curves[(2, "logreg", 0)]["train_axes"] == {}


def test_mean_curves_average_over_seeds_and_skip_unevaluated_epochs():
    means = {(m["axes"]["epochs"], m["method"]): m for m in mean_curves(learning_curves(RECORDS), "val_metric")}
    short = means[(2, "mlp")]
    assert short["epoch"] == [0, 1] and short["n"] == [0, 2]
    assert math.isnan(short["mean"][0]) and short["mean"][1] == pytest.approx(0.7)
    loss = {(m["axes"]["epochs"], m["method"]): m for m in mean_curves(learning_curves(RECORDS), "train_loss")}
    assert loss[(4, "mlp")]["mean"] == pytest.approx([0.705, 0.405, 0.205])


def test_branches_done_is_unknown_outside_a_metaflow_task():
    assert branches_done() is None


@pytest.fixture(scope="module")
def smoke():
    config, spec = load_spec(["experiment=smoke"])
    return config, spec


def test_run_branch_reports_its_position_and_the_done_count(smoke):
    config, spec = smoke
    plan = branches(spec)
    lines = []
    record = run_branch(config, plan[3], log=lines.append, done=lambda: 2)
    assert lines[0] == f"[{plan[3]['key']}] branch 4/{len(plan)} started"
    assert any("training 1/" in line for line in lines)
    assert lines[-1].startswith(f"[{plan[3]['key']}] branch 4/{len(plan)} finished in ")
    assert lines[-1].endswith(f"; 3 of {len(plan)} branches done")
    timing = record["timing"]
    assert timing["started_at"] <= timing["finished_at"]
    # Every training keeps its per-epoch history as exact float lists for the learning curves.
    for training in record["trainings"]:
        assert training["history"]["epoch"] and all(isinstance(v, float) for v in training["history"]["train_loss"])


def _diverge(method_spec, data, seed, train_cfg, **kwargs):
    """The train_arm seam failing the way a diverging optimisation would, for ``method``."""
    if method_spec["name"] in _DIVERGING:
        raise FloatingPointError("loss is NaN")
    return _REAL_TRAIN_ARM(method_spec, data, seed, train_cfg, **kwargs)


_DIVERGING: set[str] = set()
_REAL_TRAIN_ARM = None


@pytest.fixture
def diverging(monkeypatch):
    """Make the named methods' training fail (through the train_arm seam the branch calls)."""
    from components.spec import seams

    global _REAL_TRAIN_ARM
    _REAL_TRAIN_ARM = seams.train_arm
    monkeypatch.setattr(seams, "train_arm", _diverge)
    _DIVERGING.clear()
    yield _DIVERGING
    _DIVERGING.clear()


def test_run_branch_failure_names_branch_method_and_training_axes(smoke, diverging):
    config, spec = smoke
    diverging.update({"mlp", "mlp_early_stop"})
    branch = branches(spec)[0]
    with pytest.raises(RuntimeError) as info:
        run_branch(config, branch, log=lambda line: None)
    assert str(info.value) == f"branch {branch['key']}, method mlp, training axes epochs=2: FloatingPointError: loss is NaN"
    assert isinstance(info.value.__cause__, FloatingPointError)


def test_run_branch_failure_of_an_axis_agnostic_method_says_it_has_no_training_axes(smoke, diverging):
    config, spec = smoke
    diverging.add("logreg")
    branch = branches(spec)[0]
    with pytest.raises(RuntimeError, match=r"^branch label_noise=0.0,seed=0, method logreg, training axes none: FloatingPointError"):
        run_branch(config, branch, log=lambda line: None)
