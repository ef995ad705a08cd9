"""Deep-learning workloads on the CPU: inputs of any shape, any torch module, devices, precision, determinism, checkpoints, resources."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from components.spec.arm import ArmContext, arm_scope
from components.spec.config import ConfigError, load_spec
from components.spec.seams import Dataset, train_arm

ROOT = Path(__file__).resolve().parents[1]

TRAINING = {
    "_target_": "components.library.deep_train.DeepTraining",
    "epochs": 6, "lr": 0.01, "batch_size": 32, "optimizer": "adam", "momentum": 0.9, "weight_decay": 0.0, "threads": 1,
    "eval_every": 2, "reshuffle": "per_epoch", "device": "cpu", "precision": "fp32", "accumulate": 1, "workers": 0,
    "checkpoint_every": 0, "shift": 0,
}
METRIC = {"_target_": "components.library.metrics.accuracy", "name": "accuracy", "threshold": 0.5}
CNN = {"_target_": "components.library.nets.small_cnn", "channels": [4, 8], "batch_norm": True, "hidden": 16}


def _method(model=CNN, callbacks=()):
    return {"_target_": "components.library.deep_train.train_deep", "kind": "axis_dependent", "name": "net",
            "model": model, "callbacks": list(callbacks)}


def _images(n_train=96, shape=(1, 8, 8), classes=3, seed=0) -> Dataset:
    rng = np.random.default_rng(seed)

    def split(n):
        X = rng.standard_normal((n, *shape)).astype(np.float32)
        y = (X.reshape(n, -1)[:, :5].sum(1) > 0).astype(np.int64) + (X.reshape(n, -1)[:, 5:9].sum(1) > 1).astype(np.int64)
        return X, np.minimum(y, classes - 1)

    return Dataset("multiclass", *split(n_train), *split(40), *split(40), n_classes=classes)


def _state_hash(net) -> str:
    digest = hashlib.sha256()
    for name, value in net.state_dict().items():
        digest.update(name.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


# --- 1. data of any shape ---------------------------------------------------------------------------------

def test_dataset_carries_images_and_counts_their_values():
    data = _images(shape=(3, 4, 5))
    assert data.input_shape == (3, 4, 5) and data.n_features == 60
    flat = Dataset("regression", *(np.zeros((4,), np.float32),) * 6)
    assert flat.input_shape == () and flat.n_features == 1


def test_npy_dataset_is_memory_mapped_and_fingerprinted_by_its_files(tmp_path):
    from components.library.tensors import SPLITS, npy_dataset

    data = _images()
    for name in SPLITS:
        np.save(tmp_path / f"{name}.npy", getattr(data, name))
    lazy = npy_dataset(tmp_path, "multiclass", 3)
    assert isinstance(lazy.X_train, np.memmap) and lazy.source is not None
    assert lazy.fingerprint() == npy_dataset(tmp_path, "multiclass", 3).fingerprint()
    changed = data.X_test.copy()
    changed[0, 0, 0, 0] += 1.0
    np.save(tmp_path / "X_test.npy", changed)
    assert npy_dataset(tmp_path, "multiclass", 3).fingerprint() != lazy.fingerprint()


def test_batch_order_is_a_function_of_the_seed_in_memory_memory_mapped_and_with_workers(tmp_path):
    from components.library.tensors import SPLITS, npy_dataset

    data = _images()
    for name in SPLITS:
        np.save(tmp_path / f"{name}.npy", getattr(data, name))
    lazy = npy_dataset(tmp_path, "multiclass", 3)
    training = {**TRAINING, "epochs": 2, "shift": 1}
    reference = train_arm(_method(), data, 5, training, metric_spec=METRIC).predictions
    assert np.array_equal(train_arm(_method(), lazy, 5, training, metric_spec=METRIC).predictions, reference)
    with_workers = train_arm(_method(), lazy, 5, {**training, "workers": 2}, metric_spec=METRIC).predictions
    assert np.array_equal(with_workers, reference)
    assert not np.array_equal(train_arm(_method(), data, 6, training, metric_spec=METRIC).predictions, reference)


def test_random_shift_moves_images_by_at_most_the_shift_and_follows_its_generator():
    import torch

    from components.library.tensors import random_shift

    x = torch.zeros(50, 1, 5, 5)
    x[:, :, 2, 2] = 1.0
    out = random_shift(x, 1, torch.Generator().manual_seed(0))
    rows, cols = torch.nonzero(out[:, 0], as_tuple=True)[1:]
    assert out.sum() == 50 and set(rows.tolist()) <= {1, 2, 3} and set(cols.tolist()) <= {1, 2, 3}
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 1
    assert torch.equal(out, random_shift(x, 1, torch.Generator().manual_seed(0)))


# --- 2. any torch module, seeded initialisation -----------------------------------------------------------

_MIXED = """
import hashlib, sys, torch
from torch import nn
sys.path.insert(0, {root!r})
from components.library.nets import seeded_build
from components.library.models import init_parameters
class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.conv, self.bn = nn.Embedding(11, 4), nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3)
        self.norm, self.head = nn.LayerNorm(12), nn.Linear(12, 2)
        self.extra = nn.Parameter(torch.randn(5))
