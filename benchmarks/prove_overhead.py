"""What the prove gate costs, as a ratio to one plain run of the same experiment.

Measured in one session: a plain run, the gate, then a plain run again, so
the ratio's denominator (the mean of the two plain runs) brackets the load the
gate saw on a shared machine:

* a plain run: ``components.outputs.runs.run_flow`` of the flow at ``--workers-plain``
  workers (default 2, what ``uv run flows/investigation.py run`` users pick on
  this 2-core machine), in a temporary datastore;
* the gate: ``components.gates.prove.prove`` on the same overrides (two runs, at 1 and
  2 workers, each in its own temporary datastore, then the comparison).

The gate is two runs, one of them at a single worker, plus reading the
artifacts back and comparing them, so expect a ratio a little above 2 when
the second worker helps and close to 2 when the machine is saturated.

    uv run python benchmarks/prove_overhead.py [overrides ...] [--flow flows/investigation.py]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.gates.prove import prove  # noqa: E402
from components.outputs.runs import run_flow  # noqa: E402


def plain_run(flow: Path, overrides: list[str], workers: int) -> float:
    """Wall-clock seconds of one successful run of ``flow`` in a temporary datastore."""
    with tempfile.TemporaryDirectory(prefix="axisflow-bench-") as root:
        started = time.perf_counter()
        with run_flow(flow, overrides, max_workers=workers, datastore_root=root) as running:
            seconds = time.perf_counter() - started
            if running.status != "successful":
                raise SystemExit(f"plain run failed ({running.status}):\n{running.stderr[-2000:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    """Time one plain run and one gate run of the same experiment; print both and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", default=["experiment=smoke"], help="Hydra overrides (default experiment=smoke)")
    parser.add_argument("--flow", default=str(ROOT / "flows" / "investigation.py"))
    parser.add_argument("--workers-plain", type=int, default=2, help="workers of the plain run (default 2)")
    args = parser.parse_args(argv)
    flow = Path(args.flow)

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start", flush=True)
    before = plain_run(flow, args.overrides, args.workers_plain)
    print(f"plain run before ({args.workers_plain} workers): {before:.1f} s", flush=True)

    started = time.perf_counter()
    verdict = prove(flow, args.overrides, log=lambda line: print(f"  {line}", flush=True))
    gate = time.perf_counter() - started
    run_seconds = " + ".join(f"{r.seconds:.1f} s at {r.workers}w" for r in verdict.runs)
    print(f"prove gate: {gate:.1f} s ({run_seconds}; rest: import, validation, reading and comparing artifacts)")
    print(f"verdict: {verdict.message}", flush=True)
    after = plain_run(flow, args.overrides, args.workers_plain)
    plain = (before + after) / 2
    print(f"plain run after ({args.workers_plain} workers): {after:.1f} s; mean {plain:.1f} s")
    print(f"overhead ratio (gate / mean plain run): {gate / plain:.2f}  [load average {os.getloadavg()[0]:.2f} at end]")
    return verdict.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
