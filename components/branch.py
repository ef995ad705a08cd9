"""Everything one foreach branch does: generate its dataset once, train every planned arm, score it.

Returns a compact, JSON-able record (scalars and short lists, never a model or
tensor) for the join. Timing fields live under ``timing`` so the prove gate can
exclude them by name.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

from components.config import validate
from components.planner import trainings
from components.surface import metric_options

__all__ = ["run_branch"]


def run_branch(config: Mapping[str, Any], branch: Mapping[str, Any], log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run one branch of the plan and return its record.

    ``config`` is the resolved config; ``branch`` one entry of
    :func:`components.planner.branches`. ``log`` receives progress lines.
    """
    from components import seams
    from components.seeding import derive_seed
    from components.training import configure_torch

    spec = validate(config)
    configure_torch(spec.training)
    calls_before = seams.CALLS.copy()
    started = time.perf_counter()
    data = seams.make_data(spec.data, branch["data_axes"], branch["seed"])
    record: dict[str, Any] = {
        "key": branch["key"],
        "order": list(branch["order"]),
        "data_axes": dict(branch["data_axes"]),
        "seed_index": branch["seed_index"],
        "seed": branch["seed"],
        "data_fingerprint": data.fingerprint(),
        "trainings": [],
        "observations": [],
        "timing": {"data_seconds": time.perf_counter() - started, "training_seconds": []},
    }
    plan = trainings(spec)
    for number, item in enumerate(plan, 1):
        method = spec.method(item.method)
        train_cfg = {**spec.training, **item.train_axes}
        axes_text = ", ".join(f"{k}={v}" for k, v in item.train_axes.items()) or "all training cells"
        log(f"[{branch['key']}] training {number}/{len(plan)}: {method.name} ({axes_text})")
        seed = derive_seed(branch["seed"], method.name)
        t0 = time.perf_counter()
        result = seams.train_arm({**method.spec, "name": method.name}, data, seed, train_cfg)
        record["timing"]["training_seconds"].append(time.perf_counter() - t0)
        value = seams.metric(result.scores, data.y_test, **metric_options(spec.metric)[0])
        record["trainings"].append(
            {
                "method": method.name,
                "train_axes": dict(item.train_axes),
                "seed": seed,
                "value": value,
                "val_score": float(result.val_score),
                "info": _scalars(result.info),
                # Sorted by name: a trainer's history may be filled in set order, which follows
                # each process's string-hash seed, so the record's key order would vary per run.
                "history": {name: [float(v) for v in values] for name, values in sorted(result.history.items())},
            }
        )
        for cell in item.cells:
            record["observations"].append(
                {"axes": {**branch["data_axes"], **cell}, "method": method.name, "seed": branch["seed_index"], "value": value}
            )
    calls = seams.CALLS - calls_before
    record["counts"] = {name: calls[name] for name in sorted(calls)}
    record["timing"]["branch_seconds"] = time.perf_counter() - started
    return record


def _scalars(info: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v if v is None or isinstance(v, (bool, int, str)) else float(v)) for k, v in info.items()}
