"""Finding files, running the rules on them, and honouring suppressions."""

from __future__ import annotations

import ast
import io
import os
import tokenize
from collections.abc import Iterable, Sequence
from pathlib import Path

from lint.analysis import Module
from lint.findings import Finding, LintError
from lint.rules import RULES, SYNTAX_ERROR, Rule, expand_codes
from lint.settings import Settings, load_settings

SKIPPED_DIRS = frozenset({".venv", ".metaflow", "__pycache__"})


def discover(paths: Sequence[str | os.PathLike[str]], settings: Settings) -> list[str]:
    """The Python files to lint, in a stable order and without duplicates.

    A file named on the command line is always linted. A folder is walked
    for ``*.py`` files, skipping ``.venv``, ``.metaflow``, ``__pycache__``,
    hidden folders and anything matched by the ``exclude`` setting.
    """
    found: dict[str, None] = {}
    for raw in paths:
        path = os.fspath(raw)
        if os.path.isfile(path):
            found[os.path.normpath(path)] = None
        elif os.path.isdir(path):
            for folder, subfolders, files in os.walk(path):
                subfolders[:] = sorted(
                    name
                    for name in subfolders
                    if not name.startswith(".")
                    and name not in SKIPPED_DIRS
                    and not settings.is_excluded(os.path.join(folder, name))
                )
                for name in sorted(files):
                    candidate = os.path.normpath(os.path.join(folder, name))
                    if name.endswith(".py") and not settings.is_excluded(candidate):
                        found[candidate] = None
        else:
            raise LintError(f"path not found: {path}")
    return list(found)


def active_codes(
    settings: Settings,
    select: Iterable[str] | str | None = None,
    ignore: Iterable[str] | str | None = None,
) -> frozenset[str]:
    """The codes to run: ``select`` (or the settings' select, or all) minus every ignore."""
    chosen = (
        expand_codes(_codes(select), "--select")
        if select is not None
        else settings.select
        if settings.select is not None
        else frozenset(rule.code for rule in RULES)
    )
    return chosen - settings.ignore - expand_codes(_codes(ignore or ()), "--ignore")


def check_source(
    source: str,
    path: str = "<string>",
    *,
    settings: Settings | None = None,
    select: Iterable[str] | str | None = None,
    ignore: Iterable[str] | str | None = None,
) -> list[Finding]:
    """Lint one file's text; ``path`` is used for messages and path-scoped rules and settings."""
    settings = settings if settings is not None else Settings()
    codes = active_codes(settings, select, ignore) - settings.ignored_codes(path)
    return _check(source, path, settings, [rule for rule in RULES if rule.code in codes])


def check_paths(
    paths: Sequence[str | os.PathLike[str]],
    select: Iterable[str] | str | None = None,
    ignore: Iterable[str] | str | None = None,
    *,
    settings: Settings | None = None,
) -> list[Finding]:
    """Lint files and folders and return the findings sorted by path, line and column.

    ``select`` and ``ignore`` take codes or prefixes (``["AXF1", "AXF401"]``
    or ``"AXF1,AXF401"``). Settings come from the nearest pyproject.toml at or
    above the first path unless given. Raises LintError for a missing path, a
    bad setting or an unknown code; a file that does not parse is an AXF001
    finding, not an error.
    """
    if not paths:
        raise LintError("no paths given")
    if settings is None:
        settings = load_settings(paths[0])
    codes = active_codes(settings, select, ignore)
    findings: list[Finding] = []
    for path in discover(paths, settings):
        file_codes = codes - settings.ignored_codes(path)
        rules = [rule for rule in RULES if rule.code in file_codes]
        if not rules:
            continue
        try:
            source = _read(path)
        except UnicodeDecodeError as error:
            if SYNTAX_ERROR in rules:
                findings.append(SYNTAX_ERROR.from_error(path, error))
            continue
        findings.extend(_check(source, path, settings, rules))
    return sorted(findings)


def _codes(value: Iterable[str] | str) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item for item in (part.strip() for part in items) if item]


def _read(path: str) -> str:
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise LintError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    except SyntaxError:
        encoding = "utf-8"
    text = raw.decode(encoding)
    return text.removeprefix("\ufeff")


def _check(source: str, path: str, settings: Settings, rules: list[Rule]) -> list[Finding]:
    try:
        tree = ast.parse(source, filename=path)
    except (SyntaxError, ValueError) as error:
        if SYNTAX_ERROR not in rules:
            return []
        if not isinstance(error, SyntaxError):
            error = SyntaxError(str(error), (path, 1, 1, None))
        return [SYNTAX_ERROR.from_error(path, error)]
    module = Module(path, source, tree, settings)
    findings: list[Finding] = []
    for rule in rules:
        try:
            findings.extend(rule.check(module))
        except Exception as error:  # a rule bug must not pass for a clean file
            raise LintError(
                f"internal error: rule {rule.code} failed on {path}: {type(error).__name__}: {error}"
            ) from error
    return sorted(f for f in findings if f.code not in module.noqa_codes(f.line))
