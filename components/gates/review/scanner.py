"""Reading source without running it: a declared source script's split calls and settings, module files, delegates.

The review compares an experiment with the investigation's *source of truth*
(a proof-of-concept script named by ``experiment.source``). That script is
untrusted and may be arbitrary code, so it is parsed with :mod:`ast` and never
imported or executed: :class:`Source` lists the calls that reveal its split
convention (random-number sources, splitters, split-named file loads) and the
numeric settings it assigns, passes as keywords, loops over or gives as
command-line defaults. The ast helpers (dotted names, literal evaluation,
module files) are the linter's own (:mod:`lint.astutil`, :mod:`lint.imports`),
so the two readers of Python source cannot drift apart.

:func:`module_file` names the file a ``_target_`` lives in for the reviewer's
reading list. It resolves paths below the repository only for the project's
own packages (:data:`PROJECT_PACKAGES`) and imports nothing, so a config that
names ``os.system`` or a module with side effects runs no code here.
:func:`check_targets` refuses, before anything is validated (validation
imports and builds implementations), a ``_target_`` outside the packages a config may
name (the launch's own rule): ``axisflow
review --check --all`` is a pre-commit and CI hook, and must not run code a
config names.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from components.constants import REPO_ROOT
from components.spec.config import ConfigError
from components.spec.declarations import ImplementationError, check_target_path
from lint.astutil import call_name, dotted, literal
from lint.imports import module_file as _file_of_module

__all__ = [
    "PROJECT_PACKAGES",
    "Occurrence",
    "Source",
    "check_targets",
    "comparable",
    "delegate",
    "loop_values",
    "module_file",
    "normal",
    "numeric_list",
    "setting_literal",
]

#: Top-level packages whose modules :func:`module_file` resolves (by path, never by import).
PROJECT_PACKAGES = ("components",)
# Random-number sources and splitters whose calls reveal a source's split convention.
_RNG_CALLS = ("default_rng", "RandomState", "manual_seed", "random.seed", "PRNGKey", "Generator", "SeedSequence")
_SPLITTERS = ("train_test_split", "KFold", "StratifiedKFold", "GroupKFold", "ShuffleSplit", "StratifiedShuffleSplit",
              "TimeSeriesSplit", "RepeatedKFold", "random_split", "LeaveOneOut")
_LOADERS = ("read_csv", "read_parquet", "load", "loadtxt", "genfromtxt", "open", "load_svmlight_file")
# Spellings a source may use for a config key.
_ALIASES = {"n_epochs": "epochs", "num_epochs": "epochs", "epoch": "epochs", "n_seeds": "seeds", "num_seeds": "seeds",
            "learning_rate": "lr", "batchsize": "batch_size", "wd": "weight_decay"}


def comparable(value: Any) -> bool:
    """True for a number (not a bool) or a non-empty list of numbers: the values a source comparison reads."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) or numeric_list(value)


def numeric_list(value: Any) -> bool:
    """True for a non-empty list or tuple of numbers (not bools)."""
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)


def delegate(fn: Any) -> Any:
    """The function ``fn`` only forwards to (its body, docstring aside, is ``return other(...)``), else ``None``."""
    if not inspect.isfunction(fn):
        return None
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return None
    node = tree.body[0] if tree.body else None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str))]
    if len(body) != 1 or not isinstance(body[0], ast.Return) or not isinstance(body[0].value, ast.Call):
        return None
    func = body[0].value.func
    target = fn.__globals__.get(func.id) if isinstance(func, ast.Name) else None
    return target if callable(target) and target is not fn else None


@dataclass(frozen=True)
class Occurrence:
    """One numeric setting found in a source: where, under which name, its value, and whether it is looped over."""

    line: int
    name: str
    value: Any
    swept: bool


