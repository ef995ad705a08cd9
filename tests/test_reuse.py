"""Revising an investigation: finished arms are reused across runs, and the results equal a clean run's.

Every count comes from the incremental run's own records and ``results["work"]``
(seam calls made in that run); equality is checked on everything but
:data:`components.schema.RUN_FIELDS`, bit for bit (``repr`` of the floats).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components.schema import RUN_FIELDS, check_record, check_results, comparable
from conftest import ROOT, FinishedRun, copy_datastore, moto_s3, run_smoke

SMALL = ("experiment.seeds=1", "experiment.axes.data.label_noise=[0.0]")
ALLOW = ("all",)


def _results(run: FinishedRun) -> dict:
    return run.run["end"].task.data.results


def _records(run: FinishedRun) -> list[dict]:
    return run.run["join"].task.data.records


def _branches_in_tasks(run: FinishedRun) -> int:
    """How many branches ran in branch tasks (a task runs one or more: ``experiment.branches_per_task``)."""
    return sum(len(task["branch_records"].data) for task in run.run["branch"])


def _trained(run: FinishedRun) -> dict[str, int]:
    """``train_arm:<method>`` counts of this run's own work, read back from its records (not from results)."""
    out: dict[str, int] = {}
    for record in _records(run):
        check_record(record)
        for name, n in record["counts"].items():
            if name.startswith("train_arm:"):
                out[name.split(":", 1)[1]] = out.get(name.split(":", 1)[1], 0) + n
    return out


def _assert_equal_outside_run_fields(a: dict, b: dict) -> None:
    assert comparable(a) == comparable(b)
    assert repr(comparable(a)) == repr(comparable(b))  # floats bit for bit, key order included


@pytest.fixture(scope="module")
def revisions(smoke_run, tmp_path_factory):
    """The shared smoke run's datastore (a copy) revised step by step: + seeds, + an axis value, a changed setting, again."""
    root = copy_datastore(smoke_run, tmp_path_factory.mktemp("revise"))
    # The revisions change the reviewed fidelity facts (sweeps, method settings); the review gate is not under test here.
    runs = {"add_seeds": run_smoke(root, "experiment.seeds=4", review_allow=ALLOW)}
    runs["add_value"] = run_smoke(root, "experiment.axes.data.label_noise=[0.0,0.3,0.1]", review_allow=ALLOW)
    runs["mlp_setting"] = run_smoke(root, "method.mlp.model.hidden=[16]", review_allow=ALLOW)
    runs["again"] = run_smoke(root)
    return runs


@pytest.fixture(scope="module")
def added_method(tmp_path_factory):
    """One branch of the smoke experiment with two methods, then with the third added, in one datastore: ``(base, added)``."""
    root = tmp_path_factory.mktemp("add-method")
    base = run_smoke(root, *SMALL, "method=[logreg,mlp]", review_allow=ALLOW)
    return base, run_smoke(root, *SMALL, review_allow=ALLOW)


def _arm_values(record: dict) -> str:
    """What a branch's arms measured (trainings and observations, telemetry aside), floats by their ``repr``."""
    fields = ("method", "train_axes", "seed", "value", "val_score", "history")
    trainings = [{k: t[k] for k in fields} for t in record["trainings"]]
    return repr((record["data_fingerprint"], trainings, record["observations"]))


@pytest.mark.slow
def test_adding_a_method_trains_only_that_methods_arms(added_method, smoke_run):
    base, run = added_method
    # One branch; mlp_early_stop is axis-dependent over 2 epoch values.
    assert _trained(run) == {"mlp_early_stop": 2}
    results = _results(run)
    check_results(results)
    assert results["work"]["train_arm"] == 2 and "train_arm:logreg" not in results["work"]
    reuse = results["provenance"]["reuse"]
    assert (reuse["reused"], reuse["arms"]) == (3, 5)
    assert reuse["from_runs"] == [base.pathspec]
    assert reuse["counts"] == {"train_arm": 3, "train_arm:logreg": 1, "train_arm:mlp": 2}
    base_tasks = {t.pathspec for t in base.run["branch"]}
    for arm in reuse["per_arm"]:
        assert arm["origin"] == ("trained" if arm["method"] == "mlp_early_stop" else "reused")
        assert arm["origin"] == "trained" or arm["task"] in base_tasks
    # Reused and newly trained arms alike measure what the clean smoke run's arms of the same branch measured, bit for bit.
    (record,) = _records(run)
    clean = {r["key"]: r for r in _records(smoke_run)}
    assert _arm_values(record) == _arm_values(clean[record["key"]])


