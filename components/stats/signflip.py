"""Sign-flip (randomization) tests of paired differences: exact per row, and jointly over a table (max-T).

Under the null hypothesis that a method and its reference are exchangeable on
each replicate, every per-seed difference is as likely to have either sign.
Flipping signs therefore gives the exact null distribution of a row's mean
(Fisher 1935; Good, *Permutation Tests*, 2005). Its p-value is at least
``2 / 2**n`` however equal the differences are: a row of identical
differences cannot claim certainty.

:func:`maxt_adjust` is Westfall & Young's (1993) step-down max-T: the rows of
one table are flipped jointly -- rows measured on the same replicates share the
same sign for the same seed -- so the family-wise correction uses the
correlation between rows that Holm ignores (Romano & Wolf 2005 show the
step-down controls the family-wise error rate).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from components.stats.resampling import Floats

__all__ = ["EXACT_LIMIT", "flip_t", "maxt_adjust", "sign_flip_p"]

#: Up to this many seeds a row's sign-flip p-value enumerates all ``2**n`` sign vectors;
#: above it, ``2**EXACT_LIMIT`` random sign vectors from the row's own seed (p = (1 + hits) / (1 + draws)).
EXACT_LIMIT = 14


def _signs(n: int, rng: np.random.Generator | None) -> npt.NDArray[np.int8]:
    """All ``2**n`` sign vectors (``n <= EXACT_LIMIT``) or ``2**EXACT_LIMIT`` random ones; shape ``(draws, n)``."""
    if n <= EXACT_LIMIT:
        return np.array(list(itertools.product((1, -1), repeat=n)), dtype=np.int8).reshape(-1, n)
    assert rng is not None
    return rng.choice(np.array([1, -1], dtype=np.int8), size=(1 << EXACT_LIMIT, n))


def sign_flip_p(diffs: Sequence[float], seed: int = 0) -> float | None:
    """Two-sided sign-flip p-value of "the differences are symmetric about 0", by ``|sum|``.

    Exact (every sign vector, the observed one included) up to
    :data:`EXACT_LIMIT` differences; a Monte Carlo estimate from ``seed``
    above. ``None`` without differences.
    """
    values = np.asarray(diffs, dtype=np.float64)
    n = values.size
    if n == 0:
        return None
    signs = _signs(n, np.random.default_rng(seed) if n > EXACT_LIMIT else None)
    observed = abs(float(values.sum()))
    flipped = np.abs(signs @ values)
    # A relative tolerance, so that sums equal in exact arithmetic count as ties whatever their rounding.
    hits = int(np.count_nonzero(flipped >= observed * (1 - 1e-12)))
    if n <= EXACT_LIMIT:
        return float(hits / signs.shape[0])
    return float((1 + hits) / (1 + signs.shape[0]))


def flip_t(diffs: Floats, signs: Floats, floor: float = 0.0) -> Floats:
    """``|t|`` of each row of ``diffs * signs`` (shape ``(draws, n)`` -> ``(draws,)``).

    ``floor`` is added to the variance (a declared resolution's ``r**2 / 12``);
    a flipped sample with no spread and no floor gets ``|t| = inf``.
    """
    flipped = signs * diffs
    n = flipped.shape[1]
    mean = flipped.mean(axis=1)
    variance = flipped.var(axis=1, ddof=1) + floor if n > 1 else np.full(mean.shape, floor)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(mean) / np.sqrt(variance / n)
    out: Floats = np.where(mean == 0, 0.0, t)
    return out


def maxt_adjust(observed: Sequence[float], null: Floats) -> list[float]:
    """Westfall-Young step-down max-T adjusted p-values.

    ``observed`` are the rows' ``|t|``; ``null`` has shape ``(draws, rows)``:
    the rows' ``|t|`` under each joint sign flip (the identity among them or
    not; a ``+1`` is added to numerator and denominator either way). Rows are
    ordered by ``|t|`` descending; row ``(i)``'s p is the share of draws whose
    maximum over rows ``(i), (i+1), ...`` reaches its ``|t|``, made monotone.
    """
    t = np.asarray(observed, dtype=np.float64)
    order = np.argsort(-t, kind="stable")
    draws = null.shape[0]
    # Running maxima over the rows from the least significant up: column j holds max over order[j:].
    tail_max = np.maximum.accumulate(null[:, order[::-1]], axis=1)[:, ::-1]
    adjusted = np.empty(t.size)
    running = 0.0
    for rank, row in enumerate(order):
        hits = int(np.count_nonzero(tail_max[:, rank] >= t[row] * (1 - 1e-12)))
        running = max(running, (1 + hits) / (1 + draws))
        adjusted[row] = running
    return [float(p) for p in adjusted]
