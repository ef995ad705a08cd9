"""What each step of the shell imports and recomputes: a task pays for its imports once per process.

Every Metaflow task is a fresh interpreter, so a library a step imports without
needing it (scikit-learn, torch) is paid once per task, and on the critical path
for ``start``, ``join`` and ``end``. These tests run the steps' code paths in a
fresh interpreter (this test process has torch loaded by the conftest) and read
``sys.modules`` afterwards; ``benchmarks/fanout.py --parts ratio`` measures what
it costs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT

HEAVY = ("torch", "sklearn", "pandas", "matplotlib", "hydra")
# A scikit-learn-only cross-validated experiment, shrunk to one replicate of three folds.
DIGITS = ["experiment=digits_cv_smoke", "experiment.seeds=1"]

PRELUDE = f"""
import json, sys
sys.path.insert(0, {str(ROOT)!r})

def heavy():
    return sorted(m for m in {HEAVY!r} if m in sys.modules)
"""


def launched(overrides: list[str]) -> str:
    """Code that sets ``config`` to the value a task sees after the shell launched it (launch inputs recorded).

    Composed and checked here, in the test process, as the launcher does in its own process.
    """
    from components.engine.reuse import launch_inputs
    from components.shell import parse_config
    from components.spec.config import load_spec

    _, spec = load_spec(overrides)
    config = parse_config({"overrides": overrides, "inputs": launch_inputs(spec)})
    return f"config = json.loads({json.dumps(config)!r})"


def composed(overrides: list[str]) -> str:
    """Code that sets ``config`` to the composed config alone, as a run launched without the shell would carry."""
    from components.spec.config import compose

    return f"config = json.loads({json.dumps(compose(overrides))!r})"

# The start, join and end steps' calls, on records shaped like the branches' (one observation per fold and method).
STEPS = """
from components.engine.surface import aggregate_records, build_results, plan_run
from components.engine.reuse import plan_reuse
plan, planned = plan_run(config)
tasks, _ = plan_reuse(config, planned, flow="F", mode="off", run_id="1", log=lambda line: None)
records = [
    {"key": b["key"], "order": b["order"], "data_fingerprint": "f", "counts": {},
     "observations": [{"axes": dict(b["data_axes"]), "method": m, "seed": b["seed_index"], "value": 0.9 + 0.01 * (i + b["data_axes"]["fold"]),
                       **({"secondary": {name: 0.8 + 0.01 * i for name in config["experiment"]["secondary_metrics"]}}
                          if config["experiment"].get("secondary_metrics") else {})}
                      for i, m in enumerate(config["method"])]}
    for b in tasks
]
results = build_results(config, records, aggregate_records(config, records), {})
"""


def _run(*blocks: str) -> dict:
    """Run the prelude and ``blocks`` (each dedented) in a fresh interpreter; return the JSON its last line prints."""
    code = "\n".join([PRELUDE, *(textwrap.dedent(block) for block in blocks)])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_start_join_and_end_of_a_launched_config_import_no_training_library():
    """The launch checked every setting; the steps that train nothing neither re-check them nor load the data."""
    found = _run(launched(DIGITS), STEPS, 'print(json.dumps({"after": heavy(), "dataset": results["dataset"]}))')
    assert found["after"] == [], f"start/join/end imported {found['after']}"
    assert found["dataset"]["loader"] == "sklearn.datasets.load_digits" and found["dataset"]["rows"] == 1797


def test_a_config_launched_without_the_shell_is_still_checked_in_full_by_the_steps():
    """Without the launch's record the steps check every setting themselves: building the estimators imports scikit-learn."""
    found = _run(composed(DIGITS), STEPS, 'print(json.dumps({"after": heavy()}))')
    assert "sklearn" in found["after"]


def test_start_join_and_end_never_compose_and_check_settings_only_without_a_launch_record():
    """Tasks get the config Metaflow stored at launch: no step composes it again, and a launched one is not re-checked."""
    counted = """
        import components.spec.config as cfg
        calls = {"compose": 0, "params": 0}
        real_params = cfg._params
        def no_compose(*args, **kwargs):
            calls["compose"] += 1
            raise AssertionError("a step composed the config")
        def params(*args, **kwargs):
            calls["params"] += 1
            return real_params(*args, **kwargs)
        cfg.compose, cfg._params = no_compose, params
    """
    launched_calls = _run(launched(DIGITS), counted, STEPS, "print(json.dumps(calls))")
    assert launched_calls == {"compose": 0, "params": 0}
    bare_calls = _run(composed(DIGITS), counted, STEPS, "print(json.dumps(calls))")
    assert bare_calls["compose"] == 0 and bare_calls["params"] > 0


def test_a_scikit_learn_only_branch_never_imports_torch():
    """A branch imports what its methods declare: scikit-learn here, and no torch anywhere on its path."""
    found = _run(launched(DIGITS), """
        from components.engine.surface import plan_run
        from components.engine.branch import run_branch
        _, branches = plan_run(config)
        record = run_branch(config, branches[0], log=lambda line: None)
        print(json.dumps({"heavy": heavy(), "trained": len(record["trainings"])}))
    """)
    assert found["trained"] == 3
    assert "sklearn" in found["heavy"] and "torch" not in found["heavy"], found["heavy"]


