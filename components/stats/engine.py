"""The one statistics engine: :func:`aggregate` collects cells, builds comparisons and summarizes them once.

It groups observations into cells (:mod:`components.stats.cells`), builds every
comparison of the table -- each method against the baseline within its cell,
then the declared contrasts -- and hands cells and comparisons to the interval
strategy the settings name (:func:`strategy_for`): the bootstrap family and
Student-t (:class:`components.stats.intervals.Bootstrap`) or, with a fold axis,
the cross-validation ones (:mod:`components.stats.cv`). Verdicts are family-wise
over all comparisons of the call (:mod:`components.stats.multiplicity`).

Each cell's resampling generator is seeded from a SHA-256 hash of its replicate
set, and everything is sorted canonically, so a cell's interval does not depend
on which other cells exist or on the order the observations arrive in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from components.schema import Aggregate, CellRow, PairedRow
import numpy as np

from components.seeding import canonical, derive_seed
from components.stats.cells import Cell, cell_sort_key, collect, describe, normalize_axes, value_key
from components.stats.cv import CorrectedT, NaiveFolds
from components.stats.nested import NestedCV
from components.stats.intervals import Bootstrap, Row, RowSummary, Strategy
from components.stats.multiplicity import adjust_p_values, family_verdict, wins
from components.stats.resampling import replicate_seed
from components.stats.signflip import flip_t, maxt_adjust, sign_flip_p
from components.stats.settings import CV_INTERVALS, DEFAULT_METHOD, DEFAULT_MULTIPLICITY, Bounds, Settings, check_bounds, difference_bounds, settings_from

__all__ = ["aggregate", "strategy_for"]


def strategy_for(settings: Settings, folds: int | None = None, fold_axis: str = "fold") -> Strategy:
    """The interval strategy the settings name, as ``sklearn.model_selection.check_cv`` picks a splitter.

    Without folds: :class:`~components.stats.intervals.Bootstrap` (its ``method``
    says which interval). With ``folds`` (the k of k-fold): ``cv_interval``'s
    :class:`~components.stats.cv.CorrectedT` or :class:`~components.stats.cv.NaiveFolds`.
    """
    if folds is None:
        if settings.cv_interval is not None:
            raise ValueError("cv_interval is set, but the observations have no fold axis")
        return Bootstrap(settings)
    if settings.cv_interval == "naive_folds_as_seeds":
        return NaiveFolds(settings, folds, fold_axis)
    if settings.cv_interval == "nadeau_bengio":
        return CorrectedT(settings, folds, fold_axis)
    if settings.cv_interval == "nested":
        return NestedCV(settings, folds, fold_axis)
    raise ValueError(f"cv_interval: an experiment with folds declares one of {', '.join(CV_INTERVALS)}, got {settings.cv_interval!r}")


@dataclass
class _Comparison:
    """One row of the family: ``cell`` against ``reference`` on their shared replicates."""

    cell: Cell
    reference: Cell
    header: dict[str, Any]
    row: Row = field(init=False)


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
    cv_interval: str | None = None,
    fold_axis: str | None = None,
    folds: int | None = None,
    resolution: float | None = None,
) -> Aggregate:
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
    method, confidence, n_resamples, seed, nan_policy, multiplicity, contrasts, cv_interval, resolution
        The statistics settings (:class:`components.stats.settings.Settings`):
        interval method (:data:`~components.stats.settings.METHODS`), two-sided
        level, bootstrap resamples, root seed of every resampling stream, what
        to do with NaN/infinite values (``raise``, or ``omit`` and count them in
        ``n_dropped``), the family-wise correction over all comparisons of the
        call (``maxt``: Westfall-Young step-down on the rows' joint sign-flip
        distribution, drawn ``n_resamples`` times), declared contrasts
        (:func:`~components.stats.settings.check_contrasts`), with folds the
        cross-validation interval, and the metric's resolution (Student-t adds
        ``resolution**2 / 12`` to every row's variance, so ties cannot give a
        zero-width interval).
    stream_axes : sequence of str, optional
        The axes that identify a replicate besides its seed (default: all axes).
        Rows whose values on these axes and whose seed sets agree are resampled
        with the same indices: every method and every paired difference measured
        on the same replicates is resampled jointly (the paired bootstrap). The
        flow passes its data axes, since one branch -- a data point and a seed --
        is one replicate for every training-axis value.
    bounds : (low, high), optional
        The metric's declared range (either end ``None``). Values outside it
        raise; no cell bound lies outside it and no difference bound outside
        ``(low - high, high - low)``.
    fold_axis, folds : str, int, optional
        A cross-validated experiment: the axis naming the fold and the number of
        folds. The fold is taken out of the cells' axes; ``cv_interval`` says how
        the folds of a replicate are combined (:mod:`components.stats.cv`).

    Returns
    -------
    Aggregate
        ``{"settings", "cells", "paired", "contrasts"}`` of plain Python values
        (:class:`components.schema.Aggregate`). Each cell has ``axes, method, n,
        mean, ci_low, ci_high, std, seeds, values`` and ``note`` when it has no
        interval. Each paired row has ``axes, method, baseline, n, mean_diff,
        ci_low, ci_high, p_value, p_adjusted, wins, p_improve, verdict,
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
    settings = settings_from(
        dict(method=method, confidence=confidence, n_resamples=n_resamples, seed=seed, nan_policy=nan_policy,
             multiplicity=multiplicity, contrasts=contrasts, cv_interval=cv_interval, resolution=resolution)
    )
    if (fold_axis is None) != (folds is None):
        raise ValueError("fold_axis and folds go together: pass both for a cross-validated experiment, or neither")
    strategy = strategy_for(settings, folds, fold_axis or "fold")
    checked = check_bounds(bounds)
    ordered = _cells(observations, strategy, baseline, checked, fold_axis)
    streams = _Streams(settings.seed, ordered, stream_axes) if strategy.resampled else None
    comparisons = _comparisons(ordered, baseline, settings.contrasts)
    cell_rows = [_row(cell, sorted(cell.values), cell.values, streams, cell.payloads) for cell in ordered]
    for comparison in comparisons:
        common = sorted(comparison.cell.values.keys() & comparison.reference.values.keys())
        diffs = {u: comparison.cell.values[u] - comparison.reference.values[u] for u in common}
        payloads = {u: comparison.cell.payloads[u] - comparison.reference.payloads[u] for u in common} if strategy.needs_per_example else {}
        # A difference is as coarse as the coarser of its two sides.
        resolution = max(comparison.cell.resolution, comparison.reference.resolution)
        comparison.row = _row(comparison.cell, common, diffs, streams, payloads, resolution)
    diff_bounds = difference_bounds(checked)
    summaries = strategy.summarize(
        cell_rows + [c.row for c in comparisons],
        [checked] * len(cell_rows) + [diff_bounds] * len(comparisons),
        [False] * len(cell_rows) + [True] * len(comparisons),
    )
    cells_out = [_cell_entry(strategy, cell, row, s) for cell, row, s in zip(ordered, cell_rows, summaries)]
    rows_out, family_size = _family(strategy, comparisons, summaries[len(cell_rows):], higher_is_better, streams)
    n_paired = sum("baseline" in c.header for c in comparisons)
    block = {
        "method": settings.method,
        "confidence": settings.confidence,
        "n_resamples": settings.n_resamples,
        "seed": settings.seed,
        "higher_is_better": bool(higher_is_better),
        "nan_policy": settings.nan_policy,
        "stream_axes": streams.axes if streams is not None else None,
        "multiplicity": settings.multiplicity,
        "family_size": family_size,
        "contrasts": list(settings.contrasts),
        "bounds": None if checked is None else list(checked),
    }
    return {
        "settings": strategy.describe(block),
        "cells": cells_out,
        "paired": rows_out[:n_paired],
        "contrasts": rows_out[n_paired:],
    }


def _cells(
    observations: Iterable[Mapping[str, Any]], strategy: Strategy, baseline: str, bounds: Bounds | None, fold_axis: str | None
) -> list[Cell]:
    """Collected cells in canonical order; raises when the baseline is missing or a value is out of range."""
    payload_of = strategy.per_example if strategy.needs_per_example else None
    cells = collect(observations, strategy.settings.nan_policy, strategy.unit, fold_axis, payload_of)
    methods = sorted({m for _, m in cells})
    if baseline not in methods:
        found = ", ".join(repr(m) for m in methods) or "none"
        raise ValueError(f"baseline method {baseline!r} has no observations; methods found: {found}")
    ordered = sorted(cells.values(), key=lambda c: cell_sort_key(c.axes, c.method))
    for cell in ordered:
        strategy.check_cell(cell)
        if bounds is not None:
            _check_range(cell, bounds)
    return ordered


def _check_range(cell: Cell, bounds: Bounds) -> None:
    for unit, v in cell.values.items():
        if (bounds[0] is not None and v < bounds[0]) or (bounds[1] is not None and v > bounds[1]):
            where = f"seed {unit}" if not isinstance(unit, tuple) else f"replicate {unit[0]} fold {unit[1]}"
            raise ValueError(
                f"{describe(cell.axes, cell.method)} {where} has value {v!r}, outside the metric's declared range [{bounds[0]}, {bounds[1]}]"
            )


class _Streams:
    """One resampling stream per replicate set -- stream-axis point and seeds -- shared by every row measured on it."""

    def __init__(self, seed: int, ordered: Sequence[Cell], stream_axes: Sequence[str] | None) -> None:
        self.seed = seed
        self.axes: list[str] | None = None
        if stream_axes is not None:
            self.axes = sorted({str(name) for name in stream_axes})
            known = {name for c in ordered for name in c.axes}
            unknown = [name for name in self.axes if name not in known]
            if unknown:
                raise ValueError(f"stream_axes names {', '.join(map(repr, unknown))}, which no observation has; axes: {sorted(known)}")
        self.points: dict[str, tuple[dict[str, Any], str]] = {}
        self.streams: dict[tuple[str, tuple[int, ...]], int] = {}

    def point(self, cell: Cell) -> str:
        """The canonical text of ``cell``'s stream-axis point: rows there are measured on the same replicates."""
        if cell.text not in self.points:
            axes = {k: v for k, v in cell.axes.items() if self.axes is None or k in self.axes}
            self.points[cell.text] = (axes, canonical(axes))
        return self.points[cell.text][1]

    def __call__(self, cell: Cell, seeds: Sequence[int]) -> int:
        if cell.text not in self.points:
            axes = {k: v for k, v in cell.axes.items() if self.axes is None or k in self.axes}
            self.points[cell.text] = (axes, canonical(axes))
        axes, text = self.points[cell.text]
        key = (text, tuple(seeds))
        if key not in self.streams:
            self.streams[key] = replicate_seed(self.seed, axes, seeds)
        return self.streams[key]


