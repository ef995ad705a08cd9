"""Bootstrap statistics for the aggregate: per-cell means with confidence intervals,
paired differences against the baseline and declared contrasts, with family-wise verdicts.

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

Why the default method is ``hybrid-t`` (bootstrap-t's critical values held
within 0.8-1.2 times Student-t's) and what the others cost in coverage, width
stability and range violations at 5-20 seeds is measured in
``benchmarks/coverage.py``; why the verdicts are family-wise (Holm) in
``benchmarks/multiplicity.py``; both are written up in ``docs/statistics.md``.
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
    "CONTRAST_KINDS",
    "DEFAULT_METHOD",
    "DEFAULT_MULTIPLICITY",
    "HYBRID_CAP",
    "HYBRID_FLOOR",
    "METHODS",
    "MULTIPLICITY",
    "NAN_POLICIES",
    "SETTINGS",
    "adjust_p_values",
    "aggregate",
    "bootstrap_ci",
    "bootstrap_distribution",
    "bootstrap_t_interval",
    "cell_sort_key",
    "check_contrasts",
    "check_settings",
    "difference_bounds",
    "family_verdict",
    "hybrid_t_interval",
    "interval_from_distribution",
    "replicate_seed",
    "student_t_ci",
    "wins",
]

#: Interval methods :func:`aggregate` and :func:`bootstrap_ci` accept.
METHODS = ("hybrid-t", "bootstrap-t", "bca", "percentile", "basic", "student-t")
#: Chosen from the coverage and stability study (docs/statistics.md); ``"default"`` is an alias.
DEFAULT_METHOD = "hybrid-t"
#: ``hybrid-t``: each side's critical value is at least ``HYBRID_FLOOR`` times Student-t's
#: ``t(n-1)``, and the two together at most ``2 * HYBRID_CAP`` times it (docs/statistics.md).
HYBRID_FLOOR = 0.8
HYBRID_CAP = 1.2
#: What :func:`aggregate` does with NaN or infinite metric values.
NAN_POLICIES = ("raise", "omit")
#: Family-wise corrections of the verdicts of one :func:`aggregate` call.
MULTIPLICITY = ("holm", "bonferroni", "none")
DEFAULT_MULTIPLICITY = "holm"
#: Declared contrasts: a training-axis (or any axis) value against a reference value
#: within each method, or one method against another at every axis point.
CONTRAST_KINDS = ("axis", "method")

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


def _check_multiplicity(multiplicity: Any) -> str:
    if multiplicity not in MULTIPLICITY:
        raise ValueError(f"unknown multiplicity {multiplicity!r}; valid: {', '.join(MULTIPLICITY)}")
    return multiplicity


def _check_bounds(bounds: Any) -> tuple[float | None, float | None] | None:
    if bounds is None:
        return None
    if isinstance(bounds, (str, bytes)) or not isinstance(bounds, Sequence) or len(bounds) != 2:
        raise ValueError(f"bounds must be a pair (low, high), either may be None, got {bounds!r}")
    out = []
    for value in bounds:
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value)):
            raise ValueError(f"bounds must hold numbers or None, got {bounds!r}")
        out.append(None if value is None or math.isinf(value) else float(value))
    if out[0] is not None and out[1] is not None and not out[0] < out[1]:
        raise ValueError(f"bounds must have low < high, got {bounds!r}")
    return out[0], out[1]


def difference_bounds(bounds: Any) -> tuple[float | None, float | None] | None:
    """The range a difference of two values in ``bounds`` can take: ``(low - high, high - low)``.

    ``None`` (no range) when either end of ``bounds`` is open.
    """
    bounds = _check_bounds(bounds)
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
    out, names = [], set()
    for i, contrast in enumerate(contrasts):
        where = f"[{i}]"
        if not isinstance(contrast, Mapping):
            raise ValueError(f"{where}: a contrast is a mapping with a 'kind', got {contrast!r}")
        kind = contrast.get("kind")
        if kind not in CONTRAST_KINDS:
            raise ValueError(f"{where}.kind: {kind!r}; must be one of {', '.join(CONTRAST_KINDS)}")
        extra = sorted(set(contrast) - known[kind])
        if extra:
            raise ValueError(f"{where}.{extra[0]}: unknown key for a {kind} contrast; known: {', '.join(sorted(known[kind]))}")
        required = ("axis", "value", "reference") if kind == "axis" else ("method", "reference")
        for key in required:
            if key not in contrast:
                raise ValueError(f"{where}.{key}: missing; a {kind} contrast needs {', '.join(required)}")
        item = {k: _plain(v) for k, v in contrast.items() if k != "methods"}
        if kind == "axis":
            if not isinstance(item["axis"], str):
                raise ValueError(f"{where}.axis: must be an axis name, got {item['axis']!r}")
            if _value_key(item["value"]) == _value_key(item["reference"]):
                raise ValueError(f"{where}: value and reference are both {item['value']!r}; a contrast compares two values")
            if axes is not None:
                if item["axis"] not in axes:
                    raise ValueError(f"{where}.axis: {item['axis']!r} is not an axis; axes: {', '.join(sorted(axes))}")
                for key in ("value", "reference"):
                    if not any(_value_key(item[key]) == _value_key(v) for v in axes[item["axis"]]):
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
                    raise ValueError(f"{where}: method {m!r} is not among the selected methods: {', '.join(methods)}")
        item["name"] = str(item.get("name") or default_name)
        if item["name"] in names:
            raise ValueError(f"{where}.name: {item['name']!r} is declared twice")
        names.add(item["name"])
        out.append(item)
    return out


_SETTING_CHECKS = {
    "confidence": _check_confidence,
    "contrasts": check_contrasts,
    "method": _check_method,
    "multiplicity": _check_multiplicity,
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


#: Largest table of block sums, and largest bound of one draw. Both are part of the
#: definition of the resample streams, not tuning knobs: which integers are drawn,
#: and how the resample sums are grouped, follow from them, so changing either
#: changes published numbers (tests/test_stats_golden.py pins them).
_TABLE_LIMIT = 4096
_DRAW_LIMIT = 1 << 63


def _block_sizes(n: int) -> list[int]:
    """Split ``n`` draws into as few near-equal blocks as tables of ``_TABLE_LIMIT`` entries allow.

    ``s`` independent uniform indices are exactly the base-``n`` digits of one
    integer uniform on ``[0, n**s)``, so a block of ``s`` draws costs one lookup in
    a table of the ``n**s`` possible block sums. The limit keeps every table in
    L1/L2 cache.
    """
    per_block = 1
    while per_block < n and n ** (per_block + 1) <= _TABLE_LIMIT:
        per_block += 1
    blocks = -(-n // per_block)
    small, extra = divmod(n, blocks)
    return [small + 1] * extra + [small] * (blocks - extra)


@functools.lru_cache(maxsize=64)
def _draw_groups(n: int) -> tuple[tuple[int, ...], ...]:
    """The blocks of :func:`_block_sizes`, packed into groups whose bases multiply to at most ``_DRAW_LIMIT``.

    A block of ``s`` indices is one digit in base ``n**s``; the blocks of a group
    are the mixed-radix digits of a single integer uniform on ``[0, product of
    bases)``, so one 64-bit draw serves several blocks (all four blocks of a
    10-seed resample: bases 1000, 1000, 100, 100).
    """
    groups: list[list[int]] = []
    product = _DRAW_LIMIT
    for size in _block_sizes(n):
        base = n**size
        if groups and product * base <= _DRAW_LIMIT:
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
    # benchmarks/bootstrap_speed.py measured 2**19 ahead of 2**17 by 5-8%. The only
    # tuning knob: every operation is row-wise, so no number depends on it (tested).
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


def _bca_parameters(samples: np.ndarray, theta_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def _bca_level_pair(z0: np.ndarray, acceleration: np.ndarray, alpha: Any) -> tuple[np.ndarray, np.ndarray]:
    """BCa-adjusted lower and upper quantile levels for tail probability ``alpha`` (scalar or per row)."""
    from scipy import special

    with np.errstate(divide="ignore", invalid="ignore"):
        z_alpha = special.ndtri(alpha)
        shifted_lo = z0 + z_alpha
        shifted_hi = z0 - z_alpha
        level_lo = special.ndtr(z0 + shifted_lo / (1 - acceleration * shifted_lo))
        level_hi = special.ndtr(z0 + shifted_hi / (1 - acceleration * shifted_hi))
    return level_lo, level_hi


def _bca_levels(samples: np.ndarray, theta_b: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """BCa-adjusted lower and upper quantile levels, each of shape ``(rows,)``."""
    z0, acceleration = _bca_parameters(samples, theta_b)
    return _bca_level_pair(z0, acceleration, float(alpha))


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
    bounds: tuple[float | None, float | None] | None = None,
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
    method = _check_method(method)
    confidence = _check_confidence(confidence)
    n_resamples = _check_resamples(n_resamples)
    bounds = _check_bounds(bounds)
    samples = _check_samples(samples)
    generators = _rngs_for(rngs, samples.shape[0])
    low, high, _ = _intervals(samples, generators, method, confidence, n_resamples, None)
    return _clip(low, high, bounds)


def _clip(low: np.ndarray, high: np.ndarray, bounds: Any) -> tuple[np.ndarray, np.ndarray]:
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


def _hybrid_critical(t_lo: np.ndarray, t_hi: np.ndarray, student: Any) -> tuple[np.ndarray, np.ndarray]:
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
    samples: np.ndarray,
    generators: list[np.random.Generator],
    method: str,
    confidence: float,
    n_resamples: int,
    want_p: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intervals of every row and, for rows where ``want_p`` is true, the p-value of "mean = 0".

    The p-value is the interval's own: the smallest ``1 - confidence`` at which
    the row's interval (same method, same resamples) excludes 0, so a
    per-row verdict and ``p < 1 - confidence`` agree. NaN where not asked for
    or undefined.
    """
    rows, n = samples.shape
    low = np.full(rows, np.nan)
    high = np.full(rows, np.nan)
    p = np.full(rows, np.nan)
    if n < 2 or rows == 0:
        return low, high, p
    flat = samples.max(axis=1) == samples.min(axis=1)
    low[flat] = high[flat] = samples[flat, 0]
    # An all-equal row's interval is [v, v] at every level: it excludes 0 unless v is 0.
    p[flat] = np.where(samples[flat, 0] == 0, 1.0, 0.0)
    todo = np.flatnonzero(~flat)
    alpha = (1 - confidence) / 2
    if method == "student-t":
        low[todo], high[todo] = student_t_ci(samples[todo], confidence=confidence)
        part = samples[todo]
        with np.errstate(divide="ignore"):
            t_obs = part.mean(axis=1) / (part.std(axis=1, ddof=1) / math.sqrt(n))
        from scipy import special

        p[todo] = 2 * special.stdtr(n - 1, -np.abs(t_obs))
    else:
        order = _by_stream(generators, todo.tolist())
        draws = _Draws(generators, order, n, n_resamples)
        step = _rows_per_chunk(n_resamples)
        studentized = method in ("bootstrap-t", "hybrid-t")
        transform = (lambda u: _t_from_key(u, n)) if studentized else None
        for start in range(0, len(order), step):
            chunk = order[start : start + step]
            part = samples[chunk]
            chunk_rngs = [generators[i] for i in chunk]
            theta_b, keys = _resample(part, chunk_rngs, n_resamples, means=not studentized, studentized=studentized, draws=draws)
            stats = keys if studentized else theta_b
            if method == "hybrid-t":
                # Its p-value has a closed form (:func:`_hybrid_p_values`): no sorting needed.
                low[chunk], high[chunk] = _t_interval(part, stats, method, alpha, transform)
                if want_p is not None:
                    p[chunk] = _hybrid_p_values(part, low[chunk], high[chunk], alpha)
                continue
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
                p[target] = _p_values(sub, ordered, method, transform)
    if want_p is not None:
        p[~want_p] = np.nan
    return low, high, p


