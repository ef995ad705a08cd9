"""The review record store: one YAML file per experiment under ``reviews/``, and how a worksheet stands against it.

:func:`write_record` stores a reviewer's verdict per trap in
``reviews/<experiment>.yaml`` with the facts, their fingerprint and a digest
of the whole record (so a hand edit is detected). Records are untrusted input
like any file in a repository: the experiment's name must be a plain
identifier before it becomes a file name, a file the tool did not write (no
:data:`RECORD_MARK` first line) is never replaced, and every write goes to a
temporary file renamed into place, so a failed write leaves the old record;
:func:`read_record` reads one back; :func:`check` compares a worksheet with its
record and says, in one line, whether it is current, missing, stale (naming
the traps and facts that changed), failing or invalid.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

from components.constants import REPO_ROOT
from components.files import atomic_write
from components.suggest import did_you_mean
from components.gates.review.practice import scale_free
from components.gates.review.traps import TRAPS, Worksheet, digest

__all__ = [
    "RECORD_MARK",
    "RECORD_SCHEMA",
    "REVIEWS_DIR",
    "VERDICTS",
    "ReviewError",
    "Status",
    "check",
    "check_verdicts",
    "first_line",
    "read_record",
    "record_digest",
    "record_path",
    "shown_path",
    "write_record",
]

#: Where review records live: one YAML file per experiment name, kept in the repository.
REVIEWS_DIR = REPO_ROOT / "reviews"
#: Version of the record layout (2: the record carries a digest of its whole content).
RECORD_SCHEMA = "axisflow.review/2"
#: A reviewer's verdict on one trap.
VERDICTS = ("pass", "fail")
#: The first line of every record this tool writes: a file without it is never overwritten.
RECORD_MARK = "# axisflow review record"
# The first line records of layout 1 began with (ours too, so they may be replaced by a new record).
_LEGACY_MARK = "# Fidelity review of experiment "
# What a record's file name (the experiment's name) may be made of: no separators, no leading dot.
_NAME = re.compile(r"[A-Za-z0-9_]+")
# Keys every record has; ``digest`` covers all the others.
_KEYS = ("experiment", "fingerprint", "facts", "verdicts", "reviewer", "digest")


class ReviewError(ValueError):
    """A review problem reported as one line: a blocked launch, a malformed record or bad review input."""


@dataclass(frozen=True)
class Status:
    """How a worksheet stands against its record.

    ``state`` is ``reviewed``, ``missing``, ``stale``, ``failed`` or
    ``invalid``; ``blocking`` the traps a launch needs reviewed or allowed;
    ``message`` one line saying why; ``record`` the record (or ``None``).
    """

    state: str
    blocking: tuple[str, ...]
    message: str
    record: dict[str, Any] | None
    path: Path


def record_path(experiment: str, reviews_dir: Path | None = None) -> Path:
    """Where the review record of ``experiment`` lives: ``<reviews_dir>/<experiment>.yaml``.

    The experiment's name becomes a file name, so it must be made of letters,
    digits and underscores (no separator, no leading dot); anything else
    raises :class:`ReviewError` naming ``experiment.name``, so a record can
    never land outside ``reviews_dir``.
    """
    if not isinstance(experiment, str) or not _NAME.fullmatch(experiment):
        raise ReviewError(
            f"experiment.name {_quoted(experiment)} cannot name a review record: use letters, digits and underscores "
            "only (no path separators, no leading dot)"
        )
    return Path(reviews_dir or REVIEWS_DIR) / f"{experiment}.yaml"


def _quoted(value: Any, limit: int = 60) -> str:
    """A short printable ``repr`` of an untrusted value, for a one-line message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def read_record(experiment: str, reviews_dir: Path | None = None) -> dict[str, Any] | None:
    """The review record of ``experiment``, or ``None`` when there is none; a malformed record raises :class:`ReviewError`.

    A record of an older layout, or one that lacks a key, raises too. A hand
    edit is not detected here but by :func:`check` (see :func:`record_digest`).
    """
    import yaml

    path = record_path(experiment, reviews_dir)
    if not path.is_file():
        return None
    try:
        record = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ReviewError(f"{shown_path(path)} cannot be read as a review record: {first_line(str(exc))}") from None
    if not isinstance(record, dict) or not str(record.get("schema", "")).startswith("axisflow.review/"):
        raise ReviewError(f"{shown_path(path)} is not an axisflow review record (schema {RECORD_SCHEMA})")
    if record["schema"] != RECORD_SCHEMA:
        raise ReviewError(
            f"{shown_path(path)} is a review record of the older layout {_quoted(record['schema'])}, which cannot detect "
            f"hand edits; record the review again with axisflow review --record (layout {RECORD_SCHEMA})"
        )
    for key in _KEYS:
        if key not in record:
            raise ReviewError(f"{shown_path(path)} has no {key!r}; record the review again with axisflow review --record")
    return record