def _row(
    cell: Cell, units: list[Any], values: Mapping[Any, float], streams: _Streams | None, payloads: Mapping[Any, Any],
    resolution: float | None = None,
) -> Row:
    carried = [payloads[u] for u in units] if payloads else None
    stream = None if streams is None else streams(cell, units)
    return Row(units, [values[u] for u in units], stream, carried, cell.resolution if resolution is None else resolution)


def _comparisons(ordered: Sequence[Cell], baseline: str, contrasts: Sequence[Mapping[str, Any]]) -> list[_Comparison]:
    """Every comparison of the call -- method vs baseline, then declared contrasts: one family for the verdicts."""
    out = []
    baselines = {c.text: c for c in ordered if c.method == baseline}
    for cell in ordered:
        if cell.method == baseline:
            continue
        reference = baselines.get(cell.text)
        if reference is None:
            raise ValueError(f"baseline {baseline!r} has no observations in {describe(cell.axes, cell.method)}")
        out.append(_Comparison(cell, reference, {"baseline": baseline}))
    by_key = {(c.text, c.method): c for c in ordered}
    for contrast in contrasts:
        found = [_contrast(cell, contrast, by_key) for cell in ordered if _in_contrast(cell, contrast)]
        if not found:
            raise ValueError(f"contrast {contrast['name']!r} matches no cell of the observations")
        out.extend(found)
    return out


