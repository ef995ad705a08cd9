"""Bootstrap statistics for the aggregate: per-cell means with confidence intervals
and paired differences against the baseline.

Two layers:

* Array functions (:func:`bootstrap_ci`, :func:`bootstrap_distribution`,
  :func:`interval_from_distribution`, :func:`student_t_ci`) take ``samples`` of
  shape ``(cells, n)`` -- one row per cell, one column per seed -- and return
  arrays of shape ``(cells,)``. Every row draws from its own
  ``numpy.random.Generator``; the rest is vectorized over rows.
* :func:`aggregate` turns per-seed observations into the JSON-ready statistics of
  the output surface. It groups cells by ``n``, seeds each cell's generator from a
  SHA-256 hash of the cell's canonical key, and sorts everything canonically, so a
  cell's interval does not depend on which other cells exist or on the order the
  observations arrive in.

Why the default method is ``bootstrap-t`` (studentized bootstrap) and what the
others cost in coverage at 5-20 seeds is measured in ``benchmarks/coverage.py``
and written up in ``docs/statistics.md``.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from components.seeding import canonical, derive_seed

__all__ = [
    "DEFAULT_METHOD",
    "METHODS",
    "NAN_POLICIES",
    "SETTINGS",
    "aggregate",
    "bootstrap_ci",
    "bootstrap_distribution",
    "bootstrap_t_interval",
    "cell_sort_key",
    "check_settings",
    "interval_from_distribution",
    "replicate_seed",
    "student_t_ci",
]

#: Interval methods :func:`aggregate` and :func:`bootstrap_ci` accept.
METHODS = ("bootstrap-t", "bca", "percentile", "basic", "student-t")
#: Chosen from the coverage study (docs/statistics.md); ``"default"`` is an alias.
DEFAULT_METHOD = "bootstrap-t"
#: What :func:`aggregate` does with NaN or infinite metric values.
NAN_POLICIES = ("raise", "omit")

_DISTRIBUTION_METHODS = ("bca", "percentile", "basic")


def _check_method(method: Any) -> str:
    name = method.lower() if isinstance(method, str) else None
    if name == "default":
        return DEFAULT_METHOD
    if name not in METHODS:
        raise ValueError(f"unknown statistics method {method!r}; valid: {', '.join(METHODS)} (or 'default')")
    return name


def _check_confidence(confidence: Any) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real) or not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1 (0.95 for 95%), got {confidence!r}")
    return float(confidence)


def _check_resamples(n_resamples: Any) -> int:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, numbers.Real) or not (
        math.isfinite(n_resamples) and int(n_resamples) == n_resamples >= 1
    ):
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    return int(n_resamples)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _check_nan_policy(nan_policy: Any) -> str:
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"unknown nan_policy {nan_policy!r}; valid: {', '.join(NAN_POLICIES)}")
    return nan_policy


_SETTING_CHECKS = {
    "confidence": _check_confidence,
    "method": _check_method,
    "n_resamples": _check_resamples,
    "nan_policy": _check_nan_policy,
    "seed": _check_seed,
}
#: The settings of :func:`aggregate` an experiment config may set (``experiment.statistics``).
SETTINGS = tuple(_SETTING_CHECKS)


def check_settings(settings: Mapping[str, Any]) -> None:
    """Check ``experiment.statistics``-style settings with :func:`aggregate`'s own checks.

    Raises ``ValueError("<key>: <what is wrong>")`` for the first unknown key or bad value.
    """
    for key, value in settings.items():
        if key not in _SETTING_CHECKS:
            raise ValueError(f"{key}: unknown setting; known: {', '.join(SETTINGS)}")
        try:
            _SETTING_CHECKS[key](value)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None


def _check_samples(samples: Any) -> np.ndarray:
    samples = np.ascontiguousarray(samples, dtype=np.float64)
    if samples.ndim != 2:
        raise ValueError(f"samples must have shape (cells, n), got shape {samples.shape}")
    if not np.isfinite(samples).all():
        raise ValueError("samples contain NaN or infinite values")
    return samples


def _rngs_for(rngs: Sequence[Any], rows: int) -> list[np.random.Generator]:
    """One generator per row; rows given equal integer seeds, or the same Generator, get the same object.

    Rows that share a generator object share one matrix of resample indices
    (:func:`_resample`), so equal seeds mean "resample these rows together".
    """
    rngs = list(rngs)
    if len(rngs) != rows:
        raise ValueError(f"need one generator (or seed) per row: {rows} rows, {len(rngs)} given")
    made: dict[int, np.random.Generator] = {}
    generators = []
    for r in rngs:
        if isinstance(r, np.random.Generator):
            generators.append(r)
        elif isinstance(r, numbers.Integral) and not isinstance(r, (bool, np.bool_)):
            if int(r) not in made:
                made[int(r)] = np.random.default_rng(int(r))
            generators.append(made[int(r)])
        else:
            # Anything else numpy accepts as a seed (SeedSequence, BitGenerator, ...) is its own stream.
            generators.append(np.random.default_rng(r))
    return generators


class _Draws:
    """Resample indices per generator, drawn on first use and dropped after the last.

    Rows that share a generator share one draw (:func:`_draw_indices`), however
    the rows are split into chunks, as long as every row asks exactly once.
    """

    def __init__(self, generators: Sequence[np.random.Generator], rows: Iterable[int], n: int, n_resamples: int) -> None:
        self.n, self.n_resamples = n, n_resamples
        self.uses: dict[int, int] = {}
        for row in rows:
            self.uses[id(generators[row])] = self.uses.get(id(generators[row]), 0) + 1
        self.drawn: dict[int, list[tuple[int, np.ndarray]]] = {}

    def blocks(self, generator: np.random.Generator) -> list[tuple[int, np.ndarray]]:
        stream = id(generator)
        if stream not in self.drawn:
            self.drawn[stream] = _draw_indices(self.n, generator, self.n_resamples)
        self.uses[stream] -= 1
        return self.drawn[stream] if self.uses[stream] else self.drawn.pop(stream)


def _by_stream(generators: Sequence[np.random.Generator], rows: Iterable[int]) -> list[int]:
    """``rows`` reordered so rows sharing a generator are adjacent (groups in order of first appearance).

    Only one group's indices are then held at a time (:class:`_Draws`).
    """
    groups: dict[int, list[int]] = {}
    for row in rows:
        groups.setdefault(id(generators[row]), []).append(row)
    return [row for members in groups.values() for row in members]


def _block_sizes(n: int, table_limit: int = 4096) -> list[int]:
    """Split ``n`` draws into as few near-equal blocks as tables of ``table_limit`` allow.

    ``s`` independent uniform indices are exactly the base-``n`` digits of one
    integer uniform on ``[0, n**s)``, so a block of ``s`` draws costs one lookup in
    a table of the ``n**s`` possible block sums. The limit keeps every table in
    L1/L2 cache.
    """
    per_block = 1
    while per_block < n and n ** (per_block + 1) <= table_limit:
        per_block += 1
    blocks = -(-n // per_block)
    small, extra = divmod(n, blocks)
    return [small + 1] * extra + [small] * (blocks - extra)


@functools.lru_cache(maxsize=64)
def _draw_groups(n: int, limit: int = 1 << 63) -> tuple[tuple[int, ...], ...]:
    """The blocks of :func:`_block_sizes`, packed into groups whose bases multiply to at most ``limit``.

    A block of ``s`` indices is one digit in base ``n**s``; the blocks of a group
    are the mixed-radix digits of a single integer uniform on ``[0, product of
    bases)``, so one 64-bit draw serves several blocks (all four blocks of a
    10-seed resample: bases 1000, 1000, 100, 100).
    """
    groups: list[list[int]] = []
    product = limit
    for size in _block_sizes(n):
        base = n**size
        if groups and product * base <= limit:
            groups[-1].append(size)
            product *= base
        else:
            groups.append([size])
            product = base
    return tuple(tuple(group) for group in groups)


def _block_table(columns: np.ndarray, size: int) -> np.ndarray:
    """Sums of each row of ``columns`` over every ``size``-tuple of its indices.

    ``columns`` has shape ``(rows, n)``; the table has shape ``(rows, n**size)``
    and entry ``[:, i]`` sums the entries named by the base-``n`` digits of ``i``
    (most significant first).
    """
    table = columns
    for _ in range(size - 1):
        table = (table[:, :, None] + columns[:, None, :]).reshape(columns.shape[0], -1)
    return table


def _draw_indices(n: int, rng: np.random.Generator, n_resamples: int) -> list[tuple[int, np.ndarray]]:
    """The resample indices of ``n_resamples`` bootstrap resamples of ``n`` entries, as block digits.

    Each group of :func:`_draw_plan` is one uniform integer per resample, split
    into its mixed-radix digits; a digit of a block of ``size`` indices names one
    of the ``n**size`` index tuples, so it picks that tuple's entry in a table of
    block sums (:func:`_block_table`). Together the blocks are ``n`` independent
    uniform indices per resample: the ordinary bootstrap's. Returns ``(size,
    digits)`` pairs, digits of shape ``(n_resamples,)`` as int64.
    """
    blocks = []
    for high, steps in _draw_plan(n):
        digits = rng.integers(0, high, size=n_resamples, dtype=np.uint64)
        for size, base in steps:
            if base is None:
                index = digits
            else:
                rest = digits // base
                digits -= rest * base
                index, digits = digits, rest
            # Digits are below n**size < 2**63, so the int64 view holds the same value.
            blocks.append((size, index.view(np.int64)))
    return blocks


def _gather_sums(tables: Mapping[int, np.ndarray], blocks: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """Sums of one row's values over the resamples ``blocks`` (:func:`_draw_indices`) describe.

    ``tables`` maps each block size to the row's table of block sums. Complex
    tables carry two real columns at once (real and imaginary parts are summed
    independently, exactly as two real sums), gathered by one lookup. Returns
    shape ``(n_resamples,)``.
    """
    total = None
    for size, index in blocks:
        block = tables[size].take(index)
        if total is None:
            total = block
        else:
            total += block
    return total


@functools.lru_cache(maxsize=64)
def _draw_plan(n: int) -> tuple[tuple[int, tuple[tuple[int, np.uint64 | None], ...]], ...]:
    """Per group of :func:`_draw_groups`: the draw's bound and its blocks, least significant first.

    Each block is ``(size, base)``; ``base`` divides its digit off the draw, and is
    ``None`` for the most significant block, which is what remains.
    """
    plan = []
    for group in _draw_groups(n):
        steps = [(size, np.uint64(n**size)) for size in reversed(group[1:])] + [(group[0], None)]
        plan.append((n ** sum(group), tuple(steps)))
    return tuple(plan)


def _rows_per_chunk(n_resamples: int, budget: int = 1 << 19) -> int:
    # 2**19 float64 values (4 MiB) per work array: 52 rows at 10,000 resamples.
    # Smaller chunks fit L2 better but pay the per-chunk NumPy calls more often;
    # benchmarks/bootstrap_speed.py measured 2**19 ahead of 2**17 by 5-8%.
    return max(1, budget // max(n_resamples, 1))


def bootstrap_distribution(
    samples: Any, *, n_resamples: int, rngs: Sequence[Any], studentized: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Bootstrap distribution of the mean of each row.

    Parameters
    ----------
    samples : array, shape (cells, n)
        One row per cell, finite values, ``n >= 1``.
    n_resamples : int
        Resamples per row (``B``).
    rngs : sequence of Generator or int, length cells
        Row ``i`` draws only from ``rngs[i]``; rows given equal integer seeds (or
        the same Generator) are resampled with the same indices.
    studentized : bool
        Also return the studentized statistics ``t* = (mean* - mean) / se*``.

    Returns
    -------
    means : array, shape (cells, B)
        Resample means.
    t : array, shape (cells, B), or None
        Studentized resample statistics (``None`` unless ``studentized``). A
        resample whose values are all equal has ``se* = 0``; its ``t*`` is
        ``+-inf`` (or 0 when it also equals the mean), which sorts into the tails.
    """
    samples = _check_samples(samples)
    if samples.shape[1] < 1:
        raise ValueError("samples need at least one column (seed) to resample")
    generators = _rngs_for(rngs, samples.shape[0])
    means, keys = _resample(samples, generators, _check_resamples(n_resamples), means=True, studentized=studentized)
    return means, None if keys is None else _t_from_key(keys, samples.shape[1])


