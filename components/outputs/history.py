"""Run history: ``axisflow runs`` lists past runs of a flow, ``axisflow diff A B`` says what changed.

Everything is read back through Metaflow's client from the datastore the
working directory (or ``METAFLOW_DATASTORE_SYSROOT_LOCAL``) points at; runs
are selected by flow and experiment in :mod:`components.outputs.runs`. A run's config
comes from its ``_parameters`` task, so unfinished and failed runs are listed
too; results come from the ``end`` step's ``results`` artifact.

Status words: ``successful``; ``failed`` (some task finished unsuccessfully);
``unfinished`` (no task failed but the end was not reached: still running, or
killed; Metaflow cannot tell those apart from the datastore).
"""

from __future__ import annotations

import argparse
import json
import math
from datetime import datetime
from typing import Any, Mapping, Sequence

from components.constants import DEFAULT_FLOW, LAUNCH_KEY
from components.outputs.runs import find_run, run_config, select_runs

__all__ = [
    "compare_cells",
    "diff_configs",
    "diff_results",
    "diff_runs",
    "format_diff",
    "format_runs",
    "headline",
    "list_runs",
    "moved_cells",
    "register",
    "run_summary",
    "verdict_changes",
]

# Marks a config key one run lacks (None is a legitimate config value).
_ABSENT = object()


def _results(run) -> dict[str, Any] | None:
    """The pinned ``results`` of a successful run, else ``None``."""
    if not run.successful:
        return None
    try:
        return run["end"].task.data.results
    except (KeyError, AttributeError):
        return None


def _scan(run) -> dict[str, Any]:
    """Status, last activity and the first failure of a run that did not succeed."""
    if run.successful:
        return {"status": "successful", "finished_at": run.finished_at, "failure": None}
    last, failure = None, None
    for step in run:
        for task in step:
            if not task.finished:
                continue
            last = max(filter(None, [last, task.finished_at]), default=None)
            if failure is None and not task.successful:
                exc = task.exception
                text = str(exc).strip().splitlines()[-1] if exc is not None else "task failed"
                failure = f"{task.pathspec.split('/', 2)[-1]}: {text}"
    return {"status": "failed" if failure else "unfinished", "finished_at": last, "failure": failure}


def _origin(run) -> str | None:
    """The run this one resumed, from its tasks' ``origin-run-id`` metadata."""
    try:
        value = run["start"].task.metadata_dict.get("origin-run-id")
    except Exception:  # no start task yet
        return None
    return None if value in (None, "None", run.id) else value


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _axes_text(axes: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in axes.items()) or "no axes"


def headline(results: Mapping[str, Any]) -> str:
    """A one-line summary of a results surface: the best method in the first cell and the paired verdicts."""
    cells = [c for c in results.get("cells") or [] if c.get("mean") is not None]  # a cell whose every seed failed has no mean
    if not cells:
        failed = len(results.get("failures") or [])
        return f"no cell has a value ({failed} failed arm observations)" if failed else "no cells"
    higher = results.get("metric", {}).get("higher_is_better", True)
    first = cells[0]["axes"]
    group = [c for c in cells if c["axes"] == first]
    best = (max if higher else min)(group, key=lambda c: c["mean"])
    ci = f" [{_fmt(best['ci_low'])}, {_fmt(best['ci_high'])}]" if best.get("ci_low") is not None else ""
    text = f"{results.get('metric', {}).get('name', 'metric')} best {best['method']} {_fmt(best['mean'])}{ci} @ {_axes_text(first)}"
    verdicts: dict[str, int] = {}
    for row in results.get("paired") or []:
        verdict = row.get("verdict") or "without interval"
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
    if verdicts:
        text += f"; vs {results.get('baseline')}: " + ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items()))
    if results.get("failures"):
        text += f"; {len(results['failures'])} failed"
    return text


