"""Observations into cells: axis normalisation, canonical order, and per-cell values keyed by replicate.

A cell is one (axis point, method). Its values are keyed by the replicate unit
the interval strategy names (:meth:`components.stats.intervals.Strategy.unit`):
the seed for seed-only experiments, ``(replicate, fold)`` or a fold-as-seed
index under cross-validation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from components.seeding import canonical

__all__ = ["Cell", "cell_sort_key", "collect", "describe", "normalize_axes", "plain", "value_key"]

#: Type-aware sort key of one axis value (:func:`value_key`).
ValueKey = tuple[int, Any, str]


def plain(value: Any) -> Any:
    """A numpy scalar as the matching Python scalar; other values unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def value_key(value: Any) -> ValueKey:
    """Type-aware sort key: None < booleans < numbers < strings; ``1`` and ``1.0`` tie-break by type."""
    if value is None:
        return (0, 0, "")
    if isinstance(value, bool):
        return (1, int(value), "")
    if isinstance(value, (int, float)):
        return (2, value, type(value).__name__)
    return (3, str(value), type(value).__name__)


def cell_sort_key(axes: Mapping[str, Any], method: str = "", order: Sequence[str] = ()) -> tuple[tuple[tuple[str, ValueKey], ...], str]:
    """Canonical order of cells: axis items sorted by name, values compared type-aware, then method.

    Values compare as None < booleans < numbers < strings, so mixed types never
    raise. ``order`` puts the named axes first (a display order, e.g. data axes
    then training axes); the rest follow by name.
    """
    names = [name for name in order if name in axes] + sorted(set(axes) - set(order))
    return (tuple((name, value_key(axes[name])) for name in names), method)


def normalize_axes(axes: Any, where: str) -> dict[str, Any]:
    """``axes`` with string names, plain scalar values, sorted by name; raises naming ``where`` otherwise."""
    if not isinstance(axes, Mapping):
        raise ValueError(f"{where}: 'axes' must be a mapping of axis name to value, got {type(axes).__name__}")
    normalized: dict[str, Any] = {}
    for name, value in axes.items():
        value = plain(value)
        if value is not None and not isinstance(value, (bool, int, float, str)):
            raise ValueError(f"{where}: axis {name!r} has non-scalar value {value!r}")
        if isinstance(value, float) and math.isnan(value):
            raise ValueError(f"{where}: axis {name!r} is NaN; axis values must be comparable")
        normalized[str(name)] = value
    return dict(sorted(normalized.items()))


def describe(axes: Mapping[str, Any], method: str) -> str:
    """``cell (a=1, method='m')``: how errors name a cell."""
    parts = [f"{name}={value!r}" for name, value in axes.items()]
    return f"cell ({', '.join(parts + [f'method={method!r}'])})"


class Cell:
    """Values of one (axes, method) cell, keyed by replicate unit, while observations are collected."""

    def __init__(self, axes: dict[str, Any], text: str, method: str) -> None:
        self.axes = axes
        self.text = text  # canonical JSON of axes: the axis point's identity
        self.method = method
        self.values: dict[Any, float] = {}
        #: Per-unit payloads (per-example values) when the strategy reads them; empty otherwise.
        self.payloads: dict[Any, Any] = {}
        self.dropped = 0
        #: The coarsest resolution an observation of the cell declared (0: none; see :func:`collect`).
        self.resolution = 0.0
        #: The units whose value was dropped under ``nan_policy: omit`` (a strategy may drop more with them).
        self.dropped_units: set[Hashable] = set()

    def add(self, unit: Hashable, value: float, nan_policy: str, seed: int, payload: Any = None) -> None:
        """Record ``value`` (and ``payload``, if any) for ``unit`` (measured on ``seed``); a non-finite value raises or is counted as dropped."""
        if unit in self.values:
            raise ValueError(f"{describe(self.axes, self.method)} has two observations for {_unit_text(unit)}")
        if not math.isfinite(value):
            if nan_policy == "raise":
                raise ValueError(
                    f"{describe(self.axes, self.method)} {_unit_text(unit) if isinstance(unit, tuple) else f'seed {seed}'} has value {value!r}; "
                    "fix the run or pass nan_policy='omit' to drop and count such values"
                )
            self.dropped += 1
            self.dropped_units.add(unit)
            return
        self.values[unit] = value
        if payload is not None:
            self.payloads[unit] = payload


