"""Time ``components.stats`` against ``scipy.stats.bootstrap`` on the aggregate's workload.

Workload: 24 cells x 10 seeds plus the 20 paired comparisons (4 axis points x 6
methods, one of them the baseline), 10,000 resamples each. Timed:

* axisflow ``aggregate`` end to end: grouping 240 observations into cells, the
  per-axis-point streams, every interval, the JSON-ready output;
* the axisflow engine on arrays: ``bootstrap_ci`` on the same 44 rows the scipy
  loop gets (24 cells and 20 rows of paired differences), seeded per axis point as
  ``aggregate`` seeds them -- the like-for-like comparison with the scipy loop,
  which is also handed ready-made arrays;
* scipy in a per-cell loop, one ``bootstrap`` call per cell and per comparison,
  the comparisons either as scipy documents paired samples
  (``bootstrap((a, b), stat, paired=True)``) or, faster, as one-sample
  bootstraps of the differences;
* scipy batched: one ``bootstrap(..., axis=-1)`` call for the cells and one for the
  differences. It draws one index matrix and resamples every row with it, so all
  cells of the grid share their resamples and none can be seeded on its own.

scipy has no studentized bootstrap; the axisflow default (bootstrap-t) is set
against scipy's default, BCa. Each timing is the best of ``--repeats`` rounds after
a warm-up; the rounds interleave the contenders, so each sees the same machine
load and starts with caches the others left cold. Times are wall time and CPU time
(the latter is what to compare across runs on a shared machine); ratios come from
the same run.

    uv run python benchmarks/bootstrap_speed.py
    uv run python benchmarks/bootstrap_speed.py --before 2cf5073   # also: aggregate side by side with that commit's

With ``--before REV`` the script loads ``components/stats/__init__.py`` as it was at git
revision ``REV`` and times its ``aggregate`` (with its own defaults) against
today's (with today's defaults: hybrid-t intervals plus p-values and Holm
verdicts), interleaved in the same rounds.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy
from scipy import stats as sps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.stats import DEFAULT_METHOD, aggregate, bootstrap_ci, replicate_seed  # noqa: E402

SCIPY_NAMES = {"percentile": "percentile", "bca": "BCa", "bootstrap-t": "BCa"}


def workload(seed: int) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """Observations for 24 cells x 10 seeds, and the same numbers as (24, 10) cells and (20, 2, 10) pairs.

    ``pairs[i, 0]`` holds a method's values, ``pairs[i, 1]`` the baseline's on the same seeds.
    """
    rng = np.random.default_rng(seed)
    methods = ["baseline", "m1", "m2", "m3", "m4", "m5"]
    observations = []
    for noise in (0.0, 0.2):
        for epochs in (10, 40):
            for k, method in enumerate(methods):
                for s in range(10):
                    value = 0.8 - noise / 4 + 0.01 * k + rng.normal(0, 0.02)
                    observations.append({"axes": {"noise": noise, "epochs": epochs}, "method": method, "seed": s, "value": value})
    values = np.array([o["value"] for o in observations]).reshape(4, 6, 10)
    cells = values.reshape(24, 10)
    pairs = np.stack([values[:, 1:, :], np.broadcast_to(values[:, :1, :], (4, 5, 10))], axis=2).reshape(20, 2, 10)
    return observations, cells, pairs


def mean_difference(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """Mean of paired differences, vectorized for ``scipy.stats.bootstrap``."""
    return np.mean(a - b, axis=axis)


def best_times(functions: dict[str, object], repeats: int) -> tuple[dict[str, float], dict[str, float]]:
    """Best wall time and best CPU time in seconds of each function over ``repeats`` rounds, after one warm-up call each.

    Rounds interleave the functions, so every contender sees the same machine load;
    the minimum is the run least disturbed by other processes (as ``timeit`` advises).
    CPU time (``time.thread_time``; everything here runs in one thread) leaves out
    the time the process waits for a core, which on a loaded machine is most of the
    wall time of a long call.
    """
    for function in functions.values():
        function()
    wall = {name: float("inf") for name in functions}
    cpu = dict(wall)
    for _ in range(repeats):
        for name, function in functions.items():
            started, started_cpu = time.perf_counter(), time.thread_time()
            function()
            cpu[name] = min(cpu[name], time.thread_time() - started_cpu)
            wall[name] = min(wall[name], time.perf_counter() - started)
    return wall, cpu


def stream_seeds(observations: list[dict], seed: int) -> list[int]:
    """The generator seed of each of the 44 rows, as ``aggregate`` derives them: one per axis point and seed set."""
    points = []
    for o in observations:
        if o["axes"] not in points:
            points.append(o["axes"])
    keys = [replicate_seed(seed, axes, range(10)) for axes in points]
    return [keys[i // 6] for i in range(24)] + [keys[i // 5] for i in range(20)]


def _stats_at(rev: str):
    """``components/stats/__init__.py`` as it was at git revision ``rev``, imported as a separate module."""
    root = Path(__file__).resolve().parents[1]
    source = subprocess.run(["git", "show", f"{rev}:components/stats/__init__.py"], cwd=root, check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "stats_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("stats_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def side_by_side(rev: str, seed: int, resamples: int, repeats: int) -> None:
    """Time ``aggregate`` at ``rev`` and today, each with its own defaults, on the same 44-row workload."""
    before = _stats_at(rev)
    observations, _, _ = workload(seed)
    contenders = {
        f"{rev} aggregate ({before.DEFAULT_METHOD})": lambda: before.aggregate(observations, baseline="baseline", n_resamples=resamples, seed=seed),
        f"today aggregate ({DEFAULT_METHOD}, p-values, family verdicts)": lambda: aggregate(observations, baseline="baseline", n_resamples=resamples, seed=seed),
        "today aggregate, bootstrap-t": lambda: aggregate(observations, baseline="baseline", method="bootstrap-t", n_resamples=resamples, seed=seed),
    }
    wall, cpu = best_times(contenders, repeats)
    first = next(iter(contenders))
    print(f"Side by side with {rev}: 24 cells x 10 seeds + 20 paired comparisons, {resamples} resamples, best of {repeats} interleaved rounds\n")
    print("| contender | wall | CPU | CPU vs before |\n|---|---:|---:|---:|")
    for name in contenders:
        print(f"| {name} | {wall[name] * 1e3:.2f} ms | {cpu[name] * 1e3:.2f} ms | {cpu[name] / cpu[first]:.2f}x |")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--before", metavar="REV", help="also time aggregate side by side with components/stats/__init__.py at git revision REV")
    parser.add_argument("--only-before", action="store_true", help="with --before: skip the scipy comparison")
    args = parser.parse_args(argv)
    if args.before:
        side_by_side(args.before, args.seed, args.resamples, args.repeats)
        if args.only_before:
            return 0
    observations, cells, pairs = workload(args.seed)
    diffs = pairs[:, 0] - pairs[:, 1]
    rows = np.concatenate([cells, diffs])
    row_seeds = stream_seeds(observations, args.seed)
    resamples = args.resamples
    # The engine contender does exactly the aggregate's interval work: same rows, same streams, same numbers.
    low, _ = bootstrap_ci(rows, n_resamples=resamples, rngs=row_seeds)
    result = aggregate(observations, baseline="baseline", n_resamples=resamples, seed=args.seed)
    expected = sorted([c["ci_low"] for c in result["cells"]] + [p["ci_low"] for p in result["paired"]])
    assert sorted(low.tolist()) == expected, "engine rows do not reproduce the aggregate's intervals"

    def ours(method: str):
        return lambda: aggregate(observations, baseline="baseline", method=method, n_resamples=resamples, seed=args.seed)

    def engine(method: str):
        return lambda: bootstrap_ci(rows, method=method, n_resamples=resamples, rngs=row_seeds)

    def scipy_loop(method: str, paired: bool):
        def run():
            for i, row in enumerate(cells):
                sps.bootstrap((row,), np.mean, n_resamples=resamples, method=method, rng=np.random.default_rng(i))
            for i, (a, b) in enumerate(pairs, start=len(cells)):
                rng = np.random.default_rng(i)
                if paired:
                    sps.bootstrap((a, b), mean_difference, paired=True, n_resamples=resamples, method=method, rng=rng)
                else:
                    sps.bootstrap((a - b,), np.mean, n_resamples=resamples, method=method, rng=rng)

        return run

    def scipy_batched(method: str):
        def run():
            for block in (cells, diffs):
                sps.bootstrap((block,), np.mean, axis=-1, n_resamples=resamples, method=method, rng=np.random.default_rng(0))

        return run

    print(
        f"Workload: {cells.shape[0]} cells x {cells.shape[1]} seeds + {len(pairs)} paired comparisons, "
        f"{resamples} resamples; best of {args.repeats} interleaved rounds (numpy {np.__version__}, scipy {scipy.__version__})\n"
    )
    header = (
        "| axisflow method | aggregate | engine | scipy method | scipy loop, paired=True | scipy loop, diffs "
        "| scipy batched |\n|---|---:|---:|---|---:|---:|---:|"
    )
    ratio_header = (
        "| axisflow method | aggregate vs loop paired=True | aggregate vs loop diffs | engine vs loop paired=True "
        "| engine vs loop diffs | aggregate vs batched |\n|---|---:|---:|---:|---:|---:|"
    )
    rows_out = {"wall": [], "cpu": []}
    ratios_out = {"wall": [], "cpu": []}
    for method in (DEFAULT_METHOD, "bca", "percentile"):
        scipy_method = SCIPY_NAMES[method]
        timings = best_times(
            {
                "ours": ours(method),
                "engine": engine(method),
                "paired": scipy_loop(scipy_method, paired=True),
                "diffs": scipy_loop(scipy_method, paired=False),
                "batched": scipy_batched(scipy_method),
            },
            args.repeats,
        )
        for kind, t in zip(("wall", "cpu"), timings):
            rows_out[kind].append(
                f"| {method} | {t['ours'] * 1e3:.1f} ms | {t['engine'] * 1e3:.1f} ms | {scipy_method} "
                f"| {t['paired'] * 1e3:.1f} ms | {t['diffs'] * 1e3:.1f} ms | {t['batched'] * 1e3:.1f} ms |"
            )
            ratios_out[kind].append(
                f"| {method} | {t['paired'] / t['ours']:.1f}x | {t['diffs'] / t['ours']:.1f}x "
                f"| {t['paired'] / t['engine']:.1f}x | {t['diffs'] / t['engine']:.1f}x | {t['batched'] / t['ours']:.1f}x |"
            )
    for kind, title in (("wall", "Wall time"), ("cpu", "CPU time (thread_time)")):
        print(f"{title}, best of {args.repeats}:\n\n{header}")
        print("\n".join(rows_out[kind]) + "\n")
        print(f"Speed-up ({kind}):\n\n{ratio_header}")
        print("\n".join(ratios_out[kind]) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