def _in_contrast(cell: Cell, contrast: Mapping[str, Any]) -> bool:
    """Whether ``cell`` is the compared side of ``contrast``."""
    if contrast["kind"] == "method":
        return bool(cell.method == contrast["method"])
    axis = contrast["axis"]
    if axis not in cell.axes or value_key(cell.axes[axis]) != value_key(contrast["value"]):
        return False
    return "methods" not in contrast or cell.method in list(contrast["methods"])


def _contrast(cell: Cell, contrast: Mapping[str, Any], by_key: Mapping[tuple[str, str], Cell]) -> _Comparison:
    """``cell`` against its reference cell under ``contrast``; raises when that cell does not exist."""
    label: Any
    if contrast["kind"] == "method":
        reference = by_key.get((cell.text, contrast["reference"]))
        label = contrast["reference"]
    else:
        axes = {**cell.axes, contrast["axis"]: contrast["reference"]}
        reference = by_key.get((canonical(normalize_axes(axes, "contrast")), cell.method))
        label = {contrast["axis"]: contrast["reference"]}
    if reference is None:
        raise ValueError(f"contrast {contrast['name']!r}: {describe(cell.axes, cell.method)} has no reference cell ({label!r})")
    return _Comparison(cell, reference, {"contrast": contrast["name"], "kind": contrast["kind"], "reference": label})


