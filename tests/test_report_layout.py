"""Report figures keep their titles and legends inside the figure, however long the names in them are."""

from __future__ import annotations

import pytest

from components.outputs import report
from test_report import reference  # noqa: F401  (the reference-shaped results fixture)

LONG = "a_researchers_rather_long_investigation_name_smoke"


def _outside(fig) -> list[str]:
    """The visible titles and legends of ``fig`` whose drawn extent leaves the figure (by more than a pixel)."""
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    box = fig.bbox
    texts = [("suptitle", fig._suptitle)] if fig._suptitle is not None else []
    texts += [(f"title of panel {i}", ax.title) for i, ax in enumerate(fig.axes) if ax.get_visible() and ax.get_title()]
    texts += [(f"legend {i}", legend) for i, legend in enumerate(fig.legends)]
    bad = []
    for name, artist in texts:
        extent = artist.get_window_extent(renderer)
        if extent.x0 < box.x0 - 1 or extent.x1 > box.x1 + 1 or extent.y0 < box.y0 - 1 or extent.y1 > box.y1 + 1:
            bad.append(f"{name} {extent.bounds} outside {box.bounds}")
    return bad


def _long_names(results, records):
    """The reference results with a long experiment name and long method names (as a real investigation has)."""
    rename = {"mlp": "mlp_on_sixteen_pca_components", "mlp_early_stop": "mlp_early_stopped_on_validation_loss"}

    def renamed(row):
        return {**row, "method": rename.get(row.get("method"), row.get("method"))}

    results = {
        **results, "experiment": LONG, "methods": [rename.get(m, m) for m in results["methods"]],
        "kinds": {rename.get(m, m): k for m, k in results["kinds"].items()},
        "cells": [renamed(c) for c in results["cells"]], "paired": [renamed(p) for p in results["paired"]],
    }
    records = [
        {**r, "trainings": [renamed(t) for t in r["trainings"]], "observations": [renamed(o) for o in r["observations"]]}
        for r in records
    ]
    return results, records


@pytest.mark.parametrize("names", ["shipped", "long"])
def test_every_report_figure_keeps_its_titles_and_legends_inside_the_figure(reference, names):  # noqa: F811
    results, records = reference if names == "shipped" else _long_names(*reference)
    figures = report.report_figures(results, records)
    assert set(figures) == {"forest", "paired", "learning_curves"}
    for name, fig in figures.items():
        assert fig.legends and fig._suptitle is not None, name
        assert _outside(fig) == [], name


def test_a_long_title_is_wrapped_not_shortened(reference):  # noqa: F811
    results, records = _long_names(*reference)
    fig = report.report_figures(results, records)["paired"]
    title = fig._suptitle.get_text()
    assert "\n" in title and " ".join(title.split()).startswith(f"{LONG}: paired difference vs logreg on shared seeds")


def _with_per_class(results, classes):
    """``results`` with a per-class block: each cell's confusion matrix drawn at random over ``classes``."""
    import numpy as np

    rng = np.random.default_rng(0)
    k = len(classes)
    rows = [
        {
            "axes": cell["axes"], "method": cell["method"], "classes": list(classes), "threshold": None if k > 2 else 0.5,
            "decision": "the class of highest probability (argmax)" if k > 2 else "class 1 when its probability is at least 0.5 (the metric's threshold)",
            "arms": 5, "confusion": (rng.integers(0, 40, size=(k, k)) + np.diag(rng.integers(100, 900, size=k))).tolist(),
        }
        for cell in results["cells"]
    ]
    for row in rows:  # pooled rates stand in for the per-seed summaries; the figures draw the matrices only
        counts = np.asarray(row["confusion"])
        for name, pooled in (("recall", counts.diagonal() / counts.sum(axis=1)), ("precision", counts.diagonal() / counts.sum(axis=0))):
            row[name] = [{"n": 5, "mean": float(v), "ci_low": None, "ci_high": None, "std": 0.0, "seeds": list(range(5)), "values": [float(v)] * 5} for v in pooled]
    return {**results, "per_class": rows}


def _texts_outside(fig) -> list[str]:
    """Every visible text of ``fig`` (titles, axis and tick labels, annotations, legends, colour bar) whose extent leaves the figure."""
    from matplotlib.text import Text

    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    box = fig.bbox
    bad = []
    for text in fig.findobj(Text):
        if not text.get_visible() or not text.get_text() or (text.axes is not None and not text.axes.get_visible()):
            continue
        extent = text.get_window_extent(renderer)
        if extent.x0 < box.x0 - 1 or extent.x1 > box.x1 + 1 or extent.y0 < box.y0 - 1 or extent.y1 > box.y1 + 1:
            bad.append(f"{text.get_text()[:40]!r} {extent.bounds} outside {box.bounds}")
    return bad


CLASSES = {
    "binary": ["malignant", "benign"],
    "digits": [str(d) for d in range(10)],
    "long": [f"a_rather_long_class_name_{i}" for i in range(7)],
}


