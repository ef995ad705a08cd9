"""How an implementation declares itself: its role, the settings it reads (typed), and what it serves.

Configs name implementations by import path, the Hydra way::

    data:
      _target_: components.investigations.reference.data.teacher
      n_features: 20

The object at that path carries a :class:`Declaration`, attached by one of the
decorators below. Its ``params`` is a :class:`Params` model (pydantic, strict,
no unknown keys, *no defaults*): the composed config node is checked against it
at launch, and the implementation receives the validated, frozen instance, so
everything it can read is in the resolved config and in its hash.

Declaring never runs the implementation: keep heavy imports (torch) inside the
functions, so checking a config at launch stays fast and torch-free.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Literal, Mapping

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

__all__ = [
    "ROLES",
    "TARGET",
    "Declaration",
    "ImplementationError",
    "MetricInfo",
    "Params",
    "FieldError",
    "callback",
    "component",
    "declaration_of",
    "describe",
    "generator",
    "locate",
    "metric",
    "model",
    "trainer",
    "training",
]

#: The config key that names an implementation by import path.
TARGET = "_target_"
#: What an implementation can be, by seam.
ROLES = ("generator", "trainer", "model", "metric", "callback", "training")

_ATTRIBUTE = "__axisflow__"


class ImplementationError(ValueError):
    """A ``_target_`` that cannot be imported, or names something that is not a declared implementation."""


class FieldError(ValueError):
    """A validation failure at ``loc`` (a key path relative to the field that raised it)."""

    def __init__(self, loc: tuple[Any, ...], message: str):
        super().__init__(message)
        self.loc, self.message = tuple(loc), message


class Params(BaseModel):
    """Base of every settings declaration: strict types, no unknown keys, frozen, and no defaults.

    Give each field its type, its range or choices (``Field(ge=..)``, ``Literal``)
    and a ``description``; never a default: the value belongs in a YAML file,
    where it is recorded and hashed.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        defaulted = [name for name, info in cls.model_fields.items() if not info.is_required()]
        if defaulted:
            raise TypeError(
                f"{cls.__module__}.{cls.__qualname__}: field(s) {', '.join(defaulted)} have a default in code; "
                "put the value in the config instead (no defaults in code)"
            )


class NoParams(Params):
    """For an implementation that reads no settings."""


@dataclass(frozen=True)
class MetricInfo:
    """What a metric means: ``direction`` ("higher" or "lower" is better), its ``range`` and a one-line definition."""

    direction: Literal["higher", "lower"]
    range: tuple[float | None, float | None]
    definition: str

    @property
    def higher_is_better(self) -> bool:
        """True when a larger value is better."""
        return self.direction == "higher"


@dataclass(frozen=True)
class Declaration:
    """An implementation's declaration.

    ``tasks``: the task types it serves (``binary``, ``multiclass``,
    ``regression`` or a type of your own); a generator declares exactly one.
    ``reads_training``: for a trainer, the training-group keys it reads (it is
    handed only those); for a ``training`` schema, empty. ``split``: for a
    generator, how train/validation/test are drawn. ``data_order``: for a
    trainer, how it orders the training data. ``metric``: for a metric, its
    :class:`MetricInfo`. ``selection``: for a trainer, how the reported model was
    selected. ``imports``: for a trainer, heavy modules it imports when it runs
    (e.g. ``torch``); a branch imports them before its clock starts, so seam
    timings measure work. ``order_free``: for a trainer, true when the fit does
    not depend on the order of the training examples (full batch, closed form),
    so the review leaves it out of the reshuffle comparison.
    ``selection_budget``: for a trainer, ``fn(settings, training) -> (count,
    how)`` giving how many configurations the reported model was selected from
    (1: none) for the method's settings and one cell's training values; ``None``
    when undeclared. ``selects``: for a callback, true when it chooses the
    reported model among the validation checkpoints (early stopping).
    ``uses_validation``: for a trainer, whether it uses the validation split
    (early stopping, selection), as a bool or ``fn(settings) -> bool`` of the
    method's settings; a trainer that does not is handed the whole training part
    (see :func:`components.spec.seams.fit_data`).
    """

    role: str
    params: type[Params]
    tasks: tuple[str, ...] = ()
    reads_training: tuple[str, ...] = ()
    split: str = ""
    data_order: str = ""
    selection: str = ""
    metric: MetricInfo | None = None
    imports: tuple[str, ...] = ()
    order_free: bool = False
    selection_budget: Callable[[Mapping[str, Any], Mapping[str, Any]], tuple[int | None, str]] | None = None
    selects: bool = False
    uses_validation: bool | Callable[[Mapping[str, Any]], bool] = True

    def reads_validation(self, settings: Mapping[str, Any]) -> bool:
        """Whether this trainer, with the method's ``settings``, uses the validation split."""
        flag = self.uses_validation
        return bool(flag(settings) if callable(flag) else flag)


