"""Interval strategies: how a row of per-replicate values becomes a mean, an interval and a p-value.

Two layers:

* Array functions (:func:`bootstrap_ci`, :func:`interval_from_distribution`,
  :func:`student_t_ci`, ...) take ``samples`` of shape ``(cells, n)`` -- one row
  per cell, one column per seed -- and return arrays of shape ``(cells,)``.
* :class:`Strategy` objects, one per interval family, which
  :func:`components.stats.aggregate` picks from the settings (as
  ``scipy.stats.bootstrap(method=...)`` picks its interval): :class:`Bootstrap`
  here (every bootstrap method and Student-t), the cross-validation ones in
  :mod:`components.stats.cv`. A strategy says what a replicate unit is, checks a
  cell's units, and summarizes rows.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt

from components.stats.cells import Cell
from components.stats import resampling
from components.stats.resampling import Draws, Floats, by_stream, check_samples, resample, rngs_for, t_from_key
from components.stats.settings import (
    DEFAULT_METHOD,
    HYBRID_CAP,
    HYBRID_FLOOR,
    Bounds,
    Settings,
    check_bounds,
    check_confidence,
    check_method,
    check_resamples,
)

__all__ = [
    "Bootstrap",
    "Row",
    "RowSummary",
    "Strategy",
    "bootstrap_ci",
    "bootstrap_t_interval",
    "hybrid_t_interval",
    "interval_from_distribution",
    "student_t_ci",
    "summaries",
]

_DISTRIBUTION_METHODS = ("bca", "percentile", "basic")

def _select(block: Floats, positions: Sequence[int]) -> tuple[Floats, Floats]:
    """Order statistics ``positions`` and ``positions + 1`` (capped at the last) of every row of ``block``.

    ``block`` has shape ``(rows, B)`` and is partially sorted in place. Returns two
    arrays of shape ``(rows, len(positions))``. Each needed position costs one
    single-``kth`` partition of what lies above the previous one (NumPy's
    vectorized selection; a list of ``kth`` takes a slower path), and its upper
    neighbour is the minimum of the stretch up to the next position. NaN counts
    as the largest value, as in a sort.
    """
    size = block.shape[1]
    low = np.empty((block.shape[0], len(positions)))
    high = np.empty_like(low)
    kth = sorted(set(positions))
    start = 0
    for k in kth:
        block[:, start:].partition(k - start, axis=1)
        start = k + 1
    for column, k in enumerate(positions):
        low[:, column] = block[:, k]
        if k + 1 == size:
            high[:, column] = block[:, k]
            continue
        following = [other for other in kth if other > k]
        stop = following[0] + 1 if following else size
        high[:, column] = np.fmin.reduce(block[:, k + 1 : stop], axis=1)
    return low, high


def _order_statistics(values: Floats, index: Floats) -> tuple[Floats, Floats]:
    """Order statistics ``index`` and ``index + 1`` (capped at the last) of each row, at per-row positions.

    ``values`` has shape ``(rows, B)`` and is partially sorted in place; ``index``
    has shape ``(rows, k)``. Returns two arrays of shape ``(rows, k)`` (see
    :func:`_select`).
    """
    rows = values.shape[0]
    low = np.empty(index.shape)
    high = np.empty(index.shape)
    # Rows that need the same positions (all of them unless BCa) share one call per step.
    groups: dict[tuple[int, ...], list[int]] = {}
    for row, key in enumerate(map(tuple, index.tolist())):
        groups.setdefault(key, []).append(row)
    for key, members in groups.items():
        if len(members) == rows:
            block = values
        elif len(members) == 1:
            block = values[members[0] : members[0] + 1]
        else:
            block = values[members]
        low[members], high[members] = _select(block, key)
    return low, high


def _positions(levels: Floats, size: int) -> tuple[Floats, Floats]:
    """Lower order-statistic index and interpolation weight of linear (type 7) quantiles at ``levels`` of ``size`` values."""
    position = levels * size + (1 - levels)
    below = np.floor(position) - 1
    weight = np.where(below < 0, 0.0, position % 1)
    return np.clip(below, 0, size - 1).astype(np.intp), weight


def _interpolate(lo: Floats, hi: Floats, weight: Floats) -> Floats:
    """``(1 - w) lo + w hi``, returning ``lo`` or ``hi`` itself at ``w`` = 0 or 1 (so infinite neighbours stay out)."""
    with np.errstate(invalid="ignore"):
        value = (1 - weight) * lo + weight * hi
    return np.where(weight == 0, lo, np.where(weight == 1, hi, value))


def _common_quantiles(values: Floats, levels: Sequence[float], transform: Any = None) -> Floats:
    """:func:`_quantiles` with the same levels for every row: shape ``(rows, len(levels))``.

    Every row needs the same order statistics, so one :func:`_select` serves all
    rows, with no per-row level arrays.
    """
    index, weight = _positions(np.asarray(levels, dtype=np.float64), values.shape[1])
    lo, hi = _select(values, index.tolist())
    if transform is not None:
        lo, hi = transform(lo), transform(hi)
    return _interpolate(lo, hi, weight)


def _quantiles(values: Floats, levels: Floats, transform: Any = None) -> Floats:
    """Linear (Hyndman-Fan type 7) quantiles of each row of ``values`` at its own levels.

    ``values`` has shape ``(rows, B)`` (partially sorted in place), ``levels`` shape
    ``(rows, k)``; returns shape ``(rows, k)``. Same arithmetic as
    ``scipy.stats.quantile(method="linear")``; an exact hit on a data point returns
    that point, so infinite neighbours do not turn it into NaN. ``transform``, a
    non-decreasing function, is applied to the two order statistics before
    interpolating: the quantile of ``transform(values)`` without transforming all
    of them.
    """
    undefined = np.isnan(levels)
    index, weight = _positions(np.where(undefined, 0.5, levels), values.shape[1])
    lo, hi = _order_statistics(values, index)
    if transform is not None:
        lo, hi = transform(lo), transform(hi)
    # An undefined level (BCa with an infinite bias correction) has no quantile.
    return np.where(undefined, np.nan, _interpolate(lo, hi, weight))


def _bca_parameters(samples: Floats, theta_b: Floats) -> tuple[Floats, Floats]:
    """BCa bias correction ``z0`` and acceleration of each row, each of shape ``(rows,)``.

    Follows Efron & Tibshirani (1993) 14.3 and the formulas of ``scipy.stats.bootstrap``:
    bias correction from the fraction of resample means below the mean (ties
    count one half), acceleration from the jackknife of the mean.
    """
    from scipy import special  # imported on use: validation and branch tasks never need scipy

    rows, n = samples.shape
    size = theta_b.shape[1]
    theta_hat = samples.mean(axis=1)[:, None]
    below = np.count_nonzero(theta_b < theta_hat, axis=1) + np.count_nonzero(theta_b <= theta_hat, axis=1)
    z0 = special.ndtri(below / (2 * size))
    jackknife = (samples.sum(axis=1)[:, None] - samples) / (n - 1)
    spread = (n - 1) * (jackknife.mean(axis=1)[:, None] - jackknife)
    numerator = (spread**3).sum(axis=1) / n**3
    denominator = (spread**2).sum(axis=1) / n**2
    with np.errstate(divide="ignore", invalid="ignore"):
        acceleration = numerator / denominator**1.5 / 6
    return z0, acceleration


def _bca_level_pair(z0: Floats, acceleration: Floats, alpha: Any) -> tuple[Floats, Floats]:
    """BCa-adjusted lower and upper quantile levels for tail probability ``alpha`` (scalar or per row)."""
    from scipy import special

    with np.errstate(divide="ignore", invalid="ignore"):
        z_alpha = special.ndtri(alpha)
        shifted_lo = z0 + z_alpha
        shifted_hi = z0 - z_alpha
        level_lo = special.ndtr(z0 + shifted_lo / (1 - acceleration * shifted_lo))
        level_hi = special.ndtr(z0 + shifted_hi / (1 - acceleration * shifted_hi))
    return level_lo, level_hi


def _bca_levels(samples: Floats, theta_b: Floats, alpha: float) -> tuple[Floats, Floats]:
    """BCa-adjusted lower and upper quantile levels, each of shape ``(rows,)``."""
    z0, acceleration = _bca_parameters(samples, theta_b)
    return _bca_level_pair(z0, acceleration, float(alpha))


def interval_from_distribution(
    samples: Any, theta_b: Any, *, method: str, confidence: float = 0.95
) -> tuple[Floats, Floats]:
    """Percentile, basic or BCa interval of the mean from a given bootstrap distribution.

    Parameters
    ----------
    samples : array, shape (cells, n)
        The original rows (BCa needs them for the jackknife; all methods for the mean).
    theta_b : array, shape (cells, B)
        Bootstrap distribution of the mean of each row, e.g. from
        :func:`bootstrap_distribution` or ``scipy.stats.bootstrap(...).bootstrap_distribution``.
    method : {"percentile", "basic", "bca"}
    confidence : float
        Two-sided confidence level.

    Returns
    -------
    low, high : arrays, shape (cells,)
        NaN where the interval is undefined (e.g. BCa on an all-equal row).
    """
    method = check_method(method)
    if method not in _DISTRIBUTION_METHODS:
        raise ValueError(f"interval_from_distribution handles {', '.join(_DISTRIBUTION_METHODS)}, not {method!r}")
    samples = check_samples(samples)
    theta_b = np.array(theta_b, dtype=np.float64, ndmin=2)
    if theta_b.shape[0] != samples.shape[0]:
        raise ValueError(f"theta_b has {theta_b.shape[0]} rows, samples {samples.shape[0]}")
    return _distribution_interval(samples, theta_b, method, (1 - check_confidence(confidence)) / 2)


def _distribution_interval(
    samples: Floats, theta_b: Floats, method: str, alpha: float
) -> tuple[Floats, Floats]:
    """:func:`interval_from_distribution` without checks; partially sorts ``theta_b`` in place."""
    if method == "bca":
        level_lo, level_hi = _bca_levels(samples, theta_b, alpha)
        low, high = _quantiles(theta_b, np.stack([level_lo, level_hi], axis=1)).T
    else:
        low, high = _common_quantiles(theta_b, (alpha, 1 - alpha)).T
    if method == "basic":
        theta_hat = samples.mean(axis=1)
        low, high = 2 * theta_hat - high, 2 * theta_hat - low
    return low, high


def student_t_ci(samples: Any, *, confidence: float = 0.95) -> tuple[Floats, Floats]:
    """Student-t interval ``mean +- t_{n-1} * sd / sqrt(n)`` of each row; shapes ``(cells, n) -> (cells,)``."""
    samples = check_samples(samples)
    n = samples.shape[1]
    mean = samples.mean(axis=1)
    if n < 2:
        return np.full_like(mean, np.nan), np.full_like(mean, np.nan)
    from scipy import special  # the t quantile alone: scipy.stats costs the join ~0.5 s CPU to import

    half = special.stdtrit(n - 1, 0.5 + check_confidence(confidence) / 2) * samples.std(axis=1, ddof=1) / math.sqrt(n)
    return mean - half, mean + half


def bootstrap_ci(
    samples: Any,
    *,
    method: str = DEFAULT_METHOD,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    rngs: Sequence[Any],
    bounds: tuple[float | None, float | None] | None = None,
) -> tuple[Floats, Floats]:
    """Confidence interval of the mean of each row.

    Parameters
    ----------
    samples : array, shape (cells, n)
        One row per cell (one column per seed), finite values.
    method : str
        One of :data:`METHODS`; ``"default"`` means :data:`DEFAULT_METHOD`.
    confidence : float
        Two-sided confidence level.
    n_resamples : int
        Bootstrap resamples per row (ignored by ``student-t``).
    rngs : sequence of Generator or int, length cells
        Row ``i`` draws only from ``rngs[i]``, so its interval is independent of
        the other rows and of their order. Rows given equal integer seeds (or
        the same Generator) are resampled with the same indices -- the paired
        bootstrap, for rows whose columns are the same seeds.
    bounds : (low, high), optional
        The range the quantity can take (e.g. ``(0, 1)`` for AUROC; either end
        ``None``). Bounds beyond it are moved onto it.

    Returns
    -------
    low, high : arrays, shape (cells,)
        Rows whose values are all equal get the zero-width interval ``[v, v]``.
        NaN (``n = 1``) or infinite (``bootstrap-t`` at ``n <= 3``) bounds mean no
        usable interval; :func:`aggregate` reports those as ``None`` with a note.
    """
    method = check_method(method)
    confidence = check_confidence(confidence)
    n_resamples = check_resamples(n_resamples)
    bounds = check_bounds(bounds)
    samples = check_samples(samples)
    generators = rngs_for(rngs, samples.shape[0])
    low, high, _ = _intervals(samples, generators, method, confidence, n_resamples, None)
    return _clip(low, high, bounds)


def _clip(low: Floats, high: Floats, bounds: Any) -> tuple[Floats, Floats]:
    """Interval ends moved into ``bounds`` (NaN and infinite ends, meaning "no interval", stay).

    ``bounds`` is ``None``, a pair of numbers (``None`` for an open end) or a pair
    of per-row arrays (``-inf``/``inf`` for open ends).
    """
    if bounds is None:
        return low, high
    floor = -np.inf if bounds[0] is None else bounds[0]
    ceiling = np.inf if bounds[1] is None else bounds[1]
    finite = np.isfinite(low) & np.isfinite(high)
    return (np.where(finite, np.clip(low, floor, ceiling), low), np.where(finite, np.clip(high, floor, ceiling), high))


def _student_quantile(n: int, level: Any) -> Any:
    """``t(n-1)`` quantile at ``level`` (scalar or array)."""
    from scipy import special  # imported on use: validation and branch tasks never need scipy

    return special.stdtrit(n - 1, level)


def _hybrid_critical(t_lo: Floats, t_hi: Floats, student: Any) -> tuple[Floats, Floats]:
    """Critical values ``(below, above)`` of ``hybrid-t`` from bootstrap-t's quantiles and Student-t's.

    Bootstrap-t's interval is ``[mean - t_hi se, mean - t_lo se]``. Each side is
    first raised to at least ``HYBRID_FLOOR * student``; what both sides have
    above that floor is then shrunk in proportion, if needed, so the two
    together are at most ``2 * HYBRID_CAP * student``: the interval keeps
    bootstrap-t's asymmetry, is never narrower than 0.8 and never wider than 1.2
    Student-t intervals. A side that bootstrap-t leaves infinite (n <= 3) takes
    the whole allowance. Shapes ``(rows,)``.
    """
    floor = HYBRID_FLOOR * student
    allowance = 2 * (HYBRID_CAP - HYBRID_FLOOR) * student
    below = np.maximum(t_hi, floor) - floor
    above = np.maximum(-t_lo, floor) - floor
    total = below + above
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(total > allowance, allowance / total, 1.0)
        below_inf, above_inf = np.isinf(below), np.isinf(above)
        share = np.where(below_inf & above_inf, 0.5, np.where(below_inf, 1.0, 0.0))
        infinite = below_inf | above_inf
        below = np.where(infinite, share * allowance, below * scale)
        above = np.where(infinite, (1.0 - share) * allowance, above * scale)
    return floor + below, floor + above


def _intervals(
    samples: Floats,
    generators: list[np.random.Generator],
    method: str,
    confidence: float,
    n_resamples: int,
    want_p: npt.NDArray[np.bool_] | None,
    floor: float = 0.0,
) -> tuple[Floats, Floats, Floats]:
    """Intervals of every row and, for rows where ``want_p`` is true, the p-value of "mean = 0".

    The p-value is the interval's own: the level ``a`` at which the row's
    ``1 - a`` interval (same method, same resamples) reaches 0 -- Student-t's
    test for ``student-t``, the inversion of the bootstrap interval otherwise
    (:func:`_p_values`) -- so ``p < 1 - confidence`` exactly when the printed
    interval excludes 0. NaN where not asked for or undefined. ``floor`` is
    added to Student-t's variance (a declared resolution; other methods ignore it).
    """
    rows, n = samples.shape
    low = np.full(rows, np.nan)
    high = np.full(rows, np.nan)
    p = np.full(rows, np.nan)
    if n < 2 or rows == 0:
        return low, high, p
    flat = samples.max(axis=1) == samples.min(axis=1)
    if method == "student-t" and floor > 0:
        flat[:] = False  # the floor gives every row a spread
    low[flat] = high[flat] = samples[flat, 0]
    # An all-equal row's interval is [v, v] at every level: it excludes 0 unless v is 0.
    p[flat] = np.where(samples[flat, 0] == 0, 1.0, 0.0)
    todo = np.flatnonzero(~flat)
    alpha = (1 - confidence) / 2
    if method == "student-t":
        part = samples[todo]
        mean = part.mean(axis=1)
        # Without a floor, the same arithmetic as student_t_ci (published numbers do not move).
        spread = np.sqrt(part.var(axis=1, ddof=1) + floor) if floor else part.std(axis=1, ddof=1)
        se = spread / math.sqrt(n)
        from scipy import special

        half = special.stdtrit(n - 1, 0.5 + confidence / 2) * spread / math.sqrt(n)
        low[todo], high[todo] = mean - half, mean + half
        with np.errstate(divide="ignore"):
            t_obs = mean / se
        p[todo] = 2 * special.stdtr(n - 1, -np.abs(t_obs))
    else:
        order = by_stream(generators, todo.tolist())
        draws = Draws(generators, order, n, n_resamples)
        step = resampling.rows_per_chunk(n_resamples)  # looked up on use, so a test can vary it
        studentized = method in ("bootstrap-t", "hybrid-t")
        transform = (lambda u: t_from_key(u, n)) if studentized else None
        for start in range(0, len(order), step):
            chunk = order[start : start + step]
            part = samples[chunk]
            chunk_rngs = [generators[i] for i in chunk]
            theta_b, keys = resample(part, chunk_rngs, n_resamples, means=not studentized, studentized=studentized, draws=draws)
            stats = keys if studentized else theta_b
            assert stats is not None  # resample computes what is asked for
            asked = [] if want_p is None else [j for j, i in enumerate(chunk) if want_p[i]]
            rest = [j for j in range(len(chunk)) if want_p is None or not want_p[chunk[j]]]
            if rest:
                sub = part if len(rest) == len(chunk) else part[rest]
                block = stats if len(rest) == len(chunk) else stats[rest]
                if studentized:
                    lo, hi = _t_interval(sub, block, method, alpha, transform)
                else:
                    lo, hi = _distribution_interval(sub, block, method, alpha)
                low[[chunk[j] for j in rest]], high[[chunk[j] for j in rest]] = lo, hi
            if asked:
                # Rows that need a p-value are sorted once; the interval is read off the
                # sorted rows with the same order statistics and arithmetic as above.
                sub = part[asked]
                ordered = np.sort(stats[asked], axis=1)
                target = [chunk[j] for j in asked]
                level = np.full(len(asked), 2 * alpha)
                low[target], high[target] = _sorted_interval(sub, ordered, method, level, transform)
                p[target] = _p_values(sub, ordered, method, transform, 2 * alpha)
    if want_p is not None:
        p[~want_p] = np.nan
    return low, high, p


def _t_interval(samples: Floats, keys: Floats, method: str, alpha: float, transform: Any) -> tuple[Floats, Floats]:
    """Bootstrap-t or hybrid-t interval of each row from its t-order keys (partially sorted in place)."""
    n = samples.shape[1]
    t_lo, t_hi = _common_quantiles(keys, (alpha, 1 - alpha), transform).T
    mean = samples.mean(axis=1)
    se = samples.std(axis=1, ddof=1) / math.sqrt(n)
    if method == "hybrid-t":
        below, above = _hybrid_critical(t_lo, t_hi, _student_quantile(n, 1 - alpha))
        return mean - below * se, mean + above * se
    with np.errstate(invalid="ignore"):
        return mean - t_hi * se, mean - t_lo * se


def _sorted_quantiles(sorted_values: Floats, levels: Floats, transform: Any = None) -> Floats:
    """Linear (type 7) quantile of each fully sorted row at its own levels; shapes ``(rows, B), (rows[, k]) -> (rows[, k])``.

    The same arithmetic as :func:`_quantiles` (``transform`` applied to the two
    order statistics before interpolating), read off a sorted row.
    """
    rows, size = sorted_values.shape
    index, weight = _positions(levels, size)
    starts = np.arange(rows) * size
    flat = (starts if index.ndim == 1 else starts[:, None]) + index
    values = sorted_values.reshape(-1)
    lo = values.take(flat)
    hi = values.take(np.where(index + 1 < size, flat + 1, flat))
    if transform is not None:
        lo, hi = transform(lo), transform(hi)
    return _interpolate(lo, hi, weight)


def _sorted_interval(
    samples: Floats,
    sorted_stats: Floats,
    method: str,
    level: Floats,
    transform: Any = None,
    bca: Any = None,
    moments: tuple[Floats, Floats] | None = None,
) -> tuple[Floats, Floats]:
    """Each row's interval at its own ``1 - level`` from its sorted resample statistics (``t*`` keys or means).

    Same order statistics and arithmetic as :func:`_t_interval` and
    :func:`_distribution_interval`; NaN ends where the interval is undefined.
    ``moments`` are the rows' ``(mean, se)`` when already known.
    """
    n = samples.shape[1]
    half = level / 2
    mean, se = moments if moments is not None else (samples.mean(axis=1), samples.std(axis=1, ddof=1) / math.sqrt(n))
    if level.ndim == 2:
        mean, se = mean[:, None], se[:, None]
    if method in ("bootstrap-t", "hybrid-t"):
        t_lo = _sorted_quantiles(sorted_stats, half, transform)
        t_hi = _sorted_quantiles(sorted_stats, 1 - half, transform)
        if method == "hybrid-t":
            below, above = _hybrid_critical(t_lo, t_hi, _student_quantile(n, 1 - half))
            return mean - below * se, mean + above * se
        with np.errstate(invalid="ignore"):
            return mean - t_hi * se, mean - t_lo * se
    if method == "bca":
        z0, acceleration = bca if bca is not None else _bca_parameters(samples, sorted_stats)
        if level.ndim == 2:
            z0, acceleration = z0[:, None], acceleration[:, None]
        level_lo, level_hi = _bca_level_pair(z0, acceleration, half)
    else:
        level_lo, level_hi = half, 1 - half
    undefined = np.isnan(level_lo) | np.isnan(level_hi)
    lo = _sorted_quantiles(sorted_stats, np.where(undefined, 0.5, level_lo))
    hi = _sorted_quantiles(sorted_stats, np.where(undefined, 0.5, level_hi))
    if method == "basic":
        lo, hi = 2 * mean - hi, 2 * mean - lo
    return np.where(undefined, np.nan, lo), np.where(undefined, np.nan, hi)


#: :func:`_p_values` narrows each p-value's bracket ``_P_PASSES`` times by a grid of
#: ``_P_GRID`` levels: a resolution of 8**-6 (4e-6), below a bootstrap p-value's
#: Monte-Carlo error at 10,000 resamples. Part of the definition of the exported
#: p-values (pinned by the golden tests), not a tuning knob.
_P_GRID = 7
_P_PASSES = 6


def _p_values(samples: Floats, sorted_stats: Floats, method: str, transform: Any, level: float) -> Floats:
    """The ``a`` at which each row's ``1 - a`` interval starts to exclude 0 (to within 4e-6).

    The bracket starts at the printed interval's ``level`` (``1 - confidence``):
    below it when that interval excludes 0, above it otherwise, and the
    bracket's midpoint is returned, so ``p < level`` exactly when the printed
    interval excludes 0, whatever the resolution.

    ``sorted_stats`` are the row's resample statistics sorted: ``t*`` keys for
    bootstrap-t and hybrid-t (``transform`` turns them into ``t*``), resample
    means otherwise. Each pass evaluates the interval at a grid of levels inside
    the current bracket, vectorized, and keeps the step around the first level
    that excludes 0. Shapes ``(rows, n)``, ``(rows, B)`` -> ``(rows,)``.
    """
    rows, n = samples.shape
    bca = _bca_parameters(samples, sorted_stats) if method == "bca" else None
    moments = (samples.mean(axis=1), samples.std(axis=1, ddof=1) / math.sqrt(n))
    # Invariant: the interval at level `upper` excludes 0 (or upper = 1), at `lower` it does not (or lower = 0).
    lo, hi = _sorted_interval(samples, sorted_stats, method, np.full(rows, level), transform, bca, moments)
    excluded = (lo > 0) | (hi < 0)
    lower = np.where(excluded, 0.0, level)
    upper = np.where(excluded, level, 1.0)
    fractions = np.arange(1, _P_GRID + 1) / (_P_GRID + 1)
    with np.errstate(invalid="ignore"):
        for _ in range(_P_PASSES):
            grid = lower[:, None] + (upper - lower)[:, None] * fractions
            lo, hi = _sorted_interval(samples, sorted_stats, method, grid, transform, bca, moments)
            hit = (lo > 0) | (hi < 0)
            first = np.where(hit.any(axis=1), hit.argmax(axis=1), _P_GRID)
            rows_index = np.arange(rows)
            new_upper = np.where(first < _P_GRID, grid[rows_index, np.minimum(first, _P_GRID - 1)], upper)
            lower = np.where(first > 0, grid[rows_index, np.maximum(first - 1, 0)], lower)
            upper = new_upper
    return (lower + upper) / 2


def bootstrap_t_interval(samples: Any, tstats: Any, *, confidence: float = 0.95) -> tuple[Floats, Floats]:
    """Studentized (bootstrap-t) interval ``[mean - t*_(1-a/2) se, mean - t*_(a/2) se]`` of each row.

    ``samples`` has shape ``(cells, n)``; ``tstats`` shape ``(cells, B)``, e.g. the
    second output of :func:`bootstrap_distribution` with ``studentized=True``.
    Returns ``low, high`` of shape ``(cells,)``; infinite where more than
    ``(1 - confidence) / 2`` of the resamples have no spread.
    """
    samples = check_samples(samples)
    tstats = np.array(tstats, dtype=np.float64, ndmin=2)
    return _studentized_interval(samples, tstats, (1 - check_confidence(confidence)) / 2)


def hybrid_t_interval(samples: Any, tstats: Any, *, confidence: float = 0.95) -> tuple[Floats, Floats]:
    """The ``hybrid-t`` interval of each row from its studentized bootstrap statistics.

    Bootstrap-t's critical values, each side raised to at least ``HYBRID_FLOOR``
    times Student-t's ``t(n-1)`` and both together held to at most
    ``2 * HYBRID_CAP`` times it, keeping bootstrap-t's asymmetry (see
    :func:`_hybrid_critical`). ``samples`` has shape ``(cells, n)``, ``tstats``
    shape ``(cells, B)`` (e.g. from :func:`bootstrap_distribution`); returns
    ``low, high`` of shape ``(cells,)``. Without bounds; :func:`bootstrap_ci`
    takes ``bounds``.
    """
    samples = check_samples(samples)
    tstats = np.array(tstats, dtype=np.float64, ndmin=2)
    alpha = (1 - check_confidence(confidence)) / 2
    n = samples.shape[1]
    t_lo, t_hi = _common_quantiles(tstats, (alpha, 1 - alpha)).T
    below, above = _hybrid_critical(t_lo, t_hi, _student_quantile(n, 1 - alpha))
    mean = samples.mean(axis=1)
    se = samples.std(axis=1, ddof=1) / math.sqrt(n)
    return mean - below * se, mean + above * se


def _studentized_interval(
    samples: Floats, tstats: Floats, alpha: float, transform: Any = None
) -> tuple[Floats, Floats]:
    """:func:`bootstrap_t_interval` without checks; partially sorts ``tstats`` in place.

    ``transform`` turns the given statistics into ``t*`` (see :func:`_quantiles`).
    """
    n = samples.shape[1]
    t_lo, t_hi = _common_quantiles(tstats, (alpha, 1 - alpha), transform).T
    mean = samples.mean(axis=1)
    se = samples.std(axis=1, ddof=1) / math.sqrt(n)
    with np.errstate(invalid="ignore"):
        return mean - t_hi * se, mean - t_lo * se




def _end(bounds: Bounds | None, side: int, open_end: float) -> float:
    """One end of ``bounds`` (``open_end`` when there are no bounds or that end is open)."""
    if bounds is None:
        return open_end
    end = bounds[side]
    return open_end if end is None else end


def summaries(
    rows: list[list[float]],
    keys: list[int],
    *,
    method: str,
    confidence: float,
    n_resamples: int,
    bounds: list[tuple[float | None, float | None] | None],
    want_p: list[bool],
    floor: float = 0.0,
    flat_floors: list[float] | None = None,
) -> list[RowSummary]:
    """Mean, std (ddof=1), interval and (where asked) p-value of each variable-length row.

    Vectorized over rows of equal length. ``keys[i]`` seeds row ``i``'s
    generator, ``bounds[i]`` is its range, ``floor`` is added to Student-t's
    variance. An all-equal row keeps its value exactly as mean and is ``flat``:
    its zero-width interval would claim certainty, so it gets the Student-t
    interval and test with variance ``flat_floors[i]`` (a declared resolution's
    ``r**2 / 12``, whatever the method) or, without one, no interval and no
    p-value. Missing statistics are ``None``.
    """
    result: list[RowSummary] = [
        {"mean": None, "std": None, "ci_low": None, "ci_high": None, "p_value": None, "flat": False} for _ in rows
    ]
    by_length: dict[int, list[int]] = {}
    for i, row in enumerate(rows):
        by_length.setdefault(len(row), []).append(i)
    for length, members in sorted(by_length.items()):
        if length == 0:
            continue
        samples = np.array([rows[i] for i in members])
        flat = samples.max(axis=1) == samples.min(axis=1)
        means = np.where(flat, samples[:, 0], samples.mean(axis=1)).tolist()
        if length < 2:
            for i, mean in zip(members, means):
                result[i]["mean"] = mean
            continue
        stds = np.where(flat, 0.0, samples.std(axis=1, ddof=1)).tolist()
        generators = rngs_for([keys[i] for i in members], len(members))
        asked = np.array([want_p[i] for i in members])
        low, high, p = _intervals(samples, generators, method, confidence, n_resamples, asked if asked.any() else None, floor)
        withheld = flat & (method != "student-t" or floor == 0)
        low[withheld] = high[withheld] = p[withheld] = np.nan
        if flat_floors is not None:
            _floored(samples, np.array([flat_floors[i] for i in members]), flat, confidence, low, high, p)
        lowest = np.array([_end(bounds[i], 0, -np.inf) for i in members])
        highest = np.array([_end(bounds[i], 1, np.inf) for i in members])
        low, high = _clip(low, high, (lowest, highest))
        for i, mean, std, lo, hi, pv, level in zip(members, means, stds, low.tolist(), high.tolist(), p.tolist(), flat.tolist()):
            result[i].update(mean=mean, std=std, flat=level)
            if math.isfinite(lo) and math.isfinite(hi):
                result[i].update(ci_low=lo, ci_high=hi)
            if want_p[i] and not math.isnan(pv):
                result[i]["p_value"] = pv
    return result




def _floored(samples: Floats, floors: Floats, flat: npt.NDArray[np.bool_], confidence: float, low: Floats, high: Floats, p: Floats) -> None:
    """Student-t interval and p of the all-equal rows with a positive floor, variance ``floors`` (in place)."""
    todo = flat & (floors > 0)
    if not todo.any():
        return
    from scipy import special

    n = samples.shape[1]
    value = samples[todo, 0]
    se = np.sqrt(floors[todo] / n)
    half = special.stdtrit(n - 1, 0.5 + confidence / 2) * se
    low[todo], high[todo] = value - half, value + half
    p[todo] = 2 * special.stdtr(n - 1, -np.abs(value) / se)


class RowSummary(TypedDict):
    """One row's statistics: ``None`` where a statistic does not exist (no values, no interval)."""

    mean: float | None
    std: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    #: All values equal (then without an interval unless a resolution floor gives it one).
    flat: bool


