"""One locked environment: the flow, the CLI and the tests run from ``uv.lock``'s packages, compiled to bytecode at install."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib

import pytest

from conftest import FLOW, ROOT


def test_project_environment_compiles_bytecode_at_install():
    # `uv sync` and `uv run` read it, and so does the `uv sync --frozen` Metaflow's --environment=uv bootstrap runs in every pod.
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["compile-bytecode"] is True


def test_flow_files_have_no_script_block_so_uv_runs_them_in_the_locked_project_environment():
    # With a PEP 723 block, `uv run flows/x.py` builds a second environment from the block's ranges, not uv.lock.
    for flow in sorted((ROOT / "flows").glob("*.py")):
        assert "# /// script" not in flow.read_text(), f"{flow.name} has an inline script block"
    assert FLOW.is_file()


def test_every_package_the_code_imports_directly_is_a_declared_dependency():
    import ast

    from lint.imports import modules_under

    declared = {d.split(">")[0].split("=")[0].split("[")[0].strip().lower() for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    distribution = {"sklearn": "scikit-learn", "hydra": "hydra-core", "yaml": "pyyaml"}
    imported = set()
    for path in modules_under(ROOT, ("components", "lint")).values():
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            imported.update(name.split(".")[0] for name in names)
    import sys

    third_party = {distribution.get(name, name).lower().replace("_", "-") for name in imported if name not in sys.stdlib_module_names and name not in ("components", "lint")}
    assert third_party - declared == set()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("uv") is None or not (ROOT / ".venv").is_dir(), reason="needs uv and the synced project environment")
def test_uv_run_of_the_flow_file_imports_from_the_project_environment():
    # Python's verbose mode names the file every module is imported from.
    done = subprocess.run(
        ["uv", "run", "--frozen", str(FLOW.relative_to(ROOT)), "--help"],
        cwd=ROOT, env={**os.environ, "PYTHONVERBOSE": "1", "METAFLOW_USER": "axisflow"}, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # "# <pyc> matches <source>" (compiled bytecode) or "# code object from <source>".
    sources = [line for line in done.stderr.splitlines() if line.startswith("# ") and "site-packages/metaflow/__init__.py" in line]
    assert sources and all(str(ROOT / ".venv") in line for line in sources), sources[:3]
