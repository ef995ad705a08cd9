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
        assert row["needed_conservative"] >= row["needed"] >= 2


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
    assert "Assumptions:" in text and "seeds needed" in text


def test_seeds_subcommand_is_registered():
    from components.cli import _parser

    args = _parser().parse_args(["seeds", "--experiment", "reference", "--width", "0.01"])
    assert args.func is seeds._cmd_seeds and args.width == 0.01 and args.experiment == "reference"
    with pytest.raises(SystemExit):
        _parser().parse_args(["seeds", "--width", "0.01", "--effect", "0.02"])
