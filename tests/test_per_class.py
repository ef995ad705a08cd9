"""Per-class results: the confusion matrix of one arm, its place in the records, and the per-class block of ``results``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import precision_score, recall_score

from components.schema import check_record, check_results
from components.spec.confusion import DEFAULT_THRESHOLD, confusion_matrix, decision, predicted_classes, rates
from components.spec.seams import Dataset, SeamError, check_dataset

# scikit-learn's logistic regression on the bundled digits, three folds of one replicate: a multiclass run in seconds.
DIGITS = (
    "experiment=tabular_cv_smoke", "data=digits", "method=[logreg_scaled]", "experiment.seeds=1", "experiment.axes.data.fold=[0,1,2]",
    "~experiment.secondary_metrics.brier",  # binary only; the digits have ten classes
)


def test_confusion_matrix_matches_sklearn_for_a_binary_threshold():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=500)
    probability = rng.random(500)
    for threshold in (0.3, 0.5, 0.8):
        predicted = predicted_classes(probability, threshold)
        expected = sk_confusion_matrix(labels, (probability >= threshold).astype(int), labels=[0, 1])
        assert confusion_matrix(predicted, labels, 2).tolist() == expected.tolist()
        # Both columns of a binary prediction: the second (class 1) is compared with the threshold.
        both = np.column_stack([1 - probability, probability])
        assert predicted_classes(both, threshold).tolist() == predicted.tolist()


def test_confusion_matrix_matches_sklearn_for_a_multiclass_argmax_with_a_class_absent_from_the_test_split():
    rng = np.random.default_rng(1)
    k = 5
    labels = rng.choice([0, 1, 3, 4], size=400)  # class 2 is absent from the test split
    probabilities = rng.dirichlet(np.ones(k), size=400)
    predicted = predicted_classes(probabilities, None)
    matrix = confusion_matrix(predicted, labels, k)
    assert matrix.tolist() == sk_confusion_matrix(labels, probabilities.argmax(axis=1), labels=list(range(k))).tolist()
    assert matrix[2].tolist() == [0] * k and matrix.sum() == 400 and matrix.dtype == np.int64
    recall, precision = rates(matrix)
    assert math.isnan(recall[2])
    present = [0, 1, 3, 4]
    assert recall[present].tolist() == pytest.approx(recall_score(labels, predicted, labels=present, average=None).tolist())
    assert precision.tolist() == pytest.approx(precision_score(labels, predicted, labels=list(range(k)), average=None, zero_division=0).tolist())


def test_a_class_never_predicted_has_no_precision_rather_than_zero():
    recall, precision = rates([[3, 0, 1], [2, 0, 2], [0, 0, 4]])
    assert recall.tolist() == [0.75, 0.0, 1.0]
    assert precision[0] == 0.6 and math.isnan(precision[1]) and precision[2] == pytest.approx(4 / 7)


def test_confusion_matrix_refuses_ids_outside_the_classes():
    with pytest.raises(ValueError, match=r"labels range 0\.\.3, outside 0\.\.2"):
        confusion_matrix([0, 1, 2], [0, 3, 1], 3)
    with pytest.raises(ValueError, match="argmax needs class probabilities"):
        predicted_classes([0.2, 0.9], None)


def test_the_decision_uses_the_metrics_threshold_or_says_it_used_the_default():
    assert decision("binary", {"name": "accuracy", "threshold": 0.7}) == (0.7, "class 1 when its probability is at least 0.7 (the metric's threshold)")
    threshold, words = decision("binary", {"name": "auroc"})
    assert threshold == DEFAULT_THRESHOLD and "declares no threshold" in words
    assert decision("multiclass", {"threshold": 0.7}) == (None, "the class of highest probability (argmax)")


def _dataset(task="multiclass", n_classes=3, classes=None):
    X = np.zeros((4, 2), dtype=np.float32)
    y = np.array([0, 1, 2, 0]) if task == "multiclass" else np.zeros(4, dtype=np.float32)
    return Dataset(task, X, y, X, y, X, y, n_classes=n_classes, classes=classes)


def test_a_dataset_names_each_class_once_or_not_at_all():
    check_dataset(_dataset(classes=("a", "b", "c")))
    with pytest.raises(SeamError, match=r"classes has 2 names \(2 distinct\) for n_classes=3"):
        check_dataset(_dataset(classes=("a", "b")))
    with pytest.raises(SeamError, match="classes has 3 names .2 distinct."):
        check_dataset(_dataset(classes=("a", "b", "a")))
    with pytest.raises(SeamError, match="tuple of class names"):
        check_dataset(_dataset(classes=(0, 1, 2)))
    with pytest.raises(SeamError, match="a regression dataset has none"):
        check_dataset(_dataset("regression", None, classes=("a",)))


@pytest.fixture(scope="module")
def digits():
    """``(config, records, results)`` of the multiclass digits run, in process (no flow)."""
    from components.engine.branch import run_branch
    from components.engine.surface import aggregate_records, build_results, plan_run
    from components.spec.config import compose

    config = compose(list(DIGITS))
    _, planned = plan_run(config)
    records = [run_branch(config, branch, log=lambda _: None) for branch in planned]
    return config, records, build_results(config, records, aggregate_records(config, records), {})


def test_a_multiclass_arm_records_its_confusion_matrix_on_the_test_split(digits):
    _, records, _ = digits
    for record in records:
        check_record(record)
        (training,) = record["trainings"]
        confusion = training["confusion"]
        assert confusion["classes"] == [str(d) for d in range(10)] and confusion["threshold"] is None
        counts = np.array(confusion["counts"])
        # The digits have 1,797 rows; a third of them is each fold's test split. Accuracy is the matrix's diagonal share.
        assert counts.shape == (10, 10) and counts.sum() in (599, 600)
        assert np.trace(counts) / counts.sum() == training["value"]


def test_per_class_results_sum_the_records_matrices_and_summarise_each_folds_rates(digits):
    _, records, results = digits
    check_results(results)
    (row,) = results["per_class"]
    assert (row["method"], row["axes"], row["arms"], row["threshold"]) == ("logreg_scaled", {}, 3, None)
    expected = np.sum([r["trainings"][0]["confusion"]["counts"] for r in records], axis=0)
    assert row["confusion"] == expected.tolist() and expected.sum() == 1797
    for c, recall in enumerate(row["recall"]):
        per_fold = [rates(r["trainings"][0]["confusion"]["counts"])[0][c] for r in records]
        assert recall["fold_values"] == [per_fold] and recall["mean"] == pytest.approx(np.mean(per_fold))
        assert recall["ci_low"] is None or recall["ci_low"] <= recall["mean"] <= recall["ci_high"]
    assert len(row["precision"]) == 10 and all(p["n"] == 1 for p in row["precision"])


def test_regression_results_have_no_per_class_block():
    from components.engine.branch import run_branch
    from components.engine.per_class import per_class_rows
    from components.spec.config import load_spec
    from components.engine.planner import branches

    config, spec = load_spec(["experiment=sample_size_smoke", "experiment.seeds=1", "experiment.axes.data.n_train=[40]", "method=[ridge]"])
    record = run_branch(config, branches(spec)[0], log=lambda _: None)
    assert "confusion" not in record["trainings"][0]
    assert per_class_rows(spec, [record]) is None


def _binary_records(spec, seeds=3):
    """Hand-made records of the smoke experiment's logreg only (axis-agnostic: one arm per branch)."""
    from components.engine.planner import branches

    out = []
    for i, branch in enumerate(b for b in branches(spec) if b["seed_index"] < seeds):
        training = {"method": "logreg", "train_axes": {}, "seed": 1, "value": 0.5, "val_score": 0.5, "info": {}, "history": {}}
        training["confusion"] = {"classes": ["no", "yes"], "counts": [[5 + i, 1], [2, 4 + branch["seed_index"]]], "threshold": 0.5}
        out.append({"key": branch["key"], "data_axes": branch["data_axes"], "seed_index": branch["seed_index"], "trainings": [training]})
    return out