def _cell_entry(strategy: Strategy, cell: Cell, row: Row, summary: RowSummary) -> CellRow:
    entry: dict[str, Any] = {
        "axes": dict(cell.axes),
        "method": cell.method,
        "n": len(strategy.seeds(row)),
        "mean": summary["mean"],
        "ci_low": summary["ci_low"],
        "ci_high": summary["ci_high"],
        "std": summary["std"],
        "seeds": strategy.seeds(row),
        "values": strategy.values(row),
        **strategy.extra(row),
    }
    entry = strategy.cell_layout(entry)
    if summary["ci_low"] is None:
        entry["note"] = strategy.note(len(row.values), summary["flat"])
    elif summary["flat"]:
        entry["note"] = _floor_note(strategy, row)
    if cell.dropped:
        entry["n_dropped"] = cell.dropped
    strategy.finish(entry)
    return cast(CellRow, entry)


def _family(
    strategy: Strategy, comparisons: Sequence[_Comparison], summaries: Sequence[RowSummary], higher_is_better: bool,
    streams: _Streams | None,
) -> tuple[list[PairedRow], int]:
    """The comparison rows with family-wise verdicts, and the family's size."""
    settings = strategy.settings
    alpha = 1 - settings.confidence
    flips = [_sign_flip(strategy, c.row) for c in comparisons]
    # A row with an interval has its own test's p; a row of equal differences the exact sign-flip p;
    # a row with neither (fewer than 2 seeds) stays out of the family.
    raw = [_raw_p(s, flip, len(c.row.values)) for c, s, flip in zip(comparisons, summaries, flips)]
    if settings.multiplicity == "maxt":
        adjusted = _maxt(strategy, comparisons, raw, streams)
    else:
        adjusted = adjust_p_values(raw, settings.multiplicity)
    rows = []
    for comparison, summary, p_raw, p_adj, flip in zip(comparisons, summaries, raw, adjusted, flips):
        diffs = strategy.values(comparison.row)
        low, high, mean = summary["ci_low"], summary["ci_high"], summary["mean"]
        won = wins(diffs, higher_is_better)
        # A tied row's verdict reads its p (at least the sign-flip test's), not the interval its resolution gives it.
        tied = summary["flat"] and low is not None
        verdict, per_row = family_verdict(
            None if tied else low, None if tied else high, p_adj, 0.0 if mean is None else mean,
            multiplicity=settings.multiplicity, alpha=alpha, higher_is_better=higher_is_better, p_value=p_raw,
        )
        entry: dict[str, Any] = {
            "axes": dict(comparison.cell.axes),
            "method": comparison.cell.method,
            **comparison.header,
            "n": len(diffs),
            "mean_diff": mean,
            "ci_low": low,
            "ci_high": high,
            "p_value": p_raw,
            "p_signflip": flip,
            "p_adjusted": p_adj,
            "wins": won if diffs else None,
            "p_improve": won / len(diffs) if diffs else None,
            "verdict": verdict,
            "verdict_per_row": per_row,
            "seeds": strategy.seeds(comparison.row),
            "diffs": diffs,
            **strategy.extra(comparison.row, paired=True),
        }
        if low is None:
            entry["note"] = strategy.note(len(comparison.row.values), summary["flat"])
        elif tied:
            entry["note"] = _floor_note(strategy, comparison.row, paired=True)
        strategy.finish(entry)
        rows.append(cast(PairedRow, entry))
    return rows, sum(p is not None for p in raw)


