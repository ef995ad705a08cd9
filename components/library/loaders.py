"""Datasets that ship in a package (scikit-learn's ``load_*``) or arrive as arrays, cross-validated, as ``make_data`` generators.

A data config::

    _target_: components.library.loaders.multiclass_loader
    loader:
      _target_: sklearn.datasets.load_digits   # a function sklearn.datasets.load_*
      n_class: 10                              # any further keys are the loader's keyword arguments
    splitter: stratified                       # kfold | stratified (classification only)
    n_splits: 5
    fold: 0                                    # the experiment sweeps it: axes.data.fold: [0, 1, 2, 3, 4]
    inner_val_folds: 5                         # validation = 1 of this many folds of the training fold

``binary_loader`` and ``regression_loader`` take the same settings (the
regression one with ``splitter: kfold``). The folds, the checks and the
fingerprint are those of file-backed tables (:mod:`components.library.tables`):
the split is a pure function of the replicate seed, the fold index and the
SHA-256 of the loaded arrays (:mod:`components.library.folds`), and that hash
is recorded in the run's ``results`` and in every arm's reuse key, so a package
upgrade that changes the data retrains every arm.

Only a function under ``sklearn.datasets`` whose name starts with ``load_`` is
called, and it is checked before the call: ``fetch_*`` downloads (a branch
task must not need the network) and any other callable is refused on one line.
A loader's arrays are checked when the config is checked at launch: a 2-D
finite numeric ``X``, a 1-D ``y`` of the same length, and classes that fit the
task.

For arrays you already hold (a torch dataset turned into arrays, a NumPy file
your own generator reads), call :func:`arrays_dataset` from your generator: it
applies the same checks, folds and fingerprint.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Mapping

import numpy as np
from pydantic import Field, field_validator, model_validator

from components.library.folds import Split, cv_split
from components.spec.declarations import FieldError, Params, check_keywords, generator, locate
from components.spec.seams import Dataset

__all__ = [
    "ArrayData",
    "BinaryLoaderParams",
    "LoaderParams",
    "MulticlassLoaderParams",
    "RegressionLoaderParams",
    "arrays_dataset",
    "binary_loader",
    "check_arrays",
    "check_loader",
    "describe_loader",
    "load_arrays",
    "multiclass_loader",
    "regression_loader",
    "trust_description",
]

#: Where a loader must live, and how its name must start (``fetch_*`` would download).
LOADER_MODULE, LOADER_PREFIX = "sklearn.datasets", "load_"
# Keyword arguments the generator sets itself: it always asks for plain arrays.
_RESERVED_KWARGS = ("return_X_y", "as_frame")


@dataclass(frozen=True)
class ArrayData:
    """Checked arrays of one task: ``X`` float32 ``(n, d)``, ``y`` int64 class ids or float32 targets ``(n,)``.

    ``sha256`` hashes both arrays' dtype, shape and bytes (the fingerprint the
    folds and the reuse key use); ``classes`` are the original labels in
    class-id order (``None`` for regression).
    """

    X: np.ndarray
    y: np.ndarray
    sha256: str
    classes: tuple[Any, ...] | None

    @property
    def n_classes(self) -> int | None:
        """The number of classes, ``None`` for regression."""
        return None if self.classes is None else len(self.classes)


def _hash(X: np.ndarray, y: np.ndarray) -> str:
    digest = hashlib.sha256()
    for name, array in (("X", X), ("y", y)):
        array = np.ascontiguousarray(array)
        digest.update(f"{name}:{array.dtype}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def check_arrays(X: Any, y: Any, task: str, *, where: tuple[Any, ...] = ()) -> ArrayData:
    """Check ``(X, y)`` for ``task`` and return them as :class:`ArrayData`; :class:`FieldError` at ``where`` otherwise.

    Classification labels (any sortable values) become class ids by sorted
    position; binary needs exactly 2 classes, multiclass 3 or more.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 2 or X.shape[0] < 2 or X.shape[1] < 1:
        raise FieldError(where, f"X must be a 2-D array with rows and columns, got shape {X.shape}")
    if y.ndim != 1 or len(y) != len(X):
        raise FieldError(where, f"y must be a 1-D array with one entry per row of X ({len(X)}), got shape {y.shape}")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.bool_):
        raise FieldError(where, f"X must be numeric, got dtype {X.dtype}")
    X = X.astype(np.float32)
    if not np.isfinite(X).all():
        raise FieldError(where, f"X has {int((~np.isfinite(X)).sum())} missing or infinite value(s) (axisflow does not impute)")
    if task == "regression":
        if not np.issubdtype(y.dtype, np.number) or np.issubdtype(y.dtype, np.bool_):
            raise FieldError(where, f"a regression target must be numeric, got dtype {y.dtype}")
        y = y.astype(np.float32)
        if not np.isfinite(y).all():
            raise FieldError(where, "y has missing or infinite value(s)")
        return ArrayData(X, y, _hash(X, y), None)
    classes, ids = np.unique(y, return_inverse=True)
    if task == "binary" and len(classes) != 2:
        raise FieldError(where, f"a binary task needs exactly 2 classes, but y has {len(classes)}")
    if task == "multiclass" and len(classes) < 3:
        raise FieldError(where, f"a multiclass task needs 3 or more classes, but y has {len(classes)}; use the binary generator for 2")
    ids = ids.astype(np.int64)
    return ArrayData(X, ids, _hash(X, ids), tuple(c.item() if hasattr(c, "item") else c for c in classes))


