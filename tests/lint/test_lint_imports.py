"""lint.imports: the one reader of a project's import graph (and lint/ has no import cycle)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import lint.astutil
import lint.imports
from lint.imports import (
    find_cycle,
    import_file,
    import_graph,
    imports_of,
    module_file,
    module_name,
    resolve_relative,
)

ROOT = Path(__file__).resolve().parents[2]


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


@pytest.fixture
def project(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "from . import leaf\n",
        "pkg/leaf.py": "VALUE = 1\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/deep.py": "def f():\n    from ..leaf import VALUE\n    return VALUE\n",
        "pkg/sub/other.py": "from . import deep\nfrom .deep import f\n",
        "pkg/top.py": "from pkg import sub, leaf\nfrom pkg.leaf import VALUE\nimport pkg.sub.deep as d\n",
        "pkg/dyn.py": "import importlib\nm = importlib.import_module('pkg.sub.deep')\n"
                      "n = importlib.import_module('.leaf', package='pkg')\n",
        "pkg/names.py": "import pkg.leaf.VALUE\nfrom pkg import NOT_A_MODULE\nimport os, json\n",
    })
    return tmp_path


def test_module_name_names_packages_by_their_folder(tmp_path):
    assert module_name(tmp_path / "a" / "b.py", tmp_path) == "a.b"
    assert module_name(tmp_path / "a" / "__init__.py", tmp_path) == "a"


def test_resolve_relative_counts_dots_from_the_importers_package():
    assert resolve_relative("a.b.c", False, "x", 1) == "a.b.x"
    assert resolve_relative("a.b.c", False, "x", 2) == "a.x"
    assert resolve_relative("a.b", True, "x", 1) == "a.b.x"
    assert resolve_relative("a.b", True, None, 2) == "a"
    assert resolve_relative("a.b.c", False, "x.y", 0) == "x.y"


def test_module_file_finds_modules_and_packages(project):
    assert module_file("pkg.leaf", project) == project / "pkg" / "leaf.py"
    assert module_file("pkg.sub", project) == project / "pkg" / "sub" / "__init__.py"
    assert module_file("pkg.missing", project) is None
    assert module_file("", project) is None


def test_import_file_resolves_relative_against_the_file_and_absolute_against_roots(project):
    deep = project / "pkg" / "sub" / "deep.py"
    assert import_file(deep, "leaf", 2) == project / "pkg" / "leaf.py"
    assert import_file(project / "pkg" / "sub" / "other.py", "deep", 1) == deep
    assert import_file(deep, "pkg.leaf", 0, (None, project)) == project / "pkg" / "leaf.py"
    assert import_file(deep, "numpy", 0, (project,)) is None


def test_imports_of_sees_function_level_relative_imports(project):
    known = set(lint.imports.modules_under(project, ["pkg"]))
    assert imports_of(project / "pkg" / "sub" / "deep.py", project, known) == {"pkg.leaf"}


def test_imports_of_resolves_from_package_import_submodule(project):
    known = set(lint.imports.modules_under(project, ["pkg"]))
    # `from . import deep` is the submodule; `from .deep import f` is a name of it.
    assert imports_of(project / "pkg" / "sub" / "other.py", project, known) == {"pkg.sub.deep"}
    assert imports_of(project / "pkg" / "top.py", project, known) == {"pkg.sub", "pkg.leaf", "pkg.sub.deep"}


def test_imports_of_reads_importlib_literal_calls(project):
    known = set(lint.imports.modules_under(project, ["pkg"]))
    assert imports_of(project / "pkg" / "dyn.py", project, known) == {"pkg.sub.deep", "pkg.leaf"}


def test_imports_of_counts_a_dotted_name_as_its_module_and_drops_outside_modules(project):
    known = set(lint.imports.modules_under(project, ["pkg"]))
    # pkg.leaf.VALUE is a name in pkg.leaf; NOT_A_MODULE comes from pkg itself; os/json are not known.
    assert imports_of(project / "pkg" / "names.py", project, known) == {"pkg.leaf", "pkg"}


def test_import_graph_finds_a_planted_cycle(project):
    _write(project, {"pkg/leaf.py": "def g():\n    from pkg.sub import other\n"})
    graph = import_graph(project, ["pkg"])
    assert graph["pkg.leaf"] == {"pkg.sub.other"}
    assert find_cycle(graph) == ["pkg.leaf", "pkg.sub.other", "pkg.sub.deep", "pkg.leaf"]


def test_find_cycle_reports_the_path_or_none():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_lint_package_has_no_import_cycle():
    graph = import_graph(ROOT, ["lint"])
    assert "lint.analysis" in graph and "lint.dataflow" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle in lint/: " + " -> ".join(cycle or [])


def test_astutil_and_imports_are_low_modules():
    graph = import_graph(ROOT, ["lint"])
    assert graph["lint.astutil"] == set()
    assert graph["lint.imports"] == {"lint.astutil"}


@pytest.mark.parametrize("module", [lint.astutil, lint.imports])
def test_new_modules_export_what_they_define(module):
    assert all(hasattr(module, name) for name in module.__all__)
    defined = {
        name for name, value in vars(module).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
    }
    assert defined <= set(module.__all__)
