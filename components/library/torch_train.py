"""Torch trainers behind the ``train_arm`` seam, and the one training loop they share.

:func:`fit` is the minibatch loop (seeded order, periodic validation with the
experiment's metric, callbacks). A task type is a :class:`Head` (output width,
loss, how logits become predictions); :func:`train_torch` serves binary,
multiclass and regression with the heads in :data:`HEADS`, and a new task type
reuses :func:`fit` with its own head instead of copying the loop.

torch is imported inside the functions: declaring these trainers (which every
launch does to check the config) stays torch-free.

Every trainer is a pure function of ``(params, data, seed, training, scorer)``:
model initialisation, minibatch order and callbacks draw from generators seeded
with ``seed``. ``training`` holds only the training keys the trainer declares it
reads, with this cell's training-axis values applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Callable, Literal, Mapping

import numpy as np
from pydantic import Field

from components.spec.declarations import TARGET, Params, component, declaration_of, locate, trainer, training
from components.spec.seams import Dataset, Scorer, TrainResult, build_model, implementation, settings
from components.seeding import derive_seed

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "HEADS", "TORCH_TRAINING_KEYS", "Head", "LogregParams", "TorchParams", "TorchTraining", "checkpoint_budget", "configure_torch", "fit", "make_callbacks", "make_optimizer", "train_logreg", "train_torch",
    "uses_callbacks",
]


@training
class TorchTraining(Params):
    """The training group read by the torch trainers (``training._target_``)."""

    epochs: Annotated[int, Field(ge=1, le=100_000, description="passes over the training split")]
    lr: Annotated[float, Field(gt=0.0, le=10.0, description="learning rate")]
    batch_size: Annotated[int, Field(ge=1, description="minibatch size")]
    optimizer: Literal["adam", "adamw", "sgd"] = Field(description="optimiser")
    momentum: Annotated[float, Field(ge=0.0, lt=1.0, description="SGD momentum (read by optimizer=sgd only)")]
    weight_decay: Annotated[float, Field(ge=0.0, description="L2 penalty applied by the optimiser")]
    threads: Annotated[int, Field(ge=1, le=256, description="torch intra-op threads per task")]
    eval_every: Annotated[int, Field(ge=1, description="validate every this many epochs (and always at the last)")]
    reshuffle: Literal["per_epoch", "once"] = Field(description="per_epoch: a fresh minibatch order every epoch; once: one order for all epochs")


def configure_torch(threads: int) -> None:
    """Pin torch to ``threads`` intra-op threads and deterministic kernels."""
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


@dataclass(frozen=True)
class Head:
    """What makes a task type: output width, loss and prediction from the network's output.

    ``outputs(data)`` is the network's output width; ``loss()`` builds the loss
    module; ``target(y)`` turns labels into the loss's target tensor;
    ``predict(out)`` turns network output into the task's predictions (numpy).
    """

    outputs: Callable[[Dataset], int]
    loss: Callable[[], Any]
    target: Callable[[np.ndarray], Any]
    predict: Callable[[Any], np.ndarray]


def _binary() -> Head:
    import torch
    from torch import nn

    return Head(
        outputs=lambda data: 1,
        loss=nn.BCEWithLogitsLoss,
        target=lambda y: torch.from_numpy(y).float(),
        predict=lambda out: torch.sigmoid(out.squeeze(-1)).double().numpy(),
    )


def _multiclass() -> Head:
    import torch
    from torch import nn

    return Head(
        outputs=lambda data: int(data.n_classes),  # type: ignore[arg-type]  # a classification Dataset has n_classes (seams check)
        loss=nn.CrossEntropyLoss,
        target=lambda y: torch.from_numpy(y).long(),
        predict=lambda out: torch.softmax(out, dim=-1).double().numpy(),
    )


def _regression() -> Head:
    import torch
    from torch import nn

    return Head(
        outputs=lambda data: 1,
        loss=nn.MSELoss,
        target=lambda y: torch.from_numpy(np.asarray(y, dtype=np.float32)),
        predict=lambda out: out.squeeze(-1).double().numpy(),
    )


#: Task type -> head factory, for :func:`train_torch`.
HEADS: dict[str, Callable[[], Head]] = {"binary": _binary, "multiclass": _multiclass, "regression": _regression}


def make_optimizer(parameters, training: Mapping[str, Any]):
    """The optimizer ``training.optimizer`` names (adam, adamw or sgd) over ``parameters``, with its lr, weight decay, momentum."""
    import torch

    lr, wd = training["lr"], training["weight_decay"]
    if training["optimizer"] == "adam":
        return torch.optim.Adam(parameters, lr=lr, weight_decay=wd)
    if training["optimizer"] == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=wd)
    return torch.optim.SGD(parameters, lr=lr, weight_decay=wd, momentum=training["momentum"])


def make_callbacks(entries: list[dict[str, Any]], scorer: Scorer) -> list:
    """The callbacks a method's ``callbacks`` list declares, each validated against its declaration."""
    built = []
    for i, entry in enumerate(entries):
        cls, declaration = implementation(entry, "callback", f"callbacks[{i}]")
        built.append(cls(settings(entry, declaration), scorer.info.higher_is_better))
    return built


