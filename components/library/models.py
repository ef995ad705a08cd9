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
    """Re-initialise every parameter of ``net`` as a pure function of ``seed``.

    PyTorch's default initialisation draws from the global RNG. Each
    ``nn.Linear`` is redrawn from a private generator with PyTorch's own
    distribution (Kaiming-uniform weights, uniform bias): that path is the one
    the shipped results were produced with, kept bit for bit. Every other module
    that owns parameters (convolutions, normalisation, embeddings ...) is reset
    with its own ``reset_parameters`` under a forked global RNG seeded from
    ``seed``, so the caller's RNG is untouched. A module that owns parameters
    but has no ``reset_parameters`` is refused: build such a network under
    :func:`components.library.nets.seeded_build` instead.
    """
    import torch
    from torch import nn

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        for name, module in net.named_modules():
            if isinstance(module, nn.Linear):
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
                bound = 1.0 / math.sqrt(module.in_features)
                nn.init.uniform_(module.bias, -bound, bound, generator=generator)
            elif next(module.parameters(recurse=False), None) is not None:
                reset = getattr(module, "reset_parameters", None)
                if reset is None:
                    raise TypeError(
                        f"init_parameters: module {name or type(module).__name__} ({type(module).__name__}) owns parameters but has no "
                        "reset_parameters(); build the network under components.library.nets.seeded_build instead"
                    )
                reset()
