"""What the default statistics deliver: family-wise error, coverage, power, p/interval agreement, the planner's promise.

Run ``uv run python benchmarks/verdicts.py`` (about 5 minutes on one core;
``--quick`` for a smoke run, ``--reps N`` to scale). Every number is printed
with its Monte Carlo standard error (``±``). Sections:

1. Family-wise error on null tables: the reference design (3 data points x 3
   training values, a baseline and two methods: 18 paired rows), every method
   equal in distribution, a branch effect shared by every method measured on
   it; a continuous metric (normal) and a discrete one (accuracy on 200 test
   examples, which declares its resolution 1/200); n = 3, 5, 10 seeds. A table
   errs when any row's verdict is better/worse. Target <= 5%. ``aggregate``
   runs ``--reps`` tables; a vectorized replica of the verdict rule (Student-t
   p, the sign-flip rule for tied rows, Holm) must agree with it on every one
   of them, and then measures 250x as many tables, so the family-wise error is
   known to about 0.1 point.
2. Coverage of the default interval for the mean at n = 3, 5, 10: normal,
   lognormal, t3, beta near 1 (Beta(20, 0.5)) and a two-cluster mixture, with
   the misses below and above the interval (nominal 2.5% each side).
   2b: the studentized bootstrap (``bootstrap-t``) and BCa on the skewed
   shapes, with their widths relative to Student-t's.
3. Power for one 1-SD effect in one row of the reference design, with Holm and
   with max-T, n = 5 and 10.
4. p/interval disagreements on random tables for every interval method: rows
   whose interval excludes 0 while p >= 1 - confidence, or the reverse. Target 0.
5. The seeds planner: for a grid of effects and family sizes, the seeds it
   promises 80% power with, and the power simulated with the verdict actually
   used (Student-t, Holm over the family). Target: never below the promise by
   more than Monte Carlo error. 5b: plans from simulated pilots of 3, 5, 10
   seeds, at the pilot's sd and with 80% assurance (at its upper confidence
   bound): the share of pilots whose plan reaches the power (target for
   assurance >= 80%) and the power simulated at the planned seeds.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy import special

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.outputs.seeds import _sigma_upper, power, seeds_for_effect  # noqa: E402
from components.stats import METHODS, aggregate, bootstrap_ci, student_t_ci  # noqa: E402

POINTS, TRAINING, METHODS_IN_TABLE = (0.0, 0.2, 0.4), (10, 40, 120), ("base", "a", "b")
#: The discrete metric: accuracy on this many test examples (resolution 1/200).
TEST_EXAMPLES = 200


def _se(p: float, reps: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-12) / reps)


def _values(rng: np.random.Generator, reps: int, n: int, discrete: bool, effect_row: tuple[int, int, str] | None = None, effect: float = 0.0) -> np.ndarray:
    """``reps`` reference-design tables, shape ``(reps, point, seed, training, method)``.

    A branch (point x seed) effect is shared by every method and training value
    measured on it; the discrete metric is accuracy on ``TEST_EXAMPLES`` examples.
    """
    branch = rng.normal(0, 0.02, (reps, len(POINTS), n, 1, 1))
    shift = np.zeros((1, len(POINTS), 1, len(TRAINING), len(METHODS_IN_TABLE)))
    if effect_row is not None:
        shift[0, effect_row[0], 0, effect_row[1], METHODS_IN_TABLE.index(effect_row[2])] = effect
    shape = (reps, len(POINTS), n, len(TRAINING), len(METHODS_IN_TABLE))
    if discrete:
        return rng.binomial(TEST_EXAMPLES, np.minimum(0.999, 0.85 + branch + shift) * np.ones(shape)) / TEST_EXAMPLES
    return 0.85 + branch + shift + rng.normal(0, 0.02, shape)


def _observations(table: np.ndarray, discrete: bool) -> list[dict]:
    """One table of :func:`_values` as ``aggregate``'s observations (the discrete metric declares its resolution)."""
    extra = {"resolution": 1 / TEST_EXAMPLES} if discrete else {}
    return [
        {"axes": {"noise": point, "epochs": epochs}, "method": method, "seed": seed, "value": float(table[p, seed, t, m]), **extra}
        for p, point in enumerate(POINTS) for seed in range(table.shape[1])
        for t, epochs in enumerate(TRAINING) for m, method in enumerate(METHODS_IN_TABLE)
    ]


