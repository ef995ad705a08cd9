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
