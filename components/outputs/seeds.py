"""How many seeds each comparison needs: ``axisflow seeds``.

From a finished run's per-seed differences (paired rows and declared
contrasts), :func:`plan` says, per comparison, how many seeds give a target
confidence-interval half-width (``width``) or detect a given true difference
with a given power (``effect``, ``power``), and what the run already supports.

Assumptions (docs/statistics.md, "How many seeds"):

* The per-seed differences are independent draws with a standard deviation
  ``sigma`` estimated by the run's sample standard deviation ``s``. The plan is
  given at ``s`` (``needed``: as if ``sigma`` were known, which reaches the
  goal for only about half of the pilots it could come from) and with
  *assurance* (``needed_assurance``): at the upper one-sided ``assurance``
  confidence bound of ``sigma`` from the chi-square distribution of ``s**2``
  (Browne 1995, "On the use of a pilot sample for sample size determination",
  Statistics in Medicine 14:1933-1940; Kieser & Wassmer 1996, Biometrical
  Journal 38:941-949). Since ``sigma`` is below that bound with probability
  ``assurance`` and the plan's power falls with ``sigma``, the planned seeds
  reach the goal with probability at least ``assurance`` over the pilot's
  sampling variation (checked by simulation in ``tests/test_seeds.py`` and
  ``benchmarks/verdicts.py``, section 5).
* Widths and power follow Student-t, which is the default interval and test:
  half-width ``t(n-1) s / sqrt(n)``; power of the two-sided test from the
  noncentral t with noncentrality ``effect sqrt(n) / s``, computed exactly by
  integrating over the chi-square of the variance estimate (scipy's
  noncentral-t CDF returns NaN far in its tail; the normal approximation that
  replaced it there was wrong by up to 0.36 and made the plan non-monotone).
  ``benchmarks/verdicts.py`` (section 5) simulates the verdict actually used.
* Under cross-validation a row's ``sd`` is that of its fold differences and
  the interval is Nadeau-Bengio's: with ``k`` folds and ``r`` repeats,
  half-width ``t(rk-1) sqrt(1/(rk) + 1/(k-1)) s``. The ``1/(k-1)`` term does
  not shrink with repeats, so some widths and effects are out of reach at any
  number of repeats (shown as "—").
* With ``multiplicity: maxt`` a row cannot be declared at all below the seeds
  where the exact sign-flip bound ``2/2^n`` falls under the row's level; the
  plan never goes below that count.
* With a family-wise correction (Holm, Bonferroni) over ``m`` comparisons the
  power is computed at level ``(1 - confidence) / m``, the level Holm's first
  step uses, so the plan holds for every row whatever the other rows show.
"""

from __future__ import annotations

import argparse
import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["MAX_SEEDS", "format_plan", "minimum_detectable_effect", "plan", "power", "register", "seeds_for_effect", "seeds_for_width"]

#: The largest seed count the planner searches.
MAX_SEEDS = 100_000


def _sigma_upper(s: float, n: int, level: float = 0.8) -> float:
    """Upper one-sided ``level`` confidence bound of sigma from a sample sd ``s`` of ``n`` values (chi-square, ``n - 1`` df)."""
    from scipy import stats

    return s * math.sqrt((n - 1) / stats.chi2.ppf(1 - level, n - 1))


def _half_width(sigma: float, n: int, confidence: float, folds: int | None = None) -> float:
    from scipy import stats

    df, factor = _design(n, folds)
    return float(stats.t.ppf(0.5 + confidence / 2, df)) * sigma * factor


def _design(n: int, folds: int | None) -> tuple[int, float]:
    """``(degrees of freedom, se / sd)`` of the interval at ``n`` seeds, or ``n`` repeats of ``folds``-fold CV."""
    if folds is None:
        return n - 1, 1 / math.sqrt(n)
    scores = n * folds
    return scores - 1, math.sqrt(1 / scores + 1 / (folds - 1))


