"""Nested cross-validation (Bates, Hastie & Tibshirani 2023): the statistic, its strategy in the engine, and its config."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from components.stats import aggregate
from components.stats.nested import PerExample, nested_cv_estimate

Z975 = 1.959963984540054


def _unit(outer, inner):
    return PerExample(np.array(outer, dtype=float), np.array(inner, dtype=float))


def test_nested_cv_estimate_matches_a_hand_computed_example():
    # One replicate of 3-fold CV on 6 rows (2 per fold); 1 = correct. Inner values: the 4 rows of the two other folds.
    units = [[_unit([1, 0], [1, 1, 0, 1]), _unit([1, 1], [0, 1, 1, 1]), _unit([1, 1], [1, 0, 1, 0])]]
    found = nested_cv_estimate(units, confidence=0.95)
    # a = (0.75-0.5)^2, (0.75-1)^2, (0.5-1)^2 -> mean 0.125; b = 0.5/2, 0, 0 -> mean 1/12; MSE = 2/3 (0.125 - 1/12) = 1/36.
    assert found.mse == pytest.approx(1 / 36)
    # Err_NCV = 8/12, Err_CV = 5/6; bias = (1 + 1/3)(2/3 - 5/6) = -2/9; estimate = 2/3 + 2/9 = 8/9.
    assert (found.err_ncv, found.err_cv, found.bias, found.estimate) == pytest.approx((2 / 3, 5 / 6, -2 / 9, 8 / 9))
    # sqrt(MSE) = 1/6 is below the naive SE sd(inner)/sqrt(6) = sqrt(12/11 * 2/9 / 6), so the SE is held at the naive one.
    naive = math.sqrt(12 / 11 * 2 / 9 / 6)
    assert found.n == 6 and found.se_naive == pytest.approx(naive) and found.se == pytest.approx(naive)
    assert (found.low, found.high) == pytest.approx((8 / 9 - Z975 * naive, 8 / 9 + Z975 * naive))
    assert found.p_value == pytest.approx(2 * statistics.NormalDist().cdf(-(8 / 9) / naive))


def _by_hand(units, k):
    """The paper's Algorithm 1 and interval, written with plain Python lists."""
    flat = [u for rep in units for u in rep]
    a = [(statistics.fmean(u.inner) - statistics.fmean(u.outer)) ** 2 for u in flat]
    b = [statistics.variance(u.outer) / len(u.outer) for u in flat]
    inner = [v for u in flat for v in u.inner]
    outer = [v for u in flat for v in u.outer]
    n = len(outer) // len(units)
    mse = (k - 1) / k * (statistics.fmean(a) - statistics.fmean(b))
    naive = statistics.stdev(inner) / math.sqrt(n)
    se = min(max(math.sqrt(max(mse, 0.0)), naive), math.sqrt(k) * naive)
    estimate = statistics.fmean(inner) - (1 + (k - 2) / k) * (statistics.fmean(inner) - statistics.fmean(outer))
    return estimate, se, naive


@pytest.mark.parametrize("spread", [0.0, 0.25, 2.0])
def test_nested_cv_estimate_follows_the_papers_formulas_and_clips_the_se(spread):
    rng = np.random.default_rng(3)
    k, per_fold = 5, 8
    units = []
    for _ in range(3):
        shifts = spread * rng.standard_normal(k)  # fold-level shifts make the outer means disagree with the inner ones
        units.append([_unit(rng.normal(1 + shifts[f], 1, per_fold), rng.normal(1, 1, per_fold * (k - 1))) for f in range(k)])
    estimate, se, naive = _by_hand(units, k)
    found = nested_cv_estimate(units)
    assert (found.estimate, found.se, found.se_naive) == pytest.approx((estimate, se, naive))
    assert naive <= found.se <= math.sqrt(k) * naive
    if spread == 2.0:
        assert found.se == pytest.approx(math.sqrt(k) * naive)  # the upper clip: folds fully dependent


def test_nested_cv_estimate_refuses_fewer_than_three_folds():
    with pytest.raises(ValueError, match="K >= 3"):
        nested_cv_estimate([[_unit([1, 0], [1, 0]), _unit([0, 1], [1, 1])]])


