"""Reuse finished arms across runs: reuse keys, code fingerprints, lookup through the Metaflow client.

The unit of reuse is one **arm**: one ``train_arm`` call of a branch (branch x
method x training cell; an ``axis_agnostic`` method's one training serves every
cell). Its **reuse key** (:func:`arm_keys`) is a SHA-256 over everything the
arm's numbers depend on:

* the data node (generator ``_target_`` and settings), the content of the
  file a file-backed generator reads (its SHA-256, from the generator's
  ``source``: an edited table retrains every arm, a moved one with the same
  bytes and path does not), the branch's data-axis values and its replicate seed;
* the method's name (its training seed derives from it) and its whole config
  node; the training keys its trainer declares it reads (``reads_training``),
  with this cell's values; the metric node (trainers validate with it);
* a fingerprint of the code the arm runs (:func:`code_fingerprint`): the
  project modules its implementations live in (every ``_target_`` of the data,
  training, method and metric nodes) and the project modules those import,
  followed through ``ast`` (function-level imports included), plus the
  framework modules that run an arm (:data:`ARM_MODULES`, hashed without
  following their imports). Unrelated files (statistics, reports, other
  investigations, other methods' trainers) are not part of it;
* ``uv.lock`` (or, without one, the installed distributions and versions) and
  the Python implementation/version/platform triple;
* the branch-record schema version.

Before the fan-out, :func:`plan_reuse` (called in ``start``) looks the keys up
in the ``records`` artifact of earlier **successful** runs of the same flow, read
through the Metaflow client (local datastore or S3 with its metadata; no side
database), newest first, at most :data:`SCAN_RUNS` runs. Arms with a match are
handed to their branch, which trains only the others; a branch whose every arm
matched starts no task (its record is assembled in ``start``, by
:func:`components.engine.surface.reuse_run`), unless every
branch matched: Metaflow cannot fan out over nothing, so one such branch then
runs as a task that trains nothing. Each record says per arm whether it was
trained or reused and where it was trained (``record["provenance"]``).

Modes (the flow's ``--reuse`` parameter): ``auto`` reuses every match; ``off``
recomputes everything; ``verify`` reuses, but also recomputes a random sample
(:func:`verify_sample`) of the reused arms and fails naming the first one whose
record differs in any bit. A ``nondeterministic`` contract never reuses, and
neither does the prove gate (it runs with ``--reuse off`` in fresh datastores).
Because the code fingerprint is part of every key, a run from a dirty checkout
reuses exactly the arms whose code still hashes the same.

What "equal" means: an incremental run's ``results`` equal a clean run's bit for
bit on every field except :data:`components.schema.RUN_FIELDS` (``provenance``,
which also says what was reused, and ``work``, which counts only the seam calls
made in this run: a reused arm adds nothing to ``train_arm``).
"""

from __future__ import annotations

import ast
import hashlib
import json
import platform
import random
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from components.spec.config import ConfigError, ExperimentSpec
from components.spec.declarations import TARGET, locate
from components.engine.planner import trainings
from components.constants import REPO_ROOT, RECORD_SCHEMA

__all__ = [
    "ARM_MODULES",
    "MODES",
    "SCAN_RUNS",
    "arm_keys",
    "arm_provenance",
    "check_reused",
    "code_fingerprint",
    "data_content",
    "find_reusable",
    "lock_fingerprint",
    "off_options",
    "plan_reuse",
    "platform_triple",
    "reuse_line",
    "reuse_summary",
    "reused_training",
    "verify_sample",
]

ROOT = REPO_ROOT
#: The ``--reuse`` choices; ``auto`` is the default.
MODES = ("auto", "off", "verify")
#: Framework modules every arm runs through (seed derivation, seam dispatch, record layout), hashed into every key.
ARM_MODULES = ("components.engine.branch", "components.engine.reuse", "components.spec.seams", "components.seeding", "components.spec.declarations")
#: At most this many earlier successful runs are read when looking for matches (newest first).
SCAN_RUNS = 50
#: Share of the reused arms ``verify`` recomputes (at least one).
VERIFY_SHARE = 0.2
_KEY_VERSION = "axisflow.reuse-key/1"


