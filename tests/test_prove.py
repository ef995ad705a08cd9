"""The determinism contract and the prove gate.

Fast tests exercise the comparison on hand-built results and records, the
contract's validation and the gate's usage errors. The ``slow`` tests run real
flows twice through ``metaflow.Runner``: the reference flow (which must pass)
and fixture flows under ``tests/fixtures/flows/`` with planted nondeterminism
(which must fail, naming the branch, method, training-axis value and field).
"""

from __future__ import annotations

import copy
import json
import math

import pytest

from components.cli import main as cli_main
from components.spec.config import ConfigError, compose, validate
from components.gates.prove import EXCLUDED, Difference, ProveError, compare, prove, workers_for

from conftest import FLOW, ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "flows"
#: The rest of a planted method's config (tests/fixtures/planted.py), as a Hydra override value.
PLANTED_MLP = "kind:axis_dependent,model:{_target_:components.library.models.mlp,hidden:[16]},callbacks:[]"
#: A small smoke variant for end-to-end gate runs: 2 branches (one noise level x 2 seeds).
TINY = ["experiment=smoke", "experiment.seeds=2", "experiment.axes.data.label_noise=[0.3]"]


def _training(method, axes, value, seed=7):
    return {
        "method": method,
        "train_axes": dict(axes),
        "seed": seed,
        "value": value,
        "val_score": 0.5 + value / 10,
        "info": {"epochs_run": axes.get("epochs", 1)},
        "history": {"epoch": [0.0, 1.0], "train_loss": [0.7, 0.6]},
    }


def _record(seed_index, noise=0.0):
    key = f"label_noise={noise!r},seed={seed_index}"
    trainings = [
        _training("logreg", {}, 0.70 + seed_index / 100),
        _training("mlp", {"epochs": 2}, 0.80 + seed_index / 100),
        _training("mlp", {"epochs": 4}, 0.82 + seed_index / 100),
    ]
    observations = [
        {"axes": {"label_noise": noise, "epochs": e}, "method": t["method"], "seed": seed_index, "value": t["value"]}
        for t in trainings
        for e in ([2, 4] if not t["train_axes"] else [t["train_axes"]["epochs"]])
    ]
    return {
        "key": key,
        "order": [0, seed_index],
        "data_axes": {"label_noise": noise},
        "seed_index": seed_index,
        "seed": 1000 + seed_index,
        "data_fingerprint": f"fp{seed_index}",
        "trainings": trainings,
        "observations": observations,
        "counts": {"make_data": 1, "train_arm": 3},
        "timing": {"data_seconds": 0.01, "training_seconds": [0.1, 0.2, 0.3], "branch_seconds": 0.7},
    }


def _results(records):
    return {
        "schema": "axisflow.results/1",
        "contract": "order_independent",
        "data_fingerprints": {r["key"]: r["data_fingerprint"] for r in records},
        "cells": [
            {"axes": {"label_noise": 0.0, "epochs": e}, "method": m, "n": 2, "mean": 0.8, "ci_low": 0.7, "ci_high": 0.9}
            for e in (2, 4)
            for m in ("logreg", "mlp")
        ],
        "paired": [
            {"axes": {"label_noise": 0.0, "epochs": e}, "method": "mlp", "baseline": "logreg", "mean_diff": 0.1}
            for e in (2, 4)
        ],
        "provenance": {"flow": "InvestigationFlow", "run_id": "1", "user": "a"},
    }


def _pair():
    records = [_record(0), _record(1)]
    return _results(records), records, copy.deepcopy(_results(records)), copy.deepcopy(records)


def test_compare_identical_runs_agree():
    assert compare(*_pair()) == []


def test_compare_localizes_a_one_ulp_change_to_branch_method_axis_and_field():
    results_a, records_a, results_b, records_b = _pair()
    before = records_b[1]["trainings"][2]["value"]
    records_b[1]["trainings"][2]["value"] = math.nextafter(before, 1.0)

    differences = compare(results_a, records_a, results_b, records_b)

    first = differences[0]
    assert (first.branch, first.method, first.axes, first.field) == ("label_noise=0.0,seed=1", "mlp", {"epochs": 4}, "value")
    assert (first.a, first.b) == (repr(before), repr(math.nextafter(before, 1.0)))
    line = first.describe(("run 1 (1 worker)", "run 2 (2 workers)"))
    assert "branch label_noise=0.0,seed=1, method mlp, epochs=4: value is" in line
    assert repr(before) in line and repr(math.nextafter(before, 1.0)) in line


