"""Fold-aware intervals: folds averaged within a replicate, Nadeau-Bengio corrected t, naive only when asked and flagged."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from components.spec.config import compose
from components.stats import aggregate
from components.stats.cv import NAIVE_NOTE, corrected_t_interval, naive_t_interval
from components.outputs.query import ResultSet, _render_text
from components.schema import check_results
from components.engine.surface import aggregate_records, build_results

SCORES = np.array([[0.91, 0.95, 0.93, 0.97, 0.92, 0.94, 0.96, 0.90, 0.95, 0.93]])


def test_corrected_t_interval_is_the_nadeau_bengio_formula():
    mean, low, high = corrected_t_interval(SCORES, test_train_ratio=1 / 4, confidence=0.95)
    j = SCORES.shape[1]
    half = sps.t.ppf(0.975, j - 1) * np.sqrt((1 / j + 1 / 4) * SCORES.var(ddof=1))
    assert mean[0] == pytest.approx(SCORES.mean())
    assert (low[0], high[0]) == pytest.approx((SCORES.mean() - half, SCORES.mean() + half))
    # Pinned so a refactor cannot move published numbers.
    assert (round(float(low[0]), 6), round(float(high[0]), 6)) == (0.906275, 0.965725)


@pytest.mark.parametrize("folds", [2, 3, 5, 10, 30])
def test_t_intervals_and_p_values_are_scipy_stats_t_bit_for_bit(folds):
    """The join takes the t quantile from ``scipy.special`` (lighter to import); the numbers are scipy.stats.t's exactly."""
    from components.stats.cv import corrected_t_p_value
    from components.stats.intervals import student_t_ci

    scores = np.random.default_rng(folds).normal(0.9, 0.03, size=(7, folds))
    scores[0] = 0.5  # zero spread: a t statistic of 0 (or inf) must keep its p-value
    j, ratio = folds, 1 / 4
    half = sps.t.ppf(0.5 + 0.9 / 2, j - 1) * np.sqrt((1 / j + ratio) * scores.var(axis=1, ddof=1))
    _, low, high = corrected_t_interval(scores, test_train_ratio=ratio, confidence=0.9)
    assert np.array_equal(low, scores.mean(axis=1) - half) and np.array_equal(high, scores.mean(axis=1) + half)
    se = np.sqrt((1 / j + ratio) * scores.var(axis=1, ddof=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, np.abs(scores.mean(axis=1)) / np.where(se > 0, se, 1.0), np.inf)
    assert np.array_equal(corrected_t_p_value(scores, test_train_ratio=ratio), 2.0 * sps.t.sf(t, j - 1))
    half = sps.t.ppf(0.5 + 0.95 / 2, j - 1) * scores.std(axis=1, ddof=1) / np.sqrt(j)
    assert np.array_equal(naive_t_interval(scores, confidence=0.95)[1], scores.mean(axis=1) - half)
    assert np.array_equal(student_t_ci(scores, confidence=0.95)[0], scores.mean(axis=1) - half)


def test_corrected_interval_is_wider_than_folds_as_independent_seeds():
    _, low, high = corrected_t_interval(SCORES, test_train_ratio=1 / 4)
    _, nlow, nhigh = naive_t_interval(SCORES)
    # sqrt((1/J + 1/(k-1)) / (1/J)) = sqrt(1 + 10/4) times wider at J = 10 scores of 5-fold CV.
    assert (high[0] - low[0]) / (nhigh[0] - nlow[0]) == pytest.approx(np.sqrt(1 + 10 / 4))


def _observations(values: dict[str, np.ndarray]) -> list[dict]:
    """``values[method]`` has shape (replicates, folds)."""
    return [
        {"axes": {"fold": f}, "method": m, "seed": r, "value": float(v[r, f])}
        for m, v in values.items()
        for r in range(v.shape[0])
        for f in range(v.shape[1])
    ]


RNG = np.random.default_rng(0)
BASE = 0.9 + 0.02 * RNG.standard_normal((3, 5))
BETTER = BASE + 0.03 + 0.005 * RNG.standard_normal((3, 5))


def test_corrected_t_strategy_averages_folds_within_a_replicate_and_keeps_the_surface_shape():
    out = aggregate(
        _observations({"base": BASE, "better": BETTER}), baseline="base", higher_is_better=True, fold_axis="fold", folds=5,
        cv_interval="nadeau_bengio", bounds=(0.0, 1.0), confidence=0.95,
    )
    base = next(c for c in out["cells"] if c["method"] == "base")
    assert base["axes"] == {} and base["n"] == 3 and base["folds"] == 5
    assert base["values"] == pytest.approx(BASE.mean(axis=1).tolist())
    _, low, high = corrected_t_interval(BASE.reshape(1, -1), test_train_ratio=1 / 4)
    assert (base["ci_low"], base["ci_high"]) == pytest.approx((low[0], high[0]))
    (pair,) = out["paired"]
    assert {"axes", "method", "baseline", "n", "mean_diff", "ci_low", "ci_high", "p_improve", "verdict", "seeds", "diffs"} <= set(pair)
    assert pair["mean_diff"] == pytest.approx((BETTER - BASE).mean())
    assert pair["verdict"] == pair["verdict_per_row"] == "better" and pair["p_improve"] == 1.0 and pair["wins"] == 3
    assert pair["p_value"] < 0.05 and pair["p_adjusted"] == pair["p_value"]  # a family of one
    assert "Nadeau-Bengio" in out["settings"]["method"]


def test_corrected_t_strategy_clips_cells_to_the_metric_range():
    near_one = np.clip(0.995 + 0.01 * RNG.standard_normal((2, 5)), 0, 1)
    out = aggregate(_observations({"a": near_one}), baseline="a", higher_is_better=True, fold_axis="fold", folds=5,
                    cv_interval="nadeau_bengio", bounds=(0.0, 1.0))
    assert out["cells"][0]["ci_high"] <= 1.0


def test_corrected_t_strategy_refuses_a_replicate_with_a_missing_fold():
    observations = [o for o in _observations({"a": BASE}) if not (o["seed"] == 1 and o["axes"]["fold"] == 2)]
    with pytest.raises(ValueError, match=r"replicate 1: folds \[2\] are missing"):
        aggregate(observations, baseline="a", higher_is_better=True, fold_axis="fold", folds=5, cv_interval="nadeau_bengio")


def _with_failed_fold() -> list[dict]:
    observations = _observations({"base": BASE, "better": BETTER})
    for o in observations:
        if o["method"] == "better" and o["seed"] == 1 and o["axes"]["fold"] == 2:
            o["value"], o["failure"] = float("nan"), "predictions has 200 non-finite value(s)"
    return observations


def test_nan_policy_raise_under_cross_validation_names_the_replicate_and_fold():
    with pytest.raises(ValueError, match=r"method='better'\) replicate 1, fold 2 has value nan; .*nan_policy='omit'"):
        aggregate(_with_failed_fold(), baseline="base", higher_is_better=True, fold_axis="fold", folds=5, cv_interval="nadeau_bengio")


def test_nan_policy_omit_under_cross_validation_drops_the_failed_replicate_whole_and_counts_it():
    out = aggregate(_with_failed_fold(), baseline="base", higher_is_better=True, fold_axis="fold", folds=5,
                    cv_interval="nadeau_bengio", bounds=(0.0, 1.0), nan_policy="omit")
    better = next(c for c in out["cells"] if c["method"] == "better")
    # Replicate 1 of `better` averages other folds than the rest, so all 5 of its fold scores leave the row (1 failed + 4).
    assert better["n"] == 2 and better["n_dropped"] == 5 and better["seeds"] == [0, 2]
    assert better["values"] == pytest.approx(BETTER[[0, 2]].mean(axis=1).tolist())
    (pair,) = out["paired"]
    assert pair["n"] == 2 and pair["seeds"] == [0, 2]
    assert next(c for c in out["cells"] if c["method"] == "base")["n"] == 3


#: These hand-built records carry the primary metric only.
NO_SECONDARY = ("~experiment.secondary_metrics",)


def _records(values: dict[str, np.ndarray]) -> list[dict]:
    records = []
    for r in range(3):
        for f in range(3):
            key = f"fold={f},seed={r}"
            obs = [{"axes": {"fold": f}, "method": m, "seed": r, "value": float(v[r, f])} for m, v in values.items()]
            records.append({"key": key, "order": [f, r], "data_fingerprint": key, "observations": obs, "counts": {"train_arm": 3}})
    return records


VALUES = {m: 0.9 + 0.02 * RNG.standard_normal((3, 3)) for m in ("logreg_scaled", "logreg_raw", "mlp_scaled")}


def test_surface_uses_fold_aware_intervals_and_records_the_dataset_hash():
    config = compose(["experiment=tabular_cv_smoke", "experiment.seeds=3", *NO_SECONDARY])
    records = _records(VALUES)
    aggregate = aggregate_records(config, records)
    results = build_results(config, records, aggregate, {})
    assert results["statistics"]["interval"] == "nadeau_bengio"
    assert results["axes"]["data"] == {} and results["cross_validation"]["folds"] == [0, 1, 2]
    assert len(results["dataset"]["sha256"]) == 64 and results["provenance"]["dataset"] == results["dataset"]
    assert all(c["n"] == 3 and "note" not in c for c in results["cells"])
    check_results(results)
    assert results["statistics"]["family_size"] == 2 and results["statistics"]["multiplicity"] == "holm"
    text = _render_text(ResultSet.from_results(results), results)
    assert "95% intervals by Nadeau-Bengio corrected resampled t over replicates x 3 folds" in text
    # The estimand is stated, and replicates are called repeats, not seeds.
    assert "the procedure's performance when trained on n - n/3 rows of this population" in text.splitlines()[0]
    assert "n: repeats of 3-fold cross-validation both sides share" in text and "wins: repeats on which" in text


def test_naive_folds_as_seeds_is_available_only_explicitly_and_flagged():
    config = compose(["experiment=tabular_cv_smoke", "experiment.seeds=3", *NO_SECONDARY, "experiment.statistics.cv_interval=naive_folds_as_seeds",
                      "+experiment.statistics.method=student-t"])
    records = _records(VALUES)
    results = build_results(config, records, aggregate_records(config, records), {})
    assert results["statistics"]["method"].startswith("NAIVE student-t")
    assert all(row["note"] == NAIVE_NOTE for row in [*results["cells"], *results["paired"]])
    assert all(c["n"] == 9 for c in results["cells"])  # every (replicate, fold) counted as a seed
    check_results(results)
    text = _render_text(ResultSet.from_results(results), results)
    assert "NAIVE" in text.splitlines()[0] and NAIVE_NOTE in text


@pytest.mark.parametrize("cv_interval", ["nadeau_bengio", "naive_folds_as_seeds"])
def test_a_contrast_declared_under_cross_validation_runs_through_the_config(cv_interval):
    overrides = [
        "experiment=tabular_cv_smoke", "experiment.seeds=3", *NO_SECONDARY, f"experiment.statistics.cv_interval={cv_interval}",
        "+experiment.statistics.contrasts=[{kind: method, method: mlp_scaled, reference: logreg_raw}]",
    ]
    config = compose(overrides)
    records = _records(VALUES)
    results = build_results(config, records, aggregate_records(config, records), {})
    (row,) = results["contrasts"]
    assert row["contrast"] == "mlp_scaled vs logreg_raw" and row["kind"] == "method" and row["reference"] == "logreg_raw"
    assert row["mean_diff"] == pytest.approx((VALUES["mlp_scaled"] - VALUES["logreg_raw"]).mean())
    assert results["statistics"]["family_size"] == 3  # two paired rows and the contrast
    if cv_interval == "nadeau_bengio":
        assert row["n"] == 3 and np.allclose(row["fold_diffs"], VALUES["mlp_scaled"] - VALUES["logreg_raw"])
        _, low, high = corrected_t_interval((VALUES["mlp_scaled"] - VALUES["logreg_raw"]).reshape(1, -1), test_train_ratio=1 / 2)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low[0], high[0]))
    check_results(results)