def arrays_dataset(
    data: ArrayData, *, splitter: str, n_splits: int, fold: int, inner_val_folds: int, seed: int, task: str
) -> Dataset:
    """The :class:`Dataset` of fold ``fold`` of replicate ``seed`` over checked arrays (see :func:`check_arrays`).

    The split is :func:`components.library.folds.cv_split` keyed by the
    arrays' SHA-256, exactly as a file-backed table is keyed by its file's.
    """
    split = _split(data, splitter, n_splits, fold, inner_val_folds, seed, task)
    parts = [a for rows in (split.train, split.val, split.test) for a in (data.X[rows], data.y[rows])]
    classes = None if data.classes is None else tuple(str(c) for c in data.classes)
    return Dataset(task, *parts, n_classes=data.n_classes, classes=classes)  # type: ignore[misc]  # parts: the six split arrays


def _split(data: ArrayData, splitter: str, n_splits: int, fold: int, inner: int, seed: int, task: str) -> Split:
    labels = data.y if task != "regression" else None
    return cv_split(splitter, n_splits, fold, inner, seed=seed, dataset_hash=data.sha256, n_rows=len(data.y), labels=labels)


def check_loader(target: Any, where: tuple[Any, ...] = ("loader", "_target_")) -> Any:
    """The loader function named by ``target``, checked before it is ever called; :class:`FieldError` at ``where`` otherwise."""
    name = str(target).rsplit(".", 1)[-1]
    if not isinstance(target, str) or not target.startswith(LOADER_MODULE + ".") or not name.startswith(LOADER_PREFIX):
        raise FieldError(
            where,
            f"{target!r} is not a scikit-learn dataset loader; name a function {LOADER_MODULE}.{LOADER_PREFIX}* "
            "(fetch_* downloads and is refused; for other data use a table or arrays_dataset)",
        )
    function = locate(target, "data.loader._target_")
    if not callable(function) or not getattr(function, "__module__", "").startswith(LOADER_MODULE):
        raise FieldError(where, f"{target!r} is not a function of {LOADER_MODULE}")
    return function


@functools.lru_cache(maxsize=8)
def _load(target: str, kwargs_json: str, task: str) -> ArrayData:
    function = check_loader(target)
    try:
        X, y = function(**json.loads(kwargs_json), return_X_y=True)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FieldError(("loader",), f"{target}(...) failed: {type(exc).__name__}: {reason}") from None
    return check_arrays(X, y, task, where=("loader",))


def load_arrays(loader: Mapping[str, Any], task: str) -> ArrayData:
    """Call the checked loader of a ``loader`` node (``_target_`` plus keyword arguments) once per process; check its arrays."""
    kwargs = {k: v for k, v in loader.items() if k != "_target_"}
    return _load(loader.get("_target_"), json.dumps(kwargs, sort_keys=True), task)


class LoaderParams(Params):
    """Settings shared by the loader generators (see the module docstring for an example)."""

    _task: ClassVar[str] = ""

    loader: dict[str, Any] = Field(description="_target_: a function sklearn.datasets.load_*; any further keys are its keyword arguments")
    splitter: Literal["kfold", "stratified"] = Field(description="how rows are dealt into folds")
    n_splits: Annotated[int, Field(ge=2, le=100, description="k, the number of folds")]
    fold: Annotated[int, Field(ge=0, description="the held-out test fold, 0..n_splits-1 (sweep it as the data axis 'fold')")]
    inner_val_folds: Annotated[
        int, Field(ge=2, le=100, description="validation (early stopping, selection) is 1 of this many folds of the training fold")
    ]

    @field_validator("loader")
    @classmethod
    def _loader_is_allowed(cls, loader: dict[str, Any]) -> dict[str, Any]:
        function = check_loader(loader.get("_target_"), where=("_target_",))
        for key in _RESERVED_KWARGS:
            if key in loader:
                raise FieldError((key,), "is set by the generator (it always asks for plain arrays); remove it")
        check_keywords(function, {k: v for k, v in loader.items() if k != "_target_"}, str(loader["_target_"]))
        return loader

    @model_validator(mode="after")
    def _arrays_fit(self) -> "LoaderParams":
        if self.fold >= self.n_splits:
            raise FieldError(("fold",), f"input should be less than n_splits={self.n_splits} (got {self.fold})")
        if self.splitter == "stratified" and self._task == "regression":
            raise FieldError(("splitter",), "stratified needs class labels; a regression target uses kfold")
        load_arrays(self.loader, self._task)
        return self


