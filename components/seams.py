"""The four fixed seams every flow calls. Each dispatches by name through the registry.

Each seam counts its calls (``CALLS``) so a branch can report how much work it
really did; the counts travel in the branch record and tests assert on them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping

from components import registry

__all__ = ["CALLS", "TrainResult", "build_model", "make_data", "metric", "train_arm"]


@dataclass
class TrainResult:
    """What ``train_arm`` returns.

    ``model`` is the trained ``nn.Module`` (kept in-process, never an artifact);
    ``scores`` are test-set probabilities of class 1, a float array of shape
    ``(n_test,)``; ``val_score`` is the validation metric of the returned model
    (AUROC for the shipped trainers); ``history`` maps per-epoch telemetry names
    (``epoch``, ``train_loss``, ``val_auroc`` ...) to equal-length lists;
    ``info`` holds scalars such as ``epochs_run``.
    """

    model: Any
    scores: Any
    val_score: float
    history: dict[str, list[float]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

#: Calls per seam (and per method for ``train_arm``) in this process.
CALLS: Counter[str] = Counter()


def make_data(data_spec: Mapping[str, Any], data_axes: Mapping[str, Any], seed: int):
    """Generate a :class:`components.data.Dataset` with the generator named by ``data_spec["generator"]``.

    ``data_axes`` holds this branch's data-axis values; they override the
    same-named keys of ``data_spec``.
    """
    CALLS["make_data"] += 1
    generator = registry.resolve(registry.DATA, data_spec["generator"], "data.generator")
    return generator(data_spec, data_axes, seed)


def build_model(model_spec: Mapping[str, Any]):
    """Build an untrained ``nn.Module`` named by ``model_spec["arch"]``; ``model_spec["seed"]`` fixes its initialisation."""
    CALLS["build_model"] += 1
    builder = registry.resolve(registry.MODELS, model_spec["arch"], "model.arch")
    return builder(model_spec)


def train_arm(method_spec: Mapping[str, Any], data, seed: int, train_cfg: Mapping[str, Any]):
    """Train one arm with the trainer named by ``method_spec["impl"]``; return a ``TrainResult``."""
    CALLS["train_arm"] += 1
    CALLS[f"train_arm:{method_spec.get('name', method_spec['impl'])}"] += 1
    trainer = registry.resolve(registry.TRAINERS, method_spec["impl"], "method.impl")
    return trainer(method_spec, data, seed, train_cfg)


def metric(scores, labels, *, name: str, **cfg: Any) -> float:
    """Score predictions with the metric ``name`` (extra ``cfg`` goes to the metric)."""
    CALLS["metric"] += 1
    fn = registry.resolve(registry.METRICS, name, "experiment.metric.name")
    return float(fn(scores, labels, **cfg))