def _raw_p(summary: RowSummary, flip: float | None, n: int) -> float | None:
    """A comparison's p in the family: its own test's; a row of equal differences at least the exact sign-flip p.

    Without an interval a tied row is decided by the sign-flip test alone; with
    one from a declared resolution, by the larger of the two p-values (each is
    valid, so their maximum is), so ties never say more than the sign-flip test.
    A row with neither (fewer than 2 seeds) stays out of the family.
    """
    if summary["flat"] and n >= 2 and flip is not None:
        return flip if summary["p_value"] is None else max(summary["p_value"], flip)
    return summary["p_value"] if summary["ci_low"] is not None else None


def _floor_note(strategy: Strategy, row: Row, paired: bool = False) -> str:
    """The note of an all-equal row whose interval comes from a declared resolution, not from a spread."""
    resolution = max(strategy.settings.resolution or 0.0, row.resolution)
    text = f"all {len(row.values)} values equal: zero spread; the interval assumes a spread of resolution/sqrt(12) (resolution {resolution:g})"
    return text + ("; p is the larger of that interval's t test and the exact sign-flip test" if paired else "")


def _sign_flip(strategy: Strategy, row: Row) -> float | None:
    """The exact sign-flip p-value of a comparison's per-replicate differences (``None`` without any)."""
    values = strategy.values(row)
    if not values:
        return None
    return sign_flip_p(values, derive_seed("axisflow.stats", "signflip", strategy.settings.seed, strategy.seeds(row)))


def _maxt(strategy: Strategy, comparisons: Sequence[_Comparison], raw: Sequence[float | None], streams: _Streams | None) -> list[float | None]:
    """Westfall-Young max-T adjusted p-values of the rows in the family (``raw`` not ``None``).

    Rows measured at the same stream point share one sign per seed in every draw:
    the joint sign-flip distribution keeps the correlation between those rows.
    """
    if streams is None or not isinstance(strategy, Bootstrap) or isinstance(strategy, NaiveFolds):
        raise ValueError("multiplicity 'maxt' needs per-seed rows; under cross-validation use holm, bonferroni or none")
    members = [i for i, p in enumerate(raw) if p is not None]
    out: list[float | None] = [None] * len(raw)
    if not members:
        return out
    draws = strategy.settings.n_resamples
    rng = np.random.default_rng(derive_seed("axisflow.stats", "maxt", strategy.settings.seed))
    columns: dict[tuple[str, int], int] = {}
    for i in members:
        point = streams.point(comparisons[i].cell)
        for seed in comparisons[i].row.units:
            columns.setdefault((point, seed), len(columns))
    signs = rng.choice(np.array([1.0, -1.0]), size=(draws, len(columns)))
    observed, null = [], np.empty((draws, len(members)))
    for j, i in enumerate(members):
        row = comparisons[i].row
        diffs = np.asarray(row.values, dtype=np.float64)
        index = [columns[streams.point(comparisons[i].cell), seed] for seed in row.units]
        observed.append(float(flip_t(diffs[None, :], np.ones((1, diffs.size)), strategy.floor)[0]))
        null[:, j] = flip_t(diffs, signs[:, index], strategy.floor)
    for i, p in zip(members, maxt_adjust(observed, null)):
        out[i] = p
    return out
