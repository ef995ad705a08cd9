"""The planner: fan-out over data axes x seed, the exact trainings per branch, stable seeds."""

from __future__ import annotations

from components.spec.config import load_spec
from components.engine.planner import branches, plan_summary, training_cells, trainings
from components.seeding import branch_key, derive_seed


def _spec(*overrides):
    return load_spec(["experiment=smoke", *overrides])[1]


def test_branches_are_data_axis_values_times_seeds_in_canonical_order():
    spec = _spec("experiment.axes.data.label_noise=[0.0,0.1,0.3]", "experiment.seeds=4")
    out = branches(spec)
    assert len(out) == 3 * 4
    assert [b["order"] for b in out] == sorted(b["order"] for b in out)
    assert len({b["key"] for b in out}) == len(out)
    assert out[0]["key"] == "label_noise=0.0,seed=0"
    assert {b["seed_index"] for b in out} == {0, 1, 2, 3}


def test_branches_never_fan_out_over_training_axes_or_methods():
    narrow = branches(_spec("experiment.axes.training.epochs=[2]"))
    wide = branches(_spec("experiment.axes.training.epochs=[2,3,4,5]"))
    assert narrow == wide


def test_axis_agnostic_method_trains_once_and_covers_every_training_cell():
    spec = _spec("experiment.axes.training.epochs=[2,3,4]")
    plan = trainings(spec)
    logreg = [t for t in plan if t.method == "logreg"]
    assert len(logreg) == 1
    assert logreg[0].train_axes == {}
    assert list(logreg[0].cells) == training_cells(spec) == [{"epochs": 2}, {"epochs": 3}, {"epochs": 4}]


def test_axis_dependent_method_trains_once_per_training_cell():
    spec = _spec("experiment.axes.training.epochs=[2,3,4]", "+experiment.axes.training.lr=[0.01,0.1]")
    mlp = [t for t in trainings(spec) if t.method == "mlp"]
    assert len(mlp) == 6
    assert [t.train_axes for t in mlp] == [{"epochs": e, "lr": lr} for e in (2, 3, 4) for lr in (0.01, 0.1)]
    assert all(t.cells == (t.train_axes,) for t in mlp)


def test_plan_summary_counts_work_against_a_naive_fan_out():
    spec = _spec()  # 2 noise values x 3 seeds; epochs [2,4]; 1 agnostic + 2 dependent methods
    counts = plan_summary(spec)
    assert counts["branches"] == 6
    assert counts["trainings_per_branch"] == 1 + 2 * 2
    assert counts["trainings"] == 30
    assert counts["naive_trainings"] == 6 * 2 * 3


def test_no_axes_gives_one_cell_and_one_branch_per_seed():
    spec = _spec("~experiment.axes.data", "~experiment.axes.training")
    assert [b["key"] for b in branches(spec)] == ["seed=0", "seed=1", "seed=2"]
    assert training_cells(spec) == [{}]
    assert len(trainings(spec)) == 3


def test_branch_seed_depends_only_on_seed_base_and_index():
    spec = _spec()
    again = _spec("experiment.name=renamed", "experiment.axes.training.epochs=[9]", "experiment.axes.data.label_noise=[0.1]")
    seeds = {b["seed_index"]: b["seed"] for b in branches(spec)}
    assert seeds == {b["seed_index"]: b["seed"] for b in branches(again)}
    # Branches differing only in a data-axis value share the seed (common random numbers).
    assert all(b["seed"] == seeds[b["seed_index"]] for b in branches(spec))
    assert len(set(seeds.values())) == spec.seeds
    shifted = _spec("experiment.seed_base=1")
    assert set(seeds.values()).isdisjoint(b["seed"] for b in branches(shifted))


def test_derive_seed_is_a_stable_hash():
    # Pinned value: a change here changes every dataset and model of every past experiment.
    assert derive_seed("branch", 0, {"label_noise": 0.2}, 3) == derive_seed("branch", 0, {"label_noise": 0.2}, 3)
    assert derive_seed("branch", 0, {"label_noise": 0.2}, 3) == 6737375294060831944
    assert derive_seed("a", 1) != derive_seed("a", 2)
    assert 0 <= derive_seed("x") < 2**63


def test_branch_key_sorts_axes_by_name():
    assert branch_key({"b": 1, "a": 0.5}, 2) == "a=0.5,b=1,seed=2"
