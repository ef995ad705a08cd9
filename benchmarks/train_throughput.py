"""Throughput of the shared deep-learning loop against a hand-written minimal torch loop.

Both train the same network (the digits investigation's CNN, or an MLP) from
the same initial weights on the same data, with the same minibatch size,
optimiser and number of epochs, and score the test split once at the end. The
shared loop (:func:`components.library.deep_train.fit`) adds what the minimal
one lacks: seeded order and augmentation generators, the device and precision
plumbing, gradient-accumulation bookkeeping, the loss accumulated on the
device, callbacks and a validation pass at the last epoch. Reported: training
samples per second of each (median of ``--repeats`` alternating runs, after a
warm-up of each) and the overhead of the shared loop, with the machine's load.

Run: ``uv run python benchmarks/train_throughput.py [--epochs 10] [--repeats 5] [--device cpu]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

TRAINING = {
    "epochs": 10, "lr": 0.003, "batch_size": 32, "optimizer": "adam", "momentum": 0.9, "weight_decay": 0.0,
    "threads": 1, "eval_every": 1000, "reshuffle": "per_epoch", "device": "cpu", "precision": "fp32",
    "accumulate": 1, "workers": 0, "checkpoint_every": 0, "shift": 0,
}


def _data():
    from components.investigations.digits_cnn.data import DigitsParams, digits_images

    return digits_images(DigitsParams(n_train=1000, n_val=300, n_test=497), {}, 0)


def _net(model: str, data, seed: int):
    from components.library.nets import CNNParams, FlattenParams, flatten, small_cnn

    if model == "cnn":
        return small_cnn(CNNParams(channels=[16, 32], batch_norm=True, hidden=64), in_features=64, out_features=10, seed=seed, input_shape=data.input_shape)
    inner = {"_target_": "components.library.models.mlp", "hidden": [128]}
    return flatten(FlattenParams(inner=inner), in_features=64, out_features=10, seed=seed)


def shared_loop(model: str, data, training: dict) -> float:
    """Seconds for :func:`components.library.deep_train.fit` to train and score."""
    from components.library.deep_train import fit
    from components.library.torch_train import HEADS
    from components.spec.seams import scorer

    net, score = _net(model, data, 1), scorer({"_target_": "components.library.metrics.accuracy", "name": "accuracy", "threshold": 0.5})
    started = time.perf_counter()
    fit(net, HEADS["multiclass"](), data, 0, training, score, [])
    return time.perf_counter() - started


def minimal_loop(model: str, data, training: dict) -> float:
    """Seconds for the textbook loop (shuffle, forward, loss, backward, step) to train and score."""
    import torch

    net = _net(model, data, 1).to(training["device"])
    optimizer = torch.optim.Adam(net.parameters(), lr=training["lr"])
    loss_fn = torch.nn.CrossEntropyLoss()
    X, y = torch.from_numpy(data.X_train).to(training["device"]), torch.from_numpy(data.y_train).to(training["device"])
    generator = torch.Generator().manual_seed(0)
    started = time.perf_counter()
    for _ in range(training["epochs"]):
        net.train()
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), training["batch_size"]):
            idx = order[start : start + training["batch_size"]]
            optimizer.zero_grad()
            loss = loss_fn(net(X[idx]), y[idx])
            loss.backward()
            optimizer.step()
    net.eval()
    with torch.no_grad():
        torch.softmax(net(torch.from_numpy(data.X_test).to(training["device"])), dim=-1).cpu().numpy()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Print samples/s of both loops and the shared loop's overhead."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", choices=["cnn", "mlp"], default="cnn")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (when this machine has one)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)  # the shared loop sets it; the minimal one must not pay its first-call import
    data = _data()
    training = {**TRAINING, "epochs": args.epochs, "device": args.device}
    shared_loop(args.model, data, {**training, "epochs": 1})
    minimal_loop(args.model, data, {**training, "epochs": 1})
    times: dict[str, list[float]] = {"shared": [], "minimal": []}
    for _ in range(args.repeats):
        times["minimal"].append(minimal_loop(args.model, data, training))
        times["shared"].append(shared_loop(args.model, data, training))
    samples = len(data.X_train) * args.epochs
    rate = {name: samples / statistics.median(values) for name, values in times.items()}
    load = os.getloadavg()
    print(f"model={args.model} device={args.device} epochs={args.epochs} repeats={args.repeats} train={len(data.X_train)} batch={TRAINING['batch_size']}")
    print(f"load average (1, 5, 15 min): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    for name in ("minimal", "shared"):
        print(f"{name:>8}: {rate[name]:8.0f} samples/s  (median of {', '.join(f'{t:.2f}s' for t in times[name])})")
    print(f"overhead of the shared loop: {100 * (rate['minimal'] / rate['shared'] - 1):+.1f} % (target <= 5 %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