def _unit_text(unit: Hashable) -> str:
    if isinstance(unit, tuple):
        return f"replicate {unit[0]}, fold {unit[1]}"
    return f"seed {unit}"


#: How a strategy turns an observation's seed and fold (``None`` without a fold axis) into its replicate unit.
UnitOf = Callable[[int, "int | None"], Hashable]
#: How a strategy reads an observation's ``per_example`` entry (value, where it is) into a unit's payload.
PayloadOf = Callable[[Any, str], Any]


def _seed_of(observation: Mapping[str, Any], index: int) -> int:
    seed = observation["seed"]
    if type(seed) is not int:
        seed = plain(seed)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"observation {index}: 'seed' must be an integer replicate index, got {seed!r}")
    return int(seed)


def _value_of(observation: Mapping[str, Any], index: int) -> float:
    value = observation["value"]
    if type(value) is float:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"observation {index}: 'value' must be a number, got {value!r}") from None


def collect(
    observations: Iterable[Mapping[str, Any]], nan_policy: str, unit_of: UnitOf, fold_axis: str | None = None,
    payload_of: PayloadOf | None = None,
) -> dict[tuple[str, str], Cell]:
    """Group observations into cells keyed by ``(canonical axes, method)``.

    With ``fold_axis``, that axis is taken out of the cell's axes and handed to
    ``unit_of`` with the seed: a fold is a part of a replicate, not a cell.
    With ``payload_of``, each finite observation's ``per_example`` entry is read
    through it and kept with its unit. An observation may carry ``resolution``
    (what its metric declared for its test split, e.g. ``1/n_test`` for
    accuracy); the cell keeps the coarsest.
    """
    cells: dict[tuple[str, str], Cell] = {}
    # Many observations share one axes dict shape; normalize each distinct one once.
    normalized: dict[tuple[Any, ...], tuple[dict[str, Any], str, Any]] = {}
    for index, observation in enumerate(observations):
        try:
            axes, method = observation["axes"], observation["method"]
            seed, value = _seed_of(observation, index), _value_of(observation, index)
        except (KeyError, TypeError):
            raise ValueError(
                f"observation {index}: needs keys 'axes', 'method', 'seed', 'value', got {observation!r}"
            ) from None
        try:
            raw = tuple([(name, type(v), v) for name, v in axes.items()])
            axes, text, fold = normalized[raw]
        except KeyError:
            axes, text, fold = normalized.setdefault(raw, _split_fold(axes, index, fold_axis, method))
        except (AttributeError, TypeError):
            axes, text, fold = _split_fold(axes, index, fold_axis, method)
        key = (text, method if type(method) is str else str(method))
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = Cell(axes, text, key[1])
        payload = None
        if payload_of is not None and math.isfinite(value):
            payload = payload_of(observation.get("per_example"), f"observation {index} ({method}, seed {seed}, fold {fold})")
        cell.add(unit_of(seed, fold), value, nan_policy, seed, payload)
        if "resolution" in observation:
            cell.resolution = max(cell.resolution, _resolution_of(observation, index))
    return cells


def _resolution_of(observation: Mapping[str, Any], index: int) -> float:
    """An observation's declared resolution: the smallest step its metric can take on its test split (positive, finite)."""
    value = plain(observation["resolution"])
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"observation {index}: 'resolution' must be a positive number in metric units, got {value!r}")
    return float(value)


def _split_fold(axes: Any, index: int, fold_axis: str | None, method: Any) -> tuple[dict[str, Any], str, int | None]:
    """Normalized axes without the fold axis, their canonical text, and the fold (``None`` without a fold axis)."""
    axes = normalize_axes(axes, f"observation {index}")
    if fold_axis is None:
        return axes, canonical(axes), None
    if fold_axis not in axes:
        raise ValueError(f"observation of {method} at {axes} has no {fold_axis!r} axis")
    fold = axes.pop(fold_axis)
    if isinstance(fold, bool) or not isinstance(fold, int):
        raise ValueError(f"observation of {method} at {axes}: fold {fold!r} is not an integer")
    return axes, canonical(axes), fold
