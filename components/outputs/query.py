"""Query and print the output surface (the flow's pinned ``results`` artifact).

:class:`ResultSet` is an axis-indexed view of the per-cell statistics: select by
axis values, pick one cell, reduce an axis over the per-seed values, or hand the
numbers to pandas::

    rs = ResultSet.from_results(run.data.results)
    rs.where(label_noise=0.2).to_frame("cell")
    rs.at(label_noise=0.2, epochs=40, method="mlp")["ci_low"]
    rs.collapse("seed", "mean").unstack("method")

:func:`format_table` renders the same surface as aligned text, CSV, JSON or a
Markdown report; ``axisflow results --format`` calls it.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from components.stats import cell_sort_key

if TYPE_CHECKING:  # pandas is imported where a frame is built: the end step renders its card's tables without it
    import pandas as pd

__all__ = ["FORMATS", "ResultSet", "format_table", "metric_names", "metric_view"]

#: Output formats of :func:`format_table`.
FORMATS = ("table", "csv", "json", "md")

_CELL_COLUMNS = ("n", "mean", "ci_low", "ci_high", "std")
_PAIRED_COLUMNS = (
    "baseline", "n", "mean_diff", "ci_low", "ci_high", "wins", "p_improve", "p_value", "p_adjusted", "verdict", "verdict_per_row",
)
_CLASS_RATE_COLUMNS = tuple(f"{kind}{suffix}" for kind in ("recall", "precision") for suffix in ("", "_n", "_ci_low", "_ci_high"))
_CONTRAST_COLUMNS = ("contrast", "kind", "reference", *_PAIRED_COLUMNS[1:])
_NUMERIC_HEADERS = ("n", "mean", "diff", "wins", "p", "p adj.", "support", "recall", "precision")
#: Verdict marks: the per-row interval excludes 0 but the family-wise test does not;
#: most seeds favour the other direction than the verdict (which follows the mean).
_FAMILY_MARK = "†"
_WINS_MARK = "*"
#: Marks an interval that comes from the metric's resolution because every value of the row is equal (zero spread).
_FLOOR_MARK = "‡"


def _same(a: Any, b: Any) -> bool:
    """Axis-value equality that never confuses booleans with numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


def _choices(wanted: Any) -> list[Any]:
    if isinstance(wanted, (list, tuple, set, frozenset)):
        return list(wanted)
    return [wanted]


def metric_names(results: Mapping[str, Any]) -> list[str]:
    """The metrics a run reports: the primary (``results["metric"]``) first, then its secondary metrics in config order."""
    return [str((results.get("metric") or {}).get("name", "value")), *(results.get("secondary") or {})]


def metric_view(results: Mapping[str, Any], name: str | None = None) -> dict[str, Any]:
    """``results`` as seen through one metric: ``metric``, ``statistics``, ``cells``, ``paired`` and ``contrasts`` are that metric's.

    ``name`` ``None`` gives ``results`` itself, the primary's name ``results``
    without its secondary metrics. A
    secondary metric's view also has ``primary_metric`` (the primary's name),
    which tables read to label its verdicts descriptive. An unknown name
    raises ``ValueError`` listing the run's metrics.
    """
    primary = (results.get("metric") or {}).get("name")
    if name is None:
        return dict(results)
    if name == primary:
        return {**results, "secondary": {}} if "secondary" in results else dict(results)
    block = (results.get("secondary") or {}).get(name)
    if block is None:
        shown = ", ".join(f"{m} (primary)" if m == primary else m for m in metric_names(results))
        raise ValueError(f"metric {name!r} is not in these results; they report: {shown}")
    return {**results, **block, "primary_metric": primary, "secondary": {}}


