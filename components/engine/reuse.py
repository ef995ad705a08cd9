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

import hashlib
import json
import os
import platform
import random
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from lint.imports import imports_of, module_file, modules_under

from components.spec.config import ConfigError, ExperimentSpec, validate
from components.spec.declarations import TARGET, locate
from components.engine.planner import trainings
from components.constants import LAUNCH_KEY, REPO_ROOT, RECORD_SCHEMA

__all__ = [
    "ARM_MODULES",
    "LIBRARY",
    "MODES",
    "PREDICTIONS",
    "PREDICTIONS_SCHEMA",
    "SCAN_RUNS",
    "STORED_TASKS_KEPT",
    "arm_keys",
    "arm_provenance",
    "arm_threads",
    "check_planned_keys",
    "check_reused",
    "code_files",
    "code_fingerprint",
    "data_content",
    "data_file",
    "find_reusable",
    "input_changes",
    "installed_packages",
    "launch_checked_spec",
    "launch_inputs",
    "lock_fingerprint",
    "packages_fingerprint",
    "pin_threads",
    "recorded_inputs",
    "off_options",
    "plan_reuse",
    "platform_triple",
    "reuse_line",
    "reuse_summary",
    "reused_training",
    "predictions_by_arm",
    "stored_predictions",
    "trust_launch_data",
    "verify_inputs",
    "verify_sample",
]

ROOT = REPO_ROOT
#: The ``--reuse`` choices; ``auto`` is the default.
MODES = ("auto", "off", "verify")
#: Framework modules that run inside every arm (config to spec, the plan of arms, seed derivation, seam dispatch,
#: declarations, the confusion matrix, record layout, keys and thread pinning), hashed into every key without following their imports.
ARM_MODULES = (
    "components.constants",
    "components.engine.branch",
    "components.engine.planner",
    "components.engine.reuse",
    "components.seeding",
    "components.spec.config",
    "components.spec.confusion",
    "components.spec.declarations",
    "components.spec.seams",
)
#: The reusable implementations: every file of it is in every arm's code fingerprint.
LIBRARY = "components/library"
#: Imports followed from an arm's implementations: the library, investigations and base modules (the framework
#: packages they import, such as ``components.spec``, run an arm only through :data:`ARM_MODULES`).
_FOLLOWED = ("components.library", "components.investigations", "components.constants", "components.seeding", "components.schema")
#: At most this many earlier successful runs are read when looking for matches (newest first).
SCAN_RUNS = 50
#: Share of the reused arms ``verify`` recomputes (at least one).
VERIFY_SHARE = 0.2
_KEY_VERSION = "axisflow.reuse-key/2"
#: The branch task artifact that keeps each trained arm's test predictions and the branch's test targets, so a later
#: run that reuses the arm scores it with its own secondary metrics (which are therefore not part of any reuse key).
PREDICTIONS = "predictions"
#: Layout of that artifact: ``{"schema", "branches": {branch key: {"targets": y_test, "arms": {arm key: predictions as the
#: trainer returned them}}}}``, one entry per branch the task ran (a task runs one or more branches: ``experiment.branches_per_task``).
PREDICTIONS_SCHEMA = "axisflow.predictions/2"
#: The one-branch-per-task layout of earlier runs, ``{"schema", "targets", "arms"}``, still read.
_PREDICTIONS_V1 = "axisflow.predictions/1"
#: Environment variables thread pools read at load time; :func:`pin_threads` sets them to ``training.threads``.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def _module_file(name: str) -> Path | None:
    """The file of project module ``name`` (``components.x.y``), or ``None`` outside the project."""
    return module_file(name, ROOT) if name.split(".")[0] == "components" else None


def _target_module(target: str) -> str | None:
    """The longest prefix of an import path (``pkg.mod.attr``) that is a project module."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        if _module_file(".".join(parts[:end])) is not None:
            return ".".join(parts[:end])
    return None


#: ``(path, size, mtime_ns) -> sha256``: a source file is hashed once per process while it stays unchanged.
_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def _hash(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _FILE_HASHES:
        _FILE_HASHES[key] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return _FILE_HASHES[key]


def _folder_files(folder: Path) -> list[Path]:
    """Every file below ``folder`` (sources, and data files a module may read by path), without bytecode caches."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


