"""The statistics settings (``experiment.statistics``): one pydantic model, validated once at the boundary.

:class:`Settings` is what :func:`components.stats.aggregate` runs with and what
an experiment config may set; the config check (:mod:`components.spec.config`)
and ``aggregate`` validate through the same model, so the two can never
disagree. Each field's validator normalises its value (``"default"`` becomes
:data:`DEFAULT_METHOD`, contrasts get their names) and raises a one-line
message that :func:`check_settings` prefixes with the key.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from components.stats.cells import plain, value_key
from components.suggest import did_you_mean

__all__ = [
    "CONTRAST_KINDS",
    "CV_INTERVALS",
    "DEFAULT_METHOD",
    "DEFAULT_MULTIPLICITY",
    "HYBRID_CAP",
    "HYBRID_FLOOR",
    "METHODS",
    "MULTIPLICITY",
    "NAN_POLICIES",
    "SETTINGS",
    "Bounds",
    "Settings",
    "check_bounds",
    "check_confidence",
    "check_method",
    "check_multiplicity",
    "check_nan_policy",
    "check_resamples",
    "check_resolution",
    "check_seed",
    "check_contrasts",
    "check_settings",
    "difference_bounds",
    "for_derived_values",
    "settings_from",
]

#: A metric's range (either end ``None`` when open).
Bounds = tuple[float | None, float | None]

#: Interval methods :func:`aggregate` and :func:`bootstrap_ci` accept.
METHODS = ("hybrid-t", "bootstrap-t", "bca", "percentile", "basic", "student-t")
#: The paired Student-t interval and its own t test: a method with a pedigree for small paired
#: samples (docs/statistics.md, "The default"); ``"default"`` is an alias.
DEFAULT_METHOD = "student-t"
#: ``hybrid-t``: each side's critical value is at least ``HYBRID_FLOOR`` times Student-t's
#: ``t(n-1)``, and the two together at most ``2 * HYBRID_CAP`` times it (docs/statistics.md).
HYBRID_FLOOR = 0.8
HYBRID_CAP = 1.2
#: What :func:`aggregate` does with NaN or infinite metric values.
NAN_POLICIES = ("raise", "omit")
#: Family-wise corrections of the verdicts of one :func:`aggregate` call.
MULTIPLICITY = ("holm", "maxt", "bonferroni", "none")
DEFAULT_MULTIPLICITY = "holm"
#: Declared contrasts: a training-axis (or any axis) value against a reference value
#: within each method, or one method against another at every axis point.
CONTRAST_KINDS = ("axis", "method")

#: Interval strategies of a cross-validated experiment (``cv_interval``; :mod:`components.stats.cv`).
CV_INTERVALS = ("nadeau_bengio", "nested", "naive_folds_as_seeds")


def check_method(method: Any) -> str:
    """An interval method name, lower-cased; ``"default"`` is :data:`DEFAULT_METHOD`."""
    name = method.lower() if isinstance(method, str) else None
    if name == "default":
        return DEFAULT_METHOD
    if name not in METHODS:
        raise ValueError(f"unknown statistics method {method!r}{did_you_mean(str(method), METHODS)}; valid: {', '.join(METHODS)} (or 'default')")
    return name


def check_confidence(confidence: Any) -> float:
    """A two-sided confidence level strictly between 0 and 1."""
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real) or not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1 (0.95 for 95%), got {confidence!r}")
    return float(confidence)


def check_resamples(n_resamples: Any) -> int:
    """A positive whole number of bootstrap resamples."""
    value = float(n_resamples) if isinstance(n_resamples, numbers.Real) and not isinstance(n_resamples, bool) else math.nan
    if not (math.isfinite(value) and value.is_integer() and value >= 1):
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    return int(value)


def check_seed(seed: Any) -> int:
    """A non-negative integer root seed."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def check_resolution(resolution: Any) -> float | None:
    """The metric's resolution in metric units (e.g. ``1/n_test`` for accuracy), positive and finite, or ``None``."""
    if resolution is None:
        return None
    if isinstance(resolution, bool) or not isinstance(resolution, numbers.Real) or not (0 < float(resolution) < math.inf):
        raise ValueError(f"resolution must be a positive number in metric units (e.g. 0.005 for accuracy on 200 examples), got {resolution!r}")
    return float(resolution)