class Source:
    """A declared source of truth (a proof-of-concept script), read with ``ast``: never imported or run."""

    def __init__(self, path: str, tree: ast.Module, text: str):
        self.path, self.tree, self.lines = path, tree, text.splitlines()

    @classmethod
    def read(cls, path: str) -> "Source":
        file = REPO_ROOT / path
        try:
            text = file.read_text()
            return cls(path, ast.parse(text), text)
        except (OSError, SyntaxError, ValueError) as exc:
            raise ConfigError(f"experiment.source {path!r} cannot be read as Python: {exc}") from None

    def _calls(self) -> Iterator[tuple[ast.Call, str]]:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call):
                yield node, _callee(node)

    def split_calls(self) -> list[tuple[int, str]]:
        """(line, code) of every random-number source, splitter and split-named file load, in line order."""
        out = []
        for node, name in self._calls():
            last = name.rsplit(".", 1)[-1]
            rng = any(name.endswith(r) for r in _RNG_CALLS) or name in ("np.random.seed", "numpy.random.seed", "seed")
            split = last in _SPLITTERS
            load = last in _LOADERS and any(
                isinstance(a, ast.Constant) and isinstance(a.value, str) and any(w in a.value.lower() for w in ("train", "test", "val"))
                for a in node.args
            )
            if rng or split or load:
                out.append((node.lineno, ast.unparse(node)))
        return sorted(set(out))

    def convention(self) -> str:
        """A one-phrase reading of :meth:`split_calls` (the reviewer confirms it)."""
        calls = self.split_calls()
        splitters = [text for _, text in calls if any(text.split("(")[0].endswith(s) for s in _SPLITTERS)]
        loads = [text for _, text in calls if text.split("(")[0].rsplit(".", 1)[-1] in _LOADERS]
        rngs = [text for _, text in calls if text not in splitters and text not in loads]
        if splitters:
            return f"a splitter: {', '.join(sorted({s.split('(')[0] for s in splitters}))}"
        if loads:
            return f"a fixed file split: {len(loads)} split-named file load(s)"
        if len(rngs) == 1:
            return "one stream: a single random generator draws everything"
        if rngs:
            offset = any("+" in text for text in rngs)
            return f"several streams: {len(rngs)} generators{' with seed offsets' if offset else ''}"
        return "unknown: no random-number source found"

    def settings(self) -> dict[str, list[Occurrence]]:
        """Normalised name -> numeric settings assigned, passed as keywords, looped over or given as CLI defaults."""
        lists: dict[str, Any] = {}
        found: dict[str, list[Occurrence]] = {}

        def add(name: str, line: int, value: Any, swept: bool) -> None:
            found.setdefault(normal(name), []).append(Occurrence(line, name, value, swept))

        for node in ast.walk(self.tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                value = setting_literal(node.value)
                for target in targets:
                    if isinstance(target, ast.Name) and value is not None:
                        add(target.id, node.lineno, value, False)
                        if isinstance(value, list):
                            lists[target.id] = value
                if isinstance(node.value, ast.Dict):
                    for key, item in zip(node.value.keys, node.value.values):
                        item_value = setting_literal(item)
                        if isinstance(key, ast.Constant) and isinstance(key.value, str) and item_value is not None:
                            add(key.value, node.lineno, item_value, False)
            elif isinstance(node, ast.Call):
                name = _callee(node)
                if name.endswith("add_argument") and node.args and isinstance(node.args[0], ast.Constant) and str(node.args[0].value).startswith("-"):
                    default = next((setting_literal(k.value) for k in node.keywords if k.arg == "default"), None)
                    if default is not None:
                        add(str(node.args[0].value).lstrip("-").replace("-", "_"), node.lineno, default, False)
                    continue
                for kw in node.keywords:
                    value = setting_literal(kw.value) if kw.arg else None
                    if value is not None and kw.arg:
                        add(kw.arg, node.lineno, value, False)
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Name):
                values = loop_values(node.iter, lists)
                if values is not None:
                    add(node.target.id, getattr(node, "lineno", getattr(node.iter, "lineno", 0)), values, True)
        for occurrences in found.values():
            occurrences.sort(key=lambda o: (o.line, o.name))
        return found


def setting_literal(node: ast.AST) -> Any:
    """The numeric value (or list of numbers) a literal expression spells, else ``None``; nothing is executed."""
    value = literal(node)
    if isinstance(value, tuple):
        value = list(value)
    return value if comparable(value) else None


def loop_values(node: ast.AST, lists: Mapping[str, Any]) -> list[Any] | None:
    """The values a ``for`` loop iterates over: a literal list, a list assigned earlier, or a small ``range``."""
    value = setting_literal(node)
    if isinstance(value, list):
        return value
    if isinstance(node, ast.Name) and node.id in lists:
        return list(lists[node.id])
    if isinstance(node, ast.Call) and _callee(node) == "range":
        args = [setting_literal(a) for a in node.args]
        if args and all(isinstance(a, int) for a in args):
            values = list(range(*args))
            return values if 0 < len(values) <= 1000 else None
    return None


def _callee(call: ast.Call) -> str:
    """The dotted callee of ``call``; for a call on a call's result (``torch.Generator().manual_seed``) ``.manual_seed``."""
    name = dotted(call.func)
    if name is not None:
        return name
    last = call_name(call) if isinstance(call.func, ast.Attribute) else None
    return f".{last}" if last else ""


def normal(name: str) -> str:
    """The name a setting is compared under: lowercase, no surrounding underscores, common spellings aliased."""
    name = name.strip("_").lower()
    return _ALIASES.get(name, name)


def module_file(target: str) -> str | None:
    """The repository-relative file that defines ``target`` (an import path), or ``None``.

    Only targets in :data:`PROJECT_PACKAGES` are resolved, by path below the
    repository root (the longest prefix of ``target`` that is a module file);
    nothing is imported, so naming ``os.system`` or a module with top-level
    side effects runs no code.
    """
    parts = str(target).split(".")
    if parts[0] not in PROJECT_PACKAGES:
        return None
    for end in range(len(parts) - 1, 0, -1):
        found = _file_of_module(".".join(parts[:end]), REPO_ROOT)
        if found is not None:
            return found.resolve().relative_to(REPO_ROOT.resolve()).as_posix()
    return None


def check_targets(config: Any, where: str = "") -> None:
    """Refuse the first ``_target_`` in ``config`` that a config may not name, without importing anything.

    The rule is the one every launch applies (:func:`components.spec.declarations.check_target_path`:
    the project's packages plus ``pyproject.toml``'s ``allowed-targets``), checked here on
    the names alone before anything is validated (validation imports and builds
    implementations): ``axisflow review --check --all`` is a pre-commit and CI hook,
    and must not run code a config names.
    """
    for key, target in _targets(config, where):
        try:
            check_target_path(target, key)
        except ImplementationError as exc:
            raise ConfigError(str(exc)) from None


def _targets(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            path = f"{where}.{key}" if where else str(key)
            if key == "_target_":
                yield path, str(value)
            else:
                yield from _targets(value, path)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _targets(value, f"{where}[{i}]")









