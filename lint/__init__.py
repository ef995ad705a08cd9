"""axisflow's static linter: stdlib-``ast`` rules for flows and components.

The run gate calls :func:`check_paths`, blocks on :func:`blocking` (the
findings of severity ``error``) and prints them with :func:`format_findings`; the
command line lives in :mod:`lint.cli` (``python -m lint``, ``axisflow lint``).
Importing this package imports only the standard library.

The public names load on first use (PEP 562): every flow task imports
:mod:`lint.imports` (the reuse key's code fingerprint reads the import graph
with it), and loading the engine and every rule there would cost each task
about 0.1 s of CPU for nothing.
"""

from __future__ import annotations

import typing

if typing.TYPE_CHECKING:
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


def __getattr__(name: str) -> typing.Any:
    """Load a public name from its module on first use, then keep it as an ordinary attribute."""
    if name in ("check_paths", "check_source"):
        from lint import engine as module
    elif name in ("SEVERITIES", "Finding", "LintError", "blocking", "format_findings"):
        from lint import findings as module
    elif name in ("RULES", "Rule", "rule_for"):
        from lint import rules as module
    elif name in ("Settings", "load_settings"):
        from lint import settings as module
    else:
        raise AttributeError(f"module 'lint' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
