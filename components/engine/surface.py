"""The run's output surface: plan at ``start``, aggregate at ``join``, pinned ``results`` at ``end``.

``results`` is the only source of conclusions. Everything in it except
:data:`components.schema.RUN_FIELDS` (the ``provenance`` block, which also says
which arms were reused from which run, and ``work``, the seam calls made in
this run) is a pure function of the resolved config and the code, so two runs
of the same config compare equal outside those two fields, whether or not one
reused the other's arms.
"""

from __future__ import annotations

from typing import Any, Mapping

from components.constants import FOLD_AXIS, LAUNCH_KEY, RESULTS_SCHEMA
from components.schema import Aggregate, Failure, MetricBlock, Results, check_results
from components.spec.declarations import locate
from components.engine.per_class import per_class_rows
from components.engine.planner import branches, plan_summary, task_count, task_groups
from components.engine.reuse import launch_checked_spec

__all__ = [
    "SCHEMA", "aggregate_records", "build_results", "failures", "fit_rows", "observations", "plan_run", "plan_tasks", "provenance",
    "secondary_observations", "task_records",
]

#: Version of the ``results`` layout (its types are in :mod:`components.schema`).
SCHEMA = RESULTS_SCHEMA


def plan_run(config: Mapping[str, Any]) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Validate ``config`` and return ``(plan counts, foreach branch list)``."""
    from components.engine.reuse import trust_launch_data

    trust_launch_data(config)  # the table was hashed at launch; start does not hash it again while it is unchanged
    spec = launch_checked_spec(config)
    return plan_summary(spec), branches(spec)


def plan_tasks(config: Mapping[str, Any], planned: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Called in ``start``: the ``branch`` step's foreach list, the branches left to run dealt into tasks.

    How many tasks: :func:`components.engine.planner.task_count` from
    ``experiment.branches_per_task`` and the slots the launch recorded
    (``config["axisflow"]["slots"]``: a local run's workers, none on a scheduler).
    """
    per_task = config["experiment"].get("branches_per_task", "auto")
    slots = config.get(LAUNCH_KEY, {}).get("slots")
    return task_groups(planned, task_count(len(planned), per_task, slots))


def task_records(inputs: Any) -> list[dict[str, Any]]:
    """Called in ``join``: every branch record of the branch tasks (``branch_records``; one ``record`` in a run resumed from an older shell)."""
    return [r for inp in inputs for r in (inp.branch_records if hasattr(inp, "branch_records") else [inp.record])]


