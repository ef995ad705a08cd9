"""The finding record, the error type, and the two output formats."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass

FORMATS = ("text", "json")


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


def format_findings(findings: Iterable[Finding], fmt: str = "text") -> str:
    """Render findings sorted by path, line and column.

    ``fmt="text"`` gives one ``path:line:col: CODE message`` line per finding;
    ``fmt="json"`` gives a JSON list of objects with the keys path, line, col,
    code, name and message. An empty input renders as ``""`` or ``"[]"``.
    """
    ordered = sorted(findings)
    if fmt == "text":
        return "\n".join(str(finding) for finding in ordered)
    if fmt == "json":
        return json.dumps([asdict(finding) for finding in ordered], indent=2)
    raise LintError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
