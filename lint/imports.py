"""One reader of a project's import graph, from source, without importing anything.

Public API (stdlib only; nothing here imports the code it reads):

- ``module_name(path, root) -> str``: the dotted name of a file below
  ``root`` (``root/pkg/sub/__init__.py`` -> ``"pkg.sub"``).
- ``resolve_relative(importer, is_package, module, level) -> str``: the
  absolute name ``from <level dots><module> import ...`` means inside
  module ``importer`` (``is_package`` when the importer is an ``__init__``).
- ``module_file(name, root) -> Path | None``: the file of module ``name``
  below ``root`` (``name.py`` or ``name/__init__.py``).
- ``import_file(path, module, level, roots) -> Path | None``: the project
  file an import statement in file ``path`` names: a relative import is
  resolved against the file's own folders, an absolute one is searched
  below each of ``roots`` in turn.
- ``imports_of(path, root, known_modules) -> set[str]``: the modules among
  ``known_modules`` that the file imports, read with ``ast``: every
  ``import`` and ``from ... import`` at any depth (function-level imports
  count: they are how a cycle hides; so do imports under
  ``if TYPE_CHECKING:``), relative imports resolved, ``from pkg import sub``
  resolved to the submodule ``pkg.sub`` when it is one (to ``pkg`` for any
  other name), and ``importlib.import_module("literal")`` calls (a relative
  literal resolved against a literal ``package=``). A dotted name that is
  not a module itself (``pkg.mod.CONSTANT``) counts as the longest prefix
  that is. The file's own name is never an edge.
- ``modules_under(root, packages) -> dict[str, Path]``: every module below
  ``root/<package>/`` for each package, by dotted name.
- ``import_graph(root, packages=("components", "lint")) -> dict[str, set[str]]``:
  ``{module: modules it imports}`` over those packages.
- ``find_cycle(graph) -> list[str] | None``: one cycle as a path
  ``[a, b, ..., a]`` (deterministic: nodes and edges are visited sorted),
  or ``None``.

Importing a submodule also runs its packages' ``__init__`` modules; those
implicit edges are left out, since every module would otherwise depend on
its package's ``__init__`` and through it on everything that re-exports.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

from lint.astutil import dotted, literal

__all__ = [
    "find_cycle",
    "import_file",
    "import_graph",
    "imports_of",
    "module_file",
    "module_name",
    "modules_under",
    "resolve_relative",
]


def module_name(path: str | Path, root: str | Path) -> str:
    """The dotted module name of ``path`` relative to ``root``; an ``__init__.py`` names its package.

    Raises ``ValueError`` when ``path`` is not below ``root``.
    """
    parts = list(Path(path).relative_to(root).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve_relative(importer: str, is_package: bool, module: str | None, level: int) -> str:
    """The absolute name ``from <level dots><module> import ...`` refers to inside ``importer``.

    ``level`` 0 returns ``module`` unchanged. One dot is the importer's own
    package (the importer itself when ``is_package``), each further dot one
    package up. Going above the top package yields the names that remain
    (``""`` at most), as the import system would refuse it anyway.
    """
    if level == 0:
        return module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: max(len(base) - (level - 1), 0)]
    return ".".join([*base, module] if module else base)


def module_file(name: str, root: str | Path) -> Path | None:
    """The file of module ``name`` below ``root`` (``a/b.py`` or ``a/b/__init__.py``), else None."""
    parts = [part for part in name.split(".") if part]
    if not parts:
        return None
    target = Path(root).joinpath(*parts)
    for candidate in (target.with_suffix(".py"), target / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def import_file(
    path: str | Path, module: str | None, level: int, roots: Iterable[str | Path | None] = ()
) -> Path | None:
    """The project file that an import of ``module`` (``level`` dots) written in file ``path`` names.

    A relative import is resolved against the file's own folders (the
    folders above it are taken as packages, as Python does when the file
    is imported as part of them); an absolute one is looked up below each
    of ``roots`` in turn (``None`` entries are skipped). Installed packages
    are never searched.
    """
    here = Path(path).resolve()
    if level:
        anchor = here.parents[min(level, len(here.parents) - 1)]
        importer = module_name(here, anchor)
        return module_file(resolve_relative(importer, here.name == "__init__.py", module, level), anchor)
    for root in roots:
        if root is not None:
            found = module_file(module or "", root)
            if found is not None:
                return found
    return None


def _import_module_name(call: ast.Call, importer: str, is_package: bool) -> str | None:
    """The module an ``importlib.import_module("literal")`` call names, else None."""
    spelled = dotted(call.func) or ""
    if spelled.rsplit(".", 1)[-1] != "import_module" or not call.args:
        return None
    name = literal(call.args[0])
    if not isinstance(name, str) or not name:
        return None
    if name.startswith("."):
        package = literal(call.args[1]) if len(call.args) > 1 else literal(
            next((k.value for k in call.keywords if k.arg == "package"), None)
        )
        if not isinstance(package, str):
            return None
        level = len(name) - len(name.lstrip("."))
        return resolve_relative(package, True, name[level:] or None, level)
    return name


def imports_of(path: str | Path, root: str | Path, known_modules: Iterable[str]) -> set[str]:
    """The modules among ``known_modules`` that the file at ``path`` imports anywhere in its source.

    See the module docstring for what counts. ``path`` must lie below
    ``root``, which fixes the file's own dotted name.
    """
    known = set(known_modules)
    path = Path(path)
    name = module_name(path, root)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_bytes(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = resolve_relative(name, is_package, node.module, node.level)
            submodules = {f"{target}.{alias.name}" for alias in node.names} & known
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(target)
        elif isinstance(node, ast.Call):
            dynamic = _import_module_name(node, name, is_package)
            if dynamic is not None:
                found.add(dynamic)
    edges = set()
    for target in found:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            edges.add(target)
    return edges


def modules_under(root: str | Path, packages: Iterable[str]) -> dict[str, Path]:
    """Every module below ``root/<package>/`` for each of ``packages``, by dotted name."""
    root = Path(root)
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            found[module_name(path, root)] = path
    return found


def import_graph(
    root: str | Path, packages: Iterable[str] = ("components", "lint")
) -> dict[str, set[str]]:
    """``{module: the modules of packages it imports}`` for every module of ``packages`` below ``root``."""
    modules = modules_under(root, packages)
    known = set(modules)
    return {name: imports_of(path, root, known) for name, path in modules.items()}


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
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
