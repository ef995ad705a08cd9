"""The four fixed seams every flow calls, and the types that cross them.

Each seam resolves the implementation its config node names by ``_target_``,
validates the node against the implementation's declared :class:`Params` and
calls it with the validated settings. What comes back is untrusted: the
generator's :class:`Dataset` (:func:`check_dataset`), a trainer's predictions
(:func:`check_predictions`) and every metric value (:func:`check_value`) are
checked where they cross the seam, so a wrong label range or a NaN prediction
fails as a :class:`SeamError` naming the field, never as a quiet number. Each seam counts its calls (``CALLS``) so a
branch can report how much work it really did; the counts travel in the branch
record and tests assert on them.
"""

from __future__ import annotations

import hashlib
import inspect
import math
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

import numpy as np

from components.spec.declarations import TARGET, Declaration, MetricInfo, Params, declaration_of, locate

__all__ = [
    "CALLS",
    "CLASSIFICATION",
    "Dataset",
    "KNOWN_TASKS",
    "SeamError",
    "Scorer",
    "TrainResult",
    "UNUSED_VALIDATION",
    "build_model",
    "check_dataset",
    "check_predictions",
    "check_value",
    "fit_data",
    "implementation",
    "make_data",
    "make_nested_data",
    "metric",
    "per_example",
    "metric_resolution",
    "scorer",
    "secondary_metric",
    "settings",
    "train_arm",
]

#: Calls per seam (and per method for ``train_arm``) in this process.
CALLS: Counter[str] = Counter()


@dataclass(frozen=True)
class Dataset:
    """Train/validation/test splits of one supervised task.

    ``task`` is ``binary``, ``multiclass``, ``regression`` (or a type of your
    own). ``X_*`` are arrays of shape ``(n, *input_shape)``: a table
    ``(n, n_features)``, images ``(n, C, H, W)``, sequences or token ids; they
    may be memory-mapped (``np.load(..., mmap_mode="r")``) so rows are read
    only when a batch needs them. ``y_*`` are int64 class labels of shape
    ``(n,)`` in ``0..n_classes-1`` for classification, float32 targets of shape
    ``(n,)`` for regression. ``n_classes`` is the number of classes (``None``
    for regression). ``source`` is a digest of the files the arrays were read
    from (see :mod:`components.library.tensors`); when set, the fingerprint
    hashes it instead of every byte, so a dataset larger than memory is
    fingerprinted without being read into memory.
    ``val_from_train`` is true when the validation rows were carved out of the
    training part (cross-validation: validation is one inner fold of the
    training fold), so a method that uses no validation split fits on
    ``train + val`` (:func:`fit_data`); false when validation is a sample of its
    own, as in a generator that draws ``n_train`` and ``n_val`` separately.
    ``classes`` optionally names the classes in class-id order (a table's
    declared ``classes``, a loader's labels); per-class results show these
    names, else the ids. Names do not enter the fingerprint: they change no number.
    """

    task: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int | None = None
    val_from_train: bool = False
    source: str | None = None
    classes: tuple[str, ...] | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input example: ``(n_features,)`` for a table, ``(C, H, W)`` for images."""
        return tuple(int(d) for d in self.X_train.shape[1:])

    @property
    def n_features(self) -> int:
        """Number of input values per example (the product of :attr:`input_shape`; 1 for scalar inputs)."""
        return int(np.prod(self.input_shape, dtype=np.int64))

    def fingerprint(self) -> str:
        """SHA-256 (first 16 hex digits) over every split's dtype and shape, and its bytes or the ``source`` digest."""
        digest = hashlib.sha256()
        if self.source is not None:
            digest.update(f"source:{self.source}".encode())
        for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
            array = getattr(self, name)
            digest.update(f"{name}:{array.dtype}:{array.shape}".encode())
            if self.source is None:
                digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()[:16]


