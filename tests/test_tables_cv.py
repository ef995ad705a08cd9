"""File-backed tables and cross-validation: one-line table errors, the content hash, the split, no test leakage."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from components.spec import seams
from components.engine.branch import run_branch
from components.spec.config import ConfigError, compose, load_spec, validate
from components.library import tables
from components.engine.planner import branches

ROOT = Path(__file__).resolve().parents[1]
FLOW = ROOT / "flows" / "investigation.py"
SMOKE = ["experiment=tabular_cv_smoke"]


def _data(*overrides: str) -> tables.BinaryTableParams:
    config, spec = load_spec([*SMOKE, *overrides])
    return tables.BinaryTableParams(**{k: v for k, v in spec.data.items() if k != "_target_"})


def _error(*overrides: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_spec([*SMOKE, *overrides])
    message = str(info.value)
    assert "\n" not in message
    return message


def _write_table(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


TINY = "a,b,colour,label\n" + "".join(f"{i},{(i * 7) % 5},{'red' if i % 3 else 'blue'},{'yes' if i % 2 else 'no'}\n" for i in range(30))
TINY_DATA = ["data.features=[a,b]", "data.target=label", "data.classes=[no,yes]"]


def test_table_missing_file_is_one_line_naming_path_and_root():
    message = _error("data.path=data/nope.csv")
    assert message.startswith("data.path: file 'data/nope.csv' not found at ")
    assert str(tables.ROOT) in message and "never the working directory" in message


def test_table_missing_column_is_one_line_naming_the_feature():
    message = _error("data.features=[mean radius,mean radiuz]")
    assert message.startswith("data.features[1]: column 'mean radiuz' is not in breast_cancer.csv; columns: mean radius")


def test_table_missing_target_column_is_one_line():
    assert _error("data.target=diagnosys").startswith("data.target: column 'diagnosys' is not in breast_cancer.csv")


def test_table_target_with_other_classes_than_declared_is_one_line():
    assert _error("data.classes=[malignant,healthy]") == (
        "data.target: column 'diagnosis' has 2 class(es) (benign, malignant), but classes declares 2 (malignant, healthy)"
    )


def test_binary_table_with_three_declared_classes_is_refused():
    assert _error("data.classes=[malignant,benign,unknown]").startswith("data.classes: a binary table has exactly 2 classes, but 3 are declared")


def test_table_non_numeric_feature_without_encoding_is_one_line(tmp_path):
    path = _write_table(tmp_path / "tiny.csv", TINY)
    message = _error(f"data.path={path}", "data.features=[a,colour]", "data.target=label", "data.classes=[no,yes]")
    assert message.startswith("data.features[1]: column 'colour' is not numeric (")
    assert message.endswith("e.g. 'blue'); declare its encoding: categorical: {colour: one_hot} (or ordinal)")


def test_table_declared_encoding_makes_a_text_feature_usable(tmp_path):
    path = _write_table(tmp_path / "tiny.csv", TINY)
    _, spec = load_spec([*SMOKE, f"data.path={path}", "data.features=[a,colour]", "data.target=label",
                         "data.classes=[no,yes]", "+data.categorical.colour=one_hot"])
    data = seams.make_data(spec.data, {"fold": 0}, seed=1)
    assert data.n_features == 3  # a, colour=blue, colour=red
    assert set(np.unique(data.X_train[:, 1:])) <= {0.0, 1.0}


def test_fold_axis_must_list_every_fold():
    assert _error("experiment.axes.data.fold=[0,1]") == (
        "experiment.axes.data.fold is [0, 1], but data.n_splits=3: list every fold, [0, 1, 2] "
        "(a subset of folds is not a cross-validation estimate; lower n_splits instead)"
    )


def test_fold_value_beyond_n_splits_is_refused():
    assert _error("experiment.axes.data.fold=[0,1,2,3]").startswith(
        "experiment.axes.data.fold[3] = 3: data.fold: input should be less than n_splits=3 (got 3)"
    )


def test_fold_axis_requires_an_explicit_cv_interval():
    assert _error("~experiment.statistics.cv_interval").startswith("experiment.statistics.cv_interval is missing; an experiment with a fold axis")


def test_cv_interval_without_fold_axis_is_refused():
    assert _error("experiment=smoke", "+experiment.statistics.cv_interval=nadeau_bengio") == (
        "experiment.statistics.cv_interval is set, but experiment.axes.data has no fold axis"
    )


@pytest.mark.slow
def test_flow_run_with_missing_table_exits_2_before_any_task(tmp_path):
    env = {**os.environ, "METAFLOW_USER": "axisflow-tests"}
    result = subprocess.run(
        [sys.executable, str(FLOW), "run", *SMOKE, "data.path=data/nope.csv"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("axisflow: error: data.path: file 'data/nope.csv'"), result.stderr
    assert not (tmp_path / ".metaflow").exists()


def test_table_path_is_resolved_against_the_project_root_not_the_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert tables.load_table("data/breast_cancer.csv", "csv").resolved == ROOT / "data" / "breast_cancer.csv"
    (tmp_path / "only_here.csv").write_text(TINY)
    with pytest.raises(ValueError, match="not found at .*never the working directory"):
        tables.load_table("only_here.csv", "csv")
    assert tables.load_table(str(tmp_path / "only_here.csv"), "csv").resolved == tmp_path / "only_here.csv"


def test_table_parquet_reads_like_csv(tmp_path):
    import pandas as pd

    frame = pd.read_csv(ROOT / "data" / "breast_cancer.csv")
    frame.to_parquet(tmp_path / "bc.parquet")
    from_csv = seams.make_data(compose(SMOKE)["data"], {"fold": 1}, seed=5)
    from_parquet = seams.make_data({**compose(SMOKE)["data"], "path": str(tmp_path / "bc.parquet"), "format": "parquet"}, {"fold": 1}, seed=5)
    # Different files, so different content hashes and splits; the same table, so the same rows and columns.
    assert sum(len(a) for a in (from_parquet.X_train, from_parquet.X_val, from_parquet.X_test)) == len(frame)
    assert from_parquet.n_features == from_csv.n_features == 30


def test_dataset_hash_changes_when_one_cell_changes(tmp_path):
    original = ROOT / "data" / "breast_cancer.csv"
    copy = tmp_path / "bc.csv"
    shutil.copy(original, copy)
    before = tables.describe_source({"path": str(copy), "format": "csv"})["sha256"]
    assert before == tables.describe_source({"path": "data/breast_cancer.csv", "format": "csv"})["sha256"]
    lines = copy.read_text().splitlines(keepends=True)
    first = lines[1].split(",")
    first[0] = str(float(first[0]) + 0.01)
    lines[1] = ",".join(first)
    copy.write_text("".join(lines))
    after = tables.describe_source({"path": str(copy), "format": "csv"})["sha256"]
    assert after != before


def test_split_is_a_pure_function_of_seed_fold_and_hash_and_partitions_the_table():
    params = _data()
    n = 569
    tests = []
    for fold in range(params.n_splits):
        split = tables.table_split(params.model_copy(update={"fold": fold}), seed=11)
        again = tables.table_split(params.model_copy(update={"fold": fold}), seed=11)
        assert all(np.array_equal(getattr(split, p), getattr(again, p)) for p in ("train", "val", "test"))
        # Validation comes from inside the training fold; nothing of the test fold is used to train or select.
        assert not set(split.val) & set(split.test) and not set(split.train) & set(split.test)
        assert not set(split.train) & set(split.val)
        assert len(split.train) + len(split.val) + len(split.test) == n
        tests.append(split.test)
    assert sorted(np.concatenate(tests).tolist()) == list(range(n))  # the folds of one replicate partition the table
    other = tables.table_split(params, seed=12)
    assert not np.array_equal(other.test, tables.table_split(params, seed=11).test)  # a new replicate, a new assignment


def test_every_method_in_a_branch_sees_the_same_split(monkeypatch):
    config = compose(SMOKE)
    spec = validate(config)
    seen = {}
    original = seams.train_arm

    def spy(method_spec, data, seed, train_cfg, **kwargs):
        seen[method_spec["name"]] = data.fingerprint()
        return original({**method_spec}, data, seed, train_cfg, **kwargs)

    monkeypatch.setattr(seams, "train_arm", spy)
    branch = branches(spec)[3]
    record = run_branch(config, branch, log=lambda line: None)
    assert set(seen) == {m.name for m in spec.methods}
    assert len(set(seen.values())) == 1 and record["data_fingerprint"] in seen.values()


class _RecordingScorer:
    """A scorer that records the targets it is asked to score (validation is all a trainer may score)."""

    def __init__(self, inner):
        self.inner, self.targets = inner, []
        self.name, self.info, self.params = inner.name, inner.info, inner.params

    def __call__(self, predictions, targets):
        self.targets.append(targets)
        return self.inner(predictions, targets)


@pytest.mark.parametrize("method", ["mlp_scaled", "logreg_scaled"])
def test_test_fold_never_reaches_early_stopping_or_selection(method):
    config = compose([*SMOKE, f"method=[{method}]", f"experiment.baseline={method}"])
    spec = validate(config)
    data = seams.make_data(spec.data, {"fold": 0}, seed=3)
    # The same training and validation data with the test fold's inputs and labels scrambled.
    rng = np.random.default_rng(0)
    poisoned = replace(data, X_test=rng.standard_normal(data.X_test.shape).astype(np.float32) * 1e3, y_test=1 - data.y_test)
    spec_m = {**spec.method(method).spec, "name": method}
    runs = []
    for dataset in (data, poisoned):
        scorer = _RecordingScorer(seams.scorer(spec.metric))
        from components.spec.seams import implementation, settings

        fn, declaration = implementation(spec_m, "trainer", method)
        result = fn(settings(spec_m, declaration, exclude=("kind", "name")), dataset, 7, {k: spec.training[k] for k in declaration.reads_training}, scorer)
        assert scorer.targets and all(t is dataset.y_val for t in scorer.targets)  # only validation labels are scored
        runs.append(result)
    clean, dirty = runs
    assert clean.val_score == dirty.val_score and clean.history == dirty.history and clean.info == dirty.info


def test_grouped_splitter_keeps_each_group_in_one_fold_and_validation_outside_the_test_fold():
    from components.library.folds import cv_split

    groups = np.repeat(np.arange(40), 3).astype(str)
    for fold in range(4):
        split = cv_split("grouped", 4, fold, 3, seed=1, dataset_hash="h", n_rows=len(groups), groups=groups)
        test_groups, val_groups, train_groups = (set(groups[rows]) for rows in (split.test, split.val, split.train))
        assert not test_groups & (val_groups | train_groups) and not val_groups & train_groups


def test_stratified_folds_keep_the_class_ratio():
    from components.library.folds import assign_folds

    labels = np.array([0] * 60 + [1] * 40)
    folds = assign_folds("stratified", 5, 100, np.random.default_rng(0), labels=labels)
    assert [int((labels[folds == f] == 1).sum()) for f in range(5)] == [8] * 5
