"""Model builders behind the ``build_model`` seam (torch is imported inside them, so declaring is light)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from components.spec.declarations import NoParams, Params, model

if TYPE_CHECKING:
    from torch import nn

__all__ = ["MLPParams", "init_parameters", "linear", "mlp"]


@model(params=NoParams)
def linear(params: NoParams, *, in_features: int, out_features: int, seed: int) -> "nn.Module":
    """One linear layer: ``in_features -> out_features`` logits (or values)."""
    from torch import nn

    net = nn.Linear(in_features, out_features)
    init_parameters(net, seed)
    return net


class MLPParams(Params):
    """Settings of :func:`mlp`."""

    hidden: Annotated[list[Annotated[int, Field(ge=1, le=65536)]], Field(min_length=1, description="widths of the hidden ReLU layers, input side first")]


@model(params=MLPParams)
def mlp(params: MLPParams, *, in_features: int, out_features: int, seed: int) -> "nn.Module":
    """ReLU multilayer perceptron ``in_features -> hidden[0] -> ... -> out_features``."""
    from torch import nn

    layers: list[nn.Module] = []
    width = in_features
    for hidden in params.hidden:
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, out_features))
    net = nn.Sequential(*layers)
    init_parameters(net, seed)
    return net


def init_parameters(net: "nn.Module", seed: int) -> None:
    """Re-initialise every ``nn.Linear`` from a generator seeded with ``seed``.

    PyTorch's default initialisation draws from the global RNG; this uses the
    same distribution (Kaiming-uniform weights, uniform bias) from a private
    generator, so a model is a pure function of its spec.
    """
    import torch
    from torch import nn

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.Linear):
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
                bound = 1.0 / math.sqrt(module.in_features)
                nn.init.uniform_(module.bias, -bound, bound, generator=generator)