def test_per_example_differences_need_the_same_rows():
    with pytest.raises(ValueError, match="cannot be paired"):
        _unit([1, 0], [1, 0, 1]) - _unit([1, 0], [1, 0])


K, REPS = 3, 2


def _observations():
    """Two methods, 2 replicates x 3 folds of 4 rows each: ``better`` gets 2 more rows right per unit."""
    rng = np.random.default_rng(7)
    out = []
    for rep in range(REPS):
        for fold in range(K):
            base_outer, base_inner = rng.integers(0, 2, 4).astype(float), rng.integers(0, 2, 8).astype(float)
            better_outer, better_inner = base_outer.copy(), base_inner.copy()
            better_outer[base_outer == 0] = 1
            better_inner[:2] = 1
            for method, outer, inner in (("base", base_outer, base_inner), ("better", better_outer, better_inner)):
                out.append({
                    "axes": {"fold": fold}, "method": method, "seed": rep, "value": float(outer.mean()),
                    "per_example": {"outer": outer.tolist(), "inner": inner.tolist()},
                })
    return out


def test_nested_strategy_reports_the_estimate_and_pairs_per_example_differences():
    observations = _observations()
    out = aggregate(observations, baseline="base", fold_axis="fold", folds=K, cv_interval="nested", bounds=(0.0, 1.0))
    assert out["settings"]["interval"] == "nested" and "Bates, Hastie & Tibshirani" in out["settings"]["method"]
    units = {m: [[None] * K for _ in range(REPS)] for m in ("base", "better")}
    for obs in observations:
        units[obs["method"]][obs["seed"]][obs["axes"]["fold"]] = PerExample.of(obs["per_example"], "test")
    base = next(c for c in out["cells"] if c["method"] == "base")
    expected = nested_cv_estimate(units["base"])
    assert (base["mean"], base["ci_low"], base["ci_high"]) == pytest.approx((expected.estimate, max(expected.low, 0.0), min(expected.high, 1.0)))
    assert base["folds"] == K and len(base["values"]) == REPS  # the surface keeps the cross-validation layout
    diffs = [[b - a for a, b in zip(ra, rb)] for ra, rb in zip(units["base"], units["better"])]
    expected_diff = nested_cv_estimate(diffs)
    (row,) = out["paired"]
    assert (row["mean_diff"], row["ci_low"], row["ci_high"], row["p_value"]) == pytest.approx(
        (expected_diff.estimate, expected_diff.low, expected_diff.high, expected_diff.p_value)
    )


def test_nested_strategy_refuses_observations_without_per_example_values():
    observations = [{k: v for k, v in obs.items() if k != "per_example"} for obs in _observations()]
    with pytest.raises(ValueError, match="has no per-example values; cv_interval nested needs"):
        aggregate(observations, baseline="base", fold_axis="fold", folds=K, cv_interval="nested")


def test_nested_strategy_gives_no_interval_when_every_per_example_value_is_equal():
    observations = _observations()
    for obs in observations:
        obs["per_example"] = {"outer": [1.0] * 4, "inner": [1.0] * 8}
        obs["value"] = 1.0
    out = aggregate(observations, baseline="base", fold_axis="fold", folds=K, cv_interval="nested")
    assert all(c["ci_low"] is None and "all" in c["note"] for c in out["cells"])


# --- the inner splits, the config check and the engine -------------------------------------------------------------

from components.engine.branch import run_branch  # noqa: E402
from components.engine.planner import branches  # noqa: E402
from components.engine.surface import aggregate_records, build_results  # noqa: E402
from components.library import metrics  # noqa: E402
from components.library.folds import cv_split, nested_split  # noqa: E402
from components.outputs.query import ResultSet, _render_text  # noqa: E402
from components.schema import check_record  # noqa: E402
from components.spec.config import ConfigError, compose, load_spec, validate  # noqa: E402
from components.spec.declarations import declaration_of  # noqa: E402

NESTED = ["experiment=tabular_cv_smoke", "experiment.statistics.cv_interval=nested"]
LOGREG = ["method=[logreg_scaled,logreg_raw]"]


