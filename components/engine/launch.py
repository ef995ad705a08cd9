"""Checks of the settings against the data, run once at launch: what only a ``fit`` would otherwise reject.

The typed config check (:func:`components.spec.config.validate`) sees settings,
not data, so a setting that contradicts the data's shape (a ``PCA`` with more
components than the table has features) used to fail in every branch, minutes
in, in a long log. The rule: a trainer may declare a cheap ``data_check``
(:class:`components.spec.declarations.Declaration`); when any selected method
has one, the launch makes the first branch's dataset and runs each check on
the rows that method would fit on. Nothing is trained; a trainer without a
check costs nothing here.
"""

from __future__ import annotations

from typing import Any

from components.spec.config import ConfigError, ExperimentSpec
from components.spec.declarations import TARGET, FieldError, key_path

__all__ = ["check_on_data"]


def check_on_data(spec: ExperimentSpec) -> None:
    """Run every selected method's ``data_check`` on the first branch's data; :class:`ConfigError` naming the setting."""
    from components.engine.planner import branches
    from components.spec import seams

    checks = [(m, d) for m in spec.methods if (d := _declaration(m)).data_check is not None]
    if not checks:
        return
    first = branches(spec)[0]
    try:
        data = seams.make_data(spec.data, first["data_axes"], first["seed"])
    except Exception as exc:  # noqa: BLE001 -- every branch would fail the same way
        raise ConfigError(f"data ({spec.data[TARGET]}): making branch {first['key']}'s dataset at launch failed: {_reason(exc)}") from None
    for method, declaration in checks:
        rows = seams.fit_data({**method.spec, "name": method.name}, data, spec.unused_validation)
        try:
            declaration.data_check(method.spec, rows)
        except FieldError as exc:
            where = key_path(f"method.{method.name}", exc.loc)
            raise ConfigError(f"{where}: {exc.message} (checked at launch on branch {first['key']})", key=where) from None


def _declaration(method: Any) -> Any:
    from components.spec.seams import implementation

    return implementation({TARGET: method.target}, "trainer", f"method.{method.name}")[1]


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
