"""The shape of ``components/`` and ``lint/``: no import cycle, the layer order holds, the framework never imports an investigation.

The graph is read by ``lint.imports`` (the one import-graph reader, shared with
the linter's data flow and the reuse key's code fingerprint) with ``ast`` from
every module under ``components/`` and ``lint/``: every
``import`` and ``from ... import`` statement, at any depth (function-level
imports count: they are how a cycle hides), relative imports resolved against
the importing module, ``from components import x`` resolved to the submodule
``components.x`` when there is one, and ``importlib.import_module("...")``
calls with a literal name. Importing a submodule also runs its packages'
``__init__`` modules; those implicit edges are left out, since every module
would otherwise depend on ``components/__init__.py`` and through it on
everything it re-exports.
"""

from __future__ import annotations

from pathlib import Path

from lint.imports import find_cycle
from lint.imports import import_graph as _import_graph

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "components"
INVESTIGATIONS = f"{PACKAGE}.investigations"


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = (PACKAGE,)) -> dict[str, set[str]]:
    """``{module: project modules it imports}`` for every module under ``<root>/<package>/`` (the shared reader in ``lint.imports``)."""
    return _import_graph(root, packages)


def test_find_cycle_reports_the_path_of_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_import_graph_sees_function_level_relative_and_package_imports(tmp_path):
    package = tmp_path / PACKAGE
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from . import leaf\n")
    (package / "sub" / "leaf.py").write_text("def f():\n    from ..top import X\n")
    (package / "top.py").write_text("from components import sub\nimport importlib\nimportlib.import_module('components.sub.leaf')\n")
    graph = import_graph(tmp_path)
    assert graph["components.sub"] == {"components.sub.leaf"}
    assert graph["components.sub.leaf"] == {"components.top"}
    assert graph["components.top"] == {"components.sub", "components.sub.leaf"}
    assert find_cycle(graph) == ["components.sub", "components.sub.leaf", "components.top", "components.sub"]


def test_components_and_lint_have_no_import_cycles():
    cycle = find_cycle(import_graph(packages=(PACKAGE, "lint")))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


#: The framework's layers, lowest first (the order ``components/__init__.py`` writes down). A module
#: may import from its own layer and the layers before it, never from a later one.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("lint", ("lint",)),
    ("base", ("components.constants", "components.files", "components.seeding", "components.schema", "components.suggest")),
    ("stats", ("components.stats",)),
    ("spec", ("components.spec",)),
    ("engine", ("components.engine",)),
    ("outputs", ("components.outputs",)),
    ("gates", ("components.gates",)),
    ("entry", ("components.shell", "components.cli", "components")),
)
#: The two rooms that are not framework layers, and what they may import.
ROOMS: dict[str, tuple[str, ...]] = {
    "components.library": ("base", "stats", "spec"),
    INVESTIGATIONS: ("base", "stats", "spec", "library"),
}


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer_of(module: str) -> str:
    """The layer (or room) a module belongs to: the longest matching prefix wins."""
    candidates = [(prefix, name) for name, prefixes in LAYERS for prefix in prefixes]
    candidates += [(room, "library" if room.endswith("library") else "investigations") for room in ROOMS]
    matches = [(len(prefix), name) for prefix, name in candidates if _within(module, prefix)]
    assert matches, f"{module} belongs to no layer: add it to LAYERS"
    return max(matches)[1]


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import that runs against the layer order, as ``importer (layer) -> imported (layer)``."""
    rank = {name: i for i, (name, _) in enumerate(LAYERS)}
    allowed_rooms = {("library" if room.endswith("library") else "investigations"): allowed for room, allowed in ROOMS.items()}
    found = []
    for module, targets in sorted(graph.items()):
        mine = layer_of(module)
        for target in sorted(targets):
            theirs = layer_of(target)
            if mine in allowed_rooms:
                ok = theirs in allowed_rooms[mine] or (theirs == mine and (mine == "library" or target.split(".")[:3] == module.split(".")[:3]))
            else:
                ok = theirs in rank and rank[theirs] <= rank[mine]
            if not ok:
                found.append(f"{module} ({mine}) -> {target} ({theirs})")
    return found


def test_layer_order_holds_in_components_and_lint():
    violations = layer_violations(import_graph(packages=(PACKAGE, "lint")))
    assert not violations, "imports against the layer order: " + "; ".join(violations)


def test_layer_check_names_a_planted_upward_import():
    graph = {
        "components.engine.surface": {"components.stats", "components.spec.config"},
        "components.outputs.runs": {"components.shell"},
        "components.library.metrics": {"components.engine.branch"},
        "components.investigations.a.data": {"components.investigations.b.data", "components.library.tables"},
        "lint.engine": {"components.constants"},
    }
    assert layer_violations(graph) == [
        "components.investigations.a.data (investigations) -> components.investigations.b.data (investigations)",
        "components.library.metrics (library) -> components.engine.branch (engine)",
        "components.outputs.runs (outputs) -> components.shell (entry)",
        "lint.engine (lint) -> components.constants (base)",
    ]


def test_framework_modules_never_import_an_investigation():
    # Until components/investigations/ exists there is nothing to check, and the test passes.
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if not (module == INVESTIGATIONS or module.startswith(INVESTIGATIONS + "."))
        for target in targets
        if target == INVESTIGATIONS or target.startswith(INVESTIGATIONS + ".")
    )
    assert not offenders, "framework modules must not import investigation code: " + "; ".join(offenders)
