"""Large tables: hashed once per process while unchanged, trusted from the launch in ``start``, read column by column.

A 1 GB table used to be read and hashed 6 times at launch and 21 more times in
``start`` for 15 branches, holding the file's bytes and every column in
memory (``benchmarks/large_table.py`` measures it). These tests count hash
passes (``tables.HASH_PASSES``) and parses on a small copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components.library import tables

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "data" / "breast_cancer.csv"


def _forget() -> None:
    """What a fresh task process knows: no digests, rows, validations, parses or matrices."""
    tables._DIGESTS.clear()
    tables._ROWS.clear()
    tables._VALIDATED.clear()
    tables._MATRICES.clear()
    tables._parse.cache_clear()


@pytest.fixture
def table(tmp_path):
    """A copy of the breast cancer table with an extra, unused text column."""
    frame = pd.read_csv(SOURCE)
    frame["notes"] = "free text that no setting names"
    path = tmp_path / "bc.csv"
    frame.to_csv(path, index=False)
    _forget()
    yield path
    _forget()


def _overrides(path: Path) -> list[str]:
    return ["experiment=tabular_cv_smoke", f"data.path={path}", "method=[logreg_scaled]", "experiment.seeds=1"]


def _launch(path: Path):
    from components.engine.reuse import launch_inputs
    from components.shell import parse_config
    from components.spec.config import load_spec

    _, spec = load_spec(_overrides(path))
    return parse_config({"overrides": _overrides(path), "inputs": launch_inputs(spec)}), spec


def test_a_launch_hashes_and_parses_the_table_once(table):
    passes = tables.HASH_PASSES[0]
    _launch(table)  # validation twice (load_spec, parse_config), the launch record, the reuse keys
    assert tables.HASH_PASSES[0] - passes == 1
    assert tables._parse.cache_info().misses == 1


def test_start_trusts_the_launch_digest_and_reads_nothing(table):
    from components.engine.reuse import plan_reuse
    from components.engine.surface import plan_run

    config, _ = _launch(table)
    _forget()
    passes = tables.HASH_PASSES[0]
    _, planned = plan_run(config)
    plan_reuse(config, planned, flow="F", mode="off", log=lambda _: None)
    assert tables.HASH_PASSES[0] == passes and tables._parse.cache_info().misses == 0


def test_a_branch_hashes_once_and_reads_only_the_columns_it_needs(table):
    from components.engine.branch import run_branch
    from components.engine.planner import branches

    config, spec = _launch(table)
    _forget()
    passes = tables.HASH_PASSES[0]
    run_branch(config, branches(spec)[0], log=lambda _: None)
    assert tables.HASH_PASSES[0] - passes == 1 and tables._parse.cache_info().misses == 1
    params = tables.BinaryTableParams(**{k: v for k, v in spec.data.items() if k != "_target_"})
    frame = tables.load_table(str(table), "csv", tables._needed(params)).frame
    assert "notes" not in frame.columns and len(frame.columns) == 31


def test_a_changed_file_is_hashed_again(table):
    tables.file_digest(str(table))
    passes = tables.HASH_PASSES[0]
    assert tables.file_digest(str(table)).sha256 == tables.file_digest(str(table)).sha256
    assert tables.HASH_PASSES[0] == passes
    table.write_text(table.read_text().replace("\n", "\r\n"))
    tables.file_digest(str(table))
    assert tables.HASH_PASSES[0] == passes + 1


def test_column_reads_give_the_same_matrix_bits_as_reading_the_whole_table(table):
    from components.spec.config import load_spec

    _, spec = load_spec(_overrides(table))
    params = tables.BinaryTableParams(**{k: v for k, v in spec.data.items() if k != "_target_"})
    X, y, _ = tables._matrix(params, tables.load_table(str(table), "csv", tables._needed(params)))
    whole = pd.read_csv(table)
    expected = np.concatenate([whole[c].to_numpy(dtype=np.float64)[:, None] for c in params.features], axis=1).astype(np.float32)
    assert X.dtype == np.float32 and X.tobytes() == expected.tobytes()
    assert y.tolist() == [params.classes.index(v) for v in whole[params.target]]


def test_rows_come_from_the_launch_record_in_end(table):
    config, spec = _launch(table)
    _forget()
    from components.engine.reuse import trust_launch_data

    trust_launch_data(config)
    described = tables.describe_source(spec.data)
    assert described["rows"] == 569 and tables._parse.cache_info().misses == 0