def run_summary(run) -> dict[str, Any]:
    """One row of ``axisflow runs``: id, experiment, status, contract, config hash, git, duration, headline."""
    config = run_config(run)
    launch = config.get(LAUNCH_KEY, {})
    git = launch.get("git") or {}
    scan = _scan(run)
    started: datetime | None = run.created_at
    finished: datetime | None = scan["finished_at"]
    results = _results(run)
    origin = _origin(run)
    if results is not None:
        summary = headline(results)
    else:
        summary = scan["failure"] or "no results"
    return {
        "run_id": run.id,
        "pathspec": run.pathspec,
        "started_at": started.isoformat(timespec="seconds") if started else None,
        "status": scan["status"],
        "experiment": config.get("experiment", {}).get("name"),
        "contract": config.get("experiment", {}).get("contract"),
        "config_hash": launch.get("config_hash"),
        "overrides": list(launch.get("overrides", [])),
        "commit": git.get("commit"),
        "dirty": git.get("dirty"),
        "resumed_from": origin,
        "duration_seconds": round((finished - started).total_seconds(), 1) if started and finished else None,
        "headline": summary,
    }


def list_runs(flow: str = DEFAULT_FLOW, limit: int = 10, experiment: str | None = None) -> list[dict[str, Any]]:
    """Summaries of the ``limit`` most recent runs of ``flow`` (of ``experiment`` when given), newest first."""
    return [run_summary(run) for run in select_runs(flow, experiment, limit=max(limit, 0))]


