"""AXF201: a config or data path that resolves against the working directory."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from lint.analysis import Module, call_name, dotted
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
_PATH_METHODS = {"read_text", "read_bytes", "open", "write_text", "write_bytes", "iterdir", "glob", "rglob"}


class CwdRelativePathRule(Rule):
    """## What it does
    Flags a relative path handed to something that reads it: the ``default=``
    of a Metaflow ``Config`` or ``IncludeFile``; ``OmegaConf.load``; Hydra's
    ``initialize_config_dir``; ``open`` (so ``yaml.safe_load(open(...))``);
    ``Path(...).read_text()`` and the other path read/write methods; and
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

    A scratch file that a function both writes and reads back (the same
    path spelling, or the same name) is not flagged: it is created by the
    same task in its own working directory, so it is found wherever the task
    runs. Writes are ``open(path, "w")`` and the other write modes,
    ``Path.write_text``/``write_bytes``, ``torch.save``, ``np.save``,
    ``pickle.dump``/``json.dump`` into such an ``open``, ``df.to_csv`` and
    similar ``to_*`` methods, and ``savefig``.

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
                if module.classify_path(argument) == "relative":
                    if scratch is None:
                        scratch = _scratch_paths(module)
                    if (module.enclosing_function(call), _path_key(argument)) in scratch:
                        continue
                    shown = ast.unparse(argument)
                    if len(shown) > 60:
                        shown = shown[:57] + "..."
                    yield self.finding(module, argument, sink=sink, path=shown)


_WRITERS = {"torch.save": 1, "numpy.save": 0, "numpy.savez": 0, "numpy.savetxt": 0, "joblib.dump": 1}
_WRITE_METHODS = frozenset(
    {"write_text", "write_bytes", "to_csv", "to_parquet", "to_json", "to_pickle", "savefig",
     "save_pretrained", "mkdir", "touch"}
)


def _path_key(node: ast.expr) -> str:
    return ast.unparse(node)


def _scratch_paths(module: Module) -> set[tuple[object, str]]:
    """``(function, path spelling)`` pairs that the same function both writes and reads."""
    written: set[tuple[object, str]] = set()
    read: set[tuple[object, str]] = set()
    for call in module.calls:
        scope = module.enclosing_function(call)
        qualified = module.qualname(call.func) or ""
        last = call_name(call) or ""
        if last == "open" and _write_mode(call) and call.args:
            written.add((scope, _path_key(call.args[0])))
        elif qualified in _WRITERS and len(call.args) > _WRITERS[qualified]:
            written.add((scope, _path_key(call.args[_WRITERS[qualified]])))
        elif isinstance(call.func, ast.Attribute) and last in _WRITE_METHODS:
            if last in {"write_text", "write_bytes", "mkdir", "touch"}:
                written.add((scope, _path_key(call.func.value)))
            elif call.args:
                written.add((scope, _path_key(call.args[0])))
        else:
            for _, argument in _path_arguments(module, call):
                read.add((scope, _path_key(argument)))
    return written & read


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
    elif (isinstance(call.func, ast.Name) and call.func.id == "open" and not qualified) or (
        qualified in _OPENERS
    ):
        found = argument(0, "file", "filename")
    if found is not None:
        yield f"{dotted(call.func) or last}()", found
    elif isinstance(call.func, ast.Attribute) and call.func.attr in _PATH_METHODS:
        receiver = call.func.value
        if not isinstance(receiver, ast.Constant):
            yield f".{call.func.attr}()", receiver
