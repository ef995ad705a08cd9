"""AXF201: a config or data path that resolves against the working directory."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from lint.analysis import Module, call_name, dotted, self_attr
from lint.dataflow import dataflow_of
from lint.findings import Finding
from lint.rules.base import Rule

_READERS = {
    "omegaconf.OmegaConf.load": ("file_",),
    "hydra.initialize_config_dir": ("config_dir",),
    "hydra.experimental.initialize_config_dir": ("config_dir",),
    "numpy.load": ("file",),
    "numpy.loadtxt": ("fname",),
    "numpy.genfromtxt": ("fname",),
    "pandas.read_csv": ("filepath_or_buffer",),
    "pandas.read_json": ("path_or_buf",),
    "pandas.read_parquet": ("path",),
    "pandas.read_table": ("filepath_or_buffer",),
    "pandas.read_pickle": ("filepath_or_buffer",),
    "torch.load": ("f",),
    "glob.glob": ("pathname",),
    "os.listdir": ("path",),
}
_OPENERS = frozenset(
    {"builtins.open", "io.open", "codecs.open", "gzip.open", "bz2.open", "lzma.open",
     "tarfile.open", "PIL.Image.open", "h5py.File"}
)
_PATH_METHODS = {"read_text", "read_bytes", "open", "iterdir", "glob", "rglob"}
_CWD_CALLS = frozenset({"getcwd", "getcwdb", "cwd"})


class CwdRelativePathRule(Rule):
    """## What it does
    Flags a relative path handed to something that reads it: the ``default=``
    of a Metaflow ``Config`` or ``IncludeFile``; ``OmegaConf.load``; Hydra's
    ``initialize_config_dir``; ``open`` in a read mode (so ``yaml.safe_load(open(...))``);
    ``Path(...).read_text()`` and the other path read methods; and
    ``np.load``, ``pd.read_csv``, ``torch.load`` and friends.

    A path is relative when it is built from a relative string literal: the
    literal itself, an f-string starting with one, ``os.path.join("a", "b")``,
    ``Path("a") / "b"``, ``os.path.abspath(...)`` or ``Path(...).resolve()`` of
    one (they make it absolute against the working directory, which is the
    problem), ``Path.cwd()`` / ``os.getcwd()``, or a module-level name assigned
    one of these. Absolute literals, ``~`` paths, URLs, and anything whose
    expression mentions ``__file__`` (directly or through a module-level name
    such as ``ROOT = Path(__file__).resolve().parents[1]``) are fine. Paths
    coming from parameters or unknown calls are not judged.

    A path that reaches a reader through a Metaflow ``Parameter`` is judged by
    the parameter's ``default=`` (``cfg = Parameter("cfg", default="../configs/x.yaml")``
    then ``open(self.cfg)``), and a ``Parameter`` default built from
    ``os.getcwd()`` or ``Path.cwd()`` is flagged where it is declared.

    Writing is not reading: ``open(path, "w")`` (and the other write modes),
    ``Path.write_text`` and in-memory files
    (``h5py.File(name, driver="core", backing_store=False)``) are not flagged,
    so a scratch file written, uploaded and removed in one step passes. A
    scratch file that a function writes and then reads back (the same path
    spelling) is not flagged either: the same task created it in its own
    working directory. A file read *before* the function writes it back is a
    committed file updated in place, and is flagged. Writes are
    ``open(path, "w")`` and the other write modes, ``Path.write_text``/
    ``write_bytes``, ``torch.save``, ``np.save``, ``joblib.dump``,
    ``df.to_csv`` and similar ``to_*`` methods, and ``savefig``.

    Hydra's ``initialize(config_path=...)`` and ``@hydra.main(config_path=...)``
    are not flagged: Hydra resolves that argument relative to the calling
    file, not the working directory, so a relative value there is already
    anchored. ``compose`` takes a config name, not a path.

    ## Why is this bad?
    ``uv run flows/investigation.py run`` works from the repository root and
    fails (or silently reads another file) from anywhere else: a different
    shell, CI, a scheduler, or ``resume``, which re-runs the ``Config`` parser
    with its default.

    ## Example
    ```python
    cfg = Config("cfg", default="configs/config.yaml", parser=compose_config)
    ```

    ## Use instead
    ```python
    ROOT = Path(__file__).resolve().parents[1]
    cfg = Config("cfg", default=str(ROOT / "configs" / "config.yaml"), parser=compose_config)
    ```
    """

    code = "AXF201"
    name = "cwd-relative-path"
    summary = "A config or data path is relative to the working directory, not anchored to __file__."
    message = "{sink} gets {path}, which is relative to the working directory; anchor it to __file__"

    def check(self, module: Module) -> Iterator[Finding]:
        scratch = None
        for call in module.calls:
            for sink, argument in _path_arguments(module, call):
                verdict, shown = module.classify_path(argument), ast.unparse(argument)
                if verdict == "unknown":
                    default = _parameter_default(module, argument)
                    if default is not None and module.classify_path(default) == "relative":
                        verdict, shown = "relative", f"{shown} (Parameter default {ast.unparse(default)})"
                if verdict == "unknown":
                    given = _relative_argument(module, argument)
                    if given is not None:
                        verdict, shown = "relative", f"{shown} (given {ast.unparse(given)})"
                if verdict != "relative":
                    continue
                if scratch is None:
                    scratch = _scratch_paths(module)
                if _is_scratch(scratch, module.enclosing_function(call), _path_key(argument), call):
                    continue
                if len(shown) > 80:
                    shown = shown[:77] + "..."
                yield self.finding(module, argument, sink=sink, path=shown)


def _parameter_default(module: Module, node: ast.AST) -> ast.expr | None:
    """The ``default=`` of the Metaflow ``Parameter`` that ``self.name`` (or a local copy of it) reads."""
    if isinstance(node, ast.Name):
        func = module.enclosing_function(node)
        bound = dataflow_of(module).bindings(func).get(node.id, []) if func is not None else []
        values = [value for line, value in bound if value is not None and line <= node.lineno]
        if len(values) != 1:
            return None
        node = values[0]
    attr = self_attr(node)
    if attr is None:
        return None
    for flow in module.flow_classes:
        for stmt in flow.node.body:
            if (
                isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)
                and any(isinstance(t, ast.Name) and t.id == attr for t in stmt.targets)
                and (module.qualname(stmt.value.func) or "").startswith("metaflow.")
                and call_name(stmt.value) == "Parameter"
            ):
                return next((k.value for k in stmt.value.keywords if k.arg == "default"), None)
    return None


def _relative_argument(module: Module, node: ast.expr) -> ast.expr | None:
    """A relative path a function parameter receives: its default, or an argument at a call in this file."""
    if not isinstance(node, ast.Name):
        return None
    func = module.enclosing_function(node)
    if func is None:
        return None
    args = func.args
    positional = [*args.posonlyargs, *args.args]
    candidates: list[ast.expr] = []
    for arg, default in zip(positional[len(positional) - len(args.defaults):], args.defaults):
        if arg.arg == node.id:
            candidates.append(default)
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults):
        if arg.arg == node.id and kw_default is not None:
            candidates.append(kw_default)
    if not candidates and not any(a.arg == node.id for a in [*positional, *args.kwonlyargs]):
        return None
    names = [a.arg for a in positional]
    for call in dataflow_of(module).calls_of(func):
        offset = 1 if names[:1] in (["self"], ["cls"]) and isinstance(call.func, ast.Attribute) else 0
        for name, value in zip(names[offset:], call.args):
            if name == node.id:
                candidates.append(value)
        candidates.extend(k.value for k in call.keywords if k.arg == node.id)
    return next((c for c in candidates if module.classify_path(c) == "relative"), None)


def _is_scratch(scratch: dict, scope: object, key: str, call: ast.Call) -> bool:
    """True if the same function wrote this path before this read (a file the task made itself)."""
    return any(line < call.lineno for line in scratch.get((scope, key), ()))


_WRITERS = {"torch.save": 1, "numpy.save": 0, "numpy.savez": 0, "numpy.savetxt": 0, "joblib.dump": 1}
_WRITE_METHODS = frozenset(
    {"write_text", "write_bytes", "to_csv", "to_parquet", "to_json", "to_pickle", "savefig",
     "save_pretrained", "mkdir", "touch"}
)


def _path_key(node: ast.expr) -> str:
    return ast.unparse(node)


def _scratch_paths(module: Module) -> dict[tuple[object, str], list[int]]:
    """``(function, path spelling) -> lines`` where the function writes that path.

    A read of the same spelling after one of those lines reads a scratch file
    the task made itself; a read before any write is a committed file the
    function updates in place, and is still judged.
    """
    written: dict[tuple[object, str], list[int]] = {}
    for call in module.calls:
        scope = module.enclosing_function(call)
        qualified = module.qualname(call.func) or ""
        last = call_name(call) or ""
        key = None
        if last == "open" and _write_mode(call) and call.args:
            key = _path_key(call.args[0])
        elif qualified in _WRITERS and len(call.args) > _WRITERS[qualified]:
            key = _path_key(call.args[_WRITERS[qualified]])
        elif isinstance(call.func, ast.Attribute) and last in _WRITE_METHODS:
            if last in {"write_text", "write_bytes", "mkdir", "touch"}:
                key = _path_key(call.func.value)
            elif call.args:
                key = _path_key(call.args[0])
        if key is not None:
            written.setdefault((scope, key), []).append(call.lineno)
    return written


def _in_memory(call: ast.Call) -> bool:
    """``h5py.File(name, driver="core", backing_store=False)``: a file that never touches the disk."""
    keywords = {k.arg: k.value for k in call.keywords}
    backing = keywords.get("backing_store")
    return (
        isinstance(driver := keywords.get("driver"), ast.Constant) and driver.value == "core"
        and isinstance(backing, ast.Constant) and backing.value is False
    )


def _write_mode(call: ast.Call) -> bool:
    mode = call.args[1] if len(call.args) > 1 else next(
        (k.value for k in call.keywords if k.arg == "mode"), None
    )
    return isinstance(mode, ast.Constant) and isinstance(mode.value, str) and any(
        flag in mode.value for flag in "wax+"
    )


def _path_arguments(module: Module, call: ast.Call) -> Iterator[tuple[str, ast.expr]]:
    qualified = module.qualname(call.func) or ""
    last = call_name(call)

    def argument(position: int | None, *keywords: str) -> ast.expr | None:
        for keyword in call.keywords:
            if keyword.arg in keywords:
                return keyword.value
        if position is not None and len(call.args) > position:
            return call.args[position]
        return None

    found = None
    if qualified.startswith("metaflow.") and last == "Config":
        found = argument(1, "default")
    elif qualified.startswith("metaflow.") and last == "IncludeFile":
        found = argument(None, "default")
    elif qualified in _READERS or qualified.endswith(".OmegaConf.load"):
        found = argument(0, *_READERS.get(qualified, ("file_",)))
    elif qualified.startswith("metaflow.") and last == "Parameter":
        default = argument(None, "default")
        if default is not None and any(
            isinstance(sub, ast.Call) and call_name(sub) in _CWD_CALLS for sub in ast.walk(default)
        ):
            found = default  # the working directory at launch, frozen into the run
    elif (isinstance(call.func, ast.Name) and call.func.id == "open" and not qualified) or (
        qualified in _OPENERS
    ):
        if not _write_mode(call) and not _in_memory(call):
            found = argument(0, "file", "filename", "name")
    if found is not None:
        yield f"{dotted(call.func) or last}()", found
    elif isinstance(call.func, ast.Attribute) and call.func.attr in _PATH_METHODS:
        receiver = call.func.value
        if not isinstance(receiver, ast.Constant):
            yield f".{call.func.attr}()", receiver
