"""The four fixed seams every flow calls, and the types that cross them.

Each seam resolves the implementation its config node names by ``_target_``,
validates the node against the implementation's declared :class:`Params` and
calls it with the validated settings. Each seam counts its calls (``CALLS``) so a
branch can report how much work it really did; the counts travel in the branch
record and tests assert on them.
"""

from __future__ import annotations

import hashlib
import inspect
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from components.spec.declarations import TARGET, Declaration, MetricInfo, Params, declaration_of, locate

__all__ = [
    "CALLS",
    "Dataset",
    "Scorer",
    "TrainResult",
    "build_model",
    "implementation",
    "make_data",
    "metric",
    "scorer",
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
    """

    task: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int | None = None
    source: str | None = None

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
        return float(self.fn(self.params, predictions, targets))


def implementation(node: Mapping[str, Any], role: str, where: str) -> tuple[Any, Declaration]:
    """Resolve ``node[_target_]`` to ``(object, declaration)``, checking it plays ``role``."""
    obj = locate(node.get(TARGET), f"{where}.{TARGET}")
    return obj, declaration_of(obj, role, f"{where}.{TARGET}")


def settings(node: Mapping[str, Any], declaration: Declaration, exclude: tuple[str, ...] = ()) -> Params:
    """Validate ``node`` (less ``_target_`` and ``exclude``) against the declaration's params."""
    values = {k: v for k, v in node.items() if k != TARGET and k not in exclude}
    return declaration.params(**values)


def make_data(data_spec: Mapping[str, Any], data_axes: Mapping[str, Any], seed: int) -> Dataset:
    """Generate a :class:`Dataset` with the generator ``data_spec`` names.

    ``data_axes`` holds this branch's data-axis values; they replace the
    same-named keys of ``data_spec`` before validation.
    """
    CALLS["make_data"] += 1
    fn, declaration = implementation(data_spec, "generator", "data")
    return fn(settings({**data_spec, **data_axes}, declaration), dict(data_axes), seed)


def build_model(model_spec: Mapping[str, Any], *, in_features: int, out_features: int, seed: int, input_shape: tuple[int, ...] | None = None):
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


def train_arm(method_spec: Mapping[str, Any], data: Dataset, seed: int, train_cfg: Mapping[str, Any], *, metric_spec: Mapping[str, Any]) -> TrainResult:
    """Train one arm with the trainer ``method_spec`` names; return a :class:`TrainResult`.

    The trainer is handed only the training keys it declares it reads
    (``reads_training``), and validates with ``metric_spec``'s metric.
    """
    name = method_spec.get("name", method_spec.get(TARGET))
    CALLS["train_arm"] += 1
    CALLS[f"train_arm:{name}"] += 1
    fn, declaration = implementation(method_spec, "trainer", f"method.{name}")
    params = settings(method_spec, declaration, exclude=METHOD_KEYS)
    training = {key: train_cfg[key] for key in declaration.reads_training}
    return fn(params, data, seed, training, scorer(metric_spec))


def scorer(metric_spec: Mapping[str, Any]) -> Scorer:
    """Bind the metric ``metric_spec`` names to its settings (``name`` is the label the tables show)."""
    fn, declaration = implementation(metric_spec, "metric", "experiment.metric")
    params = settings(metric_spec, declaration, exclude=("name",))
    return Scorer(str(metric_spec["name"]), declaration.metric, fn, params)


def metric(predictions: Any, targets: Any, *, metric_spec: Mapping[str, Any]) -> float:
    """Score test predictions with the experiment's metric."""
    CALLS["metric"] += 1
    return scorer(metric_spec)(predictions, targets)
