"""The review gate: the worksheet flags each planted fidelity trap, records bind to fidelity facts only, and the run gate obeys them."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from components.spec.config import ConfigError, load_spec
from components.engine.provenance import parse_resume_review_tag, resume_review_tag, run_provenance
from components.gates.review import TRAPS, ReviewError, build, check, gate, prompt, read_record, worksheet_for, write_record
from components.shell import LAUNCH_KEY, parse_config, prepare_argv

ROOT = Path(__file__).resolve().parents[1]
FLOW = ROOT / "flows" / "investigation.py"
SHIPPED = sorted(p.stem for p in (ROOT / "configs" / "experiment").glob("*.yaml"))
# Experiments with a review record; one without (a researcher's new investigation) is refused by the gate until reviewed.
REVIEWED = sorted(p.stem for p in (ROOT / "reviews").glob("*.yaml"))
PASS = {trap: {"verdict": "pass", "answer": f"checked {trap} against the declarations"} for trap in TRAPS}
PLANTS = "tests.fixtures.review_plants"
MLP = "kind:axis_dependent,model:{_target_:components.library.models.mlp,hidden:[16]},callbacks:[]"


def _sheet(*overrides: str, experiments_dir: Path | None = None):
    config, spec = load_spec(list(overrides))
    return build(config, spec, overrides, experiments_dir=experiments_dir)


def _flags(ws, trap: str) -> list[str]:
    return ws.section(trap).flags


# ------------------------------------------------------------------ the five traps, planted in variants of shipped investigations


def test_split_convention_shows_the_declared_split_and_flags_a_source_that_draws_differently():
    ws = _sheet("experiment=sample_size_smoke", "+experiment.source=tests/fixtures/review/poc_one_stream.py")
    section = ws.section("split_convention")
    assert section.facts["split"].startswith("independent streams derived from the replicate seed")
    assert section.facts["source"]["convention"].startswith("one stream")
    assert any("np.random.default_rng(seed)" in line for line in section.lines)
    assert section.flags == ["the source appears to use one stream, the generator declares several streams"]


def test_split_convention_flags_a_splitter_source_against_a_one_stream_generator():
    ws = _sheet("experiment=smoke", "+experiment.source=tests/fixtures/review/poc_splitter.py")
    assert ws.section("split_convention").facts["source"]["convention"] == "a splitter: train_test_split"
    assert _flags(ws, "split_convention") == ["the source appears to use a splitter, the generator declares one stream"]


def test_reshuffle_symmetry_flags_a_method_with_a_fixed_order_while_the_others_reshuffle():
    ws = _sheet("experiment=smoke", f"+method.fixed_mlp={{_target_:{PLANTS}.train_fixed_order,{MLP}}}")
    facts = ws.section("reshuffle_symmetry").facts
    assert facts["mlp"]["effective"] == "training.reshuffle=per_epoch"
    assert facts["fixed_mlp"]["effective"].startswith("as declared: one fixed order")
    assert facts["logreg"]["effective"] == "order-free"
    (flag,) = _flags(ws, "reshuffle_symmetry")
    assert flag.startswith("methods order their training data differently") and "fixed_mlp" in flag and "logreg" not in flag


def test_reshuffle_symmetry_does_not_compare_one_pass_estimators_with_minibatch_orders():
    ws = _sheet("experiment=tabular_cv_smoke")
    facts = ws.section("reshuffle_symmetry").facts
    assert facts["logreg_raw"]["effective"].startswith("one pass over the whole training split: no minibatch order")
    assert facts["mlp_scaled"]["effective"] == "training.reshuffle=per_epoch"
    assert _flags(ws, "reshuffle_symmetry") == []


def test_reshuffle_symmetry_still_compares_an_estimator_that_shuffles():
    sgd = "+method.sgd={_target_:components.library.sklearn_train.fit_estimator,kind:axis_agnostic,estimator:{_target_:sklearn.linear_model.SGDClassifier}}"
    ws = _sheet("experiment=tabular_cv_smoke", sgd)
    assert ws.section("reshuffle_symmetry").facts["sgd"]["effective"].startswith("as declared: the estimator's own")
    (flag,) = _flags(ws, "reshuffle_symmetry")
    assert flag.startswith("methods order their training data differently") and "sgd" in flag and "logreg_raw" not in flag


def test_axes_vs_source_flags_an_axis_the_source_fixes_and_lists_matching_settings():
    ws = _sheet("experiment=smoke", "+experiment.source=tests/fixtures/review/poc_one_stream.py")
    section = ws.section("axes_vs_source")
    flags = section.flags
    assert any(f.startswith("experiment.axes.data.label_noise = [0.0, 0.3] but the source has line 9: LABEL_NOISE = 0.2") for f in flags)
    assert any("the config sweeps 2 value(s), the source fixes it" in f for f in flags)
    # The epoch axis matches the source's loop, and n_features its constant: shown, not flagged.
    assert any(line.startswith("experiment.axes.training.epochs = [2, 4]") and line.endswith("matches") for line in section.lines)
    assert any(line.startswith("data.n_features = 8") and line.endswith("matches") for line in section.lines)
    assert not any("epochs" in f or "n_features" in f for f in flags)
    assert section.facts["source"]["mismatches"] == ["experiment.axes.data.label_noise"]


def test_axes_vs_source_flags_an_axis_the_source_never_names():
    ws = _sheet("experiment=sample_size_smoke", "+experiment.source=tests/fixtures/review/poc_splitter.py")
    flags = _flags(ws, "axes_vs_source")
    assert any(f.startswith("experiment.axes.training.weight_decay sweeps [0.0, 0.1], but the source never names weight_decay") for f in flags)
    assert not any(f.startswith("experiment.axes.data.n_train") for f in flags)  # the source loops over n_train in [40, 80]


def test_same_name_flags_two_names_bound_to_one_function_with_different_meanings(tmp_path):
    (tmp_path / "other.yaml").write_text(
        f"experiment:\n  name: other\n  metric: {{name: decoy_recall, _target_: {PLANTS}.decoy_recall}}\n"
    )
    ws = _sheet("experiment=smoke", f"experiment.metric={{name:band_purity,_target_:{PLANTS}.band_purity}}", experiments_dir=tmp_path)
    (flag,) = _flags(ws, "same_name")
    assert "band_purity" in flag and "decoy_recall" in flag and f"same function {PLANTS}._band_fraction" in flag
    assert "'fraction of the band that is decoys' vs 'fraction of the decoys that fall in the band'" in flag


def test_same_name_flags_one_name_bound_to_two_implementations(tmp_path):
    (tmp_path / "other.yaml").write_text(f"experiment:\n  name: other\n  metric: {{name: auroc, _target_: {PLANTS}.auroc}}\n")
    ws = _sheet("experiment=smoke", experiments_dir=tmp_path)
    assert _flags(ws, "same_name") == [f"metric name auroc is also bound to a different implementation: {PLANTS}.auroc in other"]


def test_same_name_shows_the_selection_monitor_and_flags_one_that_measures_something_else():
    ws = _sheet("experiment=smoke")
    assert any("mlp_early_stop: callbacks[0] EarlyStopping monitors val_metric = auroc on the validation split" in line for line in ws.section("same_name").lines)
    assert _flags(ws, "same_name") == []
    changed = _sheet("experiment=smoke", f"method.mlp_early_stop.callbacks=[{{_target_:{PLANTS}.BestOnTrainLoss,monitor:train_loss}}]")
    assert _flags(changed, "same_name") == ["mlp_early_stop selects on train_loss (train_loss), not on the validation split, and the table reports auroc"]


def test_early_stopping_on_validation_loss_while_reporting_another_metric_is_shown_not_flagged():
    ws = _sheet("experiment=tabular_cv_smoke")
    assert any("mlp_scaled: callbacks[0] EarlyStopping monitors val_loss = the training loss on the validation split" in line for line in ws.section("same_name").lines)
    assert ws.section("same_name").facts["monitors"] == {"mlp_scaled": ["val_loss"]}
    assert _flags(ws, "same_name") == []


def test_sweep_inflation_flags_a_method_selected_from_twenty_configurations_against_a_single_config_baseline():
    grid = ",".join(str(10.0 ** (k / 5 - 2)) for k in range(20))
    search = (
        "+method.ridge_search={_target_:components.library.sklearn_train.fit_estimator,kind:axis_agnostic,"
        "estimator:{_target_:sklearn.model_selection.GridSearchCV,estimator:{_target_:sklearn.linear_model.Ridge,alpha:1.0},"
        f"param_grid:{{alpha:[{grid}]}}}}}}"
    )
    ws = _sheet("experiment=sample_size_smoke", search)
    facts = ws.section("sweep_inflation").facts["methods"]
    assert facts["ridge_search"]["budget"] == {"every cell": 20} and facts["ridge"]["budget"] == {"every cell": 1}
    assert _flags(ws, "sweep_inflation") == ["ridge_search is selected from up to 20 configuration(s), the baseline ridge from 1"]


def test_sweep_inflation_shows_early_stopping_checkpoints_per_cell_without_flagging_or_binding_them():
    ws = _sheet("experiment=smoke")
    section = ws.section("sweep_inflation")
    assert section.facts["methods"]["mlp_early_stop"]["budget"] == "early stopping on val_metric (validation split)"
    assert section.facts["methods"]["mlp"]["budget"] == {"epochs=2": 1, "epochs=4": 1}
    assert any(line.startswith("mlp_early_stop: early stopping on val_metric, one configuration's validation checkpoints: 2 (epochs=2), 4 (epochs=4)") for line in section.lines)
    assert _flags(ws, "sweep_inflation") == []


def test_sweep_inflation_still_flags_a_search_inside_an_early_stopped_comparison():
    grid = ",".join(str(10.0 ** (k / 5 - 2)) for k in range(20))
    search = (
        "+method.logreg_search={_target_:components.library.sklearn_train.fit_estimator,kind:axis_agnostic,"
        "estimator:{_target_:sklearn.model_selection.GridSearchCV,estimator:{_target_:sklearn.linear_model.LogisticRegression,C:1.0},"
        f"param_grid:{{C:[{grid}]}}}}}}"
    )
    ws = _sheet("experiment=tabular_cv_smoke", search)
    assert _flags(ws, "sweep_inflation") == ["logreg_search is selected from up to 20 configuration(s), the baseline logreg_scaled from 1"]


def test_sweep_inflation_flags_a_trainer_that_does_not_declare_its_budget():
    ws = _sheet("experiment=smoke", "+method.bagged={_target_:tests.fixtures.planted.train_global_rng," + MLP + "}")
    assert "bagged's trainer declares no selection budget" in _flags(ws, "sweep_inflation")[0]


# ------------------------------------------------------------------ what binds a review, and what does not


@pytest.mark.parametrize(
    "override",
    ["training.lr=0.01", "experiment.seeds=7", "experiment.statistics.n_resamples=500", "training.threads=2",
     "experiment.question=anything", "experiment.contract=single_worker", "data.n_test=500"],
)
def test_facts_that_do_not_touch_fidelity_leave_the_fingerprint_alone(override):
    assert _sheet("experiment=smoke", override).fingerprint == _sheet("experiment=smoke").fingerprint


@pytest.mark.parametrize(
    ("override", "trap"),
    [
        ("experiment.axes.data.label_noise=[0.0,0.4]", "axes_vs_source"),
        ("experiment.axes.training.epochs=[2,8]", "axes_vs_source"),
        ("training.reshuffle=once", "reshuffle_symmetry"),
        (f"data._target_={PLANTS}.teacher_offset_streams", "split_convention"),
        (f"experiment.metric={{name:decoy_recall,_target_:{PLANTS}.decoy_recall}}", "same_name"),
        ("method.mlp_early_stop.callbacks=[]", "sweep_inflation"),
        ("experiment.baseline=mlp", "sweep_inflation"),
    ],
)
def test_a_changed_fidelity_fact_makes_the_record_stale_and_names_the_trap(tmp_path, override, trap):
    write_record(_sheet("experiment=smoke"), "tester", PASS, reviews_dir=tmp_path)
    status = check(_sheet("experiment=smoke", override), reviews_dir=tmp_path)
    assert status.state == "stale" and trap in status.blocking
    assert status.message.startswith("experiment smoke: facts changed since the review in ") and f"{trap} (" in status.message


@pytest.mark.parametrize("override", ["training.epochs=20", "training.eval_every=2", "method.mlp_scaled.callbacks.0.patience=3"])
def test_a_change_of_an_early_stopped_methods_epochs_does_not_stale_its_record(override):
    status = check(_sheet("experiment=tabular_cv_smoke", override))
    assert status.state == "reviewed", status.message


def test_a_smoke_version_is_covered_by_the_full_experiments_record_when_its_facts_agree_but_for_scale(tmp_path):
    write_record(_sheet("experiment=reference"), "tester", PASS, reviews_dir=tmp_path)
    status = check(_sheet("experiment=smoke"), reviews_dir=tmp_path)
    assert status.state == "reviewed" and status.path == tmp_path / "reference.yaml"
    assert status.message.startswith("experiment smoke is covered by ") and "(experiment reference: the same fidelity facts at another scale" in status.message
    # A fidelity fact beyond scale differs: no cover.
    assert check(_sheet("experiment=smoke", "training.reshuffle=once"), reviews_dir=tmp_path).state == "missing"
    # Its own record, when it has one, decides.
    write_record(_sheet("experiment=smoke"), "tester", {**PASS, "same_name": {"verdict": "fail", "answer": "no"}}, reviews_dir=tmp_path)
    assert check(_sheet("experiment=smoke"), reviews_dir=tmp_path).state == "failed"


def test_a_smoke_version_with_other_methods_is_not_covered(tmp_path):
    write_record(_sheet("experiment=tabular_cv"), "tester", PASS, reviews_dir=tmp_path)
    assert check(_sheet("experiment=tabular_cv_smoke"), reviews_dir=tmp_path).state == "missing"


def test_a_failing_or_hand_edited_covering_record_does_not_pass_the_smoke_version(tmp_path):
    path = write_record(_sheet("experiment=reference"), "tester", {**PASS, "split_convention": {"verdict": "fail", "answer": "wrong split"}}, reviews_dir=tmp_path)
    status = check(_sheet("experiment=smoke"), reviews_dir=tmp_path)
    assert status.state == "failed" and status.blocking == ("split_convention",) and status.message.endswith("which fails split_convention: wrong split")
    path.write_text(path.read_text().replace("verdict: fail", "verdict: pass"))
    assert check(_sheet("experiment=smoke"), reviews_dir=tmp_path).state == "missing"


def test_scale_free_facts_forget_axis_values_and_per_cell_budgets_only():
    from components.gates.review.practice import scale_free

    facts = {
        "axes_vs_source": {"data_axes": {"n_train": [40, 80]}, "training_axes": {"epochs": [2, 4]}},
        "sweep_inflation": {"baseline": "a", "methods": {"a": {"budget": {"epochs=2": 1, "epochs=4": 1}, "selection": "s"}}},
        "same_name": {"metric": {"name": "auroc"}},
    }
    assert scale_free(facts) == {
        "axes_vs_source": {"data_axes": ["n_train"], "training_axes": ["epochs"]},
        "sweep_inflation": {"baseline": "a", "methods": {"a": {"budget": [1], "selection": "s"}}},
        "same_name": {"metric": {"name": "auroc"}},
    }


def test_record_round_trips_and_is_current(tmp_path):
    ws = _sheet("experiment=smoke")
    path = write_record(ws, "tester", PASS, reviews_dir=tmp_path)
    record = read_record("smoke", reviews_dir=tmp_path)
    assert path == tmp_path / "smoke.yaml" and record["fingerprint"] == ws.fingerprint
    assert record["flags"] == {} and record["verdicts"]["split_convention"]["verdict"] == "pass"
    status = check(ws, reviews_dir=tmp_path)
    assert status.state == "reviewed" and status.blocking == ()


@pytest.mark.parametrize(
    ("verdicts", "reviewer", "message"),
    [
        ({k: v for k, v in PASS.items() if k != "same_name"}, "tester", "no verdict for same_name"),
        ({**PASS, "sweep_inflation": {"verdict": "ok", "answer": "x"}}, "tester", "verdicts.sweep_inflation.verdict is 'ok'; must be one of pass, fail"),
        ({**PASS, "split_convention": {"verdict": "pass", "answer": " "}}, "tester", "verdicts.split_convention.answer is empty"),
        ({**PASS, "splits": {"verdict": "pass", "answer": "x"}}, "tester", "unknown trap 'splits'"),
        ({**PASS, "reshufle_symmetry": {"verdict": "pass", "answer": "x"}}, "tester", "unknown trap 'reshufle_symmetry'; did you mean reshuffle_symmetry[?]"),
        ({**PASS, "same_name": {"verdict": "pas", "answer": "x"}}, "tester", "verdicts.same_name.verdict is 'pas'; did you mean pass[?]; must be one of pass, fail"),
        (PASS, "", "a review record needs --reviewer NAME"),
    ],
)
def test_a_malformed_review_is_refused_and_writes_nothing(tmp_path, verdicts, reviewer, message):
    with pytest.raises(ReviewError, match=message):
        write_record(_sheet("experiment=smoke"), reviewer, verdicts, reviews_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_verdict_blocks_until_reviewed_again(tmp_path):
    ws = _sheet("experiment=smoke")
    write_record(ws, "tester", {**PASS, "sweep_inflation": {"verdict": "fail", "answer": "the baseline gets no search"}}, reviews_dir=tmp_path)
    status = check(ws, reviews_dir=tmp_path)
    assert status.state == "failed" and status.blocking == ("sweep_inflation",)
    assert status.message.endswith("fails sweep_inflation: the baseline gets no search")


def test_a_hand_edited_record_is_invalid(tmp_path):
    ws = _sheet("experiment=smoke")
    path = write_record(ws, "tester", PASS, reviews_dir=tmp_path)
    path.write_text(path.read_text().replace("label_noise:\n      - 0.0", "label_noise:\n      - 0.1", 1))
    assert check(ws, reviews_dir=tmp_path).state == "invalid"


@pytest.mark.parametrize("name", ["../configs/data/teacher", "a/b", ".hidden", "smoke\n", "dash-ed", ""])
def test_a_record_name_that_is_not_a_plain_identifier_is_refused_in_one_line_naming_the_key(tmp_path, name):
    reviews = tmp_path / "reviews"
    ws = dataclasses.replace(_sheet("experiment=smoke"), experiment=name)
    with pytest.raises(ReviewError, match=r"^experiment.name .* cannot name a review record: use letters, digits and underscores"):
        write_record(ws, "tester", PASS, reviews_dir=reviews)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == []


def test_a_record_never_replaces_a_file_the_tool_did_not_create(tmp_path):
    ws = _sheet("experiment=smoke")
    foreign = tmp_path / "smoke.yaml"
    foreign.write_text("data:\n  n_train: 100\n")
    with pytest.raises(ReviewError, match=r"smoke.yaml exists and was not written by axisflow review"):
        write_record(ws, "tester", PASS, reviews_dir=tmp_path)
    assert foreign.read_text() == "data:\n  n_train: 100\n"


def test_a_record_never_writes_through_a_symlink(tmp_path):
    ws = _sheet("experiment=smoke")
    outside = tmp_path / "outside.yaml"
    write_record(ws, "tester", PASS, reviews_dir=tmp_path / "elsewhere")
    outside.write_text((tmp_path / "elsewhere" / "smoke.yaml").read_text())  # even a file that looks like a record
    (tmp_path / "reviews").mkdir()
    (tmp_path / "reviews" / "smoke.yaml").symlink_to(outside)
    before = outside.read_text()
    with pytest.raises(ReviewError, match="was not written by axisflow review"):
        write_record(ws, "other", PASS, reviews_dir=tmp_path / "reviews")
    assert outside.read_text() == before


def test_a_write_that_fails_midway_leaves_the_old_record_intact(tmp_path, monkeypatch):
    ws = _sheet("experiment=smoke")
    path = write_record(ws, "first reviewer", PASS, reviews_dir=tmp_path)
    before = path.read_text()
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, text):
            self.handle.write(text[: len(text) // 2])
            self.handle.flush()
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda *a, **k: FullDisk(real_fdopen(*a, **k)))
    with pytest.raises(OSError, match="No space left"):
        write_record(ws, "second reviewer", PASS, reviews_dir=tmp_path)
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["smoke.yaml"]  # no temporary file left behind


def test_a_hand_edited_verdict_is_detected_and_the_gate_refuses_with_one_line(tmp_path):
    ws = _sheet("experiment=smoke")
    path = write_record(ws, "tester", {**PASS, "sweep_inflation": {"verdict": "fail", "answer": "the baseline gets no search"}}, reviews_dir=tmp_path)
    text = path.read_text()
    assert text.count("verdict: fail") == 1
    path.write_text(text.replace("verdict: fail", "verdict: pass"))
    status = check(ws, reviews_dir=tmp_path)
    assert status.state == "invalid" and status.blocking == tuple(TRAPS)
    assert "smoke.yaml was edited by hand" in status.message and "recording it again with axisflow review --record" in status.message
    with pytest.raises(ReviewError, match="was edited by hand") as info:
        gate(*load_spec(["experiment=smoke"]), ["experiment=smoke"], reviews_dir=tmp_path)
    assert "\n" not in str(info.value)


def test_a_record_of_the_older_layout_is_invalid_with_how_to_record_it_again(tmp_path):
    ws = _sheet("experiment=smoke")
    path = write_record(ws, "tester", PASS, reviews_dir=tmp_path)
    path.write_text(path.read_text().replace("schema: axisflow.review/2", "schema: axisflow.review/1"))
    status = check(ws, reviews_dir=tmp_path)
    assert status.state == "invalid" and "older layout 'axisflow.review/1'" in status.message and "axisflow review --record" in status.message


def test_every_shipped_experiment_has_a_current_passing_review():
    assert set(REVIEWED) <= set(SHIPPED), "a review record names no experiment"
    for name in SHIPPED:
        status = check(worksheet_for([f"experiment={name}"]))
        assert status.state == ("reviewed" if name in REVIEWED else "missing"), status.message


# ------------------------------------------------------------------ the gate in front of run / create / resume


def test_gate_refuses_a_stale_review_with_one_line_naming_the_changed_facts(capsys):
    with pytest.raises(SystemExit) as info:
        prepare_argv([str(FLOW), "run", "experiment=smoke", "training.reshuffle=once"], str(FLOW))
    assert info.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("axisflow: error:")]
    assert len(err) == 1
    assert "reshuffle_symmetry (mlp.effective: 'training.reshuffle=per_epoch' -> 'training.reshuffle=once'" in err[0]
    assert err[0].endswith("or proceed explicitly with --review-allow reshuffle_symmetry")


def test_gate_lets_a_non_fidelity_change_through_as_reviewed():
    argv = prepare_argv([str(FLOW), "run", "experiment=smoke", "training.lr=0.01"], str(FLOW))
    review = json.loads(argv[argv.index("--config-value") + 2])["review"]
    assert review["verdict"] == "reviewed" and review["record"] == "reviews/smoke.yaml"


def test_review_allow_is_recorded_in_the_launch_metadata_and_provenance():
    argv = prepare_argv([str(FLOW), "run", "experiment=smoke", "training.reshuffle=once", "--review-allow", "reshuffle_symmetry"], str(FLOW))
    assert "--review-allow" not in argv
    config = parse_config(argv[argv.index("--config-value") + 2])
    review = config[LAUNCH_KEY]["review"]
    assert review["verdict"] == "overridden" and review["allowed"] == ["reshuffle_symmetry"]
    assert review["unreviewed"] == ["reshuffle_symmetry"] and "facts changed" in review["reason"]
    prov = run_provenance(config, [], flow="InvestigationFlow", run_id="1")
    assert prov["review"] == review


def test_review_allow_of_another_trap_still_blocks(capsys):
    with pytest.raises(SystemExit):
        prepare_argv([str(FLOW), "run", "experiment=smoke", "training.reshuffle=once", "--review-allow=axes_vs_source"], str(FLOW))
    assert "--review-allow reshuffle_symmetry" in capsys.readouterr().err


def test_review_allow_rejects_an_unknown_trap(capsys):
    with pytest.raises(SystemExit):
        prepare_argv([str(FLOW), "run", "experiment=smoke", "--review-allow", "splits"], str(FLOW))
    assert "--review-allow 'splits' is not a trap" in capsys.readouterr().err


@pytest.mark.parametrize("scheduler", ["argo-workflows", "step-functions", "airflow"])
def test_scheduler_create_is_gated_by_the_review(scheduler, capsys):
    with pytest.raises(SystemExit) as info:
        prepare_argv([str(FLOW), scheduler, "create", "experiment=smoke", "experiment.axes.data.label_noise=[0.3]"], str(FLOW))
    assert info.value.code == 2 and "axes_vs_source" in capsys.readouterr().err


def test_resume_review_verdict_travels_in_a_run_tag():
    review = gate(*load_spec(["experiment=smoke", "training.reshuffle=once"]), ["experiment=smoke", "training.reshuffle=once"], ["all"])
    tag = resume_review_tag(review)
    assert parse_resume_review_tag(["other", tag]) == {"verdict": "overridden", "fingerprint": review["fingerprint"], "allowed": ["reshuffle_symmetry"]}


def test_prompt_is_a_self_contained_brief_with_the_answer_format():
    ws = worksheet_for(["experiment=smoke"])
    text = prompt(ws)
    assert ws.fingerprint in text and "uv run axisflow review experiment=smoke --record --answers ANSWERS.yaml" in text
    for trap in TRAPS:
        assert f"  {trap}:\n    verdict: pass" in text
    assert "read: components/investigations/reference/data.py" in text


def test_experiment_source_must_exist():
    with pytest.raises(ConfigError, match=r"^experiment.source 'nope/poc.py' is not a file under the repository root"):
        load_spec(["experiment=smoke", "+experiment.source=nope/poc.py"])


# ------------------------------------------------------------------ the command line


def _cli(*args: str, cwd: Path = ROOT, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "components.cli", *args], cwd=cwd, capture_output=True, text=True, input=stdin, timeout=300)


def test_cli_review_prints_the_worksheet_and_checks_every_shipped_experiment():
    out = _cli("review", "experiment=smoke")
    assert out.returncode == 0 and "5. Sweep-override inflation (sweep_inflation)" in out.stdout
    assert "mlp_early_stop: early stopping on val_metric, one configuration's validation checkpoints" in out.stdout
    checked = _cli("review", "--check", "--all")
    assert checked.returncode == (0 if REVIEWED == SHIPPED else 1), checked.stdout + checked.stderr
    assert [line.split(":")[0] for line in checked.stdout.splitlines()] == ["ok" if n in REVIEWED else "missing" for n in SHIPPED]


def test_cli_review_check_fails_a_stale_variant_and_record_refuses_a_bad_answer_with_one_line():
    stale = _cli("review", "experiment=smoke", "training.reshuffle=once", "--check")
    assert stale.returncode == 1 and stale.stdout.startswith("stale: experiment smoke: facts changed")
    bad = _cli("review", "experiment=smoke", "--record", "--reviewer", "x", "--verdict", "split_convention=pass:fine")
    assert bad.returncode == 2 and bad.stderr.strip() == "axisflow: error: no verdict for reshuffle_symmetry; a review answers all five traps: " + ", ".join(TRAPS)


def test_cli_review_records_answers_from_stdin_in_a_copy_of_the_repository(tmp_path):
    repo = tmp_path / "repo"
    for part in ("components", "configs", "tests/fixtures"):
        shutil.copytree(ROOT / part, repo / part, ignore=shutil.ignore_patterns("__pycache__"))
    stale = _cli("review", "experiment=smoke", "experiment.axes.training.epochs=[2,3]", "--check", cwd=repo)
    assert stale.returncode == 1
    answers = {"reviewer": "agent", "verdicts": PASS}
    out = _cli("review", "experiment=smoke", "experiment.axes.training.epochs=[2,3]", "--record", "--answers", "-", cwd=repo, stdin=json.dumps(answers))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("recorded reviews/smoke.yaml") and out.stdout.rstrip().endswith(": reviewed")
    assert _cli("review", "experiment=smoke", "experiment.axes.training.epochs=[2,3]", "--check", cwd=repo).returncode == 0
    assert (repo / "reviews" / "smoke.yaml").read_text() != (ROOT / "reviews" / "smoke.yaml").read_text()


def test_worksheet_markdown_and_json_carry_the_same_facts():
    ws = worksheet_for(["experiment=sample_size_smoke"])
    data = json.loads(ws.render("json"))
    assert data["fingerprint"] == ws.fingerprint and [t["trap"] for t in data["traps"]] == list(TRAPS)
    assert textwrap.dedent(ws.render("md")).startswith("# Fidelity review worksheet: experiment sample_size_smoke")


def test_resume_is_gated_by_the_review_of_the_original_config_and_tags_its_verdict(monkeypatch, capsys):
    import components.shell as shell

    from components.engine.reuse import launch_inputs

    # The original run's input hashes, as its launch recorded them (resume refuses when they changed).
    inputs = launch_inputs(load_spec(["experiment=smoke"])[1])
    origin = {"experiment": {"name": "smoke", "contract": "order_independent"}, LAUNCH_KEY: {"overrides": ["experiment=smoke"], "git": {}, "inputs": inputs}}
    monkeypatch.setattr(shell, "_origin_config", lambda flow_file, after: origin)

    def review_tag(argv):
        return parse_resume_review_tag(argv)

    assert review_tag(prepare_argv([str(FLOW), "resume"], str(FLOW)))["verdict"] == "reviewed"
    origin[LAUNCH_KEY]["overrides"] = ["experiment=smoke", "training.reshuffle=once"]
    with pytest.raises(SystemExit) as info:
        prepare_argv([str(FLOW), "resume"], str(FLOW))
    assert info.value.code == 2 and "--review-allow reshuffle_symmetry" in capsys.readouterr().err
    allowed = review_tag(prepare_argv([str(FLOW), "resume", "--review-allow", "reshuffle_symmetry"], str(FLOW)))
    assert allowed["verdict"] == "overridden" and allowed["allowed"] == ["reshuffle_symmetry"]


def test_cli_review_check_never_runs_a_target_outside_the_project(tmp_path):
    proof = tmp_path / "ran"
    out = _cli(
        "review", "experiment=sample_size_smoke", "method.ridge.estimator._target_=os.system", "~method.ridge.estimator.alpha",
        f"+method.ridge.estimator.command=touch {proof}", "--check",
    )
    assert not proof.exists()
    assert out.returncode == 2
    # The launch's own rule (components.spec.declarations.check_target_path), applied before anything is validated.
    assert out.stderr.startswith("axisflow: error: method.ridge.estimator._target_ 'os.system' is outside the packages a config may name")
    assert out.stderr.count("\n") == 1


def test_cli_review_check_all_never_runs_a_committed_config_that_names_os_system(tmp_path):
    repo = tmp_path / "repo"
    for part in ("components", "configs", "reviews", "data"):
        shutil.copytree(ROOT / part, repo / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", repo / "pyproject.toml")  # allowed-targets: sklearn, torch, ...
    proof = tmp_path / "ran"
    smoke = (repo / "configs" / "experiment" / "sample_size_smoke.yaml").read_text()
    evil = smoke.replace("name: sample_size_smoke", "name: evil") + (
        "method:\n  shell:\n    _target_: components.library.sklearn_train.fit_estimator\n    kind: axis_agnostic\n"
        f"    estimator:\n      _target_: os.system\n      command: touch {proof}\n"
    )
    (repo / "configs" / "experiment" / "evil.yaml").write_text(evil)
    out = _cli("review", "--check", "--all", cwd=repo)
    assert not proof.exists()
    assert out.returncode == 1, out.stderr
    lines = out.stdout.splitlines()
    assert any(line.startswith("invalid: experiment=evil: method.shell.estimator._target_ 'os.system' is outside the packages a config may name") for line in lines), out.stdout
    # Every reviewed experiment stays ok; a researcher's unreviewed one is listed as missing.
    assert sum(line.startswith("ok: ") for line in lines) == len(REVIEWED)


def test_cli_review_record_refuses_a_name_that_would_write_outside_reviews(tmp_path):
    repo = tmp_path / "repo"
    for part in ("components", "configs", "reviews", "data"):
        shutil.copytree(ROOT / part, repo / part, ignore=shutil.ignore_patterns("__pycache__"))
    target = repo / "configs" / "data" / "teacher.yaml"
    before = target.read_text()
    verdicts = [f"--verdict={t}=pass:checked" for t in TRAPS]
    out = _cli("review", "experiment=smoke", "experiment.name=../configs/data/teacher", "--record", "--reviewer", "x", *verdicts, cwd=repo)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "experiment.name" in out.stderr
    assert target.read_text() == before


def test_module_file_resolves_project_modules_by_path_and_never_imports():
    code = (
        "import sys\n"
        "from components.gates.review.scanner import module_file\n"
        "print(module_file('components.library.tables.load_table'), 'components.library.tables' in sys.modules)\n"
        "print(module_file('components.library.callbacks.EarlyStopping.on_epoch_end'), module_file('os.system'), module_file('sklearn.linear_model.Ridge'))\n"
        "print('sklearn' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["components/library/tables.py False", "components/library/callbacks.py None None", "False"]
