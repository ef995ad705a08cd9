"""Datasets from package loaders and arrays: checked loaders, the tables' folds and fingerprint, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from components.engine.reuse import data_content
from components.library import loaders
from components.spec.config import ConfigError, load_spec
from components.spec.declarations import FieldError
from components.spec.seams import make_data

PACKAGE = ["experiment=tabular_cv_smoke", "data=breast_cancer_package", "data.n_splits=3"]


def _error(*overrides: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_spec([*PACKAGE, *overrides])
    message = str(info.value)
    assert "\n" not in message
    return message


def test_package_loader_config_composes_and_splits_every_row_into_one_fold():
    _, spec = load_spec(PACKAGE)
    n = len(loaders.load_arrays(spec.data["loader"], "binary").y)
    tests = []
    for fold in range(3):
        data = make_data({**spec.data, "fold": fold}, {"fold": fold}, 3)
        assert data.task == "binary" and data.n_classes == 2 and data.n_features == 30
        assert data.X_train.dtype == np.float32 and data.y_train.dtype == np.int64
        assert len(data.y_train) + len(data.y_val) + len(data.y_test) == n
        tests.append(len(data.y_test))
    assert sum(tests) == n


def test_loader_split_is_a_pure_function_of_seed_and_fold():
    _, spec = load_spec(PACKAGE)
    a, b = make_data(spec.data, {"fold": 0}, 3), make_data(spec.data, {"fold": 0}, 3)
    assert a.fingerprint() == b.fingerprint()
    assert make_data(spec.data, {"fold": 0}, 4).fingerprint() != a.fingerprint()
    assert make_data({**spec.data, "fold": 1}, {"fold": 1}, 3).fingerprint() != a.fingerprint()


def test_loader_fingerprint_is_in_the_results_source_and_the_reuse_key():
    _, spec = load_spec(PACKAGE)
    source = loaders.describe_loader(spec.data)
    assert source["loader"] == "sklearn.datasets.load_breast_cancer" and source["rows"] == 569 and source["features"] == 30
    assert source["package"].startswith("scikit-learn ")
    assert data_content(spec.data) == source["sha256"] == loaders.load_arrays(spec.data["loader"], "binary").sha256
    fewer = {**spec.data, "_target_": "components.library.loaders.multiclass_loader",
             "loader": {"_target_": "sklearn.datasets.load_digits", "n_class": 5}}
    more = {**fewer, "loader": {"_target_": "sklearn.datasets.load_digits", "n_class": 6}}
    assert data_content(fewer) != data_content(more)


@pytest.mark.parametrize(
    "target",
    ["sklearn.datasets.fetch_openml", "sklearn.datasets.make_classification", "os.system", "numpy.load"],
)
def test_a_loader_that_is_not_a_sklearn_load_function_is_refused_in_one_line_before_it_is_called(monkeypatch, target):
    import os

    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a))
    message = _error(f"data.loader._target_={target}")
    assert message.startswith(f"data.loader._target_: {target!r} is not a scikit-learn dataset loader")
    assert "sklearn.datasets.load_*" in message and calls == []


def test_loader_whose_classes_do_not_fit_the_task_is_one_line():
    assert _error("data.loader._target_=sklearn.datasets.load_digits") == (
        "data.loader: a binary task needs exactly 2 classes, but y has 10"
    )


def test_loader_arguments_set_by_the_generator_or_unknown_to_the_loader_are_one_line():
    assert _error("+data.loader.as_frame=true").startswith("data.loader.as_frame is set by the generator")
    assert _error("+data.loader.bogus=1") == "data.loader.bogus is not a parameter of sklearn.datasets.load_breast_cancer; known: return_X_y, as_frame"


def test_regression_loader_refuses_a_stratified_split():
    settings = {"loader": {"_target_": "sklearn.datasets.load_diabetes"}, "n_splits": 3, "fold": 0, "inner_val_folds": 3}
    assert len(loaders.RegressionLoaderParams(**settings, splitter="kfold").loader) == 1
    with pytest.raises(ValueError, match="stratified needs class labels; a regression target uses kfold"):
        loaders.RegressionLoaderParams(**settings, splitter="stratified")


def test_arrays_dataset_keeps_class_proportions_and_never_validates_on_the_test_fold():
    rng = np.random.default_rng(0)
    y = np.repeat(np.array(["cat", "dog", "emu"]), [60, 30, 30])
    X = rng.standard_normal((len(y), 4))
    data = loaders.check_arrays(X, y, "multiclass")
    assert data.classes == ("cat", "dog", "emu") and data.n_classes == 3 and data.X.dtype == np.float32
    parts = loaders.arrays_dataset(data, splitter="stratified", n_splits=3, fold=2, inner_val_folds=4, seed=1, task="multiclass")
    assert np.bincount(parts.y_test, minlength=3).tolist() == [20, 10, 10]
    rows = {tuple(r) for r in parts.X_test.tolist()}
    assert not rows & {tuple(r) for r in parts.X_val.tolist()} and not rows & {tuple(r) for r in parts.X_train.tolist()}
    assert len(parts.y_train) + len(parts.y_val) + len(parts.y_test) == len(y)


@pytest.mark.parametrize(
    ("X", "y", "task", "message"),
    [
        (np.zeros(5), np.zeros(5), "regression", "X must be a 2-D array"),
        (np.zeros((5, 2)), np.zeros(4), "regression", "y must be a 1-D array with one entry per row of X (5)"),
        (np.array([["a", "b"], ["c", "d"]]), np.zeros(2), "regression", "X must be numeric"),
        (np.array([[1.0], [np.nan], [2.0]]), np.zeros(3), "regression", "X has 1 missing or infinite value(s)"),
        (np.zeros((4, 1)), np.array([0, 1, 0, 1]), "multiclass", "a multiclass task needs 3 or more classes, but y has 2"),
        (np.zeros((4, 1)), np.array(["a", "b", "c", "d"]), "regression", "a regression target must be numeric"),
    ],
)
def test_check_arrays_refuses_what_a_table_would_refuse(X, y, task, message):
    with pytest.raises(FieldError) as info:
        loaders.check_arrays(X, y, task)
    assert message in info.value.message


def test_arrays_fingerprint_changes_when_one_value_changes():
    X = np.arange(12.0).reshape(6, 2)
    y = np.array([0, 1, 2, 0, 1, 2])
    other = X.copy()
    other[3, 1] += 1
    assert loaders.check_arrays(X, y, "multiclass").sha256 == loaders.check_arrays(X.copy(), y, "multiclass").sha256
    assert loaders.check_arrays(other, y, "multiclass").sha256 != loaders.check_arrays(X, y, "multiclass").sha256