def _smoke_logreg():
    from components.spec.config import load_spec

    return load_spec(["experiment=smoke", "method=[logreg]", "experiment.axes.data.label_noise=[0.0]"])[1]


def test_a_failed_arm_is_left_out_of_the_sum_and_counted_as_dropped():
    from components.engine.per_class import per_class_rows

    spec = _smoke_logreg()
    records = _binary_records(spec)
    failed = records[1]["trainings"][0]
    del failed["confusion"]
    failed["failure"] = "planted"
    rows = per_class_rows(spec, records)
    assert rows is not None and len(rows) == len(spec.training_axes["epochs"])  # the axis-agnostic arm serves every epochs cell
    for row in rows:
        assert row["arms"] == 2 and row["confusion"] == [[5 + 7, 2], [4, 4 + 6]]
        assert [r["n"] for r in row["recall"]] == [2, 2] and [r["n_dropped"] for r in row["recall"]] == [1, 1]
        assert row["recall"][1]["values"] == [4 / 6, 6 / 8]


def test_arms_of_one_cell_that_name_different_classes_are_refused():
    from components.engine.per_class import per_class_rows

    spec = _smoke_logreg()
    records = _binary_records(spec)
    records[2]["trainings"][0]["confusion"]["classes"] = ["yes", "no"]
    with pytest.raises(ValueError, match="arms name different classes .no, yes vs yes, no."):
        per_class_rows(spec, records)


