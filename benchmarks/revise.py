"""What revising a finished investigation costs with arm reuse, measured side by side in one invocation.

Two revisions of the reference grid, each against the run it should cost about as much as:

1. **add one method**: a finished run of ``logreg`` and ``mlp``, then the full
   reference (adds ``mlp_early_stop``; ``--reuse auto``), against a run of
   ``mlp_early_stop`` alone (``--reuse off``). Target: <= 1.3x.
2. **add 5 seeds**: a fresh 5-seed run (``--reuse off``; the grid's own 5 seeds),
   then 10 seeds (``--reuse auto``: seeds 0-4 are finished), against that 5-seed run. Target: <= 1.2x.

It also checks that the incremental reference run's ``results`` equal the fresh
5-seed run's outside :data:`components.schema.RUN_FIELDS`, bit for bit, and
prints how much each revision trained (from its own ``results["work"]``).
Every run uses one temporary datastore and the environment as installed.

    uv run python benchmarks/revise.py            # reference grid (~10 min on 2 idle cores)
    uv run python benchmarks/revise.py --quick    # smoke grid
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.fanout import SHELL_FLOW, child_env, describe_run, flow_cmd, log, scratch, table, timed  # noqa: E402

GRIDS = {"reference": ["experiment=reference"], "quick": ["experiment=smoke"]}


def run(label: str, grid: list[str], extra: list[str], reuse: str, env: dict[str, str], work: Path, workers: int):
    """Run the shipped flow once and return ``(Measured, results)``."""
    run_id_file = work / f"{label}.run-id"
    log(f"{label}: {' '.join(grid + extra)} --reuse {reuse}")
    # flow_cmd allows the review: subsets of the reviewed methods change the fidelity facts, and this measures cost.
    measured = timed(label, flow_cmd(SHELL_FLOW, grid + extra, workers, run_id_file, "--reuse", reuse), env=env, logfile=work / f"{label}.log")
    results = describe_run("InvestigationFlow", run_id_file.read_text().strip())["results"]
    log(f"{label}: {measured.wall:.1f} s")
    return measured, results


def main(argv: list[str] | None = None) -> int:
    """Run both revisions and print their wall-clock ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke grid instead of the reference grid")
    parser.add_argument("--workers", type=int, default=2, help="--max-workers for every run (default 2)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary datastore and logs")
    args = parser.parse_args(argv)

    from components.schema import comparable

    grid = GRIDS["quick" if args.quick else "reference"]
    w = args.workers
    with scratch("axisflow-revise-", args.keep) as work:
        env = child_env(work, "env")
        print(f"# Revision benchmark: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start, grid {' '.join(grid)}")
        # Order matters: a finished run's arms are reusable by every later run, so each run that must
        # compute everything (--reuse off) comes after the incremental run it is compared with.
        run("base-two-methods", grid, ["method=[logreg,mlp]"], "auto", env, work, w)
        added, added_results = run("add-one-method", grid, [], "auto", env, work, w)
        alone, _ = run("one-method-alone", grid, ["method=[mlp_early_stop]", "experiment.baseline=mlp_early_stop"], "off", env, work, w)
        five, five_results = run("five-seeds-fresh", grid, [], "off", env, work, w)
        ten, ten_results = run("add-five-seeds", grid, ["experiment.seeds=10"], "auto", env, work, w)

        rows = []
        for label, m, results in (
            ("run of mlp_early_stop alone (--reuse off)", alone, None),
            ("add mlp_early_stop to a finished logreg+mlp run", added, added_results),
            ("fresh 5-seed run (--reuse off)", five, five_results),
            ("add 5 seeds to a finished 5-seed run", ten, ten_results),
        ):
            work_counts = results["work"] if results else {"train_arm": "-", "make_data": "-"}
            reused = results["provenance"]["reuse"]["reused"] if results else 0
            rows.append([label, m.wall, m.cpu, work_counts.get("train_arm", 0), work_counts.get("make_data", 0), reused, f"{m.load[0]:.1f}/{m.load[1]:.1f}"])
        print()
        print(table(["run", "wall s", "CPU s", "trainings", "datasets", "arms reused", "load before/after"], rows))
        print()
        print(f"add one method / that method alone: {added.wall / alone.wall:.2f}x wall (target <= 1.3), CPU {added.cpu / alone.cpu:.2f}x")
        print(f"add 5 seeds / a 5-seed run: {ten.wall / five.wall:.2f}x wall (target <= 1.2), CPU {ten.cpu / five.cpu:.2f}x")
        same = repr(comparable(added_results)) == repr(comparable(five_results))
        print(f"incremental reference results equal the fresh run's outside provenance and work, bit for bit: {'yes' if same else 'NO'}")
        print(f"\nload average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