def format_runs(rows: Sequence[Mapping[str, Any]]) -> str:
    """The ``axisflow runs`` table (one line per run, headline last)."""
    headers = ["RUN", "STARTED", "STATUS", "EXPERIMENT", "CONTRACT", "CONFIG", "COMMIT", "DURATION", "HEADLINE"]
    lines = []
    for row in rows:
        commit = (row["commit"] or "none")[:10] + ("+dirty" if row["dirty"] else "")
        duration = f"{row['duration_seconds']:.0f}s" if row["duration_seconds"] is not None else "-"
        note = f"[resume of {row['resumed_from']}] " if row["resumed_from"] else ""
        lines.append([
            row["run_id"], row["started_at"] or "-", row["status"], row["experiment"] or "-", row["contract"] or "-",
            row["config_hash"] or "-", commit, duration, note + row["headline"],
        ])
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *lines)]
    widths[-1] = 0  # the headline is last and not padded
    return "\n".join("  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in [headers, *lines])


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(_flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def diff_configs(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Config keys (dotted) whose value differs, with ``old``/``new`` (``None`` entries mark absent keys).

    The shell's launch metadata (``axisflow``) is not part of the config and is ignored.
    """
    flat_a = _flatten({k: v for k, v in a.items() if k != LAUNCH_KEY})
    flat_b = _flatten({k: v for k, v in b.items() if k != LAUNCH_KEY})
    out = []
    for key in sorted(set(flat_a) | set(flat_b)):
        if flat_a.get(key, _ABSENT) != flat_b.get(key, _ABSENT):
            out.append({"key": key, "old": flat_a.get(key), "new": flat_b.get(key), "added": key not in flat_a, "removed": key not in flat_b})
    return out



def _cell_key(row: Mapping[str, Any]) -> str:
    return json.dumps([row["axes"], row["method"]], sort_keys=True, default=str)


def _inside(value: float, low: Any, high: Any) -> bool:
    return low is not None and high is not None and low <= value <= high


def moved_cells(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Cells (axes, method) present in both results whose mean moved beyond both runs' intervals.

    A cell moved when B's mean lies outside A's confidence interval *and* A's
    mean outside B's: the change exceeds the seed-to-seed uncertainty each run
    reports for itself. Cells without an interval (too few seeds) never count.
    Each entry has ``axes``, ``method``, both means and intervals, and ``delta``.
    """
    b_cells = {_cell_key(row): row for row in b.get("cells", [])}
    out = []
    for row in a.get("cells", []):
        other = b_cells.get(_cell_key(row))
        if other is None or row.get("ci_low") is None or other.get("ci_low") is None:
            continue
        if _inside(other["mean"], row["ci_low"], row["ci_high"]) or _inside(row["mean"], other["ci_low"], other["ci_high"]):
            continue
        out.append({
            "axes": row["axes"], "method": row["method"], "a": row["mean"], "b": other["mean"],
            "a_ci": [row["ci_low"], row["ci_high"]], "b_ci": [other["ci_low"], other["ci_high"]],
            "delta": other["mean"] - row["mean"],
        })
    return out


def compare_cells(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """``{"compared": cells in both results, "moved": moved_cells(a, b), "emptied"/"filled": cells that lost/gained every value}``.

    A cell whose every seed failed (``nan_policy: omit``) has no mean; such a
    cell cannot move, so it is listed instead (``axes``, ``method``).
    """
    cells_a = {_cell_key(row): row for row in a.get("cells", [])}
    cells_b = {_cell_key(row): row for row in b.get("cells", [])}
    common = sorted(set(cells_a) & set(cells_b))

    def changed(had: dict, lost: dict) -> list[dict[str, Any]]:
        rows = [had[k] for k in common if had[k].get("mean") is not None and lost[k].get("mean") is None]
        return [{"axes": row["axes"], "method": row["method"]} for row in rows]

    return {"compared": len(common), "moved": moved_cells(a, b), "emptied": changed(cells_a, cells_b), "filled": changed(cells_b, cells_a)}


def verdict_changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Paired comparisons (same axes, method and baseline) whose verdict differs between the two results."""
    def key(row: Mapping[str, Any]) -> str:
        return json.dumps([row["axes"], row["method"], row.get("baseline")], sort_keys=True, default=str)

    b_rows = {key(row): row for row in b.get("paired", [])}
    out = []
    for row in a.get("paired", []):
        other = b_rows.get(key(row))
        if other is not None and other.get("verdict") != row.get("verdict"):
            out.append({"axes": row["axes"], "method": row["method"], "baseline": row.get("baseline"),
                        "old": row.get("verdict"), "new": other.get("verdict"),
                        "old_diff": row.get("mean_diff"), "new_diff": other.get("mean_diff")})
    return out


def _code(config: Mapping[str, Any]) -> dict[str, Any]:
    git = config.get(LAUNCH_KEY, {}).get("git") or {}
    return {"commit": git.get("commit"), "dirty": git.get("dirty"), "diff_hash": git.get("diff_hash")}


def diff_runs(run_a, run_b) -> dict[str, Any]:
    """What changed from ``run_a`` to ``run_b``: config keys, code, packages, data and result cells."""
    config_a, config_b = run_config(run_a), run_config(run_b)
    results_a, results_b = _results(run_a), _results(run_b)
    out: dict[str, Any] = {
        "a": run_a.pathspec,
        "b": run_b.pathspec,
        "config_hash": [config_a.get(LAUNCH_KEY, {}).get("config_hash"), config_b.get(LAUNCH_KEY, {}).get("config_hash")],
        "config": diff_configs(config_a, config_b),
        "code": [_code(config_a), _code(config_b)],
        "packages": None,
        "platform": None,
        "data": None,
        "cells": None,
        "verdicts": None,
        "failures": None,
        "missing_results": [r.pathspec for r, res in ((run_a, results_a), (run_b, results_b)) if res is None],
    }
    if results_a is not None and results_b is not None:
        out.update(diff_results(results_a, results_b))
    return out


def diff_results(results_a: Mapping[str, Any], results_b: Mapping[str, Any]) -> dict[str, Any]:
    """What changed between two ``results``: packages, platform, data fingerprints, cells, verdicts and failed arms."""
    prov_a, prov_b = results_a.get("provenance", {}), results_b.get("provenance", {})
    pkgs_a, pkgs_b = prov_a.get("packages") or {}, prov_b.get("packages") or {}
    fp_a, fp_b = results_a.get("data_fingerprints", {}), results_b.get("data_fingerprints", {})
    shared = set(fp_a) & set(fp_b)
    return {
        "packages": {name: [pkgs_a.get(name), pkgs_b.get(name)] for name in sorted(set(pkgs_a) | set(pkgs_b))},
        "platform": [prov_a.get("platform"), prov_b.get("platform")],
        "data": {
            "branches": [len(fp_a), len(fp_b)],
            "identical": sum(fp_a[k] == fp_b[k] for k in shared),
            "changed": sorted(k for k in shared if fp_a[k] != fp_b[k]),
        },
        "cells": compare_cells(results_a, results_b),
        "verdicts": verdict_changes(results_a, results_b),
        "failures": [len(results_a.get("failures") or []), len(results_b.get("failures") or [])],
    }


def _describe_code(code: Mapping[str, Any]) -> str:
    text = (code["commit"] or "no commit")[:12]
    return text + (f" + uncommitted diff {code['diff_hash']}" if code["dirty"] else "")


def _val(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:g}"
    return json.dumps(value, default=str) if not isinstance(value, str) else value


def format_diff(diff: Mapping[str, Any]) -> str:
    """The ``axisflow diff`` report as text."""
    lines = [f"diff {diff['a']} -> {diff['b']}"]
    hash_a, hash_b = diff["config_hash"]
    if diff["config"]:
        lines.append(f"config: {len(diff['config'])} key(s) changed (hash {hash_a} -> {hash_b})")
        for change in diff["config"]:
            old = "(absent)" if change["added"] else _val(change["old"])
            new = "(absent)" if change["removed"] else _val(change["new"])
            lines.append(f"  {change['key']}: {old} -> {new}")
    else:
        lines.append(f"config: identical (hash {hash_a})")
    code_a, code_b = diff["code"]
    same_code = (code_a["commit"], code_a["diff_hash"]) == (code_b["commit"], code_b["diff_hash"])
    lines.append(f"code: {_describe_code(code_a)}" + (" (same)" if same_code else f" -> {_describe_code(code_b)}"))
    if diff["packages"] is not None:
        changed = {k: v for k, v in diff["packages"].items() if v[0] != v[1]}
        if changed:
            lines.append("packages: " + ", ".join(f"{k} {v[0]} -> {v[1]}" for k, v in changed.items()))
        else:
            lines.append("packages: same (" + ", ".join(f"{k} {v[0]}" for k, v in diff["packages"].items()) + ")")
        plat_a, plat_b = diff["platform"]
        if plat_a != plat_b:
            lines.append(f"platform: {plat_a} -> {plat_b}")
    if diff["data"] is not None:
        data = diff["data"]
        lines.append(f"data: {data['identical']} of {data['branches'][0]} dataset fingerprints identical"
                     + (f"; changed in {', '.join(data['changed'])}" if data["changed"] else ""))
    if diff["cells"] is not None:
        moved = diff["cells"]["moved"]
        if diff["cells"]["compared"]:
            lines.append(f"cells: {len(moved)} of {diff['cells']['compared']} moved beyond both runs' confidence intervals")
        else:
            lines.append("cells: none in common (different axes or methods); nothing to compare")
        for cell in moved:
            lines.append(
                f"  {_axes_text(cell['axes'])}  {cell['method']}: {_fmt(cell['a'])} [{_fmt(cell['a_ci'][0])}, {_fmt(cell['a_ci'][1])}]"
                f" -> {_fmt(cell['b'])} [{_fmt(cell['b_ci'][0])}, {_fmt(cell['b_ci'][1])}] ({cell['delta']:+.3f})"
            )
        for word in ("emptied", "filled"):
            for cell in diff["cells"].get(word, ()):
                lines.append(f"  {_axes_text(cell['axes'])}  {cell['method']}: {'no value left (every seed failed)' if word == 'emptied' else 'has values again'}")
        if diff.get("failures") and any(diff["failures"]):
            lines.append(f"failed arm observations: {diff['failures'][0]} -> {diff['failures'][1]}")
        verdicts = diff["verdicts"]
        lines.append(f"paired verdicts: {len(verdicts)} changed")
        for row in verdicts:
            lines.append(f"  {_axes_text(row['axes'])}  {row['method']} vs {row['baseline']}: {row['old']} -> {row['new']}")
    for pathspec in diff["missing_results"]:
        lines.append(f"results: {pathspec} has none (it did not finish successfully); cells not compared")
    return "\n".join(lines)


def _cmd_runs(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise ValueError(f"--limit must be a positive integer, got {args.limit}")
    rows = list_runs(args.flow, args.limit, args.experiment)
    print(json.dumps(rows, indent=2, default=str) if args.format == "json" else format_runs(rows))
    return 0


def _diff_pair(flow: str, run_a: str | None, run_b: str | None, experiment: str | None) -> tuple[Any, Any]:
    """The two runs ``axisflow diff`` compares; missing ones are the latest successful runs (of ``experiment``)."""
    if run_a is not None and run_b is not None:
        return find_run(flow, run_a, experiment, successful=False), find_run(flow, run_b, experiment, successful=False)
    which = f"experiment {experiment}" if experiment else f"flow {flow}"
    if run_a is not None:
        first, latest = find_run(flow, run_a, experiment, successful=False), find_run(flow, None, experiment)
        if first.pathspec == latest.pathspec:
            raise LookupError(f"RUN_A {first.pathspec} is the latest successful run of {which}; name RUN_B to compare it with")
        return first, latest
    latest = select_runs(flow, experiment, successful=True, limit=2)
    if len(latest) < 2:
        raise LookupError(f"{which} has {len(latest)} successful run(s); diff needs two (or name RUN_A and RUN_B)")
    return latest[1], latest[0]


def _cmd_diff(args: argparse.Namespace) -> int:
    diff = diff_runs(*_diff_pair(args.flow, args.run_a, args.run_b, args.experiment))
    print(json.dumps(diff, indent=2, default=str) if args.format == "json" else format_diff(diff))
    return 0


def register(subparsers: Any) -> None:
    """Add the ``runs`` and ``diff`` subcommands to the ``axisflow`` console script."""
    runs = subparsers.add_parser(
        "runs",
        help="list past runs of a flow (newest first) with status, config hash, commit and a headline result",
        description="List the most recent runs of FLOW (of --experiment when given) in the datastore above the working directory: run id, start "
        "time, status (successful / failed / unfinished = running or killed), experiment, contract, config hash, "
        "git commit (+dirty), duration and a headline result (best method in the first cell, paired verdicts).",
    )
    runs.add_argument("--flow", default=DEFAULT_FLOW, help=f"flow name (default {DEFAULT_FLOW})")
    runs.add_argument("--experiment", metavar="NAME", help="only runs of this experiment (experiment.name)")
    runs.add_argument("--limit", type=int, default=10, metavar="N", help="show at most N runs (default 10)")
    runs.add_argument("--format", default="table", choices=["table", "json"])
    runs.set_defaults(func=_cmd_runs)

    diff = subparsers.add_parser(
        "diff",
        help="show what changed between two runs: config keys, code, packages, data and moved result cells",
        description="Compare RUN_A with RUN_B (run ids of --flow, or Flow/run_id pathspecs): changed config keys "
        "(old -> new), git commit and uncommitted diff, package versions, dataset fingerprints, result cells whose "
        "mean moved beyond both runs' confidence intervals, and paired verdicts that changed. Without RUN_B, RUN_A "
        "is compared with the latest successful run; without either, the two latest successful runs are compared "
        "(of --experiment when given, which every named run must also belong to).",
    )
    diff.add_argument("run_a", metavar="RUN_A", nargs="?", help="the earlier run (default: the second latest successful run)")
    diff.add_argument("run_b", metavar="RUN_B", nargs="?", help="the later run (default: the latest successful run)")
    diff.add_argument("--flow", default=DEFAULT_FLOW, help=f"flow name for bare run ids (default {DEFAULT_FLOW})")
    diff.add_argument("--experiment", metavar="NAME", help="pick runs of this experiment (experiment.name) only")
    diff.add_argument("--format", default="table", choices=["table", "json"])
    diff.set_defaults(func=_cmd_diff)
