"""Turn a validated experiment into branches and, per branch, the exact trainings.

The fan-out grain is the dataset: one branch per (data-axis values, seed index).
Inside a branch an ``axis_agnostic`` method trains once and is scored in every
training-axis cell; an ``axis_dependent`` method trains once per cell.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from components.spec.config import ExperimentSpec
from components.seeding import branch_key, derive_seed

__all__ = ["Training", "branches", "plan_summary", "task_count", "task_groups", "training_cells", "trainings"]


@dataclass(frozen=True)
class Training:
    """One call of ``train_arm`` inside a branch.

    ``train_axes`` are the training-axis values applied to the training config
    (empty for an axis-agnostic method); ``cells`` are the training-axis cells
    whose results this training supplies.
    """

    method: str
    train_axes: dict[str, Any]
    cells: tuple[dict[str, Any], ...]


def _grid(axes: dict[str, list[Any]]) -> list[tuple[tuple[int, ...], dict[str, Any]]]:
    """Cartesian product of ``axes`` (names sorted) as ``(value indices, {name: value})`` pairs."""
    names = sorted(axes)
    out = []
    for idx in itertools.product(*(range(len(axes[n])) for n in names)):
        out.append((idx, {n: axes[n][i] for n, i in zip(names, idx)}))
    return out


def training_cells(spec: ExperimentSpec) -> list[dict[str, Any]]:
    """Every combination of training-axis values (one empty cell when there are no training axes)."""
    return [cell for _, cell in _grid(spec.training_axes)]


def branches(spec: ExperimentSpec) -> list[dict[str, Any]]:
    """The foreach list: one plain dict per (data-axis values, seed index), in canonical order.

    Each has ``key`` (readable, unique), ``order`` (sort key: axis-value indices
    then seed index), ``data_axes``, ``seed_index`` and ``seed``. The seed comes
    from the experiment's ``seed_base`` and the seed index only: branches that
    differ only in a data-axis value share it (common random numbers), so a
    generator can hold everything but that axis fixed, and comparisons along a
    data axis are paired by seed. Data-axis values reach the generator as
    ``data_axes``; it derives any axis-specific stream from them.
    """
    out = []
    for idx, axes in _grid(spec.data_axes):
        for seed_index in range(spec.seeds):
            out.append(
                {
                    "key": branch_key(axes, seed_index),
                    "order": [*idx, seed_index],
                    "data_axes": axes,
                    "seed_index": seed_index,
                    "seed": derive_seed("replicate", spec.seed_base, seed_index),
                }
            )
    return out


def task_count(branch_count: int, per_task: int | str, slots: int | None) -> int:
    """How many foreach tasks carry ``branch_count`` branches (``experiment.branches_per_task``).

    An integer ``per_task`` puts at most that many branches in a task.
    ``auto`` fits the grain to where the tasks run: a local run has ``slots``
    tasks running at once (its ``--max-workers``, at most the cores this
    process may use; :func:`components.shell.prepare_argv` records it at
    launch), and starting a task costs an interpreter and its imports, so it
    gets one task per slot; with no slots recorded (a deployment such as
    ``argo-workflows create``, a ``--with kubernetes`` run) a scheduler spreads
    the tasks, and every branch gets its own.
    """
    if branch_count <= 0:
        return 0
    if per_task == "auto":
        return branch_count if slots is None else max(1, min(branch_count, slots))
    return -(-branch_count // int(per_task))


def task_groups(planned: list[dict[str, Any]], tasks: int) -> list[list[dict[str, Any]]]:
    """Deal the branches (canonical order) round-robin into ``tasks`` groups: the foreach list of the ``branch`` step.

    Round-robin spreads every data-axis value (and so branches of different
    cost, such as training-set sizes) over the tasks; group sizes differ by at
    most one, and each group keeps canonical order. A branch's record depends
    on the branch alone, never on which task or in which company it ran (the
    determinism gate checks this: its two worker counts give different groups).
    """
    if not planned:
        return []
    count = max(1, min(tasks, len(planned)))
    return [planned[i::count] for i in range(count)]


def trainings(spec: ExperimentSpec) -> list[Training]:
    """The trainings every branch runs, methods in name order, cells in grid order."""
    cells = tuple(training_cells(spec))
    out: list[Training] = []
    for method in spec.methods:
        if method.axis_dependent:
            out.extend(Training(method.name, cell, (cell,)) for cell in cells)
        else:
            out.append(Training(method.name, {}, cells))
    return out


def plan_summary(spec: ExperimentSpec) -> dict[str, int]:
    """Counts of work, against a naive fan-out with one branch per config cell.

    The naive plan regenerates data and retrains every method in every
    (data cell, training cell, method, seed) branch. Under ``cv_interval:
    nested``, ``nested_inner_trainings`` counts the inner fits besides.
    """
    n_branches = len(branches(spec))
    per_branch = len(trainings(spec))
    naive = n_branches * len(training_cells(spec)) * len(spec.methods)
    summary = {
        "branches": n_branches,
        "trainings_per_branch": per_branch,
        "trainings": n_branches * per_branch,
        "data_generations": n_branches,
        "naive_branches": naive,
        "naive_trainings": naive,
        "naive_data_generations": naive,
    }
    if spec.statistics.get("cv_interval") == "nested":
        # Nested cross-validation: every training also fits the k - 1 inner folds of its branch's outer fold.
        summary["nested_inner_trainings"] = n_branches * per_branch * (int(spec.data["n_splits"]) - 1)
    return summary