def _scope(roots: Iterable[str]) -> set[Path]:
    """The files an arm's code can reach: see :func:`code_files`."""
    files: set[Path] = set(_folder_files(ROOT / LIBRARY))
    for name in roots:
        parts = name.split(".")
        if parts[:2] == ["components", "investigations"] and len(parts) > 2:
            files.update(_folder_files(ROOT.joinpath(*parts[:3])))
        elif (path := _module_file(name)) is not None:
            files.add(path)
    known = set(modules_under(ROOT, ("components",)))
    todo = [p for p in files if p.suffix == ".py"]
    while todo:
        path = todo.pop()
        for imported in imports_of(path, ROOT, known):
            target = _module_file(imported)
            if target is not None and target not in files and imported.startswith(_FOLLOWED):
                files.add(target)
                todo.append(target)
    files.update(_module_file(name) for name in ARM_MODULES)  # type: ignore[misc]  # the arm modules are this project's: always found
    # Importing a module runs the __init__ of every package above it.
    files.update(init for path in list(files) for init in (d / "__init__.py" for d in path.parents if ROOT in d.parents) if init.is_file())
    return files


@lru_cache(maxsize=None)
def _scope_of(roots: tuple[str, ...]) -> tuple[Path, ...]:
    return tuple(sorted(_scope(roots)))


def code_files(*nodes: Any) -> dict[str, str]:
    """``{repository-relative path: sha256 (16 hex digits)}`` of every file the arms of ``nodes`` can run or read.

    The scope is by folder, not by import statement, so code reached by a
    string (``importlib.import_module(name)``, ``__import__``,
    ``spec_from_file_location``) or a data file read next to the code is covered:

    * every file of each investigation folder a ``_target_`` in ``nodes`` names
      (``components/investigations/<name>/``, data files included);
    * every file of ``components/library/``;
    * any other project module a ``_target_`` names, and the project modules
      all of these import (read with :mod:`lint.imports`), except framework
      packages (statistics, outputs...), which never run inside an arm;
    * :data:`ARM_MODULES`, the framework modules that run an arm.

    Implementations from installed packages are covered by the lock and the
    installed versions in the key instead.
    """
    roots = tuple(sorted({m for t in (t for node in nodes for t in _targets(node)) if (m := _target_module(t))}))
    return {path.relative_to(ROOT).as_posix(): _hash(path) for path in _scope_of(roots)}


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
    """SHA-256 (16 hex digits) over :func:`code_files` of ``nodes``: what the key says about the code an arm runs."""
    digest = hashlib.sha256()
    for name, file_hash in sorted(code_files(*nodes).items()):
        digest.update(f"{name}\0{file_hash}\n".encode())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=None)
def lock_fingerprint() -> str | None:
    """SHA-256 (16 hex digits) of ``uv.lock``, or ``None`` where there is none (a remote task's code package)."""
    lock = ROOT / "uv.lock"
    return "uv.lock:" + hashlib.sha256(lock.read_bytes()).hexdigest()[:16] if lock.is_file() else None


@lru_cache(maxsize=None)
def installed_packages() -> dict[str, str]:
    """``{distribution: version}`` of every distribution the running interpreter can import from.

    What actually ran, read from ``importlib.metadata``: a lock says what
    should be installed, this says what is (an environment built from ranges,
    or a stale one, differs from the lock while the lock's hash stays the same).
    """
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name, version = _name_version(dist)
        name = name.lower().replace("_", "-")
        if name and name not in found:  # the first on sys.path is the one imported
            found[name] = version
    return dict(sorted(found.items()))


def _name_version(dist: metadata.Distribution) -> tuple[str, str]:
    """A distribution's ``Name`` and ``Version``, read from the top of its metadata file.

    The two fields open the file, so scanning its header lines gives what
    ``dist.metadata`` would, about ten times faster than parsing the whole
    file (every task computes this once); a file that does not state both
    in its header falls back to the full parse.
    """
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    head: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, sep, value = line.partition(": ")
        if sep and key in ("Name", "Version"):
            head.setdefault(key, value.strip())
    if "Name" in head and "Version" in head:
        return head["Name"], head["Version"]
    return dist.metadata["Name"] or "", dist.version


