"""Family-wise verdicts, p-values, metric bounds, the hybrid-t default and declared contrasts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from components import stats
from components.stats import METHODS, adjust_p_values, aggregate, bootstrap_ci, bootstrap_distribution, hybrid_t_interval


def _observations(seeds=5, noises=(0.0, 0.2), epochs=(10, 40), methods=("base", "mlp", "wide"), shift=0.0, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    out = []
    for noise in noises:
        for epoch in epochs:
            for k, method in enumerate(methods):
                for seed in range(seeds):
                    value = 0.8 - noise / 4 + shift * k + 0.01 * epoch / 40 + rng.normal(0, 0.02)
                    out.append({"axes": {"noise": noise, "epochs": epoch}, "method": method, "seed": seed, "value": value})
    return out


def _agg(observations, **kwargs):
    kwargs.setdefault("baseline", "base")
    kwargs.setdefault("n_resamples", 2000)
    return aggregate(observations, **kwargs)


def test_hybrid_t_is_bootstrap_t_held_between_floor_and_cap_of_student_t():
    samples = np.random.default_rng(3).lognormal(size=(400, 5))
    low, high = bootstrap_ci(samples, method="hybrid-t", n_resamples=2000, rngs=list(range(400)))
    mean = samples.mean(axis=1)
    half = sps.t.ppf(0.975, 4) * samples.std(axis=1, ddof=1) / math.sqrt(5)
    assert np.all(mean - low >= stats.HYBRID_FLOOR * half * (1 - 1e-12))
    assert np.all(high - mean >= stats.HYBRID_FLOOR * half * (1 - 1e-12))
    assert np.all(high - low <= 2 * stats.HYBRID_CAP * half * (1 + 1e-12))
    # Right-skewed data: the hybrid keeps bootstrap-t's longer upper side.
    assert np.median((high - mean) / (mean - low)) > 1.2


def test_hybrid_t_equals_bootstrap_t_when_that_lies_within_the_limits():
    samples = np.random.default_rng(4).normal(size=(300, 20))
    rngs = list(range(300))
    low_b, high_b = bootstrap_ci(samples, method="bootstrap-t", n_resamples=2000, rngs=rngs)
    low_h, high_h = bootstrap_ci(samples, method="hybrid-t", n_resamples=2000, rngs=rngs)
    student = sps.t.ppf(0.975, 19) * samples.std(axis=1, ddof=1) / math.sqrt(20)
    mean = samples.mean(axis=1)
    inside = (mean - low_b >= 0.8 * student) & (high_b - mean >= 0.8 * student) & (high_b - low_b <= 2.4 * student)
    assert inside.sum() > 100
    np.testing.assert_allclose(low_h[inside], low_b[inside], rtol=1e-12)
    np.testing.assert_allclose(high_h[inside], high_b[inside], rtol=1e-12)


def test_hybrid_t_interval_from_distribution_equals_bootstrap_ci():
    samples = np.random.default_rng(5).beta(18, 2, size=(20, 6))
    _, t = bootstrap_distribution(samples, n_resamples=3000, rngs=list(range(20)), studentized=True)
    expected = bootstrap_ci(samples, method="hybrid-t", n_resamples=3000, rngs=list(range(20)))
    np.testing.assert_allclose(hybrid_t_interval(samples, t), expected, rtol=1e-12)


def test_hybrid_t_gives_an_interval_at_three_seeds():
    result = _agg(_observations(seeds=3))
    assert all(c["ci_low"] is not None for c in result["cells"])


def test_bootstrap_ci_bounds_keep_every_end_inside_the_range():
    samples = np.random.default_rng(6).beta(18, 2, size=(500, 5))
    low, high = bootstrap_ci(samples, method="bootstrap-t", n_resamples=1000, rngs=list(range(500)))
    assert (high > 1).any()
    low, high = bootstrap_ci(samples, method="bootstrap-t", n_resamples=1000, rngs=list(range(500)), bounds=(0, 1))
    assert (low >= 0).all() and (high <= 1).all()


def test_aggregate_bounds_clip_cells_to_the_range_and_differences_to_the_implied_one():
    observations = [
        {"axes": {}, "method": m, "seed": s, "value": v}
        for m, values in (("base", [0.02, 0.5, 0.98, 0.3, 0.9]), ("mlp", [0.99, 0.995, 0.97, 1.0, 0.985]))
        for s, v in enumerate(values)
    ]
    result = _agg(observations, method="bootstrap-t", bounds=(0.0, 1.0))
    for cell in result["cells"]:
        assert 0.0 <= cell["ci_low"] <= cell["ci_high"] <= 1.0
    (row,) = result["paired"]
    assert -1.0 <= row["ci_low"] <= row["ci_high"] <= 1.0
    assert result["settings"]["bounds"] == [0.0, 1.0]
    assert stats.difference_bounds((0.0, None)) is None


def test_aggregate_value_outside_the_declared_range_raises_naming_cell_and_seed():
    observations = _observations()
    observations[3]["value"] = 1.2
    with pytest.raises(ValueError, match=r"seed 3 has value 1.2, outside the metric's declared range \[0.0, 1.0\]"):
        _agg(observations, bounds=(0.0, 1.0))


@pytest.mark.parametrize("bounds", [(1, 0), (0, 0), (0,), "01", (0, float("nan"))])
def test_aggregate_rejects_malformed_bounds(bounds):
    with pytest.raises(ValueError, match="bounds"):
        _agg(_observations(), bounds=bounds)


@pytest.mark.parametrize("method", METHODS)
def test_p_value_agrees_with_the_rows_own_interval(method):
    observations = _observations(seeds=6, shift=0.012, rng_seed=8)
    result = _agg(observations, method=method, multiplicity="none")
    assert result["paired"]
    for row in result["paired"]:
        decided = row["verdict_per_row"] in ("better", "worse")
        # p is resolved to 4e-6; a row closer than that to the boundary would be ambiguous.
        assert abs(row["p_value"] - 0.05) > 1e-5
        if method == "hybrid-t":
            # Its p-value never trusts a side shorter than Student-t's: p < 0.05 implies the verdict.
            assert decided or row["p_value"] >= 0.05, row
        else:
            assert decided == (row["p_value"] < 0.05), row


@pytest.mark.parametrize("method", ["bootstrap-t", "percentile", "bca", "student-t"])
def test_p_value_is_where_the_interval_reaches_zero(method):
    diffs = np.array([[0.012, 0.03, -0.014, 0.021, -0.007, 0.009, 0.026]])
    result = aggregate(
        [{"axes": {}, "method": m, "seed": s, "value": (v if m == "mlp" else 0.0)} for m in ("base", "mlp") for s, v in enumerate(diffs[0])],
        baseline="base", method=method, n_resamples=4000,
    )
    p = result["paired"][0]["p_value"]
    assert 0.001 < p < 0.5
    key = stats.replicate_seed(0, {}, range(7))
    low_in, _ = bootstrap_ci(diffs, method=method, n_resamples=4000, rngs=[key], confidence=1 - p * 1.001)
    low_out, _ = bootstrap_ci(diffs, method=method, n_resamples=4000, rngs=[key], confidence=1 - p * 0.98)
    assert low_in[0] > 0 >= low_out[0]


def test_adjust_p_values_holm_and_bonferroni_by_hand():
    p = [0.01, 0.04, None, 0.03, 0.5]
    holm = adjust_p_values(p, "holm")
    assert holm[2] is None and holm[0] == pytest.approx(0.04) and holm[3] == pytest.approx(0.09)
    assert holm[1] == pytest.approx(0.09) and holm[4] == pytest.approx(0.5)
    assert adjust_p_values(p, "bonferroni") == [pytest.approx(0.04), pytest.approx(0.16), None, pytest.approx(0.12), 1.0]
    assert adjust_p_values(p, "none") == [0.01, 0.04, None, 0.03, 0.5]


def test_aggregate_verdicts_are_family_wise_by_default():
    result = _agg(_observations(seeds=5, shift=0.01, rng_seed=2))
    settings = result["settings"]
    assert settings["multiplicity"] == "holm" and settings["family_size"] == len(result["paired"]) == 8
    adjusted = adjust_p_values([p["p_value"] for p in result["paired"]], "holm")
    for row, p_adj in zip(result["paired"], adjusted):
        assert row["p_adjusted"] == p_adj
        expected = ("better" if row["mean_diff"] > 0 else "worse") if p_adj < 0.05 else "inconclusive"
        assert row["verdict"] == expected
    # The correction only removes verdicts, never adds one.
    for row in result["paired"]:
        if row["verdict"] != "inconclusive":
            assert row["verdict"] == row["verdict_per_row"]


def test_aggregate_multiplicity_none_gives_per_row_verdicts():
    result = _agg(_observations(seeds=5, shift=0.01, rng_seed=2), multiplicity="none")
    assert all(p["verdict"] == p["verdict_per_row"] and p["p_adjusted"] == p["p_value"] for p in result["paired"])


def test_aggregate_wins_count_seeds_in_the_metric_direction():
    observations = [{"axes": {}, "method": m, "seed": s, "value": v} for m, vals in (("base", [1, 2, 3, 4]), ("mlp", [2, 2, 1, 5])) for s, v in enumerate(vals)]
    assert _agg(observations)["paired"][0]["wins"] == 2.5
    assert _agg(observations, higher_is_better=False)["paired"][0]["wins"] == 1.5


def test_axis_contrast_compares_values_within_each_method_on_shared_seeds():
    observations = _observations()
    contrast = {"kind": "axis", "axis": "epochs", "value": 40, "reference": 10}
    result = _agg(observations, contrasts=[contrast], stream_axes=["noise"])
    rows = result["contrasts"]
    assert len(rows) == 2 * 3  # every noise value x every method
    by = {(o["axes"]["noise"], o["axes"]["epochs"], o["method"], o["seed"]): o["value"] for o in observations}
    for row in rows:
        noise = row["axes"]["noise"]
        assert row["axes"]["epochs"] == 40 and row["reference"] == {"epochs": 10}
        assert row["diffs"] == [by[noise, 40, row["method"], s] - by[noise, 10, row["method"], s] for s in range(5)]
        assert row["contrast"] == "epochs=40 vs 10"
    assert result["settings"]["family_size"] == len(result["paired"]) + len(rows)
    # Same family: the adjusted p-values are Holm over paired rows and contrasts together.
    everything = result["paired"] + rows
    assert [r["p_adjusted"] for r in everything] == adjust_p_values([r["p_value"] for r in everything])


def test_axis_contrast_on_a_training_axis_is_resampled_with_its_cells():
    # A contrast row is resampled with its axis point's stream: its interval is the
    # same as that of the same differences fed in as a method.
    observations = _observations(noises=(0.0,))
    result = _agg(observations, contrasts=[{"kind": "axis", "axis": "epochs", "value": 40, "reference": 10, "methods": ["mlp"]}], stream_axes=["noise"])
    (row,) = result["contrasts"]
    key = stats.replicate_seed(0, {"noise": 0.0}, range(5))
    low, high = bootstrap_ci(np.array([row["diffs"]]), n_resamples=2000, rngs=[key])
    assert (row["ci_low"], row["ci_high"]) == (low[0], high[0])


def test_method_contrast_compares_two_methods_at_every_axis_point():
    result = _agg(_observations(), contrasts=[{"kind": "method", "method": "wide", "reference": "mlp", "name": "width"}])
    assert [r["contrast"] for r in result["contrasts"]] == ["width"] * 4
    assert all(r["method"] == "wide" and r["reference"] == "mlp" for r in result["contrasts"])


@pytest.mark.parametrize(
    "contrasts, message",
    [
        ([{"kind": "axes"}], r"\[0\].kind: 'axes'"),
        ([{"kind": "axis", "axis": "epochs", "value": 40}], r"\[0\].reference: missing"),
        ([{"kind": "axis", "axis": "epochs", "value": 40, "reference": 40}], "both 40"),
        ([{"kind": "method", "method": "a", "reference": "b", "colour": 1}], r"\[0\].colour: unknown key"),
        ({"kind": "method"}, "must be a list"),
        ([{"kind": "method", "method": "a", "reference": "b"}] * 2, "declared twice"),
    ],
)
def test_check_contrasts_names_the_problem(contrasts, message):
    with pytest.raises(ValueError, match=message):
        stats.check_contrasts(contrasts)


def test_check_contrasts_against_the_experiment():
    axes = {"epochs": [10, 40], "noise": [0.0]}
    with pytest.raises(ValueError, match="not a value of epochs"):
        stats.check_contrasts([{"kind": "axis", "axis": "epochs", "value": 120, "reference": 10}], axes=axes, methods=["a"])
    with pytest.raises(ValueError, match="'c' is not among the selected methods"):
        stats.check_contrasts([{"kind": "method", "method": "c", "reference": "a"}], axes=axes, methods=["a", "b"])
    with pytest.raises(ValueError, match=r"contrasts: \[0\]"):
        stats.check_settings({"contrasts": [{"kind": 1}]})


def test_aggregate_contrast_without_matching_cells_raises():
    with pytest.raises(ValueError, match="matches no cell"):
        _agg(_observations(), contrasts=[{"kind": "axis", "axis": "epochs", "value": 120, "reference": 10}])


def test_config_validation_checks_declared_contrasts_against_the_experiment():
    from components.spec.config import ConfigError, compose, validate

    good = compose(["experiment=smoke", "+experiment.statistics.contrasts=[{kind:axis,axis:epochs,value:4,reference:2}]"])
    assert validate(good).statistics["contrasts"][0]["axis"] == "epochs"
    bad = compose(["experiment=smoke", "+experiment.statistics.contrasts=[{kind:axis,axis:epochs,value:5,reference:2}]"])
    with pytest.raises(ConfigError, match=r"experiment.statistics.contrasts\[0\].value: 5 is not a value of epochs"):
        validate(bad)
    with pytest.raises(ConfigError, match=r"experiment.statistics.multiplicity: unknown multiplicity 'fdr'"):
        validate(compose(["experiment=smoke", "+experiment.statistics.multiplicity=fdr"]))


def test_hybrid_t_p_value_is_where_its_interval_rescaled_by_student_t_reaches_zero():
    diffs = [0.012, 0.03, -0.014, 0.021, -0.007, 0.009, 0.026]
    observations = [{"axes": {}, "method": m, "seed": s, "value": (v if m == "mlp" else 0.0)} for m in ("base", "mlp") for s, v in enumerate(diffs)]
    row = aggregate(observations, baseline="base", n_resamples=4000)["paired"][0]
    mean, se = np.mean(diffs), np.std(diffs, ddof=1) / math.sqrt(7)
    below = max((mean - row["ci_low"]) / se, sps.t.ppf(0.975, 6))  # the side facing 0, at least Student-t's
    p = row["p_value"]
    # At level p, the interval [mean - below * t(1 - p/2) / t(0.975) * se, ...] just touches 0.
    assert mean - below * sps.t.ppf(1 - p / 2, 6) / sps.t.ppf(0.975, 6) * se == pytest.approx(0.0, abs=1e-12)
    assert 0.001 < p < 0.5


def test_default_interval_on_the_two_cluster_example_stays_near_the_data():
    # Issue 13: eight differences near +0.002 and two near -0.03 gave bootstrap-t [-0.449, 0.004].
    diffs = np.array([[0.0021, 0.0019, 0.0022, 0.0018, 0.0020, 0.0023, 0.0017, 0.0020, -0.0300, -0.0310]] * 50)
    spread = diffs.max() - diffs.min()
    low, high = bootstrap_ci(diffs, n_resamples=10_000, rngs=list(range(50)))
    assert np.all(high - low <= 3 * spread)
    assert np.all(low >= diffs.min() - 3 * spread) and np.all(high <= diffs.max() + 3 * spread)
    boot_low, _ = bootstrap_ci(diffs, method="bootstrap-t", n_resamples=10_000, rngs=list(range(50)))
    assert boot_low.min() < diffs.min() - 3 * spread  # what the old default did
