"""The sample-size investigation's data: a linear signal plus a smooth nonlinear one, with Gaussian noise."""

from __future__ import annotations

from typing import Annotated, Any, Mapping

import numpy as np
from pydantic import Field

from components.spec.declarations import Params, generator
from components.spec.seams import Dataset
from components.seeding import derive_seed

__all__ = ["SignalParams", "linear_plus_tanh"]


class SignalParams(Params):
    """Settings of :func:`linear_plus_tanh` (``configs/data/linear_plus_tanh.yaml``)."""

    n_features: Annotated[int, Field(ge=1, le=10_000, description="input dimension")]
    hidden: Annotated[int, Field(ge=1, le=10_000, description="tanh units of the nonlinear part of the target")]
    nonlinearity: Annotated[float, Field(ge=0.0, description="standard deviation of the nonlinear part (the linear part has 1)")]
    noise: Annotated[float, Field(ge=0.0, description="standard deviation of the Gaussian noise added to every target")]
    n_train: Annotated[int, Field(ge=2, le=1_000_000, description="training examples")]
    n_val: Annotated[int, Field(ge=2, description="validation examples")]
    n_test: Annotated[int, Field(ge=2, description="test examples")]


@generator(
    params=SignalParams,
    task="regression",
    split=(
        "independent streams derived from the replicate seed for the task, training, validation and test examples; "
        "a larger n_train extends the same training sequence (the first n rows are shared), validation and test are fixed per seed"
    ),
)
def linear_plus_tanh(params: SignalParams, data_axes: Mapping[str, Any], seed: int) -> Dataset:
    """``y = x.beta/sqrt(d) + nonlinearity * tanh-network(x) + noise * eps`` with standard normal inputs.

    The task (``beta``, the tanh network) depends on the seed only, as do the
    validation and test sets; training inputs come from their own stream, so for
    one seed every ``n_train`` value sees the same task and test set and the
    smaller training sets are prefixes of the larger: ``n_train`` is the only
    thing that changes along that axis.
    """
    d, h = params.n_features, params.hidden
    task = np.random.default_rng(derive_seed(seed, "task"))
    beta = task.standard_normal(d)
    w1 = task.standard_normal((d, h)) * (2.0 / np.sqrt(d))
    b1 = task.standard_normal(h)
    w2 = task.standard_normal(h)
    # Scale the nonlinear part to unit standard deviation on a fixed reference sample.
    reference = task.standard_normal((4096, d))
    scale = np.std(np.tanh(reference @ w1 + b1) @ w2)

    def split(name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(derive_seed(seed, "examples", name))
        X = rng.standard_normal((n, d))
        eps = np.random.default_rng(derive_seed(seed, "noise", name)).standard_normal(n)
        y = X @ beta / np.sqrt(d) + params.nonlinearity * (np.tanh(X @ w1 + b1) @ w2) / scale + params.noise * eps
        return X.astype(np.float32), y.astype(np.float32)

    X_train, y_train = split("train", params.n_train)
    X_val, y_val = split("val", params.n_val)
    X_test, y_test = split("test", params.n_test)
    return Dataset("regression", X_train, y_train, X_val, y_val, X_test, y_test)
