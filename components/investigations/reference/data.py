"""The reference investigation's data: a random two-layer teacher with training labels flipped at ``label_noise``."""

from __future__ import annotations

from typing import Annotated, Any, Mapping

import numpy as np
from pydantic import Field

from components.spec.declarations import Params, generator
from components.spec.seams import Dataset
from components.seeding import derive_seed

__all__ = ["TeacherParams", "teacher"]


class TeacherParams(Params):
    """Settings of :func:`teacher` (``configs/data/teacher.yaml``)."""

    n_features: Annotated[int, Field(ge=1, le=10_000, description="input dimension")]
    teacher_hidden: Annotated[int, Field(ge=1, le=10_000, description="hidden units of the teacher network")]
    teacher_scale: Annotated[float, Field(gt=0.0, description="gain inside the teacher's tanh: larger means a less linear boundary")]
    n_train: Annotated[int, Field(ge=2, description="training examples")]
    n_val: Annotated[int, Field(ge=2, description="validation examples (labels as noisy as training)")]
    n_test: Annotated[int, Field(ge=2, description="test examples (clean labels)")]
    label_noise: Annotated[float, Field(ge=0.0, lt=0.5, description="probability that a training/validation label is flipped")]


@generator(
    params=TeacherParams,
    task="binary",
    split=(
        "one sequential stream from the replicate seed: inputs for train, then validation, then test (sizes n_train, n_val, n_test); "
        "label flips from a second stream of the same seed, applied to train and validation only (test labels clean)"
    ),
)
def teacher(params: TeacherParams, data_axes: Mapping[str, Any], seed: int) -> Dataset:
    """Labels from a random two-layer tanh teacher; training/validation labels flipped at ``label_noise``.

    Inputs are standard normal in ``n_features`` dimensions. The teacher's output
    is thresholded at its median, so classes are balanced. Teacher and inputs come
    from one generator seeded with ``seed``; the label flips from a second one
    seeded from ``seed`` alone, flipping example ``i`` when ``u_i < label_noise``.
    So for one seed every noise level sees the same task and inputs, and the
    examples flipped at a lower noise level are a subset of those flipped at a
    higher one: the noise axis is the only thing that changes.
    """
    rng = np.random.default_rng(seed)
    d, h = params.n_features, params.teacher_hidden
    sizes = [params.n_train, params.n_val, params.n_test]

    w1 = rng.standard_normal((d, h)) / np.sqrt(d)
    b1 = 0.5 * rng.standard_normal(h)
    w2 = rng.standard_normal(h)
    X = rng.standard_normal((sum(sizes), d))
    logits = np.tanh(params.teacher_scale * (X @ w1) + b1) @ w2
    y = (logits > np.median(logits)).astype(np.int64)

    n_noisy = sizes[0] + sizes[1]
    flip = np.random.default_rng(derive_seed(seed, "label_flips")).random(n_noisy) < params.label_noise
    y[:n_noisy] = np.where(flip, 1 - y[:n_noisy], y[:n_noisy])

    X = X.astype(np.float32)
    a, b = sizes[0], sizes[0] + sizes[1]
    return Dataset("binary", X[:a], y[:a], X[a:b], y[a:b], X[b:], y[b:], n_classes=2)
