"""The finding record, the error type, and the output formats.

Each format is one renderer function in ``RENDERERS`` (findings) and
``STATISTICS_RENDERERS`` (per-rule counts); adding a format (github, sarif)
means adding a function to each table.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass

#: Finding severities, most serious first. ``error``: a reproducibility hazard that can change
#: numbers (or stop the flow); the run gate blocks on these. ``warning``: a scope or style
#: finding worth reading (a constant outside the config, a fan-out per config). ``info``: a
#: remark the flow's author may well have chosen on purpose (a sweep that is the point of the flow).
SEVERITIES = ("error", "warning", "info")


class LintError(Exception):
    """A usage, configuration or internal error: the CLI prints it on one line and exits 2."""


@dataclass(frozen=True, order=True)
class Finding:
    """One rule violation.

    ``line`` and ``col`` are 1-based, as in flake8 and ruff output. The field
    order is the sort order: path, then line, then column, then code.
    ``severity`` is one of :data:`SEVERITIES`; only ``error`` blocks the run gate
    (see :func:`blocking`).
    """

    path: str
    line: int
    col: int
    code: str
    name: str
    message: str
    severity: str = "error"

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, not {self.severity!r}")

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.code} [{self.severity}] {self.message}"


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that block the run gate: the ``error`` ones, sorted.

    Warnings and infos are reported but never block a run: they are scope
    findings (a constant outside the config, a sweep fan-out) rather than
    hazards that change numbers.
    """
    return sorted(f for f in findings if f.severity == "error")


def _findings_text(findings: Sequence[Finding]) -> str:
    return "\n".join(str(finding) for finding in findings)


def _findings_json(findings: Sequence[Finding]) -> str:
    return json.dumps([asdict(finding) for finding in findings], indent=2)


RENDERERS: dict[str, Callable[[Sequence[Finding]], str]] = {
    "text": _findings_text,
    "json": _findings_json,
}
FORMATS = tuple(RENDERERS)


def format_findings(findings: Iterable[Finding], fmt: str = "text") -> str:
    """Render findings sorted by path, line and column.

    ``fmt="text"`` gives one ``path:line:col: CODE [severity] message`` line per
    finding (flake8-compatible: the severity leads the message);
    ``fmt="json"`` gives a JSON list of objects with the keys path, line, col,
    code, name, message and severity. An empty input renders as ``""`` or ``"[]"``.
    """
    return _renderer(RENDERERS, fmt)(sorted(findings))


def rule_counts(findings: Iterable[Finding]) -> list[tuple[str, str, int]]:
    """``(code, name, count)`` per rule with at least one finding, most frequent first, then by code."""
    counts = Counter((finding.code, finding.name) for finding in findings)
    return sorted(((code, name, n) for (code, name), n in counts.items()), key=lambda r: (-r[2], r[0]))


def _statistics_text(rows: Sequence[tuple[str, str, int]]) -> str:
    if not rows:
        return ""
    width = max(len(str(n)) for _, _, n in rows)
    return "\n".join(f"{n:>{width}}  {code}  {name}" for code, name, n in rows)


def _statistics_json(rows: Sequence[tuple[str, str, int]]) -> str:
    return json.dumps([{"code": c, "name": name, "count": n} for c, name, n in rows], indent=2)


STATISTICS_RENDERERS: dict[str, Callable[[Sequence[tuple[str, str, int]]], str]] = {
    "text": _statistics_text,
    "json": _statistics_json,
}


def format_statistics(findings: Iterable[Finding], fmt: str = "text") -> str:
    """Per-rule finding counts (as ruff's ``--statistics``): ``count  CODE  name`` lines, or JSON
    objects with the keys code, name and count; most frequent rule first."""
    return _renderer(STATISTICS_RENDERERS, fmt)(rule_counts(findings))


def _renderer(table: dict, fmt: str) -> Callable:
    if fmt not in table:
        raise LintError(f"unknown output format {fmt!r}; choose one of {', '.join(table)}")
    return table[fmt]
