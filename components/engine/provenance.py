"""Where a run's numbers came from: code state, environment, timing.

Git state is captured **at launch**, by the shell's entry point
(:func:`components.shell.prepare_argv`), in the launching checkout, and travels
inside the run's config value under ``axisflow.git``. That is the only moment a
``.git`` folder is guaranteed to exist: remote tasks unpack a code package
without one, and Metaflow stores the config value with the run, ships it to
every task (local or remote) and reuses it on ``resume``. A ``resume`` records
the checkout it was launched from as a run tag (:func:`resume_tag`), because
its re-executed tasks run that code while the cloned ones ran the original's.

Package versions, the lock's hash, a hash of every installed distribution and
the platform are read in the ``end`` task from installed distribution metadata
(no imports of torch); timestamps come from the ``start``
step and each branch record's ``timing``. Nothing from the environment is
copied: no variables, no host name, no paths outside the repository.
"""

from __future__ import annotations

import hashlib
import os
import json
import platform
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Mapping

from components.constants import LAUNCH_KEY, PROVENANCE_SCHEMA

__all__ = [
    "PACKAGES",
    "PROJECT",
    "RESUME_TAG_PREFIX",
    "SCHEMA",
    "declared_packages",
    "dirty_warning",
    "durations",
    "ensure_user",
    "environment",
    "git_state",
    "hardware",
    "hardware_line",
    "iso",
    "package_versions",
    "parse_resume_review_tag",
    "parse_resume_tag",
    "platform_info",
    "resume_review_tag",
    "resume_tag",
    "run_provenance",
    "utc_now",
]

#: Version of the ``results["provenance"]`` layout.
SCHEMA = PROVENANCE_SCHEMA
#: Distributions whose versions every run records when the project's own metadata cannot be read
#: (``python`` is added separately); normally :func:`declared_packages` reads them from the project's dependencies.
PACKAGES = ("metaflow", "torch", "torchvision", "numpy", "scipy", "hydra-core", "omegaconf", "pandas", "scikit-learn")
#: The installed distribution whose declared dependencies are the stack a run records.
PROJECT = "axisflow"
#: Prefix of the run tag a ``resume`` carries its own checkout's git state in.
RESUME_TAG_PREFIX = "axisflow.resume-git:"
#: Prefix of the run tag a ``resume`` carries its review gate's verdict in.
RESUME_REVIEW_PREFIX = "axisflow.resume-review:"

