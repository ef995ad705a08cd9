"""Empirical coverage of the interval methods in ``components.stats`` at small n.

For every metric shape (normal, lognormal, beta) and sample size n, draw
``--trials`` independent samples of n "seeds", compute each method's interval of
the mean and count how often it contains the true mean. All bootstrap methods of
one trial share the same resamples. Prints a Markdown table (the one in
docs/statistics.md) of coverage and of median interval width relative to
Student-t.

    uv run python benchmarks/coverage.py                 # 10,000 trials, as in the docs
    uv run python benchmarks/coverage.py --trials 2000   # quicker look
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.seeding import derive_seed  # noqa: E402
from components.stats import (  # noqa: E402
    METHODS,
    bootstrap_distribution,
    bootstrap_t_interval,
    interval_from_distribution,
    student_t_ci,
)

#: name -> (sampler(rng, shape), true mean)
SHAPES = {
    "normal(0,1)": (lambda rng, shape: rng.normal(0.0, 1.0, shape), 0.0),
    "lognormal(0,1)": (lambda rng, shape: rng.lognormal(0.0, 1.0, shape), math.exp(0.5)),
    "beta(18,2)": (lambda rng, shape: rng.beta(18.0, 2.0, shape), 0.9),
}


def intervals(samples: np.ndarray, rngs: list, n_resamples: int, confidence: float) -> dict[str, tuple]:
    """Every method's ``(low, high)`` for ``samples`` of shape ``(trials, n)``, bootstraps sharing resamples."""
    means, tstats = bootstrap_distribution(samples, n_resamples=n_resamples, rngs=rngs, studentized=True)
    out = {m: interval_from_distribution(samples, means, method=m, confidence=confidence) for m in ("percentile", "basic", "bca")}
    out["bootstrap-t"] = bootstrap_t_interval(samples, tstats, confidence=confidence)
    out["student-t"] = student_t_ci(samples, confidence=confidence)
    return out


def study(shape: str, n: int, *, trials: int, n_resamples: int, confidence: float, seed: int, chunk: int = 500):
    """Coverage fraction and median width per method for one metric shape and sample size."""
    sampler, truth = SHAPES[shape]
    data_rng = np.random.default_rng(derive_seed("coverage", "data", seed, shape, n))
    streams = np.random.SeedSequence(derive_seed("coverage", "resample", seed, shape, n)).spawn(trials)
    hits = {m: 0 for m in METHODS}
    widths: dict[str, list] = {m: [] for m in METHODS}
    for start in range(0, trials, chunk):
        rows = min(chunk, trials - start)
        samples = sampler(data_rng, (rows, n))
        rngs = [np.random.default_rng(s) for s in streams[start : start + rows]]
        for method, (low, high) in intervals(samples, rngs, n_resamples, confidence).items():
            hits[method] += int(np.count_nonzero((low <= truth) & (truth <= high)))
            widths[method].append(high - low)
    coverage = {m: hits[m] / trials for m in METHODS}
    width = {m: float(np.median(np.concatenate(widths[m]))) for m in METHODS}
    return coverage, width


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10_000, help="simulated experiments per cell (default 10000)")
    parser.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples per interval (default 10000)")
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--n", type=int, nargs="+", default=[5, 10, 20], help="sample sizes (seeds per cell)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    columns = [(shape, n) for shape in SHAPES for n in args.n]
    results = {
        column: study(
            *column, trials=args.trials, n_resamples=args.resamples, confidence=args.confidence, seed=args.seed
        )
        for column in columns
    }
    elapsed = time.perf_counter() - started
    mc_error = math.sqrt(args.confidence * (1 - args.confidence) / args.trials)

    header = "| metric | n | " + " | ".join(METHODS) + " |"
    rule = "|---|---:|" + "---:|" * len(METHODS)
    print(
        f"Coverage of nominal {args.confidence:.0%} intervals for the mean: {args.trials} trials, "
        f"{args.resamples} resamples, seed {args.seed} (Monte-Carlo s.e. {mc_error:.1%}; {elapsed:.0f} s)\n"
    )
    print(header, rule, sep="\n")
    for shape, n in columns:
        coverage = results[shape, n][0]
        print(f"| {shape} | {n} | " + " | ".join(f"{coverage[m]:.1%}" for m in METHODS) + " |")
    print("\nMedian interval width relative to Student-t\n")
    print(header, rule, sep="\n")
    for shape, n in columns:
        width = results[shape, n][1]
        print(f"| {shape} | {n} | " + " | ".join(f"{width[m] / width['student-t']:.2f}" for m in METHODS) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
