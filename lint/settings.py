"""Settings from the ``[tool.axisflow.lint]`` table of the nearest ``pyproject.toml``."""

from __future__ import annotations

import fnmatch
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lint.findings import LintError
from lint.rules import expand_codes

TABLE = "[tool.axisflow.lint]"
KEYS = ("project-packages", "exclude", "per-file-ignores", "select", "ignore")


@dataclass(frozen=True)
class Settings:
    """Resolved lint settings.

    Codes are stored expanded (``AXF1`` becomes every AXF1xx code). Globs in
    ``exclude`` and ``per-file-ignores`` are matched with ``fnmatch`` against a
    path relative to ``root`` (the folder holding the pyproject.toml) and
    against its bare name; ``per-file-ignores`` also matches a file through
    any of its parent folders (``"legacy"`` covers everything below it).
    """

    project_packages: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, frozenset[str]], ...] = ()
    select: frozenset[str] | None = None
    ignore: frozenset[str] = frozenset()
    root: Path | None = None
    source: Path | None = None

    def is_excluded(self, path: str | Path) -> bool:
        """True if an ``exclude`` glob matches this file or folder (its path or its name).

        Folder walks prune excluded folders, so a folder named on the command
        line is always walked, as ruff does without ``--force-exclude``.
        """
        return any(_matches(pattern, path, self.root, parents=False) for pattern in self.exclude)

    def ignored_codes(self, path: str | Path) -> frozenset[str]:
        """Codes switched off for this path by ``per-file-ignores``."""
        codes: set[str] = set()
        for pattern, pattern_codes in self.per_file_ignores:
            if _matches(pattern, path, self.root):
                codes |= pattern_codes
        return frozenset(codes)


def find_pyproject(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start`` (default: the working directory)."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    if not here.is_dir():
        here = here.parent
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_settings(start: str | os.PathLike[str] | None = None) -> Settings:
    """Read settings from the nearest pyproject.toml at or above ``start``.

    A missing file or a file without the table gives the defaults. An invalid
    file, an unknown key, a value of the wrong type or an unknown rule code
    raises :class:`~lint.findings.LintError` naming the file and the key.
    """
    source = find_pyproject(start)
    if source is None:
        return Settings()
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise LintError(f"{source}: cannot read settings: {error}") from None
    table = data.get("tool", {}).get("axisflow", {}).get("lint", {})
    if not isinstance(table, dict):
        raise LintError(f"{source}: {TABLE} must be a table")
    return parse_settings(table, root=source.parent, source=source)


def parse_settings(table: dict, root: Path | None = None, source: Path | None = None) -> Settings:
    """Validate a ``[tool.axisflow.lint]`` table already loaded as a dict."""
    where = f"{source or 'pyproject.toml'}: {TABLE}"
    for key in table:
        if key not in KEYS:
            raise LintError(f"{where}: unknown setting {key!r} (known: {', '.join(KEYS)})")

    def strings(key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise LintError(f"{where}: {key!r} must be a list of strings")
        return tuple(value)

    per_file = table.get("per-file-ignores", {})
    if not isinstance(per_file, dict):
        raise LintError(f"{where}: 'per-file-ignores' must be a table of glob = [codes]")
    per_file_ignores = []
    for pattern, codes in per_file.items():
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise LintError(f"{where}: per-file-ignores {pattern!r} must be a list of codes")
        per_file_ignores.append(
            (pattern, expand_codes(codes, f"{where} per-file-ignores {pattern!r}"))
        )
    select = strings("select") if "select" in table else None
    return Settings(
        project_packages=strings("project-packages"),
        exclude=strings("exclude"),
        per_file_ignores=tuple(per_file_ignores),
        select=expand_codes(select, f"{where} 'select'") if select is not None else None,
        ignore=expand_codes(strings("ignore"), f"{where} 'ignore'"),
        root=root.resolve() if root is not None else None,
        source=source,
    )


def _matches(pattern: str, path: str | Path, root: Path | None, parents: bool = True) -> bool:
    pattern = pattern.removeprefix("./").rstrip("/")
    relative = None
    if root is not None:
        try:
            relative = PurePosixPath(Path(path).resolve().relative_to(root).as_posix())
        except ValueError:
            relative = None
    if relative is None:
        relative = PurePosixPath(Path(path).as_posix())
    candidates = [str(relative), relative.name]
    if parents:
        candidates.extend(str(parent) for parent in relative.parents if str(parent) != ".")
    return any(fnmatch.fnmatchcase(candidate, pattern) for candidate in candidates)
