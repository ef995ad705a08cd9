"""AXF501: a PEP 723 script importing a project package before anchoring sys.path."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from lint.analysis import Module, dotted, mentions_file
from lint.findings import Finding
from lint.rules.base import Rule


class ScriptProjectImportRule(Rule):
    """## What it does
    In a file with an inline script metadata block (``# /// script``), flags
    an import of a project package (the ``project-packages`` setting in
    ``[tool.axisflow.lint]``) that runs before a ``__file__``-anchored
    ``sys.path.insert(...)``, ``sys.path.append(...)``,
    ``sys.path[:0] = [...]`` or ``site.addsitedir(...)``. Module-level
    statements are read in order, including those inside module-level
    ``if``/``try``/``with`` blocks. If the file has no anchored insert at all,
    project imports inside functions (such as steps) are flagged too.
    Relative imports are ignored, and an insert of a working-directory path
    (``"."``, ``os.getcwd()``) does not count as anchored.

    ## Why is this bad?
    ``uv run flows/investigation.py run`` runs the file in script mode: uv
    builds an environment from the script's own dependency block and does not
    install the repository package. A bare ``import components`` then fails
    at run time, while the test suite, which runs in project mode, imports it
    fine and stays green.

    ## Example
    ```python
    # /// script
    # dependencies = ["metaflow"]
    # ///
    from components.seams import train_arm
    ```

    ## Use instead
    ```python
    # /// script
    # dependencies = ["metaflow"]
    # ///
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    from components.seams import train_arm
    ```
    """

    code = "AXF501"
    name = "script-project-import"
    summary = "A PEP 723 script imports a project package before the __file__-anchored sys.path insert."
    message = (
        "script imports project package '{package}' {when} a __file__-anchored sys.path insert; "
        "uv run in script mode cannot import it"
    )

    def check(self, module: Module) -> Iterator[Finding]:
        packages = set(module.settings.project_packages)
        if not packages or not module.is_pep723_script:
            return
        top_level = list(_module_level(module.tree.body))
        anchor_line = next(
            (stmt.lineno for stmt in top_level if _anchors_sys_path(module, stmt)), None
        )
        if anchor_line is None:
            candidates = list(module.nodes)
        else:
            candidates = [stmt for stmt in top_level if stmt.lineno < anchor_line]
        when = "without" if anchor_line is None else "before"
        for node in candidates:
            package = _project_package(node, packages)
            if package is not None:
                yield self.finding(module, node, package=package, when=when)


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.If, ast.With, ast.Try, ast.TryStar)):
            for block in ("body", "orelse", "finalbody"):
                yield from _module_level(getattr(stmt, block, []))
            for handler in getattr(stmt, "handlers", []):
                yield from _module_level(handler.body)


def _anchored(module: Module, node: ast.AST, depth: int = 0) -> bool:
    if mentions_file(node):
        return True
    if depth > 10:
        return False
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            value = module.module_value(sub.id)
            if value is not None and _anchored(module, value, depth + 1):
                return True
    return False


def _anchors_sys_path(module: Module, stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        target = dotted(call.func) or ""
        if target in {"sys.path.insert", "sys.path.append", "site.addsitedir"} and call.args:
            return _anchored(module, call.args[-1])
    if isinstance(stmt, ast.Assign) and any(
        isinstance(t, ast.Subscript) and dotted(t.value) == "sys.path" for t in stmt.targets
    ):
        return _anchored(module, stmt.value)
    return False


def _project_package(node: ast.AST, packages: set[str]) -> str | None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            top = alias.name.split(".", 1)[0]
            if top in packages:
                return top
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        top = node.module.split(".", 1)[0]
        if top in packages:
            return top
    return None