torch.rand(int(sys.argv[2]))  # disturb the global RNG: the result must not depend on it
def digest(net):
    h = hashlib.sha256()
    for k, v in net.state_dict().items():
        h.update(k.encode()); h.update(v.numpy().tobytes())
    return h.hexdigest()[:16]
built = seeded_build(Mixed, int(sys.argv[1]))
plain = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.Embedding(5, 2), nn.LayerNorm(4), nn.Linear(4, 2))
init_parameters(plain, int(sys.argv[1]))
print(digest(built), digest(plain))
"""


def _fresh_process(seed: int, disturb: int) -> str:
    script = _MIXED.format(root=str(ROOT))
    env = {**os.environ, "PYTHONHASHSEED": str(disturb)}
    return subprocess.run([sys.executable, "-c", script, str(seed), str(disturb)], capture_output=True, text=True, check=True, env=env).stdout


def test_initialisation_is_identical_across_two_fresh_processes_for_every_module_type():
    first, second = _fresh_process(7, 3), _fresh_process(7, 11)
    assert first == second and len(first.split()) == 2
    assert _fresh_process(8, 3) != first


def test_linear_and_mlp_initialisation_is_unchanged():
    """The shipped MLP and linear models initialise bit for bit as before any module type was covered."""
    from components.library.models import MLPParams, linear, mlp
    from components.spec.declarations import NoParams

    assert _state_hash(mlp(MLPParams(hidden=[64, 64]), in_features=20, out_features=1, seed=123)) == "f8a3a3e2fd775ce5"
    assert _state_hash(linear(NoParams(), in_features=20, out_features=3, seed=7)) == "419fde22a71d83ba"


def test_init_parameters_refuses_a_module_it_cannot_redraw():
    import torch

    from components.library.models import init_parameters

    class Odd(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(3))

    with pytest.raises(TypeError, match="owns parameters but has no reset_parameters"):
        init_parameters(torch.nn.Sequential(Odd()), 0)


def test_a_torchvision_model_trains_through_the_seams():
    pytest.importorskip("torchvision")
    model = {"_target_": "components.library.nets.module", "out_key": "num_classes",
             "factory": {"_target_": "torchvision.models.resnet18", "weights": None}}
    data = _images(n_train=16, shape=(3, 32, 32), classes=3)
    result = train_arm(_method(model), data, 1, {**TRAINING, "epochs": 1, "batch_size": 8, "eval_every": 1}, metric_spec=METRIC)
    assert result.predictions.shape == (40, 3) and result.model.fc.out_features == 3
    again = train_arm(_method(model), data, 1, {**TRAINING, "epochs": 1, "batch_size": 8, "eval_every": 1}, metric_spec=METRIC)
    assert np.array_equal(result.predictions, again.predictions)


def test_pretrained_weights_are_refused_at_launch():
    with pytest.raises(ConfigError, match=r"method\.digits_cnn\.model\.factory\.weights: loads pretrained weights"):
        load_spec([
            "experiment=digits_cnn_smoke", "method.digits_cnn.model._target_=components.library.nets.module",
            "~method.digits_cnn.model.channels", "~method.digits_cnn.model.batch_norm", "~method.digits_cnn.model.hidden",
            "+method.digits_cnn.model.out_key=num_classes",
            "+method.digits_cnn.model.factory={_target_: torchvision.models.resnet18, weights: IMAGENET1K_V1}",
        ])


# --- 3. devices, precision, accumulation -----------------------------------------------------------------

@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_cuda_is_refused_at_launch_on_a_machine_without_it():
    with pytest.raises(ConfigError) as error:
        load_spec(["experiment=digits_cnn_smoke", "training.device=cuda"])
    assert str(error.value).startswith("training.device is 'cuda', but this machine has no CUDA device") and "\n" not in str(error.value)
    load_spec(["experiment=digits_cnn_smoke", "training.device=cuda", "experiment.resources.gpu=1"])  # the scheduler brings one


def test_a_subprocess_launch_asking_for_cuda_fails_in_one_line_before_any_task(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    env = {**os.environ, "METAFLOW_USER": "axisflow-tests"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "flows" / "investigation.py"), "run", "experiment=digits_cnn_smoke", "training.device=cuda"],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 2 and not (tmp_path / ".metaflow").exists()
    assert [line for line in done.stderr.splitlines() if "training.device" in line] == [
        line for line in done.stderr.splitlines() if line.strip()
    ][-1:]


def test_auto_records_the_device_it_chose():
    import torch

    result = train_arm(_method(), _images(), 1, {**TRAINING, "device": "auto", "epochs": 1}, metric_spec=METRIC)
    assert result.info["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert result.info["precision"] == "fp32"


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_and_is_recorded(precision):
    result = train_arm(_method(), _images(), 1, {**TRAINING, "precision": precision, "epochs": 2}, metric_spec=METRIC)
    assert result.info["precision"] == precision and np.isfinite(result.predictions).all()
    assert np.allclose(result.predictions.sum(1), 1.0, atol=1e-5)


def test_gradient_accumulation_matches_the_larger_batch():
    """Two accumulated minibatches of 16 give the same SGD step as one of 32 (same examples, same order)."""
    plain = {**CNN, "batch_norm": False}
    base = {**TRAINING, "optimizer": "sgd", "momentum": 0.0, "epochs": 2, "reshuffle": "once"}
    big = train_arm(_method(plain), _images(), 3, {**base, "batch_size": 32}, metric_spec=METRIC)
    accumulated = train_arm(_method(plain), _images(), 3, {**base, "batch_size": 16, "accumulate": 2}, metric_spec=METRIC)
    small = train_arm(_method(plain), _images(), 3, {**base, "batch_size": 16}, metric_spec=METRIC)
    assert np.allclose(accumulated.predictions, big.predictions, atol=1e-5)
    assert not np.allclose(small.predictions, big.predictions, atol=1e-5)


def test_the_deep_loop_reproduces_the_torch_loop_bit_for_bit_on_a_table():
    """On a table, fp32, CPU, no accumulation, the deep loop computes exactly what train_torch computes."""
    from components.investigations.reference.data import teacher
    from components.spec.declarations import declaration_of

    params = declaration_of(teacher, "generator", "data").params(
        n_features=10, teacher_hidden=4, teacher_scale=3.0, n_train=200, n_val=100, n_test=100, label_noise=0.0)
    data = teacher(params, {}, 3)
    mlp = {"_target_": "components.library.models.mlp", "hidden": [16]}
    torch_keys = {k: v for k, v in TRAINING.items() if k not in ("device", "precision", "accumulate", "workers", "checkpoint_every", "shift")}
    auroc = {"_target_": "components.library.metrics.auroc", "name": "auroc"}
    torch_method = {"_target_": "components.library.torch_train.train_torch", "kind": "axis_dependent", "name": "m", "model": mlp, "callbacks": []}
    old = train_arm(torch_method, data, 4, {**torch_keys, "_target_": "components.library.torch_train.TorchTraining"}, metric_spec=auroc)
    new = train_arm(_method(mlp), data, 4, TRAINING, metric_spec=auroc)
    assert np.array_equal(old.predictions, new.predictions)
    assert old.history["train_loss"] == new.history["train_loss"]


# --- 4. determinism ---------------------------------------------------------------------------------------

def test_exact_contracts_set_and_record_deterministic_kernels():
    result_info = {}
    with arm_scope(ArmContext("k" * 16, "order_independent", None)):
        result_info = train_arm(_method(), _images(), 1, {**TRAINING, "epochs": 1}, metric_spec=METRIC).info
    assert result_info["deterministic_algorithms"] is True and result_info["cudnn_deterministic"] is True
    assert result_info["cudnn_benchmark"] is False and result_info["cublas_workspace_config"] == ":4096:8"
    with arm_scope(ArmContext("k" * 16, "nondeterministic", None)):
        loose = train_arm(_method(), _images(), 1, {**TRAINING, "epochs": 1}, metric_spec=METRIC).info
    assert loose["deterministic_algorithms"] is False and loose["cudnn_benchmark"] is True


def test_an_op_without_a_deterministic_kernel_fails_in_one_line_naming_it():
    import torch

    from components.library.deep_train import NondeterministicOpError, fit
    from components.library.torch_train import HEADS
    from components.spec.seams import scorer

    class Scatter(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(64, 3)

        def forward(self, x):
            from torch._prims_common import alert_not_deterministic

            alert_not_deterministic("scatter_add_cuda_kernel")  # what torch's own CUDA ops call
            return self.lin(x.flatten(1))

    with arm_scope(ArmContext("k" * 16, "order_independent", None)), pytest.raises(NondeterministicOpError) as error:
        fit(Scatter(), HEADS["multiclass"](), _images(), 1, {**TRAINING, "epochs": 1}, scorer(METRIC), [])
    message = str(error.value)
    assert message.startswith("scatter_add_cuda_kernel has no deterministic kernel on cpu") and "nondeterministic" in message and "\n" not in message


# --- 5. checkpoints ---------------------------------------------------------------------------------------

class _Killed(Exception):
    pass


def test_a_killed_arm_resumes_from_its_checkpoint_and_ends_bit_identical(tmp_path, monkeypatch, capsys):
    from components.library import deep_train
    from components.library.checkpoints import DirectoryStore

    stopping = {"_target_": "components.library.callbacks.EarlyStopping", "monitor": "val_loss", "patience": 50, "min_delta": 0.0, "restore_best": True}
    method, data = _method(callbacks=[stopping]), _images()
    training = {**TRAINING, "epochs": 8, "eval_every": 1, "checkpoint_every": 2, "shift": 1}
    uninterrupted = train_arm(method, data, 9, training, metric_spec=METRIC)

    store = DirectoryStore(tmp_path)
    real_epoch, calls = deep_train._epoch, {"n": 0}

    def dies_in_epoch_six(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:
            raise _Killed
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(deep_train, "_epoch", dies_in_epoch_six)
    with arm_scope(ArmContext("arm0", "order_independent", store)), pytest.raises(_Killed):
        train_arm(method, data, 9, training, metric_spec=METRIC)
    assert (tmp_path / "arm0.ckpt").is_file()
    monkeypatch.setattr(deep_train, "_epoch", real_epoch)
    with arm_scope(ArmContext("arm0", "order_independent", store)):
        resumed = train_arm(method, data, 9, training, metric_spec=METRIC)
    assert resumed.info["resumed_from_epoch"] == 4
    assert "resumed from the checkpoint after epoch 4/8" in capsys.readouterr().out
    assert np.array_equal(resumed.predictions, uninterrupted.predictions)
    assert resumed.history == uninterrupted.history and resumed.val_score == uninterrupted.val_score
    assert _state_hash(resumed.model) == _state_hash(uninterrupted.model)
    assert not (tmp_path / "arm0.ckpt").exists(), "a finished arm clears its checkpoint"


# --- 6. resources ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "override, message",
    [
        ("experiment.resources.gpu=-1", "experiment.resources.gpu must be an integer >= 0"),
        ("+experiment.resources.disk=10", "experiment.resources.disk is not a resource"),
        ("~experiment.resources.memory", "experiment.resources.memory is missing"),
    ],
)
def test_resources_are_checked_at_launch(override, message):
    with pytest.raises(ConfigError, match=message):
        load_spec(["experiment=digits_cnn_smoke", override])


def test_resources_become_the_branch_steps_resources_decorator():
    from components.engine.resources import apply_resources

    class Step:
        def __init__(self):
            self.added = []

        def add_decorator(self, name, deco_kwargs):
            self.added.append((name, deco_kwargs))

    class Config(dict):
        def to_dict(self):
            return dict(self)

    branch, start = Step(), Step()

    class Flow:
        configs = [("config", Config(experiment={"resources": {"cpu": 2, "memory": 4096, "gpu": 1}}))]
        steps = [("start", start), ("branch", branch)]

    assert apply_resources(Flow()) == {"cpu": 2, "memory": 4096, "gpu": 1}
    assert branch.added == [("resources", {"cpu": 2, "memory": 4096, "gpu": 1})] and start.added == []


# --- 7. the digits investigation's data ------------------------------------------------------------------

def test_digits_are_images_and_smaller_training_sets_are_prefixes():
    from components.investigations.digits_cnn.data import DigitsParams, digits_images

    small = digits_images(DigitsParams(n_train=50, n_val=100, n_test=200), {}, 4)
    large = digits_images(DigitsParams(n_train=400, n_val=100, n_test=200), {}, 4)
    assert small.X_train.shape == (50, 1, 8, 8) and small.X_train.dtype == np.float32 and small.n_classes == 10
    assert 0.0 <= small.X_train.min() and small.X_train.max() <= 1.0
    assert np.array_equal(large.X_train[:50], small.X_train) and np.array_equal(large.X_test, small.X_test)
    assert not np.array_equal(digits_images(DigitsParams(n_train=50, n_val=100, n_test=200), {}, 5).X_test, small.X_test)


def test_checkpoints_go_to_the_metaflow_datastore_storage(tmp_path):
    from metaflow.plugins.datastores.local_storage import LocalStorage

    from components.engine.checkpoint_store import DatastoreStore

    store = DatastoreStore("SomeFlow", LocalStorage(str(tmp_path / ".metaflow")))
    assert store.load("a.ckpt") is None
    store.save("a.ckpt", b"state-1")
    store.save("a.ckpt", b"state-2")
    assert store.load("a.ckpt") == b"state-2"
    assert (tmp_path / ".metaflow" / "SomeFlow" / "axisflow-checkpoints" / "a.ckpt").is_file()
    store.delete("a.ckpt")
    assert not store.load("a.ckpt")


def test_provenance_and_the_results_header_say_which_device_the_arms_used():
    from components.engine.provenance import hardware, hardware_line

    info = {"device": "cpu", "precision": "fp32", "deterministic_algorithms": True, "cudnn_deterministic": True,
            "cudnn_benchmark": False, "cublas_workspace_config": ":4096:8"}
    records = [{"trainings": [{"info": info}, {"info": {"epochs_run": 1}}]}, {"trainings": [{"info": {**info, "device": "cuda"}}]}]
    found = hardware(records)
    assert found["device"] == ["cpu", "cuda"] and found["deterministic_algorithms"] == [True]
    assert hardware_line({"hardware": found}) == "devices: cpu, cuda; precision: fp32; deterministic kernels: on"
    assert hardware([{"trainings": [{"info": {"epochs_run": 3}}]}]) is None


#: The digits smoke experiment as the checkpoint tests run it: a checkpoint every 2 of 6 epochs. Only settings outside
#: the review's facts are overridden, so the reviewed record stays current (resume checks it too).
DIGITS_CHECKPOINTED = ["experiment=digits_cnn_smoke", "training.epochs=6", "training.checkpoint_every=2"]


def _surface(root: Path, pathspec: str) -> str:
    """A run's results without provenance, as canonical JSON."""
    import json

    import metaflow

    metaflow.metadata(f"local@{root}")
    found = metaflow.Run(pathspec, _namespace_check=False)["end"].task.data.results
    return json.dumps({k: v for k, v in found.items() if k != "provenance"}, sort_keys=True)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """One uninterrupted run of :data:`DIGITS_CHECKPOINTED`: ``(datastore root, results, surface)``.

    It is both the run whose device and checkpoints are checked and the clean
    reference a killed-and-resumed run must equal.
    """
    import metaflow

    from components.outputs.runs import run_flow

    root = tmp_path_factory.mktemp("digits-datastore")
    with run_flow(ROOT / "flows" / "investigation.py", DIGITS_CHECKPOINTED, max_workers=2, datastore_root=root) as running:
        assert running.status == "successful", f"{running.stdout}\n{running.stderr}"
        pathspec = running.run.pathspec
    metaflow.metadata(f"local@{root}")
    results = metaflow.Run(pathspec, _namespace_check=False)["end"].task.data.results
    return root, results, _surface(root, pathspec)


