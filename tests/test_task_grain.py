"""How the ``branch`` step's foreach deals branches into tasks (``experiment.branches_per_task``).

A Metaflow task is a new process that pays an interpreter and its imports
before it trains anything, so a local run gets one task per worker by default
(``auto``) and a scheduler one task per branch. Grouping must never change a
number: each branch's record depends on the branch alone. The end-to-end
checks (two groupings give the same bits; ``resume`` of a task killed part-way
takes the branches it had finished) are in ``test_flow`` and ``test_resume``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from components import shell
from components.engine.branch import run_branch, run_task
from components.engine.planner import branches, task_count, task_groups
from components.engine.reuse import PREDICTIONS_SCHEMA, predictions_by_arm
from components.engine.surface import plan_tasks
from components.spec.config import ConfigError, load_spec

FAST = ("experiment=sample_size_smoke", "experiment.seeds=3", "experiment.axes.data.n_train=[40,60]", "method=[ridge]")


def _keys(groups):
    return [[b["key"] for b in group] for group in groups]


@pytest.mark.parametrize(
    ("count", "per_task", "slots", "tasks"),
    [
        (15, "auto", 2, 2), (15, "auto", 1, 1), (3, "auto", 16, 3), (15, "auto", None, 15),  # auto: one per slot; none: one per branch
        (15, 1, 2, 15), (15, 4, 2, 4), (15, 15, None, 1), (15, 100, 2, 1), (0, "auto", 2, 0), (1, 3, None, 1),
    ],
)
def test_task_count_follows_the_declared_grain_or_the_launchs_slots(count, per_task, slots, tasks):
    assert task_count(count, per_task, slots) == tasks


@pytest.mark.parametrize("tasks", [1, 2, 3, 4, 7, 15, 40])
def test_groups_hold_every_branch_once_in_canonical_order_and_differ_in_size_by_at_most_one(tasks):
    planned = [{"key": f"b{i}", "order": [i // 5, i % 5]} for i in range(15)]
    groups = task_groups(planned, tasks)
    assert len(groups) == min(tasks, 15)
    assert sorted(b["key"] for g in groups for b in g) == sorted(b["key"] for b in planned)
    assert max(map(len, groups)) - min(map(len, groups)) <= 1
    for group in groups:
        assert [b["order"] for b in group] == sorted(b["order"] for b in group)
    assert task_groups([], tasks) == []


def test_round_robin_spreads_each_data_axis_value_over_the_tasks():
    # 3 training-set sizes x 5 seeds (plan order: size, then seed); 2 tasks get 3+2 / 2+3 / 3+2 of each size.
    planned = [{"key": f"n={n},seed={s}", "n": n} for n in (50, 200, 800) for s in range(5)]
    for group in task_groups(planned, 2):
        assert sorted({b["n"] for b in group}) == [50, 200, 800]


def test_plan_tasks_reads_the_grain_from_the_experiment_and_the_slots_from_the_launch():
    config, spec = load_spec(list(FAST))
    planned = branches(spec)
    assert len(plan_tasks(config, planned)) == 6  # no slots recorded (a scheduler): one task per branch
    assert _keys(plan_tasks({**config, "axisflow": {"slots": 2}}, planned)) == _keys(task_groups(planned, 2))
    config2, _ = load_spec([*FAST, "+experiment.branches_per_task=4"])
    assert [len(g) for g in plan_tasks({**config2, "axisflow": {"slots": 2}}, planned)] == [3, 3]  # ceil(6 / 4) = 2 tasks


@pytest.mark.parametrize("value", ["0", "-2", "two", "true", "1.5", "[1]"])
def test_a_bad_grain_is_one_line_naming_the_key(value):
    with pytest.raises(ConfigError, match=r"^experiment\.branches_per_task is .*; use auto .* or a positive integer"):
        load_spec([*FAST, f"+experiment.branches_per_task={value}"])


def test_a_misspelt_grain_key_gets_a_did_you_mean():
    with pytest.raises(ConfigError, match=r"experiment\.branches_per_tsk is not an experiment setting; did you mean experiment\.branches_per_task\?"):
        load_spec([*FAST, "+experiment.branches_per_tsk=2"])


def test_local_slots_are_the_workers_capped_at_the_cores_and_none_on_a_scheduler():
    cores = len(os.sched_getaffinity(0))
    assert shell._local_slots(["--max-workers", "1"]) == 1
    assert shell._local_slots(["--max-workers=64"]) == cores
    assert shell._local_slots([]) == min(16, cores)  # Metaflow's default --max-workers
    assert shell._local_slots(["--with", "kubernetes", "--max-workers", "8"]) is None
    assert shell._local_slots(["--with=batch:cpu=4"]) is None
    assert shell._local_slots(["--with", "retry"]) == min(16, cores)
    # Before the command, as Metaflow also accepts it: prepare_argv passes the words on both sides.
    assert shell._local_slots(["--with", "kubernetes:cpu=2", "--quiet", "--max-workers", "4"]) is None


def test_default_decospecs_that_send_tasks_to_a_scheduler_count_as_one(monkeypatch):
    import metaflow.metaflow_config as mf

    monkeypatch.setattr(mf, "DEFAULT_DECOSPECS", "retry kubernetes:memory=8000")
    assert shell._local_slots(["--max-workers", "2"]) is None
    monkeypatch.setattr(mf, "DEFAULT_DECOSPECS", "retry")
    assert shell._local_slots(["--max-workers", "1"]) == 1


@pytest.mark.parametrize("slots", [0, -1, "2", 1.5, True, None])
def test_a_config_value_with_bad_slots_is_one_line(slots):
    with pytest.raises(ConfigError, match=r"^config value key 'slots' must be a positive integer"):
        shell.parse_config({"overrides": list(FAST), "slots": slots})


def test_the_launch_records_the_slots_in_the_config_value(monkeypatch):
    flow = str(Path(shell.REPO_ROOT) / "flows" / "investigation.py")
    monkeypatch.setattr(shell, "_lint_gate", lambda flow_file, allow: {"verdict": "clean"})
    argv = shell.prepare_argv([flow, "run", *FAST, "--review-allow", "all", "--max-workers", "1"], flow)
    value = argv[argv.index("--config-value") + 2]
    assert shell.parse_config(value)["axisflow"]["slots"] == 1
    deployed = shell.prepare_argv([flow, "argo-workflows", "create", *FAST, "--review-allow", "all"], flow)
    assert "slots" not in shell.parse_config(deployed[deployed.index("--config-value") + 2])["axisflow"]


def test_a_task_of_several_branches_gives_each_the_record_it_gets_alone_and_stores_their_predictions():
    config, spec = load_spec(list(FAST))
    planned = branches(spec)
    group = planned[1::2]
    records, stored = run_task(config, group, log=lambda _: None)
    alone = [run_branch(config, branch, log=lambda _: None) for branch in group]
    strip = lambda r: repr({k: v for k, v in r.items() if k != "timing"})  # noqa: E731
    assert [strip(r) for r in records] == [strip(r) for r in alone]
    assert stored["schema"] == PREDICTIONS_SCHEMA and list(stored["branches"]) == [b["key"] for b in group]
    by_arm = predictions_by_arm(stored)
    assert sorted(by_arm) == sorted(arm["key"] for r in records for arm in r["provenance"]["arms"])
    for record in records:
        (arm,) = record["provenance"]["arms"]
        predictions, targets = by_arm[arm["key"]]
        assert len(predictions) == len(targets) == len(stored["branches"][record["key"]]["targets"])


def test_a_task_of_an_older_shells_run_is_one_branch_and_its_join_reads_either_artifact():
    # A run resumed across this change: its cloned start dealt one branch per task, and cloned branch tasks hold `record`.
    from types import SimpleNamespace

    from components.engine.checkpoint_store import clear_finished
    from components.engine.surface import task_records

    config, spec = load_spec(list(FAST))
    branch = branches(spec)[0]
    (record,), stored = run_task(config, branch, log=lambda _: None)
    assert record["key"] == branch["key"] and list(stored["branches"]) == [branch["key"]]
    older, newer = SimpleNamespace(record={"key": "a"}), SimpleNamespace(branch_records=[{"key": "b"}, {"key": "c"}])
    assert [r["key"] for r in task_records([older, newer])] == ["a", "b", "c"]
    assert clear_finished([record]) == 0  # outside a flow there is no checkpoint store


def test_predictions_are_read_in_either_layout_and_nothing_else():
    assert predictions_by_arm({"schema": "axisflow.predictions/1", "targets": [0, 1], "arms": {"a": [0.2, 0.9]}}) == {"a": ([0.2, 0.9], [0, 1])}
    two = {"schema": PREDICTIONS_SCHEMA, "branches": {"x": {"targets": [1], "arms": {"a": [0.5]}}, "y": {"targets": [0], "arms": {"b": [0.1]}}}}
    assert predictions_by_arm(two) == {"a": ([0.5], [1]), "b": ([0.1], [0])}
    for junk in (None, [], {"schema": "other"}, {"schema": PREDICTIONS_SCHEMA, "branches": [1]}, {"schema": PREDICTIONS_SCHEMA, "branches": {"x": {"targets": None, "arms": {"a": [1]}}}}):
        assert predictions_by_arm(junk) == {}
