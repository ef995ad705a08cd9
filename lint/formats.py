"""Output formats for CI: GitHub workflow annotations and SARIF 2.1.0.

``text`` and ``json`` live with the finding record (:func:`lint.findings.format_findings`);
this module adds the two formats a CI system reads:

* ``github``: one ``::error``/``::warning``/``::notice`` workflow command per
  finding (by its severity), which GitHub Actions shows as an annotation on
  the pull request's diff.
* ``sarif``: a SARIF 2.1.0 log (the OASIS static-analysis format that GitHub
  code scanning and most IDEs import), with every rule's documentation as
  the rule's help text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from lint.findings import FORMATS as BASE_FORMATS
from lint.findings import Finding, format_findings
from lint.rules import RULES

__all__ = [
    "FORMATS", "GITHUB_COMMANDS", "SARIF_LEVELS", "SARIF_SCHEMA", "SARIF_VERSION", "github", "render", "sarif",
]

#: Every output format the command line offers.
FORMATS = (*BASE_FORMATS, "github", "sarif")
#: The SARIF version written, and the schema a SARIF log names.
SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_TOOL = "axisflow-lint"
#: Severity -> GitHub workflow command and SARIF result level.
GITHUB_COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}
SARIF_LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def render(findings: Iterable[Finding], fmt: str = "text") -> str:
    """Render ``findings`` in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "github":
        return github(findings)
    if fmt == "sarif":
        return sarif(findings)
    return format_findings(findings, fmt)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github(findings: Iterable[Finding]) -> str:
    """GitHub Actions workflow commands: one annotation per finding (``::error``, ``::warning`` or
    ``::notice`` by severity), sorted by path and position."""
    lines = []
    for f in sorted(findings):
        props = f"file={_escape_property(f.path)},line={f.line},col={f.col},title={_escape_property(f'{f.code} {f.name}')}"
        lines.append(f"::{GITHUB_COMMANDS[f.severity]} {props}::{_escape_data(f'{f.code} {f.message}')}")
    return "\n".join(lines)


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("axisflow")
    except metadata.PackageNotFoundError:
        return "0"


def sarif(findings: Iterable[Finding]) -> str:
    """A SARIF 2.1.0 log with one run: the linter, every rule (documented) and one result per finding."""
    ordered = sorted(findings)
    index = {rule.code: i for i, rule in enumerate(RULES)}
    rules = [
        {
            "id": rule.code,
            "name": "".join(part.capitalize() for part in rule.name.split("-")),
            "shortDescription": {"text": rule.summary},
            "fullDescription": {"text": rule.summary},
            "help": {"text": rule.explain()},
            "defaultConfiguration": {"level": SARIF_LEVELS[rule.severity]},
        }
        for rule in RULES
    ]
    results = []
    for f in ordered:
        result: dict[str, object] = {
            "ruleId": f.code,
            "level": SARIF_LEVELS[f.severity],
            "message": {"text": f.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.path.replace("\\", "/"), "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": max(f.line, 1), "startColumn": max(f.col, 1)},
                    }
                }
            ],
        }
        if f.code in index:
            result["ruleIndex"] = index[f.code]
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": {"name": _TOOL, "version": _version(), "rules": rules}},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2)