def _table(rng: np.random.Generator, n: int, discrete: bool, effect_row: tuple[int, int, str] | None = None, effect: float = 0.0) -> list[dict]:
    """One reference-design table of observations."""
    return _observations(_values(rng, 1, n, discrete, effect_row, effect)[0], discrete)


def _replica_p(values: np.ndarray, discrete: bool) -> np.ndarray:
    """The default verdict's raw p of every row, vectorized: shape ``(reps, 18)``.

    Student-t's two-sided p; a row of equal differences gets the exact
    sign-flip p (``2/2^n``, 1 at 0), or with a declared resolution ``r`` the
    larger of that and the t test with variance ``r^2/12`` (the engine's rule).
    """
    diffs = values[..., 1:] - values[..., :1]  # (reps, point, seed, training, method)
    diffs = np.moveaxis(diffs, 2, -1).reshape(values.shape[0], -1, values.shape[2])
    n = diffs.shape[-1]
    mean, sd = diffs.mean(axis=-1), diffs.std(axis=-1, ddof=1)
    flat = diffs.max(axis=-1) == diffs.min(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * special.stdtr(n - 1, -np.abs(mean / (sd / math.sqrt(n))))
        flip = np.where(mean == 0, 1.0, 2.0 / 2**n)
        if discrete:
            floored = 2 * special.stdtr(n - 1, -np.abs(mean / math.sqrt((1 / TEST_EXAMPLES) ** 2 / 12 / n)))
            flip = np.maximum(flip, floored)
    return np.where(flat, flip, p)


def family_wise_error(reps: int, replica_reps: int) -> None:
    print("1. Family-wise error on null tables (18 rows, Holm; target <= 5%)")
    print(f"   aggregate on {reps} tables per setting; its verdicts re-derived by a vectorized replica of the rule")
    print(f"   (Student-t p, sign-flip for tied rows, Holm), which then runs {replica_reps} further tables")
    print(f"   {'metric':<10} {'n':>3}  {'aggregate FWER':>14}  {'replica disagrees':>17}  {'replica FWER':>14}")
    for discrete in (False, True):
        for n in (3, 5, 10):
            rng = np.random.default_rng(1000 + n + 100 * discrete)
            values = _values(rng, reps, n, discrete)
            replica = (_replica_p(values, discrete).min(axis=1) * 18 < 0.05)
            errors = disagree = 0
            for table, expected in zip(values, replica):
                out = aggregate(_observations(table, discrete), baseline="base", stream_axes=["noise"], bounds=(0.0, 1.0))
                erred = any(r["verdict"] in ("better", "worse") for r in out["paired"])
                errors += erred
                disagree += erred != bool(expected)
            hits = 0
            for start in range(0, replica_reps, 20_000):
                chunk = _values(rng, min(20_000, replica_reps - start), n, discrete)
                hits += int(np.count_nonzero(_replica_p(chunk, discrete).min(axis=1) * 18 < 0.05))
            fwer, tight = errors / reps, hits / replica_reps
            print(
                f"   {'discrete' if discrete else 'continuous':<10} {n:>3}  {100 * fwer:5.1f} ± {100 * _se(fwer, reps):3.1f} %"
                f"  {disagree:>10} of {reps:<4}  {100 * tight:5.2f} ± {100 * _se(tight, replica_reps):4.2f} %"
            )


def _draw(rng: np.random.Generator, name: str, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Samples and the true mean of distribution ``name``."""
    if name == "normal":
        return rng.normal(0, 1, size), 0.0
    if name == "lognormal":
        return rng.lognormal(0, 1, size), math.exp(0.5)
    if name == "t3":
        return rng.standard_t(3, size), 0.0
    if name == "beta near 1":
        return rng.beta(20, 0.5, size), 20 / 20.5
    clusters = rng.random(size) < 0.3
    return np.where(clusters, rng.normal(1.0, 0.05, size), rng.normal(0.0, 0.05, size)), 0.3


def coverage(reps: int) -> None:
    print("\n2. Coverage of the default 95% interval for the mean (one-sided misses, nominal 2.5% each)")
    print(f"   {'data':<12} {'n':>3}  {'coverage':>14}  {'CI above truth':>14}  {'CI below truth':>14}")
    for name in ("normal", "lognormal", "t3", "beta near 1", "two-cluster"):
        for n in (3, 5, 10):
            rng = np.random.default_rng(7 + n)
            samples, truth = _draw(rng, name, (reps, n))
            low, high = bootstrap_ci(samples, method="default", n_resamples=2000, rngs=list(range(reps)))
            defined = np.isfinite(low) & np.isfinite(high)
            covered = float(np.mean((low <= truth) & (truth <= high) & defined))
            below, above = float(np.mean(high < truth)), float(np.mean(low > truth))
            print(f"   {name:<12} {n:>3}  {100 * covered:6.1f} ± {100 * _se(covered, reps):4.1f} %  {100 * above:13.1f}%  {100 * below:13.1f}%")


def coverage_alternatives(reps: int) -> None:
    print("\n2b. The studentized bootstrap and BCa on the skewed shapes (same draws and layout as section 2)")
    print(f"   {'data':<12} {'method':<12} {'n':>3}  {'coverage':>14}  {'CI above truth':>14}  {'CI below truth':>14}  {'width / Student-t: median, 99th pct':>36}")
    for name in ("lognormal", "beta near 1", "two-cluster"):
        for method in ("bootstrap-t", "bca"):
            for n in (5, 10):
                rng = np.random.default_rng(7 + n)
                samples, truth = _draw(rng, name, (reps, n))
                low, high = bootstrap_ci(samples, method=method, n_resamples=2000, rngs=list(range(reps)))
                defined = np.isfinite(low) & np.isfinite(high)
                covered = float(np.mean((low <= truth) & (truth <= high) & defined))
                below, above = float(np.mean(high < truth)), float(np.mean(low > truth))
                t_low, t_high = student_t_ci(samples)
                with np.errstate(invalid="ignore", divide="ignore"):
                    ratio = np.where(defined, (high - low) / (t_high - t_low), np.inf)
                print(
                    f"   {name:<12} {method:<12} {n:>3}  {100 * covered:6.1f} ± {100 * _se(covered, reps):4.1f} %  {100 * above:13.1f}%  {100 * below:13.1f}%"
                    f"  {np.median(ratio):17.2f} {np.quantile(ratio, 0.99):18.2f}"
                )


def power_vs_holm(reps: int) -> None:
    print("\n3. Power for one 1-SD effect in one row of 18 (reference design, continuous metric)")
    print(f"   {'n':>3}  {'holm':>14}  {'maxT':>14}")
    for n in (5, 10):
        found = {"holm": 0, "maxt": 0}
        rng = np.random.default_rng(50 + n)
        for _ in range(reps):
            # The row's differences have sd 0.02 * sqrt(2) (its own noise and the baseline's): one SD of them.
            table = _table(rng, n, False, effect_row=(1, 1, "a"), effect=0.02 * math.sqrt(2))
            for correction in found:
                out = aggregate(table, baseline="base", stream_axes=["noise"], bounds=(0.0, 1.0), multiplicity=correction, n_resamples=2000)
                row = next(r for r in out["paired"] if r["method"] == "a" and r["axes"] == {"noise": 0.2, "epochs": 40})
                found[correction] += row["verdict"] == "better"
        holm, maxt = found["holm"] / reps, found["maxt"] / reps
        print(f"   {n:>3}  {100 * holm:6.1f} ± {100 * _se(holm, reps):4.1f} %  {100 * maxt:6.1f} ± {100 * _se(maxt, reps):4.1f} %")


def disagreements(reps: int) -> None:
    print("\n4. p/interval disagreements on random tables (target 0)")
    for method in METHODS:
        rng = np.random.default_rng(3)
        rows = bad = 0
        for _ in range(reps):
            n = int(rng.integers(3, 11))
            table = [
                {"axes": {"x": x}, "method": m, "seed": s, "value": float(rng.normal(0.5 if m == "base" else 0.5 + rng.normal(0, 0.01), 0.02))}
                for x in range(3) for m in ("base", "a", "b") for s in range(n)
            ]
            out = aggregate(table, baseline="base", method=method, n_resamples=1000, multiplicity="none")
            for row in out["paired"]:
                if row["ci_low"] is None or row["p_value"] is None:
                    continue
                rows += 1
                excludes = row["ci_low"] > 0 or row["ci_high"] < 0
                bad += excludes != (row["p_value"] < 0.05)
        print(f"   {method:<12} {bad} of {rows} rows")


def _holm_detects(rng: np.random.Generator, reps: int, m: int, n: int, effect: float) -> np.ndarray:
    """Whether row 0 (true mean ``effect``, the others 0; sd 1) is declared better by Student-t + Holm over ``m`` rows."""
    from scipy import stats

    diffs = rng.normal(0, 1, (reps, m, n))
    diffs[:, 0, :] += effect
    t = diffs.mean(axis=2) / (diffs.std(axis=2, ddof=1) / math.sqrt(n))
    p = 2 * stats.t.sf(np.abs(t), n - 1)
    # Holm: row 0 is rejected iff every p up to its rank passes its step's level.
    order = np.sort(p, axis=1)
    levels = 0.05 / (m - np.arange(m))
    passing = np.cumprod(order <= levels, axis=1).sum(axis=1)
    rank = (p < p[:, :1]).sum(axis=1)
    detected: np.ndarray = (rank < passing) & (t[:, 0] > 0)
    return detected


def planner(reps: int) -> None:
    print("\n5. Seeds planner: promised 80% power vs simulated power of the verdict used (Student-t, Holm over m rows)")
    print(f"   {'effect/sd':>9} {'m':>3} {'seeds':>6} {'promised':>9}  {'simulated':>14}")
    for m in (1, 18):
        for effect in (0.5, 1.0, 2.0, 3.0):
            alpha_row = 0.05 / m
            n = seeds_for_effect(1.0, effect, 0.8, alpha_row)
            promised = power(effect, 1.0, n, alpha_row)
            simulated = float(np.mean(_holm_detects(np.random.default_rng(int(100 * effect) + m), reps, m, n, effect)))
            print(f"   {effect:>9g} {m:>3} {n:>6} {100 * promised:8.1f}%  {100 * simulated:6.1f} ± {100 * _se(simulated, reps):4.1f} %")


def assurance(pilots: int) -> None:
    print("\n5b. Planning from a pilot: plans at the pilot's sd ('plug-in') and at its 80% upper confidence bound")
    print("    ('80% assurance', Browne 1995), for pilots of n_p seeds from sd 1. 'reach' is the share of pilots whose")
    print("    planned seeds give >= 80% power at the true sd (target for assurance: >= 80%); 'simulated' is the power")
    print("    of the verdict used (Student-t, Holm over m rows), one simulated study per pilot at its planned seeds.")
    print(f"    {'n_p':>3} {'effect/sd':>9} {'m':>3}  {'plug-in reach':>14} {'simulated':>14} {'seeds':>6}  {'assured reach':>14} {'simulated':>14} {'seeds':>6}")
    for n_pilot in (3, 5, 10):
        for effect, m in ((1.0, 1), (1.0, 18), (2.0, 18)):
            rng = np.random.default_rng(10 * n_pilot + m)
            alpha_row = 0.05 / m
            sds = rng.normal(0, 1, (pilots, n_pilot)).std(axis=1, ddof=1)
            cells = []
            for sigma in (sds, np.array([_sigma_upper(s, n_pilot, 0.8) for s in sds])):
                plans = np.array([seeds_for_effect(s, effect, 0.8, alpha_row) for s in sigma])
                reach = float(np.mean([power(effect, 1.0, int(n), alpha_row) >= 0.8 for n in plans]))
                detected = np.concatenate([_holm_detects(rng, int(np.sum(plans == n)), m, int(n), effect) for n in np.unique(plans)])
                simulated = float(np.mean(detected))
                cells.append(f"{100 * reach:5.1f} ± {100 * _se(reach, pilots):4.1f} % {100 * simulated:5.1f} ± {100 * _se(simulated, pilots):4.1f} % {int(np.median(plans)):>6}")
            print(f"    {n_pilot:>3} {effect:>9g} {m:>3}  {cells[0]}  {cells[1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=400, help="null / power tables per setting (default 400)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 40 tables per setting")
    args = parser.parse_args()
    reps = 40 if args.quick else args.reps
    start = time.perf_counter()
    family_wise_error(reps, 250 * reps)
    coverage(20 * reps)
    coverage_alternatives(5 * reps)
    power_vs_holm(reps // 2)
    disagreements(reps // 8)
    planner(50 * reps)
    assurance(reps)
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
