"""The type checker's configuration: strict where the typed rows live, mypy's defaults elsewhere, and run in CI.

mypy itself is not run here (a full check takes about a minute); ``.ci/run`` runs ``uv run mypy components lint``.
"""

from __future__ import annotations

import tomllib

from mypy.main import define_options
from mypy.options import PER_MODULE_OPTIONS

from conftest import ROOT

STRICT_MODULES = {"components.stats.*", "components.schema", "components.spec.*"}


def _mypy_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]


def _strict_per_module_flags() -> dict[str, bool]:
    """What ``mypy --strict`` sets, less the global-only flags (which an override cannot set)."""
    _, _, assignments = define_options()
    return {name: value for name, value in assignments if name in PER_MODULE_OPTIONS}


def test_stats_schema_and_spec_are_checked_with_every_strict_flag():
    strict = _strict_per_module_flags()
    assert "disallow_untyped_defs" in strict and "disallow_any_generics" in strict
    covered = {
        module: override
        for override in _mypy_config().get("overrides", [])
        for module in override["module"]
        if all(override.get(flag) == value for flag, value in strict.items())
    }
    assert set(covered) == STRICT_MODULES


def test_no_section_sets_strict_itself_since_mypy_applies_it_to_every_module():
    # `strict = true` in an override turned the strict flags on for the whole tree (286 errors instead of 122).
    config = _mypy_config()
    assert "strict" not in config
    assert all("strict" not in override for override in config.get("overrides", []))


def test_the_rest_of_the_tree_runs_at_mypy_defaults():
    config = _mypy_config()
    assert not any(flag in config for flag in _strict_per_module_flags())
    assert config["plugins"] == ["pydantic.mypy"]


def test_ci_runs_the_type_checker_after_the_linter():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    lint = lines.index("uv run axisflow lint flows components lint")
    assert lines[lint + 1] == "uv run mypy components lint"