@pytest.mark.parametrize("experiment", ["smoke", "tabular_cv_smoke"])
def test_start_join_and_end_of_a_torch_experiment_import_no_torch(experiment):
    found = _run(launched([f"experiment={experiment}"]), """
        from components.engine.surface import plan_run
        from components.engine.reuse import plan_reuse
        plan, planned = plan_run(config)
        plan_reuse(config, planned, flow="F", mode="off", run_id="1", log=lambda line: None)
        print(json.dumps({"heavy": heavy()}))
    """)
    assert "torch" not in found["heavy"] and "sklearn" not in found["heavy"], found["heavy"]


def test_a_launch_composes_the_config_once_and_the_parser_gets_its_own_copy(monkeypatch):
    """``prepare_argv`` composes and checks; Metaflow's parser then asks again in the same process with the same overrides."""
    import components.spec.config as cfg
    from components.shell import CONFIG_NAME, parse_config, prepare_argv

    calls = []
    real = cfg.compose
    monkeypatch.setattr(cfg, "compose", lambda overrides=(): calls.append(list(overrides)) or real(overrides))
    overrides = ["experiment=smoke", "experiment.seeds=2"]
    argv = prepare_argv(["flow.py", "show", *overrides], str(ROOT / "flows" / "investigation.py"))
    value = json.loads(argv[argv.index(CONFIG_NAME) + 1])
    first = parse_config(json.dumps(value))
    assert calls == [overrides]  # the parse took the launcher's checked config
    first["experiment"]["seeds"] = 99  # a caller's change must not leak into the next parse
    second = parse_config(json.dumps(value))
    assert calls == [overrides, overrides]  # handed over once: a second parse composes again (pure)
    assert second["experiment"]["seeds"] == 2 and second["axisflow"]["overrides"] == overrides
    assert first["axisflow"]["config_hash"] == second["axisflow"]["config_hash"]


def test_the_launchers_config_is_not_handed_to_a_parse_of_other_overrides_or_edited_files(monkeypatch, tmp_path):
    """The hand-off is keyed on the overrides and every config file's bytes; the launcher's own copy is not the parser's."""
    import shutil

    import components.shell as shell

    configs = tmp_path / "configs"
    shutil.copytree(ROOT / "configs", configs)
    composed = []

    def load_spec(overrides):
        composed.append(list(overrides))
        return {"experiment": {"seeds": len(composed)}}, object()

    monkeypatch.setattr(shell, "CONFIG_DIR", configs)
    monkeypatch.setattr(shell, "load_spec", load_spec)
    launched, _ = shell._checked(["experiment=smoke"])
    launched["experiment"]["seeds"] = 99  # the launcher's later changes stay its own
    assert shell._launched(["experiment=smoke"])[0] == {"experiment": {"seeds": 1}} and len(composed) == 1
    shell._checked(["experiment=smoke"])
    assert shell._launched(["experiment=smoke", "experiment.seeds=3"])[0]["experiment"]["seeds"] == 3
    shell._checked(["experiment=smoke"])
    with open(configs / "experiment" / "smoke.yaml", "a") as edited:
        edited.write("\n# edited after the launch composed it\n")
    assert shell._launched(["experiment=smoke"])[0]["experiment"]["seeds"] == 5
    assert len(composed) == 5


def test_the_end_step_renders_its_card_without_pandas():
    """The card's tables are formatted text: pandas is imported only where a DataFrame or the CSV export is built."""
    found = _run(launched(DIGITS), STEPS, """
        from components.outputs.report import render_card
        card = []
        render_card(card, results, records)
        print(json.dumps({"heavy": heavy(), "components": len(card)}))
    """)
    assert found["components"] > 0
    assert "pandas" not in found["heavy"] and "torch" not in found["heavy"], found["heavy"]


def test_the_join_of_a_cross_validated_run_aggregates_without_scipy_stats():
    """The corrected t interval needs one t quantile: ``scipy.special`` gives it without scipy.stats' ~0.5 s CPU import."""
    found = _run(launched(DIGITS), STEPS, """
        print(json.dumps({"stats": "scipy.stats" in sys.modules, "special": "scipy.special" in sys.modules,
                          "interval": results["statistics"]["interval"]}))
    """)
    assert found["interval"] == "nadeau_bengio" and found["special"] and not found["stats"], found


def test_a_flow_process_freezes_its_objects_at_exit_after_every_other_exit_handler():
    """Tasks end as process exits: the interpreter's final collections must skip what the imports made."""
    code = f"""
import atexit, gc, sys
sys.path.insert(0, {str(ROOT)!r})
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0, flush=True))  # runs last
from components.shell import prepare_argv
for _ in range(2):
    assert prepare_argv(["flow.py", "step", "branch"], "flow.py") == ["flow.py", "step", "branch"]  # a task's command
# Registered after the hook, as Metaflow's own exit handlers are: runs first, with nothing frozen yet.
atexit.register(lambda: print("frozen before:", gc.get_freeze_count() > 0, flush=True))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["frozen before: False", "frozen at exit: True"]


def test_a_process_with_a_nanobind_extension_exits_the_ordinary_way():
    """nanobind (triton, loaded by ``torch.compile``) reports objects alive at shutdown as leaks: no freeze there."""
    pytest.importorskip("triton")
    code = f"""
import atexit, gc, sys
sys.path.insert(0, {str(ROOT)!r})
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0, flush=True))
from components.shell import prepare_argv
prepare_argv(["flow.py", "step", "branch"], "flow.py")
import triton._C.libtriton
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["frozen at exit: False"] and "leaked" not in done.stderr, done.stderr[-2000:]
