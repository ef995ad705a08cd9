"""The statistics package: one engine (:func:`aggregate`) with the interval as a pluggable strategy.

Modules, by concern (each imports only those above it):

* :mod:`~components.stats.cells` -- observations into cells, canonical order.
* :mod:`~components.stats.settings` -- the statistics settings, one pydantic model.
* :mod:`~components.stats.resampling` -- bootstrap draws (paired streams, t-keys).
* :mod:`~components.stats.intervals` -- interval strategies and array functions.
* :mod:`~components.stats.multiplicity` -- family-wise adjusted p-values and verdicts.
* :mod:`~components.stats.cv` -- the cross-validation strategies (corrected t, naive).
* :mod:`~components.stats.nested` -- nested cross-validation (the deployed model's error).
* :mod:`~components.stats.engine` -- :func:`aggregate`.

Why the default method is the paired Student-t interval and test, and what the
defaults deliver (family-wise error, coverage, power, the planner's promise), is
measured in ``benchmarks/verdicts.py``; the bootstrap methods' coverage, width
stability and range violations in ``benchmarks/coverage.py``; all written up in
``docs/statistics.md``.
"""

from __future__ import annotations

from components.stats.cells import cell_sort_key
from components.stats.engine import aggregate, strategy_for
from components.stats.intervals import (
    Bootstrap,
    Strategy,
    bootstrap_ci,
    bootstrap_t_interval,
    hybrid_t_interval,
    interval_from_distribution,
    student_t_ci,
)
from components.stats.multiplicity import adjust_p_values, family_verdict, wins
from components.stats.resampling import _block_sizes, _draw_groups, bootstrap_distribution, replicate_seed
from components.stats.resampling import rows_per_chunk as _rows_per_chunk
from components.stats.settings import (
    CONTRAST_KINDS,
    CV_INTERVALS,
    DEFAULT_METHOD,
    DEFAULT_MULTIPLICITY,
    HYBRID_CAP,
    HYBRID_FLOOR,
    METHODS,
    MULTIPLICITY,
    NAN_POLICIES,
    SETTINGS,
    Settings,
    check_contrasts,
    check_settings,
    difference_bounds,
    for_derived_values,
    settings_from,
)

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
    "Bootstrap",
    "Settings",
    "Strategy",
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
    "for_derived_values",
    "hybrid_t_interval",
    "interval_from_distribution",
    "replicate_seed",
    "settings_from",
    "strategy_for",
    "student_t_ci",
    "wins",
]
