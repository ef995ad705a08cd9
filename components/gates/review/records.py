"""The review record store: one YAML file per experiment under ``reviews/``, and how a worksheet stands against it.

:func:`write_record` stores a reviewer's verdict per trap in
``reviews/<experiment>.yaml`` with the facts and their fingerprint;
:func:`read_record` reads one back; :func:`check` compares a worksheet with its
record and says, in one line, whether it is current, missing, stale (naming
the traps and facts that changed), failing or invalid.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

from components.constants import REPO_ROOT
from components.gates.review.traps import TRAPS, Worksheet, digest

__all__ = [
    "RECORD_SCHEMA",
    "REVIEWS_DIR",
    "VERDICTS",
    "ReviewError",
    "Status",
    "check",
    "check_verdicts",
    "first_line",
    "read_record",
    "record_path",
    "shown_path",
    "write_record",
]

#: Where review records live: one YAML file per experiment name, kept in the repository.
REVIEWS_DIR = REPO_ROOT / "reviews"
#: Version of the record layout.
RECORD_SCHEMA = "axisflow.review/1"
#: A reviewer's verdict on one trap.
VERDICTS = ("pass", "fail")


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
    """Where the review record of ``experiment`` lives."""
    return Path(reviews_dir or REVIEWS_DIR) / f"{experiment}.yaml"


def read_record(experiment: str, reviews_dir: Path | None = None) -> dict[str, Any] | None:
    """The review record of ``experiment``, or ``None`` when there is none; a malformed record raises :class:`ReviewError`."""
    import yaml

    path = record_path(experiment, reviews_dir)
    if not path.is_file():
        return None
    try:
        record = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ReviewError(f"{shown_path(path)} is not valid YAML: {first_line(str(exc))}") from None
    if not isinstance(record, dict) or record.get("schema") != RECORD_SCHEMA:
        raise ReviewError(f"{shown_path(path)} is not an axisflow review record (schema {RECORD_SCHEMA})")
    for key in ("experiment", "fingerprint", "facts", "verdicts", "reviewer"):
        if key not in record:
            raise ReviewError(f"{shown_path(path)} has no {key!r}; record the review again with axisflow review --record")
    return record


def write_record(
    ws: Worksheet, reviewer: str, verdicts: Mapping[str, Any], reviews_dir: Path | None = None, now: datetime | None = None
) -> Path:
    """Check ``verdicts`` (one ``{verdict, answer}`` per trap) and store the record of ``ws``; return its path.

    Raises :class:`ReviewError` (and writes nothing) when the reviewer is
    missing, a trap is unanswered or unknown, a verdict is not ``pass`` or
    ``fail``, or an answer is empty.
    """
    import yaml

    if not isinstance(reviewer, str) or not reviewer.strip():
        raise ReviewError("a review record needs --reviewer NAME (a person, or the agent and who ran it)")
    checked = check_verdicts(verdicts)
    record = {
        "schema": RECORD_SCHEMA,
        "experiment": ws.experiment,
        "reviewer": reviewer.strip(),
        "reviewed_at": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "overrides": list(ws.overrides),
        "fingerprint": ws.fingerprint,
        "verdicts": checked,
        "flags": {s.trap: list(s.flags) for s in ws.sections if s.flags},
        "facts": json.loads(json.dumps(ws.facts(), default=str)),
    }
    path = record_path(ws.experiment, reviews_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"# Fidelity review of experiment {ws.experiment}: written by `axisflow review --record`.\n"
        "# The run gate compares `facts` with the composed experiment; edit the verdicts by recording again.\n"
    )
    path.write_text(header + yaml.safe_dump(record, sort_keys=False, width=120, allow_unicode=True))
    return path


def check_verdicts(verdicts: Any) -> dict[str, dict[str, str]]:
    """``verdicts`` normalised, one ``{verdict, answer}`` per trap; raises :class:`ReviewError` naming the first problem."""
    if not isinstance(verdicts, Mapping):
        raise ReviewError("verdicts must map each trap to {verdict: pass|fail, answer: ...}")
    unknown = sorted(set(verdicts) - set(TRAPS))
    if unknown:
        raise ReviewError(f"unknown trap {unknown[0]!r}; the traps are {', '.join(TRAPS)}")
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
            raise ReviewError(f"verdicts.{trap}.verdict is {verdict!r}; must be one of {', '.join(VERDICTS)}")
        if not isinstance(answer, str) or not answer.strip():
            raise ReviewError(f"verdicts.{trap}.answer is empty; say what you checked and why the verdict holds")
        out[trap] = {"verdict": verdict, "answer": " ".join(answer.split())}
    return out


def check(ws: Worksheet, reviews_dir: Path | None = None) -> Status:
    """How ``ws`` stands against its record (see :class:`Status`)."""
    path = record_path(ws.experiment, reviews_dir)
    shown = shown_path(path)
    record = read_record(ws.experiment, reviews_dir)
    traps = tuple(TRAPS)
    if record is None:
        return Status("missing", traps, f"experiment {ws.experiment} has no review record ({shown})", None, path)
    if digest(record["facts"]) != record["fingerprint"]:
        return Status("invalid", traps, f"{shown}: its facts do not match its fingerprint (edited by hand?); record the review again", record, path)
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