def record_digest(record: Mapping[str, Any]) -> str:
    """The digest of a record's whole content (every key but ``digest`` itself), stored in it when written.

    A record whose content no longer matches its stored digest was edited
    outside ``axisflow review --record`` (a verdict turned from ``fail`` to
    ``pass``, an answer or a fact changed), and :func:`check` refuses it.
    """
    return digest({key: value for key, value in record.items() if key != "digest"})


def write_record(
    ws: Worksheet,
    reviewer: str | None,
    verdicts: Mapping[str, Any],
    reviews_dir: Path | None = None,
    now: datetime | None = None,
    note: str | None = None,
) -> Path:
    """Check ``verdicts`` (one ``{verdict, answer}`` per trap) and store the record of ``ws``; return its path.

    Raises :class:`ReviewError` (and writes nothing) when the reviewer is
    missing, a trap is unanswered or unknown, a verdict is not ``pass`` or
    ``fail``, an answer is empty, the experiment's name is not a safe file
    name, or the file exists but was not written by this tool. The write is
    atomic: a failure (a full disk) leaves any earlier record as it was.
    ``note`` (optional) says how the record came about, e.g. a re-record.
    """
    if not isinstance(reviewer, str) or not reviewer.strip():
        raise ReviewError("a review record needs --reviewer NAME (a person, or the agent and who ran it)")
    checked = check_verdicts(verdicts)
    path = record_path(ws.experiment, reviews_dir)
    _refuse_foreign_file(path)
    record: dict[str, Any] = {
        "schema": RECORD_SCHEMA,
        "experiment": ws.experiment,
        "reviewer": reviewer.strip(),
        "reviewed_at": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        **({"note": " ".join(note.split())} if note else {}),
        "overrides": list(ws.overrides),
        "fingerprint": ws.fingerprint,
        "verdicts": checked,
        "flags": {s.trap: list(s.flags) for s in ws.sections if s.flags},
        "facts": json.loads(json.dumps(ws.facts(), default=str)),
    }
    record["digest"] = record_digest(record)
    _atomic_write(path, _render(record))
    return path


def _render(record: Mapping[str, Any]) -> str:
    import yaml

    header = (
        f"{RECORD_MARK} of experiment {record['experiment']}: written by `axisflow review --record`.\n"
        "# The run gate compares `facts` with the composed experiment, and `digest` with the whole record:\n"
        "# a hand edit is refused; change a verdict by recording the review again.\n"
    )
    return header + yaml.safe_dump(dict(record), sort_keys=False, width=120, allow_unicode=True)