def observations(records: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Flatten branch records into one observation per (cell, method, seed)."""
    return [obs for record in records for obs in record["observations"]]


def aggregate_records(config: Mapping[str, Any], records: list[Mapping[str, Any]]) -> Aggregate:
    """Per-cell means with intervals, paired differences against the baseline and declared contrasts.

    This is the one function the join calls; the one statistics engine behind
    it is :func:`components.stats.aggregate`, whose interval strategy the
    experiment's statistics settings pick (with a fold axis, a cross-validation one).
    """
    from components import stats
    from components.engine.reuse import trust_launch_data

    trust_launch_data(config)  # the join needs no rows: validating the launch's table again reads nothing
    spec = launch_checked_spec(config)
    settings = dict(spec.statistics)
    folds: dict[str, Any] = {"fold_axis": FOLD_AXIS, "folds": len(spec.data_axes[FOLD_AXIS])} if FOLD_AXIS in spec.data_axes else {}
    # A branch (data point x seed) is one replicate for every method and training-axis value.
    shared = {"baseline": spec.baseline, "stream_axes": sorted(a for a in spec.data_axes if a != FOLD_AXIS), **folds}
    result = stats.aggregate(observations(records), higher_is_better=spec.higher_is_better, bounds=spec.metric_info.range, **shared, **settings)
    if spec.secondary_metrics:
        # Each secondary metric: the same engine and settings, its own direction and range, its own family of
        # comparisons. A declared resolution is in the primary metric's units, so it stays with the primary.
        own = stats.for_derived_values(settings)
        result["secondary"] = {
            name: stats.aggregate(
                secondary_observations(records, name), higher_is_better=info.higher_is_better, bounds=info.range, **shared, **own
            )
            for name, info in spec.secondary_info.items()
        }
    return result


def secondary_observations(records: list[Mapping[str, Any]], name: str) -> list[dict[str, Any]]:
    """The observations of the secondary metric ``name``: each observation with its ``value`` replaced by that metric's.

    The primary metric's per-example values (nested cross-validation) and resolution are left out: they are not this metric's.

    Raises ``ValueError`` naming the branch and method of an observation without a value of ``name``.
    """
    out = []
    for record in records:
        for obs in record["observations"]:
            if name not in (obs.get("secondary") or {}):
                raise ValueError(f"branch {record.get('key')}, method {obs.get('method')}: the record has no value of secondary metric {name}")
            out.append({key: value for key, value in obs.items() if key not in ("secondary", "per_example", "resolution")} | {"value": obs["secondary"][name]})
    return out


def build_results(
    config: Mapping[str, Any],
    records: list[Mapping[str, Any]],
    aggregate: Mapping[str, Any],
    provenance: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the pinned ``results`` dict (schema in DESIGN.md, "The output surface")."""
    from components.engine.reuse import trust_launch_data

    trust_launch_data(config)  # the table's digest and rows come from the launch while the file is unchanged
    spec = launch_checked_spec(config)
    resolved = {k: v for k, v in config.items() if k != LAUNCH_KEY}
    launch = config.get(LAUNCH_KEY, {})
    info = spec.metric_info
    counts: dict[str, int] = {}
    for record in records:
        for name, n in record["counts"].items():
            counts[name] = counts.get(name, 0) + n
    # A file-backed generator says where its table came from (path, SHA-256 of its content, rows).
    source = getattr(locate(spec.data["_target_"], "data._target_"), "source", None)
    dataset = source(spec.data) if source is not None else None
    provenance = {**(provenance or {}), **({"dataset": dataset} if dataset is not None else {})}
    results: Results = {
        "schema": SCHEMA,
        "experiment": spec.name,
        "question": config["experiment"].get("question", ""),
        "contract": spec.contract,
        "config": resolved,
        "config_hash": launch.get("config_hash"),
        "overrides": list(launch.get("overrides", [])),
        # The fold axis is aggregated away (components.stats.cv); the cells' axes are the others.
        "axes": {"data": {k: v for k, v in spec.data_axes.items() if k != FOLD_AXIS}, "training": spec.training_axes},
        "cross_validation": (
            {"fold_axis": FOLD_AXIS, "folds": spec.data_axes[FOLD_AXIS], "interval": spec.statistics["cv_interval"], "split": spec.split}
            if FOLD_AXIS in spec.data_axes
            else None
        ),
        "metric": _metric_block(spec.metric["name"], spec.metric["_target_"], info),
        "task": spec.task,
        "baseline": spec.baseline,
        "methods": [m.name for m in spec.methods],
        "kinds": {m.name: m.kind for m in spec.methods},
        "seeds": spec.seeds,
        "plan": plan_summary(spec),
        "work": counts,
        "data_fingerprints": {r["key"]: r["data_fingerprint"] for r in records},
        "dataset": dataset,
        "statistics": dict(aggregate["settings"]),
        "cells": list(aggregate["cells"]),
        "paired": list(aggregate["paired"]),
        "contrasts": list(aggregate.get("contrasts", ())),
        "provenance": dict(provenance or {}),
        "fit_rows": fit_rows(records),
    }
    if spec.secondary_metrics:
        results["secondary"] = {
            name: {
                "metric": _metric_block(name, node["_target_"], spec.secondary_info[name]),
                "statistics": dict(aggregate["secondary"][name]["settings"]),
                "cells": list(aggregate["secondary"][name]["cells"]),
                "paired": list(aggregate["secondary"][name]["paired"]),
                "contrasts": list(aggregate["secondary"][name].get("contrasts", ())),
            }
            for name, node in spec.secondary_metrics.items()
        }
    # Arms that failed a seam check under nan_policy: omit (their values are dropped from the cells).
    if failed := failures(records):
        results["failures"] = failed
    # Binary and multiclass tasks: summed confusion matrices and per-class recall/precision per (cell, method).
    if (rows := per_class_rows(spec, records)) is not None:
        results["per_class"] = rows
    # Schema drift fails the run here, before anything is pinned.
    check_results(results)
    return dict(results)


def _metric_block(name: str, target: str, info: Any) -> MetricBlock:
    """A metric as the experiment names it and as its implementation declares it (always scored on the test split)."""
    return {
        "name": name,
        "target": target,
        "higher_is_better": info.higher_is_better,
        "range": list(info.range),
        "definition": info.definition,
        "split": "test",
    }


def fit_rows(records: list[Mapping[str, Any]]) -> dict[str, list[int]]:
    """``{method: [fewest, most]}`` rows its trainer was handed to fit on, over every arm of the run.

    The two differ by the split's rounding (folds of unequal size) or by a
    data axis that sets the training size.
    """
    seen: dict[str, list[int]] = {}
    for record in records:
        for training in record.get("trainings", ()):  # hand-built records in tests may carry observations only
            if "fit_rows" in training:
                seen.setdefault(training["method"], []).append(training["fit_rows"])
    return {method: [min(rows), max(rows)] for method, rows in seen.items()}


def failures(records: list[Mapping[str, Any]]) -> list[Failure]:
    """Each failed observation (cell, method, seed) with its one-line reason, in record order."""
    return [
        {"axes": obs["axes"], "method": obs["method"], "seed": obs["seed"], "failure": obs["failure"]}
        for obs in observations(records)
        if "failure" in obs
    ]


def reuse_run(
    config: Mapping[str, Any], planned: list[dict[str, Any]], *, flow: str, mode: str, run_id: str | None, **options: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Called in ``start``: ``(branches to fan out over, records of branches whose every arm is reused)``.

    Looks the planned arms up in earlier runs (:func:`components.engine.reuse.plan_reuse`)
    and assembles the record of every fully reused branch here, so it starts no
    task; the join merges those records with the branch tasks' own.
    ``options`` go to ``plan_reuse`` (``lookup``, ``log``), except ``load``, which
    goes to ``run_branch`` (how a reused arm's stored predictions are read).
    """
    from components.engine.branch import run_branch
    from components.engine.reuse import plan_reuse

    load = {"load": options.pop("load")} if "load" in options else {}
    tasks, reused = plan_reuse(config, planned, flow=flow, mode=mode, run_id=run_id, **options)
    return tasks, [run_branch(config, branch, log=lambda _: None, **load) for branch in reused]


def provenance(flow: Any) -> dict[str, Any]:
    """Where, when and from which code this run happened (excluded when comparing runs).

    Called in ``end``: reads the launch metadata from the config, the start
    timestamp (``flow.started_at``) and the branch records (``flow.records``);
    the layout is :func:`components.engine.provenance.run_provenance`'s plus ``reuse``
    (:func:`components.engine.reuse.reuse_summary`: mode, counts, each arm's origin).
    """
    from metaflow import current

    from components.engine.provenance import run_provenance
    from components.engine.reuse import reuse_summary

    records = getattr(flow, "records", [])
    return {**run_provenance(
        flow.config.to_dict(),
        records,
        flow=current.flow_name,  # type: ignore[arg-type]  # set inside a running step (this is end)
        run_id=current.run_id,  # type: ignore[arg-type]
        user=current.username,
        origin_run_id=current.origin_run_id,
        tags=current.tags or (),
        started_at=getattr(flow, "started_at", None),
    ), "reuse": reuse_summary(records, getattr(flow, "reuse", None))}
