"""Everything one foreach branch does: generate its dataset once, train every planned arm, score it.

Returns a compact, JSON-able record (scalars and short lists, never a model or
tensor) for the join. Timing fields live under ``timing`` so the prove gate can
exclude them by name. Arms the branch dict marks as reused from an earlier run
(``branch["arms"]``, see :mod:`components.engine.reuse`) are copied into the record
instead of trained, and ``record["provenance"]`` says per arm which it was;
an arm of a binary or multiclass task also records its test confusion matrix
(:func:`components.spec.confusion.confusion`);
a branch with nothing to train generates no data and imports nothing heavy.

Progress: the branch logs ``branch k/N started`` and ``branch k/N finished`` with
its position in the plan, and, when the caller can count finished sibling
branches (``done``, e.g. :func:`components.engine.telemetry.branches_done` inside a
Metaflow task), how many of the N are done. A failing seam raises a
``RuntimeError`` naming the branch key, the method and its training axes,
chained to the original exception so both tracebacks are printed. An arm whose
values break a seam's promise (:class:`components.spec.seams.SeamError`: NaN
predictions, a metric outside its range) fails the branch the same way, unless
``experiment.statistics.nan_policy`` is ``omit``: then the arm is recorded as
failed (NaN value, ``failure`` = the one-line reason) and the branch goes on.
"""

from __future__ import annotations

import functools
import importlib
import sys
import time
from typing import Any, Callable, Mapping

import numpy as np

from components.spec.config import validate
from components.spec.declarations import excerpt
from components.engine.planner import branches, trainings
from components.constants import ERROR_PREFIX, FOLD_AXIS, RECORD_SCHEMA
from components.engine.reuse import (
    PREDICTIONS_SCHEMA, arm_keys, arm_provenance, arm_threads, check_planned_keys, check_reused, pin_threads, reused_training,
    stored_predictions, verify_inputs,
)
from components.engine.checkpoint_store import finished_name, saved_for_resume, task_store
from components.spec.arm import ArmContext, arm_scope
from components.spec.confusion import confusion

__all__ = ["run_branch", "run_task"]