def _t_interval(samples: np.ndarray, keys: np.ndarray, method: str, alpha: float, transform: Any) -> tuple[np.ndarray, np.ndarray]:
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


def _hybrid_p_values(samples: np.ndarray, low: np.ndarray, high: np.ndarray, alpha: float) -> np.ndarray:
    """p-values of ``hybrid-t``: the level at which its interval, rescaled with Student-t's quantile, reaches 0.

    The interval's shape -- the critical value ``c`` on the side facing 0 -- is
    bootstrap-t's at the configured level; across levels ``a`` it is taken to
    scale as Student-t's quantile, ``c(a) = c t(1 - a/2) / t(1 - alpha)``. It
    excludes 0 iff ``t(1 - a/2) < |t_obs| t(1 - alpha) / c``, so ``p = 2 P(T_{n-1} >
    |t_obs| t(1 - alpha) / c)``: at ``a = 2 alpha`` the printed interval, and no
    resample-noisy far-tail quantiles in the small p-values a family-wise
    correction needs. ``c`` is taken no smaller than Student-t's ``t(1 - alpha)``:
    a side that bootstrap-t makes shorter than Student-t's is trusted for the
    interval, not for extrapolating to the far tail (measured: with it, Holm's
    family-wise error on normal data exceeded its level, 5.4% at 5%). So ``p <
    2 alpha`` implies the interval excludes 0; the converse fails only for such a
    short side. Shapes ``(rows, n), (rows,), (rows,) -> (rows,)``.
    """
    from scipy import special

    n = samples.shape[1]
    mean = samples.mean(axis=1)
    student = _student_quantile(n, 1 - alpha)
    se = samples.std(axis=1, ddof=1) / math.sqrt(n)
    # The side's critical value, never below Student-t's (see the docstring).
    critical = np.maximum(np.where(mean >= 0, mean - low, high - mean) / se, student)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.abs(mean) / se * student / critical
    return np.where(mean == 0, 1.0, 2 * special.stdtr(n - 1, -scaled))


