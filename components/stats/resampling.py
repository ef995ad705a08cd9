"""Bootstrap draws: which resample indices each row gets, and the resample means and t-keys they give.

Rows that share a generator share one matrix of resample indices -- the paired
bootstrap, for rows measured on the same replicates. The draw layout (block
sizes, draw groups) is part of the definition of every published bootstrap
number (``tests/test_stats_golden.py``).
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from components.seeding import derive_seed
from components.stats.settings import check_resamples

__all__ = ["Draws", "Floats", "bootstrap_distribution", "by_stream", "check_samples", "replicate_seed", "resample", "rngs_for", "rows_per_chunk", "t_from_key"]

#: A float64 array (shapes in each docstring).
Floats = npt.NDArray[np.float64]
#: Resample digits (:func:`_draw_indices`), int64.
Digits = npt.NDArray[np.int64]

def check_samples(samples: Any) -> Floats:
    """``samples`` as a C-contiguous float64 array of shape ``(cells, n)`` with finite values; raises otherwise."""
    samples = np.ascontiguousarray(samples, dtype=np.float64)
    if samples.ndim != 2:
        raise ValueError(f"samples must have shape (cells, n), got shape {samples.shape}")
    if not np.isfinite(samples).all():
        raise ValueError("samples contain NaN or infinite values")
    checked: Floats = samples
    return checked


def rngs_for(rngs: Sequence[Any], rows: int) -> list[np.random.Generator]:
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


class Draws:
    """Resample indices per generator, drawn on first use and dropped after the last.

    Rows that share a generator share one draw (:func:`_draw_indices`), however
    the rows are split into chunks, as long as every row asks exactly once.
    """

    def __init__(self, generators: Sequence[np.random.Generator], rows: Iterable[int], n: int, n_resamples: int) -> None:
        self.n, self.n_resamples = n, n_resamples
        self.uses: dict[int, int] = {}
        for row in rows:
            self.uses[id(generators[row])] = self.uses.get(id(generators[row]), 0) + 1
        self.drawn: dict[int, list[tuple[int, Digits]]] = {}

    def blocks(self, generator: np.random.Generator) -> list[tuple[int, Digits]]:
        stream = id(generator)
        if stream not in self.drawn:
            self.drawn[stream] = _draw_indices(self.n, generator, self.n_resamples)
        self.uses[stream] -= 1
        return self.drawn[stream] if self.uses[stream] else self.drawn.pop(stream)


def by_stream(generators: Sequence[np.random.Generator], rows: Iterable[int]) -> list[int]:
    """``rows`` reordered so rows sharing a generator are adjacent (groups in order of first appearance).

    Only one group's indices are then held at a time (:class:`Draws`).
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


def _block_table(columns: npt.NDArray[Any], size: int) -> npt.NDArray[Any]:
    """Sums of each row of ``columns`` over every ``size``-tuple of its indices.

    ``columns`` has shape ``(rows, n)``; the table has shape ``(rows, n**size)``
    and entry ``[:, i]`` sums the entries named by the base-``n`` digits of ``i``
    (most significant first).
    """
    table = columns
    for _ in range(size - 1):
        table = (table[:, :, None] + columns[:, None, :]).reshape(columns.shape[0], -1)
    return table


def _draw_indices(n: int, rng: np.random.Generator, n_resamples: int) -> list[tuple[int, Digits]]:
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


def _gather_sums(tables: Mapping[int, npt.NDArray[Any]], blocks: list[tuple[int, Digits]]) -> npt.NDArray[Any]:
    """Sums of one row's values over the resamples ``blocks`` (:func:`_draw_indices`) describe.

    ``tables`` maps each block size to the row's table of block sums. Complex
    tables carry two real columns at once (real and imaginary parts are summed
    independently, exactly as two real sums), gathered by one lookup. Returns
    shape ``(n_resamples,)``.
    """
    (size, index), *rest = blocks
    total: npt.NDArray[Any] = tables[size].take(index)
    for size, index in rest:
        total += tables[size].take(index)
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


def rows_per_chunk(n_resamples: int, budget: int = 1 << 19) -> int:
    # 2**19 float64 values (4 MiB) per work array: 52 rows at 10,000 resamples.
    # Smaller chunks fit L2 better but pay the per-chunk NumPy calls more often;
    # benchmarks/bootstrap_speed.py measured 2**19 ahead of 2**17 by 5-8%. The only
    # tuning knob: every operation is row-wise, so no number depends on it (tested).
    return max(1, budget // max(n_resamples, 1))


def bootstrap_distribution(
    samples: Any, *, n_resamples: int, rngs: Sequence[Any], studentized: bool = False
) -> tuple[Floats, Floats | None]:
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
    samples = check_samples(samples)
    if samples.shape[1] < 1:
        raise ValueError("samples need at least one column (seed) to resample")
    generators = rngs_for(rngs, samples.shape[0])
    means, keys = resample(samples, generators, check_resamples(n_resamples), means=True, studentized=studentized)
    assert means is not None  # asked for
    return means, None if keys is None else t_from_key(keys, samples.shape[1])


def resample(
    samples: Floats,
    generators: list[np.random.Generator],
    n_resamples: int,
    *,
    means: bool,
    studentized: bool,
    draws: Draws | None = None,
) -> tuple[Floats | None, Floats | None]:
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
        draws = Draws(generators, range(rows), n, n_resamples)
    # Row by row, so temporaries stay small enough to live in cache.
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(rows):
            sums = _gather_sums({size: table[i] for size, table in tables.items()}, draws.blocks(generators[i]))
            if studentized:
                # Contiguous halves: the arithmetic below runs several times faster on them.
                np.copyto(pair, sums.view(np.float64).reshape(n_resamples, 2).T)
                sums, squares = pair
                assert keys is not None  # allocated when studentized
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


def t_from_key(keys: Floats, n: int) -> Floats:
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
    out: Floats = t
    return out




def replicate_seed(seed: int, axes: Mapping[str, Any], seeds: Sequence[int]) -> int:
    """Seed of the resampling stream of one replicate set: the stream-axis values ``axes`` and the ``seeds``.

    :func:`aggregate` resamples every row measured on that set with the indices
    this generator draws (pass the result as a row's ``rngs`` entry to
    :func:`bootstrap_ci` to reproduce them).
    """
    return derive_seed("axisflow.stats", "resample", seed, dict(axes), list(seeds))