def _reports_first(run: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Print a failing branch's one-line reason before Metaflow prints its traceback.

    The reason names the branch, method and training axes (the messages below
    are written that way); the launching shell prints it again as its last line
    (:mod:`components.outputs.failures`), so it is the first and the last thing
    a reader sees of a failure.
    """

    @functools.wraps(run)
    def reporting(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return run(*args, **kwargs)
        except Exception as exc:
            line = str(exc).strip().splitlines()[0] if isinstance(exc, RuntimeError) and str(exc).strip() else _reason(exc)
            print(f"{ERROR_PREFIX}{line}", file=sys.stderr, flush=True)
            raise

    return reporting


@_reports_first
def run_branch(
    config: Mapping[str, Any],
    branch: Mapping[str, Any],
    log: Callable[[str], None] = print,
    done: Callable[[], int | None] | None = None,
    keep: dict[str, Any] | None = None,
    load: Callable[[str], Mapping[str, Any]] = stored_predictions,
) -> dict[str, Any]:
    """Run one branch of the plan and return its record.

    ``config`` is the resolved config; ``branch`` one entry of
    :func:`components.engine.planner.branches`. ``log`` receives progress lines;
    ``done()`` (optional) returns how many *other* branches of the run have
    finished, or ``None`` when it cannot tell. ``keep`` (optional) is filled
    with what a later run needs to score this branch's trained arms again:
    ``{"targets", "arms": {arm key: test predictions}}``, this branch's entry of
    the task's ``predictions`` artifact (:func:`run_task`). ``load(task)``
    returns ``{arm key: (predictions, targets)}`` stored by the task that
    trained a reused arm (:func:`components.engine.reuse.stored_predictions`),
    whose predictions are scored with the experiment's secondary metrics here,
    so those never enter a reuse key.
    """
    from components.spec import seams
    from components.seeding import derive_seed

    # Validation resolves every implementation the config names; the heavy modules trainers declare
    # (torch, scikit-learn) are imported here too, before the clock starts, so seam timings measure work.
    imports_started = time.perf_counter()
    spec = validate(config)
    plan = trainings(spec)
    # Arms reused from earlier runs (components.engine.reuse.plan_reuse) are copied, not trained; without a plan, all train.
    # The code and data this task sees must be the launch's, and the planned keys those of what runs here.
    verify_inputs(config, spec, f"branch {branch['key']}")
    arms = check_planned_keys(spec, branch)
    train = [i for i, arm in enumerate(arms) if "reused" not in arm or arm.get("verify")]
    methods = {plan[i].method for i in train}
    for module in sorted({name for method in spec.methods if method.name in methods for name in method.imports}):
        importlib.import_module(module)
    import_seconds = time.perf_counter() - imports_started
    calls_before = seams.CALLS.copy()
    keys = [b["key"] for b in branches(spec)]
    nan_policy = spec.statistics.get("nan_policy", "raise")  # the statistics engine's own default
    where = f"[{branch['key']}] branch {keys.index(branch['key']) + 1}/{len(keys)}"
    if train:
        log(f"{where} started" + (f"; {len(arms) - len(train)} of {len(arms)} arms reused" if len(train) < len(arms) else ""))
    started_at, started = time.time(), time.perf_counter()
    nested = spec.statistics.get("cv_interval") == "nested"
    try:
        data = seams.make_data(spec.data, branch["data_axes"], branch["seed"]) if train else None
        inner = _inner_splits(spec, branch) if train and nested else []
    except Exception as exc:
        raise RuntimeError(f"branch {branch['key']}, make_data ({spec.data['_target_']}): {_reason(exc)}") from exc
    fingerprint = data.fingerprint() if data is not None else arms[0]["reused"]["data_fingerprint"]
    if keep is not None:
        keep.update({"targets": data.y_test if data is not None else None, "arms": {}})
    record: dict[str, Any] = {
        "schema": RECORD_SCHEMA,
        "key": branch["key"],
        "order": list(branch["order"]),
        "data_axes": dict(branch["data_axes"]),
        "seed_index": branch["seed_index"],
        "seed": branch["seed"],
        "data_fingerprint": fingerprint,
        "trainings": [],
        "observations": [],
        "timing": {
            "started_at": started_at,
            "import_seconds": import_seconds,
            "data_seconds": time.perf_counter() - started,
            "training_seconds": [],
        },
    }
    for number, item in enumerate(plan, 1):
        method = spec.method(item.method)
        train_cfg = {**spec.training, **item.train_axes}
        axes_text = ", ".join(f"{k}={v}" for k, v in item.train_axes.items()) or "all training cells"
        arm = f"branch {branch['key']}, method {method.name}, training axes {axes_text if item.train_axes else 'none'}"
        if number - 1 not in train:
            training = reused_training(arms[number - 1], item)
            if spec.secondary_metrics:
                rescored = None if "failure" in training else _stored(arms[number - 1], load, arm)
                training.update(_secondary(spec, rescored, arm, nan_policy))
            record["trainings"].append(training)
            _observe(record, branch, item, training)
            continue
        if data is None:  # make_data runs whenever an arm trains; the check narrows the type
            raise RuntimeError(f"branch {branch['key']}: arm {number} trains but no data was made")
        log(f"[{branch['key']}] training {number}/{len(plan)}: {method.name} ({axes_text})")
        seed = derive_seed(branch["seed"], method.name)
        pin_threads(arm_threads(train_cfg))
        t0 = time.perf_counter()
        method_spec = {**method.spec, "name": method.name}
        try:
            with arm_scope(ArmContext(arms[number - 1]["key"], spec.contract, task_store())):
                result = seams.train_arm(method_spec, data, seed, train_cfg, metric_spec=spec.metric, unused_validation=spec.unused_validation)
            train_seconds = time.perf_counter() - t0
            value = seams.metric(result.predictions, data.y_test, metric_spec=spec.metric)
            training = _training(method.name, item, seed, value, result, confusion(result.predictions, data, spec.metric))
            if nested:
                context = ArmContext(arms[number - 1]["key"], spec.contract, task_store())
                training["per_example"] = _per_example(spec, method_spec, seed, train_cfg, data, result, value, inner, context)
                train_seconds = time.perf_counter() - t0
            # The metric's step on this test split: ties among seeds get an interval from it, not certainty.
            resolution = seams.metric_resolution(result.predictions, data.y_test, metric_spec=spec.metric)
            if resolution is not None:
                training["resolution"] = resolution
            # The array the trainer returned, as it is: a later run scores it again bit for bit (secondary metrics).
            scored: tuple[Any, Any] | None = (np.asarray(result.predictions), data.y_test)
        except seams.SeamError as exc:
            if nan_policy != "omit":
                raise RuntimeError(f"{arm}: {_reason(exc)} (experiment.statistics.nan_policy: omit records such an arm as failed)") from exc
            # A value that broke a seam's promise is a result about the method: recorded, shown, dropped from the statistics.
            log(f"[{branch['key']}] training {number}/{len(plan)}: {method.name} FAILED: {_reason(exc)}")
            train_seconds, training = time.perf_counter() - t0, _failed(method.name, item, seed, f"{arm}: {_reason(exc)}")
            scored = None
        except Exception as exc:
            # Name the arm: Metaflow prints this line and, through the chain, the original traceback.
            raise RuntimeError(f"{arm}: {_reason(exc)}") from exc
        record["timing"]["training_seconds"].append(train_seconds)
        # How many rows the trainer was handed to fit on (train, or train + validation: seams.fit_data).
        training["fit_rows"] = len(seams.fit_data(method_spec, data, spec.unused_validation).y_train)
        if keep is not None and scored is not None:
            keep["arms"][arms[number - 1]["key"]] = scored[0]
        training.update(_secondary(spec, scored, arm, nan_policy))
        record["trainings"].append(training)
        if "reused" in arms[number - 1]:  # --reuse verify: this arm was recomputed to check the reused one
            check_reused(arms[number - 1], record["trainings"][-1], fingerprint, branch["key"])
        _observe(record, branch, item, training)
    calls = seams.CALLS - calls_before
    record["counts"] = {name: calls[name] for name in sorted(calls)}
    record["provenance"] = arm_provenance(arms, train)
    record["timing"]["branch_seconds"] = time.perf_counter() - started
    record["timing"]["finished_at"] = time.time()
    if not train:
        return record
    others = done() if done is not None else None
    progress = f"; {others + 1} of {len(keys)} branches done" if others is not None else ""
    log(f"{where} finished in {record['timing']['branch_seconds']:.1f}s{progress}")
    return record


def run_task(
    config: Mapping[str, Any], group: list[Mapping[str, Any]] | Mapping[str, Any], sizes: list[int] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run the branches of one foreach task in order: ``(their records, the task's predictions artifact)``.

    ``group`` is one entry of :func:`components.engine.planner.task_groups`
    and ``sizes`` every task's branch count, for the progress count
    (:func:`components.engine.telemetry.branches_done`). Each branch runs as
    it would alone (:func:`run_branch`); its record does not depend on the
    others. A task of several branches saves each finished branch but its last
    in the run's checkpoint store, so ``resume`` of a task that failed part-way
    re-runs only its unfinished branches (:func:`_resumed`); the join clears
    them once every task's artifacts are stored
    (:func:`components.engine.checkpoint_store.clear_finished`).
    """
    from components.engine.telemetry import branches_done

    group = [group] if isinstance(group, Mapping) else list(group)  # one branch per input: a run from an older shell, resumed
    store = task_store() if saved_for_resume(len(group)) else None
    records: list[dict[str, Any]] = []
    stored: dict[str, Any] = {}
    for position, branch in enumerate(group):
        keep: dict[str, Any] = {}
        restored = _resumed(store, config, branch)
        if restored is not None:
            record, keep = restored
            log(f"[{branch['key']}] finished before its task stopped; taken from the run being resumed")
        else:
            def done(position: int = position) -> int | None:
                others = branches_done(sizes)
                return None if others is None else others + position

            record = run_branch(config, branch, log=log, done=done, keep=keep)
        records.append(record)
        if keep:
            stored[branch["key"]] = keep
        if store is not None and position < saved_for_resume(len(group)):
            _save_finished(store, branch, record, keep)
    return records, {"schema": PREDICTIONS_SCHEMA, "branches": stored}


def _save_finished(store: Any, branch: Mapping[str, Any], record: dict[str, Any], keep: dict[str, Any]) -> None:
    """Save a finished branch of a multi-branch task under this run's id."""
    import pickle

    from metaflow import current

    name = finished_name(str(current.run_id), branch)
    keys = [arm["key"] for arm in record["provenance"]["arms"]]
    store.save(name, pickle.dumps({"keys": keys, "record": record, "keep": keep}))


def _resumed(store: Any, config: Mapping[str, Any], branch: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """``(record, predictions)`` of ``branch`` if the task this one resumes finished it before failing, else ``None``.

    Only under ``resume`` (Metaflow sets the origin run id), only a record
    saved by that run's task for this branch, and only when its arms' keys are
    the keys of what would run here (the same code, config, data and
    environment: :func:`components.engine.reuse.arm_keys`). Its
    trained arms are stamped as this task's: their predictions are stored here.
    """
    import pickle

    from metaflow import current

    if store is None or not current.origin_run_id:
        return None
    blob = store.load(finished_name(str(current.origin_run_id), branch))
    if not blob:
        return None
    saved = pickle.loads(blob)  # written by this flow's own task into this run's datastore (_save_finished)
    record = saved["record"]
    if record.get("key") != branch["key"] or saved["keys"] != arm_keys(validate(config), branch):
        return None
    run, task = f"{current.flow_name}/{current.run_id}", current.pathspec
    arms = record["provenance"]["arms"]
    record["provenance"] = {
        "task": task,
        "arms": [{**arm, "run": run, "task": task} if arm["origin"] != "reused" else arm for arm in arms],
    }
    record["timing"] = {**record["timing"], "resumed_from": str(current.origin_run_id)}
    return record, saved["keep"]


def _training(method: str, item: Any, seed: int, value: float, result: Any, counts: dict[str, Any] | None) -> dict[str, Any]:
    """The training record of an arm that trained and scored; ``counts`` its confusion matrix (``None`` unless classification)."""
    training = {
        "method": method,
        "train_axes": dict(item.train_axes),
        "seed": seed,
        "value": value,
        "val_score": float(result.val_score),
        "info": _scalars(result.info),
        # Sorted by name: a trainer's history may be filled in set order, which follows
        # each process's string-hash seed, so the record's key order would vary per run.
        "history": {name: [float(v) for v in values] for name, values in sorted(result.history.items())},
    }
    return {**training, "confusion": counts} if counts is not None else training


def _failed(method: str, item: Any, seed: int, reason: str) -> dict[str, Any]:
    """The training record of an arm that failed a seam check: NaN values and the one-line ``failure`` reason."""
    nan = float("nan")
    return {
        "method": method, "train_axes": dict(item.train_axes), "seed": seed, "value": nan, "val_score": nan,
        "info": {}, "history": {}, "failure": reason,
    }


def _reason(exc: BaseException) -> str:
    """One line for ``exc``: its type and the first line of its message."""
    text = str(exc).strip().splitlines()
    # An implementation's exception may quote anything (a whole file, a huge array): keep a short, printable excerpt.
    return f"{type(exc).__name__}: {excerpt(text[0], 300, quote=False) if text else ''}"


def _observe(record: dict[str, Any], branch: Mapping[str, Any], item: Any, training: Mapping[str, Any]) -> None:
    """Add one observation per training-axis cell the training ``item`` supplies (its ``failure`` reason, resolution, per-example and secondary values, if any)."""
    extra = {key: training[key] for key in ("per_example", "failure", "resolution") if key in training}
    if "secondary" in training:
        extra["secondary"] = dict(training["secondary"])
    for cell in item.cells:
        observation = {"axes": {**branch["data_axes"], **cell}, "method": item.method, "seed": branch["seed_index"], "value": training["value"]}
        record["observations"].append({**observation, **extra})


def _inner_splits(spec: Any, branch: Mapping[str, Any]) -> list[tuple[int, Any]]:
    """Nested cross-validation: ``(held-out fold, dataset)`` for every fold but this branch's, made once for all arms."""
    from components.spec import seams

    fold = branch["data_axes"][FOLD_AXIS]
    held_out = [j for j in range(int(spec.data["n_splits"])) if j != fold]
    return [(j, seams.make_nested_data(spec.data, branch["data_axes"], branch["seed"], j)) for j in held_out]


def _per_example(
    spec: Any, method_spec: Mapping[str, Any], seed: int, train_cfg: Mapping[str, Any], data: Any, result: Any, value: float,
    inner: list[tuple[int, Any]], context: ArmContext,
) -> dict[str, list[float]]:
    """Nested CV's per-example values of an arm: ``outer`` on the test fold, ``inner`` from a fit per other fold.

    Each inner fit trains the same method on the folds other than this
    branch's and ``held_out`` and is scored on ``held_out`` (seeded from the
    arm's seed and that fold; its checkpoints under its own name); ``inner``
    concatenates those folds' values in ascending fold order.
    """
    from components.seeding import derive_seed
    from components.spec import seams

    outer = seams.per_example(result.predictions, data.y_test, value, metric_spec=spec.metric)
    pieces = []
    for held_out, fold_data in inner:
        with arm_scope(ArmContext(f"{context.key}.nested{held_out}", context.contract, context.store)):
            fit = seams.train_arm(
                method_spec, fold_data, derive_seed(seed, "nested", held_out), train_cfg,
                metric_spec=spec.metric, unused_validation=spec.unused_validation,
            )
        fold_value = seams.metric(fit.predictions, fold_data.y_test, metric_spec=spec.metric)
        pieces.append(seams.per_example(fit.predictions, fold_data.y_test, fold_value, metric_spec=spec.metric))
    return {"outer": outer.tolist(), "inner": [float(v) for piece in pieces for v in piece]}


def _secondary(spec: Any, scored: tuple[Any, Any] | None, arm: str, nan_policy: str) -> dict[str, Any]:
    """The training-record fields of the secondary metrics: ``{"secondary": {name: value}}`` (``{}`` when there are none).

    ``scored`` is ``(test predictions, test targets)``, or ``None`` for an arm
    that failed (its secondary values are NaN like its primary one). A
    secondary metric that breaks its promise fails the branch naming the arm
    and the metric, or under ``nan_policy: omit`` records NaN with the reason
    in ``secondary_failures``; the primary value stands either way.
    """
    from components.spec import seams

    if not spec.secondary_metrics:
        return {}
    values: dict[str, float] = {}
    failures: dict[str, str] = {}
    for name, node in spec.secondary_metrics.items():
        if scored is None:
            values[name] = float("nan")
            continue
        try:
            values[name] = seams.secondary_metric(*scored, name=name, metric_spec=node)
        except seams.SeamError as exc:
            if nan_policy != "omit":
                raise RuntimeError(f"{arm}, secondary metric {name}: {_reason(exc)} (experiment.statistics.nan_policy: omit records it as NaN)") from exc
            values[name], failures[name] = float("nan"), f"{arm}, secondary metric {name}: {_reason(exc)}"
        except Exception as exc:
            raise RuntimeError(f"{arm}, secondary metric {name}: {_reason(exc)}") from exc
    return {"secondary": values, **({"secondary_failures": failures} if failures else {})}


def _stored(arm: Mapping[str, Any], load: Callable[[str], Mapping[str, Any]], where: str) -> tuple[Any, Any]:
    """``(test predictions, test targets)`` of a reused arm, read from the task that trained it."""
    task = arm["reused"].get("task")
    stored = load(task) if task else {}
    if arm["key"] not in stored:
        raise RuntimeError(
            f"{where}: reused from {task or arm['reused'].get('run')}, which stored no test predictions for it, so the secondary "
            "metrics cannot score it; rerun with --reuse off"
        )
    return stored[arm["key"]]


def _scalars(info: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v if v is None or isinstance(v, (bool, int, str)) else float(v)) for k, v in info.items()}
