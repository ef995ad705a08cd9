"""The prove gate: run a flow twice at two worker counts and diff what it concluded, bit for bit.

``uv run axisflow prove flows/<flow>.py [overrides] [--workers A B]`` runs the
flow twice, each time in its own temporary datastore (:func:`components.outputs.runs.run_flow`),
then compares the pinned output surface (the ``end`` step's ``results``) and
every branch's record (the join's ``records``, or each branch task's ``record``)
exactly: floats by their bits, types included, lists in order. Only the fields
in :data:`EXCLUDED` are skipped; each entry says why it may differ.

What the experiment's ``contract`` asks for:

* ``order_independent``: the two runs use 1 and 2 workers (or ``--workers A B``).
* ``single_worker``: both runs use 1 worker; determinism is claimed there only,
  and the shell refuses more workers anyway.
* ``nondeterministic``: nothing is run; the verdict is ``SKIPPED`` and says why.

Both runs recompute every arm (``--reuse off``): the gate never reuses earlier results.

Exit status: 0 proven or skipped, 1 the runs differ (the first difference names
the branch, method, training-axis values and field), 2 usage errors and runs
that could not finish (no verdict).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import struct
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from components.spec.config import ConfigError, ExperimentSpec, load_spec
from components.constants import PROVE_REPORT_SCHEMA

__all__ = [
    "EXCLUDED",
    "REPORT_SCHEMA",
    "Difference",
    "ProveError",
    "RunInfo",
    "Verdict",
    "compare",
    "prove",
    "register",
    "workers_for",
]

#: Fields left out of the comparison, as glob patterns over schema paths
#: (``results.<key>...`` and ``records[].<key>...``, ``[]`` standing for any list
#: element), each with the reason it legitimately differs between two runs of
#: the same config. Everything else must match bit for bit.
EXCLUDED: dict[str, str] = {
    "results.provenance": "where and when the run happened (run id, user, lint verdict, timestamps, host, workers)",
    "*.timing": "wall-clock durations and timestamps (a branch record's timing block)",
    "records[].provenance.task": "the Metaflow task that ran the branch (its run id differs between runs)",
    "records[].provenance.arms[].run": "the run that trained the arm (this run: its id differs between runs)",
    "records[].provenance.arms[].task": "the task that trained the arm (its run id differs between runs)",
}
#: Version of the JSON verdict written by ``--report``.
REPORT_SCHEMA = PROVE_REPORT_SCHEMA

_MISSING = object()


class ProveError(Exception):
    """The gate could not reach a verdict (usage error or a run that failed); one line."""


@dataclass(frozen=True)
class Difference:
    """One field whose value differs between the two runs.

    ``path`` locates it (``records[<branch key>].trainings[<method> <axes>].value``);
    ``branch``, ``method``, ``axes`` (training-axis values of a training, or the
    cell's axes in ``results``) and ``field`` say the same thing in parts;
    ``a`` and ``b`` are the ``repr`` of both values.
    """

    path: str
    field: str
    a: str
    b: str
    branch: str | None = None
    method: str | None = None
    axes: dict[str, Any] | None = None

    def describe(self, labels: tuple[str, str] = ("run 1", "run 2")) -> str:
        """One line: where the difference is, then both values."""
        where = []
        if self.branch is not None:
            where.append(f"branch {self.branch}")
        if self.method is not None:
            where.append(f"method {self.method}")
        if self.axes:
            where.append(", ".join(f"{k}={v!r}" for k, v in self.axes.items()))
        prefix = ", ".join(where) + ": " if where else ""
        return f"{prefix}{self.field} is {self.a} in {labels[0]} but {self.b} in {labels[1]} [{self.path}]"


@dataclass(frozen=True)
class RunInfo:
    """One of the gate's two runs: worker count, Metaflow pathspec, wall-clock seconds.

    ``branch_tasks`` maps each foreach index to its Metaflow task id.
    """

    workers: int
    pathspec: str
    seconds: float
    branch_tasks: dict[int, str] = field(default_factory=dict)


@dataclass
class Verdict:
    """The gate's outcome: ``status`` is ``proven``, ``differs`` or ``skipped``; ``message`` is the verdict line."""

    status: str
    message: str
    flow_file: str
    experiment: str
    contract: str
    overrides: list[str]
    workers: tuple[int, ...] = ()
    runs: list[RunInfo] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    compared: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 when proven or skipped, 1 when the runs differ."""
        return 1 if self.status == "differs" else 0

    def to_json(self, limit: int = 200) -> dict[str, Any]:
        """The verdict as a JSON-able dict.

        ``locations`` holds the first difference at every place that differs
        (branch, method, training-axis values, item); ``differences`` the first
        ``limit`` differing fields in full; ``n_differences`` counts them all.
        """
        return {
            "schema": REPORT_SCHEMA,
            "status": self.status,
            "message": self.message,
            "flow_file": self.flow_file,
            "experiment": self.experiment,
            "contract": self.contract,
            "overrides": self.overrides,
            "workers": list(self.workers),
            "excluded": dict(EXCLUDED),
            "compared": self.compared,
            "runs": [asdict(r) for r in self.runs],
            "n_differences": len(self.differences),
            "locations": [asdict(d) for d in _first_per_location(self.differences)],
            "differences": [asdict(d) for d in self.differences[:limit]],
            "seconds": round(self.seconds, 3),
        }


def _excluded(schema_path: str) -> bool:
    # ``[]`` in a pattern is the literal "any list element" of schema paths, not an fnmatch character class.
    return any(fnmatchcase(schema_path, pattern.replace("[]", "[[]]")) for pattern in EXCLUDED)


def _same_scalar(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        # Bits, not ==: 0.0 and -0.0 differ, and two NaNs with the same bits agree.
        return struct.pack("<d", a) == struct.pack("<d", b)
    return bool(a == b)


def _diff(a: Any, b: Any, path: str, schema: str) -> Iterator[tuple[str, str, Any, Any]]:
    """Yield ``(path, schema path, a, b)`` for every leaf where ``a`` and ``b`` differ.

    Mappings compare key by key, then their key order (see :func:`_key_order`);
    sequences compare in order; NumPy arrays by dtype, shape and bytes;
    everything else by type and value (floats by their bits).
    """
    if _excluded(schema):
        return
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in [*a, *(k for k in b if k not in a)]:
            yield from _diff(a.get(key, _MISSING), b.get(key, _MISSING), f"{path}.{key}", f"{schema}.{key}")
        yield from _key_order(a, b, path, schema)
        return
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and type(a) is type(b):
        if len(a) != len(b):
            yield f"{path} length", f"{schema}", len(a), len(b)
        for i, (x, y) in enumerate(zip(a, b)):
            yield from _diff(x, y, f"{path}[{i}]", f"{schema}[]")
        return
    if hasattr(a, "tobytes") and hasattr(b, "tobytes") and hasattr(a, "shape"):
        same = a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
        if not same:
            yield path, schema, a, b
        return
    if a is _MISSING or b is _MISSING or not _same_scalar(a, b):
        yield path, schema, a, b


def _key_order(a: Mapping[str, Any], b: Mapping[str, Any], path: str, schema: str) -> Iterator[tuple[str, str, Any, Any]]:
    """Report two mappings with the same (compared) keys in a different insertion order.

    Their entries may all agree, yet the pickled artifact and any JSON export
    differ, and so does everything that iterates them (a table's rows, a plot's legend).
    """
    kept_a = [k for k in a if not _excluded(f"{schema}.{k}")]
    kept_b = [k for k in b if not _excluded(f"{schema}.{k}")]
    if kept_a != kept_b and sorted(map(str, kept_a)) == sorted(map(str, kept_b)):
        yield f"{path} key order", schema, kept_a, kept_b


def _show(value: Any) -> str:
    return "<missing>" if value is _MISSING else repr(value)


def _keyed(
    items_a: Sequence[Mapping[str, Any]],
    items_b: Sequence[Mapping[str, Any]],
    key: Callable[[Mapping[str, Any]], str],
    path: str,
    schema: str,
    locate: Callable[[Mapping[str, Any]], dict[str, Any]],
) -> Iterator[Difference]:
    """Compare two lists of records matched by ``key``, then their order.

    ``locate(item)`` gives the Difference's ``branch``/``method``/``axes`` for an item.
    """
    by_a = {key(x): x for x in items_a}
    by_b = {key(x): x for x in items_b}
    if len(by_a) != len(items_a) or len(by_b) != len(items_b):
        # Keys are not unique, so items cannot be matched by them: compare position by position.
        for p, _, va, vb in _diff(list(items_a), list(items_b), path, schema):
            yield Difference(p, _field(p, path.rsplit(".", 1)[0]), _show(va), _show(vb))
        return
    for k in [*by_a, *(k for k in by_b if k not in by_a)]:
        x, y = by_a.get(k), by_b.get(k)
        where = locate(x if x is not None else y)  # type: ignore[arg-type]  # k is a key of by_a or by_b
        if x is None or y is None:
            yield Difference(f"{path}[{k}]", "presence", _show(x is not None), _show(y is not None), **where)
            continue
        for p, _, va, vb in _diff(x, y, f"{path}[{k}]", f"{schema}[]"):
            yield Difference(p, _field(p, f"{path}[{k}]"), _show(va), _show(vb), **where)
    yield from _order([key(x) for x in items_a], [key(x) for x in items_b], path)


def _order(keys_a: list[str], keys_b: list[str], path: str) -> Iterator[Difference]:
    """The first position where two lists holding the same items hold them in a different order."""
    if sorted(keys_a) == sorted(keys_b) and keys_a != keys_b:
        i = next(i for i, (x, y) in enumerate(zip(keys_a, keys_b)) if x != y)
        yield Difference(f"{path}[{i}]", f"{path.rsplit('.', 1)[-1]} order (position {i})", repr(keys_a[i]), repr(keys_b[i]))


def _field(path: str, item: str) -> str:
    """The part of ``path`` inside ``item`` (``history.val_metric[3]``); the item itself is ``(whole)``."""
    inner = path[len(item):].lstrip(".") if path.startswith(item) else path
    return inner or "(whole)"


def _axes_text(axes: Mapping[str, Any] | None) -> str:
    shown = axes or {}
    return ",".join(f"{k}={shown[k]!r}" for k in sorted(shown))


def _training_key(t: Mapping[str, Any]) -> str:
    return f"{t.get('method')} {_axes_text(t.get('train_axes'))}".strip()


def _observation_key(o: Mapping[str, Any]) -> str:
    return f"{o.get('method')} {_axes_text(o.get('axes'))},seed={o.get('seed')}"


def _row_key(row: Mapping[str, Any]) -> str:
    baseline = f" vs {row['baseline']}" if "baseline" in row else ""
    return f"{row.get('method')}{baseline} {_axes_text(row.get('axes'))}".strip()


def _record_differences(records_a: Sequence[Mapping[str, Any]], records_b: Sequence[Mapping[str, Any]]) -> Iterator[Difference]:
    """Branch records matched by key (in canonical ``order``), field by field, then the list order."""
    by_a = {r["key"]: r for r in records_a}
    by_b = {r["key"]: r for r in records_b}
    everything = {**by_b, **by_a}
    keys = sorted(everything, key=lambda k: (everything[k].get("order", []), k))
    for key in keys:
        ra, rb = by_a.get(key), by_b.get(key)
        path = f"records[{key}]"
        if ra is None or rb is None:
            yield Difference(path, "presence", _show(ra is not None), _show(rb is not None), branch=key)
            continue
        for name in [*ra, *(n for n in rb if n not in ra)]:
            va, vb = ra.get(name, _MISSING), rb.get(name, _MISSING)
            schema = f"records[].{name}"
            if name in ("trainings", "observations") and isinstance(va, list) and isinstance(vb, list):
                key_fn = _training_key if name == "trainings" else _observation_key
                axes_of = "train_axes" if name == "trainings" else "axes"
                yield from _keyed(
                    va, vb, key_fn, f"{path}.{name}", schema,
                    lambda item, k=key, a=axes_of: {"branch": k, "method": item.get("method"), "axes": item.get(a)},  # type: ignore[misc]  # loop values bound as defaults
                )
                continue
            for p, _, x, y in _diff(va, vb, f"{path}.{name}", schema):
                yield Difference(p, _field(p, path), _show(x), _show(y), branch=key)
        for p, _, x, y in _key_order(ra, rb, path, "records[]"):
            yield Difference(p, "key order", _show(x), _show(y), branch=key)
    yield from _order([r["key"] for r in records_a], [r["key"] for r in records_b], "records")


def _result_differences(results_a: Mapping[str, Any], results_b: Mapping[str, Any]) -> Iterator[Difference]:
    """The output surface key by key; cells and paired rows matched by (axes, method)."""
    for name in [*results_a, *(n for n in results_b if n not in results_a)]:
        va, vb = results_a.get(name, _MISSING), results_b.get(name, _MISSING)
        schema = f"results.{name}"
        if name in ("cells", "paired") and isinstance(va, list) and isinstance(vb, list):
            yield from _keyed(
                va, vb, _row_key, f"results.{name}", schema,
                lambda row: {"method": row.get("method"), "axes": row.get("axes")},
            )
            continue
        for p, _, x, y in _diff(va, vb, f"results.{name}", schema):
            yield Difference(p, _field(p, "results"), _show(x), _show(y))
    for p, _, x, y in _key_order(results_a, results_b, "results", "results"):
        yield Difference(p, "key order", _show(x), _show(y))


def compare(
    results_a: Mapping[str, Any],
    records_a: Sequence[Mapping[str, Any]],
    results_b: Mapping[str, Any],
    records_b: Sequence[Mapping[str, Any]],
) -> list[Difference]:
    """Every difference between two runs' outputs, the most local first.

    Branch records come first, in canonical branch order (within a record:
    its fields, its trainings matched by method and training-axis values, its
    observations), then the order of the records list, then the ``results``
    surface (cells and paired rows matched by axes and method). Fields matching
    :data:`EXCLUDED` are skipped. An empty list means the runs agree bit for bit.
    """
    return [*_record_differences(records_a, records_b), *_result_differences(results_a, results_b)]


def workers_for(contract: str, requested: Sequence[int] | None) -> tuple[int, int]:
    """The two worker counts the gate runs at, for a contract and an optional ``--workers A B``.

    Raises :class:`ProveError` for counts below 1, or above 1 under ``single_worker``.
    """
    if requested is not None:
        if len(requested) != 2 or any(int(w) < 1 for w in requested):
            raise ProveError(f"--workers takes two worker counts >= 1, got {' '.join(map(str, requested))}")
        if contract == "single_worker" and any(int(w) > 1 for w in requested):
            raise ProveError(
                "the experiment declares contract single_worker, so it is proven at one worker only; "
                "drop --workers or use --workers 1 1"
            )
        return int(requested[0]), int(requested[1])
    return (1, 1) if contract == "single_worker" else (1, 2)


def _validate(flow_file: Path, overrides: list[str]) -> ExperimentSpec:
    """Validate ``overrides`` as the flow will, after checking the flow file imports. Returns the spec.

    The file is loaded as a module (its ``__main__`` block does not run), so an
    import-time failure is reported on one line before any run starts.
    """
    spec = importlib.util.spec_from_file_location(f"_axisflow_prove_{flow_file.stem}", flow_file)
    if spec is None or spec.loader is None:
        raise ProveError(f"{flow_file}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # any import-time failure is a usage error here, reported on one line
        raise ProveError(f"{flow_file}: cannot be imported ({type(exc).__name__}: {exc})") from None
    try:
        return load_spec(overrides)[1]
    except ConfigError as exc:
        raise ProveError(str(exc)) from None


@contextmanager
def _heartbeat(log: Callable[[str], None], label: str, every: float = 30.0) -> Iterator[None]:
    """Log ``label ... still running`` every ``every`` seconds until the block ends."""
    done = threading.Event()
    started = time.perf_counter()

    def beat() -> None:
        while not done.wait(every):
            log(f"prove: {label} still running ({time.perf_counter() - started:.0f} s)")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _error_line(text: str) -> str | None:
    """The shell's own one-line error (``axisflow: error: ...``) in a run's output, if any."""
    for line in text.splitlines():
        if "axisflow: error:" in line:
            return line.split("axisflow: error:", 1)[1].strip()
    return None


def _tail(text: str, lines: int = 3) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "(no output)"


def _outputs(run: Any) -> tuple[dict[str, Any], list[dict[str, Any]], dict[int, str]]:
    """``(results, records, {foreach index: task id})`` of a finished client ``Run``."""
    end = run["end"].task
    if "results" not in end.data:
        raise ProveError(f"{run.pathspec}: the end step has no `results` artifact to compare")
    results = end.data.results
    records, record_tasks = None, []
    for step in run:
        tasks = list(step)
        branch_step = any("branch_records" in task.data or "record" in task.data for task in tasks)
        if records is None and not branch_step and len(tasks) == 1 and "records" in tasks[0].data:
            records = list(tasks[0].data.records)
        if branch_step:
            record_tasks += tasks
    branch_tasks = {task.index: task.id for task in record_tasks if task.index is not None}
    if records is None:
        # No join artifact: compare the branch tasks' own records (a task's list, or one record each), in canonical order.
        own = [r for t in record_tasks for r in (t.data.branch_records if "branch_records" in t.data else [t.data.record])]
        records = sorted(own, key=lambda r: (r.get("order", []), r.get("key")))
    if not records:
        raise ProveError(f"{run.pathspec}: found neither a join `records` artifact nor branch `record` artifacts")
    return results, records, dict(sorted(branch_tasks.items()))


def _spread(differences: Sequence[Difference]) -> str:
    """``; 41 more field(s) differ, in 2 branch(es), method(s) a, b`` (empty for a single difference)."""
    if len(differences) < 2:
        return ""
    branches = {d.branch for d in differences if d.branch is not None}
    methods = sorted({d.method for d in differences if d.method is not None})
    where = [f"{len(branches)} branch(es)"] if branches else []
    where += [f"method(s) {', '.join(methods)}"] if methods else []
    return f"; {len(differences) - 1} more field(s) differ" + (f", in {', '.join(where)}" if where else "")


def _first_per_location(differences: Sequence[Difference]) -> list[Difference]:
    """The first difference in each item that differs (a training, an observation, a cell...), in order."""
    seen, out = set(), []
    for d in differences:
        where = d.path[: -len(d.field)] if d.path.endswith(d.field) else d.path
        if where not in seen:
            seen.add(where)
            out.append(d)
    return out


def _workers_text(n: int) -> str:
    return f"{n} worker" + ("" if n == 1 else "s")


def _review_allow(overrides: list[str], log: Callable[[str], None]) -> tuple[str, ...]:
    """The traps the gate's own runs proceed past: none when the config's review is current.

    The gate compares two runs of one config with each other, in throwaway
    datastores, and concludes nothing about the question, so an unreviewed
    config does not stop it; it says so, and each run records the allow in its
    provenance. ``axisflow review --check`` is the gate on intent.
    """
    from components.gates.review import ReviewError, check, worksheet_for

    try:
        status = check(worksheet_for(overrides))
    except (ReviewError, ConfigError) as exc:
        raise ProveError(str(exc)) from None
    if status.state == "reviewed":
        return ()
    log(
        f"prove: {status.message}; both runs proceed with --review-allow {','.join(status.blocking)} "
        "(recorded in their provenance): this gate checks determinism, `axisflow review --check` checks intent"
    )
    return status.blocking


def _run_once(
    flow_file: Path, overrides: list[str], workers: int, number: int, root: Path,
    lint_allow: tuple[str, ...], log: Callable[[str], None], review_allow: tuple[str, ...] = (),
) -> tuple[RunInfo, dict[str, Any], list[dict[str, Any]]]:
    from components.engine.reuse import off_options
    from components.outputs.runs import open_run, run_flow

    label = f"run {number}/2 at {_workers_text(workers)}"
    log(f"prove: {label} started (datastore {root})")
    started = time.perf_counter()
    try:
        with _heartbeat(log, label):
            # The gate never reuses earlier results: it compares two computations, not a computation with a copy.
            running = run_flow(
                flow_file, overrides, max_workers=workers, datastore_root=root, lint_allow=lint_allow,
                review_allow=review_allow, **off_options(flow_file),  # type: ignore[arg-type]  # only the str "reuse" option
            )
    except RuntimeError as exc:  # Runner raises when the flow exits before Metaflow starts the run
        reason = _error_line(str(exc)) or _tail(str(exc))
        raise ProveError(f"{label} did not start: {reason}") from None
    with running:
        seconds = time.perf_counter() - started
        if running.status != "successful":
            output = running.stderr + "\n" + running.stdout
            reason = _error_line(output) or _tail(running.stderr or running.stdout)
            raise ProveError(f"{label} failed after {seconds:.0f} s ({running.run.pathspec}): {reason}")
        results, records, branch_tasks = _outputs(open_run(running.run.pathspec, root))
        info = RunInfo(workers, running.run.pathspec, round(seconds, 3), branch_tasks)
    log(f"prove: {label} finished in {seconds:.1f} s ({info.pathspec}, {len(records)} branch records)")
    return info, results, records


def prove(
    flow_file: str | Path,
    overrides: Sequence[str] = (),
    *,
    workers: Sequence[int] | None = None,
    lint_allow: Sequence[str] = (),
    keep: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> Verdict:
    """Run the gate on ``flow_file`` with Hydra ``overrides`` and return the :class:`Verdict`.

    ``workers`` overrides the two worker counts (see :func:`workers_for`);
    ``lint_allow`` passes codes to the flow's lint gate; with ``keep`` both
    datastores are kept under that folder (``run-1``, ``run-2``) instead of
    temporary ones. ``log`` receives the progress lines. Raises
    :class:`ProveError` on usage errors and failed runs.
    """
    started = time.perf_counter()
    flow_path = Path(flow_file)
    overrides = [str(o) for o in overrides]
    if not flow_path.is_file():
        raise ProveError(f"flow file {flow_file} does not exist")
    flow_path = flow_path.resolve()
    spec = _validate(flow_path, overrides)
    base: dict[str, Any] = {"flow_file": str(flow_file), "experiment": spec.name, "contract": spec.contract, "overrides": overrides}

    if spec.contract == "nondeterministic":
        if workers is not None:
            workers_for(spec.contract, workers)  # still reject malformed counts
        message = (
            f"SKIPPED: contract nondeterministic: experiment {spec.name} declares that its results may change "
            "from run to run, so there is nothing to prove and no runs were made "
            "(declare order_independent or single_worker to have the gate check it)"
        )
        return Verdict("skipped", message, **base, seconds=time.perf_counter() - started)

    counts = workers_for(spec.contract, workers)
    claim = (
        "determinism is claimed at one worker only" if spec.contract == "single_worker"
        else "outputs must not depend on scheduling"
    )
    log(
        f"prove: {flow_file}, experiment {spec.name}, contract {spec.contract} ({claim}): "
        f"two runs in separate datastores, at {counts[0]} and {_workers_text(counts[1])}"
    )
    review_allow = _review_allow(overrides, log)
    runs, outputs = [], []
    with tempfile.TemporaryDirectory(prefix="axisflow-prove-") as scratch:
        # --keep only changes where the datastores live; the scratch folder is then left empty.
        parent = Path(keep).resolve() if keep is not None else Path(scratch)
        for number, count in enumerate(counts, 1):
            info, results, records = _run_once(
                flow_path, overrides, count, number, parent / f"run-{number}", tuple(lint_allow), log, review_allow
            )
            runs.append(info)
            outputs.append((results, records))

    (results_a, records_a), (results_b, records_b) = outputs
    differences = compare(results_a, records_a, results_b, records_b)
    labels = (f"run 1 ({_workers_text(counts[0])})", f"run 2 ({_workers_text(counts[1])})")
    compared = {
        "branches": len(records_a),
        "trainings": sum(len(r.get("trainings", [])) for r in records_a),
        "cells": len(results_a.get("cells", [])),
        "paired": len(results_a.get("paired", [])),
    }
    seconds = time.perf_counter() - started
    if differences:
        message = f"DIFFERS: {differences[0].describe(labels)}{_spread(differences)} (contract {spec.contract} violated)"
        status = "differs"
    else:
        at = f"at {counts[0]} and {_workers_text(counts[1])}" if counts[0] != counts[1] else f"in two runs at {_workers_text(counts[0])}"
        tasks = [len(run.branch_tasks) for run in runs]
        at += f" ({tasks[0]} and {tasks[1]} branch tasks)" if tasks[0] != tasks[1] else ""
        message = (
            f"PROVEN: experiment {spec.name} (contract {spec.contract}) gives identical results and branch records {at}: "
            f"{compared['branches']} branches, {compared['trainings']} trainings, {compared['cells']} cells compared bit for bit "
            f"(excluded: {', '.join(EXCLUDED)}) in {seconds:.0f} s"
        )
        status = "proven"
    return Verdict(status, message, **base, workers=counts, runs=runs, differences=differences, compared=compared, seconds=seconds)


def _count(text: str) -> int:
    """``--show N``: a whole number of further places, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 or more places")
    return value


def _handle(args: argparse.Namespace) -> int:
    """``axisflow prove``: print progress and the verdict; return its exit status."""
    def log(line: str) -> None:
        print(line, flush=True)

    if args.report and Path(args.report).is_dir():  # refused now, not after both runs
        print(f"axisflow: error: --report {args.report} is a folder; give the path of the JSON file to write", file=sys.stderr)
        return 2
    try:
        verdict = prove(
            args.flow, args.overrides, workers=args.workers, keep=args.keep, log=log,
            lint_allow=tuple(c.strip() for c in ",".join(args.lint_allow).split(",") if c.strip()),
        )
    except ProveError as exc:
        print(f"axisflow: error: {exc}", file=sys.stderr)
        return 2
    print(verdict.message, flush=True)
    if verdict.status == "differs":
        labels = tuple(f"run {i} ({_workers_text(r.workers)})" for i, r in enumerate(verdict.runs, 1))
        # One line per further place that differs (not every field of the same training).
        for difference in _first_per_location(verdict.differences)[1 : 1 + args.show]:
            print(f"  also: {difference.describe(labels)}")  # type: ignore[arg-type]
    if args.report:
        path = Path(args.report)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(verdict.to_json(), indent=2, default=str) + "\n")
        print(f"prove: verdict written to {path}")
    return verdict.exit_code