def _resample(
    samples: np.ndarray,
    generators: list[np.random.Generator],
    n_resamples: int,
    *,
    means: bool,
    studentized: bool,
    draws: _Draws | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Resample means and/or t-order keys of each row, computing only what is asked for.

    Row ``i`` is resampled with indices drawn from ``generators[i]``; rows given
    the same generator object are resampled with the same indices, drawn once
    (``draws`` carries them across calls when one group spans several).

    The key of a resample is ``u* = s |s| / q``, with ``s`` and ``q`` its sums of
    deviations from the row mean and of their squares. ``t*`` is an increasing
    function of ``u*`` (:func:`_t_from_key`), so quantiles of ``t*`` need the
    keys and only the few selected order statistics converted; the keys cost no
    square root. Shapes ``(rows, B)``.
    """
    rows, n = samples.shape
    centre = samples.mean(axis=1)[:, None]
    # Centring first keeps the variance that _t_from_key recovers accurate.
    deviations = samples - centre
    theta_b = np.empty((rows, n_resamples)) if means else None
    keys = np.empty((rows, n_resamples)) if studentized else None
    if studentized:
        columns = np.empty((rows, n), dtype=np.complex128)
        columns.real = deviations
        columns.imag = deviations**2
        # Only a row with a zero (or underflowing) squared deviation can draw a
        # resample with q = 0, whose key 0/0 must read 0 (no deviation at all).
        spreadless = (columns.imag == 0).any(axis=1).tolist()
        pair = np.empty((2, n_resamples))
    else:
        columns = deviations
    tables = {size: _block_table(columns, size) for size in {size for group in _draw_groups(n) for size in group}}
    if draws is None:
        draws = _Draws(generators, range(rows), n, n_resamples)
    # Row by row, so temporaries stay small enough to live in cache.
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(rows):
            sums = _gather_sums({size: table[i] for size, table in tables.items()}, draws.blocks(generators[i]))
            if studentized:
                # Contiguous halves: the arithmetic below runs several times faster on them.
                np.copyto(pair, sums.view(np.float64).reshape(n_resamples, 2).T)
                sums, squares = pair
                key = keys[i]
                np.abs(sums, out=key)
                key *= sums
                key /= squares
                if spreadless[i]:
                    key[np.isnan(key)] = 0.0
            if theta_b is not None:
                np.divide(sums, n, out=theta_b[i])
    if theta_b is not None:
        theta_b += centre
    return theta_b, keys


def _t_from_key(keys: np.ndarray, n: int) -> np.ndarray:
    """``t*`` from the key ``u* = s |s| / q``: ``t* = sign(u*) sqrt((n-1)/n * |u*| / (1 - |u*|/n))``.

    With ``v = q - s^2/n`` the resample's scatter, ``1 - |u*|/n = v / q``, so this
    is ``(mean* - mean) / se*``. Every step is monotone, so the map is
    non-decreasing in floating point too: sorting ``t*`` or converting sorted keys
    gives the same numbers. A resample whose values are all equal has ``v = 0``;
    rounding can leave a tiny residue (or a negative one), which must not pass for
    a real spread, so it gets ``t* = +-inf``.
    """
    if n < 2:
        return np.zeros_like(keys)
    magnitude = np.abs(keys)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = 1.0 - magnitude / n
        t = np.sqrt(magnitude / spread)
    t[spread <= 8 * n * np.finfo(float).eps] = np.inf
    np.copysign(t, keys, out=t)
    t *= math.sqrt((n - 1) / n)
    return t


def _select(block: np.ndarray, positions: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
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


def _order_statistics(values: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def _positions(levels: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower order-statistic index and interpolation weight of linear (type 7) quantiles at ``levels`` of ``size`` values."""
    position = levels * size + (1 - levels)
    below = np.floor(position) - 1
    weight = np.where(below < 0, 0.0, position % 1)
    return np.clip(below, 0, size - 1).astype(np.intp), weight


def _interpolate(lo: np.ndarray, hi: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``(1 - w) lo + w hi``, returning ``lo`` or ``hi`` itself at ``w`` = 0 or 1 (so infinite neighbours stay out)."""
    with np.errstate(invalid="ignore"):
        value = (1 - weight) * lo + weight * hi
    return np.where(weight == 0, lo, np.where(weight == 1, hi, value))


def _common_quantiles(values: np.ndarray, levels: Sequence[float], transform: Any = None) -> np.ndarray:
    """:func:`_quantiles` with the same levels for every row: shape ``(rows, len(levels))``.

    Every row needs the same order statistics, so one :func:`_select` serves all
    rows, with no per-row level arrays.
    """
    index, weight = _positions(np.asarray(levels, dtype=np.float64), values.shape[1])
    lo, hi = _select(values, index.tolist())
    if transform is not None:
        lo, hi = transform(lo), transform(hi)
    return _interpolate(lo, hi, weight)


def _quantiles(values: np.ndarray, levels: np.ndarray, transform: Any = None) -> np.ndarray:
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


def _bca_levels(samples: np.ndarray, theta_b: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """BCa-adjusted lower and upper quantile levels, each of shape ``(rows,)``.

    Follows Efron & Tibshirani (1993) 14.3 and the formulas of ``scipy.stats.bootstrap``:
    bias correction ``z0`` from the fraction of resample means below the mean (ties
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
        z_alpha = float(special.ndtri(alpha))
        shifted_lo = z0 + z_alpha
        shifted_hi = z0 - z_alpha
        level_lo = special.ndtr(z0 + shifted_lo / (1 - acceleration * shifted_lo))
        level_hi = special.ndtr(z0 + shifted_hi / (1 - acceleration * shifted_hi))
    return level_lo, level_hi


def interval_from_distribution(
    samples: Any, theta_b: Any, *, method: str, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
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
    method = _check_method(method)
    if method not in _DISTRIBUTION_METHODS:
        raise ValueError(f"interval_from_distribution handles {', '.join(_DISTRIBUTION_METHODS)}, not {method!r}")
    samples = _check_samples(samples)
    theta_b = np.array(theta_b, dtype=np.float64, ndmin=2)
    if theta_b.shape[0] != samples.shape[0]:
        raise ValueError(f"theta_b has {theta_b.shape[0]} rows, samples {samples.shape[0]}")
    return _distribution_interval(samples, theta_b, method, (1 - _check_confidence(confidence)) / 2)


def _distribution_interval(
    samples: np.ndarray, theta_b: np.ndarray, method: str, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
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


def student_t_ci(samples: Any, *, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Student-t interval ``mean +- t_{n-1} * sd / sqrt(n)`` of each row; shapes ``(cells, n) -> (cells,)``."""
    samples = _check_samples(samples)
    n = samples.shape[1]
    mean = samples.mean(axis=1)
    if n < 2:
        return np.full_like(mean, np.nan), np.full_like(mean, np.nan)
    from scipy import stats

    half = stats.t.ppf(0.5 + _check_confidence(confidence) / 2, n - 1) * samples.std(axis=1, ddof=1) / math.sqrt(n)
    return mean - half, mean + half


def bootstrap_ci(
    samples: Any,
    *,
    method: str = DEFAULT_METHOD,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    rngs: Sequence[Any],
) -> tuple[np.ndarray, np.ndarray]:
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

    Returns
    -------
    low, high : arrays, shape (cells,)
        Rows whose values are all equal get the zero-width interval ``[v, v]``.
        NaN (``n = 1``) or infinite (``bootstrap-t`` at ``n <= 3``) bounds mean no
        usable interval; :func:`aggregate` reports those as ``None`` with a note.
    """
    method = _check_method(method)
    confidence = _check_confidence(confidence)
    n_resamples = _check_resamples(n_resamples)
    samples = _check_samples(samples)
    rows, n = samples.shape
    generators = _rngs_for(rngs, rows)
    low = np.full(rows, np.nan)
    high = np.full(rows, np.nan)
    if n < 2 or rows == 0:
        return low, high
    flat = samples.max(axis=1) == samples.min(axis=1)
    low[flat] = high[flat] = samples[flat, 0]
    todo = np.flatnonzero(~flat)
    if method == "student-t":
        low[todo], high[todo] = student_t_ci(samples[todo], confidence=confidence)
        return low, high
    alpha = (1 - confidence) / 2
    order = _by_stream(generators, todo.tolist())
    draws = _Draws(generators, order, n, n_resamples)
    step = _rows_per_chunk(n_resamples)
    for start in range(0, len(order), step):
        chunk = order[start : start + step]
        part = samples[chunk]
        chunk_rngs = [generators[i] for i in chunk]
        if method == "bootstrap-t":
            _, keys = _resample(part, chunk_rngs, n_resamples, means=False, studentized=True, draws=draws)
            low[chunk], high[chunk] = _studentized_interval(part, keys, alpha, lambda u: _t_from_key(u, n))
        else:
            theta_b, _ = _resample(part, chunk_rngs, n_resamples, means=True, studentized=False, draws=draws)
            low[chunk], high[chunk] = _distribution_interval(part, theta_b, method, alpha)
    return low, high


def bootstrap_t_interval(samples: Any, tstats: Any, *, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Studentized (bootstrap-t) interval ``[mean - t*_(1-a/2) se, mean - t*_(a/2) se]`` of each row.

    ``samples`` has shape ``(cells, n)``; ``tstats`` shape ``(cells, B)``, e.g. the
    second output of :func:`bootstrap_distribution` with ``studentized=True``.
    Returns ``low, high`` of shape ``(cells,)``; infinite where more than
    ``(1 - confidence) / 2`` of the resamples have no spread.
    """
    samples = _check_samples(samples)
    tstats = np.array(tstats, dtype=np.float64, ndmin=2)
    return _studentized_interval(samples, tstats, (1 - _check_confidence(confidence)) / 2)


def _studentized_interval(
    samples: np.ndarray, tstats: np.ndarray, alpha: float, transform: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`bootstrap_t_interval` without checks; partially sorts ``tstats`` in place.

    ``transform`` turns the given statistics into ``t*`` (see :func:`_quantiles`).
    """
    n = samples.shape[1]
    t_lo, t_hi = _common_quantiles(tstats, (alpha, 1 - alpha), transform).T
    mean = samples.mean(axis=1)
    se = samples.std(axis=1, ddof=1) / math.sqrt(n)
    with np.errstate(invalid="ignore"):
        return mean - t_hi * se, mean - t_lo * se


def _plain(value: Any) -> Any:
    """A numpy scalar as the matching Python scalar; other values unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def _value_key(value: Any) -> tuple:
    """Type-aware sort key: None < booleans < numbers < strings; ``1`` and ``1.0`` tie-break by type."""
    if value is None:
        return (0, 0, "")
    if isinstance(value, bool):
        return (1, int(value), "")
    if isinstance(value, (int, float)):
        return (2, value, type(value).__name__)
    return (3, str(value), type(value).__name__)


def cell_sort_key(axes: Mapping[str, Any], method: str = "", order: Sequence[str] = ()) -> tuple:
    """Canonical order of cells: axis items sorted by name, values compared type-aware, then method.

    Values compare as None < booleans < numbers < strings, so mixed types never
    raise. ``order`` puts the named axes first (a display order, e.g. data axes
    then training axes); the rest follow by name.
    """
    names = [name for name in order if name in axes] + sorted(set(axes) - set(order))
    return (tuple((name, _value_key(axes[name])) for name in names), method)


def _normalize_axes(axes: Any, where: str) -> dict[str, Any]:
    if not isinstance(axes, Mapping):
        raise ValueError(f"{where}: 'axes' must be a mapping of axis name to value, got {type(axes).__name__}")
    normalized = {}
    for name, value in axes.items():
        value = _plain(value)
        if value is not None and not isinstance(value, (bool, int, float, str)):
            raise ValueError(f"{where}: axis {name!r} has non-scalar value {value!r}")
        if isinstance(value, float) and math.isnan(value):
            raise ValueError(f"{where}: axis {name!r} is NaN; axis values must be comparable")
        normalized[str(name)] = value
    return dict(sorted(normalized.items()))


def _describe(axes: Mapping[str, Any], method: str) -> str:
    parts = [f"{name}={value!r}" for name, value in axes.items()]
    return f"cell ({', '.join(parts + [f'method={method!r}'])})"


class _Cell:
    """Per-seed values of one (axes, method) cell while observations are collected."""

    def __init__(self, axes: dict[str, Any], text: str, method: str) -> None:
        self.axes = axes
        self.text = text  # canonical JSON of axes: the axis point's identity
        self.method = method
        self.values: dict[int, float] = {}
        self.dropped = 0

    def add(self, seed: int, value: float, nan_policy: str) -> None:
        if seed in self.values:
            raise ValueError(f"{_describe(self.axes, self.method)} has two observations for seed {seed}")
        if not math.isfinite(value):
            if nan_policy == "raise":
                raise ValueError(
                    f"{_describe(self.axes, self.method)} seed {seed} has value {value!r}; "
                    "fix the run or pass nan_policy='omit' to drop and count such values"
                )
            self.dropped += 1
            return
        self.values[seed] = value


def _collect(observations: Iterable[Mapping[str, Any]], nan_policy: str) -> dict[tuple[str, str], _Cell]:
    cells: dict[tuple[str, str], _Cell] = {}
    # Many observations share one axes dict shape; normalize each distinct one once.
    normalized: dict[tuple, tuple[dict[str, Any], str]] = {}
    for index, observation in enumerate(observations):
        try:
            axes, method, seed, value = observation["axes"], observation["method"], observation["seed"], observation["value"]
        except (KeyError, TypeError):
            raise ValueError(
                f"observation {index}: needs keys 'axes', 'method', 'seed', 'value', got {observation!r}"
            ) from None
        try:
            raw = tuple([(name, type(v), v) for name, v in axes.items()])
            axes, text = normalized[raw]
        except KeyError:
            axes = _normalize_axes(axes, f"observation {index}")
            axes, text = normalized.setdefault(raw, (axes, canonical(axes)))
        except (AttributeError, TypeError):
            axes = _normalize_axes(axes, f"observation {index}")
            text = canonical(axes)
        if type(seed) is not int:
            seed = _plain(seed)
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise ValueError(f"observation {index}: 'seed' must be an integer replicate index, got {seed!r}")
        if type(value) is not float:
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"observation {index}: 'value' must be a number, got {value!r}") from None
        key = (text, method if type(method) is str else str(method))
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = _Cell(axes, text, key[1])
        cell.add(seed, value, nan_policy)
    return cells


def replicate_seed(seed: int, axes: Mapping[str, Any], seeds: Sequence[int]) -> int:
    """Seed of the resampling stream of one replicate set: the stream-axis values ``axes`` and the ``seeds``.

    :func:`aggregate` resamples every row measured on that set with the indices
    this generator draws (pass the result as a row's ``rngs`` entry to
    :func:`bootstrap_ci` to reproduce them).
    """
    return derive_seed("axisflow.stats", "resample", seed, dict(axes), list(seeds))


def _summaries(
    rows: list[list[float]], keys: list[int], *, method: str, confidence: float, n_resamples: int
) -> list[dict[str, Any]]:
    """Mean, std (ddof=1) and interval of each variable-length row, vectorized over rows of equal length.

    ``keys[i]`` seeds row ``i``'s generator. An all-equal row keeps its value
    exactly as mean; missing statistics are ``None``.
    """
    result = [{"mean": None, "std": None, "ci_low": None, "ci_high": None} for _ in rows]
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
        low, high = bootstrap_ci(
            samples, method=method, confidence=confidence, n_resamples=n_resamples, rngs=[keys[i] for i in members]
        )
        for i, mean, std, lo, hi in zip(members, means, stds, low.tolist(), high.tolist()):
            result[i].update(mean=mean, std=std)
            if math.isfinite(lo) and math.isfinite(hi):
                result[i].update(ci_low=lo, ci_high=hi)
    return result


def _no_interval_note(n: int, method: str) -> str:
    if n == 0:
        return "no values: nothing to estimate"
    if n == 1:
        return "n=1: a single seed gives no confidence interval; run more seeds"
    return f"{method} gives no finite interval at n={n}; run more seeds or use method='student-t'"


def aggregate(
    observations: Iterable[Mapping[str, Any]],
    *,
    baseline: str,
    higher_is_better: bool = True,
    method: str = DEFAULT_METHOD,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
    nan_policy: str = "raise",
    stream_axes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Per-cell means with confidence intervals and paired differences against ``baseline``.

    Parameters
    ----------
    observations : iterable of dict
        One ``{"axes": {name: scalar}, "method": str, "seed": int, "value": float}``
        per (cell, seed), in any order. ``seed`` is the replicate index and the
        pairing key.
    baseline : str
        Method every other method is compared with, within the same axes.
    higher_is_better : bool
        Direction of the metric; used for ``p_improve`` and ``verdict``.
    method : str
        Interval method, one of :data:`METHODS` (``"default"`` is :data:`DEFAULT_METHOD`).
    confidence, n_resamples : float, int
        Two-sided level and bootstrap resamples per interval.
    seed : int
        Root of every cell's generator, together with the cell's canonical key.
    nan_policy : {"raise", "omit"}
        NaN/infinite values raise a ``ValueError`` naming the cell and seed, or
        are dropped and counted in the cell's ``n_dropped``.
    stream_axes : sequence of str, optional
        The axes that identify a replicate besides its seed (default: all axes).
        Rows whose values on these axes and whose seed sets agree are resampled
        with the same indices, drawn from a generator seeded with ``seed``, those
        axis values and the seeds: every method and every paired difference
        measured on the same replicates is resampled jointly (the paired
        bootstrap). The flow passes its data axes, since one branch -- a data
        point and a seed -- is one replicate for every training-axis value.

    Returns
    -------
    dict
        ``{"settings", "cells", "paired"}`` of plain Python values. Each cell has
        ``axes, method, n, mean, ci_low, ci_high, std, seeds, values`` (values in
        seed order) and ``note`` when it has no interval. Each paired row has
        ``axes, method, baseline, n, mean_diff, ci_low, ci_high, p_improve,
        verdict, seeds, diffs`` with ``diff = method - baseline`` on the seeds
        both share; ``p_improve`` is the fraction of those seeds on which the
        method is better (ties count one half) and ``verdict`` is
        ``"better"``/``"worse"`` when the interval excludes 0, else
        ``"inconclusive"`` (``None`` without an interval).
    """
    method = _check_method(method)
    confidence = _check_confidence(confidence)
    n_resamples = _check_resamples(n_resamples)
    nan_policy = _check_nan_policy(nan_policy)
    seed = _check_seed(seed)
    cells = _collect(observations, nan_policy)
    methods = sorted({m for _, m in cells})
    if baseline not in methods:
        found = ", ".join(repr(m) for m in methods) or "none"
        raise ValueError(f"baseline method {baseline!r} has no observations; methods found: {found}")
    ordered = sorted(cells.values(), key=lambda c: cell_sort_key(c.axes, c.method))

    if stream_axes is not None:
        stream_axes = sorted({str(name) for name in stream_axes})
        known = {name for c in ordered for name in c.axes}
        unknown = [name for name in stream_axes if name not in known]
        if unknown:
            raise ValueError(f"stream_axes names {', '.join(map(repr, unknown))}, which no observation has; axes: {sorted(known)}")
    # One resampling stream per replicate set -- stream-axis point and seeds --
    # shared by every method and paired difference measured on it.
    points: dict[str, tuple[dict[str, Any], str]] = {}
    streams: dict[tuple[str, tuple[int, ...]], int] = {}

    def stream(cell: _Cell, seeds: list[int]) -> int:
        if cell.text not in points:
            axes = {k: v for k, v in cell.axes.items() if stream_axes is None or k in stream_axes}
            points[cell.text] = (axes, canonical(axes))
        axes, text = points[cell.text]
        if (text, tuple(seeds)) not in streams:
            streams[text, tuple(seeds)] = replicate_seed(seed, axes, seeds)
        return streams[text, tuple(seeds)]

    cell_seeds = [sorted(c.values) for c in ordered]
    cell_rows = [[c.values[s] for s in seeds] for c, seeds in zip(ordered, cell_seeds)]
    cell_keys = [stream(c, seeds) for c, seeds in zip(ordered, cell_seeds)]

    baselines = {c.text: c for c in ordered if c.method == baseline}
    contenders = [c for c in ordered if c.method != baseline]
    pair_diffs, pair_seeds, pair_keys = [], [], []
    for cell in contenders:
        reference = baselines.get(cell.text)
        if reference is None:
            raise ValueError(f"baseline {baseline!r} has no observations in {_describe(cell.axes, cell.method)}")
        common = sorted(cell.values.keys() & reference.values.keys())
        pair_seeds.append(common)
        pair_diffs.append([cell.values[s] - reference.values[s] for s in common])
        pair_keys.append(stream(cell, common))

    summaries = _summaries(
        cell_rows + pair_diffs, cell_keys + pair_keys, method=method, confidence=confidence, n_resamples=n_resamples
    )
    cell_stats, pair_stats = summaries[: len(cell_rows)], summaries[len(cell_rows) :]
    cell_out = []
    for cell, seeds, row, summary in zip(ordered, cell_seeds, cell_rows, cell_stats):
        entry = {
            "axes": dict(cell.axes),
            "method": cell.method,
            "n": len(row),
            "mean": summary["mean"],
            "ci_low": summary["ci_low"],
            "ci_high": summary["ci_high"],
            "std": summary["std"],
            "seeds": seeds,
            "values": row,
        }
        if summary["ci_low"] is None:
            entry["note"] = _no_interval_note(len(row), method)
        if cell.dropped:
            entry["n_dropped"] = cell.dropped
        cell_out.append(entry)

    sign = 1.0 if higher_is_better else -1.0
    paired_out = []
    for cell, common, diffs, summary in zip(contenders, pair_seeds, pair_diffs, pair_stats):
        low, high = summary["ci_low"], summary["ci_high"]
        wins = sum(1.0 if sign * d > 0 else 0.5 if d == 0 else 0.0 for d in diffs)
        entry = {
            "axes": dict(cell.axes),
            "method": cell.method,
            "baseline": baseline,
            "n": len(diffs),
            "mean_diff": summary["mean"],
            "ci_low": low,
            "ci_high": high,
            "p_improve": wins / len(diffs) if diffs else None,
            "verdict": _verdict(low, high, higher_is_better),
            "seeds": common,
            "diffs": diffs,
        }
        if low is None:
            entry["note"] = _no_interval_note(len(diffs), method)
        paired_out.append(entry)

    settings = {
        "method": method,
        "confidence": confidence,
        "n_resamples": n_resamples,
        "seed": int(seed),
        "higher_is_better": bool(higher_is_better),
        "nan_policy": nan_policy,
        "stream_axes": stream_axes,
    }
    return {"settings": settings, "cells": cell_out, "paired": paired_out}


def _verdict(low: float | None, high: float | None, higher_is_better: bool) -> str | None:
    """``better``/``worse`` when the difference interval excludes 0, else ``inconclusive``."""
    if low is None or high is None:
        return None
    if low > 0:
        return "better" if higher_is_better else "worse"
    if high < 0:
        return "worse" if higher_is_better else "better"
    return "inconclusive"
