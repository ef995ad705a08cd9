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
    """``dir()`` lists what a package defines and what it loads on first use (``lint``); every name must resolve."""
    public = {
        name for name in dir(package)
        if not name.startswith("_") and not isinstance(getattr(package, name), types.ModuleType) and name != "annotations"
    }
    assert set(package.__all__) == public


def test_importing_the_import_graph_reader_loads_no_lint_rule():
    """Every flow task reads the import graph (``lint.imports``) for its code fingerprint; the linter's rules stay unloaded."""
    code = "import sys, lint.imports; print(sorted(m for m in sys.modules if m.startswith('lint')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(["lint", "lint.astutil", "lint.imports"])
    with pytest.raises(AttributeError, match="no attribute 'check_path'"):
        lint.check_path  # noqa: B018  (a misspelt name fails like any missing attribute)


def test_importing_components_does_not_import_torch_or_metaflow():
    code = "import sys, components; print(sorted(m for m in ('torch', 'metaflow', 'hydra') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
