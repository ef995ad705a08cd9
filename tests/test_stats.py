"""Tests for components.stats: agreement with scipy, determinism, order independence, edge cases."""

from __future__ import annotations

import json
import math
import random
import warnings

import numpy as np
import pytest
from scipy import stats as sps

from components import stats
from components.stats import intervals, resampling
from components.stats import (
    METHODS,
    aggregate,
    bootstrap_ci,
    bootstrap_distribution,
    interval_from_distribution,
    student_t_ci,
)

SCIPY_NAMES = {"percentile": "percentile", "basic": "basic", "bca": "BCa"}


def _observations(seeds=5, noises=(0.0, 0.2), epochs=(10, 40), methods=("base", "mlp"), rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    out = []
    for noise in noises:
        for epoch in epochs:
            for shift, method in enumerate(methods):
                for seed in range(seeds):
                    value = 0.8 - noise / 4 + 0.01 * shift + rng.normal(0, 0.02)
                    out.append({"axes": {"noise": noise, "epochs": epoch}, "method": method, "seed": seed, "value": value})
    return out


def _agg(observations, **kwargs):
    kwargs.setdefault("baseline", "base")
    kwargs.setdefault("n_resamples", 300)
    return aggregate(observations, **kwargs)


def _cell(result, method, **axes):
    (match,) = [c for c in result["cells"] if c["method"] == method and c["axes"] == axes]
    return match


@pytest.mark.parametrize("method", sorted(SCIPY_NAMES))
def test_interval_from_distribution_matches_scipy_on_same_resamples(method):
    samples = np.random.default_rng(1).lognormal(size=(6, 8))
    results = [
        sps.bootstrap((row,), np.mean, n_resamples=999, method=SCIPY_NAMES[method], rng=np.random.default_rng(i))
        for i, row in enumerate(samples)
    ]
    theta_b = np.stack([r.bootstrap_distribution for r in results])
    low, high = interval_from_distribution(samples, theta_b, method=method, confidence=0.9)
    scipy_90 = [
        sps.bootstrap((row,), np.mean, n_resamples=999, method=SCIPY_NAMES[method], confidence_level=0.9, rng=np.random.default_rng(i))
        for i, row in enumerate(samples)
    ]
    np.testing.assert_allclose(low, [r.confidence_interval.low for r in scipy_90], rtol=1e-12, atol=0)
    np.testing.assert_allclose(high, [r.confidence_interval.high for r in scipy_90], rtol=1e-12, atol=0)


@pytest.mark.parametrize("method", sorted(SCIPY_NAMES))
def test_interval_from_distribution_matches_scipy_batched_form(method):
    samples = np.random.default_rng(2).normal(size=(5, 10))
    res = sps.bootstrap((samples,), np.mean, axis=-1, n_resamples=999, method=SCIPY_NAMES[method], rng=np.random.default_rng(0))
    low, high = interval_from_distribution(samples, res.bootstrap_distribution, method=method)
    np.testing.assert_allclose(low, res.confidence_interval.low, rtol=1e-12, atol=0)
    np.testing.assert_allclose(high, res.confidence_interval.high, rtol=1e-12, atol=0)


@pytest.mark.parametrize("method", sorted(SCIPY_NAMES))
def test_bootstrap_ci_agrees_with_scipy_within_monte_carlo_error(method):
    samples = np.random.default_rng(3).beta(18, 2, size=(8, 10))
    low, high = bootstrap_ci(samples, method=method, n_resamples=20_000, rngs=range(8))
    se = samples.std(axis=1, ddof=1) / math.sqrt(10)
    for i, row in enumerate(samples):
        ref = sps.bootstrap((row,), np.mean, n_resamples=20_000, method=SCIPY_NAMES[method], rng=np.random.default_rng(100 + i))
        # The 2.5% quantile of 20,000 resample means has a Monte-Carlo s.d. of about 0.02 se.
        assert abs(low[i] - ref.confidence_interval.low) < 0.15 * se[i]
        assert abs(high[i] - ref.confidence_interval.high) < 0.15 * se[i]


def test_bootstrap_distribution_draws_each_resample_uniformly():
    # Distinct powers of ten make every resample's sum identify its counts.
    values = np.array([[1.0, 10.0, 100.0]])
    means, _ = bootstrap_distribution(values, n_resamples=60_000, rngs=[7])
    sums = np.rint(means[0] * 3).astype(int)
    compositions, counts = np.unique(sums, return_counts=True)
    expected = []
    for total in compositions:
        c = [(total // 100) % 10, (total // 10) % 10, total % 10]
        expected.append(math.factorial(3) / math.prod(math.factorial(k) for k in c) / 27)
    assert len(compositions) == 10
    assert sps.chisquare(counts, np.array(expected) * counts.sum()).pvalue > 1e-3


@pytest.mark.parametrize("n", [2, 5, 10, 17, 20, 64, 70])
def test_bootstrap_distribution_matches_bootstrap_moments(n):
    row = np.random.default_rng(n).normal(size=(1, n))
    means, _ = bootstrap_distribution(row, n_resamples=40_000, rngs=[n])
    expected_sd = row.std() / math.sqrt(n)
    assert abs(means.mean() - row.mean()) < 5 * expected_sd / math.sqrt(40_000)
    assert abs(means.std() / expected_sd - 1) < 0.03


@pytest.mark.parametrize("n", range(1, 70))
def test_block_sizes_cover_n_with_small_tables(n):
    sizes = stats._block_sizes(n)
    assert sum(sizes) == n
    assert n ** max(sizes) <= 4096 or max(sizes) == 1
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("n", range(1, 70))
def test_draw_groups_pack_every_block_into_64_bit_draws(n):
    groups = stats._draw_groups(n)
    assert [size for group in groups for size in group] == stats._block_sizes(n)
    assert all(math.prod(n**size for size in group) <= 2**63 for group in groups)


def test_bootstrap_distribution_counts_are_multinomial_across_blocks():
    # n = 7 splits each resample into blocks of 4 and 3 indices, digits of one draw;
    # powers of ten make every resample's sum spell out its counts.
    n, draws = 7, 60_000
    values = 10.0 ** np.arange(n)[None, :]
    assert stats._draw_groups(n) == ((4, 3),)
    means, _ = bootstrap_distribution(values, n_resamples=draws, rngs=[11])
    sums = np.rint(means[0] * n).astype(np.int64)
    counts = np.stack([(sums // 10**j) % 10 for j in range(n)], axis=1)
    assert (counts.sum(axis=1) == n).all()
    p = 1 / n
    expected = n * (np.diag(np.full(n, p)) - p * p)
    # Covariances across indices of different blocks are -n p^2, as for one multinomial draw.
    np.testing.assert_allclose(np.cov(counts, rowvar=False), expected, atol=6 * math.sqrt(2 / draws))
    np.testing.assert_allclose(counts.mean(axis=0), 1.0, atol=5 * math.sqrt(n * p * (1 - p) / draws))


@pytest.mark.parametrize("size", [1, 2, 7, 40, 999])
def test_quantiles_by_selection_match_full_sort(size):
    rng = np.random.default_rng(size)
    values = rng.integers(-3, 4, size=(6, size)).astype(float)  # many ties
    values[1, : size // 3] = np.inf
    values[2, : size // 4] = -np.inf
    values[3, : size // 5] = np.nan
    levels = np.column_stack([rng.uniform(0, 1, 6), rng.uniform(0, 1, 6), np.full(6, 0.025), np.full(6, 0.975)])
    levels[4, 0] = np.nan
    levels[5, :2] = [0.0, 1.0]
    ordered = np.sort(values, axis=1)
    expected = np.column_stack([_reference_quantile(ordered, levels[:, j]) for j in range(4)])
    for rows in (slice(None), [0], [0, 3]):  # shared and per-row positions
        got = intervals._quantiles(values[rows].copy(), levels[rows])
        np.testing.assert_array_equal(got, expected[rows])


def _reference_quantile(ordered, p):
    """Linear quantile of sorted rows, written out as the old full-sort implementation did."""
    size = ordered.shape[1]
    undefined = np.isnan(p)
    p = np.where(undefined, 0.5, p)
    position = p * size + (1 - p)
    below = np.floor(position) - 1
    weight = np.where(below < 0, 0.0, position % 1)
    lo = np.take_along_axis(ordered, np.clip(below, 0, size - 1).astype(np.intp)[:, None], axis=1)[:, 0]
    hi = np.take_along_axis(ordered, np.clip(below + 1, 0, size - 1).astype(np.intp)[:, None], axis=1)[:, 0]
    with np.errstate(invalid="ignore"):
        value = (1 - weight) * lo + weight * hi
    value = np.where(weight == 0, lo, np.where(weight == 1, hi, value))
    return np.where(undefined, np.nan, value)


def test_t_from_key_matches_direct_studentization_and_keeps_order():
    rng = np.random.default_rng(12)
    n = 6
    resamples = rng.choice(rng.normal(size=n), size=(5_000, n))
    resamples[:3] = resamples[:3, :1]  # all-equal resamples: no spread
    deviations = resamples - resamples.mean()
    s, q = deviations.sum(axis=1), (deviations**2).sum(axis=1)
    t = resampling.t_from_key(s * np.abs(s) / q, n)
    with np.errstate(divide="ignore"):
        direct = (resamples.mean(axis=1) - resamples.mean()) / (resamples.std(axis=1, ddof=1) / math.sqrt(n))
    assert np.isinf(t[:3]).all() and (np.sign(t[:3]) == np.sign(s[:3])).all()
    np.testing.assert_allclose(t[3:], direct[3:], rtol=1e-9)
    ordered = t[np.argsort(s * np.abs(s) / q, kind="stable")]
    assert (ordered[1:] >= ordered[:-1]).all()


@pytest.mark.parametrize("n", [4, 10])
def test_bootstrap_ci_bootstrap_t_equals_interval_from_its_distribution(n):
    samples = np.random.default_rng(13).lognormal(size=(5, n))
    low, high = bootstrap_ci(samples, method="bootstrap-t", n_resamples=2_000, rngs=range(5))
    _, tstats = bootstrap_distribution(samples, n_resamples=2_000, rngs=range(5), studentized=True)
    low2, high2 = stats.bootstrap_t_interval(samples, tstats)
    assert low.tolist() == low2.tolist() and high.tolist() == high2.tolist()


@pytest.mark.parametrize("method", sorted(SCIPY_NAMES))
def test_bootstrap_ci_equals_interval_from_its_distribution(method):
    samples = np.random.default_rng(14).lognormal(size=(5, 10))
    low, high = bootstrap_ci(samples, method=method, n_resamples=2_000, rngs=range(5))
    theta_b, _ = bootstrap_distribution(samples, n_resamples=2_000, rngs=range(5))
    low2, high2 = interval_from_distribution(samples, theta_b, method=method)
    assert low.tolist() == low2.tolist() and high.tolist() == high2.tolist()


def test_bootstrap_t_agrees_with_explicit_resampling_within_monte_carlo_error():
    samples = np.random.default_rng(8).normal(size=(4, 15))
    low, high = bootstrap_ci(samples, method="bootstrap-t", n_resamples=20_000, rngs=range(4))
    se = samples.std(axis=1, ddof=1) / math.sqrt(15)
    for i, row in enumerate(samples):
        resamples = row[np.random.default_rng(50 + i).integers(0, 15, (20_000, 15))]
        t = (resamples.mean(axis=1) - row.mean()) / (resamples.std(axis=1, ddof=1) / math.sqrt(15))
        t_lo, t_hi = np.quantile(t, [0.025, 0.975])
        assert abs(low[i] - (row.mean() - t_hi * se[i])) < 0.2 * se[i]
        assert abs(high[i] - (row.mean() - t_lo * se[i])) < 0.2 * se[i]


def test_bootstrap_t_interval_from_given_statistics():
    samples = np.array([[1.0, 2.0, 4.0, 7.0]])
    tstats = np.linspace(-3.0, 2.0, 101)[None, :]
    low, high = stats.bootstrap_t_interval(samples, tstats, confidence=0.9)
    se = samples.std(ddof=1) / 2
    np.testing.assert_allclose([low[0], high[0]], [3.5 - np.quantile(tstats, 0.95) * se, 3.5 - np.quantile(tstats, 0.05) * se])


def test_student_t_ci_matches_scipy_t_interval():
    samples = np.random.default_rng(4).normal(size=(3, 7))
    low, high = student_t_ci(samples, confidence=0.9)
    for i, row in enumerate(samples):
        ref = sps.t.interval(0.9, 6, loc=row.mean(), scale=sps.sem(row))
        np.testing.assert_allclose([low[i], high[i]], ref, rtol=1e-12)


def test_bootstrap_ci_default_method_covers_near_nominal_at_n5():
    rng = np.random.default_rng(5)
    samples = rng.normal(size=(400, 5))
    low, high = bootstrap_ci(samples, n_resamples=500, rngs=range(400))
    coverage = np.mean((low <= 0) & (0 <= high))
    assert 0.91 <= coverage <= 0.985


def test_bootstrap_ci_rows_are_independent_of_other_rows():
    samples = np.random.default_rng(6).normal(size=(5, 6))
    for method in METHODS:
        low, high = bootstrap_ci(samples, method=method, n_resamples=500, rngs=range(5))
        low2, high2 = bootstrap_ci(samples[[3, 1]], method=method, n_resamples=500, rngs=[3, 1])
        assert low2.tolist() == low[[3, 1]].tolist() and high2.tolist() == high[[3, 1]].tolist()


def test_rows_with_equal_seeds_share_resample_indices():
    x = np.random.default_rng(8).normal(size=7)
    rows = np.stack([x, 2 * x + 1, x, np.exp(x)])
    shared, _ = bootstrap_distribution(rows, n_resamples=2_000, rngs=[5, 5, 6, 5])
    alone, _ = bootstrap_distribution(x[None, :], n_resamples=2_000, rngs=[5])
    # Row 0's draws do not depend on how many rows share them, nor where they sit.
    assert shared[0].tolist() == alone[0].tolist()
    # Same indices: a linear transform of the row moves every resample mean the same way.
    np.testing.assert_allclose(shared[1], 2 * shared[0] + 1, rtol=1e-12)
    # A different seed means different indices: the same values, other resamples.
    assert shared[2].tolist() != shared[0].tolist()
    # A row sharing a seed with non-adjacent rows still gets exactly its own draws.
    exp_means = bootstrap_distribution(np.exp(x)[None, :], n_resamples=2_000, rngs=[5])[0][0]
    assert shared[3].tolist() == exp_means.tolist()


def test_bootstrap_ci_rows_sharing_a_seed_match_their_own_ci():
    samples = np.random.default_rng(9).normal(size=(6, 8))
    for method in ("bootstrap-t", "bca", "percentile", "basic"):
        low, high = bootstrap_ci(samples, method=method, n_resamples=400, rngs=[1, 2, 1, 2, 1, 3])
        for row, key in enumerate([1, 2, 1, 2, 1, 3]):
            lo1, hi1 = bootstrap_ci(samples[[row]], method=method, n_resamples=400, rngs=[key])
            assert (lo1[0], hi1[0]) == (low[row], high[row]), (method, row)


def test_bootstrap_ci_group_spanning_several_chunks_draws_its_indices_once(monkeypatch):
    samples = np.random.default_rng(12).normal(size=(15, 6))
    seeds = [1] * 8 + [2] * 7
    monkeypatch.setattr(resampling, "rows_per_chunk", lambda n_resamples: 3)  # both groups span chunks
    for method in ("bootstrap-t", "percentile"):
        low, high = bootstrap_ci(samples, method=method, n_resamples=2_000, rngs=seeds)
        for row in (0, 7, 8, 14):
            lo1, hi1 = bootstrap_ci(samples[[row]], method=method, n_resamples=2_000, rngs=[seeds[row]])
            assert (lo1[0], hi1[0]) == (low[row], high[row])


def test_bootstrap_ci_shared_indices_make_intervals_equivariant():
    x = np.random.default_rng(10).lognormal(size=9)
    rows = np.stack([x, 3 * x - 2])
    for method in ("bootstrap-t", "percentile", "basic"):
        low, high = bootstrap_ci(rows, method=method, n_resamples=3_000, rngs=[4, 4])
        np.testing.assert_allclose([low[1], high[1]], [3 * low[0] - 2, 3 * high[0] - 2], rtol=1e-10)


def test_aggregate_resamples_seeds_jointly_at_each_axis_point():
    observations = _observations(seeds=8, methods=("base",))
    scaled = [dict(o, method="double", value=2 * o["value"]) for o in observations]
    result = _agg(observations + scaled, n_resamples=2_000)
    for cell in result["cells"]:
        if cell["method"] == "double":
            base = _cell(result, "base", **cell["axes"])
            np.testing.assert_allclose([cell["ci_low"], cell["ci_high"]], [2 * base["ci_low"], 2 * base["ci_high"]], rtol=1e-10)
    # The paired difference of double vs base is base itself, resampled on the same seeds.
    for row in result["paired"]:
        base = _cell(result, "base", **row["axes"])
        np.testing.assert_allclose([row["ci_low"], row["ci_high"]], [base["ci_low"], base["ci_high"]], rtol=1e-10)


def test_aggregate_a_cell_with_dropped_seeds_leaves_the_others_unchanged():
    observations = _observations(methods=("base", "mlp", "wide"))
    clean = _agg(observations, nan_policy="omit")
    broken = [dict(o, value=float("nan")) if (o["method"], o["seed"], o["axes"]["noise"]) == ("wide", 2, 0.2) else o for o in observations]
    after = _agg(broken, nan_policy="omit")
    for cell in clean["cells"]:
        if cell["method"] != "wide" or cell["axes"]["noise"] != 0.2:
            assert _cell(after, cell["method"], **cell["axes"]) == cell
    dropped = _cell(after, "wide", noise=0.2, epochs=10)
    assert dropped["n_dropped"] == 1 and dropped["seeds"] == [0, 1, 3, 4] and dropped["ci_low"] is not None


def test_aggregate_stream_axes_resample_each_replicate_jointly_across_other_axes():
    observations = _observations(seeds=6, methods=("base", "mlp"))
    # "flat" ignores epochs: the same score at every epochs value, as an axis-agnostic method has.
    flat = [dict(o, method="flat", value=o["value"] + 0.05) for o in observations if o["method"] == "base" and o["axes"]["epochs"] == 10]
    flat = [dict(o, axes={**o["axes"], "epochs": e}) for o in flat for e in (10, 40)]
    joint = _agg(observations + flat, stream_axes=["noise"], method="hybrid-t")
    per_cell = _agg(observations + flat, method="hybrid-t")
    for noise in (0.0, 0.2):
        cells = [_cell(joint, "flat", noise=noise, epochs=e) for e in (10, 40)]
        assert cells[0]["values"] == cells[1]["values"]
        assert (cells[0]["ci_low"], cells[0]["ci_high"]) == (cells[1]["ci_low"], cells[1]["ci_high"])
        apart = [_cell(per_cell, "flat", noise=noise, epochs=e) for e in (10, 40)]
        assert (apart[0]["ci_low"], apart[0]["ci_high"]) != (apart[1]["ci_low"], apart[1]["ci_high"])
    assert joint["settings"]["stream_axes"] == ["noise"] and per_cell["settings"]["stream_axes"] is None
    # Grouping more cells into one stream never changes the means.
    assert [c["mean"] for c in joint["cells"]] == [c["mean"] for c in per_cell["cells"]]


def test_aggregate_stream_axes_typo_names_the_axis():
    with pytest.raises(ValueError, match=r"stream_axes names 'nois'.*no observation has"):
        _agg(_observations(), stream_axes=["nois"])


def test_bootstrap_ci_unknown_method_lists_valid_ones():
    with pytest.raises(ValueError, match="bootstrap-t, bca, percentile, basic, student-t"):
        bootstrap_ci(np.ones((1, 3)), method="jackknife", rngs=[0])


def test_aggregate_same_seed_gives_bit_identical_output():
    observations = _observations()
    first, second = _agg(observations), _agg(observations)
    assert json.dumps(first) == json.dumps(second)


def test_aggregate_ignores_global_random_state():
    observations = _observations()
    np.random.seed(1)
    random.seed(1)
    first = _agg(observations)
    np.random.seed(2)
    random.seed(2)
    assert _agg(observations) == first


def test_aggregate_shuffled_observations_give_identical_output():
    observations = _observations()
    shuffled = list(observations)
    random.Random(3).shuffle(shuffled)
    for method in METHODS:
        assert json.dumps(_agg(shuffled, method=method)) == json.dumps(_agg(observations, method=method))


def test_aggregate_added_cell_leaves_other_cells_unchanged():
    observations = _observations()
    before = _agg(observations)
    extra = [{"axes": {"noise": 0.4, "epochs": 10}, "method": m, "seed": s, "value": 0.5 + 0.01 * s} for m in ("base", "mlp") for s in range(5)]
    odd = [{"axes": {"noise": 0.6, "epochs": 10}, "method": m, "seed": s, "value": 0.4 + 0.02 * s} for m in ("base", "mlp") for s in range(3)]
    after = _agg(extra + observations + odd)
    for cell in before["cells"]:
        assert _cell(after, cell["method"], **cell["axes"]) == cell
    # A row's own statistics stay; its family-wise p-value and verdict belong to the larger family.
    family_wise = ("p_adjusted", "verdict")
    strip = lambda row: {k: v for k, v in row.items() if k not in family_wise}  # noqa: E731
    after_rows = [strip(row) for row in after["paired"]]
    for row in before["paired"]:
        assert strip(row) in after_rows


def test_aggregate_different_seed_changes_intervals_but_not_means():
    observations = _observations()
    a, b = _agg(observations, seed=0, method="bca"), _agg(observations, seed=1, method="bca")
    assert [c["mean"] for c in a["cells"]] == [c["mean"] for c in b["cells"]]
    assert [c["ci_low"] for c in a["cells"]] != [c["ci_low"] for c in b["cells"]]


def test_aggregate_cells_and_paired_rows_in_canonical_order():
    observations = _observations(noises=(0.2, 0.0, 1), epochs=(40, 10))
    result = _agg(observations)
    keys = [(c["axes"]["epochs"], c["axes"]["noise"], c["method"]) for c in result["cells"]]
    assert keys == sorted(keys)
    assert [c["axes"]["noise"] for c in result["cells"][:2]] == [0.0, 0.0]
    assert [(p["axes"]["epochs"], p["axes"]["noise"]) for p in result["paired"]] == sorted(
        (p["axes"]["epochs"], p["axes"]["noise"]) for p in result["paired"]
    )


def test_aggregate_mixed_axis_value_types_sort_without_error():
    observations = [
        {"axes": {"x": value}, "method": m, "seed": s, "value": float(s)}
        for value in ("b", 2, None, True, 1.5)
        for m in ("base", "mlp")
        for s in range(2)
    ]
    result = _agg(observations)
    assert [c["axes"]["x"] for c in result["cells"][::2]] == [None, True, 1.5, 2, "b"]


def test_aggregate_values_in_seed_order_with_paired_diffs():
    observations = [
        {"axes": {}, "method": "base", "seed": 2, "value": 0.3},
        {"axes": {}, "method": "mlp", "seed": 0, "value": 0.5},
        {"axes": {}, "method": "base", "seed": 0, "value": 0.1},
        {"axes": {}, "method": "mlp", "seed": 1, "value": 0.6},
        {"axes": {}, "method": "base", "seed": 1, "value": 0.2},
    ]
    result = _agg(observations)
    base = _cell(result, "base")
    assert base["seeds"] == [0, 1, 2] and base["values"] == [0.1, 0.2, 0.3]
    (row,) = result["paired"]
    assert row["seeds"] == [0, 1] and row["diffs"] == pytest.approx([0.4, 0.4])
    assert row["mean_diff"] == pytest.approx(0.4) and row["n"] == 2


def test_aggregate_p_improve_and_verdict_follow_metric_direction():
    observations = [
        {"axes": {}, "method": m, "seed": s, "value": v}
        for s in range(8)
        for m, v in (("base", 1.0 + 0.1 * s), ("mlp", 1.5 + 0.1 * s + 0.05 * (s % 3)))
    ]
    up = _agg(observations, higher_is_better=True)["paired"][0]
    down = _agg(observations, higher_is_better=False)["paired"][0]
    assert up["p_improve"] == 1.0 and up["verdict"] == "better"
    assert down["p_improve"] == 0.0 and down["verdict"] == "worse"
    assert up["mean_diff"] == down["mean_diff"] > 0


def test_aggregate_single_seed_has_no_interval_and_says_so():
    observations = [{"axes": {"noise": 0.1}, "method": m, "seed": 0, "value": v} for m, v in (("base", 0.5), ("mlp", 0.7))]
    result = _agg(observations)
    cell = _cell(result, "mlp", noise=0.1)
    assert cell["n"] == 1 and cell["mean"] == 0.7
    assert cell["ci_low"] is None and cell["ci_high"] is None and cell["std"] is None
    assert "single seed" in cell["note"]
    row = result["paired"][0]
    assert row["ci_low"] is None and row["verdict"] is None and "single seed" in row["note"]


def test_aggregate_bootstrap_t_at_three_seeds_gives_no_interval_with_advice():
    observations = [{"axes": {}, "method": m, "seed": s, "value": v * (s + 1)} for m, v in (("base", 0.1), ("mlp", 0.2)) for s in range(3)]
    cell = _cell(_agg(observations, method="bootstrap-t"), "mlp")
    assert cell["ci_low"] is None and "student-t" in cell["note"]
    assert _cell(_agg(observations), "mlp")["ci_low"] is not None
    assert _cell(_agg(observations, method="student-t"), "mlp")["ci_low"] is not None


@pytest.mark.parametrize("method", METHODS)
def test_aggregate_all_equal_values_get_no_zero_width_interval_without_warnings(method):
    observations = [{"axes": {}, "method": m, "seed": s, "value": 0.1} for m in ("base", "mlp") for s in range(3)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = _agg(observations, method=method)
    cell = _cell(result, "mlp")
    assert cell["mean"] == 0.1 and cell["std"] == 0.0 and cell["ci_low"] is None and cell["ci_high"] is None
    assert "all 3 values equal" in cell["note"]
    row = result["paired"][0]
    assert row["mean_diff"] == 0.0 and row["ci_low"] is None and row["p_value"] == row["p_signflip"] == 1.0
    assert row["verdict"] == row["verdict_per_row"] == "inconclusive" and row["p_improve"] == 0.5


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n, expected_p", [(3, 0.25), (6, 2 / 64)])
def test_aggregate_equal_nonzero_differences_get_the_exact_sign_flip_p_not_certainty(method, n, expected_p):
    observations = [{"axes": {"x": x}, "method": m, "seed": s, "value": 0.8 + (0.005 if m == "mlp" else 0.0) + 0.01 * s}
                    for x in range(4) for m in ("base", "mlp") for s in range(n)]
    result = _agg(observations, method=method)
    for row in result["paired"]:
        assert row["ci_low"] is None and row["p_value"] == row["p_signflip"] == pytest.approx(expected_p)
        assert row["verdict"] == "inconclusive"  # 2/2**n, then Holm over 4 rows
    assert result["settings"]["family_size"] == 4


def test_aggregate_a_declared_resolution_gives_ties_a_student_t_interval():
    observations = [{"axes": {}, "method": m, "seed": s, "value": 0.8 + (0.005 if m == "mlp" else 0.0)} for m in ("base", "mlp") for s in range(3)]
    result = _agg(observations, method="student-t", resolution=0.005)
    (row,) = result["paired"]
    se = math.sqrt(0.005**2 / 12 / 3)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.005 - sps.t.ppf(0.975, 2) * se, 0.005 + sps.t.ppf(0.975, 2) * se))
    # A tied row says no more than the exact sign-flip test (0.25 at 3 seeds), whatever the floor's t test says (0.027).
    assert 2 * sps.t.sf(0.005 / se, 2) < 0.05
    assert row["p_value"] == row["p_signflip"] == 0.25 and row["verdict"] == row["verdict_per_row"] == "inconclusive"
    assert "sign-flip" in row["note"]
    cell = _cell(result, "mlp")
    assert cell["ci_low"] < cell["mean"] < cell["ci_high"] and "all 3 values equal" in cell["note"]


def _tied(n, step, resolution=None, methods=("base", "mlp")):
    """One cell, every method constant over ``n`` seeds, ``mlp`` ``step`` above ``base``; observations declare ``resolution``."""
    extra = {} if resolution is None else {"resolution": resolution}
    return [{"axes": {}, "method": m, "seed": s, "value": 0.8 + (step if m == "mlp" else 0.0), **extra} for m in methods for s in range(n)]


@pytest.mark.parametrize("method", METHODS)
def test_aggregate_a_metric_declared_resolution_gives_tied_cells_and_rows_a_floor_interval(method):
    result = _agg(_tied(6, 0.005, resolution=0.005), method=method, multiplicity="none")
    se = math.sqrt(0.005**2 / 12 / 6)
    half = sps.t.ppf(0.975, 5) * se
    cell = _cell(result, "mlp")
    assert (cell["ci_low"], cell["ci_high"]) == pytest.approx((0.805 - half, 0.805 + half))
    assert "all 6 values equal" in cell["note"] and "resolution 0.005" in cell["note"]
    (row,) = result["paired"]
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.005 - half, 0.005 + half))
    # p: the larger of the floor's t test (tiny) and the exact sign-flip test (2/2^6).
    assert row["p_value"] == pytest.approx(max(2 * sps.t.sf(0.005 / se, 5), 2 / 64)) == row["p_signflip"]
    assert row["verdict"] == "better"
    # Without a declared resolution the same ties get no interval at all.
    bare = _agg(_tied(6, 0.005), method=method, multiplicity="none")
    assert _cell(bare, "mlp")["ci_low"] is None and bare["paired"][0]["ci_low"] is None


def test_aggregate_a_difference_takes_the_coarser_resolution_of_its_two_sides():
    observations = _tied(4, 0.0)
    for o in observations:
        o["resolution"] = 0.01 if o["method"] == "base" else 0.001
    result = _agg(observations)
    (row,) = result["paired"]
    half = sps.t.ppf(0.975, 3) * math.sqrt(0.01**2 / 12 / 4)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((-half, half)) and row["p_value"] == 1.0
    half_mlp = sps.t.ppf(0.975, 3) * math.sqrt(0.001**2 / 12 / 4)
    assert _cell(result, "mlp")["ci_high"] == pytest.approx(0.8 + half_mlp)


@pytest.mark.parametrize("method", METHODS)
def test_aggregate_a_metric_declared_resolution_moves_no_row_with_a_spread(method):
    observations = _observations()
    declared = [{**o, "resolution": 0.005} for o in observations]
    assert _agg(declared, method=method) == _agg(observations, method=method)


@pytest.mark.parametrize("bad", [0, -0.1, float("inf"), float("nan"), "0.005", True])
def test_aggregate_refuses_a_bad_observation_resolution_naming_the_observation(bad):
    observations = _tied(3, 0.005)
    observations[4]["resolution"] = bad
    with pytest.raises(ValueError, match=r"observation 4: 'resolution' must be a positive number"):
        _agg(observations)


def test_aggregate_nan_value_raises_naming_cell_and_seed():
    observations = _observations()
    observations[7]["value"] = float("nan")
    with pytest.raises(ValueError, match=r"noise=0\.0.*method='mlp'.*seed 2"):
        _agg(observations)


def test_aggregate_nan_policy_omit_drops_and_counts():
    observations = _observations()
    observations[7]["value"] = float("inf")
    cell = _cell(_agg(observations, nan_policy="omit"), "mlp", noise=0.0, epochs=10)
    assert cell["n"] == 4 and cell["n_dropped"] == 1 and 2 not in cell["seeds"]


def test_aggregate_missing_baseline_raises_naming_it():
    with pytest.raises(ValueError, match="baseline method 'logreg'.*'base', 'mlp'"):
        aggregate(_observations(), baseline="logreg")


def test_aggregate_baseline_absent_from_one_cell_raises_naming_cell():
    observations = [o for o in _observations() if not (o["method"] == "base" and o["axes"]["noise"] == 0.2)]
    with pytest.raises(ValueError, match=r"baseline 'base' has no observations in cell \(epochs=10, noise=0\.2"):
        _agg(observations)


@pytest.mark.parametrize(
    "settings, start",
    [
        ({"methd": "bca"}, "methd: unknown setting; did you mean method?; known: confidence, contrasts, cv_interval, method, multiplicity, n_resamples, nan_policy, resolution, seed"),
        ({"method": 3}, "method: unknown statistics method 3"),
        ({"confidence": 95}, "confidence: confidence must be strictly between 0 and 1 (0.95 for 95%)"),
        ({"confidence": True}, "confidence: "),
        ({"n_resamples": 2.5}, "n_resamples: n_resamples must be a positive integer"),
        ({"n_resamples": float("nan")}, "n_resamples: "),
        ({"seed": -1}, "seed: seed must be a non-negative integer"),
        ({"nan_policy": "ignore"}, "nan_policy: unknown nan_policy 'ignore'"),
    ],
)
def test_check_settings_names_the_first_bad_key(settings, start):
    with pytest.raises(ValueError) as info:
        stats.check_settings({"method": "default", "confidence": 0.9, **settings})
    assert str(info.value).startswith(start) and "\n" not in str(info.value)


def test_aggregate_checks_settings_as_the_config_does():
    stats.check_settings({"method": "bca", "confidence": 0.9, "n_resamples": 2000, "nan_policy": "omit", "seed": 3})
    with pytest.raises(ValueError, match="nan_policy 'ignore'"):
        _agg(_observations(), nan_policy="ignore")
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        _agg(_observations(), seed=-2)


def test_replicate_seed_reproduces_aggregate_intervals_on_arrays():
    observations = _observations(seeds=6, noises=(0.2,), epochs=(10,), methods=("base", "mlp"))
    result = _agg(observations, n_resamples=500)
    rows = [c["values"] for c in result["cells"]] + [p["diffs"] for p in result["paired"]]
    key = stats.replicate_seed(0, {"noise": 0.2, "epochs": 10}, range(6))
    low, high = bootstrap_ci(np.array(rows), n_resamples=500, rngs=[key] * len(rows))
    expected = [(c["ci_low"], c["ci_high"]) for c in result["cells"] + result["paired"]]
    assert list(zip(low.tolist(), high.tolist())) == expected


def test_aggregate_unknown_method_lists_valid_ones():
    with pytest.raises(ValueError, match="valid: hybrid-t, bootstrap-t, bca, percentile, basic, student-t"):
        _agg(_observations(), method="bootstrap")


def test_aggregate_default_alias_uses_default_method():
    assert _agg(_observations(), method="default")["settings"]["method"] == stats.DEFAULT_METHOD


def test_aggregate_duplicate_seed_raises():
    observations = _observations()
    observations.append(dict(observations[0]))
    with pytest.raises(ValueError, match="two observations for seed 0"):
        _agg(observations)


def test_aggregate_output_is_plain_json_types():
    observations = [
        {"axes": {"noise": np.float64(0.2), "epochs": np.int64(10)}, "method": m, "seed": np.int64(s), "value": np.float32(0.5 + 0.1 * s * k)}
        for k, m in enumerate(("base", "mlp"), start=1)
        for s in range(4)
    ]
    result = _agg(observations)

    def check(value):
        if isinstance(value, dict):
            for k, v in value.items():
                assert type(k) is str
                check(v)
        elif isinstance(value, list):
            for v in value:
                check(v)
        else:
            assert value is None or type(value) in (bool, int, float, str), (value, type(value))

    check(result)
    assert json.loads(json.dumps(result)) == result
    assert set(result["settings"]) >= {"method", "confidence", "n_resamples", "seed", "higher_is_better"}


def test_stats_all_lists_existing_public_names():
    assert sorted(stats.__all__) == sorted(set(stats.__all__))
    for name in stats.__all__:
        assert hasattr(stats, name)


def test_bootstrap_ci_tiny_resample_counts_stay_quiet():
    samples = np.random.default_rng(9).lognormal(size=(30, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for method in METHODS:
            low, high = bootstrap_ci(samples, method=method, n_resamples=1, rngs=range(30))
            assert low.shape == high.shape == (30,)


@pytest.mark.parametrize("rows_per_chunk", [1, 2, 1000])
def test_aggregate_numbers_do_not_depend_on_where_rows_are_chunked(monkeypatch, rows_per_chunk):
    observations = [
        {"axes": {"a": a}, "method": m, "seed": s, "value": 0.5 + 0.01 * ((7 * s + 3 * a + len(m)) % 11)}
        for a in range(4) for m in ("base", "mlp") for s in range(6)
    ]
    expected = aggregate(observations, baseline="base", n_resamples=500, method="hybrid-t")
    calls = []
    monkeypatch.setattr(resampling, "rows_per_chunk", lambda n_resamples: calls.append(n_resamples) or rows_per_chunk)
    assert aggregate(observations, baseline="base", n_resamples=500, method="hybrid-t") == expected
    assert calls  # the engine asked the patched function