@pytest.mark.slow
def test_adding_seeds_trains_only_the_new_branches(revisions):
    run = revisions["add_seeds"]
    assert _branches_in_tasks(run) == 2  # seed 3 at both noise values; seeds 0-2 run in no task
    assert _results(run)["work"]["make_data"] == 2
    assert _trained(run) == {"logreg": 2, "mlp": 4, "mlp_early_stop": 4}
    assert len(_records(run)) == 8


@pytest.mark.slow
def test_adding_an_axis_value_trains_only_its_branches(revisions):
    run = revisions["add_value"]
    assert _branches_in_tasks(run) == 3
    assert _trained(run) == {"logreg": 3, "mlp": 6, "mlp_early_stop": 6}


@pytest.mark.slow
def test_changing_a_method_setting_retrains_only_that_method(revisions):
    run = revisions["mlp_setting"]
    assert _trained(run) == {"mlp": 12}
    assert _results(run)["provenance"]["reuse"]["reused"] == 18


@pytest.mark.slow
def test_rerunning_a_finished_run_trains_nothing_and_equals_it(revisions, smoke_run):
    run = revisions["again"]
    assert _trained(run) == {}
    assert "train_arm" not in _results(run)["work"]
    # Metaflow cannot fan out over nothing: one fully reused branch runs as a task that trains nothing.
    assert _branches_in_tasks(run) == 1 and len(list(run.run["branch"])) == 1
    assert _results(run)["provenance"]["reuse"]["reused"] == 30
    _assert_equal_outside_run_fields(_results(run), _results(smoke_run))


@pytest.mark.slow
def test_reuse_off_recomputes_everything(smoke_rerun_without_reuse, smoke_run):
    run = smoke_rerun_without_reuse
    assert _trained(run) == {"logreg": 6, "mlp": 12, "mlp_early_stop": 12}
    assert _results(run)["provenance"]["reuse"]["reused"] == 0
    _assert_equal_outside_run_fields(_results(run), _results(smoke_run))


@pytest.mark.slow
def test_results_header_and_plan_say_what_is_reused(revisions):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    where = revisions["again"].datastore_root
    again = revisions["again"].run.id
    results = subprocess.run([sys.executable, "-m", "components.cli", "results", "--run", again], cwd=where, env=env, capture_output=True, text=True, timeout=300)
    assert results.returncode == 0, results.stderr
    assert "30 of 30 arms reused from runs InvestigationFlow/" in results.stdout
    plan = subprocess.run(
        [sys.executable, "-m", "components.cli", "plan", "experiment=smoke", "experiment.seeds=5"],
        cwd=where, env=env, capture_output=True, text=True, timeout=300,
    )
    assert plan.returncode == 0, plan.stderr
    # Seeds 0-3 are finished in this datastore; seed 4 (2 branches, 5 arms each) is not.
    assert "40 of 50 arms would be reused" in plan.stdout, plan.stdout
    assert "8 branches fully reused (no task), 2 branch tasks would start, 10 trainings would run" in plan.stdout


def test_run_fields_are_provenance_and_work():
    assert RUN_FIELDS == ("provenance", "work")


