"""Datasets and the data generators behind ``make_data``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from components.seeding import derive_seed

__all__ = ["Dataset", "teacher"]


@dataclass(frozen=True)
class Dataset:
    """Train/validation/test splits of a binary classification problem.

    ``X_*`` are float32 arrays of shape ``(n, n_features)``; ``y_*`` are int64
    label arrays of shape ``(n,)`` with values in {0, 1}. Validation labels carry
    the same noise as training labels (it is all a practitioner would have);
    test labels are clean, so the test metric measures the true task.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_features(self) -> int:
        """Number of input features."""
        return int(self.X_train.shape[1])

    def fingerprint(self) -> str:
        """SHA-256 (first 16 hex digits) over every split's dtype, shape and bytes."""
        digest = hashlib.sha256()
        for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
            array = np.ascontiguousarray(getattr(self, name))
            digest.update(f"{name}:{array.dtype}:{array.shape}".encode())
            digest.update(array.tobytes())
        return digest.hexdigest()[:16]


def teacher(data_spec: Mapping[str, Any], data_axes: Mapping[str, Any], seed: int) -> Dataset:
    """Labels from a random two-layer tanh teacher; training/validation labels flipped at ``label_noise``.

    Inputs are standard normal in ``n_features`` dimensions. The teacher's output
    is thresholded at its median, so classes are balanced. Teacher and inputs come
    from one generator seeded with ``seed``; the label flips from a second one
    seeded from ``seed`` alone, flipping example ``i`` when ``u_i < label_noise``.
    So for one seed every noise level sees the same task and inputs, and the
    examples flipped at a lower noise level are a subset of those flipped at a
    higher one: the noise axis is the only thing that changes.
    """
    params = {**data_spec, **data_axes}
    rng = np.random.default_rng(seed)
    d, h = int(params["n_features"]), int(params["teacher_hidden"])
    sizes = [int(params["n_train"]), int(params["n_val"]), int(params["n_test"])]
    noise = float(params["label_noise"])
    if not 0.0 <= noise < 0.5:
        raise ValueError(f"data.label_noise must be in [0, 0.5), got {noise}")

    w1 = rng.standard_normal((d, h)) / np.sqrt(d)
    b1 = 0.5 * rng.standard_normal(h)
    w2 = rng.standard_normal(h)
    X = rng.standard_normal((sum(sizes), d))
    logits = np.tanh(float(params["teacher_scale"]) * (X @ w1) + b1) @ w2
    y = (logits > np.median(logits)).astype(np.int64)

    n_noisy = sizes[0] + sizes[1]
    flip = np.random.default_rng(derive_seed(seed, "label_flips")).random(n_noisy) < noise
    y[:n_noisy] = np.where(flip, 1 - y[:n_noisy], y[:n_noisy])

    X = X.astype(np.float32)
    a, b = sizes[0], sizes[0] + sizes[1]
    return Dataset(X[:a], y[:a], X[a:b], y[a:b], X[b:], y[b:])
