"""Before/after of a finished run's table when the statistics change: recompute from its per-seed values.

Reads the ``results`` of a run (the latest successful ``InvestigationFlow`` run
of the datastore above the working directory, or ``--run ID``), checks that
``components/stats/__init__.py`` at ``--before REV`` reproduces the published numbers
from the per-seed values, and prints every cell's and paired row's numbers
before (published) and after (today's defaults; ``--bounds`` is the metric's
declared range, AUROC by default).

    cd DATASTORE_ROOT && uv run --project REPO python REPO/benchmarks/reference_before_after.py --before REV
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bootstrap_speed import _stats_at  # noqa: E402

from components import stats  # noqa: E402


def observations(results: dict) -> list[dict]:
    return [
        {"axes": c["axes"], "method": c["method"], "seed": s, "value": v}
        for c in results["cells"]
        for s, v in zip(c["seeds"], c["values"])
    ]


def _ci(row: dict) -> str:
    return "—" if row.get("ci_low") is None else f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help="run id (default: latest successful)")
    parser.add_argument("--flow", default="InvestigationFlow")
    parser.add_argument("--before", default="2cf5073", metavar="REV")
    parser.add_argument("--bounds", type=float, nargs=2, default=(0.0, 1.0))
    args = parser.parse_args(argv)
    from components.outputs.runs import find_run

    run = find_run(args.flow, args.run)
    results = run["end"].task.data.results
    settings = dict(results["statistics"])
    kwargs = {k: settings[k] for k in ("method", "confidence", "n_resamples", "seed", "nan_policy", "higher_is_better", "stream_axes")}
    before = _stats_at(args.before).aggregate(observations(results), baseline=results["baseline"], **kwargs)
    published = {"cells": results["cells"], "paired": results["paired"]}
    reproduced = all(before[k] == published[k] for k in ("cells", "paired"))
    kwargs.pop("method")
    after = stats.aggregate(observations(results), baseline=results["baseline"], bounds=tuple(args.bounds), **kwargs)
    print(f"Run {run.pathspec} ({results['experiment']}); published with {settings['method']}, recomputed at {args.before}: "
          f"{'bit-identical' if reproduced else 'DIFFERENT'}; after: {after['settings']['method']}, "
          f"{after['settings']['multiplicity']} over {after['settings']['family_size']} comparisons, bounds {args.bounds}\n")
    axes = list(results["axes"]["data"]) + list(results["axes"]["training"])
    print("| " + " | ".join(axes) + " | method | diff | before CI | before verdict | after CI | p | p adj. | after verdict | wins |")
    print("|" + "---|" * (len(axes) + 9))
    for b, a in zip(before["paired"], after["paired"]):
        assert (b["axes"], b["method"]) == (a["axes"], a["method"])
        print(
            "| " + " | ".join(repr(a["axes"][k]) for k in axes)
            + f" | {a['method']} | {a['mean_diff']:+.4f} | {_ci(b)} | {b['verdict']} | {_ci(a)} | {a['p_value']:.4f} | {a['p_adjusted']:.4f} | {a['verdict']} | {a['wins']:g}/{a['n']} |"
        )
    print("\n| " + " | ".join(axes) + " | method | mean | before CI | after CI | before width | after width |")
    print("|" + "---|" * (len(axes) + 6))
    for b, a in zip(before["cells"], after["cells"]):
        wb = None if b["ci_low"] is None else b["ci_high"] - b["ci_low"]
        wa = None if a["ci_low"] is None else a["ci_high"] - a["ci_low"]
        print(
            "| " + " | ".join(repr(a["axes"][k]) for k in axes)
            + f" | {a['method']} | {a['mean']:.4f} | {_ci(b)} | {_ci(a)} | {wb if wb is None else f'{wb:.4f}'} | {wa if wa is None else f'{wa:.4f}'} |"
        )
    changed = sum(b["verdict"] != a["verdict"] for b, a in zip(before["paired"], after["paired"]))
    over = sum((c["ci_high"] or 0) > args.bounds[1] or (c["ci_low"] or 0) < args.bounds[0] for c in before["cells"])
    print(f"\nverdicts changed: {changed} of {len(after['paired'])}; published cell bounds outside {args.bounds}: {over}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