def _tail(shift: float, critical: float, df: int, upper: bool) -> float:
    """``P(T > critical)`` (``upper``) or ``P(T < -critical)`` for ``T`` noncentral t(``df``, ``shift``).

    scipy's noncentral t is used where it is finite; far in its tail it returns
    NaN, and there the tail is integrated exactly: ``T = (Z + shift) / sqrt(V / df)``
    with ``V`` chi-square, so the tail is the expectation over ``V`` of a normal tail.
    """
    import numpy as np
    from scipy import special, stats

    value = float(stats.nct.sf(critical, df, shift) if upper else stats.nct.cdf(-critical, df, shift))
    if math.isfinite(value) and 0.0 <= value <= 1.0:
        return value
    # Gauss-Legendre over +-12 sd of the chi-square (the integrand is smooth; 400 nodes are exact to double precision).
    spread = 12 * math.sqrt(2 * df)
    low, high = max(0.0, df - spread), df + spread
    nodes, weights = _gauss_legendre()
    v = (high - low) / 2 * nodes + (high + low) / 2
    density = np.exp(special.xlogy(df / 2 - 1, v) - v / 2 - df / 2 * math.log(2) - special.gammaln(df / 2))
    sign = 1.0 if upper else -1.0
    value = float((high - low) / 2 * np.sum(weights * special.ndtr(sign * shift - critical * np.sqrt(v / df)) * density))
    return min(1.0, max(0.0, value))


@functools.lru_cache(maxsize=1)
def _gauss_legendre() -> tuple[Any, Any]:
    """400 Gauss-Legendre nodes and weights on [-1, 1] (computed once: they cost about 0.1 s each time)."""
    import numpy as np

    return np.polynomial.legendre.leggauss(400)


def power(effect: float, sigma: float, n: int, alpha: float, folds: int | None = None) -> float:
    """Power of the two-sided t test at level ``alpha`` for a true mean ``effect`` at ``n`` seeds (or repeats of ``folds``-fold CV)."""
    from scipy import stats

    if n < 2 and folds is None or n < 1:
        return 0.0
    if sigma == 0:
        return 1.0 if effect != 0 else alpha
    df, factor = _design(n, folds)
    critical = float(stats.t.ppf(1 - alpha / 2, df))
    shift = abs(effect) / (sigma * factor)
    return min(1.0, _tail(shift, critical, df, True) + _tail(shift, critical, df, False))


def _smallest(condition: Any) -> int | None:
    """Smallest n in [2, MAX_SEEDS] with ``condition(n)`` (monotone in n), by doubling then bisection."""
    high = 2
    while not condition(high):
        if high >= MAX_SEEDS:
            return None
        high = min(2 * high, MAX_SEEDS)
    low = max(2, high // 2)
    if condition(low):
        return low
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if condition(middle) else (middle, high)
    return high


def seeds_for_width(sigma: float, width: float, confidence: float = 0.95, folds: int | None = None) -> int | None:
    """Seeds (or CV repeats) for a half-width at most ``width`` when the differences' sd is ``sigma`` (``None``: over MAX_SEEDS or out of reach)."""
    if width <= 0:
        raise ValueError(f"--width must be a positive half-width in metric units, got {width}")
    if folds is not None:
        from scipy import stats

        if sigma / math.sqrt(folds - 1) * float(stats.norm.ppf(0.5 + confidence / 2)) > width:
            return None  # even infinitely many repeats keep the 1/(k-1) term
    return _smallest(lambda n: _half_width(sigma, n, confidence, folds) <= width)


def seeds_for_effect(
    sigma: float, effect: float, target: float = 0.8, alpha: float = 0.05, folds: int | None = None, minimum: int = 2
) -> int | None:
    """Seeds (or CV repeats) for which a true difference ``effect`` is detected with probability ``target`` at level ``alpha``.

    Never fewer than ``minimum`` (e.g. the seeds a sign-flip test needs to reach ``alpha`` at all).
    """
    if effect == 0:
        raise ValueError("--effect must be a non-zero difference in metric units")
    if not 0 < target < 1:
        raise ValueError(f"--power must be strictly between 0 and 1, got {target}")
    if folds is not None and sigma > 0:
        # The 1/(k-1) term caps the noncentrality; beyond it no number of repeats reaches the target.
        from scipy import stats

        if abs(effect) * math.sqrt(folds - 1) / sigma < stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(target):
            return None
    found = _smallest(lambda n: power(effect, sigma, n, alpha, folds) >= target)
    return None if found is None else max(found, minimum)


def minimum_detectable_effect(sigma: float, n: int, target: float = 0.8, alpha: float = 0.05, folds: int | None = None) -> float | None:
    """The smallest true difference detected with probability ``target`` at ``n`` seeds or CV repeats (``None`` below 2 seeds)."""
    from scipy import optimize

    if n < 2 and folds is None:
        return None
    if sigma == 0:
        return 0.0
    high = sigma
    while power(high, sigma, n, alpha, folds) < target:
        high *= 2
    return float(optimize.brentq(lambda d: power(d, sigma, n, alpha, folds) - target, 0.0, high, xtol=1e-12 * sigma))


def _std(values: Sequence[float]) -> float | None:
    n = len(values)
    if n < 2:
        return None
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))


