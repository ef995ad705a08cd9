"""Networks of any shape behind the ``build_model`` seam: a small CNN, a flattening wrapper, and any torch module by import path.

Initialisation is a pure function of the seed for every parameter of every
module type. :func:`seeded_build` constructs a network under a forked global
torch RNG seeded from the arm's seed, so whatever its constructors draw
(convolutions, embeddings, a third-party model's own init code) is fixed by the
seed, and the caller's RNG is left as it was.

torch (and any third-party model library) is imported inside the functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Callable

from pydantic import Field, field_validator

from components.spec.declarations import TARGET, FieldError, ImplementationError, Params, check_keywords, component, locate, model
from components.spec.seams import implementation, settings

if TYPE_CHECKING:
    from torch import nn

__all__ = ["PRETRAINED_KEYS", "CNNParams", "FlattenParams", "ModuleParams", "check_factory", "flatten", "module", "seeded_build", "small_cnn"]

#: Factory arguments that fetch pretrained weights from outside at run time: unhashed input, refused.
PRETRAINED_KEYS = ("weights", "pretrained", "weights_backbone", "pretrained_backbone")


def seeded_build(factory: Callable[[], "nn.Module"], seed: int) -> "nn.Module":
    """Call ``factory()`` under a forked global torch RNG seeded with ``seed``; return its module.

    Every parameter a constructor initialises from torch's global RNG is then a
    function of ``seed`` alone; the caller's global RNG state is restored on exit.
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        net = factory()
    if not isinstance(net, torch.nn.Module):
        raise TypeError(f"the model factory returned {type(net).__name__}, not a torch.nn.Module")
    return net


class CNNParams(Params):
    """Settings of :func:`small_cnn`."""

    channels: Annotated[list[Annotated[int, Field(ge=1, le=4096)]], Field(min_length=1, description="output channels of each 3x3 convolution block, input side first")]
    batch_norm: bool = Field(description="BatchNorm2d after each convolution")
    hidden: Annotated[int, Field(ge=0, le=65536, description="width of the ReLU layer before the output layer (0: none)")]


@model(params=CNNParams)
def small_cnn(params: CNNParams, *, in_features: int, out_features: int, seed: int, input_shape: tuple[int, ...]) -> "nn.Module":
    """Convolution blocks (3x3 conv, optional BatchNorm, ReLU, 2x2 max-pool while the image is at least 2x2), then a linear head.

    ``input_shape`` is one image's ``(C, H, W)``.
    """
    from torch import nn

    if len(input_shape) != 3:
        raise ValueError(f"small_cnn needs C x H x W inputs, got input shape {input_shape}")

    def build() -> nn.Module:
        channels, h, w = input_shape
        layers: list[nn.Module] = []
        for width in params.channels:
            layers += [nn.Conv2d(channels, width, kernel_size=3, padding=1)]
            layers += [nn.BatchNorm2d(width)] if params.batch_norm else []
            layers += [nn.ReLU()]
            if min(h, w) >= 2:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            channels = width
        layers.append(nn.Flatten())
        flat = channels * h * w
        if params.hidden:
            layers += [nn.Linear(flat, params.hidden), nn.ReLU()]
            flat = params.hidden
        layers.append(nn.Linear(flat, out_features))
        return nn.Sequential(*layers)

    return seeded_build(build, seed)


class FlattenParams(Params):
    """Settings of :func:`flatten`."""

    inner: component("model") = Field(description="the model fed the flattened input: {_target_: a declared model builder, ...its settings}")  # type: ignore[valid-type]  # component() builds an Annotated type


@model(params=FlattenParams)
def flatten(params: FlattenParams, *, in_features: int, out_features: int, seed: int) -> "nn.Module":
    """``nn.Flatten()`` then the ``inner`` model on ``in_features`` values: an MLP or linear model on images."""
    from torch import nn

    fn, declaration = implementation(params.inner, "model", "model.inner")
    inner = fn(settings(params.inner, declaration), in_features=in_features, out_features=out_features, seed=seed)
    return nn.Sequential(nn.Flatten(), inner)


class ModuleParams(Params):
    """Settings of :func:`module`."""

    factory: dict[str, Any] = Field(
        description="{_target_: import path of a function or class returning a torch.nn.Module, ...its keyword arguments}"
    )
    out_key: str | None = Field(description="the factory argument that receives the output width (e.g. num_classes), or null")

    @field_validator("factory")
    @classmethod
    def _factory_binds(cls, node: dict[str, Any]) -> dict[str, Any]:
        check_factory(node)
        return node


def check_factory(node: dict[str, Any]) -> Callable[..., Any]:
    """Resolve ``node[_target_]`` and check its keyword arguments bind to its signature; return the factory.

    Pretrained weights (``weights``, ``pretrained`` ... not null) are refused:
    they would be fetched at run time from outside the run's hashed inputs.
    """
    try:
        factory = locate(node.get(TARGET), TARGET)
    except ImplementationError as exc:
        raise FieldError((TARGET,), str(exc)) from None
    if not callable(factory):
        raise FieldError((TARGET,), f"{node[TARGET]!r} is not callable")
    kwargs = {k: v for k, v in node.items() if k != TARGET}
    for key in PRETRAINED_KEYS:
        if kwargs.get(key) not in (None, False):
            raise FieldError((key,), f"loads pretrained weights from outside the run ({kwargs[key]!r}); set it to null and train from the seed")
    check_keywords(factory, kwargs, str(node[TARGET]))
    return factory


@model(params=ModuleParams)
def module(params: ModuleParams, *, in_features: int, out_features: int, seed: int) -> "nn.Module":
    """Any torch module by import path, e.g. ``torchvision.models.resnet18`` with ``weights: null``, built under :func:`seeded_build`.

    ``out_key`` names the factory argument set to the task's output width.
    """
    factory = check_factory(params.factory)
    kwargs = {k: v for k, v in params.factory.items() if k != TARGET}
    if params.out_key is not None:
        kwargs[params.out_key] = out_features
    return seeded_build(lambda: factory(**kwargs), seed)
