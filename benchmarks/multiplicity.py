"""Family-wise error and power of the results table's verdicts, per row versus corrected.

Simulates tables shaped like the reference investigation: 3 data points x 3
training values, a baseline and two methods, so 18 paired comparisons, at
``--seeds`` seeds. A seed's value is shared across methods and training values
of its data point (the paired design) plus independent noise per cell, so the
paired difference has standard deviation ``sqrt(2) * sigma``.

* Global null: no method differs from the baseline anywhere. Reported: the share
  of tables showing at least one "better"/"worse" verdict, for the default
  family-wise verdicts (``verdict``) and the per-row reading of the same
  intervals (``verdict_per_row``).
* One real effect: one comparison gets a true difference of one standard
  deviation of the paired difference. Reported: how often that row is
  detected (right direction) by each reading, and how often any other row
  shows a verdict.

Each trial is one ``aggregate`` call with the default settings (``hybrid-t``,
Holm, 10,000 resamples) and the flow's stream axes.

    uv run python benchmarks/multiplicity.py                # 2,000 tables per scenario
    uv run python benchmarks/multiplicity.py --trials 500
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.stats import DEFAULT_METHOD, DEFAULT_MULTIPLICITY, aggregate  # noqa: E402

NOISES = (0.0, 0.2, 0.4)
EPOCHS = (10, 40, 120)
METHODS = ("base", "m1", "m2")
SIGMA = 0.01


def table(rng: np.random.Generator, seeds: int, effect: float) -> list[dict]:
    """Observations of one simulated table; ``effect`` is added to m1 at (noise 0.2, epochs 40)."""
    observations = []
    for noise in NOISES:
        shared = rng.normal(0.0, 0.02, seeds)
        for epochs in EPOCHS:
            for method in METHODS:
                values = 0.85 - noise / 4 + shared + rng.normal(0.0, SIGMA, seeds)
                if method == "m1" and noise == 0.2 and epochs == 40:
                    values = values + effect
                observations += [
                    {"axes": {"noise": noise, "epochs": epochs}, "method": method, "seed": s, "value": float(v)}
                    for s, v in enumerate(values)
                ]
    return observations


def scenario(trials: int, seeds: int, effect: float, resamples: int, seed: int, multiplicity: str) -> dict[str, float]:
    rng = np.random.default_rng([seed, seeds, int(effect > 0)])
    any_family = any_row = hit_family = hit_row = other_family = other_row = 0
    rows = 0
    for trial in range(trials):
        result = aggregate(
            table(rng, seeds, effect), baseline="base", n_resamples=resamples, seed=trial,
            stream_axes=["noise"], bounds=(0.0, 1.0), multiplicity=multiplicity,
        )
        paired = result["paired"]
        rows = len(paired)
        target = [p for p in paired if p["method"] == "m1" and p["axes"] == {"noise": 0.2, "epochs": 40}][0]
        others = [p for p in paired if p is not target]
        decided = ("better", "worse")
        any_family += any(p["verdict"] in decided for p in paired)
        any_row += any(p["verdict_per_row"] in decided for p in paired)
        hit_family += target["verdict"] == "better"
        hit_row += target["verdict_per_row"] == "better"
        other_family += any(p["verdict"] in decided for p in others)
        other_row += any(p["verdict_per_row"] in decided for p in others)
    return {
        "rows": rows,
        "any_family": any_family / trials,
        "any_row": any_row / trials,
        "hit_family": hit_family / trials,
        "hit_row": hit_row / trials,
        "other_family": other_family / trials,
        "other_row": other_row / trials,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=2000, help="simulated tables per scenario (default 2000)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--multiplicity", default=DEFAULT_MULTIPLICITY)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    effect = math.sqrt(2) * SIGMA
    null = scenario(args.trials, args.seeds, 0.0, args.resamples, args.seed, args.multiplicity)
    alt = scenario(args.trials, args.seeds, effect, args.resamples, args.seed, args.multiplicity)
    elapsed = time.perf_counter() - started
    se = lambda p: math.sqrt(max(p * (1 - p), 1e-12) / args.trials)  # noqa: E731
    print(
        f"{null['rows']}-row tables at n={args.seeds}: {args.trials} tables per scenario, {args.resamples} resamples, "
        f"{DEFAULT_METHOD} intervals, family correction {args.multiplicity} ({elapsed:.0f} s)\n"
    )
    print("| scenario | reading | tables with any better/worse | effect row detected | other rows: any verdict |")
    print("|---|---|---:|---:|---:|")
    for name, r in (("global null", null), ("one effect of 1 SD of the paired difference", alt)):
        for reading, suffix in ((f"family-wise ({args.multiplicity})", "family"), ("per row", "row")):
            hit = f"{r['hit_' + suffix]:.1%} ± {se(r['hit_' + suffix]):.1%}" if r is alt else "—"
            print(f"| {name} | {reading} | {r['any_' + suffix]:.1%} ± {se(r['any_' + suffix]):.1%} | {hit} | {r['other_' + suffix]:.1%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