def packages_fingerprint() -> str:
    """SHA-256 (16 hex digits) of :func:`installed_packages`."""
    return hashlib.sha256(json.dumps(installed_packages()).encode()).hexdigest()[:16]


def platform_triple() -> str:
    """``CPython-3.11.7-linux-x86_64``: the interpreter and platform an arm's floats came from."""
    return f"{platform.python_implementation()}-{platform.python_version()}-{sys.platform}-{platform.machine()}"


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _generator(data: Mapping[str, Any]) -> Any:
    return locate(data[TARGET], "data._target_")


def data_file(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The file a file-backed generator reads: ``{"path", "resolved", "sha256", "size", "mtime_ns"}``, else ``None``.

    From the generator's ``digest`` (hashed once per process while the file's
    size and modification time stay the same), or its ``source``.
    """
    generator = _generator(data)
    reader = getattr(generator, "digest", None) or getattr(generator, "source", None)
    return dict(reader(data)) if reader is not None else None


def data_content(data: Mapping[str, Any]) -> str | None:
    """SHA-256 of the file a file-backed generator reads, or ``None`` for a generator that reads none."""
    found = data_file(data)
    return found["sha256"] if found is not None else None


def arm_threads(train_cfg: Mapping[str, Any]) -> int:
    """The thread count an arm runs with: ``training.threads``, or 1 when the training group sets none."""
    return int(train_cfg.get("threads", 1))


def pin_threads(threads: int) -> None:
    """Pin every thread pool that changes an arm's bits: BLAS and OpenMP (threadpoolctl), torch's intra-op pool.

    The environment's ``OMP_NUM_THREADS``/``MKL_NUM_THREADS``/``OPENBLAS_NUM_THREADS``
    would otherwise decide how larger fits reduce, and they are not in the key;
    the pinned count (``training.threads``) is. Called in the branch task after
    the trainers' heavy modules are imported (threadpoolctl limits the pools
    loaded so far; the variables cover libraries loaded later).
    """
    from threadpoolctl import threadpool_limits

    for name in _THREAD_VARIABLES:
        os.environ[name] = str(threads)
    threadpool_limits(limits=threads)
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


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
        # Nested cross-validation adds inner fits and per-example values to an arm (the key of any other arm is unchanged).
        **({"nested": True} if spec.statistics.get("cv_interval") == "nested" else {}),
        "lock": lock_fingerprint(),
        "packages": packages_fingerprint(),
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
                    "threads": arm_threads(train_cfg),
                    "code": code_fingerprint(spec.data, spec.training, method.spec, spec.metric),
                }
            )
        )
    return keys


def launch_inputs(spec: ExperimentSpec) -> dict[str, Any]:
    """What the run's arms depend on outside its config, captured at launch (the shell stores it in the config value).

    ``{"code": {path: sha256}, "data": data_file or None, "lock", "packages"}``:
    the files of every arm's code scope (:func:`code_files`), the table a
    file-backed generator reads, ``uv.lock``'s hash and the installed versions'.
    ``start`` trusts the table's digest while its size and modification time
    match (no second hash at launch); every branch hashes it again where it
    reads it and :func:`verify_inputs` compares.
    """
    # Secondary metrics run in the branches too (a change mid-run would mix two versions), though no reuse key covers them.
    nodes = [spec.data, spec.training, spec.metric, *spec.secondary_metrics.values(), *(m.spec for m in spec.methods)]
    return {
        "code": code_files(*nodes),
        "data": data_file(spec.data),
        "lock": lock_fingerprint(),
        "packages": packages_fingerprint(),
    }


def input_changes(recorded: Mapping[str, Any], current: Mapping[str, Any], *, environment: bool = True) -> list[str]:
    """What differs between two :func:`launch_inputs` (``[]`` when nothing does), one phrase each, files named.

    ``environment=False`` compares code and data only: a remote task's
    environment is built elsewhere than the launching machine's (no
    ``uv.lock`` in the code package), and the branch keys cover it.
    """
    changes = []
    old, new = recorded.get("code") or {}, current.get("code") or {}
    edited = sorted(path for path in old.keys() | new.keys() if old.get(path) != new.get(path))
    if edited:
        shown = ", ".join(edited[:3]) + (f" and {len(edited) - 3} more" if len(edited) > 3 else "")
        changes.append(f"code changed ({shown})")
    before, after = recorded.get("data"), current.get("data")
    if (before or {}).get("sha256") != (after or {}).get("sha256"):
        where = (after or before or {}).get("resolved") or (after or before or {}).get("path")
        changes.append(f"data file {where} changed (sha256 {str((before or {}).get('sha256'))[:12]} at launch, now {str((after or {}).get('sha256'))[:12]})")
    if environment:
        for name, what in (("lock", "uv.lock"), ("packages", "the installed packages")):
            if recorded.get(name) != current.get(name):
                changes.append(f"{what} changed")
    return changes


def recorded_inputs(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The :func:`launch_inputs` the shell stored in the run's config, or ``None`` for a run launched without the shell."""
    return (config.get(LAUNCH_KEY) or {}).get("inputs")