def _refuse_foreign_file(path: Path) -> None:
    """Raise unless ``path`` is absent or a record this tool wrote (a regular file starting with its mark)."""
    if not (path.exists() or path.is_symlink()):
        return
    first = ""
    if path.is_file() and not path.is_symlink():
        with open(path, encoding="utf-8", errors="replace") as handle:
            first = handle.read(64)  # the mark, never a whole (possibly huge) first line
    if not first.startswith((RECORD_MARK, _LEGACY_MARK)):
        raise ReviewError(
            f"{shown_path(path)} exists and was not written by axisflow review (its first line is not "
            f"'{RECORD_MARK} ...'); move it away: a review record never replaces a file the tool did not create"
        )


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` beside ``path`` and rename it over ``path`` (:func:`components.files.atomic_write`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text)


def check_verdicts(verdicts: Any) -> dict[str, dict[str, str]]:
    """``verdicts`` normalised, one ``{verdict, answer}`` per trap; raises :class:`ReviewError` naming the first problem."""
    if not isinstance(verdicts, Mapping):
        raise ReviewError("verdicts must map each trap to {verdict: pass|fail, answer: ...}")
    unknown = sorted(set(verdicts) - set(TRAPS))
    if unknown:
        raise ReviewError(f"unknown trap {unknown[0]!r}{did_you_mean(unknown[0], TRAPS)}; the traps are {', '.join(TRAPS)}")
    missing = [t for t in TRAPS if t not in verdicts]
    if missing:
        raise ReviewError(f"no verdict for {missing[0]}; a review answers all five traps: {', '.join(TRAPS)}")
    out = {}
    for trap in TRAPS:
        entry = verdicts[trap]
        if not isinstance(entry, Mapping):
            raise ReviewError(f"verdicts.{trap} must be {{verdict: pass|fail, answer: ...}}, got {entry!r}")
        verdict, answer = entry.get("verdict"), entry.get("answer")
        if verdict not in VERDICTS:
            near = did_you_mean(str(verdict), VERDICTS) if isinstance(verdict, str) else ""
            raise ReviewError(f"verdicts.{trap}.verdict is {verdict!r}{near}; must be one of {', '.join(VERDICTS)}")
        if not isinstance(answer, str) or not answer.strip():
            raise ReviewError(f"verdicts.{trap}.answer is empty; say what you checked and why the verdict holds")
        out[trap] = {"verdict": verdict, "answer": " ".join(answer.split())}
    return out


def check(ws: Worksheet, reviews_dir: Path | None = None) -> Status:
    """How ``ws`` stands against its record (see :class:`Status`)."""
    path = record_path(ws.experiment, reviews_dir)
    shown = shown_path(path)
    traps = tuple(TRAPS)
    try:
        record = read_record(ws.experiment, reviews_dir)
    except ReviewError as exc:
        return Status("invalid", traps, str(exc), None, path)
    if record is None:
        return _covered(ws, reviews_dir) or Status("missing", traps, f"experiment {ws.experiment} has no review record ({shown})", None, path)
    if record_digest(record) != record["digest"] or digest(record["facts"]) != record["fingerprint"]:
        message = (
            f"{shown} was edited by hand (its content no longer matches the digest recorded in it); "
            "change a review only by recording it again with axisflow review --record"
        )
        return Status("invalid", traps, message, record, path)
    by = f"reviewed by {record['reviewer']} on {record.get('reviewed_at', '?')}"
    if record["fingerprint"] != ws.fingerprint:
        old, new = record["facts"], json.loads(json.dumps(ws.facts(), default=str))
        changed = [t for t in TRAPS if digest(old.get(t)) != digest(new.get(t))]
        detail = "; ".join(f"{t} ({_changes(old.get(t), new.get(t))})" for t in changed)
        return Status("stale", tuple(changed), f"experiment {ws.experiment}: facts changed since the review in {shown} ({by}): {detail}", record, path)
    failed = tuple(t for t in TRAPS if record["verdicts"].get(t, {}).get("verdict") != "pass")
    if failed:
        why = record["verdicts"].get(failed[0], {}).get("answer", "")
        return Status("failed", failed, f"the review in {shown} ({by}) fails {', '.join(failed)}: {why}", record, path)
    return Status("reviewed", (), f"{shown}, {by}: current", record, path)


def _covered(ws: Worksheet, reviews_dir: Path | None) -> Status | None:
    """The status of ``ws`` under another experiment's record whose facts agree with its own but for scale, if any.

    A record covers ``ws`` when it is intact (its digest holds) and its facts,
    without axis values and per-cell budgets
    (:func:`~components.gates.review.practice.scale_free`), equal those of
    ``ws``: a smoke version is then covered by the full experiment's review.
    A passing record is preferred; a failing one still blocks.
    """
    found: list[tuple[dict[str, Any], Path]] = []
    for path in sorted(Path(reviews_dir or REVIEWS_DIR).glob("*.yaml")):
        try:
            record = read_record(path.stem, reviews_dir)
        except ReviewError:
            continue
        if record is None or record_digest(record) != record["digest"] or digest(record["facts"]) != record["fingerprint"]:
            continue
        if digest(scale_free(record["facts"])) == ws.shared_fingerprint:
            found.append((record, path))
    if not found:
        return None
    record, path = min(found, key=lambda item: any(v.get("verdict") != "pass" for v in item[0]["verdicts"].values()))
    by = f"reviewed by {record['reviewer']} on {record.get('reviewed_at', '?')}"
    covered = f"experiment {ws.experiment} is covered by {shown_path(path)} (experiment {record['experiment']}: the same fidelity facts at another scale, {by})"
    failed = tuple(t for t in TRAPS if record["verdicts"].get(t, {}).get("verdict") != "pass")
    if failed:
        why = record["verdicts"].get(failed[0], {}).get("answer", "")
        return Status("failed", failed, f"{covered}, which fails {', '.join(failed)}: {why}", record, path)
    return Status("reviewed", (), f"{covered}: current", record, path)


def _changes(old: Any, new: Any, limit: int = 2) -> str:
    diffs = list(_diff(old, new, ""))
    shown = ", ".join(f"{path or 'all'}: {_short(a)} -> {_short(b)}" for path, a, b in diffs[:limit])
    return shown + (f" and {len(diffs) - limit} more" if len(diffs) > limit else "")


def _diff(old: Any, new: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(set(old) | set(new), key=str):
            yield from _diff(old.get(key, "(absent)"), new.get(key, "(absent)"), f"{path}.{key}" if path else str(key))
    elif json.dumps(old, sort_keys=True, default=str) != json.dumps(new, sort_keys=True, default=str):
        yield path, old, new


def _short(value: Any, width: int = 60) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def shown_path(path: Path) -> str:
    """``path`` relative to the repository root when it lies below it (as messages show it)."""
    try:
        return Path(path).resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def first_line(text: str) -> str:
    """``text`` on one line, at most 200 characters (for one-line errors quoting a parser)."""
    return " ".join(text.split())[:200]