def test_compare_skips_the_documented_exclusions_only():
    results_a, records_a, results_b, records_b = _pair()
    records_b[0]["timing"]["branch_seconds"] = 99.0
    records_b[1]["timing"] = {"data_seconds": 3.0}
    results_b["provenance"] = {"run_id": "2", "workers": 2, "started_at": "later"}
    assert compare(results_a, records_a, results_b, records_b) == []

    records_b[0]["counts"]["train_arm"] = 4
    (difference,) = compare(results_a, records_a, results_b, records_b)
    assert (difference.branch, difference.field) == ("label_noise=0.0,seed=0", "counts.train_arm")
    assert set(EXCLUDED) == {
        "results.provenance", "*.timing",
        "records[].provenance.task", "records[].provenance.arms[].run", "records[].provenance.arms[].task",
    } and all(EXCLUDED.values())


def test_compare_skips_where_an_arm_ran_but_not_its_key_or_origin():
    """Two runs name different tasks; the arm's reuse key and whether it was trained or reused must still agree."""
    results_a, records_a, results_b, records_b = _pair()
    for records, run in ((records_a, "F/1"), (records_b, "F/2")):
        for record in records:
            record["provenance"] = {
                "task": f"{run}/branch/{record['key']}",
                "arms": [{"key": f"k{i}", "origin": "trained", "run": run, "task": f"{run}/branch/{record['key']}"}
                         for i, _ in enumerate(record["trainings"])],
            }
    assert compare(results_a, records_a, results_b, records_b) == []
    records_b[0]["provenance"]["arms"][0]["origin"] = "reused"
    records_b[1]["provenance"]["arms"][1]["key"] = "other"
    fields = [d.field for d in compare(results_a, records_a, results_b, records_b)]
    assert fields == ["provenance.arms[0].origin", "provenance.arms[1].key"]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [(0.0, -0.0, False), (float("nan"), float("nan"), True), (1, 1.0, False), (0.1 + 0.2, 0.3, False), ([1, 2], (1, 2), False)],
)
def test_compare_floats_and_types_bit_for_bit(a, b, same):
    results_a, records_a, results_b, records_b = _pair()
    records_a[0]["trainings"][0]["val_score"] = a
    records_b[0]["trainings"][0]["val_score"] = b
    differences = compare(results_a, records_a, results_b, records_b)
    assert (differences == []) is same
    if not same:
        assert (differences[0].field, differences[0].a, differences[0].b) == ("val_score", repr(a), repr(b))


def test_compare_reports_the_records_order():
    results_a, records_a, results_b, records_b = _pair()
    records_b.reverse()
    (difference,) = compare(results_a, records_a, results_b, records_b)
    assert difference.path == "records[0]"
    assert (difference.a, difference.b) == (repr("label_noise=0.0,seed=0"), repr("label_noise=0.0,seed=1"))


def test_compare_reports_a_missing_branch():
    results_a, records_a, results_b, records_b = _pair()
    del records_b[1]
    differences = compare(results_a, records_a, results_b, records_b)
    assert (differences[0].branch, differences[0].field, differences[0].b) == ("label_noise=0.0,seed=1", "presence", "False")


def test_compare_localizes_a_results_cell():
    results_a, records_a, results_b, records_b = _pair()
    results_b["cells"][3]["ci_low"] = 0.71
    (difference,) = compare(results_a, records_a, results_b, records_b)
    assert (difference.method, difference.axes, difference.field) == ("mlp", {"label_noise": 0.0, "epochs": 4}, "ci_low")
    assert difference.path.startswith("results.cells[")


def test_compare_reports_mapping_key_order_after_values():
    results_a, records_a, results_b, records_b = _pair()
    results_b["data_fingerprints"] = dict(reversed(list(results_b["data_fingerprints"].items())))
    (difference,) = compare(results_a, records_a, results_b, records_b)
    assert difference.path == "results.data_fingerprints key order"
    assert difference.field == "data_fingerprints key order"


