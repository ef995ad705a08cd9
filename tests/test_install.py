"""The shipped setup compiles bytecode at install: in the project environment, the flow's script environment and uv pods."""

from __future__ import annotations

import re
import tomllib

from conftest import FLOW, ROOT


def test_project_environment_compiles_bytecode_at_install():
    # `uv sync` reads it, and so does the `uv sync --frozen` Metaflow's --environment=uv bootstrap runs in every pod.
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["compile-bytecode"] is True


def test_flow_script_environment_compiles_bytecode_at_install():
    block = re.search(r"^# /// script\n(.*?)^# ///$", FLOW.read_text(), re.S | re.M).group(1)
    inline = tomllib.loads("\n".join(line[2:] for line in block.splitlines()))
    assert inline["tool"]["uv"]["compile-bytecode"] is True
