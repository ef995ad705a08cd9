"""A brand-new investigation is added by creating files in its own folder and under configs/ only, reviewed, and runs."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from components.gates.review import TRAPS

ROOT = Path(__file__).resolve().parents[1]
IGNORED = (".git", ".venv", ".metaflow", "__pycache__", ".pytest_cache")

CODE = '''
"""A toy multiclass investigation: Gaussian classes, a nearest-centroid baseline, a softmax-linear net, macro recall."""

from __future__ import annotations

from typing import Annotated, Any, Mapping

import numpy as np
from pydantic import Field

from components.spec.declarations import NoParams, Params, component, generator, metric, model, trainer
from components.library.torch_train import HEADS, fit
from components.spec.seams import Dataset, Scorer, TrainResult
from components.seeding import derive_seed


class BlobParams(Params):
    n_classes: Annotated[int, Field(ge=2, le=50, description="number of classes")]
    n_features: Annotated[int, Field(ge=1, description="input dimension")]
    n_train: Annotated[int, Field(ge=10, description="training examples")]
    separation: Annotated[float, Field(ge=0.0, description="scale of the class means")]


@generator(params=BlobParams, task="multiclass", split="independent streams per split from the replicate seed")
def blobs(params: BlobParams, data_axes: Mapping[str, Any], seed: int) -> Dataset:
    means = np.random.default_rng(derive_seed(seed, "means")).standard_normal((params.n_classes, params.n_features))

    def split(name: str, n: int):
        rng = np.random.default_rng(derive_seed(seed, name))
        y = rng.integers(0, params.n_classes, n)
        X = params.separation * means[y] + rng.standard_normal((n, params.n_features))
        return X.astype(np.float32), y.astype(np.int64)

    parts = [*split("train", params.n_train), *split("val", 100), *split("test", 300)]
    return Dataset("multiclass", *parts, n_classes=params.n_classes)


@trainer(params=NoParams, tasks=("multiclass",), reads_training=(), data_order="order-free", selection="none", uses_validation=False)
def train_centroid(params: NoParams, data: Dataset, seed: int, training: Mapping[str, Any], scorer: Scorer) -> TrainResult:
    centroids = np.stack([data.X_train[data.y_train == k].mean(axis=0) for k in range(data.n_classes)])

    def proba(X):
        d = -((X[:, None, :] - centroids[None]) ** 2).sum(-1)
        e = np.exp(d - d.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    val = scorer(proba(data.X_val), data.y_val)
    return TrainResult(centroids, proba(data.X_test), val, {"epoch": [0.0], "val_metric": [val]}, {"epochs_run": 1})


class NetParams(Params):
    model: component("model") = Field(description="the network")


@trainer(params=NetParams, tasks=("multiclass",), reads_training=("epochs", "lr", "batch_size", "optimizer", "momentum",
         "weight_decay", "threads", "eval_every", "reshuffle"), data_order="seeded minibatches", selection="last epoch", uses_validation=False)
def train_net(params: NetParams, data: Dataset, seed: int, training: Mapping[str, Any], scorer: Scorer) -> TrainResult:
    from components.spec.seams import build_model

    net = build_model(params.model, in_features=data.n_features, out_features=data.n_classes, seed=derive_seed(seed, "init"))
    return fit(net, HEADS["multiclass"](), data, seed, training, scorer, [])


class ScaledParams(Params):
    scale: Annotated[float, Field(gt=0.0, description="initial weight scale")]


@model(params=ScaledParams)
def scaled_linear(params: ScaledParams, *, in_features: int, out_features: int, seed: int):
    import torch

    net = torch.nn.Linear(in_features, out_features)
    generator_ = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        net.weight.copy_(params.scale * torch.randn(net.weight.shape, generator=generator_))
        net.bias.zero_()
    return net


@metric(params=NoParams, tasks=("multiclass",), direction="higher", range=(0.0, 1.0), definition="mean per-class recall")
def macro_recall(params: NoParams, predictions, targets) -> float:
    predicted = np.asarray(predictions).argmax(axis=1)
    targets = np.asarray(targets)
    return float(np.mean([np.mean(predicted[targets == k] == k) for k in np.unique(targets)]))
'''

CONFIGS = {
    "data/demo_blobs.yaml": """
        _target_: components.investigations.demo.code.blobs
        n_classes: 3
        n_features: 4
        n_train: 120
        separation: 1.0
    """,
    "method/demo_centroid.yaml": """
        demo_centroid:
          _target_: components.investigations.demo.code.train_centroid
          kind: axis_agnostic
    """,
    "method/demo_net.yaml": """
        demo_net:
          _target_: components.investigations.demo.code.train_net
          kind: axis_dependent
          model:
            _target_: components.investigations.demo.code.scaled_linear
            scale: 0.1
    """,
    "experiment/demo_smoke.yaml": """
        # @package _global_
        defaults:
          - override /data: demo_blobs
          - override /method: [demo_centroid, demo_net]
        experiment:
          name: demo_smoke
          question: Does a softmax-linear net beat nearest centroids as classes separate?
          contract: order_independent
          seeds: 3
          seed_base: 0
          baseline: demo_centroid
          metric: {name: macro_recall, _target_: components.investigations.demo.code.macro_recall}
          axes:
            data: {separation: [0.5, 2.0]}
            training: {epochs: [2, 5]}
          statistics: {method: bca, confidence: 0.95, n_resamples: 500}
    """,
}


def _digest(root: Path) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not any(part in IGNORED for part in path.relative_to(root).parts):
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


#: Runs in a fresh interpreter inside the copy: Runner imports the flow file in the calling process,
#: so the copy's ``components`` must be the first on the path, not this checkout's.
RUN = """
import json, sys
sys.path.insert(0, sys.argv[1])
from components.outputs.runs import run_flow
with run_flow(sys.argv[1] + "/flows/investigation.py", ["experiment=demo_smoke"], max_workers=2, datastore_root=sys.argv[2]) as running:
    if running.status != "successful":
        sys.exit(running.stdout + running.stderr)
    print(json.dumps(running.run["end"].task.data.results, default=str))