def _sorted_quantiles(sorted_values: np.ndarray, levels: np.ndarray, transform: Any = None) -> np.ndarray:
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
    samples: np.ndarray,
    sorted_stats: np.ndarray,
    method: str,
    level: np.ndarray,
    transform: Any = None,
    bca: Any = None,
    moments: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
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


def _p_values(samples: np.ndarray, sorted_stats: np.ndarray, method: str, transform: Any = None) -> np.ndarray:
    """Smallest ``a`` at which each row's ``1 - a`` interval excludes 0 (to within 4e-6).

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
    lower = np.zeros(rows)
    upper = np.ones(rows)
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
    return upper


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


def hybrid_t_interval(samples: Any, tstats: Any, *, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """The ``hybrid-t`` interval of each row from its studentized bootstrap statistics.

    Bootstrap-t's critical values, each side raised to at least ``HYBRID_FLOOR``
    times Student-t's ``t(n-1)`` and both together held to at most
    ``2 * HYBRID_CAP`` times it, keeping bootstrap-t's asymmetry (see
    :func:`_hybrid_critical`). ``samples`` has shape ``(cells, n)``, ``tstats``
    shape ``(cells, B)`` (e.g. from :func:`bootstrap_distribution`); returns
    ``low, high`` of shape ``(cells,)``. Without bounds; :func:`bootstrap_ci`
    takes ``bounds``.
    """
    samples = _check_samples(samples)
    tstats = np.array(tstats, dtype=np.float64, ndmin=2)
    alpha = (1 - _check_confidence(confidence)) / 2
    n = samples.shape[1]
    t_lo, t_hi = _common_quantiles(tstats, (alpha, 1 - alpha)).T
    below, above = _hybrid_critical(t_lo, t_hi, _student_quantile(n, 1 - alpha))
    mean = samples.mean(axis=1)
    se = samples.std(axis=1, ddof=1) / math.sqrt(n)
    return mean - below * se, mean + above * se


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
    rows: list[list[float]],
    keys: list[int],
    *,
    method: str,
    confidence: float,
    n_resamples: int,
    bounds: list[tuple[float | None, float | None] | None],
    want_p: list[bool],
) -> list[dict[str, Any]]:
    """Mean, std (ddof=1), interval and (where asked) p-value of each variable-length row.

    Vectorized over rows of equal length. ``keys[i]`` seeds row ``i``'s
    generator, ``bounds[i]`` is its range. An all-equal row keeps its value
    exactly as mean; missing statistics are ``None``.
    """
    result = [{"mean": None, "std": None, "ci_low": None, "ci_high": None, "p_value": None} for _ in rows]
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
        generators = _rngs_for([keys[i] for i in members], len(members))
        asked = np.array([want_p[i] for i in members])
        low, high, p = _intervals(samples, generators, method, confidence, n_resamples, asked if asked.any() else None)
        floor = np.array([-np.inf if bounds[i] is None or bounds[i][0] is None else bounds[i][0] for i in members])
        ceiling = np.array([np.inf if bounds[i] is None or bounds[i][1] is None else bounds[i][1] for i in members])
        low, high = _clip(low, high, (floor, ceiling))
        for i, mean, std, lo, hi, pv in zip(members, means, stds, low.tolist(), high.tolist(), p.tolist()):
            result[i].update(mean=mean, std=std)
            if math.isfinite(lo) and math.isfinite(hi):
                result[i].update(ci_low=lo, ci_high=hi)
            if want_p[i] and not math.isnan(pv):
                result[i]["p_value"] = pv
    return result


def adjust_p_values(p_values: Sequence[float | None], multiplicity: str = DEFAULT_MULTIPLICITY) -> list[float | None]:
    """Family-wise adjusted p-values: ``holm`` (step-down), ``bonferroni`` or ``none``.

    ``None`` entries (rows without an interval) are not part of the family and
    stay ``None``; the family size is the number of the others. Holm's
    adjusted ``p_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))`` over the sorted
    p-values controls the family-wise error rate at any level under any
    dependence between the comparisons.
    """
    multiplicity = _check_multiplicity(multiplicity)
    present = [(p, i) for i, p in enumerate(p_values) if p is not None]
    out: list[float | None] = [None] * len(p_values)
    m = len(present)
    if multiplicity == "none":
        for p, i in present:
            out[i] = float(p)
    elif multiplicity == "bonferroni":
        for p, i in present:
            out[i] = min(1.0, m * float(p))
    else:
        running = 0.0
        for rank, (p, i) in enumerate(sorted(present)):
            running = max(running, min(1.0, (m - rank) * float(p)))
            out[i] = running
    return out


def _no_interval_note(n: int, method: str) -> str:
    if n == 0:
        return "no values: nothing to estimate"
    if n == 1:
        return "n=1: a single seed gives no confidence interval; run more seeds"
    return f"{method} gives no finite interval at n={n}; run more seeds or use method='hybrid-t' or 'student-t'"


def _axis_matches(value: Any, wanted: Any) -> bool:
    return _value_key(value) == _value_key(wanted)


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
    multiplicity: str = DEFAULT_MULTIPLICITY,
    contrasts: Sequence[Mapping[str, Any]] | None = None,
    bounds: tuple[float | None, float | None] | None = None,
) -> dict[str, Any]:
    """Per-cell means with confidence intervals, paired differences against ``baseline`` and declared contrasts.

    Parameters
    ----------
    observations : iterable of dict
        One ``{"axes": {name: scalar}, "method": str, "seed": int, "value": float}``
        per (cell, seed), in any order. ``seed`` is the replicate index and the
        pairing key.
    baseline : str
        Method every other method is compared with, within the same axes.
    higher_is_better : bool
        Direction of the metric; used for ``wins`` and ``verdict``.
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
    multiplicity : {"holm", "bonferroni", "none"}
        The call's paired rows and contrasts are one family: their verdicts
        control the family-wise error rate at ``1 - confidence`` by this
        correction of their p-values (``none``: each verdict is per row).
    contrasts : list of dict, optional
        Comparisons besides method-vs-baseline (:func:`check_contrasts`), paired
        on shared seeds, resampled like the paired rows and in the same family.
    bounds : (low, high), optional
        The metric's declared range (either end ``None``). Values outside it
        raise; no cell bound lies outside it and no difference bound outside
        ``(low - high, high - low)``.

    Returns
    -------
    dict
        ``{"settings", "cells", "paired", "contrasts"}`` of plain Python values.
        Each cell has ``axes, method, n, mean, ci_low, ci_high, std, seeds,
        values`` (values in seed order) and ``note`` when it has no interval.
        Each paired row has ``axes, method, baseline, n, mean_diff, ci_low,
        ci_high, p_value, p_adjusted, wins, p_improve, verdict,
        verdict_per_row, seeds, diffs`` with ``diff = method - baseline`` on the
        seeds both share. ``wins`` counts the seeds on which the method is
        better (ties count one half), ``p_improve = wins / n`` (a share of
        seeds, not a probability). ``verdict`` is ``"better"``/``"worse"`` when
        the family-wise adjusted p-value is below ``1 - confidence``, else
        ``"inconclusive"`` (``None`` without an interval); ``verdict_per_row``
        is the same reading of the row's own interval. Contrast rows have the
        same keys with ``contrast`` (its name), ``kind`` and ``reference`` (the
        reference method, or ``{axis: reference value}``) instead of
        ``baseline``; ``axes`` are those of the compared cell.
    """
    method = _check_method(method)
    confidence = _check_confidence(confidence)
    n_resamples = _check_resamples(n_resamples)
    nan_policy = _check_nan_policy(nan_policy)
    seed = _check_seed(seed)
    multiplicity = _check_multiplicity(multiplicity)
    contrasts = check_contrasts(contrasts)
    bounds = _check_bounds(bounds)
    cells = _collect(observations, nan_policy)
    methods = sorted({m for _, m in cells})
    if baseline not in methods:
        found = ", ".join(repr(m) for m in methods) or "none"
        raise ValueError(f"baseline method {baseline!r} has no observations; methods found: {found}")
    ordered = sorted(cells.values(), key=lambda c: cell_sort_key(c.axes, c.method))
    if bounds is not None:
        for cell in ordered:
            for s, v in cell.values.items():
                if (bounds[0] is not None and v < bounds[0]) or (bounds[1] is not None and v > bounds[1]):
                    raise ValueError(
                        f"{_describe(cell.axes, cell.method)} seed {s} has value {v!r}, outside the metric's "
                        f"declared range [{bounds[0]}, {bounds[1]}]"
                    )

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

    # Every comparison of the call -- method vs baseline, then declared contrasts --
    # as (cell, reference cell, header fields); one family for the verdicts.
    comparisons: list[tuple[_Cell, _Cell, dict[str, Any]]] = []
    baselines = {c.text: c for c in ordered if c.method == baseline}
    for cell in ordered:
        if cell.method == baseline:
            continue
        reference = baselines.get(cell.text)
        if reference is None:
            raise ValueError(f"baseline {baseline!r} has no observations in {_describe(cell.axes, cell.method)}")
        comparisons.append((cell, reference, {"baseline": baseline}))
    n_paired = len(comparisons)
    by_key = {(c.text, c.method): c for c in ordered}
    for contrast in contrasts:
        found = 0
        for cell in ordered:
            if contrast["kind"] == "method":
                if cell.method != contrast["method"]:
                    continue
                reference = by_key.get((cell.text, contrast["reference"]))
                label: Any = contrast["reference"]
            else:
                axis = contrast["axis"]
                if axis not in cell.axes or not _axis_matches(cell.axes[axis], contrast["value"]):
                    continue
                if "methods" in contrast and cell.method not in contrast["methods"]:
                    continue
                axes = {**cell.axes, axis: contrast["reference"]}
                reference = by_key.get((canonical(_normalize_axes(axes, "contrast")), cell.method))
                label = {axis: contrast["reference"]}
            if reference is None:
                raise ValueError(f"contrast {contrast['name']!r}: {_describe(cell.axes, cell.method)} has no reference cell ({label!r})")
            comparisons.append((cell, reference, {"contrast": contrast["name"], "kind": contrast["kind"], "reference": label}))
            found += 1
        if not found:
            raise ValueError(f"contrast {contrast['name']!r} matches no cell of the observations")

    pair_diffs, pair_seeds, pair_keys = [], [], []
    for cell, reference, _ in comparisons:
        common = sorted(cell.values.keys() & reference.values.keys())
        pair_seeds.append(common)
        pair_diffs.append([cell.values[s] - reference.values[s] for s in common])
        pair_keys.append(stream(cell, common))

    diff_bounds = difference_bounds(bounds)
    summaries = _summaries(
        cell_rows + pair_diffs,
        cell_keys + pair_keys,
        method=method,
        confidence=confidence,
        n_resamples=n_resamples,
        bounds=[bounds] * len(cell_rows) + [diff_bounds] * len(pair_diffs),
        want_p=[False] * len(cell_rows) + [True] * len(pair_diffs),
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

    alpha = 1 - confidence
    # A row without an interval has no p-value and stays out of the family.
    raw = [s["p_value"] if s["ci_low"] is not None else None for s in pair_stats]
    adjusted = adjust_p_values(raw, multiplicity)
    rows_out = []
    for (cell, _, header), common, diffs, summary, p_raw, p_adj in zip(comparisons, pair_seeds, pair_diffs, pair_stats, raw, adjusted):
        low, high = summary["ci_low"], summary["ci_high"]
        won = wins(diffs, higher_is_better)
        verdict, per_row = family_verdict(low, high, p_adj, summary["mean"], multiplicity=multiplicity, alpha=alpha, higher_is_better=higher_is_better)
        entry = {
            "axes": dict(cell.axes),
            "method": cell.method,
            **header,
            "n": len(diffs),
            "mean_diff": summary["mean"],
            "ci_low": low,
            "ci_high": high,
            "p_value": p_raw,
            "p_adjusted": p_adj,
            "wins": won if diffs else None,
            "p_improve": won / len(diffs) if diffs else None,
            "verdict": verdict,
            "verdict_per_row": per_row,
            "seeds": common,
            "diffs": diffs,
        }
        if low is None:
            entry["note"] = _no_interval_note(len(diffs), method)
        rows_out.append(entry)
    paired_out, contrast_out = rows_out[:n_paired], rows_out[n_paired:]

    settings = {
        "method": method,
        "confidence": confidence,
        "n_resamples": n_resamples,
        "seed": int(seed),
        "higher_is_better": bool(higher_is_better),
        "nan_policy": nan_policy,
        "stream_axes": stream_axes,
        "multiplicity": multiplicity,
        "family_size": sum(p is not None for p in raw),
        "contrasts": contrasts,
        "bounds": None if bounds is None else list(bounds),
    }
    return {"settings": settings, "cells": cell_out, "paired": paired_out, "contrasts": contrast_out}


def wins(diffs: Iterable[float], higher_is_better: bool) -> float:
    """Replicates on which the method did better than the reference, in the metric's direction; a tie counts one half."""
    sign = 1.0 if higher_is_better else -1.0
    return float(sum(1.0 if sign * d > 0 else 0.5 if d == 0 else 0.0 for d in diffs))


def family_verdict(
    low: float | None, high: float | None, p_adjusted: float | None, mean: float, *,
    multiplicity: str, alpha: float, higher_is_better: bool,
) -> tuple[str | None, str | None]:
    """``(verdict, verdict_per_row)`` of one comparison.

    The per-row verdict reads the row's own interval. The verdict is that one
    without a correction (``multiplicity: none``) or without an interval or
    p-value; otherwise it is the family-wise test: ``better``/``worse`` (by the
    mean's direction) when the adjusted p-value is below ``alpha``, else
    ``inconclusive``.
    """
    per_row = _verdict(low, high, higher_is_better)
    if per_row is None or p_adjusted is None or multiplicity == "none":
        return per_row, per_row
    if p_adjusted < alpha and mean != 0:
        return ("better" if (mean > 0) == higher_is_better else "worse"), per_row
    return "inconclusive", per_row


def _verdict(low: float | None, high: float | None, higher_is_better: bool) -> str | None:
    """``better``/``worse`` when the difference interval excludes 0, else ``inconclusive``."""
    if low is None or high is None:
        return None
    if low > 0:
        return "better" if higher_is_better else "worse"
    if high < 0:
        return "worse" if higher_is_better else "better"
    return "inconclusive"
