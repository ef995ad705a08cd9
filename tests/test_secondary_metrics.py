"""Secondary metrics: scored from the same test predictions as the primary, in no reuse key and no review fact.

End to end (a finished run, then the same run with a secondary metric added: every arm reused)
lives in ``tests/test_tabular_flow.py``; these tests run branches in process.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

from components.engine.branch import run_branch
from components.engine.planner import branches
from components.engine.reuse import PREDICTIONS_SCHEMA, arm_keys, plan_reuse, predictions_by_arm
from components.engine.surface import aggregate_records, build_results
from components.library.metrics import LogLossParams, MacroF1Params, brier, log_loss, macro_f1, mae
from components.outputs.query import ResultSet, format_table, metric_names
from components.schema import check_record, check_results
from components.spec.config import ConfigError, load_spec
from components.spec.declarations import NoParams

#: sample_size_smoke declares mae as a secondary metric; one branch size, ridge only, so a branch takes well under a second.
FAST = ("experiment=sample_size_smoke", "experiment.seeds=2", "experiment.axes.data.n_train=[40]", "method=[ridge]")
WITHOUT = (*FAST, "~experiment.secondary_metrics")
NEGATIVE = "+experiment.secondary_metrics.neg={_target_:tests.fixtures.seam_plants.negative_rmse}"
TASK = "F/1/branch/3"


def _run(overrides, keep=None, **options):
    config, spec = load_spec(list(overrides))
    stored = [{} for _ in branches(spec)]
    records = [run_branch(config, b, log=lambda _: None, keep=s, **options) for b, s in zip(branches(spec), stored)]
    if keep is not None:
        keep.extend(stored)
    return config, spec, records


def _results(config, records):
    return build_results(config, records, aggregate_records(config, records), {})


def _lookup_from(record):
    found = {
        arm["key"]: {"training": dict(training), "data_fingerprint": record["data_fingerprint"], "run": "F/1", "task": TASK}
        for arm, training in zip(record["provenance"]["arms"], record["trainings"])
    }
    return lambda flow, keys, exclude_run=None: {k: v for k, v in found.items() if k in keys}


def test_macro_f1_log_loss_and_brier_equal_scikit_learns():
    from sklearn.metrics import brier_score_loss, f1_score
    from sklearn.metrics import log_loss as sk_log_loss

    rng = np.random.default_rng(3)
    probabilities, labels = rng.dirichlet(np.ones(4), size=60), rng.integers(0, 4, 60)
    assert macro_f1(MacroF1Params(threshold=0.5), probabilities, labels) == f1_score(labels, probabilities.argmax(1), average="macro")
    assert log_loss(LogLossParams(eps=1e-15), probabilities, labels) == pytest.approx(sk_log_loss(labels, probabilities, labels=range(4)), rel=1e-12)
    positive, binary = rng.random(50), rng.integers(0, 2, 50)
    assert macro_f1(MacroF1Params(threshold=0.3), positive, binary) == f1_score(binary, (positive >= 0.3).astype(int), average="macro")
    assert log_loss(LogLossParams(eps=1e-15), positive, binary) == pytest.approx(sk_log_loss(binary, positive), rel=1e-12)
    assert brier(NoParams(), positive, binary) == pytest.approx(brier_score_loss(binary, positive), rel=1e-12)
    # A confident miss costs -log(eps), not infinity.
    assert log_loss(LogLossParams(eps=1e-3), np.array([0.0]), np.array([1])) == pytest.approx(-math.log(1e-3))


SECONDARY_MISTAKES = [
    ("+experiment.secondary_metrics=[mae]", "experiment.secondary_metrics must map names to metric nodes"),
    ("+experiment.secondary_metrics.rmse={_target_:components.library.metrics.mae}", "experiment.secondary_metrics.rmse: rmse is the primary metric's name"),
    ("+experiment.secondary_metrics.err={threshold:0.5}", "experiment.secondary_metrics.err._target_ is missing"),
    ("+experiment.secondary_metrics.err=3", "experiment.secondary_metrics.err must be a mapping with _target_"),
    ("+experiment.secondary_metrics.f1={_target_:components.library.metrics.macro_f1,threshold:0.5}",
     "experiment.secondary_metrics.f1 components.library.metrics.macro_f1 scores binary/multiclass tasks, but data"),
    ("+experiment.secondary_metrics.err={_target_:components.library.metrics.mae,name:err}", "experiment.secondary_metrics.err.name: a secondary metric is named by its key"),
    ("+experiment.secondary_metrics.err={_target_:components.library.metrics.mae,scale:2}", "experiment.secondary_metrics.err"),
    ("+experiment.secondary_metrics.err={_target_:os.system}", "experiment.secondary_metrics.err._target_"),
]


@pytest.mark.parametrize("override, message", SECONDARY_MISTAKES)
def test_a_malformed_secondary_metric_fails_at_launch_in_one_line_naming_its_key(override, message):
    with pytest.raises(ConfigError) as info:
        load_spec([*WITHOUT, override])
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_a_secondary_metrics_params_are_checked_like_the_primarys():
    with pytest.raises(ConfigError, match=r"^experiment\.secondary_metrics\.f1\.threshold"):
        load_spec(["experiment=tabular_cv_smoke", "+experiment.secondary_metrics.f1={_target_:components.library.metrics.macro_f1,threshold:1.5}"])
    with pytest.raises(ConfigError, match=r"^experiment\.secondary_metrics\.log_loss\.eps"):
        load_spec(["experiment=tabular_cv_smoke", "~experiment.secondary_metrics.log_loss.eps"])
    # A threshold only binary tasks read: required there at launch, not needed on a multiclass task.
    with pytest.raises(ConfigError, match=r"^experiment\.secondary_metrics\.macro_f1\.threshold is missing; a binary task reads it"):
        load_spec(["experiment=tabular_cv_smoke", "~experiment.secondary_metrics.macro_f1.threshold"])
    _, spec = load_spec([
        "experiment=tabular_cv_smoke", "data=digits", "~experiment.metric.threshold", "~experiment.secondary_metrics.brier",
        "~experiment.secondary_metrics.macro_f1.threshold",
    ])
    assert spec.secondary_metrics["macro_f1"] == {"_target_": "components.library.metrics.macro_f1"}


def test_shipped_secondary_metrics_keep_config_order_and_their_declared_directions():
    _, spec = load_spec(["experiment=tabular_cv_smoke"])
    assert list(spec.secondary_metrics) == ["macro_f1", "log_loss", "brier"]
    assert [spec.secondary_info[n].direction for n in spec.secondary_metrics] == ["higher", "lower", "lower"]
    assert list(load_spec(["experiment=sample_size"])[1].secondary_metrics) == ["mae"]


def test_secondary_metrics_are_in_no_reuse_key_and_do_not_stale_the_review():
    from components.gates.review import gate
    from components.gates.review.traps import worksheet_for

    base = ["experiment=tabular_cv_smoke", "~experiment.secondary_metrics"]
    added = ["experiment=tabular_cv_smoke", "+experiment.secondary_metrics.f1_low={_target_:components.library.metrics.macro_f1,threshold:0.3}"]
    (_, without), (config, with_more) = load_spec(base), load_spec(added)
    assert [arm_keys(without, b) for b in branches(without)] == [arm_keys(with_more, b) for b in branches(with_more)]
    assert worksheet_for(base).fingerprint == worksheet_for(added).fingerprint
    assert gate(config, with_more, added)["verdict"] == "reviewed"


def test_a_branch_scores_each_secondary_metric_and_keeps_the_predictions_to_score_again():
    stored: list[dict] = []
    _, _, records = _run(FAST, keep=stored)
    for record, kept in zip(records, stored):
        check_record(record)
        (training,) = record["trainings"]
        predictions = kept["arms"][record["provenance"]["arms"][0]["key"]]
        assert training["secondary"] == {"mae": mae(NoParams(), predictions, kept["targets"])}
        assert all(obs["secondary"] == training["secondary"] for obs in record["observations"])
        assert record["counts"]["secondary_metric"] == 1


def test_a_run_without_secondary_metrics_records_none_and_keeps_the_primary_numbers():
    _, _, with_records = _run(FAST)
    config, _, without_records = _run(WITHOUT)
    assert all("secondary" not in t for r in without_records for t in r["trainings"])
    with_results, without_results = _results(load_spec(list(FAST))[0], with_records), _results(config, without_records)
    assert "secondary" not in without_results
    for field in ("cells", "paired", "contrasts", "statistics", "metric"):
        assert repr(with_results[field]) == repr(without_results[field])


def test_a_reused_arm_is_rescored_from_its_stored_predictions_bit_for_bit():
    stored: list[dict] = []
    _, _, (finished, *_) = _run(WITHOUT, keep=stored)  # the earlier run had no secondary metric
    config, spec = load_spec(list(FAST))
    branch = branches(spec)[0]
    fresh = run_branch(config, branch, log=lambda _: None)
    tasks, _ = plan_reuse(config, [branch], flow="F", mode="auto", run_id="2", lookup=_lookup_from(finished), log=lambda _: None)
    artifact = {"schema": PREDICTIONS_SCHEMA, "branches": {branch["key"]: stored[0]}}  # the task's artifact (components.engine.branch.run_task)
    copy = run_branch(config, tasks[0], log=lambda _: None, load=lambda task: predictions_by_arm(artifact) if task == TASK else {})
    assert {a["origin"] for a in copy["provenance"]["arms"]} == {"reused"}
    assert copy["counts"] == {"secondary_metric": 1}  # nothing trained, one arm scored again
    assert repr(copy["trainings"]) == repr(fresh["trainings"]) and repr(copy["observations"]) == repr(fresh["observations"])


def test_a_reused_arm_without_stored_predictions_fails_naming_it():
    _, _, (finished, *_) = _run(WITHOUT)
    config, spec = load_spec(list(FAST))
    branch = branches(spec)[0]
    tasks, _ = plan_reuse(config, [branch], flow="F", mode="auto", run_id="2", lookup=_lookup_from(finished), log=lambda _: None)
    with pytest.raises(RuntimeError, match=rf"^branch n_train=40,seed=0, method ridge, training axes none: reused from {TASK}, which stored no test predictions.*--reuse off$"):
        run_branch(config, tasks[0], log=lambda _: None, load=lambda task: {})


def test_a_secondary_metric_that_breaks_its_promise_fails_the_branch_or_is_recorded_under_omit():
    with pytest.raises(RuntimeError, match=r"^branch n_train=40,seed=0, method ridge, training axes none, secondary metric neg: SeamError: neg is -"):
        _run([*FAST, NEGATIVE])
    config, _, records = _run([*FAST, NEGATIVE, "+experiment.statistics.nan_policy=omit"])
    training = records[0]["trainings"][0]
    assert math.isnan(training["secondary"]["neg"]) and training["secondary"]["mae"] > 0 and math.isfinite(training["value"])
    assert "secondary metric neg: SeamError" in training["secondary_failures"]["neg"] and "failure" not in training
    results = _results(config, records)
    assert results["secondary"]["neg"]["cells"][0]["n_dropped"] == 2 and results["cells"][0]["n"] == 2


@pytest.fixture(scope="module")
def results():
    config, _, records = _run((*FAST, "experiment.axes.data.n_train=[40,80]", "method=[ridge,mlp_regressor]", "experiment.seeds=3",
                               "training.epochs=2", "+experiment.secondary_metrics.rmse_too={_target_:components.library.metrics.rmse}"))
    return _results(config, records)


def test_results_carry_each_secondary_metrics_block_with_the_primarys_statistics(results):
    check_results(results)
    assert metric_names(results) == ["rmse", "mae", "rmse_too"]
    block = results["secondary"]["mae"]
    assert block["metric"] == {
        "name": "mae", "target": "components.library.metrics.mae", "higher_is_better": False, "range": [0.0, None],
        "definition": "mean absolute error of the predicted values against the test targets", "split": "test",
    }
    assert [(c["axes"], c["method"], c["n"]) for c in block["cells"]] == [(c["axes"], c["method"], c["n"]) for c in results["cells"]]
    assert len(block["paired"]) == len(results["paired"]) and block["statistics"]["family_size"] == len(block["paired"])
    # The same metric under another name gives the primary's numbers exactly: one engine, the same settings.
    twin = results["secondary"]["rmse_too"]
    assert repr([(c["mean"], c["ci_low"], c["ci_high"]) for c in twin["cells"]]) == repr([(c["mean"], c["ci_low"], c["ci_high"]) for c in results["cells"]])
    assert repr(twin["paired"]) == repr(results["paired"])


def test_result_set_picks_a_secondary_metric_by_name(results):
    rs = ResultSet.from_results(results, "mae")
    assert rs.metric["name"] == "mae" and rs.primary_metric == "rmse"
    cell = rs.at(n_train=80, weight_decay=0.1, method="ridge")
    assert cell["mean"] == pytest.approx(np.mean(cell["values"]))
    assert rs.to_series().name == "mae"
    with pytest.raises(ValueError, match=r"^metric 'f1' is not in these results; they report: rmse \(primary\), mae, rmse_too$"):
        ResultSet.from_results(results, "f1")


def test_table_and_markdown_show_secondary_metrics_labelled_descriptive(results):
    text = format_table(results)
    assert "Secondary metrics (descriptive, below the primary's tables): mae, rmse_too" in text
    assert "Secondary metric mae (lower is better; descriptive)" in text
    assert "Secondary metric, descriptive: its verdicts carry Holm's step-down correction at 5% over this metric's own 4 comparisons only" in text
    assert "each metric's verdicts are corrected over its own comparisons only and are descriptive" in text  # the legend
    only = format_table(results, "table", metric="mae")
    assert only.startswith("Experiment sample_size_smoke: mae (secondary metric; lower is better)") and "rmse_too" not in only
    assert "Secondary metric" not in format_table(results, "table", metric="rmse").split("\n", 1)[1]
    md = format_table(results, "md")
    assert "## Secondary metric: mae" in md and "- **Secondary metrics (descriptive):** mae, rmse_too" in md


def test_csv_has_a_metric_column_and_one_block_of_rows_per_metric(results):
    frame = pd.read_csv(io.StringIO(format_table(results, "csv")))
    assert frame.columns[-1] == "metric" and list(dict.fromkeys(frame["metric"])) == ["rmse", "mae", "rmse_too"]
    mae_rows = frame[frame["metric"] == "mae"]
    assert len(mae_rows) == len(results["cells"])
    assert sorted(mae_rows["mean"]) == pytest.approx(sorted(c["mean"] for c in results["secondary"]["mae"]["cells"]))
    only = pd.read_csv(io.StringIO(format_table(results, "csv", metric="mae")))
    assert set(only["metric"]) == {"mae"}


def test_json_of_one_metric_holds_its_block_in_the_primarys_place(results):
    import json

    picked = json.loads(format_table(results, "json", metric="mae"))
    assert picked["metric"]["name"] == "mae" and picked["primary_metric"] == "rmse" and picked["secondary"] == {}
    assert json.loads(format_table(results, "json"))["secondary"]["mae"]["metric"]["name"] == "mae"


def test_report_draws_each_secondary_metrics_figures(results):
    from components.outputs.report import report_figures

    assert list(report_figures(results)) == ["forest", "paired", "forest_mae", "paired_mae", "forest_rmse_too", "paired_rmse_too"]


def test_secondary_observations_carry_the_metrics_value_and_not_the_primarys_per_example_values_or_resolution():
    """Per-example values (nested cross-validation) and the resolution are the primary metric's; a secondary block must not read them."""
    from components.engine.surface import secondary_observations

    obs = {"axes": {"fold": 0}, "method": "m", "seed": 0, "value": 0.9, "secondary": {"f1": 0.4}, "per_example": {"outer": [1.0], "inner": [0.0]}, "resolution": 0.01}
    (out,) = secondary_observations([{"key": "b", "observations": [obs]}], "f1")
    assert out == {"axes": {"fold": 0}, "method": "m", "seed": 0, "value": 0.4}
    with pytest.raises(ValueError, match="branch b, method m: the record has no value of secondary metric brier"):
        secondary_observations([{"key": "b", "observations": [obs]}], "brier")


def test_derived_values_drop_the_primarys_resolution_and_nested_interval():
    """Secondary metrics and per-class rates share one rule: the primary's resolution and per-example payloads are not theirs."""
    from components.stats import for_derived_values

    primary = {"method": "student-t", "cv_interval": "nested", "resolution": 0.01, "confidence": 0.9}
    assert for_derived_values(primary) == {"method": "student-t", "cv_interval": "nadeau_bengio", "confidence": 0.9}
    assert for_derived_values({"cv_interval": "naive_folds_as_seeds"}) == {"cv_interval": "naive_folds_as_seeds"}
    assert primary["cv_interval"] == "nested"  # the primary's settings are not changed
