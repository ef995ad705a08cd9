"""Tests for components.outputs.query: selection, reduction, frames and the four output formats."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from components.outputs import query
from components.outputs.query import FORMATS, ResultSet, format_table
from components.stats import aggregate

NOISES = (0.0, 0.2)
EPOCHS = (10, 40)
METHODS = ("logreg", "mlp", "mlp_es")


def _results(seeds=5, noises=NOISES, epochs=EPOCHS):
    rng = np.random.default_rng(0)
    observations = [
        {"axes": {"label_noise": noise, "epochs": epoch}, "method": method, "seed": seed, "value": 0.8 - noise / 4 + 0.02 * k + rng.normal(0, 0.01)}
        for noise in noises
        for epoch in epochs
        for k, method in enumerate(METHODS)
        for seed in range(seeds)
    ]
    agg = aggregate(observations, baseline="logreg", n_resamples=200)
    return {
        "schema": "axisflow.results/1",
        "experiment": "demo",
        "question": "Does the MLP beat logistic regression?",
        "axes": {"data": {"label_noise": list(noises)}, "training": {"epochs": list(epochs)}},
        "metric": {"name": "auroc", "higher_is_better": True},
        "baseline": "logreg",
        "methods": list(METHODS),
        "statistics": agg["settings"],
        "cells": agg["cells"],
        "paired": agg["paired"],
        "provenance": {"config_hash": "c0ffee"},
        "plan": {},
    }


@pytest.fixture(scope="module")
def results():
    return _results()


@pytest.fixture(scope="module")
def rs(results):
    return ResultSet.from_results(results)


def test_result_set_orders_axes_data_then_training(rs):
    assert rs.axis_names == ("label_noise", "epochs")
    assert rs.methods == list(METHODS)
    assert [c["axes"]["label_noise"] for c in rs.cells] == [0.0] * 6 + [0.2] * 6


def test_result_set_where_selects_by_axis_value(rs):
    selected = rs.where(label_noise=0.2)
    assert len(selected) == 6 and all(c["axes"]["label_noise"] == 0.2 for c in selected.cells)
    assert len(selected.paired) == 4 and all(p["axes"]["label_noise"] == 0.2 for p in selected.paired)


def test_result_set_where_accepts_method_and_lists(rs):
    selected = rs.where(method=["mlp", "logreg"], epochs=40)
    assert {c["method"] for c in selected.cells} == {"mlp", "logreg"}
    assert [p["method"] for p in selected.paired] == ["mlp", "mlp"]


def test_result_set_where_unknown_axis_raises_listing_axes(rs):
    with pytest.raises(ValueError, match="unknown axis 'noise'; known: label_noise, epochs, method"):
        rs.where(noise=0.2)


def test_result_set_where_absent_value_raises_listing_values(rs):
    with pytest.raises(ValueError, match=r"label_noise=0\.3 is not in the results; label_noise takes \[0\.0, 0\.2\]"):
        rs.where(label_noise=0.3)


def test_result_set_where_does_not_match_booleans_to_numbers():
    results = _results(noises=(0, 1))
    with pytest.raises(ValueError, match="is not in the results"):
        ResultSet.from_results(results).where(label_noise=True)


def test_result_set_at_returns_the_single_cell(rs, results):
    cell = rs.at(label_noise=0.2, epochs=40, method="mlp")
    (expected,) = [c for c in results["cells"] if c["axes"] == {"label_noise": 0.2, "epochs": 40} and c["method"] == "mlp"]
    assert cell == expected


def test_result_set_at_names_axes_to_pin_when_ambiguous(rs):
    with pytest.raises(ValueError, match=r"matches 6 cells; also pin epochs \(one of 10, 40\), method \(one of 'logreg', 'mlp', 'mlp_es'\)"):
        rs.at(label_noise=0.2)


def test_result_set_comparison_returns_paired_row(rs):
    row = rs.comparison(label_noise=0.0, epochs=10, method="mlp_es")
    assert row["baseline"] == "logreg" and row["method"] == "mlp_es"
    with pytest.raises(ValueError, match="the baseline has none"):
        rs.comparison(label_noise=0.0, epochs=10, method="logreg")


def test_result_set_collapse_seed_mean_equals_cell_means(rs):
    means = rs.collapse("seed", "mean")
    assert means.name == "auroc"
    assert list(means.index.names) == ["label_noise", "epochs", "method"]
    for cell in rs.cells:
        key = (cell["axes"]["label_noise"], cell["axes"]["epochs"], cell["method"])
        assert means[key] == pytest.approx(cell["mean"], rel=1e-12)
    assert means.unstack("method").shape == (4, 3)


def test_result_set_collapse_axis_averages_over_it(rs):
    collapsed = rs.collapse("label_noise", "mean")
    assert list(collapsed.index.names) == ["epochs", "method", "seed"]
    low = rs.at(label_noise=0.0, epochs=10, method="mlp")["values"][3]
    high = rs.at(label_noise=0.2, epochs=10, method="mlp")["values"][3]
    assert collapsed[(10, "mlp", 3)] == pytest.approx((low + high) / 2)
    assert rs.collapse("seed", np.max)[(0.0, 10, "mlp")] == max(rs.at(label_noise=0.0, epochs=10, method="mlp")["values"])


def test_result_set_collapse_unknown_axis_raises(rs):
    with pytest.raises(ValueError, match="unknown axis 'lr'"):
        rs.collapse("lr", "mean")


def test_result_set_to_frame_long_form_has_one_row_per_seed(rs):
    frame = rs.to_frame()
    assert list(frame.columns) == ["label_noise", "epochs", "method", "seed", "value"]
    assert len(frame) == 12 * 5
    assert rs.to_series().loc[(0.2, 40, "mlp", 4)] == rs.at(label_noise=0.2, epochs=40, method="mlp")["values"][4]


def test_result_set_to_frame_cell_and_paired_levels(rs):
    cells = rs.to_frame("cell")
    assert list(cells.columns) == ["label_noise", "epochs", "method", "n", "mean", "ci_low", "ci_high", "std"]
    assert len(cells) == 12 and (cells["ci_low"] <= cells["mean"]).all()
    paired = rs.to_frame("paired")
    assert len(paired) == 8 and set(paired["verdict"]) <= {"better", "worse", "inconclusive"}
    with pytest.raises(ValueError, match="unknown level"):
        rs.to_frame("branch")


def test_result_set_without_axes_works():
    observations = [{"axes": {}, "method": m, "seed": s, "value": 0.5 + 0.1 * k + 0.01 * s} for k, m in enumerate(("a", "b")) for s in range(4)]
    agg = aggregate(observations, baseline="a", n_resamples=100)
    rs = ResultSet(agg["cells"], agg["paired"], statistics=agg["settings"])
    assert rs.axis_names == () and rs.at(method="b")["n"] == 4
    assert list(rs.collapse("seed", "mean").index) == ["a", "b"]
    assert "b" in format_table(rs, "table")


def test_format_table_text_has_cell_and_paired_sections(results):
    text = format_table(results, "table")
    assert "Cells: mean and confidence interval over seeds" in text
    assert "Paired differences vs baseline logreg (diff = method - baseline" in text
    header = next(line for line in text.splitlines() if line.startswith("label_noise") and "95% CI" in line and "mean" in line)
    assert header.split()[:5] == ["label_noise", "epochs", "method", "n", "mean"]
    assert len([line for line in text.splitlines() if line.startswith(("0.0 ", "0.2 "))]) == 12 + 8


def test_format_table_text_shows_dash_for_missing_interval():
    results = _results(seeds=1)
    text = format_table(results, "table")
    assert "—" in text and "nan" not in text.lower()
    assert "20 rows: n=1: a single seed gives no confidence interval" in text
    assert "- 20 rows: n=1" in format_table(results, "md")


def test_format_table_flags_an_interval_that_comes_from_the_metrics_resolution():
    # Accuracy 1.0 on every seed (a metric declaring 1/200): the interval is the resolution's, marked, and the note says why.
    observations = [
        {"axes": {}, "method": m, "seed": s, "value": v, "resolution": 0.005}
        for m, values in (("a", (0.97, 0.98, 0.985, 0.99)), ("b", (1.0,) * 4)) for s, v in enumerate(values)
    ]
    agg = aggregate(observations, baseline="a", bounds=(0.0, 1.0))
    rs = ResultSet(agg["cells"], agg["paired"], statistics=agg["settings"])
    text = format_table(rs, "table")
    flagged = [line for line in text.splitlines() if "‡" in line and not line.startswith("Notes")]
    assert len(flagged) == 1 and flagged[0].split()[0] == "b"
    assert "‡ one from the metric's resolution" in text and "1 row: all 4 values equal: zero spread" in text
    assert "‡" in format_table(rs, "md")
    assert "‡" not in format_table(_results(), "table")  # no tied row, no mark


def test_format_table_flags_a_tied_comparison_and_reads_its_sign_flip_p_not_its_interval():
    # b beats a by exactly one step on every seed: the row's interval (from the resolution) excludes 0,
    # but 4 equal differences are decided by the sign-flip test (p = 2/2^4), so: marked, inconclusive, no dagger.
    observations = [
        {"axes": {}, "method": m, "seed": s, "value": v + offset, "resolution": 0.005}
        for m, offset in (("a", 0.0), ("b", 0.005)) for s, v in enumerate((0.97, 0.98, 0.985, 0.99))
    ]
    agg = aggregate(observations, baseline="a", bounds=(0.0, 1.0))
    row = agg["paired"][0]
    assert row["ci_low"] > 0 and row["p_value"] == row["p_signflip"] == pytest.approx(0.125)
    text = format_table(ResultSet(agg["cells"], agg["paired"], statistics=agg["settings"]), "table")
    (line,) = [line for line in text.splitlines() if "‡" in line and not line.startswith("Notes")]
    assert line.split()[0] == "b" and line.split()[-1] == "inconclusive" and "†" not in line
    assert "1 row: all 4 values equal" in text


def test_format_table_csv_has_one_row_per_cell_with_paired_columns(results):
    frame = pd.read_csv(io.StringIO(format_table(results, "csv")))
    assert len(frame) == 12
    assert {"mean", "ci_low", "ci_high", "mean_diff", "diff_ci_low", "diff_ci_high", "p_improve", "verdict"} <= set(frame.columns)
    baseline_rows = frame[frame["method"] == "logreg"]
    assert baseline_rows["mean_diff"].isna().all()
    mlp = frame[(frame["method"] == "mlp") & (frame["label_noise"] == 0.2) & (frame["epochs"] == 40)].iloc[0]
    row = ResultSet.from_results(results).comparison(label_noise=0.2, epochs=40, method="mlp")
    assert mlp["mean_diff"] == row["mean_diff"] and mlp["paired_n"] == 5


def test_format_table_json_round_trips(results):
    assert json.loads(format_table(results, "json")) == results


def test_format_table_markdown_report_has_verdict_column(results):
    md = format_table(results, "md")
    assert md.startswith("# Results: demo\n")
    assert "**Metric:** auroc (higher is better)" in md and "`c0ffee`" in md
    assert "Does the MLP beat logistic regression?" in md
    paired_header = next(line for line in md.splitlines() if line.startswith("|") and "wins" in line)
    assert paired_header.rstrip(" |").endswith("verdict")
    verdicts = [line.rstrip(" |").rsplit("| ", 1)[1] for line in md.splitlines() if line.startswith("| 0.")]
    assert len([v for v in verdicts if v.rstrip("†*") in ("inconclusive", "better", "worse")]) == 8


def test_format_table_says_which_cells_share_their_resamples(results):
    assert "seeds resampled jointly" not in format_table(results, "md")  # aggregate's default: every axis point alone
    # Only a resampling method shares resamples; the default Student-t draws none.
    joint = dict(results, statistics={**results["statistics"], "method": "bca", "stream_axes": ["label_noise"]})
    assert "; seeds resampled jointly for every cell of a label_noise point" in format_table(joint, "md")
    assert "seeds resampled jointly for every cell of a label_noise point" in format_table(joint, "table")


def test_format_table_unknown_format_raises(results):
    with pytest.raises(ValueError, match="unknown format 'html'; valid: table, csv, json, md"):
        format_table(results, "html")


def test_query_all_lists_existing_public_names():
    assert set(query.__all__) == {"FORMATS", "ResultSet", "format_table", "metric_names", "metric_view"}
    assert FORMATS == ("table", "csv", "json", "md")


def _with(results, **settings):
    return dict(results, statistics={**results["statistics"], **settings})


def test_format_table_explains_every_comparison_column_and_the_correction(results):
    text = format_table(results, "table")
    header = next(line for line in text.splitlines() if line.startswith("label_noise") and "diff" in line)
    assert header.split()[-6:] == ["CI", "wins", "p", "p", "adj.", "verdict"]
    assert "P(improve)" not in text
    assert "Verdicts are family-wise: Holm's step-down correction at 5% over all 8 comparisons" in text
    for column in ("n:", "95% CI:", "wins:", "p:", "p adj.:", "†:", "*:"):
        assert any(line.strip().startswith(column) for line in text.splitlines()), column
    assert "a count, not a probability" in text
    none = format_table(_with(results, multiplicity="none"), "table")
    assert "Verdicts are per row, with no correction over the 8 comparisons" in none
    assert "Verdicts are family-wise" in format_table(results, "md")


def test_format_table_marks_verdicts_a_reader_could_misread(results):
    row = dict(results["paired"][0], verdict="inconclusive", verdict_per_row="better", wins=5.0, n=5)
    flipped = dict(results["paired"][1], verdict="better", verdict_per_row="better", wins=1.0, n=5)
    text = format_table(dict(results, paired=[row, flipped, *results["paired"][2:]]), "table")
    assert " inconclusive†" in text and " better*" in text
    assert " 1/5 " in text and " 5/5 " in text


def test_format_table_shows_declared_contrasts_and_exports_p_values():
    rng = np.random.default_rng(1)
    observations = [
        {"axes": {"label_noise": noise, "epochs": epoch}, "method": method, "seed": seed, "value": 0.8 + 0.01 * k + rng.normal(0, 0.01)}
        for noise in NOISES for epoch in EPOCHS for k, method in enumerate(METHODS) for seed in range(5)
    ]
    agg = aggregate(observations, baseline="logreg", n_resamples=200, contrasts=[{"kind": "axis", "axis": "epochs", "value": 40, "reference": 10}])
    results = dict(_results(), statistics=agg["settings"], cells=agg["cells"], paired=agg["paired"], contrasts=agg["contrasts"])
    text = format_table(results, "table")
    assert "Declared contrasts (diff = method - reference, same seeds)" in text
    assert "over all 14 comparisons" in text and "epochs=40 vs 10" in text
    assert "## Declared contrasts" in format_table(results, "md")
    frame = pd.read_csv(io.StringIO(format_table(results, "csv")))
    assert {"p_value", "p_adjusted", "wins", "verdict_per_row", "contrast"} <= set(frame.columns)
    assert len(frame) == 12 + 6 and frame["contrast"].notna().sum() == 6
    assert json.loads(format_table(results, "json"))["contrasts"][0]["p_adjusted"] is not None
    assert len(ResultSet.from_results(results).where(method="mlp").contrasts) == 2


@pytest.mark.parametrize(("method", "says", "never"), [("student-t", "paired t interval and t test", "resamples"), ("bca", "2000 resamples, seed", "paired t")])
def test_table_header_describes_the_interval_method_actually_used(method, says, never):
    observations = [{"axes": {}, "method": m, "seed": s, "value": 0.5 + 0.1 * k + 0.01 * s} for k, m in enumerate(("a", "b")) for s in range(4)]
    agg = aggregate(observations, baseline="a", method=method, n_resamples=2000)
    header = format_table(ResultSet(agg["cells"], agg["paired"], statistics=agg["settings"]), "table").splitlines()[0]
    assert says in header and never not in header, header
