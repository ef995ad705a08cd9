"""File-backed datasets: a CSV or Parquet table, cross-validated, as a ``make_data`` generator.

A data config::

    _target_: components.library.tables.binary_table
    path: data/breast_cancer.csv        # relative to the project root, or absolute
    format: csv                          # csv | parquet
    target: diagnosis
    classes: [malignant, benign]         # class id = position in this list
    features: [mean radius, mean texture, ...]
    categorical: {}                      # non-numeric feature -> one_hot | ordinal
    group_column: null                   # required by splitter: grouped
    splitter: stratified                 # kfold | stratified | grouped
    n_splits: 5
    fold: 0                              # the experiment sweeps it: axes.data.fold: [0, 1, 2, 3, 4]
    inner_val_folds: 5                   # validation = 1 of this many folds of the training fold

A relative ``path`` is resolved against the project root (the folder holding
``components/``), never the working directory; in a Metaflow code package that
root is the package's code folder, and ``data/`` travels in it
(:class:`components.shell.ship_project`). The table's SHA-256 content hash seeds
the split (with the replicate seed and the fold index, see
:mod:`components.library.folds`) and is recorded in the run's ``results``.

Everything that can be wrong with the table -- a missing file, a missing column,
a non-numeric feature without a declared encoding, missing values, a target
with other classes than declared -- is found when the config is checked at
launch (the settings' validator reads the table), and reported on one line
naming the key.

A large table is read and hashed once per process at most: the SHA-256 is
streamed from disk and cached by (path, size, mtime_ns), the parse reads only
the target, feature and group columns, and validation and the generator share
one float32 matrix. The launch records the digest (and that these settings were
validated); ``start``, ``join`` and ``end`` trust it while the file's size and
mtime are unchanged (:func:`trust_digest`) and read nothing, while each branch
hashes what it reads and the framework compares it with the launch's.

Encodings are label-free and fixed by the whole file's declared column, not
fitted on a split: ``one_hot`` makes one 0/1 column per distinct value (sorted),
``ordinal`` the value's rank among the sorted distinct values. Anything fitted
on data (scaling, imputation, feature selection) belongs in the method, fitted
on the training split only (a scikit-learn ``Pipeline``, or
:func:`components.library.scaled_torch.train_torch_scaled`).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Mapping

import numpy as np
from pydantic import Field, model_validator

from components.spec.declarations import FieldError, Params, excerpt, generator
from components.library.folds import Split, cv_split, nested_split
from components.spec.seams import Dataset

__all__ = [
    "ROOT",
    "BinaryTableParams",
    "MulticlassTableParams",
    "RegressionTableParams",
    "Table",
    "binary_table",
    "FileDigest",
    "describe_source",
    "digest_source",
    "file_digest",
    "load_table",
    "multiclass_table",
    "regression_table",
    "resolve_path",
    "table_split",
    "trust_digest",
]

#: The project root: relative table paths are resolved against it (never the working directory).
ROOT = Path(__file__).resolve().parents[2]
_SHOWN_COLUMNS = 8


def resolve_path(path: str) -> Path:
    """``path`` if absolute, else ``ROOT / path``."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else ROOT / candidate


@dataclass(frozen=True)
class Table:
    """A loaded table: a pandas ``frame`` of the columns read, the file's SHA-256 ``sha256``, ``resolved`` path and every column name."""

    frame: Any
    sha256: str
    resolved: Path
    columns: tuple[str, ...]


@dataclass(frozen=True)
class FileDigest:
    """A file's SHA-256 and the ``size`` and ``mtime_ns`` it had when hashed."""

    resolved: Path
    sha256: str
    size: int
    mtime_ns: int


#: ``(resolved path, size, mtime_ns) -> sha256``: a table is hashed once per process while it stays unchanged.
_DIGESTS: dict[tuple[str, int, int], str] = {}
#: How many times this process hashed a table's bytes (the large-table benchmark reports it).
HASH_PASSES = [0]
_CHUNK = 1 << 20


def _stat_key(resolved: Path) -> tuple[str, int, int]:
    stat = resolved.stat()
    return (str(resolved), stat.st_size, stat.st_mtime_ns)


def _existing(path: str) -> Path:
    resolved = resolve_path(path)
    if not resolved.is_file():
        raise FieldError(
            ("path",),
            f"file {excerpt(path)} not found at {excerpt(str(resolved), 200, quote=False)} (a relative path is resolved against the project root {ROOT}, "
            "never the working directory)",
        )
    return resolved


