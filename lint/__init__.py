"""axisflow's static linter: stdlib-``ast`` rules for flows and components.

The run gate calls :func:`check_paths` and :func:`format_findings`; the
command line lives in :mod:`lint.cli` (``python -m lint``, ``axisflow lint``).
Importing this package imports only the standard library.
"""

from lint.engine import check_paths, check_source
from lint.findings import Finding, LintError, format_findings
from lint.rules import RULES, Rule, rule_for
from lint.settings import Settings, load_settings

__all__ = [
    "RULES",
    "Finding",
    "LintError",
    "Rule",
    "Settings",
    "check_paths",
    "check_source",
    "format_findings",
    "load_settings",
    "rule_for",
]