# A dirty tree lists its changed paths in provenance; beyond this many only the count is kept.
_LISTED_CHANGES = 20
# Git must never block on (or take) the index lock another process holds.
_GIT_ENV = {"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


def ensure_user() -> None:
    """Give Metaflow a user name (it records one with every run) on machines that have none: CI, containers running as root."""
    from metaflow.util import get_username

    if get_username() is None:
        os.environ["USERNAME"] = os.environ["METAFLOW_USER"] = "axisflow"


def utc_now() -> float:
    """Wall-clock seconds since the epoch (UTC); the run's timestamps are these."""
    return time.time()


def iso(seconds: float | None) -> str | None:
    """Render epoch seconds as an ISO-8601 UTC timestamp (``None`` stays ``None``)."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="milliseconds")


def _git(cwd: Path, *args: str) -> bytes | None:
    """Run one git command; ``None`` when git is missing or the command fails."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            timeout=30,
            env={**os.environ, **_GIT_ENV},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def git_state(path: str | Path) -> dict[str, Any]:
    """The git state of the checkout containing ``path``.

    Returns ``{"commit", "branch", "dirty", "diff_hash", "changed", "changed_count"}``:
    ``dirty`` is true when tracked files differ from ``HEAD`` (staged or not) or
    untracked, non-ignored files exist; ``diff_hash`` is the first 16 hex digits
    of a SHA-256 over ``git diff HEAD --binary`` and every untracked file's path
    and contents, so the same uncommitted edit always gives the same hash (it is
    ``None`` for a clean tree); ``changed`` lists up to 20 changed paths. Outside
    a git checkout (or without git) returns ``{"commit": None, "reason": ...}``.
    """
    where = Path(path).resolve()
    cwd = where if where.is_dir() else where.parent
    top = _git(cwd, "rev-parse", "--show-toplevel")
    if top is None:
        return {"commit": None, "reason": f"{cwd} is not inside a git checkout (or git is not installed)"}
    root = Path(top.decode().strip())
    head = _git(root, "rev-parse", "--verify", "--quiet", "HEAD")
    commit = head.decode().strip() if head else None
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD") if commit else None
    changed = _changed_paths(_git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all") or b"")
    state: dict[str, Any] = {
        "commit": commit,
        "branch": branch.decode().strip() if branch else None,
        "dirty": bool(changed),
        "diff_hash": _diff_hash(root, commit) if changed else None,
        "changed": changed[:_LISTED_CHANGES],
        "changed_count": len(changed),
    }
    if commit is None:
        state["reason"] = "the repository has no commits yet"
    return state


def _changed_paths(status: bytes) -> list[str]:
    """Paths named by ``git status --porcelain=v1 -z`` (a rename's source entry is skipped)."""
    entries = status.split(b"\0")
    paths, i = set(), 0
    while i < len(entries):
        entry = entries[i]
        if len(entry) > 3:
            paths.add(entry[3:].decode(errors="replace"))
            if entry[:1] in (b"R", b"C"):  # renames and copies are followed by their source path
                i += 1
        i += 1
    return sorted(paths)


def _diff_hash(root: Path, commit: str | None) -> str:
    """SHA-256 (16 hex digits) of the uncommitted tracked diff plus every untracked file."""
    digest = hashlib.sha256()
    diff_args = ["diff", "HEAD"] if commit else ["diff", "--cached"]
    digest.update(_git(root, *diff_args, "--binary", "--no-ext-diff", "--no-color", "--no-textconv") or b"")
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z") or b""
    for name in sorted(n for n in untracked.split(b"\0") if n):
        digest.update(b"\0untracked\0" + name + b"\0")
        file = root / name.decode(errors="surrogateescape")
        try:
            digest.update(hashlib.sha256(file.read_bytes()).digest())
        except OSError:  # deleted between listing and reading, or a socket/fifo
            digest.update(b"<unreadable>")
    return digest.hexdigest()[:16]


def dirty_warning(state: Mapping[str, Any]) -> str | None:
    """The one-line warning a run launched from a dirty (or git-less) checkout prints; ``None`` when clean."""
    if state.get("commit") is None and "reason" in state and not state.get("dirty"):
        return f"axisflow: warning: no git commit recorded for this run: {state['reason']}"
    if not state.get("dirty"):
        return None
    shown = ", ".join(state.get("changed", [])[:5])
    more = state.get("changed_count", 0) - min(5, len(state.get("changed", [])))
    if more > 0:
        shown += f" and {more} more"
    commit = (state.get("commit") or "no commit")[:12]
    return (
        f"axisflow: warning: the checkout has uncommitted changes ({shown}); the run records commit {commit} "
        f"+ diff {state.get('diff_hash')}, which cannot recreate the code: commit first for a reproducible run"
    )


def resume_tag(state: Mapping[str, Any]) -> str:
    """The run tag a ``resume`` carries: ``axisflow.resume-git:<commit>[+dirty:<diff_hash>]``."""
    tag = RESUME_TAG_PREFIX + (state.get("commit") or "none")
    return tag + f"+dirty:{state['diff_hash']}" if state.get("dirty") else tag


def parse_resume_tag(tags: Iterable[str]) -> dict[str, Any] | None:
    """Read :func:`resume_tag`'s tag back from a run's tags: ``{"commit", "dirty", "diff_hash"}`` or ``None``."""
    for tag in tags:
        if tag.startswith(RESUME_TAG_PREFIX):
            commit, _, dirty = tag[len(RESUME_TAG_PREFIX) :].partition("+dirty:")
            return {"commit": None if commit == "none" else commit, "dirty": bool(dirty), "diff_hash": dirty or None}
    return None


def resume_review_tag(review: Mapping[str, Any]) -> str:
    """The run tag a ``resume`` carries its review verdict in: ``axisflow.resume-review:<verdict>[:<fingerprint>][:allowed=<traps>]``.

    A resume reuses the original run's config (and the review verdict recorded
    in it); the tag records the gate as it stood when the resume was launched.
    """
    tag = RESUME_REVIEW_PREFIX + str(review.get("verdict")) + ":" + str(review.get("fingerprint"))
    if review.get("verdict") == "overridden":
        tag += ":allowed=" + "+".join(review.get("unreviewed") or review.get("allowed") or [])
    return tag


def parse_resume_review_tag(tags: Iterable[str]) -> dict[str, Any] | None:
    """Read :func:`resume_review_tag`'s tag back: ``{"verdict", "fingerprint", "allowed"}`` or ``None``."""
    for tag in tags:
        if tag.startswith(RESUME_REVIEW_PREFIX):
            verdict, _, rest = tag[len(RESUME_REVIEW_PREFIX) :].partition(":")
            fingerprint, _, allowed = rest.partition(":allowed=")
            return {"verdict": verdict, "fingerprint": fingerprint or None, "allowed": [t for t in allowed.split("+") if t]}
    return None


def declared_packages() -> tuple[str, ...]:
    """The distributions the project declares as dependencies (``[project] dependencies``), sorted.

    Read from the installed project's metadata, so a dependency added to ``pyproject.toml`` is
    recorded without a second list to keep in step; :data:`PACKAGES` when the project is not installed.
    """
    try:
        requires = metadata.requires(PROJECT) or []
    except metadata.PackageNotFoundError:
        return PACKAGES
    # A requirement is "name[extras] spec ; marker": keep unconditional ones (extras' markers name "extra").
    names = {re.match(r"[A-Za-z0-9._-]+", req).group(0) for req in requires if "extra ==" not in req and "extra==" not in req}  # type: ignore[union-attr]
    return tuple(sorted(names)) or PACKAGES


def package_versions(names: Iterable[str] | None = None) -> dict[str, str | None]:
    """Installed versions of ``names`` (default: :func:`declared_packages`) plus ``python`` (``None`` when not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in declared_packages() if names is None else names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def environment() -> dict[str, Any]:
    """The locked environment the task ran in: ``uv.lock``'s hash and a hash of every installed distribution and version.

    The same two values are in every arm's reuse key
    (:func:`components.engine.reuse.lock_fingerprint`, :func:`~components.engine.reuse.packages_fingerprint`):
    the lock says what should be installed, the versions what was.
    """
    from components.engine.reuse import installed_packages, lock_fingerprint, packages_fingerprint

    return {"lock": lock_fingerprint(), "packages": packages_fingerprint(), "distributions": len(installed_packages())}


def platform_info() -> dict[str, str]:
    """Operating system, kernel release, CPU architecture and Python implementation (no host name)."""
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "python_implementation": platform.python_implementation(),
        "byteorder": sys.byteorder,
    }


#: Per-arm ``info`` keys a deep-learning trainer records about where and how it ran (components.library.deep_train).
HARDWARE_KEYS = ("device", "precision", "deterministic_algorithms", "cudnn_deterministic", "cudnn_benchmark", "cublas_workspace_config")


def hardware(records: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]] | None:
    """What the trained arms report about their device, precision and kernel settings: each key's distinct values.

    ``training.device: auto`` is resolved inside each task, so this is where
    the run says what it chose. ``None`` when no arm reported a device (tabular
    trainers run on the CPU and report none).
    """
    seen: dict[str, set[str]] = {key: set() for key in HARDWARE_KEYS}
    for record in records:
        for training in record.get("trainings", []):
            info = training.get("info") or {}
            if "device" in info:
                for key in HARDWARE_KEYS:
                    seen[key].add(json.dumps(info.get(key)))
    if not seen["device"]:
        return None
    return {key: [json.loads(v) for v in sorted(values)] for key, values in seen.items()}


def hardware_line(provenance: Mapping[str, Any]) -> str | None:
    """One line for a results header: the devices and precision the arms trained with, and whether kernels were deterministic."""
    found = provenance.get("hardware")
    if not found:
        return None
    deterministic = {True: "on", False: "off"}
    kernels = "/".join(deterministic.get(v, str(v)) for v in found["deterministic_algorithms"])
    return f"devices: {', '.join(found['device'])}; precision: {', '.join(found['precision'])}; deterministic kernels: {kernels}"


def durations(started_at: float | None, ended_at: float, records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Wall-clock phases of a run, from the ``start`` timestamp and the branch records' ``timing``.

    ``before_fan_out_seconds`` runs from the start step to the first branch's
    first line (the start step plus task launch), ``fan_out_seconds`` from there
    to the last branch's end, ``after_fan_out_seconds`` from there to the pinning
    of the results (join and end, with their launches). ``branch_seconds`` maps
    each branch key to its own compute time. After a ``resume`` the clock spans
    the original run and the resume, since cloned tasks keep their timestamps.
    """
    # A record assembled from reused arms ran no task here: its clock says nothing about this run.
    records = [r for r in records if not all(a["origin"] == "reused" for a in (r.get("provenance") or {}).get("arms") or [{"origin": ""}])]
    timing = [r.get("timing", {}) for r in records]
    starts = [t["started_at"] for t in timing if "started_at" in t]
    ends = [t["finished_at"] for t in timing if "finished_at" in t]
    first, last = (min(starts), max(ends)) if starts and ends else (None, None)

    def span(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else round(b - a, 3)

    return {
        "wall_seconds": span(started_at, ended_at),
        "before_fan_out_seconds": span(started_at, first),
        "fan_out_seconds": span(first, last),
        "after_fan_out_seconds": span(last, ended_at),
        "branch_seconds": {r["key"]: round(r["timing"]["branch_seconds"], 3) for r in records if "branch_seconds" in r.get("timing", {})},
    }


def run_provenance(
    config: Mapping[str, Any],
    records: Iterable[Mapping[str, Any]],
    *,
    flow: str,
    run_id: str,
    user: str | None = None,
    origin_run_id: str | None = None,
    tags: Iterable[str] = (),
    started_at: float | None = None,
    ended_at: float | None = None,
) -> dict[str, Any]:
    """Assemble ``results["provenance"]`` for one run (pure apart from reading package metadata).

    ``config`` is the run's config including the launch key the shell added
    (overrides, config hash, lint and review verdicts, git state); ``records`` the branch
    records. The resolved config and the data fingerprints are not repeated
    here: they are deterministic and live in the pinned part of ``results``
    (``results["config"]``, ``results["data_fingerprints"]``); ``config_hash``
    is the reference to them.
    """
    launch = config.get(LAUNCH_KEY, {})
    experiment = config.get("experiment", {})
    ended_at = utc_now() if ended_at is None else ended_at
    git = dict(launch.get("git") or {"commit": None, "reason": "not captured: the run was not launched through the shell"})
    git.setdefault("captured_at", "launch")
    resume_git = parse_resume_tag(tags) if origin_run_id else None
    prov: dict[str, Any] = {
        "schema": SCHEMA,
        "flow": flow,
        "run_id": run_id,
        "user": user,
        "experiment": experiment.get("name"),
        "contract": experiment.get("contract"),
        "config_hash": launch.get("config_hash"),
        "overrides": list(launch.get("overrides", [])),
        "lint": launch.get("lint"),
        "review": launch.get("review"),
        "git": git,
        "resumed_from": origin_run_id,
        "packages": package_versions(),
        "environment": environment(),
        "platform": platform_info(),
        "hardware": hardware(records),
        "started_at": iso(started_at),
        "ended_at": iso(ended_at),
        "durations": durations(started_at, ended_at, records),
        # How the branches were dealt into tasks: the local slots the launch recorded (none on a scheduler) and the
        # tasks that ran branches (experiment.branches_per_task; components.engine.planner.task_count).
        "fanout": {"slots": launch.get("slots"), "tasks": len({(r.get("provenance") or {}).get("task") for r in records} - {None})},
    }
    if origin_run_id:
        prov["resume_git"] = resume_git
        prov["resume_review"] = parse_resume_review_tag(tags)
        prov["code_changed_on_resume"] = (
            None if resume_git is None else (resume_git["commit"], resume_git["diff_hash"]) != (git.get("commit"), git.get("diff_hash"))
        )
    return prov