def _attach(declaration: Declaration) -> Callable[[Any], Any]:
    def decorate(obj: Any) -> Any:
        setattr(obj, _ATTRIBUTE, declaration)
        return obj

    return decorate


def generator(*, params: type[Params], task: str, split: str) -> Callable[[Any], Any]:
    """Declare a ``make_data`` implementation ``fn(params, data_axes, seed) -> Dataset``.

    ``task`` is the task type of the datasets it makes; ``split`` says in words
    how train/validation/test are drawn (the fidelity review shows it).
    """
    return _attach(Declaration("generator", params, tasks=(task,), split=split))


def trainer(
    *,
    params: type[Params],
    tasks: tuple[str, ...],
    reads_training: tuple[str, ...],
    data_order: str,
    selection: str,
    uses_validation: bool | Callable[[Mapping[str, Any]], bool],
    imports: tuple[str, ...] = (),
    order_free: bool = False,
    selection_budget: Callable[[Mapping[str, Any], Mapping[str, Any]], tuple[int | None, str]] | None = None,
) -> Callable[[Any], Any]:
    """Declare a ``train_arm`` implementation ``fn(params, data, seed, training, scorer) -> TrainResult``.

    ``reads_training`` lists the training-group keys it reads; it is handed only
    those, and an ``axis_agnostic`` method whose trainer reads a swept key is
    refused at launch. ``imports`` names heavy modules it imports when it runs.
    ``data_order`` and ``selection`` say in words how it orders the training
    data and how the reported model is chosen; the fidelity review (``axisflow
    review``) shows them. ``order_free=True`` says the fit does not depend on
    example order (full batch, closed form). ``selection_budget(settings,
    training) -> (count, how)`` says how many configurations the reported model
    is selected from, e.g. ``(1, "no selection")`` or ``(40, "best of 40
    validation checkpoints")``; without it the review flags the method's budget
    as undeclared. ``uses_validation`` (required) says whether the trainer uses
    the validation split, ``True``/``False`` or ``fn(settings) -> bool``; one that
    does not is fitted on the whole training part when the dataset's validation
    rows were carved from it (cross-validation), unless the experiment sets
    ``unused_validation: hold_out``.
    """
    if not (isinstance(uses_validation, bool) or callable(uses_validation)):
        raise TypeError(f"trainer(uses_validation=...) must be True, False or fn(settings) -> bool, got {uses_validation!r}")
    return _attach(
        Declaration(
            "trainer", params, tasks=tuple(tasks), reads_training=tuple(reads_training),
            data_order=data_order, selection=selection, imports=tuple(imports),
            order_free=order_free, selection_budget=selection_budget, uses_validation=uses_validation,
        )
    )


def model(*, params: type[Params]) -> Callable[[Any], Any]:
    """Declare a ``build_model`` implementation ``fn(params, *, in_features, out_features, seed) -> nn.Module``."""
    return _attach(Declaration("model", params))


def metric(
    *, params: type[Params], tasks: tuple[str, ...], direction: Literal["higher", "lower"], range: tuple[float | None, float | None], definition: str
) -> Callable[[Any], Any]:
    """Declare a ``metric`` implementation ``fn(params, predictions, targets) -> float``."""
    if direction not in ("higher", "lower"):
        raise ValueError(f"metric direction must be 'higher' or 'lower', got {direction!r}")
    return _attach(Declaration("metric", params, tasks=tuple(tasks), metric=MetricInfo(direction, tuple(range), definition)))