def _module_file(name: str) -> Path | None:
    """The file of project module ``name`` (``components.x.y``), or ``None`` outside the project."""
    parts = name.split(".")
    if parts[0] != "components":
        return None
    base = ROOT.joinpath(*parts)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _target_module(target: str) -> str | None:
    """The longest prefix of an import path (``pkg.mod.attr``) that is a project module."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        if _module_file(".".join(parts[:end])) is not None:
            return ".".join(parts[:end])
    return None


def _imports(name: str, path: Path) -> set[str]:
    """Project modules ``path`` imports anywhere (module or function level)."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return {module for module in found if _module_file(module) is not None}


def _hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@lru_cache(maxsize=None)
def _closure(roots: tuple[str, ...], files: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``(module, sha256 of its file)`` for ``roots``, every project module they import (transitively) and ``files``.

    Imports are followed from the roots and from every module they import;
    the packages above a module (whose ``__init__`` runs on import) and
    ``files`` are hashed without following theirs, so a re-exporting package
    does not pull the whole framework into an arm's fingerprint.
    """
    seen: dict[str, str] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        path = _module_file(name)
        if name in seen or path is None:
            continue
        seen[name] = _hash(path)
        todo += sorted(_imports(name, path))
    for name in [*seen, *files]:
        parts = name.split(".")
        for end in range(1, len(parts) + 1):
            module = ".".join(parts[:end])
            path = _module_file(module)
            if module not in seen and path is not None:
                seen[module] = _hash(path)
    return tuple(sorted(seen.items()))


def _targets(node: Any) -> Iterable[str]:
    """Every ``_target_`` string inside a config node (nested models, callbacks, estimators...)."""
    if isinstance(node, Mapping):
        if isinstance(node.get(TARGET), str):
            yield node[TARGET]
        for value in node.values():
            yield from _targets(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _targets(value)


def code_fingerprint(*nodes: Any) -> str:
    """SHA-256 (16 hex digits) of the project code that runs the implementations named in ``nodes``.

    Covers the modules of every ``_target_`` in the nodes that lives in this
    project, every project module they import (followed through ``ast``, also
    imports inside functions), the seams and seeding they run through, and
    :data:`ARM_MODULES` (hashed, not followed).
    Implementations from installed packages (``sklearn.linear_model.Ridge``)
    are covered by :func:`lock_fingerprint` instead.
    """
    roots = {m for t in (t for node in nodes for t in _targets(node)) if (m := _target_module(t))}
    digest = hashlib.sha256()
    for name, file_hash in _closure(tuple(sorted(roots | {"components.spec.seams", "components.seeding"})), ARM_MODULES):
        digest.update(f"{name}\0{file_hash}\n".encode())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=None)
def lock_fingerprint() -> str:
    """SHA-256 (16 hex digits) of ``uv.lock``; without one, of the installed distributions and their versions."""
    lock = ROOT / "uv.lock"
    if lock.is_file():
        return "uv.lock:" + hashlib.sha256(lock.read_bytes()).hexdigest()[:16]
    names = sorted({f"{d.metadata['Name'].lower()}=={d.version}" for d in metadata.distributions() if d.metadata["Name"]})
    return "installed:" + hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


def platform_triple() -> str:
    """``CPython-3.11.7-linux-x86_64``: the interpreter and platform an arm's floats came from."""
    return f"{platform.python_implementation()}-{platform.python_version()}-{sys.platform}-{platform.machine()}"


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def data_content(data: Mapping[str, Any]) -> str | None:
    """SHA-256 of the file a file-backed generator reads (its ``source``), or ``None`` for a generator that reads none."""
    source = getattr(locate(data[TARGET], "data._target_"), "source", None)
    return source(data)["sha256"] if source is not None else None


def arm_keys(spec: ExperimentSpec, branch: Mapping[str, Any]) -> list[str]:
    """The reuse key of every arm of ``branch``, aligned with :func:`components.engine.planner.trainings`."""
    shared = {
        "version": _KEY_VERSION,
        "record": RECORD_SCHEMA,
        "data": spec.data,
        "data_content": data_content(spec.data),
        "data_axes": dict(branch["data_axes"]),
        "seed": branch["seed"],
        "metric": spec.metric,
        "unused_validation": spec.unused_validation,  # which rows a method without validation fits on
        "lock": lock_fingerprint(),
        "platform": platform_triple(),
    }
    keys = []
    for item in trainings(spec):
        method = spec.method(item.method)
        train_cfg = {**spec.training, **item.train_axes}
        keys.append(
            _digest(
                {
                    **shared,
                    "method": {"name": method.name, "node": method.spec},
                    "training": {key: train_cfg[key] for key in method.reads_training},
                    "code": code_fingerprint(spec.data, spec.training, method.spec, spec.metric),
                }
            )
        )
    return keys


def find_reusable(flow: str, keys: Iterable[str], *, exclude_run: str | None = None, scan: int = SCAN_RUNS) -> dict[str, dict[str, Any]]:
    """Look ``keys`` up in earlier successful runs of ``flow``, newest first, through the Metaflow client.

    Reads the ``records`` artifact of each run's ``end`` step (records of this
    schema carry each arm's key in ``provenance.arms``); stops when every key
    is found or after ``scan`` successful runs. Returns ``{key: {"training",
    "data_fingerprint", "run", "task"}}`` where ``run``/``task`` name the run
    and task that trained the arm (followed through earlier reuse). A flow
    with no runs yet gives ``{}``.
    """
    from metaflow import Flow, namespace
    from metaflow.exception import MetaflowNotFound

    wanted, found = set(keys), {}
    namespace(None)
    try:
        runs = Flow(flow).runs()
    except MetaflowNotFound:
        return {}
    seen = 0
    for run in runs:
        if not wanted - set(found) or seen >= scan:
            break
        if run.id == exclude_run or not run.successful:
            continue
        seen += 1
        try:
            records = run["end"].task["records"].data
        except Exception:  # a run of another shell layout, or artifacts no longer readable: nothing to reuse from it
            continue
        for record in records:
            if record.get("schema") != RECORD_SCHEMA:
                continue
            prov = record["provenance"]
            for arm, training in zip(prov["arms"], record["trainings"]):
                if arm["key"] in wanted and arm["key"] not in found:
                    found[arm["key"]] = {
                        "training": training,
                        "data_fingerprint": record["data_fingerprint"],
                        "run": arm["run"] or run.pathspec,
                        "task": arm["task"],
                    }
    return found


def verify_sample(arms: list[tuple[int, int]], seed: str) -> set[tuple[int, int]]:
    """The reused arms (``(branch position, arm position)``) ``verify`` recomputes: a seeded random share, at least one."""
    if not arms:
        return set()
    count = max(1, round(VERIFY_SHARE * len(arms)))
    return set(random.Random(seed).sample(sorted(arms), count))


def plan_reuse(
    config: Mapping[str, Any],
    branches: list[dict[str, Any]],
    *,
    flow: str,
    mode: str = "auto",
    run_id: str | None = None,
    lookup: Callable[..., dict[str, dict[str, Any]]] = find_reusable,
    log: Callable[[str], None] = print,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split the plan's branches into ``(branches to run as tasks, branches whose every arm is reused)``.

    The second list starts no task: :func:`components.engine.surface.reuse_run`
    assembles their records from the reused arms (``run_branch`` copies them).

    Every branch dict gets ``arms``: per arm its ``key`` and, when reused, the
    matched ``reused`` source (see :func:`find_reusable`); ``verify`` marks a
    reused arm the branch must also recompute and compare. ``mode`` is one of
    :data:`MODES`; ``nondeterministic`` experiments never reuse.
    """
    from components.spec.config import validate

    if mode not in MODES:
        raise ConfigError(f"--reuse is {mode!r}; choose one of {', '.join(MODES)}")
    spec = validate(config)
    if spec.contract == "nondeterministic" and mode != "off":
        log("axisflow: reuse off: contract nondeterministic never reuses earlier results")
        mode = "off"
    planned = [{**b, "arms": [{"key": key} for key in arm_keys(spec, b)]} for b in branches]
    if mode == "off":
        return planned, []
    found = lookup(flow, {arm["key"] for b in planned for arm in b["arms"]}, exclude_run=run_id)
    reused = []
    for i, branch in enumerate(planned):
        for j, arm in enumerate(branch["arms"]):
            if arm["key"] in found:
                arm["reused"] = found[arm["key"]]
                reused.append((i, j))
    if mode == "verify":
        for i, j in verify_sample(reused, f"{flow}/{run_id}"):
            planned[i]["arms"][j]["verify"] = True
    tasks, records = [], []
    for branch in planned:
        if all("reused" in arm and not arm.get("verify") for arm in branch["arms"]):
            records.append(branch)
        else:
            tasks.append(branch)
    if not tasks and records:
        tasks.append(records.pop(0))  # Metaflow cannot fan out over an empty list
    total = sum(len(b["arms"]) for b in planned)
    log(
        f"axisflow: reuse {mode}: {len(reused)} of {total} arms reused"
        f"{' (' + str(sum(1 for b in planned for a in b['arms'] if a.get('verify'))) + ' recomputed to verify)' if mode == 'verify' else ''}; "
        f"{len(records)} of {len(planned)} branches fully reused (no task)"
    )
    return tasks, records


def reuse_summary(records: Iterable[Mapping[str, Any]], mode: str | None) -> dict[str, Any]:
    """``results["provenance"]["reuse"]``: the mode, counts and, per arm, where its numbers were trained.

    ``counts`` mirrors ``results["work"]`` for the reused arms (``train_arm`` and
    ``train_arm:<method>``): what this run did not have to do.
    """
    arms, counts, runs = [], {}, []
    for record in records:
        prov = record.get("provenance") or {"arms": []}
        for arm, training in zip(prov["arms"], record["trainings"]):
            arms.append(
                {
                    "branch": record["key"],
                    "method": training["method"],
                    "train_axes": dict(training["train_axes"]),
                    "origin": arm["origin"],
                    "run": arm["run"],
                    "task": arm["task"],
                }
            )
            if arm["origin"] == "reused":
                for name in ("train_arm", f"train_arm:{training['method']}"):
                    counts[name] = counts.get(name, 0) + 1
                if arm["run"] not in runs:
                    runs.append(arm["run"])
    reused = sum(1 for a in arms if a["origin"] == "reused")
    return {"mode": mode, "arms": len(arms), "reused": reused, "from_runs": runs, "counts": counts, "per_arm": arms}


def reuse_line(results: Mapping[str, Any]) -> str | None:
    """``12 of 45 arms reused from runs InvestigationFlow/17...``, or ``None`` when the run reused nothing."""
    reuse = (results.get("provenance") or {}).get("reuse")
    if not reuse or not reuse.get("reused"):
        return None
    return f"{reuse['reused']} of {reuse['arms']} arms reused from runs {', '.join(reuse['from_runs'])} (--reuse {reuse['mode']})"


def _current() -> tuple[str | None, str | None]:
    """``(run pathspec, task pathspec)`` of the running Metaflow task, or ``(None, None)`` outside one."""
    try:
        from metaflow import current

        if current.is_running_flow:
            return f"{current.flow_name}/{current.run_id}", current.pathspec
    except Exception:  # no Metaflow, or not inside a task: the record then names no task
        pass
    return None, None


def reused_training(arm: Mapping[str, Any], item: Any) -> dict[str, Any]:
    """The training record of a reused arm, laid out exactly as a trained one (train axes from this run's plan)."""
    source = arm["reused"]["training"]
    return {
        "method": item.method,
        "train_axes": dict(item.train_axes),
        "seed": source["seed"],
        "value": source["value"],
        "val_score": source["val_score"],
        "info": dict(source["info"]),
        "history": {name: list(values) for name, values in source["history"].items()},
        **{key: source[key] for key in ("failure", "fit_rows") if key in source},
    }


#: The fields of a training record that come from training (the rest come from this run's plan).
_COMPARED = ("seed", "value", "val_score", "info", "history")


def _exact(value: Any) -> str:
    # Float reprs round-trip, so equal texts mean equal bits (-0.0 and 0.0 differ).
    return json.dumps(value, separators=(",", ":"), default=repr)


def check_reused(arm: Mapping[str, Any], training: Mapping[str, Any], fingerprint: str, branch_key: str) -> None:
    """``--reuse verify``: raise naming the arm and field where a recomputed arm differs from the one it would reuse."""
    source = arm["reused"]
    expected = {**{name: source["training"][name] for name in _COMPARED}, "data_fingerprint": source["data_fingerprint"]}
    actual = {**{name: training[name] for name in _COMPARED}, "data_fingerprint": fingerprint}
    for name in expected:
        if _exact(expected[name]) != _exact(actual.get(name)):
            axes = ", ".join(f"{k}={v}" for k, v in training["train_axes"].items()) or "none"
            raise RuntimeError(
                f"reuse verify: branch {branch_key}, method {training['method']}, training axes {axes}: {name} differs from the "
                f"reused arm trained in {source['task'] or source['run']} (recomputed {_exact(actual.get(name))[:80]}, "
                f"reused {_exact(expected[name])[:80]}); rerun with --reuse off"
            )


def arm_provenance(arms: list[Mapping[str, Any]], trained: Iterable[int]) -> dict[str, Any]:
    """``record["provenance"]``: the task that ran the branch (``None`` if none did) and, per arm, its key and origin.

    ``origin`` is ``trained`` (in this run, by ``task``), ``verified`` (trained
    here and found equal to the arm it would have reused) or ``reused`` (``run``
    and ``task`` then name where it was trained).
    """
    trained = set(trained)
    run, task = _current()
    out = []
    for i, arm in enumerate(arms):
        if i in trained:
            out.append({"key": arm["key"], "origin": "verified" if "reused" in arm else "trained", "run": run, "task": task})
        else:
            out.append({"key": arm["key"], "origin": "reused", "run": arm["reused"]["run"], "task": arm["reused"]["task"]})
    return {"task": task if trained else None, "arms": out}


def off_options(flow_file: str | Path) -> dict[str, str]:
    """``metaflow.Runner`` options that switch reuse off for ``flow_file``: ``{"reuse": "off"}``, or ``{}`` for a flow without the parameter.

    The prove gate runs with these: it compares two computations, never a computation with a copy.
    """
    import importlib.util

    from metaflow import FlowSpec, Parameter

    spec = importlib.util.spec_from_file_location(f"_axisflow_reuse_{Path(flow_file).stem}", flow_file)
    if spec is None or spec.loader is None:
        return {}
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # A flow mutator (``@ship_project``) wraps the class; the class itself is its ``_flow_cls``.
    classes = [getattr(v, "_flow_cls", v) for v in vars(module).values()]
    flows = [c for c in classes if isinstance(c, type) and issubclass(c, FlowSpec) and c is not FlowSpec]
    return {"reuse": "off"} if any(isinstance(getattr(f, "reuse", None), Parameter) for f in flows) else {}