def plan(
    results: Mapping[str, Any],
    *,
    width: float | None = None,
    effect: float | None = None,
    target_power: float = 0.8,
    assurance: float = 0.8,
) -> dict[str, Any]:
    """Seeds each comparison of ``results`` needs for ``width`` (CI half-width) or ``effect`` at ``target_power``.

    Returns ``{"confidence", "multiplicity", "family_size", "alpha_row",
    "assurance", "rows"}``; each row has ``axes, method, reference, n, sd,
    half_width`` (the run's own interval), ``mde`` (the smallest true
    difference the run detects with ``target_power``) and ``needed`` /
    ``needed_assurance`` (at the sd, and at its upper ``assurance`` confidence
    bound so that the goal is met with probability ``assurance`` over the
    pilot sd's chi-square uncertainty; ``None`` when beyond MAX_SEEDS or not
    estimable).
    """
    _check_goal(width, effect, target_power, assurance)
    statistics = results.get("statistics") or {}
    confidence = float(statistics.get("confidence", 0.95))
    rows_in = [*results.get("paired", ()), *results.get("contrasts", ())]
    multiplicity = statistics.get("multiplicity", "none")
    family = statistics.get("family_size", len(rows_in)) or 1
    alpha = 1 - confidence
    alpha_row = alpha / family if multiplicity in ("holm", "maxt", "bonferroni") else alpha
    rows = []
    # max-T cannot declare a row below the seeds where the sign-flip bound 2/2^n reaches the row's level.
    minimum = max(2, math.floor(math.log2(2 / alpha_row)) + 1) if multiplicity == "maxt" else 2
    for row in rows_in:
        diffs = row.get("diffs") or []
        folds = row.get("folds")
        # Under cross-validation the interval's sd is that of the fold differences (Nadeau-Bengio).
        sd = _std([d for fold_row in row.get("fold_diffs") or [] for d in fold_row]) if folds else _std(diffs)
        n = len(diffs)
        entry = {
            "axes": dict(row.get("axes", {})),
            "method": row.get("method"),
            "reference": row.get("reference", row.get("baseline")),
            "contrast": row.get("contrast"),
            "n": n,
            "sd": sd,
            "half_width": None if row.get("ci_low") is None else (row["ci_high"] - row["ci_low"]) / 2,
            "folds": folds,
            "mde": None if sd is None else minimum_detectable_effect(sd, n, target_power, alpha_row, folds),
            "needed": None,
            "needed_assurance": None,
        }
        if sd is not None:
            # The pilot's sd is uncertain: plan also at its upper `assurance` confidence bound, from all its scores
            # (under cross-validation the fold differences, with the rk - 1 degrees of freedom the interval uses).
            upper = _sigma_upper(sd, n * folds if folds else n, assurance)
            if width is not None:
                entry["needed"] = seeds_for_width(sd, width, confidence, folds)
                entry["needed_assurance"] = seeds_for_width(upper, width, confidence, folds)
            elif effect is not None:  # exactly one of width and effect is given (checked above)
                entry["needed"] = seeds_for_effect(sd, effect, target_power, alpha_row, folds, minimum)
                entry["needed_assurance"] = seeds_for_effect(upper, effect, target_power, alpha_row, folds, minimum)
        rows.append(entry)
    return {
        "confidence": confidence,
        "multiplicity": multiplicity,
        "family_size": family,
        "alpha_row": alpha_row,
        "assurance": assurance,
        "rows": rows,
    }


def _fmt(value: Any, places: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{places}g}"
    return str(value)