@dataclass(frozen=True)
class Row:
    """A row to summarize: its replicate units (sorted), one value per unit, and its resampling stream seed.

    ``payloads`` (one per unit) are what a strategy that needs more than one
    value per unit reads (per-example values for nested cross-validation); ``None`` otherwise.
    """

    units: list[Any]
    values: list[float]
    stream: int | None
    payloads: list[Any] | None = None
    #: The coarsest resolution the values' metric declared (0: none); an all-equal row's interval comes from it.
    resolution: float = 0.0


class Strategy:
    """An interval family: what a replicate is, how rows are summarized, how the table describes it.

    Subclasses override :meth:`summarize` (and, for another layout, the others);
    :func:`components.stats.aggregate` only talks to this interface.
    """

    #: Whether rows need resampling streams (:func:`components.stats.resampling.replicate_seed`).
    resampled = False
    #: Whether every observation must carry per-example values (``per_example``), read by :meth:`per_example`.
    needs_per_example = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def per_example(self, value: Any, where: str) -> Any:
        """An observation's per-example payload as this strategy reads it (only called when :attr:`needs_per_example`)."""
        return value

    def unit(self, seed: int, fold: int | None) -> Hashable:
        """The replicate unit of an observation: its seed (a fold axis is refused here)."""
        return seed

    def check_cell(self, cell: Cell) -> None:
        """Raise if ``cell``'s units cannot be summarized (nothing to check by default)."""

    def summarize(self, rows: Sequence[Row], bounds: Sequence[Bounds | None], want_p: Sequence[bool]) -> list[RowSummary]:
        """Mean, std, interval (within ``bounds[i]``) and, where ``want_p[i]``, the p-value of "mean = 0" of each row."""
        raise NotImplementedError

    def seeds(self, row: Row) -> list[Any]:
        """The replicates a row reports (its ``seeds`` column)."""
        return row.units

    def values(self, row: Row) -> list[float]:
        """One value per reported replicate (a cell's ``values``, a comparison's ``diffs``)."""
        return row.values

    def extra(self, row: Row, paired: bool = False) -> dict[str, Any]:
        """Strategy-specific fields appended to a cell (or, ``paired``, a comparison) row; none by default."""
        return {}

    def cell_layout(self, entry: dict[str, Any]) -> dict[str, Any]:
        """A cell row's fields in the order the strategy prints them (as built, by default)."""
        return entry

    def note(self, n: int, flat: bool = False) -> str | None:
        """The note of a row without an interval."""
        if flat and n >= 2:
            return (
                f"all {n} values equal: no interval (a zero-width one would claim certainty); a comparison's p is the exact "
                "sign-flip test's; a metric that declares its resolution (accuracy, auroc), or experiment.statistics.resolution, gives it one"
            )
        if n == 0:
            return "no values: nothing to estimate"
        if n == 1:
            return "n=1: a single seed gives no confidence interval; run more seeds"
        return f"{self.settings.method} gives no finite interval at n={n}; run more seeds or use method='hybrid-t' or 'student-t'"

    def finish(self, row: dict[str, Any]) -> None:
        """Last touch to a finished cell or comparison row (nothing by default)."""

    def describe(self, block: dict[str, Any]) -> dict[str, Any]:
        """The ``settings`` block of the results, from the engine's own ``block``."""
        return block


class Bootstrap(Strategy):
    """Every per-seed interval method: the bootstrap family (``hybrid-t``, ``bootstrap-t``, ``bca``,
    ``percentile``, ``basic``) and ``student-t``; rows of equal length are vectorized together."""

    resampled = True

    @property
    def floor(self) -> float:
        """Variance added by the declared resolution ``r``: ``r**2 / 12``, a rounding error's (Sheppard's correction)."""
        resolution = self.settings.resolution
        return 0.0 if resolution is None else resolution**2 / 12

    def summarize(self, rows: Sequence[Row], bounds: Sequence[Bounds | None], want_p: Sequence[bool]) -> list[RowSummary]:
        """See :meth:`Strategy.summarize`; the row's stream seeds its generator."""
        return summaries(
            [row.values for row in rows],
            [0 if row.stream is None else row.stream for row in rows],
            method=self.settings.method,
            confidence=self.settings.confidence,
            n_resamples=self.settings.n_resamples,
            bounds=list(bounds),
            want_p=list(want_p),
            floor=self.floor,
            flat_floors=[max(self.settings.resolution or 0.0, row.resolution) ** 2 / 12 for row in rows],
        )