@pytest.mark.parametrize("splitter", ["kfold", "stratified"])
def test_nested_split_tests_on_another_outer_fold_and_trains_on_the_rest(splitter):
    labels = np.random.default_rng(1).integers(0, 2, 60)
    where = dict(seed=5, dataset_hash="abc", n_rows=60, labels=labels)
    inner = nested_split(splitter, 4, 1, 3, 3, **where)
    assert np.array_equal(inner.test, cv_split(splitter, 4, 3, 3, **where).test)  # the rows outer fold 3 tests on
    outer_test = cv_split(splitter, 4, 1, 3, **where).test
    fitted = np.concatenate([inner.train, inner.val])
    assert sorted(np.concatenate([fitted, inner.test, outer_test]).tolist()) == list(range(60))  # a partition of the table
    with pytest.raises(ValueError, match="other than the outer fold"):
        nested_split(splitter, 4, 1, 1, 3, **where)


def test_nested_config_validates_on_the_tabular_smoke():
    assert validate(compose(NESTED)).statistics["cv_interval"] == "nested"


def _error(*overrides: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_spec(list(overrides))
    message = str(info.value)
    assert "\n" not in message
    return message


REGRESSION = [
    "experiment=tabular_cv_smoke", "data._target_=components.library.tables.regression_table", "~data.classes",
    "data.target=mean area", "data.features=[mean radius,mean texture]", "data.splitter=kfold", "method=[ridge]",
    "experiment.baseline=ridge", "~experiment.metric.threshold", "experiment.statistics.cv_interval=nested", "~experiment.secondary_metrics",
]


def test_nested_refuses_rmse_at_launch_naming_the_metric():
    message = _error(*REGRESSION, "experiment.metric.name=rmse", "experiment.metric._target_=components.library.metrics.rmse")
    assert message.startswith("experiment.statistics.cv_interval is nested, but experiment.metric (rmse: components.library.metrics.rmse) "
                              "is not a mean of per-example values")
    # MAE is a mean of per-example absolute errors: the same experiment is accepted with it.
    _, spec = load_spec([*REGRESSION, "experiment.metric.name=mae", "experiment.metric._target_=components.library.metrics.mae"])
    assert spec.statistics["cv_interval"] == "nested"


def test_nested_refuses_auroc_and_two_folds():
    assert "experiment.metric (auroc: components.library.metrics.auroc) is not a mean of per-example values" in _error(
        *NESTED, "experiment.metric.name=auroc", "experiment.metric._target_=components.library.metrics.auroc", "~experiment.metric.threshold"
    )
    assert _error(*NESTED, "data.n_splits=2", "experiment.axes.data.fold=[0,1]").endswith("needs n_splits >= 3")


def test_accuracy_and_mae_declare_per_example_values_that_average_to_the_metric():
    rng = np.random.default_rng(0)
    probs, labels = rng.random(50), rng.integers(0, 2, 50)
    params = metrics.AccuracyParams(threshold=0.5)
    assert metrics.correct(params, probs, labels).mean() == metrics.accuracy(params, probs, labels)
    assert declaration_of(metrics.accuracy, "metric", "x").per_example is metrics.correct
    assert declaration_of(metrics.rmse, "metric", "x").per_example is None


@pytest.fixture(scope="module")
def nested_records():
    config = compose([*NESTED, *LOGREG])
    spec = validate(config)
    return config, spec, [run_branch(config, branch, log=lambda line: None) for branch in branches(spec)]


def test_a_nested_branch_fits_the_inner_folds_and_records_per_example_values(nested_records):
    config, spec, records = nested_records
    record = records[0]
    check_record(record)
    fold = record["data_axes"]["fold"]
    # Per arm: the outer fit and one inner fit per other fold (3 folds: 2 inner fits).
    assert record["counts"]["train_arm"] == len(spec.methods) * 3 and record["counts"]["make_data:nested"] == 2
    n_rows = 569
    for training, observation in zip(record["trainings"], record["observations"]):
        per_example = training["per_example"]
        assert observation["per_example"] == per_example
        assert np.mean(per_example["outer"]) == pytest.approx(training["value"])
        assert len(per_example["outer"]) + len(per_example["inner"]) == n_rows
        assert set(per_example["inner"]) <= {0.0, 1.0}
    assert fold in (0, 1, 2)


def test_nested_results_state_the_deployed_model_estimand(nested_records):
    config, spec, records = nested_records
    aggregate = aggregate_records(config, records)
    results = build_results(config, records, aggregate)
    assert results["cross_validation"]["interval"] == "nested" and results["statistics"]["interval"] == "nested"
    text = _render_text(ResultSet.from_results(results), results)
    assert "they estimate the error of the model one would deploy, fitted on all n rows of this table" in text
    assert "diff: the nested-CV estimate (bias-corrected) of the difference between the two models fitted on the whole table" in text
    (row,) = results["paired"]
    assert row["ci_low"] is not None and row["ci_low"] <= row["mean_diff"] <= row["ci_high"]


def test_nested_reuse_keys_differ_from_the_same_arms_without_nested():
    from components.engine.reuse import arm_keys

    plain, nested = (validate(compose(["experiment=tabular_cv_smoke", *LOGREG, *extra]))
                     for extra in ([], ["experiment.statistics.cv_interval=nested"]))
    branch = branches(plain)[0]
    assert set(arm_keys(plain, branch)).isdisjoint(arm_keys(nested, branch))


def test_per_example_values_must_average_to_the_metric_value():
    from components.spec import seams

    spec = {"name": "accuracy", "_target_": "components.library.metrics.accuracy", "threshold": 0.5}
    probs, labels = np.array([0.9, 0.2, 0.7, 0.4]), np.array([1, 0, 0, 0])
    assert seams.per_example(probs, labels, 0.75, metric_spec=spec).tolist() == [1.0, 1.0, 0.0, 1.0]
    with pytest.raises(seams.SeamError, match="averages to 0.75, but the metric is 0.5"):
        seams.per_example(probs, labels, 0.5, metric_spec=spec)


def test_nested_data_needs_a_generator_that_declares_inner_splits():
    from components.spec import seams

    spec = validate(compose(["experiment=smoke"]))
    with pytest.raises(seams.SeamError, match="declares no nested_split"):
        seams.make_nested_data(spec.data, {}, 0, 1)


def test_the_plan_counts_the_inner_fits_of_nested_cross_validation():
    from components.engine.planner import plan_summary

    plain = plan_summary(validate(compose(["experiment=tabular_cv_smoke", *LOGREG])))
    nested = plan_summary(validate(compose([*NESTED, *LOGREG])))
    assert "nested_inner_trainings" not in plain
    assert nested["nested_inner_trainings"] == nested["trainings"] * 2  # 3 folds: 2 inner fits per training


def test_a_reused_nested_arm_keeps_its_per_example_values_and_verify_compares_them():
    from types import SimpleNamespace

    from components.engine.reuse import check_reused, reused_training

    per_example = {"outer": [1.0, 0.0], "inner": [1.0, 1.0, 0.0, 1.0]}
    source = {"seed": 3, "value": 0.5, "val_score": 0.9, "info": {}, "history": {}, "per_example": per_example}
    arm = {"reused": {"training": source, "data_fingerprint": "f", "task": "run/1/branch/2", "run": "1"}}
    training = reused_training(arm, SimpleNamespace(method="m", train_axes={}))
    assert training["per_example"] == per_example
    check_reused(arm, training, "f", "b")  # the same values: no error
    with pytest.raises(RuntimeError, match="per_example differs"):
        check_reused(arm, {**training, "per_example": {**per_example, "outer": [0.0, 0.0]}}, "f", "b")


def test_nested_strategy_drops_a_replicate_with_a_failed_fold_under_nan_policy_omit():
    observations = _observations()
    failed = next(o for o in observations if o["method"] == "better" and o["seed"] == 1)
    failed["value"] = float("nan")
    del failed["per_example"]  # a failed arm records no per-example values
    out = aggregate(observations, baseline="base", fold_axis="fold", folds=K, cv_interval="nested", nan_policy="omit")
    better = next(c for c in out["cells"] if c["method"] == "better")
    assert better["n"] == 1 and better["n_dropped"] == K  # the failed fold and the rest of its replicate
    assert out["paired"][0]["n"] == 1