def test_a_reused_arm_copies_its_confusion_matrix_and_verify_compares_it():
    from components.engine.planner import trainings
    from components.engine.reuse import check_reused, reused_training

    spec = _smoke_logreg()
    (source,) = _binary_records(spec, seeds=1)[0]["trainings"]
    arm = {"reused": {"training": source, "data_fingerprint": "f", "run": "F/1", "task": "F/1/branch/2"}}
    copy = reused_training(arm, trainings(spec)[0])
    assert copy["confusion"] == source["confusion"] and copy["confusion"]["counts"] is not source["confusion"]["counts"]
    check_reused(arm, copy, "f", "k")
    copy["confusion"]["counts"][0][0] += 1
    with pytest.raises(RuntimeError, match="method logreg, training axes none: confusion differs"):
        check_reused(arm, copy, "f", "k")


# --- Exports: the per-class tables and the long (per-seed, per-fold) CSV --------------------------------------


def test_per_class_csv_has_a_row_per_class_with_its_rates_and_its_row_of_the_summed_matrix(digits):
    import io

    import pandas as pd

    from components.outputs.query import format_table

    _, _, results = digits
    (row,) = results["per_class"]
    frame = pd.read_csv(io.StringIO(format_table(results, "csv", per_class=True)))
    assert frame["class"].tolist() == list(range(10)) and set(frame["method"]) == {"logreg_scaled"}
    assert frame[[f"predicted:{c}" for c in range(10)]].to_numpy().tolist() == row["confusion"]
    assert frame["support"].tolist() == [sum(r) for r in row["confusion"]]
    assert frame["predicted"].tolist() == [sum(col) for col in zip(*row["confusion"])]
    assert frame["recall"].tolist() == pytest.approx([r["mean"] for r in row["recall"]])
    assert frame["precision_ci_low"].tolist() == pytest.approx([p["ci_low"] if p["ci_low"] is not None else math.nan for p in row["precision"]], nan_ok=True)


def test_long_csv_has_one_row_per_seed_and_fold_with_the_value_the_cell_was_computed_from(digits):
    import io

    import pandas as pd

    from components.outputs.query import format_table

    _, records, results = digits
    frame = pd.read_csv(io.StringIO(format_table(results, "csv", long=True)))
    assert list(frame.columns) == ["method", "seed", "fold", "value"]
    expected = sorted((r["seed_index"], r["data_axes"]["fold"], r["observations"][0]["value"]) for r in records)
    assert sorted(frame[["seed", "fold", "value"]].itertuples(index=False, name=None)) == expected
    per_class = pd.read_csv(io.StringIO(format_table(results, "csv", long=True, per_class=True)))
    assert list(per_class.columns) == ["method", "seed", "fold", "class", "recall", "precision"] and len(per_class) == 3 * 10
    for record in records:
        recall, precision = rates(record["trainings"][0]["confusion"]["counts"])
        mine = per_class[per_class["fold"] == record["data_axes"]["fold"]].sort_values("class")
        assert mine["recall"].tolist() == pytest.approx(recall.tolist()) and mine["precision"].tolist() == pytest.approx(precision.tolist())


