"""The ``axisflow`` console script: ``plan``, ``results``, ``lint``, ``new``, ``review`` and the other subcommands.

Every subcommand prints a one-line ``axisflow: error: ...`` and exits 2 on bad
input, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from typing import Any, Callable, NoReturn

from components.spec.config import ConfigError
from components.suggest import did_you_mean
from components.constants import DEFAULT_FLOW

__all__ = ["main"]

#: Modules that add subcommands: each defines ``register(subparsers)``, which adds a
#: parser with ``set_defaults(func=handler)``; ``handler(args) -> int`` is the exit status.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "components.gates.prove", "components.outputs.history", "components.outputs.report", "components.outputs.seeds", "components.gates.review", "components.gates.scaffold",
)


def _cmd_plan(args: argparse.Namespace) -> int:
    from components.spec.config import load_spec
    from components.engine.planner import branches, plan_summary, trainings

    _, spec = load_spec(args.overrides)
    counts = plan_summary(spec)
    out = [
        f"experiment {spec.name} (contract {spec.contract}, {spec.seeds} seeds, baseline {spec.baseline})",
        "data axes:     " + (", ".join(f"{k}={v}" for k, v in spec.data_axes.items()) or "none"),
        "training axes: " + (", ".join(f"{k}={v}" for k, v in spec.training_axes.items()) or "none"),
        "methods:       " + ", ".join(f"{m.name} ({m.kind})" for m in spec.methods),
        "",
        f"{counts['branches']} branches (data-axis values x seed):",
    ]
    out += [f"  {b['key']}" for b in branches(spec)]
    out += ["", f"per branch: 1 dataset, {counts['trainings_per_branch']} trainings:"]
    for t in trainings(spec):
        axes = ", ".join(f"{k}={v}" for k, v in t.train_axes.items()) or f"once, scored in {len(t.cells)} training cell(s)"
        out.append(f"  {t.method}: {axes}")
    out += [
        "",
        f"total: {counts['data_generations']} datasets, {counts['trainings']} trainings, {counts['branches']} branch tasks",
        f"a per-config fan-out would need: {counts['naive_data_generations']} datasets, "
        f"{counts['naive_trainings']} trainings, {counts['naive_branches']} branch tasks",
    ]
    if "nested_inner_trainings" in counts:
        out.append(f"nested cross-validation: {counts['nested_inner_trainings']} inner-fold trainings besides (k - 1 per training)")
    print("\n".join(out + _reuse_plan(args, branches(spec))))
    return 0


def _reuse_plan(args: argparse.Namespace, planned: list[dict[str, Any]]) -> list[str]:
    """What ``--reuse auto`` would take from earlier runs in this datastore (nothing runs)."""
    from components.spec.config import compose
    from components.engine.reuse import plan_reuse
    from components.shell import ensure_user

    if args.reuse == "off":
        return ["", "reuse: off (every arm would be trained)"]
    ensure_user()
    tasks, untasked = plan_reuse(compose(args.overrides), planned, flow=args.flow, mode=args.reuse, log=lambda _: None)
    arms = [a for b in [*tasks, *untasked] for a in b["arms"]]
    reused = [a for a in arms if "reused" in a]
    trained = sum(1 for a in arms if "reused" not in a or a.get("verify"))
    runs = sorted({a["reused"]["run"] for a in reused})
    out = ["", f"reuse ({args.reuse}, flow {args.flow}): {len(reused)} of {len(arms)} arms would be reused"
           + (f" from runs {', '.join(runs)}" if runs else "")]
    out.append(f"  {len(untasked)} branches fully reused (no task), {len(tasks)} branch tasks would start, "
               f"{trained} trainings would run")
    return out


def _load_results(flow: str, run_id: str | None, experiment: str | None) -> tuple[Any, dict[str, Any]]:
    from components.outputs.runs import find_run

    run = find_run(flow, run_id, experiment)
    return run, run["end"].task.data.results


def _cmd_results(args: argparse.Namespace) -> int:
    from components.outputs.query import format_table

    run, results = _load_results(args.flow, args.run, args.experiment)
    text = format_table(results, args.format, metric=args.metric, long=args.long, per_class=args.per_class)
    if args.format == "table":
        from components.engine.provenance import hardware_line
        from components.engine.reuse import reuse_line

        print(f"{run.pathspec} (experiment {results['experiment']}, finished {run.finished_at})")
        if reuse_line(results):
            print(reuse_line(results))
        if hardware_line(results.get("provenance") or {}):
            print(hardware_line(results["provenance"]))
    print(text)
    return 0


def _cmd_lint(args: argparse.Namespace) -> int:
    from lint.cli import main as lint_main

    return lint_main(args.rest)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (``axisflow: error: runs: --limit: invalid int value: 'two'``), exit 2.

    argparse's own error prints the whole usage block before the message;
    every other axisflow error is one line, so a wrong flag type is too.
    Subcommand parsers inherit the class.
    """

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("axisflow").strip()
        where = f"{command}: " if command else ""
        choice = _INVALID_CHOICE.search(message)
        if choice:
            message += did_you_mean(choice.group(1), re.findall(r"'([^']*)'", choice.group(2)))
        self.exit(2, f"axisflow: error: {where}{message} (see axisflow {command + ' ' if command else ''}--help)\n")


#: argparse's message for a value outside ``choices``: the value, then the choices.
_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="axisflow", description="Reproducible, config-driven ML investigations on Metaflow.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plan = sub.add_parser("plan", help="show the branches and trainings a run would do, without running anything")
    plan.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. experiment=smoke training.epochs=3")
    plan.add_argument("--reuse", default="auto", choices=["auto", "off", "verify"], help="show what this --reuse mode would take from earlier runs (default auto)")
    plan.add_argument("--flow", default=DEFAULT_FLOW, help=f"flow whose earlier runs are searched (default {DEFAULT_FLOW})")
    plan.set_defaults(func=_cmd_plan)

    results = sub.add_parser("results", help="print the output surface of the latest successful run (or --run ID)")
    results.add_argument("--run", help="run id (default: the latest successful run)")
    results.add_argument("--flow", default=DEFAULT_FLOW, help=f"flow name (default {DEFAULT_FLOW})")
    results.add_argument("--experiment", metavar="NAME", help="the latest successful run of this experiment (experiment.name)")
    results.add_argument("--format", default="table", choices=["table", "csv", "json", "md"])
    results.add_argument(
        "--metric", metavar="NAME",
        help="show this metric alone: the primary (experiment.metric.name) or a secondary one (experiment.secondary_metrics); default: all",
    )
    results.add_argument(
        "--per-class", action="store_true",
        help="classification runs: per-class recall and precision with intervals, and the confusion matrices summed over seeds",
    )
    results.add_argument(
        "--long", action="store_true",
        help="with --format csv or json: one row per cell x method x seed (x fold under cross-validation) with its value "
        "(with --per-class: per class, that arm's recall and precision)",
    )
    results.set_defaults(func=_cmd_results)

    lint = sub.add_parser("lint", help="run the static linter (same as python -m lint)", add_help=False)
    lint.add_argument("rest", nargs=argparse.REMAINDER)
    lint.set_defaults(func=_cmd_lint)

    for module in SUBCOMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``axisflow`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if argv[:1] == ["lint"]:  # hand everything after `lint` to the linter untouched
        return _cmd_lint(argparse.Namespace(rest=argv[1:]))
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.func
    try:
        return handler(args)
    except (ConfigError, LookupError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"axisflow: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader (`| head`) closed the pipe: stop quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