def test_compare_reports_a_records_own_key_order():
    results_a, records_a, results_b, records_b = _pair()
    records_b[1] = dict(reversed(list(records_b[1].items())))
    (difference,) = compare(results_a, records_a, results_b, records_b)
    assert (difference.branch, difference.field) == ("label_noise=0.0,seed=1", "key order")


def test_compare_matches_rows_by_position_when_their_keys_repeat():
    results_a, records_a, results_b, records_b = _pair()
    results_a["cells"].append(dict(results_a["cells"][0]))
    results_b["cells"].append(dict(results_b["cells"][0], mean=0.25))
    (difference,) = compare(results_a, records_a, results_b, records_b)
    assert (difference.path, difference.b) == ("results.cells[4].mean", "0.25")


def test_compare_lists_branch_records_before_the_results_they_feed():
    results_a, records_a, results_b, records_b = _pair()
    results_b["cells"][0]["mean"] = 0.5
    records_b[1]["data_fingerprint"] = results_b["data_fingerprints"]["label_noise=0.0,seed=1"] = "other"
    differences = compare(results_a, records_a, results_b, records_b)
    assert [d.field for d in differences] == ["data_fingerprint", "data_fingerprints.label_noise=0.0,seed=1", "mean"]


def test_aggregate_does_not_depend_on_the_order_records_arrive_in():
    """The join's statistics draw from generators keyed by the cell, so record order cannot leak in."""
    from components.engine.surface import aggregate_records

    config = compose(["experiment=smoke", "experiment.statistics.n_resamples=500"])
    records = [_record(0), _record(1), _record(2), _record(0, noise=0.3), _record(1, noise=0.3), _record(2, noise=0.3)]
    forward = aggregate_records(config, records)
    backward = aggregate_records(config, records[::-1])
    assert compare(forward, [], backward, []) == []
    assert forward["cells"] and all(c["ci_low"] is not None for c in forward["cells"])


def test_run_branch_depends_on_config_and_branch_only():
    """A worker runs several branches in one process, in any order, with whatever global state they left.

    The record must not care: every draw comes from a generator seeded by the
    branch key, and torch's thread count comes from the training config. (What
    this cannot see, in one process, is hash-seed dependence; the gate's
    separate runs catch that: see the history-order fix in components/engine/branch.py.)
    """
    import random

    import numpy as np
    import torch

    from components.engine.branch import run_branch
    from components.engine.planner import branches

    config = compose(["experiment=smoke", "method=[logreg,mlp_early_stop]", "experiment.axes.training.epochs=[3]"])
    first, second = branches(validate(config))[:2]
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    try:
        alone = run_branch(config, first, log=lambda line: None)
        np.random.seed(1), random.seed(2), torch.manual_seed(3), torch.set_num_threads(2)
        run_branch(config, second, log=lambda line: None)
        np.random.rand(), random.random(), torch.rand(3)
        after_another = run_branch(config, first, log=lambda line: None)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    assert compare({}, [alone], {}, [after_another]) == []
    assert all(list(t["history"]) == sorted(t["history"]) for t in alone["trainings"])


def test_verdict_report_lists_the_first_difference_of_every_item_that_differs():
    from components.gates.prove import Verdict

    results_a, records_a, results_b, records_b = _pair()
    for record in records_b:
        for training in record["trainings"][1:]:
            training["value"] += 0.125
            training["val_score"] += 0.125
    differences = compare(results_a, records_a, results_b, records_b)
    report = Verdict("differs", "DIFFERS: ...", "flow.py", "smoke", "order_independent", [], differences=differences).to_json()
    assert report["n_differences"] == len(differences) > len(report["locations"])
    trainings = [(d["branch"], d["axes"], d["field"]) for d in report["locations"] if "trainings" in d["path"]]
    assert trainings == [(f"label_noise=0.0,seed={i}", {"epochs": e}, "value") for i in (0, 1) for e in (2, 4)]
    assert json.loads(json.dumps(report)) == report


@pytest.mark.parametrize(
    ("contract", "requested", "expected"),
    [("order_independent", None, (1, 2)), ("order_independent", [2, 3], (2, 3)), ("single_worker", None, (1, 1)),
     ("single_worker", [1, 1], (1, 1))],
)
def test_workers_for_contract(contract, requested, expected):
    assert workers_for(contract, requested) == expected


