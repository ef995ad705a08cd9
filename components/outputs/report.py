"""The run report: figures of the output surface, the ``end`` step's card, and ``axisflow report``.

Figures built from the pinned ``results`` dict (plus the branch ``records``
for learning curves), never changing either (each secondary metric adds its own
forest and paired figures, drawn from :func:`components.outputs.query.metric_view`):

- :func:`forest_figure`: per-cell means with their intervals, one panel per
  data-axis value, rows grouped by training-axis cell, the baseline's interval
  shaded across its group, the per-seed values as open dots;
- :func:`paired_figure`: each method's mean paired difference against the
  baseline with its interval, a line at 0, coloured and shaped by verdict;
- :func:`learning_curve_figure`: the validation metric and training loss per epoch,
  averaged over the seeds still training at that epoch; a cross marks where a
  run stopped before the others in its group;
- :func:`confusion_figure` (classification runs, one per method): each cell's
  confusion matrix summed over seeds, rows normalised by the true class, counts annotated.

:func:`render_card` fills the flow's ``@card(type="blank", id="report")`` with a
header, the Markdown tables of :func:`components.outputs.query.format_table`, the figures
and the run's provenance. ``axisflow report`` writes the same figures as PNGs
(and the Markdown report) for readers without a card viewer.

Figures are plain :class:`matplotlib.figure.Figure` objects drawn by the Agg
canvas (no pyplot state, no display needed); matplotlib is imported inside the
functions so the flow's other steps never pay for it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from components.constants import DEFAULT_FLOW
from components.files import atomic_write
from components.spec.declarations import excerpt

if TYPE_CHECKING:  # matplotlib itself is imported where a figure is drawn
    from matplotlib.typing import RcKeyType

__all__ = [
    "FIGURES",
    "OUT_MARKER",
    "OutError",
    "card_components",
    "confusion_figure",
    "confusion_names",
    "forest_figure",
    "learning_curve_figure",
    "metric_label",
    "paired_figure",
    "per_class_markdown",
    "prepare_out",
    "register",
    "render_card",
    "report_figures",
    "save_figures",
]

#: Figure names, in report order; also the PNG file stems ``axisflow report`` writes. Each secondary metric
#: adds ``forest_<metric>`` and ``paired_<metric>`` after them; a classification run adds ``confusion_<method>``
#: for each method (:func:`confusion_names`).
FIGURES = ("forest", "paired", "learning_curves")

#: Display names of per-epoch telemetry series (``val_metric`` is labelled with the experiment's metric).
_CURVE_LABELS = {"train_loss": "training loss", "val_loss": "validation loss"}
#: Learning-curve panels: one row per series, top to bottom.
_CURVES = ("val_metric", "train_loss")

_VERDICT_STYLE = {  # colour and marker, so the verdict survives greyscale and colour blindness
    "better": ("#1a9641", "P"),
    "worse": ("#d7191c", "X"),
    "inconclusive": ("#525252", "o"),
    None: ("#9e9e9e", "o"),
}
_BASELINE_COLOUR = "#202020"
_LINESTYLES = ("-", "--", ":", (0, (3, 1, 1, 1, 1, 1)))
_ONE_FIT_STYLE = (0, (8, 3, 1, 3))  # long dash-dot: unlike any training-cell style
_STYLE: dict[RcKeyType, Any] = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9.5,
    "legend.fontsize": 9,
    "figure.titlesize": 12,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_WIDTH = 10.0  # inches; at the card's 100 dpi that is 1000 px, about the card's column width
_TEXT_ROOM = 0.96  # share of the figure's width a title or the legend may take
_MAX_COLUMNS = 3


def metric_label(results: Mapping[str, Any]) -> str:
    """The primary metric as a reader says it, with its split, e.g. ``"test auroc"`` (the name the experiment gives it)."""
    metric = results.get("metric") or {}
    shown = str(metric.get("name", "value"))
    return f"{metric['split']} {shown}" if metric.get("split") else shown


def _direction(results: Mapping[str, Any]) -> str:
    return "higher is better" if (results.get("metric") or {}).get("higher_is_better", True) else "lower is better"


def _axes(results: Mapping[str, Any], kind: str) -> dict[str, list[Any]]:
    return {name: list(values) for name, values in ((results.get("axes") or {}).get(kind) or {}).items()}


def _combos(axes: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of axis values in declared order (one empty combination without axes)."""
    return [dict(zip(axes, values)) for values in itertools.product(*axes.values())]


def _key(axes: Mapping[str, Any]) -> tuple:
    # repr keeps 1, 1.0 and True apart, as the statistics engine does.
    return tuple(sorted((name, repr(value)) for name, value in axes.items()))


def _describe(combo: Mapping[str, Any]) -> str:
    return ", ".join(f"{name} = {value}" for name, value in combo.items())


def _level(results: Mapping[str, Any]) -> str:
    confidence = (results.get("statistics") or {}).get("confidence")
    return f"{confidence:.0%}" if isinstance(confidence, (int, float)) else ""