def format_plan(results: Mapping[str, Any], planned: Mapping[str, Any], *, width: float | None, effect: float | None, target_power: float) -> str:
    """The plan as an aligned text table with its assumptions."""
    from components.outputs.query import ResultSet, _text_table

    axis_names = list(ResultSet.from_results(results).axis_names)
    if width is not None:
        goal = f"a {planned['confidence']:.0%} CI half-width of at most {width:g}"
    else:
        goal = f"detecting a true difference of {effect:g} with power {target_power:.0%} at level {planned['alpha_row']:.3g}"
        if planned["multiplicity"] in ("holm", "maxt", "bonferroni"):
            goal += f" ({1 - planned['confidence']:.2g} / {planned['family_size']} comparisons, {planned['multiplicity']})"
    headers = ["comparison", *axis_names, "method", "reference", "n", "sd", "half-width now", f"detects now (power {target_power:.0%})", "seeds needed", f"with {planned['assurance']:.0%} assurance"]
    body = []
    for row in planned["rows"]:
        reference = row["reference"]
        if isinstance(reference, Mapping):
            reference = ", ".join(f"{k}={v!r}" for k, v in reference.items())
        body.append([
            row["contrast"] or "vs baseline",
            *(repr(row["axes"].get(a)) if not isinstance(row["axes"].get(a), str) else row["axes"].get(a) for a in axis_names),
            str(row["method"]),
            str(reference),
            str(row["n"]),
            _fmt(row["sd"], 3),
            _fmt(row["half_width"], 3),
            _fmt(row["mde"], 3),
            _fmt(row["needed"]) if row["sd"] is not None else "—",
            _fmt(row["needed_assurance"]) if row["sd"] is not None else "—",
        ])
    lines = [
        f"Seeds for {goal}, from the per-seed differences of experiment {results.get('experiment', '?')}.",
        "",
        _text_table(headers, body),
        "",
        "Assumptions: seeds are independent; 'seeds needed' plans at the run's sample sd as if it were the true sd, which",
        f"reaches the goal for only about half the pilots; 'with {planned['assurance']:.0%} assurance' plans at the sd's upper "
        f"{planned['assurance']:.0%} confidence bound (chi-square;",
        "Browne 1995), so the goal is met with that probability over the pilot's uncertainty. Widths and power are Student-t's",
        "(the default interval and test), exact. Under cross-validation counts are repeats of k-fold and the interval is Nadeau-Bengio's.",
        "See docs/statistics.md, 'How many seeds'. '—': fewer than 2 seeds, no spread to plan from, out of reach at any",
        f"count (cross-validation), or above {MAX_SEEDS}.",
    ]
    return "\n".join(lines) + "\n"


def _check_goal(width: float | None, effect: float | None, target_power: float, assurance: float = 0.8) -> None:
    """Refuse a goal no plan can meet (before any run is read, so the mistake is the first thing reported)."""
    if (width is None) == (effect is None):
        raise ValueError("give exactly one of --width (CI half-width) or --effect (difference to detect)")
    if width is not None and not 0 < width < math.inf:
        raise ValueError(f"--width must be a positive half-width in metric units, got {width}")
    if effect is not None and not (effect != 0 and math.isfinite(effect)):
        raise ValueError(f"--effect must be a non-zero, finite difference in metric units, got {effect}")
    if not 0 < target_power < 1:
        raise ValueError(f"--power must be strictly between 0 and 1, got {target_power}")
    if not 0 < assurance < 1:
        raise ValueError(f"--assurance must be strictly between 0 and 1 (0.8: the goal is met for 80% of pilots), got {assurance}")


def _cmd_seeds(args: argparse.Namespace) -> int:
    from components.outputs.runs import find_run

    _check_goal(args.width, args.effect, args.power, args.assurance)
    run = find_run(args.flow, args.run, args.experiment)
    results = run["end"].task.data.results
    planned = plan(results, width=args.width, effect=args.effect, target_power=args.power, assurance=args.assurance)
    print(f"{run.pathspec} ({results.get('experiment')})")
    print(format_plan(results, planned, width=args.width, effect=args.effect, target_power=args.power), end="")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``seeds`` subcommand to the ``axisflow`` console script."""
    from components.constants import DEFAULT_FLOW

    parser = subparsers.add_parser(
        "seeds",
        help="how many seeds each comparison needs for a CI half-width (--width) or to detect a difference (--effect)",
        description="From a finished run's per-seed differences: the seeds each comparison needs for a target CI "
        "half-width or to detect a given difference with the given power, and what the run already supports.",
    )
    parser.add_argument("--run", help="run id (default: the latest successful run)")
    parser.add_argument("--experiment", metavar="NAME", help="the latest successful run of this experiment")
    parser.add_argument("--flow", default=DEFAULT_FLOW, help=f"flow name (default {DEFAULT_FLOW})")
    goal = parser.add_mutually_exclusive_group(required=True)
    goal.add_argument("--width", type=float, metavar="W", help="target CI half-width, in metric units")
    goal.add_argument("--effect", type=float, metavar="D", help="true difference to detect, in metric units")
    parser.add_argument("--power", type=float, default=0.8, help="power for --effect (default 0.8)")
    parser.add_argument(
        "--assurance", type=float, default=0.8,
        help="probability, over the pilot sd's uncertainty, that the planned seeds meet the goal (default 0.8)",
    )
    parser.set_defaults(func=_cmd_seeds)
