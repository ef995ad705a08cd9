"""The run report: figures from a hand-built reference-shaped surface, the card, and ``axisflow report``."""

from __future__ import annotations

import base64
import json
import pickle
import re

import pytest

from components.outputs import report

from components import stats
from components.outputs.query import format_table

NOISE, EPOCHS, SEEDS = [0.0, 0.2, 0.4], [10, 40, 120], 5
ORANGE = "#ff7f0e"  # mlp_early_stop: the second non-baseline method in the report palette


def _stop(seed: int) -> int:
    """Epoch (0-based) at which mlp_early_stop's run for ``seed`` stops when its budget allows."""
    return 8 + 3 * seed


def _val_metric(noise: float, seed: int, epoch: int) -> float:
    return 0.9 - noise / 2 + 0.01 * seed - 0.0005 * epoch


def _history(noise: float, seed: int, length: int) -> dict[str, list[float]]:
    return {
        "epoch": [float(e) for e in range(length)],
        "train_loss": [0.7 * 0.97**e for e in range(length)],
        "val_metric": [_val_metric(noise, seed, e) for e in range(length)],
        "val_loss": [0.6 + 0.001 * e for e in range(length)],
    }


def _record(order: int, noise: float, seed: int) -> dict:
    """A branch record shaped like run_branch's: logreg once, both MLPs per epoch budget, early stops ragged."""
    trainings = [
        {
            "method": "logreg", "train_axes": {}, "seed": seed, "value": 0.93 - noise / 3 + 0.003 * seed,
            "val_score": 0.92, "info": {"epochs_run": 1},
            "history": {"epoch": [0.0], "train_loss": [0.3], "val_metric": [0.92 - noise / 3]},
        }
    ]
    for budget in EPOCHS:
        trainings.append(
            {
                "method": "mlp", "train_axes": {"epochs": budget}, "seed": seed,
                "value": 0.95 - noise * budget / 200 + 0.004 * seed, "val_score": 0.9,
                "info": {"epochs_run": budget}, "history": _history(noise, seed, budget),
            }
        )
        stopped = _stop(seed) + 1 < budget
        length = _stop(seed) + 1 if stopped else budget
        trainings.append(
            {
                "method": "mlp_early_stop", "train_axes": {"epochs": budget}, "seed": seed,
                "value": 0.94 - noise / 4 + 0.002 * seed + 0.001 * budget / 10, "val_score": 0.9,
                "info": {"epochs_run": length, "stopped_epoch": _stop(seed) if stopped else None},
                "history": _history(noise, seed, length),
            }
        )
    observations = []
    for budget in EPOCHS:
        for t in trainings:
            if t["train_axes"] in ({}, {"epochs": budget}):
                axes = {"label_noise": noise, "epochs": budget}
                observations.append({"axes": axes, "method": t["method"], "seed": seed, "value": t["value"]})
    return {
        "key": f"label_noise={noise},seed={seed}", "order": order, "data_axes": {"label_noise": noise},
        "seed_index": seed, "seed": 1000 + seed, "data_fingerprint": f"fp{order}",
        "trainings": trainings, "observations": observations, "counts": {}, "timing": {},
    }


@pytest.fixture(scope="module")
def reference():
    """(results, records) shaped like the reference investigation: 3 noise x 3 epoch budgets x 3 methods, 5 seeds."""
    records = [_record(i, noise, seed) for i, (noise, seed) in enumerate((n, s) for n in NOISE for s in range(SEEDS))]
    aggregate = stats.aggregate(
        [obs for r in records for obs in r["observations"]], baseline="logreg", method="student-t", n_resamples=200
    )
    results = {
        "schema": "axisflow.results/1", "experiment": "reference", "question": "Does early stopping rescue the MLP?",
        "contract": "order_independent", "config_hash": "abc123def4567890", "overrides": ["experiment=reference"],
        "axes": {"data": {"label_noise": NOISE}, "training": {"epochs": EPOCHS}},
        "metric": {"name": "auroc", "higher_is_better": True, "split": "test"}, "baseline": "logreg",
        "methods": ["logreg", "mlp", "mlp_early_stop"],
        "kinds": {"logreg": "axis_agnostic", "mlp": "axis_dependent", "mlp_early_stop": "axis_dependent"},
        "seeds": SEEDS, "plan": {"branches": 15, "trainings": 105}, "statistics": aggregate["settings"],
        "cells": aggregate["cells"], "paired": aggregate["paired"],
        "provenance": {"flow": "InvestigationFlow", "run_id": "42", "git": {"commit": "deadbeef", "dirty": False}},
    }
    return results, records


