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


#: Which module of the package each public name lives in.
_HOMES = {
    **dict.fromkeys(("check_paths", "check_source"), "engine"),
    **dict.fromkeys(("SEVERITIES", "Finding", "LintError", "blocking", "format_findings"), "findings"),
    **dict.fromkeys(("RULES", "Rule", "rule_for"), "rules"),
    **dict.fromkeys(("Settings", "load_settings"), "settings"),
}


def __getattr__(name: str) -> typing.Any:
    """Load a public name from its module on first use, then keep it as an ordinary attribute."""
    import importlib

    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'lint' has no attribute {name!r}")
    module = importlib.import_module(f"lint.{home}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
