"""Family-wise verdicts: adjusted p-values over one results table's comparisons, and each row's verdict.

Why the verdicts are family-wise (Holm by default) is measured in
``benchmarks/multiplicity.py`` and written up in ``docs/statistics.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from components.stats.settings import DEFAULT_MULTIPLICITY, check_multiplicity

__all__ = ["adjust_p_values", "family_verdict", "wins"]


def adjust_p_values(p_values: Sequence[float | None], multiplicity: str = DEFAULT_MULTIPLICITY) -> list[float | None]:
    """Family-wise adjusted p-values: ``holm`` (step-down), ``bonferroni`` or ``none``.

    ``None`` entries (rows without an interval) are not part of the family and
    stay ``None``; the family size is the number of the others. Holm's
    adjusted ``p_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))`` over the sorted
    p-values controls the family-wise error rate at any level under any
    dependence between the comparisons. ``maxt`` needs the rows' joint null
    distribution (:func:`components.stats.signflip.maxt_adjust`), which only
    :func:`components.stats.aggregate` has.
    """
    multiplicity = check_multiplicity(multiplicity)
    if multiplicity == "maxt":
        raise ValueError("multiplicity 'maxt' adjusts from the rows' joint sign-flip distribution; aggregate computes it")
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




def wins(diffs: Iterable[float], higher_is_better: bool) -> float:
    """Replicates on which the method did better than the reference, in the metric's direction; a tie counts one half."""
    sign = 1.0 if higher_is_better else -1.0
    return float(sum(1.0 if sign * d > 0 else 0.5 if d == 0 else 0.0 for d in diffs))


def family_verdict(
    low: float | None, high: float | None, p_adjusted: float | None, mean: float, *,
    multiplicity: str, alpha: float, higher_is_better: bool, p_value: float | None = None,
) -> tuple[str | None, str | None]:
    """``(verdict, verdict_per_row)`` of one comparison.

    The per-row verdict reads the row's own interval; a row without one (all
    differences equal) reads its own ``p_value`` (the exact sign-flip test's).
    The verdict is the per-row one without a correction (``multiplicity:
    none``) or without a p-value; otherwise it is the family-wise test:
    ``better``/``worse`` (by the mean's direction) when the adjusted p-value
    is below ``alpha``, else ``inconclusive``.
    """
    per_row = _verdict(low, high, higher_is_better)
    if per_row is None and p_value is not None:
        per_row = _direction(mean, higher_is_better) if p_value < alpha and mean != 0 else "inconclusive"
    if per_row is None or p_adjusted is None or multiplicity == "none":
        return per_row, per_row
    if p_adjusted < alpha and mean != 0:
        return _direction(mean, higher_is_better), per_row
    return "inconclusive", per_row


def _direction(mean: float, higher_is_better: bool) -> str:
    return "better" if (mean > 0) == higher_is_better else "worse"


def _verdict(low: float | None, high: float | None, higher_is_better: bool) -> str | None:
    """``better``/``worse`` when the difference interval excludes 0, else ``inconclusive``."""
    if low is None or high is None:
        return None
    if low > 0:
        return "better" if higher_is_better else "worse"
    if high < 0:
        return "worse" if higher_is_better else "better"
    return "inconclusive"