@dataclass
class TrainResult:
    """What ``train_arm`` returns.

    ``model`` is the trained model (kept in-process, never an artifact);
    ``predictions`` are its test-set predictions in the task's form (binary:
    probabilities of class 1, shape ``(n_test,)``; multiclass: probabilities,
    ``(n_test, n_classes)``; regression: values, ``(n_test,)``); ``val_score``
    is the experiment's metric of the returned model on the validation split;
    ``history`` maps per-epoch telemetry names (``epoch``, ``train_loss``,
    ``val_loss``, ``val_metric`` ...) to equal-length lists; ``info`` holds
    scalars such as ``epochs_run``.
    """

    model: Any
    predictions: Any
    val_score: float
    history: dict[str, list[float]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scorer:
    """The experiment's metric, bound to its settings: ``scorer(predictions, targets) -> float``.

    Trainers use it for validation (early stopping, selection), so every
    monitor follows the metric the experiment reports, in its declared direction.
    """

    name: str
    info: MetricInfo
    fn: Callable[..., float]
    params: Params

    def __call__(self, predictions: Any, targets: Any) -> float:
        _check_finite(np.asarray(predictions), "validation predictions")
        return check_value(self.fn(self.params, predictions, targets), self.info, f"{self.name} on the validation split")


class SeamError(ValueError):
    """A value that crossed a seam is not what the seam promises; ``field`` names it (``y_train``, ``predictions``, ...).

    The branch reports it in one line naming the arm; under
    ``experiment.statistics.nan_policy: omit`` a failing arm is recorded as
    failed with this message instead of stopping the run.
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field} {message}")
        self.field, self.message = field, message


#: Task types whose labels are class ids and whose predictions are probabilities.
CLASSIFICATION = ("binary", "multiclass")
#: Task types whose labels and predictions the framework knows how to check (others: shapes only).
KNOWN_TASKS = (*CLASSIFICATION, "regression")
_SPLITS = ("train", "val", "test")
#: Trainers compute in float32 (torch); a feature or target beyond its range becomes inf there.
_FLOAT32_MAX = float(np.finfo(np.float32).max)
#: How far a probability row may sum from 1 (a float32 softmax is within about 1e-6).
_ROW_SUM_TOLERANCE = 1e-4


def check_dataset(data: Any, task: str | None = None) -> None:
    """Raise :class:`SeamError` unless ``data`` is a :class:`Dataset` that keeps its documented promises.

    Every split is non-empty, ``X_*`` numeric arrays ``(n, *input_shape)``
    (a table, images, sequences), finite and within float32's range, one input shape, ``y_*`` 1-D of the same length; classification labels
    are integer class ids in ``0..n_classes-1`` (``n_classes`` 2 for binary),
    regression targets finite numbers. ``task`` is the generator's declared task.
    """
    if not isinstance(data, Dataset):
        raise SeamError("make_data", f"returned a {type(data).__name__}, not a components.spec.seams.Dataset")
    if task is not None and data.task != task:
        raise SeamError("task", f"is {data.task!r}, but the generator declares task={task!r}")
    _check_n_classes(data)
    shape = None
    for split in _SPLITS:
        X, y = getattr(data, f"X_{split}"), getattr(data, f"y_{split}")
        shape = _check_features(X, f"X_{split}", shape)
        _check_labels(y, f"y_{split}", data)
        if len(y) != len(X):
            raise SeamError(f"y_{split}", f"has {len(y)} rows, but X_{split} has {len(X)}")


def _check_n_classes(data: Dataset) -> None:
    n = data.n_classes
    if data.task == "binary" and not (type(n) is int and n == 2):
        raise SeamError("n_classes", f"is {n!r}; a binary dataset has n_classes=2")
    if data.task == "multiclass" and not (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 2):
        raise SeamError("n_classes", f"is {n!r}; a multiclass dataset has an integer n_classes >= 2")
    if data.task == "regression" and n is not None:
        raise SeamError("n_classes", f"is {n!r}; a regression dataset has n_classes=None")
    _check_class_names(data)


def _check_class_names(data: Dataset) -> None:
    """``classes``, when given: distinct strings, one per class id (none for regression)."""
    names = data.classes
    if names is None:
        return
    if data.task not in CLASSIFICATION:
        raise SeamError("classes", f"names classes, but a {data.task} dataset has none; leave classes=None")
    if not isinstance(names, tuple) or not all(isinstance(name, str) for name in names):
        raise SeamError("classes", f"is {names!r}; it must be a tuple of class names (str) in class-id order")
    if len(names) != data.n_classes or len(set(names)) != len(names):
        raise SeamError("classes", f"has {len(names)} names ({len(set(names))} distinct) for n_classes={data.n_classes}; name each class once")


def _check_features(X: Any, name: str, shape: tuple[int, ...] | None) -> tuple[int, ...]:
    """Check one split's inputs; return one example's shape, which every split must share."""
    if not isinstance(X, np.ndarray) or X.ndim < 2:
        raise SeamError(name, f"must be a numpy array of shape (n, *input_shape), e.g. (n, n_features) or (n, C, H, W), got {_shape(X)}")
    if X.shape[0] == 0:
        raise SeamError(name, "is empty; every split needs at least one row")
    if shape is not None and tuple(X.shape[1:]) != shape:
        if len(shape) == 1 and X.ndim == 2:
            raise SeamError(name, f"has {X.shape[1]} features, but X_train has {shape[0]}")
        raise SeamError(name, f"has input shape {tuple(X.shape[1:])}, but X_train has {shape}")
    if X.dtype.kind not in "fiu":
        raise SeamError(name, f"has dtype {X.dtype}; features must be numbers (float32)")
    # A memory-mapped split is checked a block of rows at a time, so memory stays bounded by the block.
    step = max(1, (1 << 24) // max(1, int(np.prod(X.shape[1:])))) if isinstance(X, np.memmap) else X.shape[0]
    for start in range(0, X.shape[0], step):
        block = np.asarray(X[start:start + step])
        try:
            _check_finite(block, name)
            _check_float32(block, name)
        except SeamError as exc:
            raise SeamError(name, f"{exc.message} (in the block of rows from {start})" if start else exc.message) from None
    return tuple(int(d) for d in X.shape[1:])


def _check_labels(y: Any, name: str, data: Dataset) -> None:
    if not isinstance(y, np.ndarray) or y.ndim != 1:
        raise SeamError(name, f"must be a 1-D numpy array (n,), got {_shape(y)}")
    if data.task in CLASSIFICATION:
        if data.n_classes is None:  # _check_n_classes refuses this first; the check narrows the type
            raise SeamError("n_classes", f"is None; a {data.task} dataset needs its number of classes")
        if y.dtype.kind not in "iu":
            example = f", e.g. {y[0]!r}" if len(y) else ""
            raise SeamError(name, f"has {y.dtype} labels{example}; a {data.task} task needs integer class ids 0..{data.n_classes - 1} (int64)")
        if len(y) and (y.min() < 0 or y.max() >= data.n_classes):
            raise SeamError(
                name, f"has labels {y.min()}..{y.max()}, outside 0..{data.n_classes - 1} (n_classes={data.n_classes}); class ids start at 0"
            )
    elif data.task == "regression":
        if y.dtype.kind not in "fiu":
            raise SeamError(name, f"has dtype {y.dtype}; regression targets must be numbers (float32)")
        _check_finite(y, name)
        _check_float32(y, name)


def _check_finite(values: np.ndarray, name: str) -> None:
    if values.dtype.kind != "f":
        if values.dtype.kind not in "iub":
            raise SeamError(name, f"has dtype {values.dtype}; expected numbers")
        return
    bad = ~np.isfinite(values)
    if bad.any():
        where = np.argwhere(bad)[0]
        raise SeamError(name, f"has {int(bad.sum())} non-finite value(s) of {values.size} (first {float(values[tuple(where)])!r} at {_at(where)})")


def _check_float32(values: np.ndarray, name: str) -> None:
    if values.dtype.kind == "f" and values.dtype.itemsize <= 4:
        return
    big = np.abs(values) > _FLOAT32_MAX
    if big.any():
        where = np.argwhere(big)[0]
        raise SeamError(name, f"has {float(values[tuple(where)])!r} at {_at(where)}, beyond float32's range (3.4e38): it becomes inf where trainers compute")


def check_predictions(predictions: Any, data: Dataset) -> np.ndarray:
    """Return ``predictions`` as an array, or raise :class:`SeamError` when they do not fit ``data``'s task.

    Shapes: binary ``(n,)`` (or ``(n, 2)``), multiclass ``(n, n_classes)``,
    regression ``(n,)``, ``n`` the test rows; values finite; classifiers' values
    probabilities in [0, 1] whose rows (2-D) sum to 1.
    """
    try:
        values = np.asarray(predictions)
    except Exception as exc:  # a ragged list, a tensor that needs .detach(): anything numpy cannot hold
        raise SeamError("predictions", f"cannot be read as an array ({type(exc).__name__}: {exc})") from None
    n = len(data.y_test)
    shapes: dict[str, list[tuple[int | None, ...]]] = {"binary": [(n,), (n, 2)], "multiclass": [(n, data.n_classes)], "regression": [(n,)]}
    expected = shapes.get(data.task)
    if expected is not None and values.shape not in expected:
        raise SeamError("predictions", f"have shape {values.shape}; a {data.task} task with {n} test rows needs {' or '.join(map(str, expected))}")
    if expected is None and (values.ndim == 0 or values.shape[0] != n):
        raise SeamError("predictions", f"have shape {values.shape}; expected one row per test example ({n})")
    _check_finite(values, "predictions")
    if data.task in CLASSIFICATION:
        low, high = float(values.min()), float(values.max())
        if low < 0.0 or high > 1.0:
            raise SeamError("predictions", f"range {low:.6g}..{high:.6g}, outside [0, 1]; a {data.task} trainer returns probabilities")
        if values.ndim == 2:
            sums = values.sum(axis=1)
            worst = int(np.argmax(np.abs(sums - 1.0)))
            if abs(sums[worst] - 1.0) > _ROW_SUM_TOLERANCE:
                raise SeamError("predictions", f"row {worst} sums to {sums[worst]:.6g}, not 1; a {data.task} trainer returns class probabilities")
    return values


def check_value(value: Any, info: MetricInfo | None, field: str = "metric value") -> float:
    """Return ``value`` as a float, or raise :class:`SeamError` when it is not a finite number within ``info.range``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SeamError(field, f"is {value!r}; a metric returns a number")
    number = float(value)
    if not np.isfinite(number):
        raise SeamError(field, f"is {number!r}; a metric value must be finite")
    low, high = info.range if info is not None else (None, None)
    if (low is not None and number < low) or (high is not None and number > high):
        shown = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        raise SeamError(field, f"is {number!r}, outside the metric's declared range {shown}")
    return number


def _shape(value: Any) -> str:
    shape = getattr(value, "shape", None)
    return f"a {type(value).__name__}" + (f" of shape {tuple(shape)}" if shape is not None else "")


def _at(index: np.ndarray) -> str:
    if len(index) > 2:  # an image or a sequence: the row, then the position inside one example
        return f"row {int(index[0])}, position {tuple(int(i) for i in index[1:])}"
    return ", ".join(f"{name} {int(i)}" for name, i in zip(("row", "column"), index))


def implementation(node: Mapping[str, Any], role: str, where: str) -> tuple[Any, Declaration]:
    """Resolve ``node[_target_]`` to ``(object, declaration)``, checking it plays ``role``."""
    obj = locate(node.get(TARGET), f"{where}.{TARGET}")
    return obj, declaration_of(obj, role, f"{where}.{TARGET}")


def settings(node: Mapping[str, Any], declaration: Declaration, exclude: tuple[str, ...] = ()) -> Params:
    """Validate ``node`` (less ``_target_`` and ``exclude``) against the declaration's params."""
    values = {k: v for k, v in node.items() if k != TARGET and k not in exclude}
    return declaration.params(**values)


def make_data(data_spec: Mapping[str, Any], data_axes: Mapping[str, Any], seed: int) -> Dataset:
    """Generate a :class:`Dataset` with the generator ``data_spec`` names, checked by :func:`check_dataset`.

    ``data_axes`` holds this branch's data-axis values; they replace the
    same-named keys of ``data_spec`` before validation.
    """
    CALLS["make_data"] += 1
    fn, declaration = implementation(data_spec, "generator", "data")
    data: Dataset = fn(settings({**data_spec, **data_axes}, declaration), dict(data_axes), seed)
    check_dataset(data, declaration.tasks[0] if declaration.tasks else None)
    return data


def make_nested_data(data_spec: Mapping[str, Any], data_axes: Mapping[str, Any], seed: int, held_out: int) -> Dataset:
    """Nested cross-validation's inner split of this branch's outer fold, tested on fold ``held_out``.

    The generator's declared ``nested_split`` makes it (the config check refuses
    ``cv_interval: nested`` for a generator without one); checked like :func:`make_data`'s.
    """
    CALLS["make_data:nested"] += 1
    _, declaration = implementation(data_spec, "generator", "data")
    if declaration.nested_split is None:
        raise SeamError("data._target_", f"{data_spec.get(TARGET)!r} declares no nested_split; nested cross-validation cannot fit its inner folds")
    data: Dataset = declaration.nested_split(settings({**data_spec, **data_axes}, declaration), dict(data_axes), seed, held_out)
    check_dataset(data, declaration.tasks[0] if declaration.tasks else None)
    return data


def build_model(model_spec: Mapping[str, Any], *, in_features: int, out_features: int, seed: int, input_shape: tuple[int, ...] | None = None) -> Any:
    """Build an untrained model named by ``model_spec``; ``seed`` fixes its initialisation.

    ``input_shape`` (one example's shape, e.g. ``(1, 8, 8)``) is passed on to
    builders whose signature takes it (convolutional nets need it; an MLP reads
    only ``in_features``, the number of input values).
    """
    CALLS["build_model"] += 1
    fn, declaration = implementation(model_spec, "model", "model")
    shaped = {"input_shape": tuple(input_shape or (in_features,))} if "input_shape" in inspect.signature(fn).parameters else {}
    return fn(settings(model_spec, declaration), in_features=in_features, out_features=out_features, seed=seed, **shaped)


#: Keys of a method's config that belong to the framework, not to its trainer.
METHOD_KEYS = ("kind", "name")


#: ``experiment.unused_validation``: what a method that uses no validation split does with validation rows carved from its training part.
UNUSED_VALIDATION = ("fit", "hold_out")


def fit_data(method_spec: Mapping[str, Any], data: Dataset, unused_validation: str = "fit") -> Dataset:
    """The dataset the trainer ``method_spec`` names is handed: which rows it may fit on.

    A trainer that uses the validation split (its declaration's
    ``uses_validation``) fits on ``X_train`` and validates on ``X_val``. One that
    does not is handed the whole training part, ``X_train`` followed by
    ``X_val``, when ``data.val_from_train`` (cross-validation) and
    ``unused_validation`` is ``fit`` (the default); ``hold_out`` keeps those
    rows out of its fit, as methods that use validation do. ``X_val`` stays, so
    its validation score is then measured on rows it fitted (telemetry only).
    """
    if unused_validation not in UNUSED_VALIDATION:
        raise ValueError(f"experiment.unused_validation is {unused_validation!r}; valid: {', '.join(UNUSED_VALIDATION)}")
    name = method_spec.get("name", method_spec.get(TARGET))
    _, declaration = implementation(method_spec, "trainer", f"method.{name}")
    if not data.val_from_train or unused_validation == "hold_out" or declaration.reads_validation(method_spec):
        return data
    return replace(data, X_train=np.concatenate([data.X_train, data.X_val]), y_train=np.concatenate([data.y_train, data.y_val]))


def train_arm(
    method_spec: Mapping[str, Any],
    data: Dataset,
    seed: int,
    train_cfg: Mapping[str, Any],
    *,
    metric_spec: Mapping[str, Any],
    unused_validation: str = "fit",
) -> TrainResult:
    """Train one arm with the trainer ``method_spec`` names; return a :class:`TrainResult`.

    The trainer is handed only the training keys it declares it reads
    (``reads_training``), the rows :func:`fit_data` gives it, and validates with
    ``metric_spec``'s metric. Its test predictions are checked by
    :func:`check_predictions`. (The branch records how many rows it fitted on:
    ``len(fit_data(...).y_train)``.)
    """
    name = method_spec.get("name", method_spec.get(TARGET))
    CALLS["train_arm"] += 1
    CALLS[f"train_arm:{name}"] += 1
    fn, declaration = implementation(method_spec, "trainer", f"method.{name}")
    params = settings(method_spec, declaration, exclude=METHOD_KEYS)
    training = {key: train_cfg[key] for key in declaration.reads_training}
    data = fit_data(method_spec, data, unused_validation)
    result = fn(params, data, seed, training, scorer(metric_spec))
    if not isinstance(result, TrainResult):
        raise SeamError("train_arm", f"returned a {type(result).__name__}, not a components.spec.seams.TrainResult")
    check_predictions(result.predictions, data)
    return result


def scorer(metric_spec: Mapping[str, Any]) -> Scorer:
    """Bind the metric ``metric_spec`` names to its settings (``name`` is the label the tables show)."""
    fn, declaration = implementation(metric_spec, "metric", "experiment.metric")
    params = settings(metric_spec, declaration, exclude=("name",))
    if declaration.metric is None:  # metric() always attaches one; the check narrows the type
        raise SeamError("experiment.metric", f"{metric_spec.get(TARGET)!r} declares no metric info (direction, range)")
    return Scorer(str(metric_spec["name"]), declaration.metric, fn, params)


def per_example(predictions: Any, targets: Any, value: float, *, metric_spec: Mapping[str, Any]) -> np.ndarray:
    """The experiment's metric per test example, shape ``(n,)``, checked to be finite and to average to ``value``.

    ``value`` is :func:`metric`'s on the same predictions: a metric whose
    declared ``per_example`` does not average to it breaks its promise
    (:class:`SeamError` naming the metric).
    """
    bound = scorer(metric_spec)
    _, declaration = implementation(metric_spec, "metric", "experiment.metric")
    if declaration.per_example is None:
        raise SeamError(bound.name, "declares no per_example values; it is not a mean of per-example values")
    values = np.asarray(declaration.per_example(bound.params, predictions, targets), dtype=np.float64)
    if values.shape != (len(targets),):
        raise SeamError(f"{bound.name} per_example", f"has shape {values.shape}; expected one value per test example ({len(targets)},)")
    _check_finite(values, f"{bound.name} per_example")
    mean = float(values.mean())
    if abs(mean - value) > 1e-9 * max(1.0, abs(value)):
        raise SeamError(f"{bound.name} per_example", f"averages to {mean!r}, but the metric is {value!r}; a per_example metric is their mean")
    return values


def metric(predictions: Any, targets: Any, *, metric_spec: Mapping[str, Any]) -> float:
    """Score test predictions with the experiment's metric; the value is checked by :func:`check_value`."""
    CALLS["metric"] += 1
    bound = scorer(metric_spec)
    _check_finite(np.asarray(predictions), "predictions")
    return check_value(bound.fn(bound.params, predictions, targets), bound.info, f"{bound.name}")


def secondary_metric(predictions: Any, targets: Any, *, name: str, metric_spec: Mapping[str, Any]) -> float:
    """Score test predictions with the secondary metric ``name`` (``experiment.secondary_metrics.<name>``), checked like the primary.

    Counted as ``secondary_metric`` in :data:`CALLS`: a reused arm's predictions
    are scored again in each run, so these calls are work the run does.
    """
    CALLS["secondary_metric"] += 1
    fn, declaration = implementation(metric_spec, "metric", f"experiment.secondary_metrics.{name}")
    _check_finite(np.asarray(predictions), "predictions")
    return check_value(fn(settings(metric_spec, declaration), predictions, targets), declaration.metric, name)


def metric_resolution(predictions: Any, targets: Any, *, metric_spec: Mapping[str, Any]) -> float | None:
    """The step the experiment's metric can take on this test split, when the metric declares one (else ``None``).

    Raises :class:`SeamError` naming the metric when the declared function
    returns anything but a positive finite number.
    """
    bound = scorer(metric_spec)
    if bound.info.resolution is None:
        return None
    value = bound.info.resolution(predictions, targets)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not 0 < float(value) < math.inf:
        raise SeamError(f"{bound.name} resolution", f"is {value!r}; a metric's resolution is a positive finite step in metric units")
    return float(value)