"""


@pytest.mark.slow
def test_a_new_investigation_runs_without_touching_a_framework_file(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(*IGNORED))
    before = _digest(repo)

    folder = repo / "components" / "investigations" / "demo"
    folder.mkdir()
    (folder / "__init__.py").write_text('"""A toy multiclass investigation."""\n')
    (folder / "code.py").write_text(CODE.lstrip())
    for name, text in CONFIGS.items():
        (repo / "configs" / name).write_text(textwrap.dedent(text).lstrip())
    # The run gate needs a fidelity review of the new experiment: record one, as its author would.
    verdicts = [f"--verdict={trap}=pass:checked against the declarations in code.py" for trap in TRAPS]
    review = subprocess.run(
        [sys.executable, "-m", "components.cli", "review", "experiment=demo_smoke", "--record", "--reviewer", "test", *verdicts],
        cwd=repo, capture_output=True, text=True, timeout=300,
    )
    assert review.returncode == 0, review.stderr

    out = subprocess.run(
        [sys.executable, "-c", RUN, str(repo), str(tmp_path / "store")], cwd=tmp_path, capture_output=True, text=True, timeout=1800,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    results = json.loads(out.stdout.strip().splitlines()[-1])

    after = _digest(repo)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    allowed = ("components/investigations/demo/", "configs/", "reviews/demo_smoke.yaml")
    assert changed and all(path.startswith(allowed) for path in changed), changed
    assert results["experiment"] == "demo_smoke" and results["task"] == "multiclass"
    assert results["metric"]["name"] == "macro_recall" and results["metric"]["higher_is_better"] is True
    assert {c["method"] for c in results["cells"]} == {"demo_centroid", "demo_net"}
    assert all(0.0 <= c["mean"] <= 1.0 for c in results["cells"])
    # 2 separations x 3 seeds = 6 branches: the axis-agnostic baseline once each, the net once per epochs value.
    assert results["work"]["train_arm:demo_centroid"] == 6 and results["work"]["train_arm:demo_net"] == 12