def check_nan_policy(nan_policy: Any) -> str:
    """One of :data:`NAN_POLICIES`."""
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"unknown nan_policy {nan_policy!r}{did_you_mean(str(nan_policy), NAN_POLICIES)}; valid: {', '.join(NAN_POLICIES)}")
    return str(nan_policy)


def check_multiplicity(multiplicity: Any) -> str:
    """One of :data:`MULTIPLICITY`."""
    if multiplicity not in MULTIPLICITY:
        raise ValueError(f"unknown multiplicity {multiplicity!r}{did_you_mean(str(multiplicity), MULTIPLICITY)}; valid: {', '.join(MULTIPLICITY)}")
    return str(multiplicity)


def check_bounds(bounds: Any) -> Bounds | None:
    """``bounds`` as a ``(low, high)`` pair of floats or ``None`` (infinite ends read as open); raises otherwise."""
    if bounds is None:
        return None
    if isinstance(bounds, (str, bytes)) or not isinstance(bounds, Sequence) or len(bounds) != 2:
        raise ValueError(f"bounds must be a pair (low, high), either may be None, got {bounds!r}")
    out: list[float | None] = []
    for value in bounds:
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value)):
            raise ValueError(f"bounds must hold numbers or None, got {bounds!r}")
        out.append(None if value is None or math.isinf(value) else float(value))
    if out[0] is not None and out[1] is not None and not out[0] < out[1]:
        raise ValueError(f"bounds must have low < high, got {bounds!r}")
    return out[0], out[1]


def difference_bounds(bounds: Any) -> Bounds | None:
    """The range a difference of two values in ``bounds`` can take: ``(low - high, high - low)``.

    ``None`` (no range) when either end of ``bounds`` is open.
    """
    bounds = check_bounds(bounds)
    if bounds is None or None in bounds:
        return None
    low, high = bounds
    return low - high, high - low


