"""The deep-learning trainer: any network, inputs of any shape, a device, mixed precision, accumulation, checkpoints.

:func:`train_deep` is a ``train_arm`` implementation for networks on images,
sequences or tables. It reads the :class:`DeepTraining` group, which adds to
the torch training keys:

* ``device`` (``cpu | cuda | mps | auto``) and ``precision`` (``fp32 | bf16 | fp16``,
  with a grad scaler for fp16), see :mod:`components.library.devices`;
* ``accumulate``: gradients of this many minibatches are summed before each
  optimiser step (an effective batch of ``batch_size * accumulate``);
* ``workers``: ``DataLoader`` worker processes for lazily read data
  (:mod:`components.library.tensors`);
* ``checkpoint_every``: save the whole training state every this many epochs
  (:mod:`components.library.checkpoints`) so a killed arm resumes mid-way;
* ``shift``: random translation of training images by up to this many pixels
  (:func:`components.library.tensors.random_shift`; 0 turns it off), a
  training setting so an experiment can sweep it as a training axis.

Every random draw comes from a generator seeded from the arm's seed:
initialisation (the model builder), minibatch order, augmentation, dropout (a
forked global RNG), callbacks. On the CPU an arm is therefore a pure function
of its seed, and an arm resumed from a checkpoint ends bit-identical to one
that never stopped. The determinism settings the experiment's contract asks
for are applied and recorded in ``info`` with the device chosen.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any, Literal, Mapping

import numpy as np
from pydantic import Field

from components.library.callbacks import Callback, Evaluate, TrainState, run_callbacks
from components.library.checkpoints import Checkpointer
from components.library.devices import autocast, check_device, determinism, grad_scaler, nondeterministic_op, resolve_device
from components.library.tensors import Batches, random_shift
from components.library.torch_train import HEADS, Head, TorchParams, TorchTraining, checkpoint_budget, make_callbacks, make_optimizer, uses_callbacks
from components.spec.arm import current_arm
from components.spec.declarations import trainer, training
from components.spec.seams import Dataset, Scorer, TrainResult, build_model
from components.seeding import derive_seed

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["DEEP_TRAINING", "DeepParams", "DeepTraining", "NondeterministicOpError", "fit", "train_deep"]

#: Rows per forward pass when scoring a split: bounds memory on large splits and accelerators.
EVAL_ROWS = 4096


@training
class DeepTraining(TorchTraining):
    """The training group read by :func:`train_deep` (``training._target_``): the torch keys plus device, precision, accumulation, workers, checkpoints."""

    device: Literal["cpu", "cuda", "mps", "auto"] = Field(description="where the branch trains; auto: cuda, else mps, else cpu (recorded per arm)")
    precision: Literal["fp32", "bf16", "fp16"] = Field(description="forward-pass precision (fp16 uses a grad scaler)")
    accumulate: Annotated[int, Field(ge=1, le=4096, description="minibatches whose gradients are summed per optimiser step")]
    workers: Annotated[int, Field(ge=0, le=64, description="DataLoader worker processes reading batches (0: the training process)")]
    checkpoint_every: Annotated[int, Field(ge=0, description="save the training state every this many epochs (0: never)")]
    shift: Annotated[int, Field(ge=0, le=64, description="random translation of training images by up to this many pixels each way (0: no augmentation)")]


#: The training keys :func:`train_deep` reads.
DEEP_TRAINING = tuple(DeepTraining.model_fields)


class NondeterministicOpError(RuntimeError):
    """An operation without a deterministic kernel ran under a contract that promises exact reproduction."""


class DeepParams(TorchParams):
    """Settings of :func:`train_deep`: the network and its callbacks (as :class:`~components.library.torch_train.TorchParams`)."""


class _Run:
    """One arm's mutable training state: what the loop updates and a checkpoint saves."""

    def __init__(self, net: "nn.Module", seed: int, training: Mapping[str, Any], device: str, data: Dataset, head: Head):
        import torch

        self.net, self.device, self.precision = net.to(device), device, training["precision"]
        self.optimizer = make_optimizer(net.parameters(), training)
        self.scaler = grad_scaler(device, self.precision)
        self.batch_rng = torch.Generator().manual_seed(derive_seed(seed, "batches"))
        self.augment_rng = torch.Generator().manual_seed(derive_seed(seed, "augment"))
        self.batches = Batches(data.X_train, head.target(data.y_train), training["batch_size"], training["workers"], seed)
        self.order = torch.randperm(len(self.batches), generator=self.batch_rng)
        self.seconds = 0.0

    def state(self, epoch: int, train_state: TrainState, callbacks: list[Callback]) -> dict[str, Any]:
        """Everything needed to continue after ``epoch`` exactly as if training had not stopped."""
        import torch

        return {
            "epoch": epoch,
            "model": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "batch_rng": self.batch_rng.get_state(),
            "augment_rng": self.augment_rng.get_state(),
            "loader_rng": self.batches.loader_generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device == "cuda" else None,
            "order": self.order,
            "callbacks_rng": train_state.rng.bit_generator.state,
            "callbacks": [callback.state_dict() for callback in callbacks],
            "history": train_state.history,
            "info": train_state.info,
            "seconds": self.seconds,
        }

    def restore(self, saved: Mapping[str, Any], train_state: TrainState, callbacks: list[Callback]) -> int:
        """Load a checkpoint; return the first epoch still to train."""
        import torch

        self.net.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scaler.load_state_dict(saved["scaler"])
        self.batch_rng.set_state(saved["batch_rng"])
        self.augment_rng.set_state(saved["augment_rng"])
        self.batches.loader_generator.set_state(saved["loader_rng"])
        torch.set_rng_state(saved["torch_rng"])
        if saved["cuda_rng"] is not None:
            torch.cuda.set_rng_state_all(saved["cuda_rng"])
        self.order = saved["order"]
        train_state.rng.bit_generator.state = saved["callbacks_rng"]
        for callback, state in zip(callbacks, saved["callbacks"]):
            callback.load_state_dict(state)
        train_state.history, train_state.info, train_state.epoch = saved["history"], saved["info"], saved["epoch"]
        self.seconds = saved["seconds"]
        return saved["epoch"] + 1


