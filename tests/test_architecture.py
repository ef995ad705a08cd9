"""The shape of ``components/``: its import graph has no cycles, and the framework never imports an investigation.

The graph is read with ``ast`` from every module under ``components/``: every
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

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "components"
INVESTIGATIONS = f"{PACKAGE}.investigations"


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(root: Path, packages: tuple[str, ...] = (PACKAGE,)) -> dict[str, Path]:
    """Every module under ``<root>/<package>/`` for each package, by dotted name."""
    return {
        _module_name(path, root): path
        for package in packages
        if (root / package).is_dir()
        for path in sorted((root / package).rglob("*.py"))
    }


def _resolve(importer: str, is_package: bool, module: str | None, level: int) -> str:
    """The absolute name ``from <level dots><module> import ...`` refers to inside ``importer``."""
    if level == 0:
        return module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``components`` that ``name`` imports anywhere in its source."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(name, is_package, node.module, node.level)
            # `from components import shell` imports the submodule components.shell; any other
            # name comes from the module itself (for a package, from its __init__).
            submodules = {f"{target}.{alias.name}" for alias in node.names} & known
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(target)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    # A dotted name that is not a module itself (``components.shell.CONFIG_NAME``) counts as its module.
    edges = set()
    for target in found:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            edges.add(target)
    return edges


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = (PACKAGE,)) -> dict[str, set[str]]:
    """``{module: project modules it imports}`` for every module under ``<root>/<package>/``."""
    modules = _modules(root, packages)
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or ``None`` when the graph has none."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for child in sorted(graph.get(node, ())):
            if state.get(child) == 1:
                return [*stack[stack.index(child):], child]
            if child not in state:
                cycle = visit(child)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


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
    ("base", ("components.constants", "components.files", "components.seeding", "components.schema")),
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
