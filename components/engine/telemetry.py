"""Training telemetry and run progress.

Every training in a branch record carries its per-epoch ``history`` (equal-length
lists of floats keyed by name: ``epoch``, ``train_loss``, ``val_loss``,
``val_metric`` (the experiment's metric on the validation split); NaN where a value was not computed that epoch). Branch records
reach the ``join`` and ``end`` steps as the ``records`` artifact, so a card or a
notebook reads learning curves with::

    from components.engine.telemetry import learning_curves, mean_curves
    curves = learning_curves(run["end"].task.data.records)

:func:`branches_done` is the progress counter a foreach branch calls when it
finishes: it counts the finished sibling tasks through Metaflow's own client
(local datastore or metadata service), so it needs no extra state and works
wherever the client can see the run; elsewhere it returns ``None`` and the
branch prints its position only.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from components.stats import cell_sort_key

__all__ = ["branches_done", "learning_curves", "mean_curves"]


def learning_curves(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One learning curve per (cell, method, seed), in canonical cell order then seed.

    ``records`` are branch records (:func:`components.engine.branch.run_branch`). Each
    returned dict has ``axes`` (data axes plus the training cell), ``method``,
    ``seed`` (replicate index, as in ``results["cells"]``), ``branch`` (the branch
    key), ``train_axes`` (what the training itself used: empty for an
    axis-agnostic method), ``shared`` (True when one training is scored in
    several training cells, so its curve repeats across them), ``epoch`` (list
    of epoch numbers), ``curves`` (``{name: list of floats}`` aligned on
    ``epoch``, exact values as trained) and ``info`` (``epochs_run``,
    ``best_epoch``, ``stopped_epoch`` ... when the trainer reported them).
    """
    out = []
    for record in records:
        trainings = record["trainings"]
        for obs in record["observations"]:
            training = next(
                t
                for t in trainings
                if t["method"] == obs["method"] and all(obs["axes"].get(k) == v for k, v in t["train_axes"].items())
            )
            history = training.get("history", {})
            out.append(
                {
                    "axes": dict(obs["axes"]),
                    "method": obs["method"],
                    "seed": obs["seed"],
                    "branch": record["key"],
                    "train_axes": dict(training["train_axes"]),
                    "shared": sum(o["method"] == obs["method"] for o in record["observations"]) > 1
                    and not training["train_axes"],
                    "epoch": [int(e) for e in history.get("epoch", [])],
                    "curves": {name: list(values) for name, values in history.items() if name != "epoch"},
                    "info": dict(training.get("info", {})),
                }
            )
    return sorted(out, key=lambda c: (cell_sort_key(c["axes"], c["method"]), c["seed"]))


def mean_curves(curves: Iterable[Mapping[str, Any]], name: str) -> list[dict[str, Any]]:
    """Average curve ``name`` over seeds for every (cell, method), epoch by epoch.

    ``curves`` come from :func:`learning_curves`. Returns one dict per cell and
    method with ``axes``, ``method``, ``epoch`` (0 .. longest run - 1), ``mean``
    and ``n`` (how many seeds contribute at that epoch: early-stopped runs and
    epochs where ``name`` was not evaluated drop out, so ``n`` can shrink);
    ``mean`` is NaN where ``n`` is 0.
    """
    groups: dict[tuple, dict[str, Any]] = {}
    for curve in curves:
        if name not in curve["curves"]:
            continue
        key = (tuple(sorted((k, repr(v)) for k, v in curve["axes"].items())), curve["method"])
        group = groups.setdefault(key, {"axes": dict(curve["axes"]), "method": curve["method"], "sums": {}, "counts": {}})
        for epoch, value in zip(curve["epoch"], curve["curves"][name]):
            if value is not None and not math.isnan(value):
                group["sums"][epoch] = group["sums"].get(epoch, 0.0) + value
                group["counts"][epoch] = group["counts"].get(epoch, 0) + 1
    out = []
    for group in groups.values():
        last = max(group["counts"], default=-1)
        epochs = list(range(last + 1))
        counts = [group["counts"].get(e, 0) for e in epochs]
        means = [group["sums"][e] / n if n else float("nan") for e, n in zip(epochs, counts)]
        out.append({"axes": group["axes"], "method": group["method"], "epoch": epochs, "mean": means, "n": counts})
    return sorted(out, key=lambda c: cell_sort_key(c["axes"], c["method"]))


def branches_done(sizes: list[int] | None = None, limit: int = 512) -> int | None:
    """How many branches of the *other* tasks of the running foreach step have finished; ``None`` if unknown.

    Call it inside a Metaflow task. It lists the step's tasks through the
    client (no namespace filter) and counts those with a completed attempt;
    tasks cloned by ``resume`` count as finished. A finished task counts its
    branches: ``sizes[i]`` for the task of foreach index ``i`` (every task's
    branch count, :func:`components.engine.branch.run_task`), one without
    ``sizes``. Two tasks finishing at the same moment may both miss each
    other, so the count is a lower bound. With more than ``limit`` tasks (each
    check reads one small artifact) or when the client cannot see this run
    (e.g. a remote task without a metadata service) it returns ``None``.
    """
    from metaflow import Step, current

    if not current.is_running_flow:
        return None
    try:
        step = Step(f"{current.flow_name}/{current.run_id}/{current.step_name}", _namespace_check=False)
        tasks = [task for task in step if task.id != str(current.task_id)]
        if len(tasks) > limit:
            return None
        finished = [task for task in tasks if task.finished]
        return sum(sizes[task.index] if sizes is not None and task.index is not None else 1 for task in finished)
    except Exception:  # progress must never fail a branch; the caller then prints its position only
        return None