def file_digest(path: str) -> FileDigest:
    """The SHA-256 of the file at ``path``, streamed in 1 MiB chunks, hashed once per process while unchanged.

    The file's size and modification time are read before and after hashing:
    a file written meanwhile raises :class:`FieldError` at ``path``.
    """
    resolved = _existing(path)
    key = _stat_key(resolved)
    if key not in _DIGESTS:
        digest = hashlib.sha256()
        with open(resolved, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        HASH_PASSES[0] += 1
        if _stat_key(resolved) != key:
            raise FieldError(("path",), f"{resolved} changed while it was being hashed; run again once it is written")
        _DIGESTS[key] = digest.hexdigest()
    return FileDigest(resolved, _DIGESTS[key], key[1], key[2])


#: Row counts by SHA-256, from a parse in this process or from the launch's record (``describe_source`` reports them).
_ROWS: dict[str, int] = {}
#: ``(sha256, settings)`` pairs validated in this process or at the run's launch: not read again to re-check.
_VALIDATED: set[tuple[str, str]] = set()


#: The settings a table's checks and matrix depend on (not the fold or the splitter: those pick rows of it).
_MATRIX_FIELDS = ("path", "format", "target", "features", "categorical", "group_column", "classes")


def _settings_key(settings: Mapping[str, Any], task: str) -> str:
    return json.dumps({"task": task, **{k: settings.get(k) for k in _MATRIX_FIELDS}}, sort_keys=True, default=str)


def _node_key(node: Mapping[str, Any]) -> str:
    """:func:`_settings_key` of a data config node naming one of this module's generators by ``_target_``."""
    name = str(node["_target_"]).rsplit(".", 1)[-1] if "_target_" in node else ""
    return _settings_key(node, name.removesuffix("_table") if name in _GENERATORS else "?")


def trust_digest(record: Mapping[str, Any], settings: Mapping[str, Any] | None = None) -> None:
    """Use the launch's digest of a table in this process while its resolved path, size and mtime match.

    ``record`` is :func:`digest_source`'s output recorded at launch; with the
    data ``settings`` it was validated against, validating the same settings
    here does not read the table again (``start``, ``join`` and ``end`` need
    no rows; branches never trust and hash what they read).
    """
    _DIGESTS[(str(record["resolved_abs"]), int(record["size"]), int(record["mtime_ns"]))] = str(record["sha256"])
    if record.get("rows") is not None:
        _ROWS[str(record["sha256"])] = int(record["rows"])
    if settings is not None and record.get("validated"):
        _VALIDATED.add((str(record["sha256"]), _node_key(settings)))


def load_table(path: str, format: str, columns: tuple[str, ...] | None = None) -> Table:
    """Read ``columns`` (default: all) of the table at ``path`` (see :func:`resolve_path`); cached per file content.

    The file is hashed once (:func:`file_digest`) and then parsed from disk
    with only the requested columns, so memory holds what the split needs,
    not the file's bytes nor its other columns. Raises :class:`FieldError` at
    ``path`` when the file is missing or unreadable, or changes while being read.
    """
    digest = file_digest(path)
    table = _parse(str(digest.resolved), format, digest.sha256, columns)
    if _stat_key(digest.resolved) != (str(digest.resolved), digest.size, digest.mtime_ns):
        _parse.cache_clear()
        raise FieldError(("path",), f"{digest.resolved} changed while it was being read; run again once it is written")
    return table


def _read_error(resolved: str, format: str, exc: Exception) -> FieldError:
    reason = excerpt(str(exc).strip().splitlines()[0], 120, quote=False) if str(exc).strip() else type(exc).__name__
    return FieldError(("path",), f"{resolved} could not be read as {format}: {reason}")


def _header(resolved: str, format: str) -> tuple[str, ...]:
    """The table's column names, read without its rows."""
    import pandas as pd

    try:
        if format == "csv":
            return tuple(str(c) for c in pd.read_csv(resolved, nrows=0).columns)
        import pyarrow.parquet as pq

        return tuple(pq.read_schema(resolved).names)
    except Exception as exc:
        raise _read_error(resolved, format, exc) from None


@functools.lru_cache(maxsize=2)
def _parse(resolved: str, format: str, sha256: str, columns: tuple[str, ...] | None) -> Table:
    import pandas as pd

    names = _header(resolved, format)
    wanted = None if columns is None else [c for c in names if c in set(columns)]
    try:
        frame = pd.read_csv(resolved, usecols=wanted) if format == "csv" else pd.read_parquet(resolved, columns=wanted)
    except Exception as exc:
        raise _read_error(resolved, format, exc) from None
    _ROWS[sha256] = len(frame)
    return Table(frame, sha256, Path(resolved), names)


class TableParams(Params):
    """Settings shared by the table generators (see the module docstring for an example)."""

    _task: ClassVar[str] = ""

    path: str = Field(description="CSV or Parquet file: absolute, or relative to the project root (not the working directory)")
    format: Literal["csv", "parquet"] = Field(description="file format")
    target: str = Field(description="the target column")
    features: Annotated[list[str], Field(min_length=1, description="the feature columns, in model input order")]
    categorical: dict[str, Literal["one_hot", "ordinal"]] = Field(
        description="encoding of each non-numeric feature (label-free, fixed by the whole column's distinct values); {} for none"
    )
    group_column: str | None = Field(description="column whose values keep rows together in one fold (splitter: grouped); null otherwise")
    splitter: Literal["kfold", "stratified", "grouped"] = Field(description="how rows are dealt into folds")
    n_splits: Annotated[int, Field(ge=2, le=100, description="k, the number of folds")]
    fold: Annotated[int, Field(ge=0, description="the held-out test fold, 0..n_splits-1 (sweep it as the data axis 'fold')")]
    inner_val_folds: Annotated[
        int, Field(ge=2, le=100, description="validation (early stopping, selection) is 1 of this many folds of the training fold")
    ]

    @model_validator(mode="after")
    def _table_fits(self) -> "TableParams":
        if self.fold >= self.n_splits:
            raise FieldError(("fold",), f"input should be less than n_splits={self.n_splits} (got {self.fold})")
        if self.splitter == "grouped" and self.group_column is None:
            raise FieldError(("group_column",), "is null, but splitter grouped needs the column that keeps rows together")
        if self.splitter != "grouped" and self.group_column is not None:
            raise FieldError(("group_column",), f"is set, but splitter is {self.splitter}; use splitter: grouped or group_column: null")
        if self.splitter == "stratified" and self._task == "regression":
            raise FieldError(("splitter",), "stratified needs class labels; a regression target uses kfold or grouped")
        checked = (file_digest(self.path).sha256, _settings_key(self.model_dump(), self._task))
        if checked not in _VALIDATED:
            _matrix(self, load_table(self.path, self.format, _needed(self)))
            _VALIDATED.add(checked)
        return self


class ClassTableParams(TableParams):
    """Settings of a classification table: the declared classes, in class-id order."""

    classes: Annotated[list[str | int], Field(min_length=2, description="the target's classes; class id = position in this list")]


class BinaryTableParams(ClassTableParams):
    """Settings of :func:`binary_table`: exactly two classes; the second is the positive class."""

    _task: ClassVar[str] = "binary"


class MulticlassTableParams(ClassTableParams):
    """Settings of :func:`multiclass_table`: three or more classes."""

    _task: ClassVar[str] = "multiclass"


class RegressionTableParams(TableParams):
    """Settings of :func:`regression_table`: a numeric target."""

    _task: ClassVar[str] = "regression"


def _columns(columns: Any) -> str:
    names = [excerpt(str(c), 40, quote=False) for c in columns]  # a header is file content: quoted short and printable
    shown = ", ".join(names[:_SHOWN_COLUMNS])
    return shown + (f", ... ({len(names)} in all)" if len(names) > _SHOWN_COLUMNS else "")


def _needed(params: TableParams) -> tuple[str, ...]:
    """The columns the generator reads: target, features and the group column."""
    return tuple(dict.fromkeys([params.target, *params.features, *([params.group_column] if params.group_column else [])]))


#: The last matrices built, by (SHA-256, settings): validation and the generator share one conversion per process.
_MATRICES: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray | None]] = {}


