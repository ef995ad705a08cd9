"""What a branch task needs from the machine: ``experiment.resources`` and ``training.device``, checked at launch.

``experiment.resources`` (optional) declares what each branch task asks a
scheduler for: ``cpu`` (cores), ``memory`` (MiB) and ``gpu`` (devices). The
shell applies it as Metaflow's ``@resources`` on the ``branch`` step, so
``--with kubernetes`` and ``argo-workflows create`` request exactly that;
a local run ignores it, as Metaflow does.

``training.device`` names where the branch trains. Asking for ``cuda`` or
``mps`` on a machine without one is refused at launch in one line, unless
``experiment.resources.gpu`` asks a scheduler for GPUs: then the branch tasks
run elsewhere, and each task checks its own device before training.

torch is imported only to check an accelerator that was asked for.
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["RESOURCE_KEYS", "check_device", "check_resources", "device_available"]

#: The keys of ``experiment.resources``, with their meaning.
RESOURCE_KEYS = {"cpu": "cores per branch task", "memory": "MiB per branch task", "gpu": "GPUs per branch task"}


def check_resources(value: Any) -> dict[str, int]:
    """Validate ``experiment.resources``; return it as ``{cpu, memory, gpu}`` (``{}`` when absent)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"experiment.resources must map {', '.join(RESOURCE_KEYS)} to numbers, got {value!r}")
    unknown = sorted(set(value) - set(RESOURCE_KEYS))
    if unknown:
        raise ValueError(f"experiment.resources.{unknown[0]} is not a resource; known: {', '.join(RESOURCE_KEYS)}")
    missing = [key for key in RESOURCE_KEYS if key not in value]
    if missing:
        raise ValueError(f"experiment.resources.{missing[0]} is missing; declare {', '.join(f'{k} ({v})' for k, v in RESOURCE_KEYS.items())}")
    out = {}
    for key in RESOURCE_KEYS:
        number = value[key]
        low = 0 if key == "gpu" else 1
        if isinstance(number, bool) or not isinstance(number, int) or number < low:
            raise ValueError(f"experiment.resources.{key} must be an integer >= {low} ({RESOURCE_KEYS[key]}), got {number!r}")
        out[key] = number
    return out


def device_available(device: str) -> bool:
    """True when this process's torch can run on ``device`` (``cpu``, ``cuda`` or ``mps``)."""
    import torch

    if device == "cuda":
        return bool(torch.cuda.is_available())
    if device == "mps":
        backend = getattr(torch.backends, "mps", None)
        return bool(backend is not None and backend.is_available())
    return device == "cpu"


def check_device(device: Any, resources: Mapping[str, int] | None = None, where: str = "training.device") -> None:
    """Refuse (``ValueError``, one line) an accelerator this machine lacks, unless the resources ask a scheduler for GPUs."""
    if device not in ("cuda", "mps"):
        return
    if resources and resources.get("gpu", 0) > 0:
        return
    if not device_available(device):
        raise ValueError(
            f"{where} is {device!r}, but this machine has no {device.upper()} device that torch can use; "
            "use cpu or auto, or request GPUs for remote branches with experiment.resources.gpu and --with kubernetes"
        )