def test_long_csv_without_folds_lists_each_seed_of_each_cell():
    import io

    import pandas as pd

    from components.outputs.query import format_table

    cells = [
        {"axes": {"noise": 0.1}, "method": m, "n": 2, "mean": 0.5, "std": 0.1, "ci_low": None, "ci_high": None, "seeds": [0, 1], "values": [0.4, 0.6]}
        for m in ("a", "b")
    ]
    results = {"cells": cells, "paired": [], "axes": {"data": {"noise": [0.1]}, "training": {}}, "statistics": {"confidence": 0.95}}
    frame = pd.read_csv(io.StringIO(format_table(results, "csv", long=True)))
    assert frame.to_dict("list") == {"noise": [0.1] * 4, "method": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1], "value": [0.4, 0.6, 0.4, 0.6]}


def test_per_class_text_and_markdown_say_how_a_class_was_predicted_and_show_the_matrix(digits):
    from components.outputs.query import format_table

    _, _, results = digits
    (row,) = results["per_class"]
    text = format_table(results, "table", per_class=True)
    assert "predicted class: the class of highest probability (argmax)" in text
    assert "method logreg_scaled (3 arms)" in text and "true \\ predicted" in text
    first = " ".join(str(v) for v in row["confusion"][0])
    assert any(" ".join(line.split()[1:]) == first for line in text.splitlines() if line.startswith("0 ")), text
    md = format_table(results, "md", per_class=True)
    assert md.startswith("# Per-class results: tabular_cv_smoke") and f"| 0 | {' | '.join(str(v) for v in row['confusion'][0])} |" in md


def test_per_class_and_long_refuse_what_they_cannot_show_in_one_line(digits):
    from components.outputs.query import format_table

    _, _, results = digits
    with pytest.raises(ValueError, match="--long lists every observation as rows; use it with --format csv or json, not table"):
        format_table(results, "table", long=True)
    regression = {**results, "task": "regression"}
    del regression["per_class"]
    with pytest.raises(ValueError, match="is a regression task; per-class results exist for binary and multiclass tasks only"):
        format_table(regression, "csv", per_class=True)
    older = {**regression, "task": "binary", "schema": "axisflow.results/5"}
    with pytest.raises(ValueError, match=r"results \(axisflow.results/5\) predate per-class results"):
        format_table(older, "table", per_class=True)


# --- Formats on hand-built records: a binary run without folds, and a naive-CV long export -------------------


def _hand_built(counts_by_seed=None):
    """``(spec, records, results)`` of the smoke logreg over three seeds, records made by hand (no training)."""
    from components.engine.per_class import per_class_rows

    spec = _smoke_logreg()
    records = _binary_records(spec)
    for record, counts in zip(records, counts_by_seed or ()):
        record["trainings"][0]["confusion"]["counts"] = counts
    results = {
        "experiment": "smoke", "task": "binary", "cells": [], "paired": [],
        "axes": {"data": dict(spec.data_axes), "training": dict(spec.training_axes)},
        "statistics": {**spec.statistics, "seed": 0}, "per_class": per_class_rows(spec, records),
    }
    return spec, records, results


def test_long_per_class_csv_without_folds_has_a_row_per_cell_seed_and_class_with_that_arms_rates():
    import io

    import pandas as pd

    from components.outputs.query import format_table

    spec, records, results = _hand_built()
    frame = pd.read_csv(io.StringIO(format_table(results, "csv", long=True, per_class=True)))
    assert list(frame.columns) == ["label_noise", "epochs", "method", "seed", "class", "recall", "precision"]
    # The axis-agnostic logreg serves both epochs cells: 2 cells x 3 seeds x 2 classes, each the rates of that seed's record.
    assert len(frame) == 2 * 3 * 2 and sorted(set(frame["epochs"])) == spec.training_axes["epochs"]
    for record in records:
        recall, precision = rates(record["trainings"][0]["confusion"]["counts"])
        for epochs in spec.training_axes["epochs"]:
            mine = frame[(frame["seed"] == record["seed_index"]) & (frame["epochs"] == epochs)].sort_values("class")
            assert mine["class"].tolist() == ["no", "yes"] and set(mine["label_noise"]) == {0.0}
            assert mine["recall"].tolist() == pytest.approx(recall.tolist()) and mine["precision"].tolist() == pytest.approx(precision.tolist())