def _matrix(params: TableParams, table: Table) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(X float32 (n, d), y, groups or None)`` from the table; :class:`FieldError` at the offending key."""
    key = (table.sha256, _settings_key(params.model_dump(), params._task))
    if key not in _MATRICES:
        _MATRICES.clear()  # one table's matrices at a time: memory is bounded by what one split needs
        _MATRICES[key] = _build_matrix(params, table)
    return _MATRICES[key]


def _build_matrix(params: TableParams, table: Table) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    import pandas as pd

    frame, name = table.frame, Path(params.path).name
    for loc, column in [(("target",), params.target), *((("features", i), c) for i, c in enumerate(params.features))]:
        if column not in table.columns:
            raise FieldError(loc, f"column {column!r} is not in {name}; columns: {_columns(table.columns)}")
    if params.target in params.features:
        raise FieldError(("features", params.features.index(params.target)), f"{params.target!r} is the target; it cannot be a feature")
    if len(set(params.features)) != len(params.features):
        raise FieldError(("features",), "repeats a column")
    for column in params.categorical:
        if column not in params.features:
            raise FieldError(("categorical", column), "is not one of the features")
    if params.group_column is not None and params.group_column not in table.columns:
        raise FieldError(("group_column",), f"column {params.group_column!r} is not in {name}; columns: {_columns(table.columns)}")

    blocks = []
    for i, column in enumerate(params.features):
        values = frame[column]
        encoding = params.categorical.get(column)
        if encoding is None:
            if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
                raise FieldError(
                    ("features", i),
                    f"column {excerpt(column)} is not numeric ({values.dtype}, e.g. {excerpt(values.iloc[0])}); "
                    f"declare its encoding: categorical: {{{column}: one_hot}} (or ordinal)",
                )
            missing = int(values.isna().sum())
            if missing:
                raise FieldError(("features", i), f"column {column!r} has {missing} missing value(s); fill them in the file (axisflow does not impute)")
            # Cast per column (elementwise, the same bits as casting the whole float64 matrix), so no float64 copy of it exists.
            blocks.append(values.to_numpy(dtype=np.float64).astype(np.float32)[:, None])
        else:
            text = values.astype(str).to_numpy()
            levels, codes = np.unique(text, return_inverse=True)
            if encoding == "ordinal":
                blocks.append(codes.astype(np.float64).astype(np.float32)[:, None])
            else:
                blocks.append((codes[:, None] == np.arange(len(levels))[None, :]).astype(np.float32))
    X = np.concatenate(blocks, axis=1)

    target = frame[params.target]
    if int(target.isna().sum()):
        raise FieldError(("target",), f"column {params.target!r} has {int(target.isna().sum())} missing value(s)")
    if isinstance(params, ClassTableParams):
        declared = [str(c) for c in params.classes]
        if params._task == "binary" and len(declared) != 2:
            raise FieldError(("classes",), f"a binary table has exactly 2 classes, but {len(declared)} are declared ({', '.join(declared)})")
        if params._task == "multiclass" and len(declared) < 3:
            raise FieldError(("classes",), f"a multiclass table has 3 or more classes, but {len(declared)} are declared; use binary_table for 2")
        if len(set(declared)) != len(declared):
            raise FieldError(("classes",), "repeats a class")
        found = sorted({str(v) for v in target.tolist()})
        if sorted(declared) != found:
            raise FieldError(
                ("target",),
                f"column {excerpt(params.target)} has {len(found)} class(es) ({', '.join(excerpt(c, 40, quote=False) for c in found[:10])}), "
                f"but classes declares {len(declared)} ({', '.join(declared)})",
            )
        index = {c: i for i, c in enumerate(declared)}
        y = np.array([index[str(v)] for v in target.tolist()], dtype=np.int64)
    else:
        if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
            raise FieldError(("target",), f"column {params.target!r} is not numeric ({target.dtype}); a regression target must be")
        y = target.to_numpy(dtype=np.float32)
    groups = None if params.group_column is None else frame[params.group_column].astype(str).to_numpy()
    return X, y, groups


def table_split(params: TableParams, seed: int, held_out: int | None = None) -> Split:
    """The row indices of the split the generator uses for ``params.fold`` of replicate ``seed``.

    With ``held_out``, nested cross-validation's inner split of that outer fold:
    test on fold ``held_out``, train on the folds other than it and ``params.fold``.
    """
    table = load_table(params.path, params.format, _needed(params))
    _, y, groups = _matrix(params, table)
    labels = y if params._task != "regression" else None
    if held_out is None:
        return cv_split(
            params.splitter, params.n_splits, params.fold, params.inner_val_folds,
            seed=seed, dataset_hash=table.sha256, n_rows=len(y), labels=labels, groups=groups,
        )
    return nested_split(
        params.splitter, params.n_splits, params.fold, held_out, params.inner_val_folds,
        seed=seed, dataset_hash=table.sha256, n_rows=len(y), labels=labels, groups=groups,
    )


def _dataset(params: TableParams, seed: int, held_out: int | None = None) -> Dataset:
    table = load_table(params.path, params.format, _needed(params))
    X, y, _ = _matrix(params, table)
    split = table_split(params, seed, held_out)
    classes = tuple(str(c) for c in params.classes) if isinstance(params, ClassTableParams) else None
    parts = [a for rows in (split.train, split.val, split.test) for a in (X[rows], y[rows])]
    # Validation is an inner fold of the training fold, so a method that uses no validation fits on both (seams.fit_data).
    return Dataset(
        params._task, *parts, n_classes=None if classes is None else len(classes), val_from_train=True, classes=classes  # type: ignore[misc]  # parts: the six split arrays
    )


def describe_source(params: Mapping[str, Any] | TableParams) -> dict[str, Any]:
    """What the results record about the table: path as given, resolved path, SHA-256, rows and columns used."""
    path, format = (params.path, params.format) if isinstance(params, TableParams) else (params["path"], params["format"])
    digest = file_digest(path)
    if digest.sha256 not in _ROWS:
        target = params.target if isinstance(params, TableParams) else params.get("target")
        load_table(path, format, (target,) if target else _header(str(digest.resolved), format)[:1])  # rows, from one column
    try:
        shown = digest.resolved.relative_to(ROOT).as_posix()
    except ValueError:
        shown = str(digest.resolved)
    return {"path": path, "resolved": shown, "format": format, "sha256": digest.sha256, "rows": _ROWS[digest.sha256]}


_SPLIT = (
    "k-fold cross-validation of the table (n_splits folds; kfold, stratified by class or grouped, per `splitter`): the fold assignment is a pure function of the replicate seed and "
    "the file's SHA-256; the test split is fold `fold`; validation (early stopping, selection) is 1 of inner_val_folds folds of the "
    "training fold, drawn from (seed, hash, fold), never from the test fold; training is the rest of the training fold"
)


def _nested_split(params: TableParams, data_axes: Mapping[str, Any], seed: int, held_out: int) -> Dataset:
    """Nested cross-validation's inner split of outer fold ``params.fold``: tested on fold ``held_out``."""
    return _dataset(params, seed, held_out)