def fit(
    net: "nn.Module",
    head: Head,
    data: Dataset,
    seed: int,
    training: Mapping[str, Any],
    scorer: Scorer,
    callbacks: list,
) -> TrainResult:
    """Minibatch training of ``net`` with ``head``'s loss, validation every ``eval_every`` epochs, then ``callbacks``.

    Logs ``train_loss`` every epoch and ``val_loss``/``val_metric`` (the
    experiment's metric on the validation split) at evaluations; callbacks such
    as early stopping run after the evaluation. Returns the test predictions,
    the final model's validation metric, the history and ``epochs_run``.
    """
    import torch

    from components.library.callbacks import Evaluate, TrainState, run_callbacks

    configure_torch(training["threads"])
    optimizer = make_optimizer(net.parameters(), training)
    loss_fn = head.loss()
    generator = torch.Generator().manual_seed(derive_seed(seed, "batches"))
    X, y = torch.from_numpy(data.X_train), head.target(data.y_train)
    X_val, y_val = torch.from_numpy(data.X_val), head.target(data.y_val)
    epochs, batch = training["epochs"], training["batch_size"]

    def squeeze(out):
        return out.squeeze(-1) if out.shape[-1] == 1 and y.dim() == 1 else out

    def evaluate(m) -> dict[str, float]:
        m.eval()
        with torch.no_grad():
            out = m(X_val)
        return {"val_loss": float(loss_fn(squeeze(out), y_val)), "val_metric": scorer(head.predict(out), data.y_val)}

    hooks = [Evaluate(evaluate, every=training["eval_every"], last_epoch=epochs - 1), *callbacks]
    state = TrainState(model=net, rng=np.random.default_rng(derive_seed(seed, "callbacks")))
    run_callbacks(hooks, "on_train_begin", state)
    order = torch.randperm(len(X), generator=generator)
    for epoch in range(epochs):
        if training["reshuffle"] == "per_epoch" and epoch > 0:
            order = torch.randperm(len(X), generator=generator)
        net.train()
        total = 0.0
        for start in range(0, len(X), batch):
            idx = order[start : start + batch]
            optimizer.zero_grad()
            loss = loss_fn(squeeze(net(X[idx])), y[idx])
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        state.epoch, state.logs = epoch, {"train_loss": total / len(X)}
        run_callbacks(hooks, "on_epoch_end", state)
        state.record()
        if state.stop:
            break
    run_callbacks(hooks, "on_train_end", state)
    info = {"epochs_run": state.epoch + 1, **state.info}
    net.eval()
    with torch.no_grad():
        predictions = head.predict(net(torch.from_numpy(data.X_test)))
    return TrainResult(net, predictions, evaluate(net)["val_metric"], state.history, info)


class TorchParams(Params):
    """Settings of :func:`train_torch` (a method's own keys besides ``_target_`` and ``kind``)."""

    model: component("model") = Field(description="the network: {_target_: a declared model builder, ...its settings}")  # type: ignore[valid-type]  # component() builds an Annotated type
    callbacks: list[component("callback")] = Field(description="callbacks run after each validation, e.g. early stopping: [{_target_: ..., ...}]")  # type: ignore[valid-type]  # component() builds an Annotated type


def checkpoint_budget(settings: Mapping[str, Any], training: Mapping[str, Any]) -> tuple[int, str]:
    """Selection budget of :func:`fit`: the validation checkpoints a selecting callback chooses among, else 1.

    :func:`fit` validates after every ``eval_every``-th epoch and at the last
    one; a callback declared with ``selects=True`` (early stopping) picks the
    reported model among those checkpoints.
    """
    epochs, every = training["epochs"], training["eval_every"]
    checkpoints = len({e for e in range(epochs) if (e + 1) % every == 0} | {epochs - 1})
    selecting = []
    for i, entry in enumerate(settings.get("callbacks") or []):
        declaration = declaration_of(locate(entry[TARGET], f"callbacks[{i}]"), "callback", f"callbacks[{i}]")
        if declaration.selects:
            selecting.append(f"{entry[TARGET].rsplit('.', 1)[-1]} on {entry.get('monitor', 'its monitor')}")
    if not selecting:
        return 1, "the final epoch's model (no validation-based selection)"
    return checkpoints, f"best of up to {checkpoints} validation checkpoints ({', '.join(selecting)})"