# --- Code and lockfile: a copy of the project, so its sources can be edited -------------------------------


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory):
    """A copy of the checkout (code, configs, flow, lockfile) whose files a test may edit."""
    copy = tmp_path_factory.mktemp("project") / "axisflow"
    for name in ("components", "configs", "flows", "lint"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy2(ROOT / name, copy / name)
    return copy


def _run_copy(copy: Path, root: Path, *overrides: str) -> FinishedRun:
    from components.outputs.runs import run_flow

    with run_flow(copy / "flows" / "investigation.py", ["experiment=smoke", *SMALL, *overrides], max_workers=1, datastore_root=root, review_allow=ALLOW) as running:
        if running.status != "successful":
            pytest.fail(f"run failed:\n{running.stdout}\n{running.stderr}")
        return FinishedRun(running, root)


@pytest.mark.slow
def test_code_and_lockfile_edits_retrain_exactly_what_depends_on_them(project_copy, tmp_path):
    root = tmp_path / "store"
    all_arms = {"logreg": 1, "mlp": 2, "mlp_early_stop": 2}
    assert _trained(_run_copy(project_copy, root)) == all_arms
    # An edit to a file no arm imports (another investigation's generator, statistics) keeps every arm: a dirty
    # tree reuses exactly the arms whose code fingerprint still matches.
    for unrelated in ("components/investigations/sample_size/data.py", "components/stats/__init__.py"):
        with open(project_copy / unrelated, "a") as f:
            f.write("\n# an unrelated edit\n")
    assert _trained(_run_copy(project_copy, root)) == {}
    # Editing the generator's source retrains everything that uses it.
    with open(project_copy / "components/investigations/reference/data.py", "a") as f:
        f.write("\n# the generator changed\n")
    assert _trained(_run_copy(project_copy, root)) == all_arms
    assert _trained(_run_copy(project_copy, root)) == {}
    # What else is in every key (a module no import reaches, uv.lock, threads, packages) is checked on the keys in
    # process below: a changed key retrains its arm, as this run shows for the generator's source.


# --- Verify, nondeterministic contract, prove: in process, no flow runs --------------------------------------


# scikit-learn's ridge: a branch trains in well under a second, so these run in every quick test pass.
# Without the experiment's secondary metrics: these tests are about the primary record (tests/test_secondary_metrics.py rescores reused arms).
IN_PROCESS = ("experiment=sample_size_smoke", "experiment.seeds=1", "experiment.axes.data.n_train=[40]", "method=[ridge]", "~experiment.secondary_metrics")


def _finished_branch(*overrides: str):
    from components.engine.branch import run_branch
    from components.spec.config import load_spec
    from components.engine.planner import branches

    config, spec = load_spec([*IN_PROCESS, *overrides])
    branch = branches(spec)[0]
    return config, branch, run_branch(config, branch, log=lambda _: None)


def _lookup_from(record, tamper=None):
    found = {}
    for arm, training in zip(record["provenance"]["arms"], record["trainings"]):
        training = dict(training)
        if tamper is not None and training["method"] == tamper:
            training["value"] = training["value"] + 1e-12
        found[arm["key"]] = {"training": training, "data_fingerprint": record["data_fingerprint"], "run": "F/1", "task": "F/1/branch/3"}
    return lambda flow, keys, exclude_run=None: {k: v for k, v in found.items() if k in keys}


def test_a_branch_records_the_metrics_resolution_with_each_observation_and_reuse_keeps_it():
    from components.engine.branch import run_branch
    from components.engine.reuse import plan_reuse
    from components.schema import check_record
    from components.spec.config import load_spec
    from components.engine.planner import branches

    config, spec = load_spec(["experiment=tabular_cv_smoke", "experiment.seeds=1", "method=[logreg_scaled,logreg_raw]", "~experiment.secondary_metrics"])
    branch = branches(spec)[0]
    record = run_branch(config, branch, log=lambda _: None)
    check_record(record)
    from components.spec.seams import make_data

    n_test = len(make_data(spec.data, branch["data_axes"], branch["seed"]).y_test)
    assert {t["resolution"] for t in record["trainings"]} == {o["resolution"] for o in record["observations"]} == {1 / n_test}
    tasks, _ = plan_reuse(config, [branch], flow="F", mode="auto", lookup=_lookup_from(record), log=lambda _: None)
    copy = run_branch(config, tasks[0], log=lambda _: None)
    assert repr(copy["observations"]) == repr(record["observations"])
    # A metric without a resolution (rmse) records none.
    assert all("resolution" not in o for o in _finished_branch()[2]["observations"])


def test_verify_recomputes_a_sample_and_names_the_arm_that_differs():
    from components.engine.branch import run_branch
    from components.engine.reuse import plan_reuse

    config, branch, record = _finished_branch()
    tasks, assembled = plan_reuse(config, [branch], flow="F", mode="verify", run_id="2", lookup=_lookup_from(record), log=lambda _: None)
    assert assembled == [] and tasks[0]["arms"][0].get("verify")
    verified = run_branch(config, tasks[0], log=lambda _: None)
    assert verified["provenance"]["arms"][0]["origin"] == "verified"
    assert repr(verified["trainings"]) == repr(record["trainings"])
    tasks, _ = plan_reuse(config, [branch], flow="F", mode="verify", run_id="2", lookup=_lookup_from(record, tamper="ridge"), log=lambda _: None)
    with pytest.raises(RuntimeError, match=r"reuse verify: branch n_train=40,seed=0, method ridge, training axes none: value differs"):
        run_branch(config, tasks[0], log=lambda _: None)


def test_nondeterministic_contract_never_reuses():
    from components.engine.reuse import plan_reuse

    config, branch, record = _finished_branch("experiment.contract=nondeterministic")
    tasks, assembled = plan_reuse(config, [branch], flow="F", mode="auto", lookup=_lookup_from(record), log=lambda _: None)
    assert assembled == [] and all("reused" not in arm for arm in tasks[0]["arms"])


def test_a_matching_arm_is_reused_bit_for_bit_without_training():
    from components.engine.reuse import plan_reuse

    config, branch, record = _finished_branch()
    tasks, assembled = plan_reuse(config, [branch], flow="F", mode="auto", lookup=_lookup_from(record), log=lambda _: None)
    # The only branch is fully reused, so it must still run (as a task that trains nothing).
    assert assembled == [] and len(tasks) == 1
    from components.engine.branch import run_branch

    copy = run_branch(config, tasks[0], log=lambda _: None)
    assert copy["counts"] == {} and repr(copy["observations"]) == repr(record["observations"])
    assert {a["origin"] for a in copy["provenance"]["arms"]} == {"reused"}


def test_a_fully_reused_branch_starts_no_task_and_its_record_is_assembled_in_start():
    from components.engine.branch import run_branch
    from components.spec.config import load_spec
    from components.engine.planner import branches
    from components.engine.surface import reuse_run

    config, spec = load_spec([*IN_PROCESS, "experiment.seeds=2"])
    first, second = branches(spec)
    finished = run_branch(config, first, log=lambda _: None)
    tasks, records = reuse_run(config, [first, second], flow="F", mode="auto", run_id="2", lookup=_lookup_from(finished), log=lambda _: None)
    assert [t["key"] for t in tasks] == [second["key"]] and all("reused" not in a for a in tasks[0]["arms"])
    assert [r["key"] for r in records] == [first["key"]]
    assert records[0]["counts"] == {} and records[0]["provenance"]["task"] is None
    assert repr(records[0]["trainings"]) == repr(finished["trainings"])
    assert repr(records[0]["observations"]) == repr(finished["observations"])


def test_prove_runs_with_reuse_off():
    from components.engine.reuse import off_options

    assert off_options(ROOT / "flows" / "investigation.py") == {"reuse": "off"}


# --- S3: the same lookup through the Metaflow client against moto's S3 server on loopback -------------------


@pytest.fixture(scope="module")
def s3_env(tmp_path_factory):
    with moto_s3("axisflow-reuse") as (endpoint, _):
        yield _s3_settings(endpoint, tmp_path_factory.mktemp("s3-home"))


def _s3_settings(endpoint: str, home: Path) -> dict[str, str]:
    """Metaflow and AWS settings for a datastore in moto's bucket ``axisflow-reuse`` at ``endpoint``."""
    return {
        "METAFLOW_HOME": str(home),
        "METAFLOW_DEFAULT_DATASTORE": "s3",
        "METAFLOW_DATASTORE_SYSROOT_S3": "s3://axisflow-reuse/metaflow",
        "METAFLOW_DEFAULT_METADATA": "local",
        "METAFLOW_S3_ENDPOINT_URL": endpoint,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1",
        "no_proxy": "127.0.0.1",
    }


@pytest.mark.slow
def test_reuse_works_on_an_s3_datastore(s3_env, tmp_path):
    from components.outputs.runs import run_flow

    outputs = []
    for _ in range(2):
        with run_flow(ROOT / "flows" / "investigation.py", ["experiment=smoke", *SMALL, "method=[logreg]"], max_workers=1, datastore_root=tmp_path, env=s3_env, review_allow=ALLOW) as running:
            assert running.status == "successful", running.stdout + running.stderr
            outputs.append(running.stdout)
    assert "reuse auto: 0 of 1 arms reused" in outputs[0]
    assert "reuse auto: 1 of 1 arms reused" in outputs[1]


# --- What a key covers: the table's bytes, the framework modules it names ------------------------------------


def test_editing_the_table_a_generator_reads_changes_every_key(tmp_path):
    from components.spec.config import load_spec
    from components.engine.planner import branches
    from components.engine.reuse import arm_keys

    table = tmp_path / "table.csv"
    shutil.copy2(ROOT / "data" / "breast_cancer.csv", table)
    overrides = ["experiment=tabular_cv_smoke", f"data.path={table}"]
    _, spec = load_spec(overrides)
    before = [arm_keys(spec, b) for b in branches(spec)]
    assert before == [arm_keys(spec, b) for b in branches(load_spec(overrides)[1])]  # a pure function of the inputs
    lines = table.read_text().splitlines()
    cells = lines[1].split(",")
    cells[1] = str(float(cells[1]) + 0.5)  # one feature value of one row
    table.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    after = [arm_keys(spec, b) for b in branches(spec)]
    assert all(not set(a) & set(b) for a, b in zip(before, after))


def test_every_framework_module_a_key_names_exists():
    from components.engine.reuse import ARM_MODULES, _module_file

    assert [name for name in ARM_MODULES if _module_file(name) is None] == []


# --- Keys cover what actually ran: every file of the code's folders, the table as read, threads, packages ------


@pytest.fixture
def code_copy(tmp_path: Path, monkeypatch):
    """A copy of ``components/`` that reuse fingerprints instead of the checkout's (so a test may edit it)."""
    import components.engine.reuse as reuse

    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "components", copy / "components", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(reuse, "ROOT", copy)
    reuse._scope_of.cache_clear()
    yield copy
    monkeypatch.undo()
    reuse._scope_of.cache_clear()


def _fingerprints(spec) -> dict[str, str]:
    from components.engine.reuse import _scope_of, code_fingerprint

    _scope_of.cache_clear()
    return {m.name: code_fingerprint(spec.data, spec.training, m.spec, spec.metric) for m in spec.methods}


@pytest.mark.parametrize(
    "loader",
    [
        "importlib.import_module('components.investigations.sample_size.consts')",
        "__import__('components.investigations.sample_size.consts')",
        "importlib.util.spec_from_file_location('c', __file__.replace('data.py', 'consts.py'))",
    ],
)
def test_a_module_loaded_by_string_is_in_every_key(code_copy, loader):
    from components.spec.config import load_spec

    copy = code_copy
    folder = copy / "components" / "investigations" / "sample_size"
    (folder / "consts.py").write_text("NOISE = 0.5\n")
    with open(folder / "data.py", "a") as f:
        f.write(f"\n\ndef _load():\n    import importlib, importlib.util\n    return {loader}\n")
    _, spec = load_spec(list(IN_PROCESS))
    before = _fingerprints(spec)
    (folder / "consts.py").write_text("NOISE = 0.7\n")
    after = _fingerprints(spec)
    assert all(before[name] != after[name] for name in before)


def test_a_data_file_next_to_the_code_and_an_unimported_library_module_are_in_every_key(code_copy):
    from components.spec.config import load_spec

    copy = code_copy
    _, spec = load_spec(list(IN_PROCESS))
    first = _fingerprints(spec)
    (copy / "components" / "investigations" / "sample_size" / "weights.json").write_text('{"scale": 2}\n')
    second = _fingerprints(spec)
    (copy / "components" / "library" / "plugins.py").write_text("SCALE = 3\n")
    third = _fingerprints(spec)
    assert first["ridge"] != second["ridge"] != third["ridge"]
    # Another investigation's folder and the statistics package are not code an arm runs.
    (copy / "components" / "investigations" / "reference" / "data.py").write_text("X = 1\n")
    (copy / "components" / "stats" / "__init__.py").write_text("X = 1\n")
    assert _fingerprints(spec) == third


def test_the_lockfile_is_in_every_key(code_copy):
    from components.engine.planner import branches
    from components.engine.reuse import arm_keys, lock_fingerprint
    from components.spec.config import load_spec

    def keys() -> list[str]:
        lock_fingerprint.cache_clear()  # a task reads the lock once; here it changes between reads
        return arm_keys(spec, branches(spec)[0])

    shutil.copy2(ROOT / "uv.lock", code_copy / "uv.lock")
    _, spec = load_spec(list(IN_PROCESS))
    try:
        before = keys()
        with open(code_copy / "uv.lock", "a") as f:
            f.write("\n# a changed lock\n")
        assert before and not set(before) & set(keys())
    finally:
        lock_fingerprint.cache_clear()


def test_thread_count_and_installed_packages_are_in_every_key(monkeypatch):
    import components.engine.reuse as reuse
    from components.spec.config import load_spec
    from components.engine.planner import branches

    def keys(*overrides):
        _, spec = load_spec([*IN_PROCESS, *overrides])
        return arm_keys(spec, branches(spec)[0])

    from components.engine.reuse import arm_keys

    base = keys()
    # ridge (scikit-learn) reads no training key, yet BLAS threads change the bits of larger fits.
    assert keys("training.threads=2") != base
    packages = reuse.installed_packages()
    monkeypatch.setattr(reuse, "installed_packages", lambda: {**packages, "scikit-learn": "0.0.1"})
    assert keys() != base


def test_the_branch_pins_thread_pools_to_training_threads(monkeypatch):
    from threadpoolctl import threadpool_info

    from components.engine.branch import run_branch
    from components.spec.config import load_spec
    from components.engine.planner import branches

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    config, spec = load_spec(list(IN_PROCESS))
    run_branch(config, branches(spec)[0], log=lambda _: None)
    assert os.environ["OMP_NUM_THREADS"] == os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert {pool["num_threads"] for pool in threadpool_info()} == {1}


def _launched(overrides: list[str]):
    """``(config, spec)`` as a task sees them: with the input hashes the shell records at launch."""
    from components.engine.reuse import launch_inputs
    from components.shell import parse_config
    from components.spec.config import load_spec

    _, spec = load_spec(overrides)
    config = parse_config({"overrides": overrides, "inputs": launch_inputs(spec)})
    return config, spec


def _edit_row(table: Path) -> None:
    lines = table.read_text().splitlines()
    cells = lines[1].split(",")
    cells[1] = str(float(cells[1]) + 0.5)
    table.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")


def test_a_table_edited_during_the_run_fails_the_branch_naming_the_file(tmp_path):
    from components.engine.branch import run_branch
    from components.engine.planner import branches

    table = tmp_path / "table.csv"
    shutil.copy2(ROOT / "data" / "breast_cancer.csv", table)
    config, spec = _launched(["experiment=tabular_cv_smoke", f"data.path={table}", "method=[logreg_scaled]", "experiment.seeds=1"])
    _edit_row(table)
    with pytest.raises(RuntimeError, match=rf"^branch fold=0,seed=0: data file {table} changed \(sha256 \w+ at launch, now \w+\) since the run was launched"):
        run_branch(config, branches(spec)[0], log=lambda _: None)


def test_a_table_edited_between_launch_and_start_fails_start(tmp_path):
    from components.engine.reuse import plan_reuse
    from components.engine.planner import branches

    table = tmp_path / "table.csv"
    shutil.copy2(ROOT / "data" / "breast_cancer.csv", table)
    config, spec = _launched(["experiment=tabular_cv_smoke", f"data.path={table}", "method=[logreg_scaled]", "experiment.seeds=1"])
    table.write_text(table.read_text().replace("\n", "\r\n"))  # same values, other bytes: other file
    with pytest.raises(RuntimeError, match=rf"^start: data file {table} changed"):
        plan_reuse(config, branches(spec), flow="F", mode="off", log=lambda _: None)


def test_a_branch_running_other_code_than_launched_fails_naming_the_file():
    from components.engine.branch import run_branch
    from components.engine.planner import branches

    config, spec = _launched(list(IN_PROCESS))
    config["axisflow"]["inputs"]["code"]["components/investigations/sample_size/data.py"] = "0" * 16
    with pytest.raises(RuntimeError, match=r"code changed \(components/investigations/sample_size/data.py\) since the run was launched"):
        run_branch(config, branches(spec)[0], log=lambda _: None)


def test_a_branch_whose_planned_keys_are_not_its_own_fails_instead_of_storing_them():
    from components.engine.branch import run_branch
    from components.engine.planner import branches

    config, spec = _launched(list(IN_PROCESS))
    branch = {**branches(spec)[0], "arms": [{"key": "0" * 64}]}
    with pytest.raises(RuntimeError, match=r"^branch n_train=40,seed=0, method ridge, training axes none: its reuse key differs from the one planned in start"):
        run_branch(config, branch, log=lambda _: None)


def test_installed_packages_reads_the_same_names_and_versions_as_the_full_metadata_parse():
    """The header scan must not move a reuse key: its dict equals the one ``dist.metadata`` gives."""
    from importlib import metadata

    from components.engine import reuse

    parsed: dict[str, str] = {}
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name and name not in parsed:
            parsed[name] = dist.version
    assert reuse.installed_packages() == dict(sorted(parsed.items()))
    assert {"numpy", "scikit-learn", "metaflow"} <= set(parsed)