@generator(params=BinaryTableParams, task="binary", split=_SPLIT, nested_split=_nested_split)
def binary_table(params: BinaryTableParams, data_axes: Mapping[str, Any], seed: int) -> Dataset:
    """A binary classification table (class ids by position in ``classes``), split for fold ``params.fold``."""
    return _dataset(params, seed)


@generator(params=MulticlassTableParams, task="multiclass", split=_SPLIT, nested_split=_nested_split)
def multiclass_table(params: MulticlassTableParams, data_axes: Mapping[str, Any], seed: int) -> Dataset:
    """A multiclass classification table, split for fold ``params.fold``."""
    return _dataset(params, seed)


@generator(params=RegressionTableParams, task="regression", split=_SPLIT, nested_split=_nested_split)
def regression_table(params: RegressionTableParams, data_axes: Mapping[str, Any], seed: int) -> Dataset:
    """A regression table (numeric target), split for fold ``params.fold``."""
    return _dataset(params, seed)


_GENERATORS = {"binary_table": binary_table, "multiclass_table": multiclass_table, "regression_table": regression_table}


def digest_source(params: Mapping[str, Any]) -> dict[str, Any]:
    """The table's content hash for reuse keys and launch records: path as given, resolved path, SHA-256, size, mtime."""
    digest = file_digest(params["path"])
    try:
        shown = digest.resolved.relative_to(ROOT).as_posix()
    except ValueError:
        shown = str(digest.resolved)
    return {
        "path": params["path"], "resolved": shown, "resolved_abs": str(digest.resolved), "sha256": digest.sha256,
        "size": digest.size, "mtime_ns": digest.mtime_ns, "rows": _ROWS.get(digest.sha256),
        # Launch validates the settings before it records this; tasks of the run then skip re-reading to re-check.
        "validated": (digest.sha256, _node_key(params)) in _VALIDATED,
    }


for _generator in _GENERATORS.values():
    # The results surface asks the generator where its data came from (components.engine.surface.build_results);
    # reuse hashes the file through ``digest`` and lets ``start`` trust the launch's digest through ``trust``.
    _generator.source = describe_source
    _generator.digest = digest_source
    _generator.trust = trust_digest
