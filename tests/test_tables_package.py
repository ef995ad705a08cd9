"""The tables a file-backed generator reads travel in the code package, and the generator finds them there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_package import FLOW, ROOT, _flow, _packaged_env, _save_and_extract  # noqa: E402

TABLES = sorted([*(ROOT / "data").glob("*.csv"), *(ROOT / "data").glob("*.parquet")])


def test_data_folder_has_the_shipped_table():
    assert ROOT / "data" / "breast_cancer.csv" in TABLES


def test_package_list_names_every_table(tmp_path):
    listed = set(_flow("package", "list", cwd=tmp_path).split())
    missing = [str(p.relative_to(ROOT)) for p in TABLES if str(p) not in listed]
    assert not missing, f"package list lacks {missing}"


@pytest.mark.slow
def test_packaged_generator_reads_the_packaged_table_from_any_working_directory(tmp_path):
    extracted = _save_and_extract(tmp_path)
    for path in TABLES:
        assert (extracted / ".mf_code" / path.relative_to(ROOT)).read_bytes() == path.read_bytes()
    probe = (
        "import json, components.library.tables as t, components.spec.config as c, components.spec.seams as s; "
        "cfg = c.compose(['experiment=tabular_cv_smoke']); c.validate(cfg); "
        "d = s.make_data(cfg['data'], {'fold': 1}, 3); "
        "print(json.dumps([str(t.load_table(cfg['data']['path'], 'csv').resolved), t.describe_source(cfg['data'])['sha256'], d.fingerprint()]))"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([sys.executable, "-c", probe], cwd=elsewhere, env=_packaged_env(extracted), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    resolved, sha, fingerprint = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(resolved).resolve().is_relative_to((extracted / ".mf_code").resolve()), resolved
    from components.spec.config import compose
    from components.library import tables
    from components.spec.seams import make_data

    data = compose(["experiment=tabular_cv_smoke"])["data"]
    assert sha == tables.describe_source(data)["sha256"]
    assert fingerprint == make_data(data, {"fold": 1}, 3).fingerprint()  # the same split in the package as here
