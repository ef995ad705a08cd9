"""axisflow's static linter: stdlib-``ast`` rules for flows and components.

The run gate calls :func:`check_paths`, blocks on :func:`blocking` (the
findings of severity ``error``) and prints them with :func:`format_findings`; the
command line lives in :mod:`lint.cli` (``python -m lint``, ``axisflow lint``).
Importing this package imports only the standard library.
"""

from lint.engine import check_paths, check_source
from lint.findings import SEVERITIES, Finding, LintError, blocking, format_findings
from lint.rules import RULES, Rule, rule_for
from lint.settings import Settings, load_settings

__all__ = [
    "RULES",
    "SEVERITIES",
    "Finding",
    "LintError",
    "Rule",
    "Settings",
    "blocking",
    "check_paths",
    "check_source",
    "format_findings",
    "load_settings",
    "rule_for",
]
