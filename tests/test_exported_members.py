"""The public API of each package is explicit and does not drift."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

import components
import lint


@pytest.mark.parametrize("package", [components, lint])
def test_package_all_matches_public_names(package):
    public = {
        name for name, value in vars(package).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }
    assert set(package.__all__) == public


def test_importing_components_does_not_import_torch_or_metaflow():
    code = "import sys, components; print(sorted(m for m in ('torch', 'metaflow', 'hydra') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