class BinaryLoaderParams(LoaderParams):
    """Settings of :func:`binary_loader`: the loader's target has exactly two classes."""

    _task: ClassVar[str] = "binary"


class MulticlassLoaderParams(LoaderParams):
    """Settings of :func:`multiclass_loader`: three or more classes."""

    _task: ClassVar[str] = "multiclass"


class RegressionLoaderParams(LoaderParams):
    """Settings of :func:`regression_loader`: a numeric target."""

    _task: ClassVar[str] = "regression"


def _dataset(params: LoaderParams, seed: int) -> Dataset:
    data = load_arrays(params.loader, params._task)
    return arrays_dataset(
        data, splitter=params.splitter, n_splits=params.n_splits, fold=params.fold, inner_val_folds=params.inner_val_folds,
        seed=seed, task=params._task,
    )


_TASK_OF = {"binary_loader": "binary", "multiclass_loader": "multiclass", "regression_loader": "regression"}


#: Descriptions recorded at launch (:func:`trust_description`), by the loader node's canonical JSON.
_TRUSTED: dict[str, dict[str, Any]] = {}


def _loader_key(loader: Mapping[str, Any]) -> str:
    return json.dumps(dict(loader), sort_keys=True, default=str)


def trust_description(record: Mapping[str, Any], settings: Mapping[str, Any] | None = None) -> None:
    """Use the launch's :func:`describe_loader` of ``settings`` in this process instead of loading the arrays again.

    For ``start``, ``join`` and ``end``, which need the arrays' hash and shape
    but no rows (and would otherwise import scikit-learn to load them); a
    branch never trusts: it loads, hashes and compares with the launch's hash.
    """
    if settings is not None and isinstance(settings.get("loader"), Mapping):
        _TRUSTED[_loader_key(settings["loader"])] = dict(record)


def describe_loader(params: Mapping[str, Any]) -> dict[str, Any]:
    """What the results record about the data: the loader and its arguments, the arrays' SHA-256, rows, columns, package version."""
    trusted = _TRUSTED.get(_loader_key(params["loader"]))
    if trusted is not None:
        return dict(trusted)
    import sklearn

    task = _TASK_OF[str(params["_target_"]).rsplit(".", 1)[-1]]
    data = load_arrays(params["loader"], task)
    kwargs = {k: v for k, v in params["loader"].items() if k != "_target_"}
    return {
        "loader": params["loader"]["_target_"], "kwargs": kwargs, "package": f"scikit-learn {sklearn.__version__}",
        "sha256": data.sha256, "rows": int(len(data.y)), "features": int(data.X.shape[1]),
    }


_SPLIT = (
    "k-fold cross-validation of the loaded arrays (n_splits folds; kfold or stratified by class, per `splitter`): the fold assignment "
    "is a pure function of the replicate seed and the arrays' SHA-256; the test split is fold `fold`; validation (early stopping, "
    "selection) is 1 of inner_val_folds folds of the training fold, drawn from (seed, hash, fold), never from the test fold; "
    "training is the rest of the training fold"
)


@generator(params=BinaryLoaderParams, task="binary", split=_SPLIT)
def binary_loader(params: BinaryLoaderParams, data_axes: Mapping[str, Any], seed: int) -> Dataset:
    """A binary task from a package loader (class ids by sorted label), split for fold ``params.fold``."""
    return _dataset(params, seed)


@generator(params=MulticlassLoaderParams, task="multiclass", split=_SPLIT)
def multiclass_loader(params: MulticlassLoaderParams, data_axes: Mapping[str, Any], seed: int) -> Dataset:
    """A multiclass task from a package loader (e.g. ``load_digits``, ``load_wine``), split for fold ``params.fold``."""
    return _dataset(params, seed)


@generator(params=RegressionLoaderParams, task="regression", split=_SPLIT)
def regression_loader(params: RegressionLoaderParams, data_axes: Mapping[str, Any], seed: int) -> Dataset:
    """A regression task from a package loader (e.g. ``load_diabetes``), split for fold ``params.fold``."""
    return _dataset(params, seed)


for _generator in (binary_loader, multiclass_loader, regression_loader):
    # The results surface and the reuse key ask the generator where its data came from (its SHA-256).
    _generator.source = describe_loader
    _generator.trust = trust_description