class ResultSet:
    """Per-cell statistics and paired comparisons of one experiment, indexed by axis values.

    Cells and paired rows are the dicts of :func:`components.stats.aggregate`
    (``axes``, ``method``, ``n``, ``mean``, ``ci_low``, ``ci_high``, ``seeds``,
    ``values``; paired rows ``mean_diff`` and friends). Selections return new
    ``ResultSet`` objects and never change the statistics: the intervals are
    the ones computed over all seeds of each cell.
    """

    def __init__(
        self,
        cells: Iterable[Mapping[str, Any]],
        paired: Iterable[Mapping[str, Any]] = (),
        *,
        axis_names: Sequence[str] | None = None,
        metric: Mapping[str, Any] | None = None,
        baseline: str | None = None,
        experiment: str | None = None,
        statistics: Mapping[str, Any] | None = None,
        contrasts: Iterable[Mapping[str, Any]] = (),
        primary_metric: str | None = None,
        per_class: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        cells = [dict(c) for c in cells]
        if axis_names is None:
            axis_names = sorted({name for c in cells for name in c["axes"]})
        self.axis_names = tuple(axis_names)

        def order(row: Mapping[str, Any]) -> tuple:
            return cell_sort_key(row["axes"], row["method"], self.axis_names)

        # Rows follow the column order: first axis slowest, method fastest.
        self.cells = sorted(cells, key=order)
        self.paired = sorted((dict(p) for p in paired), key=order)
        # Declared contrasts keep their declaration order, rows within one in canonical order.
        names = list(dict.fromkeys(str(c.get("contrast")) for c in contrasts))
        self.contrasts = sorted((dict(c) for c in contrasts), key=lambda c: (names.index(str(c.get("contrast"))), order(c)))
        #: Classification runs: per (cell, method) the summed confusion matrix and per-class rates (``results["per_class"]``).
        self.per_class = sorted((dict(r) for r in per_class), key=order)
        self.metric = dict(metric or {"name": "value", "higher_is_better": True})
        self.baseline = baseline
        self.experiment = experiment
        self.statistics = dict(statistics or {})
        #: Set when this is a secondary metric's view: the primary metric's name (which carries the confirmatory verdicts).
        self.primary_metric = primary_metric

    @classmethod
    def from_results(cls, results: Mapping[str, Any], metric: str | None = None) -> ResultSet:
        """Build from the output surface dict; ``metric`` picks a secondary metric by name (default: the primary).

        See :func:`metric_view`; an unknown ``metric`` raises ``ValueError`` naming the run's metrics.
        """
        results = metric_view(results, metric)
        axes = results.get("axes") or {}
        names = [*(axes.get("data") or {}), *(axes.get("training") or {})] if axes else None
        return cls(
            results.get("cells", ()),
            results.get("paired", ()),
            axis_names=names,
            metric=results.get("metric"),
            baseline=results.get("baseline"),
            experiment=results.get("experiment"),
            statistics=results.get("statistics"),
            contrasts=results.get("contrasts", ()),
            primary_metric=results.get("primary_metric"),
            per_class=results.get("per_class") or (),
        )

    def _derive(
        self, cells: list[Mapping[str, Any]], paired: list[Mapping[str, Any]], contrasts: list[Mapping[str, Any]] | None = None,
        per_class: list[Mapping[str, Any]] | None = None,
    ) -> ResultSet:
        return ResultSet(
            cells,
            paired,
            axis_names=self.axis_names,
            metric=self.metric,
            baseline=self.baseline,
            experiment=self.experiment,
            statistics=self.statistics,
            contrasts=self.contrasts if contrasts is None else contrasts,
            primary_metric=self.primary_metric,
            per_class=self.per_class if per_class is None else per_class,
        )

    @property
    def methods(self) -> list[str]:
        """Methods present, in canonical (sorted) order."""
        return sorted({c["method"] for c in self.cells})

    def values(self, name: str) -> list[Any]:
        """Distinct values of axis ``name`` (or ``"method"``) present, in canonical order."""
        if name == "method":
            return self.methods
        self._check_axis(name)
        seen: list[Any] = []
        for cell in self.cells:
            value = cell["axes"].get(name)
            if not any(_same(value, v) for v in seen):
                seen.append(value)
        return seen

    def _check_axis(self, name: str) -> None:
        if name not in self.axis_names:
            known = ", ".join([*self.axis_names, "method"])
            raise ValueError(f"unknown axis {name!r}; known: {known}")

    def _matches(self, row: Mapping[str, Any], selection: Mapping[str, list[Any]]) -> bool:
        for name, choices in selection.items():
            value = row["method"] if name == "method" else row["axes"].get(name)
            if not any(_same(value, choice) for choice in choices):
                return False
        return True

    def where(self, **selection: Any) -> ResultSet:
        """Cells (and paired rows) whose axis values match, e.g. ``where(label_noise=0.2, method="mlp")``.

        A value may be a list/tuple/set meaning "any of". An unknown axis or a
        value the axis never takes raises ``ValueError`` listing what exists.
        """
        wanted = {}
        for name, value in selection.items():
            if name == "seed":
                raise ValueError("cannot select seeds: intervals are over all seeds; use to_frame() and filter there")
            present = self.values(name)
            choices = _choices(value)
            for choice in choices:
                if not any(_same(choice, v) for v in present):
                    raise ValueError(f"{name}={choice!r} is not in the results; {name} takes {present!r}")
            wanted[name] = choices
        return self._derive(
            [c for c in self.cells if self._matches(c, wanted)],
            [p for p in self.paired if self._matches(p, wanted)],
            [c for c in self.contrasts if self._matches(c, wanted)],
            [r for r in self.per_class if self._matches(r, wanted)],
        )

    def at(self, **selection: Any) -> dict[str, Any]:
        """The single cell matching ``selection`` (axis values and ``method``).

        Raises ``ValueError`` naming the axes still to pin when several cells
        match, or saying none does.
        """
        matched = self.where(**selection)
        if len(matched.cells) == 1:
            return dict(matched.cells[0])
        shown = ", ".join(f"{k}={v!r}" for k, v in selection.items())
        if not matched.cells:
            raise ValueError(f"no cell matches at({shown})")
        loose = [
            f"{name} (one of {', '.join(repr(v) for v in matched.values(name))})"
            for name in [*self.axis_names, "method"]
            if len(matched.values(name)) > 1
        ]
        raise ValueError(f"at({shown}) matches {len(matched.cells)} cells; also pin {', '.join(loose)}")

    def comparison(self, **selection: Any) -> dict[str, Any]:
        """The single paired row (method vs baseline) matching ``selection``; errors as :meth:`at`."""
        matched = self.where(**selection)
        if len(matched.paired) == 1:
            return dict(matched.paired[0])
        shown = ", ".join(f"{k}={v!r}" for k, v in selection.items())
        if not matched.paired:
            raise ValueError(f"no paired comparison matches comparison({shown}) (the baseline has none)")
        keys = [*self.axis_names, "method"]
        loose = [k for k in keys if len({repr(p["method"] if k == "method" else p["axes"].get(k)) for p in matched.paired}) > 1]
        raise ValueError(f"comparison({shown}) matches {len(matched.paired)} rows; also pin {', '.join(loose)}")

    def to_frame(self, level: str = "seed") -> pd.DataFrame:
        """A pandas DataFrame of the selection.

        ``level="seed"``: long per-seed form, columns ``<axes>, method, seed, value``
        (under cross-validation a seed's value is its replicate's mean over the folds).
        ``level="long"``: one row per observation, columns ``<axes>, method, seed,
        value``, and under cross-validation the fold axis after ``seed``: each
        (replicate, fold) score the cells were computed from.
        ``level="cell"``: one row per cell, ``<axes>, method, n, mean, ci_low, ci_high, std``.
        ``level="class"`` (classification): one row per cell x class, ``<axes>,
        method, class, support`` (test examples of the class, summed over the
        cell's arms), ``predicted`` (examples predicted as it), recall and
        precision with their ``n``/``ci_low``/``ci_high``, ``threshold``, and a
        ``predicted:<class>`` column per class: the row of the summed confusion
        matrix. ``level="class_long"``: one row per cell x seed (x fold) x class
        with that arm's ``recall`` and ``precision``.
        ``level="paired"``: one row per comparison, ``<axes>, method, baseline, n,
        mean_diff, ci_low, ci_high, wins, p_improve, p_value, p_adjusted, verdict,
        verdict_per_row``. ``level="contrast"``: one row per declared-contrast
        row, ``<axes>, method, contrast, kind, reference`` and the same statistics.
        """
        import pandas as pd

        names = list(self.axis_names)
        if level == "seed":
            rows = [
                [*(c["axes"].get(a) for a in names), c["method"], seed, value]
                for c in self.cells
                for seed, value in zip(c["seeds"], c["values"])
            ]
            frame = pd.DataFrame(rows, columns=[*names, "method", "seed", "value"])
        elif level == "long":
            fold = self.fold_axis
            rows = [[*(c["axes"].get(a) for a in names), c["method"], *unit, value] for c in self.cells for *unit, value in self.units(c)]
            frame = pd.DataFrame(rows, columns=[*names, "method", "seed", *([fold] if fold else []), "value"])
        elif level in ("class", "class_long"):
            frame = self._class_frame() if level == "class" else self._class_long_frame()
        elif level == "cell":
            rows = [[*(c["axes"].get(a) for a in names), c["method"], *(c.get(k) for k in _CELL_COLUMNS)] for c in self.cells]
            frame = pd.DataFrame(rows, columns=[*names, "method", *_CELL_COLUMNS])
        elif level == "paired":
            rows = [[*(p["axes"].get(a) for a in names), p["method"], *(p.get(k) for k in _PAIRED_COLUMNS)] for p in self.paired]
            frame = pd.DataFrame(rows, columns=[*names, "method", *_PAIRED_COLUMNS])
        elif level == "contrast":
            rows = [
                [*(c["axes"].get(a) for a in names), c["method"], *(_reference_text(c) if k == "reference" else c.get(k) for k in _CONTRAST_COLUMNS)]
                for c in self.contrasts
            ]
            frame = pd.DataFrame(rows, columns=[*names, "method", *_CONTRAST_COLUMNS])
        else:
            raise ValueError(f"unknown level {level!r}; valid: seed, long, cell, paired, contrast, class, class_long")
        frame.attrs["metric"] = self.metric.get("name")
        return frame

    def _class_frame(self) -> pd.DataFrame:
        import pandas as pd

        names = list(self.axis_names)
        rows = []
        for row in self.per_class:
            matrix = row["confusion"]
            for i, name in enumerate(row["classes"]):
                rates = {
                    f"{kind}{suffix}": row[kind][i].get(key)
                    for kind in ("recall", "precision")
                    for suffix, key in (("", "mean"), ("_n", "n"), ("_ci_low", "ci_low"), ("_ci_high", "ci_high"))
                }
                counts = {f"predicted:{other}": matrix[i][j] for j, other in enumerate(row["classes"])}
                rows.append({
                    **{a: row["axes"].get(a) for a in names}, "method": row["method"], "class": name, "support": sum(matrix[i]),
                    "predicted": sum(r[i] for r in matrix), **rates, "threshold": row["threshold"], **counts,
                })
        columns = [*names, "method", "class", "support", "predicted", *_CLASS_RATE_COLUMNS, "threshold"]
        columns += list(dict.fromkeys(k for r in rows for k in r if k.startswith("predicted:")))
        return pd.DataFrame(rows, columns=columns)

    def _class_long_frame(self) -> pd.DataFrame:
        import pandas as pd

        names, fold = list(self.axis_names), self.fold_axis
        rows = []
        for row in self.per_class:
            for i, name in enumerate(row["classes"]):
                found: dict[tuple[Any, ...], dict[str, float]] = {}
                for kind in ("recall", "precision"):
                    for *where, value in self.units(row[kind][i]):
                        found.setdefault(tuple(where), {})[kind] = value
                for key, pair in sorted(found.items()):
                    rows.append([*(row["axes"].get(a) for a in names), row["method"], *key, name, pair.get("recall"), pair.get("precision")])
        return pd.DataFrame(rows, columns=[*names, "method", "seed", *([fold] if fold else []), "class", "recall", "precision"])

    @property
    def fold_axis(self) -> str | None:
        """The fold axis of a cross-validated experiment (``None`` without one)."""
        return str(self.statistics.get("fold_axis") or "fold") if self.statistics.get("folds") else None

    def units(self, row: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """``(seed, value)`` per seed of a cell (or of a per-class rate), ``(replicate, fold, value)`` under cross-validation.

        The Nadeau-Bengio rows keep their fold scores in ``fold_values``
        (replicates x folds); the naive rows number each (replicate, fold) as
        the seed ``replicate * folds + fold``.
        """
        folds = self.statistics.get("folds")
        if not folds:
            return list(zip(row["seeds"], row["values"]))
        if "fold_values" in row:
            return [(seed, fold, value) for seed, scores in zip(row["seeds"], row["fold_values"]) for fold, value in enumerate(scores)]
        return [(*divmod(unit, folds), value) for unit, value in zip(row["seeds"], row["values"])]

    def to_series(self) -> pd.Series:
        """Per-seed values indexed by ``(<axes>, method, seed)``, named after the metric."""
        frame = self.to_frame("seed")
        series = frame.set_index([*self.axis_names, "method", "seed"])["value"]
        return series.rename(self.metric.get("name", "value"))

    def collapse(self, axis: str, reducer: str | Callable[[pd.Series], float] = "mean") -> pd.Series:
        """Reduce the per-seed values over ``axis`` with ``reducer`` (a pandas aggregation name or a function).

        ``collapse("seed", "mean")`` gives per-cell means indexed by ``(<axes>, method)``;
        ``collapse("label_noise", "mean")`` averages over that axis for each other
        axis value, method and seed. The result is a Series; ``.unstack("method")``
        turns it into a table.
        """
        if axis != "seed":
            self._check_axis(axis)
        keep = [k for k in [*self.axis_names, "method", "seed"] if k != axis]
        frame = self.to_frame("seed")
        reduced = frame.groupby(keep, sort=False, dropna=False)["value"].agg(reducer)
        return reduced.rename(self.metric.get("name", "value"))

    def __len__(self) -> int:
        return len(self.cells)

    def __repr__(self) -> str:
        axes = ", ".join(self.axis_names) or "no axes"
        return f"ResultSet({len(self.cells)} cells, {len(self.paired)} paired rows; axes: {axes}; methods: {', '.join(self.methods)})"


def _decimals(rows: Sequence[Mapping[str, Any]], centre: str) -> int:
    """Decimal places showing about two significant digits of the typical interval width.

    Without any positive width, the typical ``centre`` value (mean or difference) sets the scale.
    """
    widths = [r["ci_high"] - r["ci_low"] for r in rows if r.get("ci_low") is not None and r.get("ci_high") is not None]
    scales = sorted(w for w in widths if w > 0) or sorted(abs(r[centre]) for r in rows if r.get(centre))
    if not scales:
        return 4
    return min(8, max(0, 2 - math.floor(math.log10(scales[len(scales) // 2]))))


def _num(value: Any, decimals: int) -> str:
    return "—" if value is None else f"{value:.{decimals}f}"


def _ci(low: Any, high: Any, decimals: int) -> str:
    return "—" if low is None or high is None else f"[{_num(low, decimals)}, {_num(high, decimals)}]"


def _row_ci(row: Mapping[str, Any], decimals: int) -> str:
    """A cell's or comparison's interval, marked :data:`_FLOOR_MARK` when its values are all equal (a resolution floor)."""
    text = _ci(row.get("ci_low"), row.get("ci_high"), decimals)
    values = row.get("diffs", row.get("values")) or []
    tied = row.get("ci_low") is not None and len(values) >= 2 and min(values) == max(values)
    return text + (_FLOOR_MARK if tied else "")


def _reference_text(row: Mapping[str, Any]) -> str:
    reference = row.get("reference")
    if isinstance(reference, Mapping):
        return ", ".join(f"{k}={v!r}" for k, v in reference.items())
    return str(reference)


def _wins(row: Mapping[str, Any]) -> str:
    wins = row.get("wins")
    if wins is None:
        return "—"
    return f"{wins:g}/{row['n']}"


def _p(value: Any) -> str:
    if value is None:
        return "—"
    if value < 0.001:
        return "<0.001"
    return f"{value:.3f}"


def _verdict_text(row: Mapping[str, Any]) -> str:
    """The verdict with its marks (see :data:`_FAMILY_MARK`, :data:`_WINS_MARK`)."""
    verdict = row.get("verdict")
    if verdict is None:
        return "—"
    marks = ""
    per_row = row.get("verdict_per_row")
    if verdict == "inconclusive" and per_row in ("better", "worse"):
        marks += _FAMILY_MARK
    wins, n = row.get("wins"), row.get("n") or 0
    if wins is not None and n and verdict in ("better", "worse"):
        if (verdict == "better" and wins < n / 2) or (verdict == "worse" and wins > n / 2):
            marks += _WINS_MARK
    return verdict + marks


def _axis_cell(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def _cell_rows(rs: ResultSet) -> tuple[list[str], list[list[str]]]:
    places = _decimals(rs.cells, "mean")
    headers = [*rs.axis_names, "method", "n", "mean", f"{_level(rs)} CI".strip()]
    rows = [
        [
            *(_axis_cell(c["axes"].get(a)) for a in rs.axis_names),
            c["method"],
            str(c["n"]) + (f" ({c['n_dropped']} failed)" if c.get("n_dropped") else ""),
            _num(c["mean"], places),
            _row_ci(c, places),
        ]
        for c in rs.cells
    ]
    return headers, rows


def _comparison_rows(rs: ResultSet, rows: list[dict], contrast: bool = False) -> tuple[list[str], list[list[str]]]:
    places = _decimals(rows, "mean_diff")
    headers = [
        *(["contrast"] if contrast else []), *rs.axis_names, "method", *(["reference"] if contrast else []),
        "n", "diff", f"{_level(rs)} CI".strip(), "wins", "p", "p adj.", "verdict",
    ]
    body = [
        [
            *([str(p.get("contrast"))] if contrast else []),
            *(_axis_cell(p["axes"].get(a)) for a in rs.axis_names),
            p["method"],
            *([_reference_text(p)] if contrast else []),
            str(p["n"]),
            _num(p["mean_diff"], places),
            _row_ci(p, places),
            _wins(p),
            _p(p.get("p_value")),
            _p(p.get("p_adjusted")),
            _verdict_text(p),
        ]
        for p in rows
    ]
    return headers, body


def _paired_rows(rs: ResultSet) -> tuple[list[str], list[list[str]]]:
    return _comparison_rows(rs, rs.paired)


def _contrast_rows(rs: ResultSet) -> tuple[list[str], list[list[str]]]:
    return _comparison_rows(rs, rs.contrasts, contrast=True)


_CORRECTIONS: dict[str | None, str] = {"holm": "Holm's step-down", "bonferroni": "Bonferroni"}


def _family_line(rs: ResultSet) -> str:
    """Which correction the verdicts carry, and over how many comparisons."""
    s = rs.statistics
    size = s.get("family_size")
    if size is None:
        size = len([r for r in [*rs.paired, *rs.contrasts] if r.get("p_value") is not None])
    multiplicity = s.get("multiplicity")
    alpha = 1 - s["confidence"] if isinstance(s.get("confidence"), (int, float)) else None
    at = f" at {alpha:.0%}" if alpha is not None else ""
    if rs.primary_metric is not None:
        correction = _CORRECTIONS.get(multiplicity, "no")
        return (
            f"Secondary metric, descriptive: its verdicts carry {correction} correction{at} over this metric's own {size} comparisons "
            f"only; the confirmatory family is the primary metric's ({rs.primary_metric}), and no correction spans metrics."
        )
    if multiplicity in _CORRECTIONS:
        return (
            f"Verdicts are family-wise: {_CORRECTIONS[multiplicity]} correction{at} over all {size} comparisons of the run "
            "(paired rows and declared contrasts); each row's own interval is shown beside it."
        )
    if multiplicity == "none":
        return (
            f"Verdicts are per row, with no correction over the {size} comparisons: "
            "with many rows some better/worse verdicts are expected by chance alone."
        )
    return "Verdicts are per row (results written before family-wise verdicts existed)."


def _legend(rs: ResultSet) -> list[str]:
    """One line per column of the comparison tables, and the verdict marks."""
    level = _level(rs) or "the"
    method = rs.statistics.get("method") or "?"
    correction = _CORRECTIONS.get(rs.statistics.get("multiplicity"), "no correction")
    alpha = rs.statistics.get("confidence")
    alpha_text = f"{1 - alpha:.2g}" if isinstance(alpha, (int, float)) else "1 - confidence"
    folds = rs.statistics.get("folds")
    unit = "repeats" if folds else "seeds"
    n_line = (
        f"n: repeats of {folds}-fold cross-validation both sides share (each a new fold assignment); diff: mean over every "
        "repeat x fold of (method - reference), in metric units"
        if folds
        else "n: seeds both sides share; diff: mean over those seeds of (method - reference), in metric units"
    )
    if folds and rs.statistics.get("interval") == "nested":
        n_line = (
            f"n: repeats of nested {folds}-fold cross-validation both sides share; diff: the nested-CV estimate (bias-corrected) of "
            "the difference between the two models fitted on the whole table, from per-example differences, in metric units"
        )
    return [
        n_line,
        f"{level} CI: this row's own interval for diff ({method}), not corrected for the other rows",
        f"wins: {unit} on which the method did better, in the metric's direction (ties count 1/2); a count, not a probability",
        f"p: this row's own test of 'diff = 0', the inversion of its interval (p < {alpha_text} exactly when the interval excludes 0); "
        "a row whose differences are all equal is decided by the exact sign-flip test (p at least 2/2^n); its interval, if it has one, "
        "comes from the metric's resolution, not from a spread (its note says so)",
        f"p adj.: p adjusted over the family ({correction}); verdict: better/worse when p adj. < {alpha_text}, else inconclusive",
        f"{_FAMILY_MARK}: the row's own interval excludes 0, but not after the correction for the other rows",
        f"{_WINS_MARK}: most {unit} favour the other direction; the verdict follows the mean difference",
    ]


def _level(rs: ResultSet) -> str:
    confidence = rs.statistics.get("confidence")
    return f"{confidence:.0%}" if isinstance(confidence, (int, float)) else ""


def _describe_stats(rs: ResultSet) -> str:
    s = rs.statistics
    if not s:
        return "intervals: unknown settings"
    if s.get("folds") and s.get("interval") == "nested":
        return (
            f"{_level(rs)} intervals by nested cross-validation (Bates, Hastie & Tibshirani 2023) over repeats x {s['folds']} folds; "
            "they estimate the error of the model one would deploy, fitted on all n rows of this table (not the procedure's "
            "average over tables); each mean is the bias-corrected nested-CV estimate"
        )
    if s.get("folds"):
        return (
            f"{_level(rs)} intervals by {s.get('method')}; they estimate the procedure's performance when trained on "
            f"n - n/{s['folds']} rows of this population (cross-validation's target), not that of one deployed model"
        )
    if s.get("method") == "student-t":
        # No resampling: the paired t interval and its t test; ties fall back to the exact sign-flip test.
        return f"{_level(rs)} intervals by student-t (paired t interval and t test; all-equal rows by the exact sign-flip test)"
    text = f"{_level(rs)} intervals by {s.get('method')}, {s.get('n_resamples')} resamples, seed {s.get('seed')}"
    stream_axes = s.get("stream_axes")
    if stream_axes is not None:
        point = f"{' x '.join(stream_axes)} point" if stream_axes else "run"
        text += f"; seeds resampled jointly for every cell of a {point}"
    return text


def _direction(rs: ResultSet) -> str:
    return "higher is better" if rs.metric.get("higher_is_better", True) else "lower is better"


def _notes(rs: ResultSet) -> list[str]:
    """Distinct notes of cells and paired rows, each with how many rows carry it."""
    counts: dict[str, int] = {}
    for row in [*rs.cells, *rs.paired]:
        if row.get("note"):
            counts[row["note"]] = counts.get(row["note"], 0) + 1
    return [f"{count} row{'s' if count > 1 else ''}: {note}" for note, count in counts.items()]


def _text_table(headers: list[str], rows: list[list[str]], right: list[bool] | None = None) -> str:
    """Aligned columns; ``right`` says which are right-aligned (default: the numeric headers)."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    right = right if right is not None else [h in _NUMERIC_HEADERS for h in headers]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def _md_table(headers: list[str], rows: list[list[str]]) -> str:
    def line(values: list[str]) -> str:
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    return "\n".join([line(headers), "|" + "---|" * len(headers), *(line(r) for r in rows)])


def _fit_rows_line(results: Mapping[str, Any]) -> str:
    """``Fit rows: method n (or lo-hi over branches), ...``: how many rows each method's trainer fitted on; "" when unrecorded."""
    rows = results.get("fit_rows") or {}
    shown = [f"{method} {lo}" if lo == hi else f"{method} {lo}-{hi}" for method, (lo, hi) in rows.items()]
    return f"Fit rows (rows each method was fitted on): {', '.join(shown)}" if shown else ""


#: At most this many failed arms are listed under a table; the rest are counted.
_SHOWN_FAILURES = 20


def _failure_lines(results: Mapping[str, Any]) -> list[str]:
    """One line per failed arm observation (its reason names the arm and field), at most :data:`_SHOWN_FAILURES`."""
    failures = results.get("failures") or []
    lines = [f"{f['failure']} [cell {_axes_label(f['axes'])}, seed {f['seed']}]" for f in failures[:_SHOWN_FAILURES]]
    if len(failures) > _SHOWN_FAILURES:
        lines.append(f"... and {len(failures) - _SHOWN_FAILURES} more (axisflow results --format json lists all)")
    return lines


def _axes_label(axes: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in axes.items()) or "-"


_FAILED_TITLE = "Failed arms (nan_policy: omit; left out of the cells, whose n counts the rest)"


def _role(rs: ResultSet) -> str:
    """``"secondary metric; "`` for a secondary metric's view, else ``""``."""
    return "secondary metric; " if rs.primary_metric is not None else ""


def _secondary_views(results: Mapping[str, Any]) -> list[ResultSet]:
    """One :class:`ResultSet` per secondary metric of ``results``, in config order."""
    return [ResultSet.from_results(results, name) for name in (results.get("secondary") or {})]


def _secondary_text(results: Mapping[str, Any]) -> list[str]:
    """The text sections of the secondary metrics: cells, paired rows and contrasts, each with its family line."""
    parts: list[str] = []
    for view in _secondary_views(results):
        parts += ["", f"Secondary metric {view.metric.get('name')} ({_direction(view)}; descriptive): mean and confidence interval over seeds"]
        parts.append(_text_table(*_cell_rows(view)))
        if view.paired:
            parts += ["", f"{view.metric.get('name')}: paired differences vs baseline {view.baseline}", _text_table(*_paired_rows(view))]
        if view.contrasts:
            parts += ["", f"{view.metric.get('name')}: declared contrasts", _text_table(*_contrast_rows(view))]
        if view.paired or view.contrasts:
            parts.append(_family_line(view))
        parts += [f"  {view.metric.get('name')}: {note}" for note in _notes(view)]
    return parts


def _secondary_legend(results: Mapping[str, Any]) -> list[str]:
    """The legend line on secondary metrics, when the run has any."""
    if not results.get("secondary"):
        return []
    return [
        "secondary metrics (their sections follow): the same columns, from the same test predictions; each metric's verdicts are "
        "corrected over its own comparisons only and are descriptive: the run's conclusions rest on the primary metric's verdicts"
    ]


def _render_text(rs: ResultSet, results: Mapping[str, Any]) -> str:
    title = f"Experiment {rs.experiment or '?'}: {rs.metric.get('name', 'value')} ({_role(rs)}{_direction(rs)}); {_describe_stats(rs)}"
    parts = [title]
    if results.get("question"):
        parts.append(f"Question: {results['question']}")
    if _fit_rows_line(results):
        parts.append(_fit_rows_line(results))
    if results.get("secondary"):
        parts.append(f"Secondary metrics (descriptive, below the primary's tables): {', '.join(results['secondary'])}")
    parts += ["", "Cells: mean and confidence interval over seeds", _text_table(*_cell_rows(rs))]
    if rs.paired:
        parts += [
            "",
            f"Paired differences vs baseline {rs.baseline} (diff = method - baseline, same seeds)",
            _text_table(*_paired_rows(rs)),
        ]
    if rs.contrasts:
        parts += [
            "",
            "Declared contrasts (diff = method - reference, same seeds)",
            _text_table(*_contrast_rows(rs)),
        ]
    if rs.paired or rs.contrasts:
        parts += ["", _family_line(rs), "Columns:", *(f"  {line}" for line in [*_legend(rs), *_secondary_legend(results)])]
    parts += _secondary_text(results)
    if _notes(rs):
        parts += ["", f"Notes (— marks a missing interval; {_FLOOR_MARK} one from the metric's resolution, all values equal):", *(f"  {note}" for note in _notes(rs))]
    if _failure_lines(results):
        parts += ["", f"{_FAILED_TITLE}:", *(f"  {line}" for line in _failure_lines(results))]
    return "\n".join(parts) + "\n"


def _render_md(rs: ResultSet, results: Mapping[str, Any]) -> str:
    lines = [f"# Results: {rs.experiment or 'experiment'}", ""]
    if results.get("question"):
        lines += [f"> {results['question']}", ""]
    lines.append(f"- **Metric:** {rs.metric.get('name', 'value')} ({_role(rs)}{_direction(rs)})")
    if results.get("secondary"):
        lines.append(f"- **Secondary metrics (descriptive):** {', '.join(results['secondary'])}")
    if rs.baseline:
        lines.append(f"- **Baseline:** {rs.baseline}")
    lines.append(f"- **Statistics:** {_describe_stats(rs)}")
    if _fit_rows_line(results):
        lines.append(f"- **{_fit_rows_line(results).replace(': ', ':** ', 1)}")
    provenance = results.get("provenance") or {}
    config_hash = results.get("config_hash") or provenance.get("config_hash")
    if config_hash:
        lines.append(f"- **Config hash:** `{config_hash}`")
    lines += ["", "## Cells", "", _md_table(*_cell_rows(rs))]
    if rs.paired:
        lines += [
            "",
            f"## Paired differences vs {rs.baseline}",
            "",
            "diff = method − baseline on the seeds both share. " + _family_line(rs),
            "",
            _md_table(*_paired_rows(rs)),
        ]
    if rs.contrasts:
        lines += ["", "## Declared contrasts", "", "diff = method − reference on the seeds both share.", "", _md_table(*_contrast_rows(rs))]
    if rs.paired or rs.contrasts:
        lines += ["", "Columns:", "", *(f"- {line}" for line in [*_legend(rs), *_secondary_legend(results)])]
    lines += _secondary_md(results)
    if _notes(rs):
        lines += ["", "## Notes", "", f"— marks a missing interval; {_FLOOR_MARK} one from the metric's resolution (all values equal).", "", *(f"- {note}" for note in _notes(rs))]
    if _failure_lines(results):
        lines += ["", "## " + _FAILED_TITLE, "", *(f"- {line}" for line in _failure_lines(results))]
    return "\n".join(lines) + "\n"


def _secondary_md(results: Mapping[str, Any]) -> list[str]:
    """The Markdown sections of the secondary metrics (cells, paired rows, contrasts); the columns read as the primary's."""
    lines: list[str] = []
    for view in _secondary_views(results):
        name = view.metric.get("name")
        lines += ["", f"## Secondary metric: {name}", "", f"{name} ({_direction(view)}): {view.metric.get('definition', '')}", ""]
        lines += [_md_table(*_cell_rows(view))]
        if view.paired:
            lines += ["", f"Paired differences vs {view.baseline}. {_family_line(view)}", "", _md_table(*_paired_rows(view))]
        if view.contrasts:
            lines += ["", "Declared contrasts:", "", _md_table(*_contrast_rows(view))]
        if _notes(view):
            lines += ["", *(f"- {note}" for note in _notes(view))]
    return lines


def _render_csv(rs: ResultSet, results: Mapping[str, Any] | None = None) -> str:
    """One CSV of every metric of the run (a ``metric`` column names each row's), or of ``rs``'s metric alone."""
    import pandas as pd

    views = [rs, *(_secondary_views(results) if results else [])]
    frames = [_metric_frame(view) for view in views]
    buffer = io.StringIO()
    pd.concat(frames, ignore_index=True).to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def _metric_frame(rs: ResultSet) -> pd.DataFrame:
    """One metric's rows: a row per cell with its paired comparison's columns, then the contrast rows; ``metric`` last."""
    cells = rs.to_frame("cell")
    paired = rs.to_frame("paired").rename(
        columns={"n": "paired_n", "ci_low": "diff_ci_low", "ci_high": "diff_ci_high"}
    )
    keys = [*rs.axis_names, "method"]
    if len(paired):
        cells["_key"] = [repr(tuple(row)) for row in cells[keys].itertuples(index=False)]
        paired["_key"] = [repr(tuple(row)) for row in paired[keys].itertuples(index=False)]
        merged = cells.merge(paired.drop(columns=keys), on="_key", how="left").drop(columns="_key")
        merged["paired_n"] = merged["paired_n"].astype("Int64")
    else:
        merged = cells
    if rs.contrasts:
        import pandas as pd

        contrasts = rs.to_frame("contrast").rename(columns={"n": "paired_n", "ci_low": "diff_ci_low", "ci_high": "diff_ci_high"})
        merged = pd.concat([merged, contrasts], ignore_index=True)
        merged["paired_n"] = merged["paired_n"].astype("Int64")
    merged["metric"] = rs.metric.get("name", "value")
    return merged


def _class_rows(rs: ResultSet) -> tuple[list[str], list[list[str]]]:
    """One row per (cell, method, class): support, recall and precision with their intervals."""
    level = f"{_level(rs)} CI".strip()
    headers = [*rs.axis_names, "method", "class", "n", "support", "recall", level, "precision", level]
    body = []
    for row in rs.per_class:
        matrix = row["confusion"]
        for i, name in enumerate(row["classes"]):
            recall, precision = row["recall"][i], row["precision"][i]
            body.append([
                *(_axis_cell(row["axes"].get(a)) for a in rs.axis_names), row["method"], name, _class_n(recall, precision),
                str(sum(matrix[i])), _num(recall["mean"], 3), _ci(recall["ci_low"], recall["ci_high"], 3),
                _num(precision["mean"], 3), _ci(precision["ci_low"], precision["ci_high"], 3),
            ])
    return headers, body


def _class_n(recall: Mapping[str, Any], precision: Mapping[str, Any]) -> str:
    """Seeds behind the rates: ``n``, or ``recall n/precision n`` when an undefined rate was left out of one."""
    return str(recall["n"]) if recall["n"] == precision["n"] else f"{recall['n']}/{precision['n']}"


def _confusion_rows(row: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The summed confusion matrix of one (cell, method): a row per true class, a column per predicted class."""
    classes = [str(c) for c in row["classes"]]
    return ["true \\ predicted", *classes], [[name, *(str(v) for v in counts)] for name, counts in zip(classes, row["confusion"])]


def _cell_title(rs: ResultSet, row: Mapping[str, Any]) -> str:
    axes = ", ".join(f"{a}={_axis_cell(row['axes'][a])}" for a in rs.axis_names if a in row["axes"])
    return f"{axes + ', ' if axes else ''}method {row['method']} ({row['arms']} arms)"


def _per_class_lines(rs: ResultSet) -> tuple[str, list[str], str]:
    """The per-class section's title (how a class was predicted), its column legend, and what the matrices are."""
    decisions = sorted({row["decision"] for row in rs.per_class})
    unit = "repeats" if rs.statistics.get("folds") else "seeds"
    legend = [
        f"n: {unit} behind each rate; a rate undefined on one (recall of a class absent from its test split, precision of a "
        "class never predicted) or from a failed arm is left out",
        "support: test examples of the class, summed over the cell's arms",
        f"recall, precision: mean over {unit}; {_describe_stats(rs)}",
    ]
    folds = " x folds" if rs.statistics.get("folds") else ""
    matrices = f"Confusion matrices: rows are the true class, columns the predicted class; counts summed over the cell's arms (seeds{folds})"
    return f"Per-class results on the test split; predicted class: {'; '.join(decisions)}", legend, matrices


def _class_notes(rs: ResultSet) -> list[str]:
    """Distinct notes of the per-class rates (e.g. no interval), each with how many rates carry it."""
    counts: dict[str, int] = {}
    for row in rs.per_class:
        for rate in [*row["recall"], *row["precision"]]:
            if rate.get("note"):
                counts[rate["note"]] = counts.get(rate["note"], 0) + 1
    return [f"{count} rate{'s' if count > 1 else ''}: {note}" for note, count in counts.items()]


def _render_per_class_text(rs: ResultSet) -> str:
    title, legend, matrices = _per_class_lines(rs)
    parts = [title, *(f"  {line}" for line in legend), "", _text_table(*_class_rows(rs))]
    if _class_notes(rs):
        parts += ["", "Notes (— marks a missing interval):", *(f"  {note}" for note in _class_notes(rs))]
    parts += ["", matrices]
    for row in rs.per_class:
        headers, body = _confusion_rows(row)
        parts += ["", _cell_title(rs, row), _text_table(headers, body, right=[False] + [True] * (len(headers) - 1))]
    return "\n".join(parts) + "\n"


def _render_per_class_md(rs: ResultSet) -> str:
    title, legend, matrices = _per_class_lines(rs)
    lines = [f"## {title}", "", *(f"- {line}" for line in legend), "", _md_table(*_class_rows(rs)), ""]
    if _class_notes(rs):
        lines += ["— marks a missing interval.", "", *(f"- {note}" for note in _class_notes(rs)), ""]
    lines += [matrices + ".", ""]
    for row in rs.per_class:
        lines += [f"**{_cell_title(rs, row)}**", "", _md_table(*_confusion_rows(row)), ""]
    return "\n".join(lines)


def _render_per_class(rs: ResultSet, surface: Mapping[str, Any], fmt: str, long: bool) -> str:
    if not rs.per_class:
        raise ValueError(_no_per_class(rs, surface))
    if fmt == "csv":
        return _csv(rs.to_frame("class_long" if long else "class"))
    if fmt == "json":
        if long:
            return json.dumps(rs.to_frame("class_long").to_dict("records"), indent=2, default=_json_default) + "\n"
        return json.dumps({"experiment": rs.experiment, "per_class": rs.per_class}, indent=2, default=_json_default) + "\n"
    if fmt == "md":
        return f"# Per-class results: {rs.experiment or 'experiment'}\n\n" + _render_per_class_md(rs)
    return f"Experiment {rs.experiment or '?'}\n" + _render_per_class_text(rs)


def _no_per_class(rs: ResultSet, surface: Mapping[str, Any]) -> str:
    """Why a run has no per-class results, in one line."""
    task = surface.get("task")
    name = rs.experiment or "this experiment"
    if task is not None and task not in ("binary", "multiclass"):
        return f"experiment {name} is a {task} task; per-class results exist for binary and multiclass tasks only"
    if surface.get("schema") and "per_class" not in surface:
        return f"experiment {name}'s results ({surface['schema']}) predate per-class results; run it again to get them"
    return f"experiment {name} has no per-class results (every arm failed, or no arm recorded a confusion matrix)"


def _csv(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def format_table(
    results: Mapping[str, Any] | ResultSet, fmt: str = "table", metric: str | None = None, *, long: bool = False, per_class: bool = False,
) -> str:
    """Render the output surface as ``table`` (aligned text), ``csv``, ``json`` or ``md``.

    ``table`` and ``md`` show one section of per-cell means with intervals and
    one of paired differences against the baseline (``md`` adds a verdict
    legend and the config hash), then the same for each secondary metric.
    ``csv`` is one row per cell and metric, with the cell's paired comparison
    in extra columns and the metric's name in the last (``metric``). ``json``
    is the whole surface. ``metric`` (a name from :func:`metric_names`) shows
    that metric alone, and its block's fields in place of the primary's in ``json``.
    ``long`` (``csv``/``json`` only) lists every observation of the metric
    shown (the primary unless ``metric`` names another) instead: one row per
    cell x method x seed (x fold under cross-validation) with its value.
    ``per_class`` (classification) shows the per-class results instead: recall
    and precision per class with intervals and the summed confusion matrices
    (``csv``: :meth:`ResultSet.to_frame` ``class``, or ``class_long`` with ``long``).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    if long and fmt not in ("csv", "json"):
        raise ValueError(f"--long lists every observation as rows; use it with --format csv or json, not {fmt}")
    surface: Mapping[str, Any]
    if isinstance(results, ResultSet):
        rs, surface = results, {}
    else:
        surface = metric_view(results, metric) if metric is not None else results
        rs = ResultSet.from_results(surface)
    if per_class:
        return _render_per_class(rs, surface, fmt, long)
    if long:
        frame = rs.to_frame("long")
        return _csv(frame) if fmt == "csv" else json.dumps(frame.to_dict("records"), indent=2, default=_json_default) + "\n"
    if fmt == "json":
        if not surface:
            surface = {
                "experiment": rs.experiment,
                "metric": rs.metric,
                "baseline": rs.baseline,
                "statistics": rs.statistics,
                "cells": rs.cells,
                "paired": rs.paired,
                "contrasts": rs.contrasts,
            }
        return json.dumps(surface, indent=2, default=_json_default) + "\n"
    if fmt == "csv":
        return _render_csv(rs, surface)
    if fmt == "md":
        return _render_md(rs, surface)
    return _render_text(rs, surface)
