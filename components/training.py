"""Trainers behind the ``train_arm`` seam (imported only inside steps: it imports torch).

Every trainer is a pure function of ``(method_spec, data, seed, train_cfg)``:
model initialisation, minibatch order and callbacks draw from generators seeded
with ``seed``. ``train_cfg`` is the training group with this cell's training-axis
values applied; methods never carry their own epochs/lr/batch size.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from components import registry
from components.callbacks import Callback, Evaluate, TrainState, run_callbacks
from components.data import Dataset
from components.metrics import auroc
from components.seams import TrainResult
from components.seeding import derive_seed

__all__ = ["configure_torch", "predict", "train_logreg", "train_torch_classifier"]


def configure_torch(train_cfg: Mapping[str, Any]) -> None:
    """Pin torch to ``train_cfg["threads"]`` intra-op threads and deterministic kernels."""
    threads = int(train_cfg["threads"])
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def predict(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """Probabilities of class 1 for ``X`` (shape ``(n, d)``), as a float64 array ``(n,)``."""
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(X)).squeeze(-1)
    return torch.sigmoid(logits).double().numpy()


def _build(method_spec: Mapping[str, Any], data: Dataset, seed: int) -> nn.Module:
    from components.seams import build_model

    model_spec = {**method_spec["model"], "in_features": data.n_features, "seed": derive_seed(seed, "init")}
    return build_model(model_spec)


def _optimizer(params, train_cfg: Mapping[str, Any]) -> torch.optim.Optimizer:
    name = train_cfg["optimizer"]
    lr, wd = float(train_cfg["lr"]), float(train_cfg["weight_decay"])
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd, momentum=0.9)
    raise ValueError(f"training.optimizer {name!r} is not supported; use adam, adamw or sgd")


def _callbacks(method_spec: Mapping[str, Any]) -> list[Callback]:
    built = []
    for entry in method_spec.get("callbacks") or []:
        options = dict(entry)
        name = options.pop("name", None)
        cls = registry.resolve(registry.CALLBACKS, name, "callbacks[].name")
        built.append(cls(**options))
    return built


def train_torch_classifier(method_spec: Mapping[str, Any], data: Dataset, seed: int, train_cfg: Mapping[str, Any]) -> TrainResult:
    """Minibatch training of a binary classifier with BCE loss and the configured callbacks.

    Validation AUROC and loss are evaluated every ``train_cfg["eval_every"]``
    epochs (and at the last); the method's callbacks (e.g. early stopping) run
    after that evaluation.
    """
    configure_torch(train_cfg)
    model = _build(method_spec, data, seed)
    optimizer = _optimizer(model.parameters(), train_cfg)
    loss_fn = nn.BCEWithLogitsLoss()
    generator = torch.Generator().manual_seed(derive_seed(seed, "batches"))
    X, y = torch.from_numpy(data.X_train), torch.from_numpy(data.y_train).float()
    X_val, y_val = torch.from_numpy(data.X_val), torch.from_numpy(data.y_val).float()
    epochs, batch = int(train_cfg["epochs"]), int(train_cfg["batch_size"])
    reshuffle = train_cfg["reshuffle"]
    if reshuffle not in ("per_epoch", "once"):
        raise ValueError(f"training.reshuffle {reshuffle!r} is not supported; use per_epoch or once")

    def evaluate(m: nn.Module) -> dict[str, float]:
        m.eval()
        with torch.no_grad():
            logits = m(X_val).squeeze(-1)
        return {
            "val_loss": float(loss_fn(logits, y_val)),
            "val_auroc": auroc(torch.sigmoid(logits).double().numpy(), data.y_val),
        }

    callbacks = [Evaluate(evaluate, every=int(train_cfg.get("eval_every", 1)), last_epoch=epochs - 1)]
    callbacks += _callbacks(method_spec)
    state = TrainState(model=model, rng=np.random.default_rng(derive_seed(seed, "callbacks")))
    run_callbacks(callbacks, "on_train_begin", state)
    order = torch.randperm(len(X), generator=generator)
    for epoch in range(epochs):
        if reshuffle == "per_epoch" and epoch > 0:
            order = torch.randperm(len(X), generator=generator)
        model.train()
        total = 0.0
        for start in range(0, len(X), batch):
            idx = order[start : start + batch]
            optimizer.zero_grad()
            loss = loss_fn(model(X[idx]).squeeze(-1), y[idx])
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        state.epoch, state.logs = epoch, {"train_loss": total / len(X)}
        run_callbacks(callbacks, "on_epoch_end", state)
        state.record()
        if state.stop:
            break
    run_callbacks(callbacks, "on_train_end", state)
    info = {"epochs_run": state.epoch + 1, **state.info}
    return TrainResult(model, predict(model, data.X_test), evaluate(model)["val_auroc"], state.history, info)


def train_logreg(method_spec: Mapping[str, Any], data: Dataset, seed: int, train_cfg: Mapping[str, Any]) -> TrainResult:
    """L2-regularised logistic regression fitted by full-batch L-BFGS.

    Uses only the method's own ``l2`` and ``max_iter``; the training axis does
    not reach it, which is why it is declared ``axis_agnostic``.
    """
    configure_torch(train_cfg)
    model = _build(method_spec, data, seed)
    l2, max_iter = float(method_spec.get("l2", 1e-4)), int(method_spec.get("max_iter", 200))
    X, y = torch.from_numpy(data.X_train), torch.from_numpy(data.y_train).float()
    loss_fn = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.LBFGS(model.parameters(), max_iter=max_iter, line_search_fn="strong_wolfe")
    losses: list[float] = []

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = loss_fn(model(X).squeeze(-1), y) + 0.5 * l2 * model.weight.pow(2).sum()
        loss.backward()
        losses.append(float(loss.detach()))
        return loss

    model.train()
    optimizer.step(closure)
    val_scores = predict(model, data.X_val)
    history = {"epoch": [0.0], "train_loss": [losses[-1]], "val_auroc": [auroc(val_scores, data.y_val)]}
    info = {"epochs_run": 1, "lbfgs_evaluations": len(losses)}
    return TrainResult(model, predict(model, data.X_test), history["val_auroc"][0], history, info)
