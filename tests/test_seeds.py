"""The seeds planner: its arithmetic, checked by simulation, and the ``axisflow seeds`` subcommand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from components.outputs import seeds
from components.stats import aggregate


def test_seeds_for_width_is_the_smallest_n_whose_student_half_width_fits():
    n = seeds.seeds_for_width(0.02, 0.01)
    half = lambda k: sps.t.ppf(0.975, k - 1) * 0.02 / math.sqrt(k)  # noqa: E731
    assert half(n) <= 0.01 < half(n - 1)
    assert seeds.seeds_for_width(0.02, 0.005) > n > seeds.seeds_for_width(0.02, 0.02)


def test_seeds_for_effect_reaches_the_power_by_simulation():
    sigma, effect, alpha = 1.0, 1.0, 0.05
    n = seeds.seeds_for_effect(sigma, effect, 0.8, alpha)
    assert seeds.power(effect, sigma, n, alpha) >= 0.8 > seeds.power(effect, sigma, n - 1, alpha)
    # Simulated t tests at the planned n reject about as often as the power says.
    rng = np.random.default_rng(0)
    x = rng.normal(effect, sigma, size=(20_000, n))
    t = x.mean(axis=1) / (x.std(axis=1, ddof=1) / math.sqrt(n))
    rejected = np.mean(np.abs(t) > sps.t.ppf(1 - alpha / 2, n - 1))
    assert abs(rejected - seeds.power(effect, sigma, n, alpha)) < 4 * math.sqrt(0.2 * 0.8 / 20_000)


def test_minimum_detectable_effect_inverts_power():
    d = seeds.minimum_detectable_effect(0.5, 8, 0.8, 0.01)
    assert seeds.power(d, 0.5, 8, 0.01) == pytest.approx(0.8, abs=1e-9)


def _results(n=5, multiplicity="holm"):
    rng = np.random.default_rng(3)
    observations = [
        {"axes": {"noise": noise}, "method": m, "seed": s, "value": 0.8 + 0.01 * k + rng.normal(0, 0.01)}
        for noise in (0.0, 0.2) for k, m in enumerate(("base", "mlp", "wide")) for s in range(n)
    ]
    agg = aggregate(observations, baseline="base", n_resamples=500, multiplicity=multiplicity)
    return {"experiment": "demo", "axes": {"data": {"noise": [0.0, 0.2]}}, "statistics": agg["settings"], **agg}


def test_plan_reports_every_comparison_with_its_current_support():
    results = _results()
    planned = seeds.plan(results, width=0.005)
    assert len(planned["rows"]) == 4 and planned["family_size"] == 4
    for row, paired in zip(planned["rows"], results["paired"]):
        assert row["n"] == 5 and row["sd"] == pytest.approx(np.std(paired["diffs"], ddof=1))
        assert row["half_width"] == pytest.approx((paired["ci_high"] - paired["ci_low"]) / 2)
        assert row["needed_assurance"] >= row["needed"] >= 2


def test_plan_for_an_effect_uses_the_family_wise_level():
    holm = seeds.plan(_results(), effect=0.01)
    none = seeds.plan(_results(multiplicity="none"), effect=0.01)
    assert holm["alpha_row"] == pytest.approx(0.05 / 4) and none["alpha_row"] == pytest.approx(0.05)
    assert all(h["needed"] >= n["needed"] for h, n in zip(holm["rows"], none["rows"]))
    assert all(h["mde"] > n["mde"] for h, n in zip(holm["rows"], none["rows"]))


def test_plan_needs_exactly_one_goal():
    with pytest.raises(ValueError, match="exactly one of --width"):
        seeds.plan(_results())
    with pytest.raises(ValueError, match="--width must be a positive"):
        seeds.plan(_results(), width=-1)


def test_format_plan_states_goal_and_assumptions():
    results = _results()
    text = seeds.format_plan(results, seeds.plan(results, effect=0.01), width=None, effect=0.01, target_power=0.8)
    assert "detecting a true difference of 0.01 with power 80% at level 0.0125 (0.05 / 4 comparisons, holm)" in text
    assert "Assumptions:" in text and "seeds needed" in text and "with 80% assurance" in text and "Browne 1995" in text
    planned = seeds.plan(results, effect=0.01, assurance=0.9)
    assert "with 90% assurance" in seeds.format_plan(results, planned, width=None, effect=0.01, target_power=0.8)


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.2])
def test_plan_refuses_an_assurance_outside_0_1(bad):
    with pytest.raises(ValueError, match=r"--assurance must be strictly between 0 and 1"):
        seeds.plan(_results(), effect=0.01, assurance=bad)


def _pilot_plans(rng, pilots, pilot_seeds, effect, alpha, assurance, folds=None):
    """(plug-in, assurance) seeds planned from ``pilots`` simulated pilots with true sd 1 (CV: i.i.d. fold differences)."""
    scores = pilot_seeds * folds if folds else pilot_seeds
    sds = rng.normal(0, 1, (pilots, scores)).std(axis=1, ddof=1)
    plug_in = [seeds.seeds_for_effect(sd, effect, 0.8, alpha, folds) for sd in sds]
    assured = [seeds.seeds_for_effect(seeds._sigma_upper(sd, scores, assurance), effect, 0.8, alpha, folds) for sd in sds]
    return plug_in, assured


@pytest.mark.parametrize("pilot_seeds, folds, effect, alpha", [(3, None, 1.0, 0.05), (5, None, 1.0, 0.05 / 18), (10, None, 2.0, 0.05), (2, 5, 2.2, 0.05)])
def test_assurance_plans_reach_the_power_for_that_share_of_pilots(pilot_seeds, folds, effect, alpha):
    # Simulated pilots from sd 1: the planned seeds reach 80% power at the true sd (the planner's exact power,
    # itself checked by simulation above) for at least 80% of them; the plug-in plan only for about half or less
    # (under cross-validation, 2 repeats of 5-fold by the planner's floor already reach it for most pilots).
    rng = np.random.default_rng(pilot_seeds)
    pilots = 300
    plug_in, assured = _pilot_plans(rng, pilots, pilot_seeds, effect, alpha, 0.8, folds)
    reached = lambda plans: np.mean([n is not None and seeds.power(effect, 1.0, n, alpha, folds) >= 0.8 for n in plans])  # noqa: E731
    se = math.sqrt(0.8 * 0.2 / pilots)
    assert reached(assured) >= 0.8 - 3 * se
    assert folds is not None or reached(plug_in) < 0.6
    assert all(a >= p for a, p in zip(assured, plug_in) if p is not None and a is not None)


def test_assurance_is_the_upper_confidence_bound_of_the_sd():
    # Browne (1995): plan at s * sqrt((n - 1) / chi2_{1 - assurance}(n - 1)).
    assert seeds._sigma_upper(1.0, 5, 0.8) == pytest.approx(math.sqrt(4 / sps.chi2.ppf(0.2, 4)))
    assert seeds._sigma_upper(1.0, 5, 0.9) > seeds._sigma_upper(1.0, 5, 0.8) > 1.0


def test_seeds_subcommand_is_registered():
    from components.cli import _parser

    args = _parser().parse_args(["seeds", "--experiment", "reference", "--width", "0.01"])
    assert args.func is seeds._cmd_seeds and args.width == 0.01 and args.experiment == "reference" and args.assurance == 0.8
    assert _parser().parse_args(["seeds", "--effect", "0.02", "--assurance", "0.9"]).assurance == 0.9
    with pytest.raises(SystemExit):
        _parser().parse_args(["seeds", "--width", "0.01", "--effect", "0.02"])


def test_power_is_exact_where_scipys_noncentral_t_returns_nan():
    # The audit's cases: a normal-approximation fallback gave 0.129 and 0.970 here.
    assert seeds.power(4.0, 1.0, 4, 0.05 / 18) == pytest.approx(0.4863, abs=5e-4)
    assert seeds.power(3.0, 1.0, 6, 0.05 / 18) == pytest.approx(0.8610, abs=5e-4)
    # The integral agrees with scipy where scipy is finite.
    assert seeds._tail(2.0, 5.0, 3, True) == pytest.approx(sps.nct.sf(5.0, 3, 2.0), rel=1e-12)


@pytest.mark.parametrize("m", [1, 18, 60])
def test_power_is_monotone_in_the_number_of_seeds(m):
    for effect in (0.5, 1.0, 2.0, 3.0, 4.0, 6.0):
        curve = [seeds.power(effect, 1.0, n, 0.05 / m) for n in range(2, 30)]
        assert all(b >= a - 1e-9 for a, b in zip(curve, curve[1:])), (effect, curve)


def test_power_by_simulation_at_a_small_family_wise_level():
    n, effect, alpha = 6, 3.0, 0.05 / 18
    rng = np.random.default_rng(1)
    x = rng.normal(effect, 1.0, size=(40_000, n))
    t = x.mean(axis=1) / (x.std(axis=1, ddof=1) / math.sqrt(n))
    rejected = np.mean(np.abs(t) > sps.t.ppf(1 - alpha / 2, n - 1))
    assert abs(rejected - seeds.power(effect, 1.0, n, alpha)) < 4 * math.sqrt(0.14 * 0.86 / 40_000)


def test_cross_validated_plans_use_the_corrected_variance():
    # Half-width t(rk-1) sqrt(1/(rk) + 1/(k-1)) s: the 1/(k-1) term does not shrink with repeats.
    sd, k = 0.02, 5
    r = seeds.seeds_for_width(sd, 0.03, 0.95, folds=k)
    width = lambda n: sps.t.ppf(0.975, n * k - 1) * math.sqrt(1 / (n * k) + 1 / (k - 1)) * sd  # noqa: E731
    assert width(r) <= 0.03 and (r == 1 or width(r - 1) > 0.03)
    assert seeds.seeds_for_width(sd, 0.01, 0.95, folds=k) is None  # below sd / sqrt(k - 1) * 1.96: out of reach
    assert seeds.seeds_for_effect(sd, 0.01, 0.8, 0.05, folds=k) is None
    assert seeds.seeds_for_effect(sd, 0.05, 0.8, 0.05, folds=k) >= 1


def test_plan_of_a_cross_validated_run_reads_fold_differences():
    rng = np.random.default_rng(2)
    observations = [
        {"axes": {"fold": f}, "method": m, "seed": r, "value": 0.9 + (0.01 if m == "mlp" else 0.0) + rng.normal(0, 0.01)}
        for m in ("base", "mlp") for r in range(3) for f in range(5)
    ]
    agg = aggregate(observations, baseline="base", fold_axis="fold", folds=5, cv_interval="nadeau_bengio")
    results = {"experiment": "cv", "axes": {"data": {}}, "statistics": agg["settings"], **agg}
    (row,) = seeds.plan(results, width=0.05)["rows"]
    fold_sd = np.std(np.array(agg["paired"][0]["fold_diffs"]).ravel(), ddof=1)
    assert row["folds"] == 5 and row["sd"] == pytest.approx(fold_sd)
    assert row["half_width"] == pytest.approx(sps.t.ppf(0.975, 14) * math.sqrt(1 / 15 + 1 / 4) * fold_sd)


def test_plan_under_maxt_never_goes_below_what_the_sign_flip_bound_allows():
    results = _results(n=6, multiplicity="holm")
    results["statistics"] = {**results["statistics"], "multiplicity": "maxt"}
    planned = seeds.plan(results, effect=0.05)
    # Level 0.05/4: 2/2^n must fall below it, so at least 8 seeds (2/2^7 = 0.0156 does not).
    assert planned["alpha_row"] == pytest.approx(0.0125)
    assert all(row["needed"] is None or row["needed"] >= 8 for row in planned["rows"])
    assert any(row["needed"] == 8 for row in planned["rows"])