def check_contrasts(
    contrasts: Any,
    *,
    axes: Mapping[str, Sequence[Any]] | None = None,
    methods: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Check declared contrasts and return them normalised (each with a ``name``).

    Each contrast is a mapping, either ``{"kind": "axis", "axis": A, "value": v,
    "reference": r}`` -- value ``v`` of axis ``A`` against ``r`` within every method
    (optionally ``"methods": [...]``) and every point of the other axes -- or
    ``{"kind": "method", "method": m, "reference": r}`` -- method ``m`` against
    method ``r`` at every axis point. ``name`` is optional. With ``axes`` (axis
    name to its values) and ``methods``, names and values are checked against
    the experiment. Raises ``ValueError("[i]: <what is wrong>")``.
    """
    if contrasts is None:
        return []
    if isinstance(contrasts, (str, bytes, Mapping)) or not isinstance(contrasts, Sequence):
        raise ValueError(f"contrasts must be a list of mappings, got {type(contrasts).__name__}")
    known = {"axis": {"kind", "name", "axis", "value", "reference", "methods"}, "method": {"kind", "name", "method", "reference"}}
    out: list[dict[str, Any]] = []
    names: set[str] = set()
    for i, contrast in enumerate(contrasts):
        where = f"[{i}]"
        if not isinstance(contrast, Mapping):
            raise ValueError(f"{where}: a contrast is a mapping with a 'kind', got {contrast!r}")
        kind = contrast.get("kind")
        if kind not in CONTRAST_KINDS:
            raise ValueError(f"{where}.kind: {kind!r}; must be one of {', '.join(CONTRAST_KINDS)}")
        extra = sorted(set(contrast) - known[kind])
        if extra:
            near = did_you_mean(extra[0], known[kind])
            raise ValueError(f"{where}.{extra[0]}: unknown key for a {kind} contrast{near}; known: {', '.join(sorted(known[kind]))}")
        required = ("axis", "value", "reference") if kind == "axis" else ("method", "reference")
        for key in required:
            if key not in contrast:
                raise ValueError(f"{where}.{key}: missing; a {kind} contrast needs {', '.join(required)}")
        item = {k: plain(v) for k, v in contrast.items() if k != "methods"}
        if kind == "axis":
            if not isinstance(item["axis"], str):
                raise ValueError(f"{where}.axis: must be an axis name, got {item['axis']!r}")
            if value_key(item["value"]) == value_key(item["reference"]):
                raise ValueError(f"{where}: value and reference are both {item['value']!r}; a contrast compares two values")
            if axes is not None:
                if item["axis"] not in axes:
                    near = did_you_mean(item["axis"], axes)
                    raise ValueError(f"{where}.axis: {item['axis']!r} is not an axis{near}; axes: {', '.join(sorted(axes))}")
                for key in ("value", "reference"):
                    if not any(value_key(item[key]) == value_key(v) for v in axes[item["axis"]]):
                        raise ValueError(f"{where}.{key}: {item[key]!r} is not a value of {item['axis']}; values: {list(axes[item['axis']])}")
            if "methods" in contrast:
                chosen = contrast["methods"]
                if isinstance(chosen, (str, bytes)) or not isinstance(chosen, Sequence) or not chosen:
                    raise ValueError(f"{where}.methods: must be a non-empty list of method names, got {chosen!r}")
                item["methods"] = [str(m) for m in chosen]
            default_name = f"{item['axis']}={item['value']!r} vs {item['reference']!r}"
        else:
            if not isinstance(item["method"], str) or not isinstance(item["reference"], str):
                raise ValueError(f"{where}: method and reference must be method names")
            if item["method"] == item["reference"]:
                raise ValueError(f"{where}: method and reference are both {item['method']!r}")
            default_name = f"{item['method']} vs {item['reference']}"
        if methods is not None:
            for m in ([item["method"], item["reference"]] if kind == "method" else item.get("methods", [])):
                if m not in methods:
                    raise ValueError(f"{where}: method {m!r} is not among the selected methods{did_you_mean(str(m), methods)}; selected: {', '.join(methods)}")
        item["name"] = str(item.get("name") or default_name)
        if item["name"] in names:
            raise ValueError(f"{where}.name: {item['name']!r} is declared twice")
        names.add(item["name"])
        out.append(item)
    return out




class Settings(BaseModel):
    """The statistics settings of one :func:`components.stats.aggregate` call.

    Strict, frozen and closed like :class:`components.spec.declarations.Params`,
    but with defaults: an experiment that says nothing about statistics gets the
    documented defaults, and the resolved settings are written into ``results``.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    method: Annotated[str, BeforeValidator(check_method)] = DEFAULT_METHOD
    confidence: Annotated[float, BeforeValidator(check_confidence)] = 0.95
    n_resamples: Annotated[int, BeforeValidator(check_resamples)] = 10_000
    seed: Annotated[int, BeforeValidator(check_seed)] = 0
    nan_policy: Annotated[str, BeforeValidator(check_nan_policy)] = "raise"
    multiplicity: Annotated[str, BeforeValidator(check_multiplicity)] = DEFAULT_MULTIPLICITY
    contrasts: Annotated[list[dict[str, Any]], BeforeValidator(check_contrasts)] = []
    cv_interval: Literal["nadeau_bengio", "nested", "naive_folds_as_seeds"] | None = None
    resolution: Annotated[float | None, BeforeValidator(check_resolution)] = None


#: The settings an experiment config may set (``experiment.statistics``).
SETTINGS = tuple(sorted(Settings.model_fields))


def settings_from(values: Mapping[str, Any]) -> Settings:
    """:class:`Settings` from a mapping; raises ``ValueError("<key>: <what is wrong>")`` on the first problem."""
    try:
        return Settings(**dict(values))
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        key = ".".join(str(part) for part in error["loc"]) or "?"
        if error["type"] == "extra_forbidden":
            raise ValueError(f"{key}: unknown setting{did_you_mean(key, SETTINGS)}; known: {', '.join(SETTINGS)}") from None
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "literal_error":
            message = f"{values.get(key)!r}; {message}"
        raise ValueError(f"{key}: {message}") from None


def check_settings(settings: Mapping[str, Any]) -> None:
    """Check ``experiment.statistics``-style settings (:func:`settings_from`), discarding the model."""
    settings_from(settings)


def for_derived_values(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The primary metric's settings, for values derived from the same predictions (a secondary metric, a class's rate).

    A declared ``resolution`` is in the primary metric's units, so it is dropped;
    nested cross-validation reads the primary metric's per-example values, so
    ``cv_interval: nested`` becomes ``nadeau_bengio`` (the values' own block
    states its interval).
    """
    derived = {key: value for key, value in settings.items() if key != "resolution"}
    if derived.get("cv_interval") == "nested":
        derived["cv_interval"] = "nadeau_bengio"
    return derived