def _visible(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def _legend_labels(fig):
    return [text.get_text() for legend in fig.legends for text in legend.get_texts()]


def test_metric_label_names_the_split_and_the_metric(reference):
    results, _ = reference
    assert report.metric_label(results) == "test auroc"
    assert report.metric_label({"metric": {"name": "custom_score"}}) == "custom_score"


def test_forest_figure_has_a_panel_per_data_value_and_a_row_per_training_cell_and_method(reference):
    results, _ = reference
    fig = report.forest_figure(results)
    axes = _visible(fig)
    assert [ax.get_title() for ax in axes] == ["label_noise = 0.0", "label_noise = 0.2", "label_noise = 0.4"]
    labels = [t.get_text() for t in axes[0].get_yticklabels()]
    assert labels == [
        label for budget in EPOCHS for label in (f"epochs = {budget}", "mlp", "mlp_early_stop", "logreg (baseline)")
    ]
    assert all(ax.get_xlabel() == "test auroc (higher is better)" for ax in axes)
    assert {"mean with 95% CI", "per-seed value", "baseline (logreg) CI"} <= set(_legend_labels(fig))
    # One mean marker per cell: 9 rows of data per panel, each drawn as an errorbar.
    assert all(len(ax.containers) == 9 for ax in axes)


def test_forest_figure_places_each_mean_on_its_row(reference):
    results, _ = reference
    axes = _visible(report.forest_figure(results))
    cell = next(c for c in results["cells"] if c["axes"] == {"label_noise": 0.4, "epochs": 40} and c["method"] == "mlp")
    row = [t.get_text() for t in axes[0].get_yticklabels()].index("mlp", 4)  # panels share rows; epochs = 40 group
    ax = axes[2]
    points = [(float(x), float(y)) for c in ax.containers for x, y in zip(*c.lines[0].get_data())]
    assert (pytest.approx(cell["mean"]), row) in [(x, y) for x, y in points]


def test_forest_figure_without_a_training_axis_has_one_unlabelled_group(reference):
    results, _ = reference
    cells = [{**c, "axes": {"label_noise": c["axes"]["label_noise"]}} for c in results["cells"] if c["axes"]["epochs"] == 40]
    flat = {**results, "axes": {"data": {"label_noise": NOISE}, "training": {}}, "cells": cells}
    axes = _visible(report.forest_figure(flat))
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["mlp", "mlp_early_stop", "logreg (baseline)"]


def test_paired_figure_colours_rows_by_verdict_and_keeps_zero_in_view(reference):
    results, _ = reference
    fig = report.paired_figure(results)
    axes = _visible(fig)
    assert len(axes) == 3
    assert [t.get_text() for t in axes[0].get_yticklabels()] == [
        label for budget in EPOCHS for label in (f"epochs = {budget}", "mlp", "mlp_early_stop")
    ]
    for ax in axes:
        low, high = ax.get_xlim()
        assert low < 0 < high
        assert any(list(line.get_xdata()) == [0, 0] for line in ax.lines), "no vertical line at 0"
        assert "method − logreg" in ax.get_xlabel() and "test auroc" in ax.get_xlabel()
    verdicts = {p["verdict"] for p in results["paired"]}
    assert len(verdicts) > 1, "fixture should exercise more than one verdict"
    names = report._verdict_names(results)
    assert {names[v] for v in verdicts} <= set(_legend_labels(fig))
    colours = {p["verdict"]: report._VERDICT_STYLE[p["verdict"]][0] for p in results["paired"]}
    drawn = {c.lines[0].get_color() for ax in axes for c in ax.containers}
    assert drawn == set(colours.values())


def test_paired_legend_says_what_the_verdict_colour_means(reference):
    """Colours follow the family-wise verdict, so the legend must not claim "CI excludes 0" under a correction."""
    results, _ = reference
    for multiplicity, expected in (("holm", "after Holm"), ("bonferroni", "after Bonferroni"), ("none", "CI excludes 0")):
        flagged = {**results, "statistics": {**results["statistics"], "multiplicity": multiplicity}}
        labels = _legend_labels(report.paired_figure(flagged))
        assert any(expected in label for label in labels), labels
        if multiplicity != "none":
            assert not any("CI excludes 0" in label for label in labels), labels


def test_learning_curve_figure_has_series_rows_and_data_value_columns(reference):
    results, records = reference
    fig = report.learning_curve_figure(results, records)
    axes = _visible(fig)
    assert len(axes) == 6
    assert [ax.get_ylabel() for ax in axes] == ["validation auroc"] * 3 + ["training loss"] * 3
    assert [ax.get_title() for ax in axes[:3]] == ["label_noise = 0.0", "label_noise = 0.2", "label_noise = 0.4"]
    assert all(ax.get_xlabel() == "epochs trained" for ax in axes[3:])
    labels = _legend_labels(fig)
    assert {"mlp", "mlp_early_stop", "logreg: one fit, final validation value", "epochs = 10", "epochs = 120"} <= set(labels)
    assert "a run stopped (its last value)" in labels and "mean of the seeds still running (≥ half)" in labels


def test_learning_curve_figure_marks_every_early_stop(reference):
    results, records = reference
    ax = _visible(report.learning_curve_figure(results, records))[0]
    crosses = [line for line in ax.lines if line.get_marker() == "x"]
    expected = sum(_stop(s) + 1 < budget for budget in EPOCHS for s in range(SEEDS))
    assert len(crosses) == expected == 11
    # Each cross sits at the stopped run's own last epoch and value.
    assert (float(_stop(0) + 1), pytest.approx(_val_metric(0.0, 0, _stop(0)))) in [
        (float(line.get_xdata()[0]), float(line.get_ydata()[0])) for line in crosses
    ]


def test_learning_curve_figure_averages_only_the_seeds_still_running(reference):
    results, records = reference
    ax = _visible(report.learning_curve_figure(results, records))[0]
    mine = [line for line in ax.lines if line.get_color() == ORANGE and line.get_linestyle() == "--" and line.get_marker() != "x"]
    solid, faint = sorted(mine, key=lambda line: line.get_alpha() or 1.0, reverse=True)
    # Solid while all five seeds run (epochs 1..9), faint after, ending where fewer than half remain.
    assert list(solid.get_xdata()) == list(range(1, _stop(0) + 2))
    assert faint.get_xdata()[-1] == _stop(2) + 1
    for x, y in zip(faint.get_xdata(), faint.get_ydata()):
        running = [s for s in range(SEEDS) if _stop(s) >= x - 1]
        assert y == pytest.approx(sum(_val_metric(0.0, s, x - 1) for s in running) / len(running))


def test_learning_curve_figure_draws_one_fit_methods_as_a_level_only_on_validation_rows(reference):
    results, records = reference
    axes = _visible(report.learning_curve_figure(results, records))
    level = [line for line in axes[0].lines if line.get_color() == report._BASELINE_COLOUR]
    assert len(level) == 1 and list(level[0].get_ydata()) == pytest.approx([0.92, 0.92])
    assert not [line for line in axes[3].lines if line.get_color() == report._BASELINE_COLOUR]


def test_report_figures_skip_learning_curves_without_per_epoch_history(reference):
    results, records = reference
    assert list(report.report_figures(results, records)) == list(report.FIGURES)
    flat = [{**r, "trainings": [{**t, "history": {}} for t in r["trainings"]]} for r in records]
    assert list(report.report_figures(results, flat)) == ["forest", "paired"]
    assert list(report.report_figures(results)) == ["forest", "paired"]


def test_card_components_leave_results_and_records_unchanged(reference):
    results, records = reference
    before = pickle.dumps((results, records))
    report.card_components(results, records)
    assert pickle.dumps((results, records)) == before


def test_card_components_hold_header_tables_figures_and_provenance(reference):
    from metaflow.cards import Image, Markdown

    results, records = reference
    parts = report.card_components(results, records)
    text = "\n".join(p._text for p in parts if isinstance(p, Markdown))
    for needle in ("# Results: reference", "**Contract:** order_independent", "**Seeds:** 5", "`abc123def4567890`",
                   "## Paired differences vs logreg", "## Provenance", "commit=deadbeef"):
        assert needle in text
    assert _table_lines(results) <= set(text.splitlines())
    images = [p for p in parts if isinstance(p, Image)]
    assert len(images) == 3 and all(str(p._src).startswith("data:image/png;base64,") for p in images)


def test_card_components_note_a_figure_that_fails_instead_of_raising(reference, monkeypatch, capsys):
    from metaflow.cards import Image, Markdown

    results, records = reference

    def broken(_results):
        raise RuntimeError("no ink")

    monkeypatch.setattr(report, "forest_figure", broken)
    parts = report.card_components(results, records)
    assert any(isinstance(p, Markdown) and "`forest` could not be drawn: RuntimeError: no ink" in p._text for p in parts)
    assert len([p for p in parts if isinstance(p, Image)]) == 2
    assert "report figure forest failed" in capsys.readouterr().err


def test_save_figures_writes_one_png_per_figure(reference, tmp_path):
    results, records = reference
    paths = report.save_figures(report.report_figures(results, records), tmp_path / "out", dpi=60)
    assert [p.name for p in paths] == ["forest.png", "paired.png", "learning_curves.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)


def _table_lines(results) -> set[str]:
    """The Markdown table rows :func:`format_table` prints for ``results``."""
    return {line for line in format_table(results, "md").splitlines() if line.startswith("| ")}


def _card_data(html: str) -> dict:
    """The component tree a Metaflow card HTML embeds (base64 JSON)."""
    encoded = re.search(r'window\.__MF_DATA__\["[^"]+"\] = "([A-Za-z0-9+/=]+)"', html).group(1)
    return json.loads(base64.b64decode(encoded))


def _components(node):
    if isinstance(node, dict):
        yield node
        for key in ("components", "contents"):
            for child in node.get(key) or ():
                yield from _components(child)


@pytest.mark.slow
def test_end_step_report_card_shows_tables_figures_and_provenance(smoke_run, monkeypatch):
    from metaflow.cards import get_cards

    monkeypatch.chdir(smoke_run.datastore_root)  # the card client reads the datastore the working directory points at
    task = smoke_run.run["end"].task
    cards = get_cards(task, id="report")
    assert len(cards) == 1
    components = list(_components(_card_data(cards[0].get())))
    markdown = "\n".join(c["source"] for c in components if c.get("type") == "markdown")
    assert _table_lines(task.data.results) <= set(markdown.splitlines())
    assert "## Provenance" in markdown and f"**run_id:** {smoke_run.run.id}" in markdown
    images = [c for c in components if c.get("type") == "image"]
    # forest, paired, learning curves, and the smoke run is binary: one confusion figure per method.
    assert len(images) == 3 + len(task.data.results["methods"]) and all(c["src"].startswith("data:image/png;base64,") for c in images)


@pytest.mark.slow
def test_report_cli_writes_pngs_and_markdown_of_a_run(smoke_run, monkeypatch, tmp_path, capsys):
    from components.cli import main

    monkeypatch.chdir(smoke_run.datastore_root)
    out = tmp_path / "report"
    assert main(["report", "--run", smoke_run.run.id, "--out", str(out), "--dpi", "60"]) == 0
    confusion = [f"confusion_{m}.png" for m in smoke_run.run["end"].task.data.results["methods"]]
    assert sorted(p.name for p in out.iterdir()) == sorted([report.OUT_MARKER, "forest.png", "learning_curves.png", "paired.png", "report.md", *confusion])
    markdown = (out / "report.md").read_text()
    assert "![forest](forest.png)" in markdown and "![confusion_mlp](confusion_mlp.png)" in markdown
    assert markdown.index("## Per-class results on the test split") < markdown.index("## Figures")
    printed = capsys.readouterr().out
    assert str(out / "forest.png") in printed and "card: " in printed



@pytest.mark.slow
def test_smoke_confusion_figures_count_what_the_records_hold_summed_over_seeds(smoke_run):
    import numpy as np

    results, records = smoke_run.run["end"].task.data.results, smoke_run.run["join"].task.data.records
    assert list(report.confusion_names(results).values()) == results["methods"]
    for method in results["methods"]:
        fig = report.confusion_figure(results, method)
        panels = {ax.get_title(): ax for ax in fig.axes if ax.get_visible() and ax.get_images()}
        assert len(panels) == len(results["cells"]) // len(results["methods"])
        for row in (r for r in results["per_class"] if r["method"] == method):
            arms = [
                t["confusion"]["counts"] for r in records if r["data_axes"]["label_noise"] == row["axes"]["label_noise"]
                for t in r["trainings"] if t["method"] == method and t["train_axes"].get("epochs", row["axes"]["epochs"]) == row["axes"]["epochs"]
            ]
            panel = panels[f"label_noise = {row['axes']['label_noise']}, epochs = {row['axes']['epochs']}"]
            assert len(arms) == results["seeds"] and [t.get_text() for t in panel.texts] == [str(v) for v in np.sum(arms, axis=0).ravel()]


class _FakeRun:
    """Just what ``axisflow report`` reads from a run: the ``end`` task's results and records."""

    id, pathspec = "7", "InvestigationFlow/7"

    def __init__(self, results, records):
        self.task = _FakeTask(results, records)

    def __getitem__(self, step):
        return type("Step", (), {"task": self.task})()


class _FakeTask:
    def __init__(self, results, records):
        self.data = type("Data", (), {"results": results, "records": records})()

    def __contains__(self, name):
        return name == "records"


@pytest.fixture
def report_cli(reference, monkeypatch, capsys):
    """``axisflow report --out OUT`` against the hand-built reference run; returns (exit status, stderr)."""
    from components.cli import main
    from components.outputs import runs

    monkeypatch.setattr(runs, "find_run", lambda flow, run_id, experiment: _FakeRun(*reference))

    def invoke(out):
        capsys.readouterr()
        status = main(["report", "--out", str(out), "--dpi", "40"])
        return status, capsys.readouterr().err

    return invoke


REPORT_FILES = ["forest.png", "learning_curves.png", "paired.png", "report.md"]


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


def test_report_out_into_a_new_folder_marks_it_and_may_rewrite_its_own_files(report_cli, tmp_path):
    out = tmp_path / "new" / "report"
    assert report_cli(out) == (0, "")
    assert _listing(out) == sorted([report.OUT_MARKER, *REPORT_FILES])
    assert json.loads((out / report.OUT_MARKER).read_text())["files"] == REPORT_FILES
    (out / "report.md").write_text("stale")
    assert report_cli(out) == (0, "")
    assert (out / "report.md").read_text().startswith("# Results: reference") and _listing(out) == sorted([report.OUT_MARKER, *REPORT_FILES])


def test_report_out_into_an_empty_existing_folder_is_claimed(report_cli, tmp_path):
    assert report_cli(tmp_path)[0] == 0 and _listing(tmp_path) == sorted([report.OUT_MARKER, *REPORT_FILES])


def test_report_out_never_overwrites_a_users_report_in_an_existing_folder(report_cli, tmp_path):
    (tmp_path / "report.md").write_text("my own notes\n")
    status, err = report_cli(tmp_path)
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(f"axisflow: error: --out {tmp_path} exists and axisflow report did not create it (no {report.OUT_MARKER} in it)")
    assert _listing(tmp_path) == ["report.md"] and (tmp_path / "report.md").read_text() == "my own notes\n"


def test_report_out_pointing_at_an_existing_file_is_refused(report_cli, tmp_path):
    target = tmp_path / "report.md"
    target.write_text("mine\n")
    for out in (target, tmp_path / "dangling"):
        if out.name == "dangling":
            out.symlink_to(tmp_path / "nowhere")
        status, err = report_cli(out)
        assert status == 2 and err == f"axisflow: error: --out {out} is a file, not a folder; name a new folder for the report\n"
    assert target.read_text() == "mine\n" and not (tmp_path / "nowhere").exists()


def test_report_out_refuses_a_file_its_marker_does_not_list(report_cli, tmp_path):
    (tmp_path / report.OUT_MARKER).write_text(json.dumps({"written_by": "axisflow report", "files": ["report.md"]}))
    (tmp_path / "forest.png").write_bytes(b"someone else's figure")
    status, err = report_cli(tmp_path)
    assert status == 2 and err.startswith(f"axisflow: error: --out {tmp_path}/forest.png exists and axisflow report did not write it")
    assert (tmp_path / "forest.png").read_bytes() == b"someone else's figure" and _listing(tmp_path) == [report.OUT_MARKER, "forest.png"]


def test_save_figures_leaves_no_temporary_file(reference, tmp_path):
    results, records = reference
    report.save_figures(report.report_figures(results, records), tmp_path, dpi=40)
    assert _listing(tmp_path) == ["forest.png", "learning_curves.png", "paired.png"]


@pytest.mark.parametrize(("value", "message"), [("100000", "100000 is outside 10-600"), ("5", "5 is outside 10-600"), ("high", "'high' is not a whole number")])
def test_report_dpi_out_of_range_is_one_line_before_any_figure(value, message, capsys):
    import argparse

    from components.outputs.report import register

    parser = argparse.ArgumentParser(prog="axisflow")
    register(parser.add_subparsers())
    with pytest.raises(SystemExit) as info:
        parser.parse_args(["report", "--dpi", value])
    assert info.value.code == 2 and message in capsys.readouterr().err