@pytest.mark.parametrize(("names", "classes"), [("shipped", "binary"), ("shipped", "digits"), ("long", "long")])
def test_every_confusion_figure_keeps_all_its_text_inside_the_figure(reference, names, classes):  # noqa: F811
    results, records = reference if names == "shipped" else _long_names(*reference)
    results = _with_per_class(results, CLASSES[classes])
    figures = report.confusion_names(results)
    assert list(figures) == [f"confusion_{m}" for m in results["methods"]]
    method = results["methods"][-1]  # the longest name
    fig = report.confusion_figure(results, method)
    assert fig.legends and fig._suptitle is not None
    assert _outside(fig) == [] and _texts_outside(fig) == []
    # Nine cells: a 3 x 3 grid whose panels stay square and readable, class names on the outer panels only.
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_images()]
    assert len(panels) == 9 and min(ax.bbox.width for ax in panels) > 120
    assert [bool(ax.get_yticklabels()[0].get_text()) for ax in panels] == [True, False, False] * 3


def test_a_confusion_panel_shades_rows_by_the_true_class_and_writes_the_counts(reference):  # noqa: F811
    results = _with_per_class(reference[0], CLASSES["binary"])
    fig = report.confusion_figure(results, "mlp")
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_images() and ax.get_title()]
    assert [ax.get_title() for ax in panels][:2] == ["label_noise = 0.0, epochs = 10", "label_noise = 0.0, epochs = 40"]
    row = next(r for r in results["per_class"] if r["method"] == "mlp" and r["axes"] == {"label_noise": 0.0, "epochs": 10})
    shade = panels[0].get_images()[0].get_array()
    assert [list(r) for r in shade.tolist()] == [pytest.approx([v / sum(r) for v in r]) for r in row["confusion"]]
    assert [t.get_text() for t in panels[0].texts] == [str(v) for r in row["confusion"] for v in r]
    assert [t.get_text() for t in panels[0].get_yticklabels()] == ["malignant", "benign"] == [t.get_text() for t in panels[6].get_xticklabels()]
    assert "predicted class: class 1 (benign) when its probability is at least 0.5" in " ".join(
        " ".join(t.get_text().split()) for legend in fig.legends for t in legend.get_texts()
    )


def test_a_confusion_figure_exists_for_a_classification_run_and_not_without_per_class_results(reference):  # noqa: F811
    results, records = reference
    assert not [name for name in report.report_figures(results, records) if name.startswith("confusion")]
    assert report.confusion_names({**results, "per_class": []}) == {}
    figures = report.report_figures(_with_per_class(results, CLASSES["binary"]), records)
    assert list(figures) == ["forest", "paired", "learning_curves", "confusion_logreg", "confusion_mlp", "confusion_mlp_early_stop"]


def _subset(results, noise, epochs):
    """``results`` restricted to the given label_noise and epochs values (cells and declared axes)."""
    keep = [c for c in results["cells"] if c["axes"]["label_noise"] in noise and c["axes"]["epochs"] in epochs]
    return {**results, "axes": {"data": {"label_noise": noise}, "training": {"epochs": epochs}}, "cells": keep}


@pytest.mark.parametrize(("noise", "epochs", "grid"), [([0.0], [10], (1, 1)), ([0.0], [10, 40], (1, 2)), ([0.0, 0.2], [10, 40], (2, 2))])
def test_a_confusion_figure_has_one_panel_per_cell_in_a_near_square_grid(reference, noise, epochs, grid):  # noqa: F811
    results = _with_per_class(_subset(reference[0], noise, epochs), CLASSES["digits"])
    fig = report.confusion_figure(results, "mlp")
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_images()]
    rows, columns = ({round(getattr(ax.get_position(), edge), 3) for ax in panels} for edge in ("y0", "x0"))
    assert (len(rows), len(columns)) == grid and len(panels) == grid[0] * grid[1]
    assert _outside(fig) == [] and _texts_outside(fig) == []
    mine = [r for r in results["per_class"] if r["method"] == "mlp"]
    assert sorted(tuple(t.get_text() for t in ax.texts) for ax in panels) == sorted(tuple(str(v) for r in row["confusion"] for v in r) for row in mine)


def test_a_confusion_figure_without_axes_is_one_untitled_panel_summed_over_repeats_and_folds(reference):  # noqa: F811
    results = _with_per_class(_subset(reference[0], [0.0], [10]), CLASSES["binary"])
    results["per_class"] = [{**row, "axes": {}} for row in results["per_class"]]
    results = {**results, "axes": {"data": {}, "training": {}}, "seeds": 2, "cross_validation": {"folds": [0, 1, 2]}}
    fig = report.confusion_figure(results, "logreg")
    (panel,) = [ax for ax in fig.axes if ax.get_visible() and ax.get_images()]
    assert panel.get_title() == "" and _texts_outside(fig) == []
    assert "count, summed over 2 repeats x 3 folds" in [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    with pytest.raises(ValueError, match="method 'ridge' has no per-class results"):
        report.confusion_figure(results, "ridge")


def test_the_report_card_and_markdown_hold_the_per_class_section_of_a_classification_run_only(reference):  # noqa: F811
    from metaflow.cards import Image, Markdown

    results, records = reference
    assert report.per_class_markdown(results) == ""
    plain = report.card_components(results, records)
    assert not any(isinstance(p, Markdown) and "Per-class results" in p._text for p in plain)
    results = _with_per_class(results, CLASSES["binary"])
    section = report.per_class_markdown(results)
    assert section.startswith("## Per-class results on the test split; predicted class: class 1 when its probability is at least 0.5")
    assert "| true \\ predicted | malignant | benign |" in section and not section.startswith("# ")
    parts = report.card_components(results, records)
    texts = [p._text for p in parts if isinstance(p, Markdown)]
    assert section in texts and texts.index(section) < texts.index("## Figures")
    assert len([p for p in parts if isinstance(p, Image)]) == 3 + len(results["methods"])