@pytest.mark.parametrize(("contract", "requested"), [("single_worker", [1, 2]), ("order_independent", [0, 2])])
def test_workers_for_rejects_counts_the_contract_forbids(contract, requested):
    with pytest.raises(ProveError):
        workers_for(contract, requested)


def test_difference_describe_without_location_still_names_both_values():
    line = Difference("results.schema", "schema", "'a'", "'b'").describe()
    assert line == "schema is 'a' in run 1 but 'b' in run 2 [results.schema]"


@pytest.mark.parametrize(
    ("override", "expected"),
    [("~experiment.contract", "experiment.contract is missing"), ("experiment.contract=maybe", "experiment.contract is 'maybe'")],
)
def test_config_contract_missing_or_unknown_is_a_one_line_error(override, expected):
    with pytest.raises(ConfigError) as caught:
        validate(compose(["experiment=smoke", override]))
    message = str(caught.value)
    assert message.startswith(expected) and "\n" not in message
    assert "order_independent, single_worker, nondeterministic" in message


@pytest.mark.parametrize("contract", ["order_independent", "single_worker", "nondeterministic"])
def test_config_contract_accepts_each_declared_value(contract):
    assert validate(compose(["experiment=smoke", f"experiment.contract={contract}"])).contract == contract


def _cli(capsys, *argv):
    code = cli_main(["prove", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_prove_cli_missing_flow_file_is_a_usage_error(capsys, tmp_path):
    code, out, err = _cli(capsys, tmp_path / "nope.py", "experiment=smoke")
    assert code == 2 and out == ""
    assert err == f"axisflow: error: flow file {tmp_path / 'nope.py'} does not exist\n"


@pytest.mark.parametrize(
    ("override", "expected"),
    [("experiment=nope", "Could not find 'experiment/nope'"), ("training.epochz=3", "epochz"),
     ("experiment.contract=sometimes", "experiment.contract is 'sometimes'")],
)
def test_prove_cli_bad_override_prints_the_config_error_in_one_line(capsys, override, expected):
    code, out, err = _cli(capsys, FLOW, "experiment=smoke", override)
    assert code == 2 and out == ""
    assert err.startswith("axisflow: error: ") and expected in err and err.count("\n") == 1


def test_prove_cli_nondeterministic_contract_skips_loudly_without_loose_files(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = _cli(capsys, FLOW, "experiment=smoke", "experiment.contract=nondeterministic")
    assert code == 0
    assert out.startswith("SKIPPED: contract nondeterministic: experiment smoke declares that its results may change")
    assert "no runs were made" in out
    assert list(tmp_path.iterdir()) == []

    report = tmp_path / "out" / "verdict.json"
    code, out, _ = _cli(capsys, FLOW, "experiment=smoke", "experiment.contract=nondeterministic", "--report", report)
    verdict = json.loads(report.read_text())
    assert code == 0 and verdict["status"] == "skipped" and verdict["runs"] == []
    assert verdict["message"] == out.splitlines()[0]


def test_prove_validates_methods_named_by_import_path_and_names_a_bad_path():
    overrides = [
        "experiment=smoke", "experiment.contract=nondeterministic",
        f"+method.global_rng={{_target_:tests.fixtures.planted.train_global_rng,{PLANTED_MLP}}}",
    ]
    assert prove(FLOW, overrides).status == "skipped"
    overrides[-1] = overrides[-1].replace("train_global_rng", "train_nothing")
    with pytest.raises(ProveError, match=r"method.global_rng._target_ 'tests.fixtures.planted.train_nothing': module tests.fixtures.planted has no train_nothing"):
        prove(FLOW, overrides)


@pytest.mark.slow
def test_flow_echoes_the_contract_as_an_artifact_and_in_results(smoke_run):
    run = smoke_run.run
    assert run["start"].task.data.contract == "order_independent"
    assert run["end"].task.data.results["contract"] == "order_independent"


@pytest.mark.slow
def test_shell_refuses_single_worker_flow_at_two_workers_before_any_task(tmp_path):
    from components.outputs.runs import run_flow

    overrides = ["experiment=smoke", "experiment.contract=single_worker"]
    # Runner raises when the flow exits before Metaflow wrote the run's attributes.
    with pytest.raises(RuntimeError) as caught:
        run_flow(FLOW, overrides, max_workers=2, datastore_root=tmp_path)
    assert "axisflow: error: experiment 'smoke' declares contract single_worker; it cannot run with --max-workers 2" in str(caught.value)
    # No run, no task: refused before Metaflow started. (run_flow makes the empty datastore folder itself,
    # so nothing walks up to a parent's; no flow folder may appear in it.)
    assert not (tmp_path / ".metaflow" / "InvestigationFlow").exists()


@pytest.mark.slow
def test_prove_catches_planted_trainers_and_names_branch_method_axis_and_field(capsys, tmp_path):
    """Two planted trainers in one pair of runs; each is localized on its own, the fixed arm agrees.

    ``global_rng`` bags rows with NumPy's unseeded global RNG; ``task_seeded``
    seeds from ``current.pathspec`` (the realistic task-address seed that does
    change between the gate's runs; see the reference test for why a bare
    ``current.task_id`` does not). ``logreg`` (the shipped, fixed trainer)
    runs in the same branches and must show no difference at all.
    """
    report = tmp_path / "verdict.json"
    code, out, _ = _cli(
        capsys, FLOW, *TINY, "method=[logreg]",
        f"+method.global_rng={{_target_:tests.fixtures.planted.train_global_rng,{PLANTED_MLP}}}",
        f"+method.task_seeded={{_target_:tests.fixtures.planted.train_task_seeded,{PLANTED_MLP}}}",
        "--report", report,
    )
    verdict = json.loads(report.read_text())
    assert code == 1 and verdict["status"] == "differs"
    assert "prove: run 1/2 at 1 worker started" in out and "prove: run 2/2 at 2 workers finished in" in out
    assert "DIFFERS: branch label_noise=0.3,seed=0, method global_rng, epochs=2: value is " in out

    first = verdict["differences"][0]
    assert (first["branch"], first["method"], first["axes"], first["field"]) == ("label_noise=0.3,seed=0", "global_rng", {"epochs": 2}, "value")
    assert first["a"] != first["b"]
    planted = {(d["branch"], d["method"], json.dumps(d["axes"]), d["field"]) for d in verdict["locations"]}
    for branch in ("label_noise=0.3,seed=0", "label_noise=0.3,seed=1"):
        for epochs in (2, 4):
            assert (branch, "task_seeded", json.dumps({"epochs": epochs}), "value") in planted
    assert not [d for d in verdict["locations"] if d["method"] == "logreg" or d["field"] == "data_fingerprint"]


@pytest.mark.slow
def test_prove_catches_a_join_that_combines_records_in_completion_order(capsys, tmp_path):
    """The planted join orders records by when each branch finished (see the fixture's docstring).

    At 1 worker branches finish in split order; at 2 the deliberately slow
    first branch finishes after the second, so the join's ``records`` differ in
    order (and so does the surface's ``data_fingerprints``, built from them)
    while every record's content agrees.
    """
    report = tmp_path / "verdict.json"
    code, out, _ = _cli(capsys, FIXTURES / "completion_order_join.py", *TINY, "method=[logreg]", "--report", report)
    verdict = json.loads(report.read_text())
    assert code == 1, out
    first = verdict["differences"][0]
    assert (first["path"], first["a"], first["b"]) == ("records[0]", "'label_noise=0.3,seed=0'", "'label_noise=0.3,seed=1'")
    assert "DIFFERS: records order (position 0) is 'label_noise=0.3,seed=0' in run 1 (1 worker) but 'label_noise=0.3,seed=1' in run 2 (2 workers)" in out
    assert {d["field"] for d in verdict["differences"]} == {"records order (position 0)", "data_fingerprints key order"}


def test_isolated_env_drops_the_callers_metaflow_settings_and_pins_a_local_datastore(tmp_path):
    from components.outputs.runs import isolated_env

    caller = {
        "PATH": "/usr/bin", "METAFLOW_USER": "alice",
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": "/home/alice/project", "METAFLOW_DATASTORE_SYSROOT_S3": "s3://bucket/metaflow",
        "METAFLOW_DEFAULT_DATASTORE": "s3", "METAFLOW_DEFAULT_METADATA": "service", "METAFLOW_SERVICE_URL": "http://mf",
        "METAFLOW_PROFILE": "work", "METAFLOW_HOME": "/home/alice/.metaflowconfig", "METAFLOW_DECOSPECS": "kubernetes",
    }
    env = isolated_env(tmp_path, caller)
    assert env["PATH"] == "/usr/bin" and env["METAFLOW_USER"] == "alice"
    assert {k: v for k, v in env.items() if k.startswith("METAFLOW_") and k != "METAFLOW_USER"} == {
        "METAFLOW_DEFAULT_DATASTORE": "local",
        "METAFLOW_DEFAULT_METADATA": "local",
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(tmp_path.resolve()),
        "METAFLOW_HOME": str(tmp_path.resolve() / ".metaflow" / "no-user-config"),
    }
    assert not (tmp_path / ".metaflow" / "no-user-config").exists(), "no Metaflow config file is read"
    assert caller["METAFLOW_DEFAULT_DATASTORE"] == "s3", "the caller's mapping is not changed"


def _tree(root):
    return sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*"))


@pytest.mark.slow
def test_prove_reference_flow_is_proven_across_task_groupings_and_the_users_datastore_is_untouched(tmp_path):
    """The shipped shell and components pass the gate (the fixed versions of every plant), from a hostile shell.

    The user's shell points Metaflow at their own datastore, S3 and a metadata
    service; the gate's runs use none. The local sysroot comes from both the
    environment and a profile, and the gate is started from inside the user's
    project, where Metaflow would otherwise find ``./.metaflow`` by walking up.
    The S3 root and the service URL lead nowhere: touching either would fail the runs.

    It also pins a measured fact the task-seed plant relies on: Metaflow's
    local runtime numbers tasks from a per-run counter as it launches them,
    and launches foreach splits in split order at any worker count, so every
    branch gets the same task id at 1 and 2 workers. A seed from
    ``current.task_id`` alone is therefore invisible to this gate (it breaks on
    ``resume`` and on remote schedulers instead).
    """
    import os
    import subprocess
    import sys

    user = tmp_path / "project"
    (user / ".metaflow").mkdir(parents=True)
    (user / ".metaflow" / "keep.txt").write_text("the user's datastore\n")
    home = tmp_path / "metaflow-home"
    home.mkdir()
    (home / "config_work.json").write_text(json.dumps({"METAFLOW_DATASTORE_SYSROOT_LOCAL": str(user)}))
    env = {
        **os.environ, "METAFLOW_HOME": str(home), "METAFLOW_PROFILE": "work", "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(user),
        "METAFLOW_DEFAULT_DATASTORE": "s3", "METAFLOW_DATASTORE_SYSROOT_S3": "s3://axisflow-nowhere/metaflow",
        "METAFLOW_DEFAULT_METADATA": "service", "METAFLOW_SERVICE_URL": "http://127.0.0.1:9",
    }
    before = _tree(user)
    report = tmp_path / "verdict.json"
    done = subprocess.run(
        [sys.executable, "-m", "components.cli", "prove", str(FLOW), *TINY, "--report", str(report)], cwd=user, env=env, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # The verdict line comes last but for the line saying where the JSON verdict went.
    *_, verdict_line, written = done.stdout.splitlines()
    assert verdict_line.startswith("PROVEN: experiment smoke (contract order_independent)"), done.stdout
    assert written == f"prove: verdict written to {report}"
    assert _tree(user) == before, "the prove runs wrote into the user's datastore"
    assert sorted(p.name for p in home.iterdir()) == ["config_work.json"]

    verdict = json.loads(report.read_text())
    assert verdict["status"] == "proven" and verdict["message"].startswith("PROVEN: experiment smoke (contract order_independent)")
    assert verdict["workers"] == [1, 2] and verdict["compared"]["branches"] == 2
    run_1, run_2 = verdict["runs"]
    assert (run_1["workers"], run_2["workers"]) == (1, 2)
    # branches_per_task: auto deals the 2 branches into one task per worker: 1 task at 1 worker, 2 at 2 (given 2 cores).
    assert len(run_1["branch_tasks"]) == 1 and len(run_2["branch_tasks"]) == min(2, len(os.sched_getaffinity(0)))
    assert run_1["pathspec"] != run_2["pathspec"]
