"""What the seeds planner's counts deliver with the default interval, by simulation.

For paired differences drawn from normal(effect, sigma) -- and, to see the
planner's Student-t assumption under strain, from a skewed shape with the same
sd -- take the seed count ``axisflow seeds`` plans (``components.outputs.seeds``) and
run ``aggregate`` with its defaults on ``--trials`` simulated comparisons:

* ``--width``: the share of trials whose default interval has half-width <= W,
  and the median half-width;
* ``--effect``: the share of trials whose p-value is below the planned level,
  alone (``m = 1``) and as Holm's first step in an 18-comparison family,
  beside the power the planner promises at that count;
* planning from a pilot of 3 or 5 seeds with 80% assurance (Browne 1995: at
  the pilot sd's 80% upper confidence bound): the share of pilots whose plan
  reaches 80% power at the true sd (target >= 80%), and the power delivered by
  one simulated ``aggregate`` study per pilot at its planned count.

    uv run python benchmarks/seeds_check.py             # 1,000 trials per row
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.outputs import seeds  # noqa: E402
from components.stats import aggregate  # noqa: E402

SHAPES = {
    "normal": lambda rng, size: rng.normal(0.0, 1.0, size),
    "skewed (exp - 1)": lambda rng, size: rng.exponential(1.0, size) - 1.0,
}


def one(diffs: np.ndarray, seed: int) -> dict:
    observations = [{"axes": {}, "method": "base", "seed": s, "value": 0.0} for s in range(len(diffs))]
    observations += [{"axes": {}, "method": "new", "seed": s, "value": float(d)} for s, d in enumerate(diffs)]
    return aggregate(observations, baseline="base", seed=seed)["paired"][0]


def _assured(rng: np.random.Generator, draw, pilot: int, trials: int, sigma: float) -> tuple[float, np.ndarray, np.ndarray]:
    """Plans with 80% assurance from ``trials`` pilots of ``pilot`` seeds; (share reaching 80% power, detections, plans)."""
    plans, delivered = [], []
    for trial in range(trials):
        sd = float(np.std(sigma * draw(rng, pilot), ddof=1))
        n = seeds.seeds_for_effect(seeds._sigma_upper(sd, pilot, 0.8), 1.0, 0.8, 0.05)
        plans.append(n)
        delivered.append(one(1.0 + sigma * draw(rng, n), trial)["p_value"] < 0.05)
    reach = float(np.mean([seeds.power(1.0, sigma, n, 0.05) >= 0.8 for n in plans]))
    return reach, np.array(delivered), np.array(plans)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    sigma = 1.0
    print("| goal | shape | family m | planned seeds | delivered | promised |\n|---|---|---:|---:|---:|---:|")
    for shape, draw in SHAPES.items():
        rng = np.random.default_rng([args.seed, len(shape)])
        for width in (0.5, 1.0):
            n = seeds.seeds_for_width(sigma, width)
            halves = []
            for trial in range(args.trials):
                row = one(sigma * draw(rng, n), trial)
                halves.append((row["ci_high"] - row["ci_low"]) / 2)
            halves = np.array(halves)
            print(
                f"| half-width <= {width} | {shape} | — | {n} | median {np.median(halves):.3f}, "
                f"{np.mean(halves <= width):.0%} of trials <= {width} | median <= {width} |"
            )
        for m in (1, 18):
            alpha = 0.05 / m
            n = seeds.seeds_for_effect(sigma, 1.0, 0.8, alpha)
            hits = 0
            for trial in range(args.trials):
                row = one(1.0 + sigma * draw(rng, n), trial)
                hits += row["p_value"] < alpha
            rate = hits / args.trials
            se = math.sqrt(rate * (1 - rate) / args.trials)
            print(f"| detect 1 sd, power 80% | {shape} | {m} | {n} | {rate:.1%} ± {se:.1%} | {seeds.power(1.0, sigma, n, alpha):.1%} |")
        for pilot in (3, 5):
            reach, delivered, plans = _assured(rng, draw, pilot, args.trials, sigma)
            print(
                f"| detect 1 sd with 80% assurance, pilot of {pilot} | {shape} | 1 | median {int(np.median(plans))} | "
                f"{np.mean(delivered):.1%} ± {math.sqrt(np.mean(delivered) * (1 - np.mean(delivered)) / args.trials):.1%}; "
                f"plan reaches 80% for {reach:.1%} of pilots | >= 80% of pilots |"
            )
    print(f"\n{args.trials} trials per row, sigma = 1, default aggregate settings ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
