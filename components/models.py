"""Model builders behind the ``build_model`` seam (imported only inside steps: it imports torch)."""

from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from torch import nn

__all__ = ["linear", "mlp", "init_parameters"]


def linear(spec: Mapping[str, Any]) -> nn.Module:
    """One linear layer producing a single logit: ``in_features -> 1``."""
    model = nn.Linear(int(spec["in_features"]), 1)
    init_parameters(model, int(spec["seed"]))
    return model


def mlp(spec: Mapping[str, Any]) -> nn.Module:
    """ReLU multilayer perceptron ``in_features -> hidden[0] -> ... -> 1`` (one logit)."""
    layers: list[nn.Module] = []
    width = int(spec["in_features"])
    for hidden in spec.get("hidden", [64]):
        layers += [nn.Linear(width, int(hidden)), nn.ReLU()]
        width = int(hidden)
    layers.append(nn.Linear(width, 1))
    model = nn.Sequential(*layers)
    init_parameters(model, int(spec["seed"]))
    return model


def init_parameters(model: nn.Module, seed: int) -> None:
    """Re-initialise every ``nn.Linear`` from a generator seeded with ``seed``.

    PyTorch's default initialisation draws from the global RNG; this uses the
    same distribution (Kaiming-uniform weights, uniform bias) from a private
    generator, so a model is a pure function of its spec.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
                bound = 1.0 / math.sqrt(module.in_features)
                nn.init.uniform_(module.bias, -bound, bound, generator=generator)
