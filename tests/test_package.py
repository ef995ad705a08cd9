"""The code package Metaflow ships to remote tasks carries the project and works on its own.

Remote tasks (Kubernetes, Argo) download the package, extract it into an empty
folder and put ``.mf_code`` on ``PYTHONPATH``. These tests build the package
the same way a remote launch does (``package list`` / ``package save``, which
use the flow's ``ship_project`` mutator), extract it, and run from the
extracted copy only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLOW = ROOT / "flows" / "investigation.py"
PROJECT_FILES = sorted(
    [*(ROOT / "components").glob("*.py"), *(ROOT / "configs").rglob("*.yaml")],
)


def _flow(*args: str, cwd: Path, env: dict[str, str] | None = None, flow: Path = FLOW) -> str:
    """Run a flow command; return what it printed (Metaflow prints its listings on stderr)."""
    result = subprocess.run(
        [sys.executable, str(flow), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{flow.name} {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Path:
    """The flow's code package, saved by Metaflow and extracted into an empty folder."""
    return _save_and_extract(tmp_path_factory.mktemp("package"))


def _save_and_extract(work: Path, *options: str) -> Path:
    """``package save`` (run in ``work``), then extract the tarball into ``work/task``; return that folder."""
    saved = _flow(*options, "package", "save", str(work / "package.tgz"), cwd=work)
    line = next(line for line in saved.splitlines() if "with metadata: " in line)
    assert json.loads(line.split("with metadata: ", 1)[1])["archive_format"] == "tgz", line
    dest = work / "task"
    dest.mkdir()
    with tarfile.open(work / "package.tgz") as archive:
        # Extraction filters exist from Python 3.11.4 (and 3.8.17...); earlier 3.11 releases extract as before.
        archive.extractall(dest, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    return dest


def _packaged_env(dest: Path) -> dict[str, str]:
    """The environment a remote task gets after extracting the package into ``dest`` (Metaflow's own exports)."""
    from metaflow.package import MetaflowPackage

    env = dict(os.environ)
    info = json.dumps({"version": 0, "archive_format": "tgz", "mfcontent_version": 1})
    for key, value in MetaflowPackage.get_post_extract_env_vars(info, dest_dir=str(dest)).items():
        env[key.rstrip(":")] = value if key.endswith(":") else f"{value}:{env.get(key, '')}"
    env.pop("METAFLOW_DATASTORE_SYSROOT_LOCAL", None)
    return env


def test_package_list_names_every_component_and_config(tmp_path):
    listed = set(_flow("package", "list", cwd=tmp_path).split())
    missing = [str(p.relative_to(ROOT)) for p in PROJECT_FILES if str(p) not in listed]
    assert not missing, f"package list lacks {missing}"
    assert str(FLOW) in listed
    # A remote task checks every _target_ against [tool.axisflow] allowed-targets before importing it.
    assert str(ROOT / "pyproject.toml") in listed


def test_package_tarball_holds_components_and_configs_under_code_dir(extracted):
    for path in PROJECT_FILES:
        packaged = extracted / ".mf_code" / path.relative_to(ROOT)
        assert packaged.is_file(), f"{path.relative_to(ROOT)} is not in the package's .mf_code/"
        assert packaged.read_bytes() == path.read_bytes()
    assert (extracted / "investigation.py").is_file()


def test_package_imports_components_and_finds_configs_from_the_package(extracted):
    probe = (
        "import json, components, components.spec.config as c; "
        "c.compose(['experiment=smoke']); "
        "print(json.dumps([components.__file__, str(c.CONFIG_DIR)]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=extracted, env=_packaged_env(extracted), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    module_file, config_dir = json.loads(result.stdout.strip().splitlines()[-1])
    code = (extracted / ".mf_code").resolve()
    assert Path(module_file).resolve().is_relative_to(code), module_file
    assert Path(config_dir).resolve() == code / "configs"


def test_package_flow_file_composes_its_config_from_the_package(extracted):
    shown = _flow("show", "experiment=smoke", cwd=extracted, env=_packaged_env(extracted), flow=extracted / "investigation.py")
    assert "Step branch" in shown and "Step join" in shown, shown


@pytest.mark.skipif(shutil.which("uv") is None, reason="needs uv on PATH")
def test_package_for_uv_environment_builds_the_project_where_tasks_sync(tmp_path):
    # --environment=uv finds pyproject.toml and uv.lock upward from the working directory.
    for name in ("pyproject.toml", "uv.lock"):
        (tmp_path / name).symlink_to(ROOT / name)
    dest = _save_and_extract(tmp_path, "--environment=uv")
    # Metaflow's uv bootstrap moves these two next to the flow file and runs `uv sync` there,
    # which builds this project: that needs every file pyproject.toml names (the readme).
    for name in ("pyproject.toml", "uv.lock"):
        shutil.move(dest / ".mf_meta" / name, dest / name)
    built = subprocess.run(
        ["uv", "build", "--wheel", "--quiet", "--out-dir", str(tmp_path / "dist"), str(dest)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr
    assert list((tmp_path / "dist").glob("axisflow-*.whl"))