def launch_checked_spec(config: Mapping[str, Any]) -> ExperimentSpec:
    """The spec of ``config`` for a step that trains nothing (``start``, ``join``, ``end``).

    A config the shell launched carries the launch's input fingerprints
    (:func:`components.engine.reuse.recorded_inputs`), recorded after the shell
    checked every implementation's settings; those checks are not run again
    here, since they import what the implementations use (scikit-learn, torch)
    into steps that never train. The branches check them where they train. A
    config from anywhere else is checked in full.
    """
    return validate(config, settings=recorded_inputs(config) is None)


def trust_launch_data(config: Mapping[str, Any]) -> None:
    """Let this process use the table digest taken at launch while the file's size and modification time match.

    Called in ``start`` (so planning does not hash the table again); a branch
    never calls it: it hashes the bytes it reads and :func:`verify_inputs` compares.
    """
    recorded = recorded_inputs(config)
    data = config.get("data")
    if recorded and recorded.get("data") and isinstance(data, Mapping) and isinstance(data.get(TARGET), str):
        trust = getattr(_generator(data), "trust", None)
        if trust is not None:
            trust(recorded["data"], data)


def verify_inputs(config: Mapping[str, Any], spec: ExperimentSpec, where: str) -> None:
    """Raise naming what changed when the code or data this task sees differ from what the run was launched with.

    A table edited while a run is going, or a generator edited before a
    ``resume``, would otherwise give arms computed on the new inputs that are
    stored under keys planned from the old ones. Runs launched without the
    shell record nothing and are not checked here (:func:`check_planned_keys` still is).
    """
    recorded = recorded_inputs(config)
    if not recorded:
        return
    changes = input_changes(recorded, launch_inputs(spec), environment=False)
    if changes:
        raise RuntimeError(f"{where}: {'; '.join(changes)} since the run was launched; start a new run (finished arms are reused)")