def test_per_class_csv_and_json_of_a_binary_run_agree_with_the_summed_matrix():
    import io
    import json

    import pandas as pd

    from components.outputs.query import format_table

    _, records, results = _hand_built()
    summed = np.sum([r["trainings"][0]["confusion"]["counts"] for r in records], axis=0).tolist()
    frame = pd.read_csv(io.StringIO(format_table(results, "csv", per_class=True)))
    assert len(frame) == 2 * 2 and frame["class"].tolist() == ["no", "yes", "no", "yes"]
    for _, cell in frame.groupby("epochs"):
        assert cell[["predicted:no", "predicted:yes"]].to_numpy().tolist() == summed
        assert cell["support"].tolist() == [sum(r) for r in summed] and set(cell["threshold"]) == {0.5}
        assert cell["recall_n"].tolist() == [3, 3] and (cell["recall_ci_low"] <= cell["recall"]).all()
    block = json.loads(format_table(results, "json", per_class=True))
    assert block == {"experiment": "smoke", "per_class": json.loads(json.dumps(results["per_class"]))}
    long_json = json.loads(format_table(results, "json", long=True, per_class=True))
    long_csv = pd.read_csv(io.StringIO(format_table(results, "csv", long=True, per_class=True)))
    pd.testing.assert_frame_equal(pd.DataFrame(long_json), long_csv)


def test_per_class_text_and_markdown_of_a_binary_run_show_each_cells_matrix_and_note_a_flat_rate():
    from components.outputs.query import format_table

    # Class "no" is always predicted right and "yes" never predicted wrongly: recall of "no" and precision of "yes"
    # are 1 on every seed, which has no interval and a note of its own.
    _, _, results = _hand_built([[[5, 0], [2, 4]], [[6, 0], [1, 5]], [[7, 0], [3, 3]]])
    text = format_table(results, "table", per_class=True)
    for epochs in (2, 4):
        title = f"label_noise=0.0, epochs={epochs}, method logreg (3 arms)"
        block = text.split(title, 1)[1].splitlines()
        assert [" ".join(line.split()) for line in block[3:5]] == ["no 18 0", "yes 6 12"]
    assert "(the metric declares no threshold)" in text.splitlines()[1]
    assert "4 rates: all 3 values equal: no interval (a zero-width one would claim certainty)" in text
    assert "resolution" not in text  # the cells' advice does not apply to a rate
    md = format_table(results, "md", per_class=True)
    # Precision of "no" is the mean of the seeds' 5/7, 6/7 and 7/10, not the pooled 18/24.
    assert "| 0.0 | 2 | logreg | no | 3 | 18 | 1.000 | — | 0.757 | [" in md and "| 0.0 | 2 | logreg | yes | 3 | 18 | 0.667 | [" in md
    assert "**label_noise=0.0, epochs=4, method logreg (3 arms)**" in md and "| yes | 6 | 12 |" in md


def test_long_csv_of_a_naive_cross_validation_numbers_each_unit_as_replicate_and_fold():
    import io

    import pandas as pd

    from components.outputs.query import format_table

    # Naive CV rows keep one value per (replicate, fold) as the seed replicate * folds + fold.
    cell = {"axes": {}, "method": "m", "n": 6, "mean": 0.5, "std": 0.1, "ci_low": None, "ci_high": None, "seeds": list(range(6)),
            "values": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]}
    results = {"cells": [cell], "paired": [], "axes": {"data": {}, "training": {}}, "statistics": {"folds": 3, "fold_axis": "fold"}}
    frame = pd.read_csv(io.StringIO(format_table(results, "csv", long=True)))
    assert frame.to_dict("list") == {"method": ["m"] * 6, "seed": [0, 0, 0, 1, 1, 1], "fold": [0, 1, 2, 0, 1, 2], "value": cell["values"]}