def _outputs(net: "nn.Module", X: np.ndarray, device: str, precision: str) -> "torch.Tensor":
    """The network's outputs on ``X`` (float32, on the CPU), in chunks of :data:`EVAL_ROWS` rows."""
    import torch

    net.eval()
    chunks = []
    with torch.no_grad(), autocast(device, precision):
        for start in range(0, len(X), EVAL_ROWS):
            chunk = np.ascontiguousarray(X[start : start + EVAL_ROWS])
            rows = torch.from_numpy(chunk if chunk.flags.writeable else chunk.copy()).to(device)
            chunks.append(net(rows).float().cpu())
    return torch.cat(chunks) if len(chunks) > 1 else chunks[0]


def _epoch(run: _Run, head_loss: Any, squeeze: Any, accumulate: int, shift: int) -> float:
    """One pass over the training split; returns the mean training loss.

    The plain path (CPU, fp32, no scaler) makes the same calls as a minimal
    torch loop, so the loop's bookkeeping costs little per batch
    (``benchmarks/train_throughput.py``); on an accelerator the loss is summed
    on the device, so no batch waits for a host sync.
    """
    import torch

    run.net.train()
    device, scaled, mixed = run.device, run.scaler.is_enabled(), run.precision != "fp32"
    on_host = device == "cpu"
    total: Any = 0.0 if on_host else torch.zeros((), dtype=torch.float32 if device == "mps" else torch.float64, device=device)
    steps = -(-len(run.order) // run.batches.batch_size)
    for step, (xb, yb) in enumerate(run.batches.epoch(run.order)):
        if shift:
            xb = random_shift(xb, shift, run.augment_rng)
        if not on_host:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
        if mixed:
            with autocast(device, run.precision):
                loss = head_loss(squeeze(run.net(xb)).float(), yb)
        else:
            loss = head_loss(squeeze(run.net(xb)), yb)
        part = loss / accumulate if accumulate > 1 else loss
        (run.scaler.scale(part) if scaled else part).backward()
        if (step + 1) % accumulate == 0 or step + 1 == steps:
            if scaled:
                run.scaler.step(run.optimizer)
                run.scaler.update()
            else:
                run.optimizer.step()
            run.optimizer.zero_grad()
        total += float(loss.detach()) * len(yb) if on_host else loss.detach().to(total.dtype) * len(yb)
    return float(total) / len(run.order)


def fit(net: "nn.Module", head: Head, data: Dataset, seed: int, training: Mapping[str, Any], scorer: Scorer, callbacks: list[Callback]) -> TrainResult:
    """Train ``net`` on ``data`` with ``head``'s loss: the deep-learning loop (see the module docstring).

    Validates every ``eval_every`` epochs and at the last, then runs
    ``callbacks``; checkpoints every ``checkpoint_every`` epochs when the
    framework provides a store (:func:`components.spec.arm.current_arm`), and
    resumes from the arm's last checkpoint when there is one.
    """
    import torch

    arm = current_arm()
    settings = determinism(arm.contract if arm else None)
    check_device(training["device"])
    device = resolve_device(training["device"])
    if torch.get_num_threads() != training["threads"]:
        torch.set_num_threads(training["threads"])
    checkpointer = Checkpointer(arm.store if arm else None, arm.key if arm else "unscoped", training["checkpoint_every"])
    with torch.random.fork_rng(devices=[torch.cuda.current_device()] if device == "cuda" else []):
        # Dropout and other in-model randomness draw from torch's global generators; they are forked
        # above (the caller's state is restored) and seeded from the arm's seed here.
        torch.manual_seed(derive_seed(seed, "dropout"))  # noqa: AXF601
        try:
            result = _train(net, head, data, seed, training, scorer, callbacks, device, checkpointer)
        except RuntimeError as exc:
            op = nondeterministic_op(exc)
            if op is None:
                raise
            contract = arm.contract if arm else "order_independent"
            raise NondeterministicOpError(
                f"{op} has no deterministic kernel on {device}, and contract {contract} requires one; "
                "use another operation or model, or declare experiment.contract: nondeterministic (the prove gate then skips)"
            ) from None
    result.info.update(device=device, precision=training["precision"], **settings)
    return result


def _train(net, head, data, seed, training, scorer, callbacks, device, checkpointer) -> TrainResult:
    import torch

    run = _Run(net, seed, training, device, data, head)
    loss_fn = head.loss()
    y_val = head.target(data.y_val).to(device)
    epochs, precision = training["epochs"], training["precision"]

    def squeeze(out):
        return out.squeeze(-1) if out.shape[-1] == 1 and run.batches.y.dim() == 1 else out

    def evaluate(model) -> dict[str, float]:
        out = _outputs(model, data.X_val, device, precision)
        return {"val_loss": float(loss_fn(squeeze(out).to(device), y_val)), "val_metric": scorer(head.predict(out), data.y_val)}

    hooks = [Evaluate(evaluate, every=training["eval_every"], last_epoch=epochs - 1), *callbacks]
    state = TrainState(model=run.net, rng=np.random.default_rng(derive_seed(seed, "callbacks")))
    run_callbacks(hooks, "on_train_begin", state)
    start, saved = 0, checkpointer.load()
    if saved is not None:
        start = run.restore(saved, state, callbacks)
        print(f"axisflow: resumed from the checkpoint after epoch {start}/{epochs}: {run.seconds:.1f}s of training not redone")
    for epoch in range(start, epochs):
        began = time.perf_counter()
        if training["reshuffle"] == "per_epoch" and epoch > 0:
            run.order = torch.randperm(len(run.order), generator=run.batch_rng)
        state.epoch, state.logs = epoch, {"train_loss": _epoch(run, loss_fn, squeeze, training["accumulate"], training["shift"])}
        run_callbacks(hooks, "on_epoch_end", state)
        state.record()
        run.seconds += time.perf_counter() - began
        if state.stop:
            break
        if checkpointer.due(epoch, epochs - 1):
            checkpointer.save(run.state(epoch, state, callbacks))
    run_callbacks(hooks, "on_train_end", state)
    checkpointer.clear()
    info = {"epochs_run": state.epoch + 1, **state.info}
    if saved is not None:
        info["resumed_from_epoch"] = start
    predictions = head.predict(_outputs(run.net, data.X_test, device, precision))
    val_metric = evaluate(run.net)["val_metric"]
    return TrainResult(run.net.cpu(), predictions, val_metric, state.history, info)


@trainer(
    params=DeepParams,
    tasks=tuple(HEADS),
    reads_training=DEEP_TRAINING,
    data_order="minibatches of the training split in an order drawn from the arm's seed (per training.reshuffle); random shifts drawn from it too",
    selection="the final epoch's model, or the best validation epoch when an early-stopping callback restores it",
    selection_budget=checkpoint_budget,
    imports=("torch",),
    uses_validation=uses_callbacks,
)
def train_deep(params: DeepParams, data: Dataset, seed: int, training: Mapping[str, Any], scorer: Scorer) -> TrainResult:
    """Train the configured network (any shape of input) on ``data``'s task with :func:`fit`."""
    head = HEADS[data.task]()
    net = build_model(params.model, in_features=data.n_features, out_features=head.outputs(data), seed=derive_seed(seed, "init"), input_shape=data.input_shape)
    return fit(net, head, data, seed, training, scorer, make_callbacks(params.callbacks, scorer))
