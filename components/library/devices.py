"""Devices, mixed precision and the determinism settings a contract asks for.

* ``training.device``: ``cpu``, ``cuda``, ``mps`` or ``auto`` (the first of
  cuda, mps, cpu that this machine has). :func:`check_device` refuses an
  accelerator the machine lacks, in one line; :func:`resolve_device` says what
  ``auto`` chose, and the trainer records it in each arm's ``info``.
* ``training.precision``: ``fp32``, ``bf16`` or ``fp16``. :func:`autocast`
  runs the forward pass in that precision; :func:`grad_scaler` scales fp16
  losses so small gradients do not underflow (bf16 and fp32 need no scaler).
* :func:`determinism` applies what deterministic kernels need under a contract
  that promises exact reproduction (``order_independent``, ``single_worker``):
  ``torch.use_deterministic_algorithms(True)``, ``CUBLAS_WORKSPACE_CONFIG``,
  cuDNN deterministic and no benchmark autotuning. It returns the settings so
  the trainer records them. :func:`nondeterministic_op` turns torch's error for
  an operation without a deterministic kernel into one line.

torch is imported inside the functions.
"""

from __future__ import annotations

import contextlib
import os
import re
from typing import Any

from components.spec.resources import check_device, device_available

__all__ = [
    "DEVICES", "EXACT_CONTRACTS", "PRECISIONS", "autocast", "check_device", "determinism", "device_available",
    "grad_scaler", "nondeterministic_op", "resolve_device",
]

#: What ``training.device`` may say.
DEVICES = ("cpu", "cuda", "mps", "auto")
#: What ``training.precision`` may say.
PRECISIONS = ("fp32", "bf16", "fp16")
#: Contracts whose prove gate compares runs bit for bit: they get deterministic kernels.
EXACT_CONTRACTS = ("order_independent", "single_worker")
#: cuBLAS needs a fixed workspace to be deterministic (CUDA >= 10.2); this is the documented setting.
CUBLAS_WORKSPACE = ":4096:8"


def resolve_device(device: str) -> str:
    """The concrete device for ``device``: itself, or for ``auto`` the first available of cuda, mps, cpu."""
    if device != "auto":
        return device
    return next(d for d in ("cuda", "mps", "cpu") if device_available(d))


def _dtype(precision: str) -> Any:
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def autocast(device: str, precision: str) -> contextlib.AbstractContextManager:
    """A context running the forward pass in ``precision`` on ``device`` (a no-op for fp32)."""
    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device, dtype=_dtype(precision))


def grad_scaler(device: str, precision: str) -> Any:
    """A ``torch.amp.GradScaler`` for fp16 (enabled) or any other precision (disabled: a pass-through)."""
    import torch

    return torch.amp.GradScaler(device, enabled=precision == "fp16")


def determinism(contract: str | None) -> dict[str, Any]:
    """Apply the kernel settings ``contract`` needs and return them (what the run records).

    Under :data:`EXACT_CONTRACTS` every op must use a deterministic kernel (an
    op without one raises), cuBLAS gets a fixed workspace and cuDNN neither
    autotunes nor picks nondeterministic algorithms. Under ``nondeterministic``
    (or outside a flow, ``None``) deterministic algorithms are still asked for
    on the CPU, as the shared torch trainers always do, but cuDNN may autotune.
    """
    import torch

    exact = contract in EXACT_CONTRACTS
    if exact:
        # Set before the first cuBLAS call of the process (the first CUDA matmul), which is after this.
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE
    torch.use_deterministic_algorithms(exact or contract is None)
    torch.backends.cudnn.deterministic = exact
    torch.backends.cudnn.benchmark = not exact and contract is not None
    return {
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cublas_workspace_config": CUBLAS_WORKSPACE if exact else "",
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
    }


_NONDETERMINISTIC = re.compile(r"^(?P<op>\S+) does not have a deterministic implementation")


def nondeterministic_op(exc: BaseException) -> str | None:
    """The op named by torch's "does not have a deterministic implementation" error, else ``None``."""
    match = _NONDETERMINISTIC.search(str(exc).strip())
    return match.group("op") if match else None