def uses_callbacks(settings: Mapping[str, Any]) -> bool:
    """Whether :func:`fit` uses the validation split with these method settings: only its callbacks (early stopping) act on it.

    Without callbacks the final epoch's model is reported and the validation
    evaluations are telemetry, so the method is fitted like any other that uses
    no validation split (see :func:`components.spec.seams.fit_data`).
    """
    return bool(settings.get("callbacks"))


#: The training keys the shared torch loop reads: a trainer built on :func:`fit` declares ``reads_training=TORCH_TRAINING_KEYS``.
TORCH_TRAINING_KEYS = ("epochs", "lr", "batch_size", "optimizer", "momentum", "weight_decay", "threads", "eval_every", "reshuffle")


@trainer(
    params=TorchParams,
    tasks=tuple(HEADS),
    reads_training=TORCH_TRAINING_KEYS,
    data_order="minibatches of the training split in an order drawn from the arm's seed; reshuffled per training.reshuffle",
    selection="the final epoch's model, or the best validation epoch when an early-stopping callback restores it",
    selection_budget=checkpoint_budget,
    uses_validation=uses_callbacks,
    imports=("torch",),
)
def train_torch(params: TorchParams, data: Dataset, seed: int, training: Mapping[str, Any], scorer: Scorer) -> TrainResult:
    """Train the configured network on ``data``'s task (binary, multiclass or regression) with :func:`fit`."""
    head = HEADS[data.task]()
    net = build_model(params.model, in_features=data.n_features, out_features=head.outputs(data), seed=derive_seed(seed, "init"))
    return fit(net, head, data, seed, training, scorer, make_callbacks(params.callbacks, scorer))


class LogregParams(Params):
    """Settings of :func:`train_logreg`."""

    model: component("model") = Field(description="the linear model: {_target_: components.library.models.linear}")  # type: ignore[valid-type]  # component() builds an Annotated type
    l2: Annotated[float, Field(ge=0.0, description="L2 penalty on the weights (0.5 * l2 * ||w||^2 is added to the mean loss)")]
    max_iter: Annotated[int, Field(ge=1, le=100_000, description="L-BFGS iterations")]


@trainer(
    params=LogregParams,
    tasks=("binary",),
    reads_training=("threads",),
    data_order="full batch (order-free)",
    selection="the L-BFGS optimum; no validation-based selection",
    uses_validation=False,
    order_free=True,
    selection_budget=lambda settings, training: (1, "the L-BFGS optimum (no validation-based selection)"),
    imports=("torch",),
)
def train_logreg(params: LogregParams, data: Dataset, seed: int, training: Mapping[str, Any], scorer: Scorer) -> TrainResult:
    """L2-regularised logistic regression fitted by full-batch L-BFGS.

    Reads only its own ``l2`` and ``max_iter`` (and the thread count), so a
    training axis cannot reach it: it can be declared ``axis_agnostic``.
    """
    import torch
    from torch import nn

    configure_torch(training["threads"])
    head = _binary()
    net = build_model(params.model, in_features=data.n_features, out_features=1, seed=derive_seed(seed, "init"))
    X, y = torch.from_numpy(data.X_train), torch.from_numpy(data.y_train).float()
    loss_fn = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.LBFGS(net.parameters(), max_iter=params.max_iter, line_search_fn="strong_wolfe")
    losses: list[float] = []

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = loss_fn(net(X).squeeze(-1), y) + 0.5 * params.l2 * net.weight.pow(2).sum()
        loss.backward()
        losses.append(float(loss.detach()))
        return loss

    net.train()
    optimizer.step(closure)
    net.eval()
    with torch.no_grad():
        val_scores = head.predict(net(torch.from_numpy(data.X_val)))
        predictions = head.predict(net(torch.from_numpy(data.X_test)))
    val_metric = scorer(val_scores, data.y_val)
    history = {"epoch": [0.0], "train_loss": [losses[-1]], "val_metric": [val_metric]}
    info = {"epochs_run": 1, "lbfgs_evaluations": len(losses)}
    return TrainResult(net, predictions, val_metric, history, info)