@pytest.mark.slow
def test_the_digits_smoke_flow_trains_images_records_the_device_and_checkpoints_to_the_datastore(digits_run):
    root, results, _ = digits_run
    assert results["provenance"]["hardware"]["device"] == ["cpu"]
    assert results["provenance"]["hardware"]["deterministic_algorithms"] == [True]
    assert {row["method"] for row in results["cells"]} == {"digits_cnn", "digits_logreg", "digits_mlp"}
    # Every arm (2 sizes x 3 seeds x 3 methods x 2 shift values) saved a checkpoint (after epoch 2; none stops early)
    # and cleared it when it finished.
    saved = list((root / ".metaflow" / "InvestigationFlow" / "axisflow-checkpoints").glob("*.ckpt"))
    assert len(saved) == 36 and all(path.stat().st_size == 0 for path in saved)


@pytest.mark.slow
def test_resume_after_a_kill_mid_arm_continues_from_the_checkpoint_and_pins_the_same_results(digits_run, tmp_path):
    """A branch task dies in epoch 5 of an arm that checkpoints every 2 epochs; ``resume`` continues it from epoch 4."""
    import json

    from metaflow import Runner

    from components.outputs.runs import run_flow

    flow = ROOT / "tests" / "fixtures" / "failing" / "killed_arm_flow.py"
    root = tmp_path / "killed"
    marker = tmp_path / "kill.json"
    marker.write_text(json.dumps({"branch": "n_train=50,seed=1", "method": "digits_cnn", "epoch": 5}))
    with run_flow(flow, DIGITS_CHECKPOINTED, datastore_root=root, env={"AXISFLOW_PLANTED_KILL": str(marker)}) as killed:
        assert killed.status == "failed" and "planted kill: digits_cnn in epoch 5" in killed.stdout + killed.stderr
        origin = killed.run.id
    with Runner(str(flow), cwd=str(root)) as runner:
        resumed = runner.resume(origin_run_id=origin, max_workers=2)
        output = resumed.stdout + resumed.stderr
        assert resumed.status == "successful", output
        pathspec = resumed.run.pathspec
    assert "resumed from the checkpoint after epoch 4/6" in output
    assert _surface(root, pathspec) == digits_run[2]