def check_planned_keys(spec: ExperimentSpec, branch: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The branch's arms, after checking that their keys (planned in ``start``) are the keys of what runs here.

    A key computed from other code, data, packages or thread settings than
    the ones this task runs would store (and later reuse) numbers under the
    wrong key, so a mismatch fails the branch naming the first differing arm.
    Without a plan (a branch run directly), the keys are computed here.
    """
    keys = arm_keys(spec, branch)
    arms = branch.get("arms")
    if not arms:
        return [{"key": key} for key in keys]
    for arm, key, item in zip(arms, keys, trainings(spec)):
        if arm["key"] != key:
            axes = ", ".join(f"{k}={v}" for k, v in item.train_axes.items()) or "none"
            raise RuntimeError(
                f"branch {branch['key']}, method {item.method}, training axes {axes}: its reuse key differs from the one planned in start "
                f"(the code, data, installed packages or platform changed since start); start a new run"
            )
    return list(arms)


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

    wanted = set(keys)
    found: dict[str, dict[str, Any]] = {}
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
            records = run["end"].task["records"].data  # type: ignore[index]  # a successful run's end step has its task
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


#: Task artifacts :func:`stored_predictions` keeps: an earlier run dealt its branches round-robin into tasks (one
#: per local worker), so rescoring branch by branch cycles through them; more tasks than this are read again.
STORED_TASKS_KEPT = 32


@lru_cache(maxsize=STORED_TASKS_KEPT)
def stored_predictions(task: str) -> dict[str, Any]:
    """The test predictions the branch task ``task`` (a pathspec) stored, as ``{arm key: (predictions, test targets)}``.

    Read from its :data:`PREDICTIONS` artifact through the Metaflow client, in
    either layout (:data:`PREDICTIONS_SCHEMA`, or one branch per task in runs
    made before tasks grouped branches). The last :data:`STORED_TASKS_KEPT`
    tasks read are kept in memory (8 bytes per test row per arm for binary and
    regression tasks, times the classes for multiclass). A task that stored none
    (an older run, an artifact no longer readable) gives ``{}``; the caller
    names the arm that cannot be scored.
    """
    from metaflow import Task, namespace

    namespace(None)
    try:
        stored = Task(task, _namespace_check=False)[PREDICTIONS].data
    except Exception:  # no such artifact or task: nothing to score from
        return {}
    return predictions_by_arm(stored)


def predictions_by_arm(stored: Any) -> dict[str, Any]:
    """``{arm key: (predictions, test targets)}`` from a :data:`PREDICTIONS` artifact of either layout; ``{}`` for anything else."""
    if not isinstance(stored, Mapping):
        return {}
    if stored.get("schema") == _PREDICTIONS_V1:
        branches = [stored]
    elif stored.get("schema") == PREDICTIONS_SCHEMA and isinstance(stored.get("branches"), Mapping):
        branches = list(stored["branches"].values())
    else:
        return {}
    return {
        key: (values, branch["targets"])
        for branch in branches
        if isinstance(branch, Mapping) and branch.get("targets") is not None
        for key, values in (branch.get("arms") or {}).items()
    }


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
    if mode not in MODES:
        raise ConfigError(f"--reuse is {mode!r}; choose one of {', '.join(MODES)}")
    spec = launch_checked_spec(config)
    verify_inputs(config, spec, "start")
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
    arms: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    runs: list[Any] = []
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
        **{key: source[key] for key in ("failure", "fit_rows", "per_example", "resolution") if key in source},
        **({"confusion": _copy_confusion(source["confusion"])} if "confusion" in source else {}),
    }


def _copy_confusion(confusion: Mapping[str, Any]) -> dict[str, Any]:
    """A reused arm's confusion matrix, copied (the record it came from stays untouched)."""
    return {"classes": list(confusion["classes"]), "counts": [list(row) for row in confusion["counts"]], "threshold": confusion["threshold"]}


#: The fields of a training record that come from training (the rest come from this run's plan).
_COMPARED = ("seed", "value", "val_score", "info", "history", "confusion")


def _exact(value: Any) -> str:
    # Float reprs round-trip, so equal texts mean equal bits (-0.0 and 0.0 differ).
    return json.dumps(value, separators=(",", ":"), default=repr)


def check_reused(arm: Mapping[str, Any], training: Mapping[str, Any], fingerprint: str, branch_key: str) -> None:
    """``--reuse verify``: raise naming the arm and field where a recomputed arm differs from the one it would reuse."""
    source = arm["reused"]
    # Per-example values (nested cross-validation) are compared too when the reused arm has them.
    compared = (*_COMPARED, "per_example") if "per_example" in source["training"] else _COMPARED
    expected = {**{name: source["training"].get(name) for name in compared}, "data_fingerprint": source["data_fingerprint"]}
    actual = {**{name: training.get(name) for name in compared}, "data_fingerprint": fingerprint}
    for name in expected:
        if _exact(expected[name]) != _exact(actual.get(name)):
            axes = ", ".join(f"{k}={v}" for k, v in training["train_axes"].items()) or "none"
            raise RuntimeError(
                f"reuse verify: branch {branch_key}, method {training['method']}, training axes {axes}: {name} differs from the "
                f"reused arm trained in {source['task'] or source['run']} (recomputed {_exact(actual.get(name))[:80]}, "
                f"reused {_exact(expected[name])[:80]}); rerun with --reuse off"
            )


def arm_provenance(arms: Sequence[Mapping[str, Any]], trained: Iterable[int]) -> dict[str, Any]:
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