def _method_colours(results: Mapping[str, Any]) -> dict[str, str]:
    """One colour per method, stable across all figures; the baseline is near-black."""
    methods = list(results.get("methods") or sorted({c["method"] for c in results.get("cells", ())}))
    others = [m for m in methods if m != results.get("baseline")]
    palette = ["#1f77b4", "#ff7f0e", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f"]
    colours = {m: palette[i % len(palette)] for i, m in enumerate(others)}
    colours[results.get("baseline")] = _BASELINE_COLOUR
    return colours


def _panels(results: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> list[tuple[dict[str, Any], list[dict]]]:
    """Rows split by data-axis value (declared order), keeping only values that have rows."""
    data = _axes(results, "data")
    rows = list(rows)
    out = []
    for combo in _combos(data):
        mine = [dict(r) for r in rows if all(repr(r["axes"].get(k)) == repr(v) for k, v in combo.items())]
        if mine:
            out.append((combo, mine))
    return out


def _grid(n: int, columns: int = _MAX_COLUMNS) -> tuple[int, int]:
    ncols = max(1, min(n, columns))
    return math.ceil(n / ncols), ncols


def _forest_rows(results: Mapping[str, Any], rows: list[dict], methods: list[str]) -> list[tuple[str, dict | None]]:
    """(label, row or None for a group header) in display order: training cells in declared order, then methods."""
    training = _axes(results, "training")
    by_key = {(_key(r["axes"]), r["method"]): r for r in rows}
    data_names = set(_axes(results, "data"))
    data_part = {k: v for k, v in rows[0]["axes"].items() if k in data_names} if rows else {}
    out: list[tuple[str, dict | None]] = []
    for cell in _combos(training):
        group = [(m, by_key.get((_key({**data_part, **cell}), m))) for m in methods]
        group = [(m, r) for m, r in group if r is not None]
        if not group:
            continue
        if training:
            out.append((_describe(cell), None))
        for method, row in group:
            label = f"{method} (baseline)" if method == results.get("baseline") else method
            out.append((label, row))
    return out


def _style_header_ticks(ax: Any, labels: list[tuple[str, dict | None]]) -> None:
    ax.set_yticks(range(len(labels)), [label for label, _ in labels])
    for tick, (_, row) in zip(ax.get_yticklabels(), labels):
        if row is None:
            tick.set_fontweight("bold")
    ax.tick_params(axis="y", length=0)
    ax.set_ylim(len(labels) - 0.5, -0.5)


def _group_spans(labels: list[tuple[str, dict | None]]) -> list[tuple[int, int]]:
    """(first, last) row index of each group's data rows."""
    spans, start = [], None
    for i, (_, row) in enumerate(labels):
        if row is None:
            if start is not None and start < i:
                spans.append((start, i - 1))
            start = i + 1
        elif start is None:
            start = i
    if start is not None and start < len(labels):
        spans.append((start, len(labels) - 1))
    return spans


def _interval(ax: Any, y: float, centre: float, low: Any, high: Any, colour: str, marker: str, size: float) -> None:
    """A point with its interval; an open marker when there is no interval."""
    if low is None or high is None:
        ax.plot([centre], [y], marker=marker, markersize=size, markerfacecolor="white", color=colour, zorder=4)
        return
    ax.errorbar(
        [centre], [y], xerr=[[centre - low], [high - centre]], fmt=marker, color=colour,
        markersize=size, elinewidth=2.0, capsize=3.5, capthick=1.5, zorder=4,
    )


def _seed_dots(ax: Any, y: float, values: Sequence[float], colour: str) -> None:
    ax.scatter(values, [y] * len(values), s=16, facecolors="none", edgecolors=colour, linewidths=0.8, alpha=0.6, zorder=3)


def _include_zero(ax: Any) -> None:
    """Widen the x range so 0 is inside it with a margin, not on the frame."""
    low, high = ax.get_xlim()
    low, high = min(low, 0.0), max(high, 0.0)
    pad = 0.06 * (high - low or 1.0)
    ax.set_xlim(low - pad if low >= -pad else low, high + pad if high <= pad else high)


def _new_figure(nrows: int, ncols: int, height: float, width: float = _WIDTH, **kwargs: Any) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)  # a renderer to measure text with (see _finish)
    return fig, fig.subplots(nrows, ncols, squeeze=False, **kwargs)


def _finish(fig: Any, title: str, handles: list[Any], ncols: int) -> None:
    """Add the legend below the panels and the title above them, each fitted inside the figure's width.

    Constrained layout makes room above and below but never narrows text: a
    title longer than the figure is wrapped onto more lines, a panel title
    onto more lines than its panel's width, and the legend loses columns
    (gains rows) until it fits.
    """
    renderer = fig.canvas.get_renderer()
    room = fig.bbox.width * _TEXT_ROOM
    for columns in range(max(ncols, 1), 0, -1):
        legend = fig.legend(handles=handles, loc="outside lower center", ncols=columns, frameon=False)
        if columns == 1 or legend.get_window_extent(renderer).width <= room:
            break
        legend.remove()
    _wrap(fig.suptitle(title), room, renderer)
    fig.draw_without_rendering()  # lays the panels out, so their widths are final
    for ax in fig.axes:
        if ax.get_visible() and ax.get_title():
            _wrap(ax.title, max(ax.bbox.width, room / _MAX_COLUMNS), renderer)


def _wrap(text: Any, room: float, renderer: Any) -> None:
    """Re-wrap ``text`` (a matplotlib ``Text``) onto as few lines as keep it within ``room`` pixels."""
    import textwrap

    words = " ".join(text.get_text().split())
    width = len(words)
    while width > 10 and text.get_window_extent(renderer).width > room:
        width = int(width * 0.85)
        text.set_text(textwrap.fill(words, width, break_on_hyphens=False))


def _hide_unused(axes: Any, used: int) -> None:
    for ax in list(axes.flat)[used:]:
        ax.set_visible(False)


def _seed_summary(results: Mapping[str, Any]) -> str:
    stats = results.get("statistics") or {}
    names: dict[str | None, str] = {"bootstrap-t": "bootstrap-t", "bca": "BCa bootstrap", "percentile": "percentile bootstrap",
                                    "basic": "basic bootstrap", "student-t": "Student t"}
    how = names.get(stats.get("method"), stats.get("method") or "?")
    return f"{results.get('seeds', '?')} seeds, {_level(results)} intervals ({how})".replace("  ", " ")


def forest_figure(results: Mapping[str, Any]) -> Any:
    """Forest plot of per-cell means: one panel per data-axis value, one row per training cell x method.

    A filled marker is the mean over seeds, its bar the cell's confidence
    interval, the open dots the per-seed values. The baseline is near-black
    with a diamond, and its interval is shaded across the rows of its training
    cell so overlaps read at a glance. Returns a matplotlib ``Figure``.
    """
    from matplotlib import rc_context
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    colours = _method_colours(results)
    methods = [m for m in colours if m is not None]
    baseline = results.get("baseline")
    panels = _panels(results, results.get("cells", ()))
    with rc_context(_STYLE):
        nrows, ncols = _grid(len(panels))
        first = _forest_rows(results, panels[0][1], methods) if panels else []
        fig, axes = _new_figure(nrows, ncols, 1.3 + nrows * (0.75 + 0.27 * len(first)), sharey=True)
        no_interval = False
        for ax, (combo, rows) in zip(axes.flat, panels):
            labels = _forest_rows(results, rows, methods)
            for (start, end) in _group_spans(labels):
                base = next((r for _, r in labels[start : end + 1] if r is not None and r["method"] == baseline), None)
                if base is not None and base["ci_low"] is not None:
                    ax.fill_betweenx([start - 0.45, end + 0.45], base["ci_low"], base["ci_high"], color=_BASELINE_COLOUR, alpha=0.10, lw=0)
            for y, (_, row) in enumerate(labels):
                if row is None:
                    continue
                is_base = row["method"] == baseline
                colour = colours.get(row["method"], "#555555")
                _seed_dots(ax, y, row.get("values", ()), colour)
                _interval(ax, y, row["mean"], row["ci_low"], row["ci_high"], colour, "D" if is_base else "o", 6.5 if is_base else 6)
                no_interval |= row["ci_low"] is None
            for (start, _end) in _group_spans(labels)[1:]:
                ax.axhline(start - 1.5, color="#d0d0d0", lw=0.8, zorder=1)
            _style_header_ticks(ax, labels)
            ax.grid(axis="x", color="#ececec", lw=0.8)
            ax.set_axisbelow(True)
            ax.set_xlabel(f"{metric_label(results)} ({_direction(results)})")
            if combo:
                ax.set_title(_describe(combo))
        _hide_unused(axes, len(panels))
        handles = [
            Line2D([], [], color="#555555", marker="o", lw=2, label=f"mean with {_level(results)} CI".replace("  ", " ")),
            Line2D([], [], color="#555555", marker="o", ls="none", markerfacecolor="none", alpha=0.7, label="per-seed value"),
            Patch(color=_BASELINE_COLOUR, alpha=0.15, label=f"baseline ({baseline}) CI"),
        ]
        if no_interval:
            handles.append(Line2D([], [], color="#555555", marker="o", ls="none", markerfacecolor="white", label="mean, no interval"))
        _finish(fig, f"{results.get('experiment', '')}: mean {metric_label(results)} per cell, {_seed_summary(results)}", handles, len(handles))
    return fig


def paired_figure(results: Mapping[str, Any]) -> Any:
    """Paired differences against the baseline: one panel per data-axis value, one row per training cell x method.

    The marker is the mean of ``method - baseline`` over the seeds both share,
    the bar its confidence interval, the open dots the per-seed differences;
    colour and marker shape give the verdict (better / worse / inconclusive).
    Each panel scales its own x axis (always showing 0), so small differences
    stay readable next to large ones. Returns a matplotlib ``Figure``.
    """
    from matplotlib import rc_context
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    baseline = results.get("baseline")
    methods = [m for m in _method_colours(results) if m is not None and m != baseline]
    panels = _panels(results, results.get("paired", ()))
    higher = (results.get("metric") or {}).get("higher_is_better", True)
    with rc_context(_STYLE):
        nrows, ncols = _grid(len(panels))
        first = _forest_rows(results, panels[0][1], methods) if panels else []
        fig, axes = _new_figure(nrows, ncols, 1.4 + nrows * (0.75 + 0.27 * len(first)), sharey=True)
        seen: set = set()
        for ax, (combo, rows) in zip(axes.flat, panels):
            labels = _forest_rows(results, rows, methods)
            ax.axvline(0.0, color="#404040", lw=1.0, zorder=2)
            for y, (_, row) in enumerate(labels):
                if row is None:
                    continue
                colour, marker = _VERDICT_STYLE.get(row.get("verdict"), _VERDICT_STYLE[None])
                _seed_dots(ax, y, row.get("diffs", ()), colour)
                _interval(ax, y, row["mean_diff"], row["ci_low"], row["ci_high"], colour, marker, 7.5)
                seen.add(row.get("verdict"))
            for (start, _end) in _group_spans(labels)[1:]:
                ax.axhline(start - 1.5, color="#d0d0d0", lw=0.8, zorder=1)
            _style_header_ticks(ax, labels)
            _include_zero(ax)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
            ax.grid(axis="x", color="#ececec", lw=0.8)
            ax.set_axisbelow(True)
            ax.set_xlabel(f"Δ {metric_label(results)}, method − {baseline}\n({'> 0' if higher else '< 0'}: method better)")
            if combo:
                ax.set_title(_describe(combo))
        _hide_unused(axes, len(panels))
        order = ["better", "inconclusive", "worse", None]
        names = _verdict_names(results)
        handles = [
            Line2D([], [], color=_VERDICT_STYLE[v][0], marker=_VERDICT_STYLE[v][1], markersize=8, lw=2, label=names[v])
            for v in order
            if v in seen
        ]
        handles.append(Line2D([], [], color="#555555", marker="o", ls="none", markerfacecolor="none", alpha=0.7, label="per-seed difference"))
        title = f"{results.get('experiment', '')}: paired difference vs {baseline} on shared seeds, {_seed_summary(results)}"
        _finish(fig, title, handles, len(handles))
    return fig


#: A method's confusion figure draws at most this many cells (the results' per-class table lists every one).
#: Up to three panels share a row; more fill a near-square grid (four cells: 2 x 2, not a row of three and one alone).
_MAX_CONFUSION_PANELS = 12


def confusion_names(results: Mapping[str, Any]) -> dict[str, str]:
    """``{figure name: method}`` of the confusion figures, one per method with per-class results (classification runs).

    The name is ``confusion_<method>``, with any character other than
    letters, digits, ``-`` and ``_`` replaced by ``_`` (it is a file name).
    """
    import re

    methods = list(dict.fromkeys(row["method"] for row in results.get("per_class") or ()))
    order = [m for m in results.get("methods") or () if m in methods] + [m for m in methods if m not in (results.get("methods") or ())]
    return {"confusion_" + re.sub(r"[^A-Za-z0-9_-]", "_", str(m)): m for m in order}


def _cells_in_order(results: Mapping[str, Any], rows: list[Mapping[str, Any]]) -> list[tuple[dict[str, Any], Mapping[str, Any]]]:
    """``(cell in declared axis order, per-class row)`` in the order of the declared axes (data, then training)."""
    declared = {**_axes(results, "data"), **_axes(results, "training")}
    by_key = {_key(row["axes"]): row for row in rows}
    out = [(combo, by_key[_key(combo)]) for combo in _combos(declared) if _key(combo) in by_key]
    return out or [(dict(row["axes"]), row) for row in rows]


def _confusion_panel(ax: Any, row: Mapping[str, Any], size: float) -> Any:
    """One cell's confusion matrix: shade = share of the true class's examples, number = count; returns the image."""
    import numpy as np

    counts = np.asarray(row["confusion"], dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    k = len(row["classes"])
    font = 9 if k <= 4 else 8 if k <= 7 else 6.5
    for (i, j), value in np.ndenumerate(counts):
        ax.text(j, i, f"{int(value)}", ha="center", va="center", fontsize=font, color="white" if share[i, j] > 0.6 else "#202020")
    names = [_short(str(c), 14) for c in row["classes"]]
    rotate = max(len(n) for n in names) * 0.075 > 0.9 * size / k  # about 0.075 in per character at 9 pt: wider than a column, turned
    ax.set_xticks(range(k), names, rotation=45 if rotate else 0, ha="right" if rotate else "center", rotation_mode="anchor")
    ax.set_yticks(range(k), names)
    ax.tick_params(length=0)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    for spine in ax.spines.values():
        spine.set_visible(False)
    return image


def confusion_figure(results: Mapping[str, Any], method: str) -> Any:
    """Confusion matrices of ``method``: one panel per cell, rows normalised by the true class, counts annotated.

    Each panel is the cell's confusion matrix summed over its seeds (and
    folds): a row per true class, a column per predicted class; the shade is
    the share of the true class's examples predicted as each class (a row sums
    to 1: the diagonal is the class's pooled recall), the number the count.
    Returns a matplotlib ``Figure``.
    """
    import textwrap

    from matplotlib import rc_context
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    cells = _cells_in_order(results, [r for r in results.get("per_class") or () if r["method"] == method])
    if not cells:
        raise ValueError(f"method {method!r} has no per-class results")
    shown = cells[:_MAX_CONFUSION_PANELS]
    k = max(len(row["classes"]) for _, row in shown)
    size = min(4.6, max(2.3, 0.45 * k + 1.0))  # inches per panel side, when the width allows
    with rc_context(_STYLE):
        nrows, ncols = _grid(len(shown), len(shown) if len(shown) <= _MAX_COLUMNS else math.ceil(math.sqrt(len(shown))))
        width = min(_WIDTH, max(6.5, ncols * (size + 1.0) + 1.2))
        side = min(size, (width - 1.6) / ncols - 0.9)  # what a panel gets beside its labels and the colour bar
        fig, axes = _new_figure(nrows, ncols, 1.8 + nrows * (side + 1.0), width=width)
        for i, (ax, (combo, row)) in enumerate(zip(axes.flat, shown)):
            image = _confusion_panel(ax, row, side)
            _outer_labels_only(ax, i, ncols, len(shown))
            if combo:
                ax.set_title(_describe(combo))
        _hide_unused(axes, len(shown))
        fig.colorbar(image, ax=[ax for ax in axes.flat if ax.get_visible()], shrink=0.8, label="share of the true class's examples")
        row = shown[0][1]
        handles = [
            Line2D([], [], ls="none", marker="$12$", markersize=11, color="#202020", label=f"count, summed over {_arms(results, row)}"),
            Patch(color="#4a89c8", label="shade: share of the true class (each row sums to 1)"),
            Line2D([], [], ls="none", label=textwrap.fill(f"predicted class: {_decision(row)}", 64)),
        ]
        more = f" (first {len(shown)} of {len(cells)} cells)" if len(cells) > len(shown) else ""
        title = f"{results.get('experiment', '')}: confusion matrix of {method}, test split{more}"
        _finish(fig, title, handles, 2)
    return fig


def _short(text: str, most: int) -> str:
    """``text`` in at most ``most`` characters: its start and end around an ellipsis (class names often differ at the end)."""
    if len(text) <= most:
        return text
    tail = (most - 1) // 2
    return text[: most - 1 - tail] + "…" + text[len(text) - tail:]


def _outer_labels_only(ax: Any, index: int, ncols: int, used: int) -> None:
    """Class names and axis labels on the left column and the bottom panel of each column only (a method's panels share the classes)."""
    if index % ncols:
        ax.set_yticklabels([])
        ax.set_ylabel("")
    if index + ncols < used:
        ax.set_xticklabels([])
        ax.set_xlabel("")


def _decision(row: Mapping[str, Any]) -> str:
    """How a class was predicted, naming a binary task's class 1 when it has a name."""
    words, classes = str(row["decision"]), [str(c) for c in row["classes"]]
    if len(classes) == 2 and classes[1] != "1":
        words = words.replace("class 1", f"class 1 ({_short(classes[1], 20)})", 1)
    return words


def _arms(results: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    """What a panel's counts are summed over, in words."""
    cv = results.get("cross_validation") or {}
    if cv.get("folds"):
        return f"{results.get('seeds', '?')} repeats x {len(cv['folds'])} folds"
    return f"{row['arms']} seeds"


def _verdict_names(results: Mapping[str, Any]) -> dict[str | None, str]:
    """Legend labels that say what a verdict colour means: family-wise significance, or a per-row interval.

    Colours follow the row's ``verdict``. Under a multiplicity correction that
    is the family-wise test, so a drawn interval may exclude 0 while its row is
    ``inconclusive``; the labels must not say otherwise.
    """
    multiplicity = (results.get("statistics") or {}).get("multiplicity")
    if multiplicity in ("holm", "bonferroni"):
        family = "Holm" if multiplicity == "holm" else "Bonferroni"
        return {
            "better": f"better (significant after {family})",
            "worse": f"worse (significant after {family})",
            "inconclusive": f"inconclusive (not significant after {family}; the row's own CI may exclude 0)",
            None: "no interval",
        }
    return {"better": "better (CI excludes 0)", "worse": "worse (CI excludes 0)", "inconclusive": "inconclusive (CI spans 0)", None: "no interval"}


def _training_cells(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    return _combos(_axes(results, "training"))


def _curve_groups(results: Mapping[str, Any], records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per (data-axis value, method, training) the seeds' curves, with the mean and stop points per series.

    An axis-agnostic method trains once per branch and is scored in every
    training cell; its curve is counted once, not once per cell.
    """
    from components.engine.telemetry import learning_curves, mean_curves

    data_names = list(_axes(results, "data"))
    curves = [c for c in learning_curves(records) if not c["shared"] or c["axes"] == {**{k: c["axes"][k] for k in data_names}, **_first_cell(results)}]
    groups: dict[tuple, dict[str, Any]] = {}
    for curve in curves:
        data = {k: curve["axes"][k] for k in data_names if k in curve["axes"]}
        key = (_key(data), curve["method"], _key(curve["train_axes"]))
        group = groups.setdefault(key, {"data": data, "method": curve["method"], "train_axes": dict(curve["train_axes"]), "curves": []})
        group["curves"].append(curve)
    for group in groups.values():
        group["series"] = {}
        longest = max(len(c["epoch"]) for c in group["curves"])
        group["longest"] = longest
        for name in _CURVES:
            found = mean_curves(group["curves"], name)
            if not found:
                continue
            means = found[0]
            # A run stopped early if its trainer says so, or (trainers that do not say) if it is shorter than its group.
            stopped = [c for c in group["curves"] if len(c["epoch"]) < longest or c["info"].get("stopped_epoch") is not None]
            stops = [_last_point(c, name) for c in stopped if name in c["curves"]]
            group["series"][name] = {
                "epoch": means["epoch"],
                "mean": means["mean"],
                "n": means["n"],
                "stops": [point for point in stops if point is not None],
            }
    return list(groups.values())


def _first_cell(results: Mapping[str, Any]) -> dict[str, Any]:
    cells = _training_cells(results)
    return cells[0] if cells else {}


def _has_curves(records: Iterable[Mapping[str, Any]] | None) -> bool:
    return any(len(t.get("history", {}).get("epoch", ())) > 1 for r in records or () for t in r.get("trainings", ()))


def _last_point(curve: Mapping[str, Any], name: str) -> tuple[int, float] | None:
    """(epoch, value) of the last evaluated point of series ``name`` in one seed's curve."""
    for epoch, value in reversed(list(zip(curve["epoch"], curve["curves"][name]))):
        if value is not None and not math.isnan(value):
            return epoch, value
    return None


def _plot_series(ax: Any, series: Mapping[str, Any], colour: str, style: str | tuple[int, tuple[int, ...]]) -> bool:
    """Draw one mean curve; return whether part of it averages fewer than all seeds.

    Solid while every seed still trains; faint while only some do, and only
    while at least half do (a mean of the last one or two survivors is one
    run's curve, not a summary). Crosses mark each stopped run at its own last
    value.
    """
    points = [(e + 1, m, n) for e, m, n in zip(series["epoch"], series["mean"], series["n"]) if n and not math.isnan(m)]
    for epoch, value in series["stops"]:
        ax.plot([epoch + 1], [value], ls="none", marker="x", markersize=6, mew=1.5, color=colour, alpha=0.9, zorder=4)
    if not points:
        return False
    full = max(n for _, _, n in points)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    all_running = [i for i, p in enumerate(points) if p[2] == full]
    cut = all_running[-1] + 1 if all_running else 0
    ax.plot(xs[:cut], ys[:cut], color=colour, ls=style, lw=1.8, zorder=3)
    shown = [i for i, p in enumerate(points) if i >= cut and 2 * p[2] >= full]
    if shown:
        tail = slice(max(cut - 1, 0), shown[-1] + 1)
        ax.plot(xs[tail], ys[tail], color=colour, ls=style, lw=1.1, alpha=0.45, zorder=3)
    return cut < len(points)


def learning_curve_figure(results: Mapping[str, Any], records: Iterable[Mapping[str, Any]]) -> Any:
    """Learning curves: the validation metric and training loss per epoch, averaged over seeds.

    One column per data-axis value, one row per series. Colour is the method,
    line style the training-axis cell. Early-stopped runs are shorter: each
    epoch averages the seeds still training (the line turns faint once some
    have stopped and ends when fewer than half remain) and a cross marks each
    stopped run at its last value. A method fitted in one step (no epochs,
    e.g. logistic regression by L-BFGS) is a thin horizontal line at its
    validation value in the validation panels. Returns a matplotlib ``Figure``.
    """
    from matplotlib import rc_context
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    colours = _method_colours(results)
    groups = _curve_groups(results, records)
    combos = [c for c in _combos(_axes(results, "data")) if any(_key(g["data"]) == _key(c) for g in groups)]
    cells = _training_cells(results)
    styles = {_key(cell): _LINESTYLES[i % len(_LINESTYLES)] for i, cell in enumerate(cells)}
    names = [n for n in _CURVES if any(n in g["series"] for g in groups)]
    blocks, ncols = _grid(max(len(combos), 1), columns=4)
    with rc_context(_STYLE):
        fig, axes = _new_figure(blocks * len(names), ncols, 1.2 + blocks * len(names) * 2.3, sharex=True)
        flat_seen: set = set()
        stopped = faint = False
        for index, combo in enumerate(combos):
            block, column = divmod(index, ncols)
            for r, name in enumerate(names):
                ax = axes[block * len(names) + r, column]
                for group in [g for g in groups if _key(g["data"]) == _key(combo)]:
                    series = group["series"].get(name)
                    if series is None:
                        continue
                    colour = colours.get(group["method"], "#555555")
                    if group["longest"] <= 1:
                        # One fit and no epochs: a reference level where it compares (validation
                        # series); its training objective is not the MLP's, so no loss line.
                        value = series["mean"][0]
                        if name.startswith("val_") and not math.isnan(value):
                            ax.axhline(value, color=colour, ls=_ONE_FIT_STYLE, lw=1.2, zorder=2)
                            flat_seen.add(group["method"])
                        continue
                    faint |= _plot_series(ax, series, colour, styles.get(_key(group["train_axes"]), "-"))
                    stopped |= bool(series["stops"])
                ax.set_ylabel(_CURVE_LABELS.get(name, f"validation {(results.get('metric') or {}).get('name', 'metric')}"))
                ax.grid(color="#ececec", lw=0.8)
                ax.set_axisbelow(True)
                if r == 0 and combo:
                    ax.set_title(_describe(combo))
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
                if r == len(names) - 1:
                    ax.set_xlabel("epochs trained")
                    ax.xaxis.set_tick_params(labelbottom=True)
        _hide_unused_grid(axes, len(combos), ncols, len(names))
        epochs = _epoch_methods(groups)
        handles = [Line2D([], [], color=colours[m], lw=2, label=m) for m in colours if m in epochs]
        handles += [
            Line2D([], [], color=colours[m], ls=_ONE_FIT_STYLE, lw=1.2, label=f"{m}: one fit, final validation value")
            for m in colours
            if m in flat_seen and m not in epochs
        ]
        if len(cells) > 1:
            handles += [Line2D([], [], color="#808080", ls=styles[_key(c)], lw=1.8, label=_describe(c)) for c in cells]
        if stopped:
            handles.append(Line2D([], [], color="#555555", ls="none", marker="x", mew=1.5, label="a run stopped (its last value)"))
        if faint:
            handles.append(Line2D([], [], color="#555555", lw=1.1, alpha=0.45, label="mean of the seeds still running (≥ half)"))
        _finish(fig, f"{results.get('experiment', '')}: learning curves, mean over {results.get('seeds', '?')} seeds", handles, min(len(handles), 4))
    return fig


def _epoch_methods(groups: list[dict[str, Any]]) -> set[str]:
    return {g["method"] for g in groups if g["longest"] > 1}


def _hide_unused_grid(axes: Any, used: int, ncols: int, rows_per_block: int) -> None:
    for index in range(used, axes.shape[0] // rows_per_block * ncols):
        block, column = divmod(index, ncols)
        for r in range(rows_per_block):
            axes[block * rows_per_block + r, column].set_visible(False)


def report_figures(results: Mapping[str, Any], records: Iterable[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The report's figures by name (see :data:`FIGURES`).

    Learning curves only when records hold per-epoch history; a classification
    run adds one confusion figure per method (:func:`confusion_names`).
    """
    figures = {"forest": forest_figure(results)}
    if results.get("paired"):
        figures["paired"] = paired_figure(results)
    records = list(records or ())
    if _has_curves(records):
        figures["learning_curves"] = learning_curve_figure(results, records)
    for name, build in _secondary_builders(results).items():
        figures[name] = build()
    for name, method in confusion_names(results).items():
        figures[name] = confusion_figure(results, method)
    return figures


def _secondary_builders(results: Mapping[str, Any]) -> dict[str, Any]:
    """``{figure name: build}`` of each secondary metric's forest and paired figures (``forest_<metric>``, ``paired_<metric>``)."""
    from components.outputs.query import metric_view

    builders = {}
    for metric in results.get("secondary") or {}:
        view = metric_view(results, metric)
        builders[f"forest_{metric}"] = lambda view=view: forest_figure(view)
        if view.get("paired"):
            builders[f"paired_{metric}"] = lambda view=view: paired_figure(view)
    return builders


def _caption(name: str) -> str:
    """A figure's caption; a secondary metric's figures (``forest_<metric>``) read as the primary's, for that metric.

    Confusion figures (``confusion_<method>``) share one caption.
    """
    if name in _CAPTIONS:
        return _CAPTIONS[name]
    if name.startswith("confusion_"):  # a method's confusion figure (confusion_names)
        return _CAPTIONS["confusion"]
    kind, _, metric = name.partition("_")
    return f"Secondary metric {metric} (descriptive): " + _CAPTIONS[kind][0].lower() + _CAPTIONS[kind][1:]


_CAPTIONS = {
    "forest": "Per-cell mean over seeds (marker) with its confidence interval (bar); open dots are single seeds; "
    "the grey band is the baseline's interval.",
    "paired": "Mean paired difference to the baseline on shared seeds with its confidence interval; "
    "colour and marker give the verdict.",
    "learning_curves": "Mean over seeds of each per-epoch series; a cross marks a run that stopped early, "
    "after which the faint line averages the seeds still training.",
    "confusion": "Confusion matrix per cell, summed over seeds (and folds): rows are the true class, shaded by the share "
    "of its examples predicted as each class; numbers are counts.",
}


def _header(results: Mapping[str, Any]) -> str:
    """Facts about the experiment the Markdown tables do not already state."""
    axes = {kind: _axes(results, kind) for kind in ("data", "training")}
    shown = "; ".join(
        f"{kind}: " + ", ".join(f"{name} ∈ {{{', '.join(str(v) for v in values)}}}" for name, values in named.items())
        for kind, named in axes.items()
        if named
    )
    kinds = results.get("kinds") or {}
    plan = results.get("plan") or {}
    provenance = results.get("provenance") or {}
    from components.engine.provenance import hardware_line

    lines = [
        f"- **Contract:** {results.get('contract', '?')}",
        f"- **Seeds:** {results.get('seeds', '?')} per cell (paired comparisons use the seeds both methods share)",
        f"- **Axes:** {shown or 'none'}",
        "- **Methods:** " + ", ".join(f"{m} ({kinds[m]})" if m in kinds else m for m in results.get("methods", ())),
    ]
    if plan:
        lines.append(f"- **Plan:** {plan.get('branches')} branches, {plan.get('trainings')} trainings")
    if results.get("overrides"):
        lines.append("- **Overrides:** " + " ".join(f"`{o}`" for o in results["overrides"]))
    if provenance.get("flow") and provenance.get("run_id"):
        lines.append(f"- **Run:** `{provenance['flow']}/{provenance['run_id']}`")
    if hardware_line(provenance):
        lines.append(f"- **Hardware:** {hardware_line(provenance)}")
    return "\n".join(lines)


def _split_report(markdown: str) -> tuple[str, str]:
    """The Markdown report's title block and the rest (its tables), split at the first section heading."""
    head, sep, rest = markdown.partition("\n## ")
    return head.rstrip(), (sep.lstrip("\n") + rest) if sep else ""


def _brief(value: Any) -> str:
    """One-line rendering of a provenance value; long or nested values are summarised."""
    if isinstance(value, Mapping):
        if all(not isinstance(v, (Mapping, list, tuple)) for v in value.values()) and len(value) <= 10:
            return ", ".join(f"{k}={v}" for k, v in value.items())
        scalars = {k: v for k, v in value.items() if not isinstance(v, (Mapping, list, tuple))}
        rest = len(value) - len(scalars)
        shown = ", ".join(f"{k}={v}" for k, v in scalars.items())
        return f"{shown}{'; ' if shown else ''}{rest} more field{'s' if rest != 1 else ''} in the JSON below" if rest else shown
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if len(value) <= 6 else f"{len(value)} items (see the JSON below)"
    return str(value)


def _provenance_components(provenance: Mapping[str, Any]) -> list[Any]:
    from metaflow.cards import Markdown

    if not provenance:
        return [Markdown("## Provenance\n\nThis run recorded no provenance.")]
    lines = ["## Provenance", ""] + [f"- **{key}:** {_brief(value)}".replace("|", "\\|") for key, value in provenance.items()]
    text = json.dumps(provenance, indent=1, default=str, sort_keys=False)
    try:
        from metaflow.cards import JSONViewer
    except ImportError:  # older Metaflow without the viewer: a fenced block says the same
        return [Markdown("\n".join(lines)), Markdown(f"```json\n{text}\n```")]
    return [Markdown("\n".join(lines)), JSONViewer(json.loads(text), collapsible=True, title="provenance (JSON)")]


def per_class_markdown(results: Mapping[str, Any]) -> str:
    """The per-class section of a classification run's report (``axisflow results --per-class --format md`` without its title); ``""`` without one."""
    from components.outputs.query import format_table

    return _split_report(format_table(results, "md", per_class=True))[1] if results.get("per_class") else ""


def card_components(results: Mapping[str, Any], records: Iterable[Mapping[str, Any]] | None = None) -> list[Any]:
    """The report card's components, in order: header, tables (with a classification run's per-class section), figures, provenance.

    A figure that fails to draw becomes a one-line Markdown note (and a line on
    stderr) instead of failing the ``end`` step: the results are pinned by then
    and the tables still stand.
    """
    from metaflow.cards import Image, Markdown

    from components.outputs.query import format_table

    head, tables = _split_report(format_table(results, "md"))
    parts: list[Any] = [Markdown(head + "\n" + _header(results))]
    if tables:
        parts.append(Markdown(tables))
    if results.get("per_class"):
        parts.append(Markdown(per_class_markdown(results)))
    parts.append(Markdown("## Figures"))
    records = list(records or ())
    builders = {
        "forest": lambda: forest_figure(results),
        "paired": (lambda: paired_figure(results)) if results.get("paired") else None,
        "learning_curves": (lambda: learning_curve_figure(results, records)) if _has_curves(records) else None,
        **_secondary_builders(results),
        **{name: (lambda method=method: confusion_figure(results, method)) for name, method in confusion_names(results).items()},
    }
    for name, build in builders.items():
        if build is None:
            continue
        try:
            figure = build()
        except Exception as exc:  # a drawing bug must not fail a run whose results are already pinned
            print(f"axisflow: warning: report figure {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            parts.append(Markdown(f"*Figure `{name}` could not be drawn: {type(exc).__name__}: {exc}*"))
            continue
        parts.append(Image.from_matplotlib(figure, label=_caption(name)))
    parts += _provenance_components(results.get("provenance") or {})
    return parts


def render_card(card: Any, results: Mapping[str, Any], records: Iterable[Mapping[str, Any]] | None = None) -> None:
    """Append the report to ``card`` (``current.card["report"]`` in the ``end`` step); reads, never changes, ``results``."""
    for component in card_components(results, records):
        card.append(component)


def save_figures(figures: Mapping[str, Any], out: str | Path, dpi: int = 150) -> list[Path]:
    """Write each figure as ``<out>/<name>.png``, atomically; returns the paths written."""
    import io

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, figure in figures.items():
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi)
        paths.append(atomic_write(out / f"{name}.png", buffer.getvalue()))
    return paths


#: The file ``axisflow report`` leaves in every folder it writes, listing the files it wrote there.
OUT_MARKER = ".axisflow-report"


class OutError(ValueError):
    """An ``--out`` folder the report must not write into; one line."""


def prepare_out(out: str | Path, files: Iterable[str]) -> Path:
    """Make ``out`` ready for ``files`` without overwriting anything the tool did not write there; return it.

    A new or empty folder is claimed (the :data:`OUT_MARKER` file lists what the
    report writes); a folder holding the marker may be rewritten, but only the
    files the marker lists. Anything else -- a file, a folder of someone else's
    files, a file of the same name the marker does not list -- is refused in
    one line, before anything is written.
    """
    out, files = Path(out), sorted(files)
    if out.exists() and not out.is_dir() or out.is_symlink() and not out.exists():
        raise OutError(f"--out {_shown(out)} is a file, not a folder; name a new folder for the report")
    owned = _owned(out)
    clash = [name for name in files if (out / name).exists() or (out / name).is_symlink()]
    clash = [name for name in clash if name not in owned]
    if clash:
        raise OutError(f"--out {_shown(out / clash[0])} exists and axisflow report did not write it; name a new folder, so none of your files is overwritten")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / OUT_MARKER, json.dumps({"written_by": "axisflow report", "files": sorted({*owned, *files})}, indent=1) + "\n")
    return out


def _shown(path: Path) -> str:
    """A user's path as an error quotes it: printable, at most 200 characters."""
    return excerpt(str(path), 200, quote=False)


def _owned(out: Path) -> set[str]:
    """Files an earlier ``axisflow report`` wrote into ``out`` (empty for a new or empty folder); refuses a foreign folder."""
    if not out.is_dir():
        return set()
    marker = out / OUT_MARKER
    if not marker.is_file():
        if any(out.iterdir()):
            raise OutError(f"--out {_shown(out)} exists and axisflow report did not create it (no {OUT_MARKER} in it); name a new folder, so none of your files is overwritten")
        return set()
    try:
        listed = json.loads(marker.read_text())["files"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise OutError(f"--out {_shown(out / OUT_MARKER)} is not the list axisflow report writes; name a new folder") from None
    return {str(name) for name in listed} if isinstance(listed, list) else set()


def _card_path(run: Any) -> str | None:
    """Where the run's report card HTML lives, when the client can read it here."""
    try:
        from metaflow.cards import get_cards

        cards = get_cards(run["end"].task, id="report")
        return str(cards[0].path) if len(cards) else None
    except Exception:  # cards are optional extras: a missing or unreadable card only drops the hint
        return None


def _cmd_report(args: argparse.Namespace) -> int:
    from components.outputs.query import format_table
    from components.outputs.runs import find_run

    run = find_run(args.flow, args.run, args.experiment)
    task = run["end"].task
    results = task.data.results
    records = task.data.records if "records" in task else []
    figures = report_figures(results, records)
    out = prepare_out(args.out or f"axisflow-report-{run.id}", [*(f"{name}.png" for name in figures), "report.md"])
    paths = save_figures(figures, out, dpi=args.dpi)
    markdown = format_table(results, "md") + (f"\n{per_class_markdown(results)}" if results.get("per_class") else "") + "\n## Figures\n\n" + "\n\n".join(f"![{p.stem}]({p.name})" for p in paths) + "\n"
    report = atomic_write(out / "report.md", markdown)
    print(f"{run.pathspec} (experiment {results['experiment']}): wrote {len(paths)} figures and the Markdown report to {out}/")
    for path in [*paths, report]:
        print(f"  {path}")
    card = _card_path(run)
    if card:
        print(f"card: {card}")
    return 0


#: PNG resolutions ``--dpi`` accepts: beyond 600 a figure needs gigabytes of memory (100000 failed with std::bad_alloc).
DPI_RANGE = (10, 600)


def _dpi(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not DPI_RANGE[0] <= value <= DPI_RANGE[1]:
        raise argparse.ArgumentTypeError(f"{value} is outside {DPI_RANGE[0]}-{DPI_RANGE[1]}")
    return value


def register(subparsers: Any) -> None:
    """Add ``axisflow report`` (figures as PNGs plus the Markdown report of a run) to the CLI."""
    parser = subparsers.add_parser(
        "report",
        help="write the report figures (PNG) and Markdown tables of the latest successful run (or --run ID)",
        description="Write forest.png, paired.png, learning_curves.png (and, for a classification run, "
        "confusion_<method>.png per method) and report.md for one run: the same figures and tables as the run's "
        "report card, for reading without a card viewer.",
    )
    parser.add_argument("--run", help="run id (default: the latest successful run)")
    parser.add_argument("--flow", default=DEFAULT_FLOW, help=f"flow name (default {DEFAULT_FLOW})")
    parser.add_argument("--experiment", metavar="NAME", help="the latest successful run of this experiment (experiment.name)")
    parser.add_argument(
        "--out", help=f"folder to write into (default ./axisflow-report-<run id>): a new or empty folder, or one an earlier "
        f"report wrote (it holds {OUT_MARKER}); never overwrites a file the report did not write"
    )
    parser.add_argument("--dpi", type=_dpi, default=150, help=f"PNG resolution, {DPI_RANGE[0]}-{DPI_RANGE[1]} (default 150)")
    parser.set_defaults(func=_cmd_report)
