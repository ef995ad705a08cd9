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


class LintError(Exception):
    """A usage, configuration or internal error: the CLI prints it on one line and exits 2."""


@dataclass(frozen=True, order=True)
class Finding:
    """One rule violation.

    ``line`` and ``col`` are 1-based, as in flake8 and ruff output. The field
    order is the sort order: path, then line, then column, then code.
    """

    path: str
    line: int
    col: int
    code: str
    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.code} {self.message}"


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

    ``fmt="text"`` gives one ``path:line:col: CODE message`` line per finding;
    ``fmt="json"`` gives a JSON list of objects with the keys path, line, col,
    code, name and message. An empty input renders as ``""`` or ``"[]"``.
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