def callback(*, params: type[Params], selects: bool = False) -> Callable[[Any], Any]:
    """Declare a training callback class, built as ``cls(params, metric_higher_is_better)``.

    ``selects=True`` says it chooses the reported model among the validation
    checkpoints (as early stopping does): the review counts those checkpoints
    in the method's selection budget.
    """
    return _attach(Declaration("callback", params, selects=selects))


def training(cls: type[Params]) -> type[Params]:
    """Declare a :class:`Params` class as a training-group schema (``training._target_``)."""
    setattr(cls, _ATTRIBUTE, Declaration("training", cls))
    return cls


def locate(path: Any, where: str) -> Any:
    """Import the object at dotted ``path`` (``package.module.attr``); ``where`` names the config key in errors.

    Hydra's ``get_object`` does the same but imports Hydra (0.6 s here), which
    every branch task would pay; this needs only ``importlib``.
    """
    if not isinstance(path, str) or not path or any(not part.isidentifier() for part in path.split(".")):
        raise ImplementationError(f"{where} must be an import path like package.module.name, got {path!r}")
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
                continue  # this prefix is not a module; try a shorter one
            raise ImplementationError(f"{where} {path!r}: importing {module_name} failed: {exc}") from None
        except Exception as exc:
            raise ImplementationError(f"{where} {path!r}: importing {module_name} failed: {type(exc).__name__}: {exc}") from None
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            raise ImplementationError(f"{where} {path!r}: module {module_name} has no {'.'.join(parts[cut:])}") from None
        return obj
    raise ImplementationError(f"{where} {path!r}: no importable module in that path")


def declaration_of(obj: Any, role: str, where: str) -> Declaration:
    """Return ``obj``'s declaration, checking it plays ``role``."""
    declaration = getattr(obj, _ATTRIBUTE, None)
    if not isinstance(declaration, Declaration):
        raise ImplementationError(
            f"{where} names {getattr(obj, '__qualname__', obj)!r}, which is not a declared axisflow implementation; "
            f"decorate it with components.spec.declarations.{role}(...)"
        )
    if declaration.role != role:
        raise ImplementationError(f"{where} names a {declaration.role}, but a {role} is expected here")
    return declaration


def component(role: str) -> Any:
    """A :class:`Params` field type for a nested implementation node (``{_target_: ..., settings}``) playing ``role``.

    The node is resolved and validated against its own declaration when the
    enclosing settings are; the field keeps the plain mapping (the trainer
    builds the implementation from it through the seam).
    """

    def check(node: Any) -> Any:
        if not isinstance(node, dict):
            raise FieldError((), f"expected a mapping with {TARGET}, got {node!r}")
        try:
            obj = locate(node.get(TARGET), TARGET)
            declaration = declaration_of(obj, role, TARGET)
        except ImplementationError as exc:
            raise FieldError((), str(exc)) from None  # the message starts with "_target_ ...", which describe() joins
        try:
            declaration.params(**{k: v for k, v in node.items() if k != TARGET})
        except ValidationError as exc:
            loc, message = _first(exc)
            raise FieldError(loc, message) from None
        return node

    return Annotated[dict[str, Any], AfterValidator(check)]


def _first(exc: ValidationError) -> tuple[tuple[Any, ...], str]:
    """The first error of ``exc`` as (key path, message), following nested :class:`FieldError`s."""
    error = exc.errors(include_url=False)[0]
    loc = tuple(error["loc"])
    inner = (error.get("ctx") or {}).get("error")
    if isinstance(inner, FieldError):
        return loc + inner.loc, inner.message
    if isinstance(inner, ValueError):
        return loc, str(inner)
    message = error["msg"]
    if error["type"] == "missing":
        return loc, "is missing; every setting an implementation reads must be in the config"
    if error["type"] == "extra_forbidden":
        return loc, "is not a setting of this implementation"
    return loc, f"{message[0].lower()}{message[1:]} (got {error.get('input')!r})"


def describe(exc: ValidationError, prefix: str, known: tuple[str, ...] = ()) -> str:
    """One line for ``exc``'s first error: the full key (``prefix`` + path) and what is wrong with it."""
    loc, message = _first(exc)
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    if message.startswith("is not a setting"):
        message += f"; known: {', '.join(known)}" if known else "; it takes no settings"
    if message.startswith(TARGET):
        return f"{path}.{message}"
    return f"{path} {message}" if message.startswith("is ") else f"{path}: {message}"