def register(subparsers: Any) -> None:
    """Add the ``prove`` subcommand to the ``axisflow`` console script."""
    excluded = "\n".join(f"  {pattern:<20}{reason}" for pattern, reason in EXCLUDED.items())
    parser = subparsers.add_parser(
        "prove",
        help="run a flow twice at two worker counts and check its outputs match bit for bit",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Run FLOW twice, each run in its own temporary datastore, and compare the end step's `results`\n"
            "and every branch record exactly (floats by their bits, lists and keys in order).\n\n"
            "Worker counts follow experiment.contract: order_independent 1 and 2 (or --workers A B);\n"
            "single_worker 1 and 1; nondeterministic: nothing runs, the verdict is SKIPPED and says why.\n\n"
            f"Not compared:\n{excluded}\n\n"
            "Exit status: 0 proven or skipped; 1 the runs differ (the first difference names branch, method,\n"
            "training-axis values and field); 2 usage error or a run that failed."
        ),
    )
    parser.add_argument("flow", help="the flow file, e.g. flows/investigation.py")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. experiment=smoke training.epochs=3")
    parser.add_argument("--workers", nargs=2, type=int, metavar=("A", "B"), help="worker counts of the two runs (default 1 2)")
    parser.add_argument("--report", metavar="PATH", help="also write the verdict as JSON to PATH (nothing is written by default)")
    parser.add_argument("--keep", metavar="DIR", help="keep both runs' datastores under DIR (run-1, run-2) for inspection")
    parser.add_argument(
        "--lint-allow", action="append", default=[], metavar="CODES",
        help="lint codes the flow's run gate may let through (recorded in each run's provenance)",
    )
    parser.add_argument("--show", type=_count, default=5, metavar="N", help="after the verdict, list the first difference at up to N further places (default 5)")
    parser.set_defaults(func=_handle)
