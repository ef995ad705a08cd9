"""Fit rows are declared, not hidden: each trainer says whether it uses validation, and every arm records the rows it fitted on."""

from __future__ import annotations

import numpy as np
import pytest

from components.engine.branch import run_branch
from components.engine.planner import branches
from components.engine.reuse import arm_keys
from components.engine.surface import aggregate_records, build_results
from components.outputs.query import format_table
from components.spec.config import ConfigError, load_spec
from components.spec.declarations import NoParams, trainer
from components.spec.seams import fit_data, make_data

CV = ["experiment=tabular_cv_smoke", "experiment.seeds=1", "data.n_splits=2", "experiment.axes.data.fold=[0,1]", "training.epochs=2"]


def _cv_data(*overrides):
    _, spec = load_spec([*CV, *overrides])
    return spec, make_data(spec.data, {"fold": 0}, 11)


def test_every_trainer_declares_whether_it_uses_validation():
    with pytest.raises(TypeError, match="uses_validation"):
        trainer(params=NoParams, tasks=("binary",), reads_training=(), data_order="-", selection="-")
    with pytest.raises(TypeError, match="must be True, False or fn"):
        trainer(params=NoParams, tasks=("binary",), reads_training=(), data_order="-", selection="-", uses_validation="no")


def test_under_cross_validation_a_method_without_validation_fits_on_the_whole_training_fold():
    spec, data = _cv_data()
    assert data.val_from_train
    whole = len(data.y_train) + len(data.y_val)
    logreg = fit_data({**spec.method("logreg_scaled").spec, "name": "logreg_scaled"}, data)
    assert len(logreg.y_train) == whole and np.array_equal(logreg.X_train, np.concatenate([data.X_train, data.X_val]))
    assert logreg.X_val is data.X_val and logreg.X_test is data.X_test
    # The MLP early-stops on validation, so it fits on the training split only.
    mlp = fit_data({**spec.method("mlp_scaled").spec, "name": "mlp_scaled"}, data)
    assert mlp is data
    # Without any callback the torch loop uses validation for telemetry only: it fits on the whole fold too.
    plain = fit_data({**spec.method("mlp_scaled").spec, "callbacks": [], "name": "mlp_plain"}, data)
    assert len(plain.y_train) == whole


def test_hold_out_keeps_validation_rows_out_of_every_fit():
    spec, data = _cv_data("+experiment.unused_validation=hold_out")
    assert spec.unused_validation == "hold_out"
    assert fit_data({**spec.method("logreg_scaled").spec, "name": "logreg_scaled"}, data, spec.unused_validation) is data


def test_an_unknown_unused_validation_is_refused_at_launch_in_one_line():
    with pytest.raises(ConfigError, match=r"^experiment.unused_validation is 'train'; valid: fit, hold_out \("):
        load_spec([*CV, "+experiment.unused_validation=train"])


def test_a_generator_with_a_validation_sample_of_its_own_changes_no_fit():
    for overrides in (["experiment=smoke"], ["experiment=sample_size_smoke"]):
        _, spec = load_spec(overrides)
        axes = {axis: values[0] for axis, values in spec.data_axes.items()}
        data = make_data(spec.data, axes, 3)
        assert not data.val_from_train
        for method in spec.methods:
            assert fit_data({**method.spec, "name": method.name}, data) is data


def _records(*overrides):
    config, spec = load_spec([*CV, *overrides])
    return config, [run_branch(config, branch, log=lambda _: None) for branch in branches(spec)]


def test_every_branch_record_states_the_rows_each_arm_fitted_on_and_results_print_them():
    config, records = _records()
    _, data = _cv_data()
    train, whole = len(data.y_train), len(data.y_train) + len(data.y_val)
    rows = {t["method"]: t["fit_rows"] for t in records[0]["trainings"]}
    assert rows == {"logreg_scaled": whole, "logreg_raw": whole, "mlp_scaled": train}
    results = build_results(config, records, aggregate_records(config, records))
    other = {t["method"]: t["fit_rows"] for t in records[1]["trainings"]}  # fold 1: sizes may differ by a row
    span = {m: [min(rows[m], other[m]), max(rows[m], other[m])] for m in rows}
    assert results["fit_rows"] == span
    shown = ", ".join(f"{m} {lo}" if lo == hi else f"{m} {lo}-{hi}" for m, (lo, hi) in span.items())
    assert f"Fit rows (rows each method was fitted on): {shown}" in format_table(results)
    assert f"Fit rows (rows each method was fitted on):** {shown}" in format_table(results, "md")


def test_hold_out_records_the_training_split_for_every_method_and_changes_the_reuse_key():
    config, records = _records("+experiment.unused_validation=hold_out")
    _, data = _cv_data()
    assert {t["fit_rows"] for t in records[0]["trainings"]} == {len(data.y_train)}
    fit_spec, hold_spec = load_spec(CV)[1], load_spec([*CV, "+experiment.unused_validation=hold_out"])[1]
    branch = branches(fit_spec)[0]
    assert set(arm_keys(fit_spec, branch)).isdisjoint(arm_keys(hold_spec, branch))


@pytest.mark.parametrize("experiment", ["smoke", "sample_size_smoke"])
def test_reference_and_sample_size_arms_fit_on_n_train_rows(experiment):
    config, spec = load_spec([f"experiment={experiment}", "experiment.seeds=1"])
    branch = branches(spec)[0]
    record = run_branch(config, branch, log=lambda _: None)
    n_train = branch["data_axes"].get("n_train", spec.data["n_train"])
    assert {t["fit_rows"] for t in record["trainings"]} == {n_train}
