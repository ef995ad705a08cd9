"""``experiment.resources`` applied to the branch step as Metaflow's ``@resources``.

Metaflow's compute backends read ``@resources`` (``--with kubernetes``,
``--with batch``, ``argo-workflows create``): cores, memory in MiB and GPUs per
task. The values come from the config (checked at launch by
:mod:`components.spec.resources`), so a GPU experiment requests its GPUs
without editing the flow file. Local runs ignore them, as Metaflow does.
"""

from __future__ import annotations

from typing import Any, Mapping

from components.constants import CONFIG_NAME

__all__ = ["BRANCH_STEP", "apply_resources", "resources_of"]

#: The step whose tasks train: the one that asks a scheduler for cores, memory and GPUs.
BRANCH_STEP = "branch"


def resources_of(config: Mapping[str, Any]) -> dict[str, int]:
    """``experiment.resources`` of a resolved config as ``@resources`` keyword arguments (``{}`` when undeclared)."""
    declared = (config.get("experiment") or {}).get("resources") or {}
    return {key: int(declared[key]) for key in ("cpu", "memory", "gpu") if key in declared}


def apply_resources(mutable_flow: Any) -> dict[str, int]:
    """Add ``@resources(**experiment.resources)`` to the branch step of ``mutable_flow`` (a Metaflow ``MutableFlow``)."""
    config = next((value for name, value in mutable_flow.configs if name == CONFIG_NAME), None)
    kwargs = resources_of(config.to_dict() if config is not None and hasattr(config, "to_dict") else dict(config or {}))
    if not kwargs:
        return {}
    for name, step in mutable_flow.steps:
        if name == BRANCH_STEP:
            step.add_decorator("resources", deco_kwargs=kwargs)
    return kwargs
