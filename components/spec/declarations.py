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

A config is untrusted input, so a ``_target_`` is resolved (:func:`locate`)
only inside the project's packages (:data:`PROJECT_TARGETS`) and the
third-party packages ``pyproject.toml`` declares under ``[tool.axisflow]
allowed-targets``; any other name is refused before its module is imported, and
nothing resolved is called before the caller has checked what it is (a
:class:`Declaration` here, an estimator class in
:mod:`components.library.sklearn_train`).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import tomllib
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Mapping

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from components.constants import REPO_ROOT
from components.suggest import closest, did_you_mean

__all__ = [
    "ALLOWED_TARGETS_KEY",
    "PROJECT_TARGETS",
    "ROLES",
    "TARGET",
    "Declaration",
    "ImplementationError",
    "MetricInfo",
    "Params",
    "FieldError",
    "TaskOnly",
    "allowed_targets",
    "check_keywords",
    "check_target_path",
    "callback",
    "component",
    "declaration_of",
    "describe",
    "error_key",
    "excerpt",
    "generator",
    "key_path",
    "locate",
    "metric",
    "missing_for_task",
    "model",
    "only_for",
    "trainer",
    "training",
    "unknown_key",
]

#: The config key that names an implementation by import path.
TARGET = "_target_"
#: What an implementation can be, by seam.
ROLES = ("generator", "trainer", "model", "metric", "callback", "training")

_ATTRIBUTE = "__axisflow__"


def excerpt(value: Any, limit: int = 80, quote: bool = True) -> str:
    """A short, printable rendering of an untrusted value (config value, file content) for a one-line error.

    Strings are shown quoted, with newlines and other non-printable characters
    escaped as ``repr`` escapes them; anything else as its ``repr``. At most
    ``limit`` characters are shown (escapes count), then ``...`` and the full
    length, so a 1 GB one-line file cannot make a 1 GB message. ``quote=False``
    drops the quotes and escapes only non-printable characters (for exception
    text and whole messages, which may already hold escapes).
    """
    text = value if isinstance(value, str) else repr(value)
    quoted = isinstance(value, str) and quote
    pieces, used = [], 0
    for char in text:
        piece = _escape(char, quoted)
        if used + len(piece) > limit:
            break
        pieces.append(piece)
        used += len(piece)
    shown = "".join(pieces)
    if quoted:
        shown = f"'{shown}'"
    return shown if len(pieces) == len(text) else f"{shown}... ({len(text)} characters)"


def _escape(char: str, quoted: bool) -> str:
    if quoted and char in "'\\":
        return "\\" + char
    return char if char.isprintable() else repr(char)[1:-1]


class ImplementationError(ValueError):
    """A ``_target_`` that cannot be imported, or names something that is not a declared implementation."""


class FieldError(ValueError):
    """A validation failure at ``loc`` (a key path relative to the field that raised it).

    For an unknown key, ``near`` is the known key it nearly spells and
    ``known`` the keys its mapping takes (see :func:`describe`).
    """

    def __init__(self, loc: tuple[Any, ...], message: str, *, near: str | None = None, known: tuple[str, ...] | None = None):
        super().__init__(message)
        self.loc, self.message = tuple(loc), message
        self.near, self.known = near, None if known is None else tuple(known)


@dataclass(frozen=True)
class TaskOnly:
    """Field metadata: the setting is read on these ``tasks`` only, so it may be left out on the others.

    Declared as ``threshold: Annotated[float | None, only_for("binary")] =
    Field(default=None, ...)``: the one default :class:`Params` allows, ``None``
    meaning "not read here". The config check (:func:`missing_for_task`)
    still requires it on the tasks that read it, so every value read is in
    the config.
    """

    tasks: tuple[str, ...]


def only_for(*tasks: str) -> TaskOnly:
    """Mark a :class:`Params` field as read on ``tasks`` only (see :class:`TaskOnly`)."""
    return TaskOnly(tuple(tasks))


def _task_only(info: Any) -> TaskOnly | None:
    return next((m for m in info.metadata if isinstance(m, TaskOnly)), None)


def missing_for_task(params: type[BaseModel], values: Mapping[str, Any], task: str) -> str | None:
    """The first task-only setting (:class:`TaskOnly`) that ``task`` reads but ``values`` leaves out, if any."""
    for name, info in params.model_fields.items():
        marker = _task_only(info)
        if marker is not None and task in marker.tasks and values.get(name) is None:
            return name
    return None


class Params(BaseModel):
    """Base of every settings declaration: strict types, no unknown keys, frozen, and no defaults.

    Give each field its type, its range or choices (``Field(ge=..)``, ``Literal``)
    and a ``description``; never a default: the value belongs in a YAML file,
    where it is recorded and hashed. The one exception is a setting only some
    tasks read (:func:`only_for`), which defaults to ``None`` on the others.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        defaulted = [
            name for name, info in cls.model_fields.items()
            if not info.is_required() and not (_task_only(info) is not None and info.default is None)
        ]
        if defaulted:
            raise TypeError(
                f"{cls.__module__}.{cls.__qualname__}: field(s) {', '.join(defaulted)} have a default in code; "
                "put the value in the config instead (no defaults in code)"
            )


class NoParams(Params):
    """For an implementation that reads no settings."""


@dataclass(frozen=True)
class MetricInfo:
    """What a metric means: ``direction`` ("higher" or "lower" is better), its ``range`` and a one-line definition.

    ``resolution``, when declared, is ``fn(predictions, targets) -> float``: the
    smallest step the metric can take on that test split (``1/n_test`` for
    accuracy). The statistics give a cell or comparison whose values are all
    equal an interval from it instead of a zero-width one.
    """

    direction: Literal["higher", "lower"]
    range: tuple[float | None, float | None]
    definition: str
    resolution: Callable[[Any, Any], float] | None = None

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
    ``per_example``: for a metric that is the mean of per-example values,
    ``fn(params, predictions, targets) -> array (n,)`` giving them (accuracy:
    1 for a correct example, 0 otherwise); nested cross-validation needs it.
    ``nested_split``: for a cross-validating generator, ``fn(params, data_axes,
    seed, held_out) -> Dataset``, the inner split of outer fold ``params.fold``
    whose test part is fold ``held_out`` and whose training part is the other
    folds (nested cross-validation's inner fits).
    ``data_check``: for a trainer, ``fn(settings, data)``, a cheap check of
    the method's settings against the first branch's data, run once at launch;
    it raises :class:`FieldError` at the offending setting (see
    :func:`components.engine.launch.check_on_data`).
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
    per_example: Callable[..., Any] | None = None
    nested_split: Callable[..., Any] | None = None
    data_check: Callable[[Mapping[str, Any], Any], None] | None = None

    def reads_validation(self, settings: Mapping[str, Any]) -> bool:
        """Whether this trainer, with the method's ``settings``, uses the validation split."""
        flag = self.uses_validation
        return bool(flag(settings) if callable(flag) else flag)


def _attach(declaration: Declaration) -> Callable[[Any], Any]:
    def decorate(obj: Any) -> Any:
        setattr(obj, _ATTRIBUTE, declaration)
        return obj

    return decorate


def generator(*, params: type[Params], task: str, split: str, nested_split: Callable[..., Any] | None = None) -> Callable[[Any], Any]:
    """Declare a ``make_data`` implementation ``fn(params, data_axes, seed) -> Dataset``.

    ``task`` is the task type of the datasets it makes; ``split`` says in words
    how train/validation/test are drawn (the fidelity review shows it).
    ``nested_split(params, data_axes, seed, held_out) -> Dataset`` (optional, a
    cross-validating generator) makes the inner splits nested cross-validation fits.
    """
    return _attach(Declaration("generator", params, tasks=(task,), split=split, nested_split=nested_split))


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
    data_check: Callable[[Mapping[str, Any], Any], None] | None = None,
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
    ``unused_validation: hold_out``. ``data_check(settings, data)`` checks the
    settings against the first branch's data at launch (settings that
    contradict the data's shape), raising :class:`FieldError`.
    """
    if not (isinstance(uses_validation, bool) or callable(uses_validation)):
        raise TypeError(f"trainer(uses_validation=...) must be True, False or fn(settings) -> bool, got {uses_validation!r}")
    return _attach(
        Declaration(
            "trainer", params, tasks=tuple(tasks), reads_training=tuple(reads_training),
            data_order=data_order, selection=selection, imports=tuple(imports),
            order_free=order_free, selection_budget=selection_budget, uses_validation=uses_validation, data_check=data_check,
        )
    )


def model(*, params: type[Params]) -> Callable[[Any], Any]:
    """Declare a ``build_model`` implementation ``fn(params, *, in_features, out_features, seed) -> nn.Module``."""
    return _attach(Declaration("model", params))


def metric(
    *,
    params: type[Params],
    tasks: tuple[str, ...],
    direction: Literal["higher", "lower"],
    range: tuple[float | None, float | None],
    definition: str,
    per_example: Callable[..., Any] | None = None,
    resolution: Callable[[Any, Any], float] | None = None,
) -> Callable[[Any], Any]:
    """Declare a ``metric`` implementation ``fn(params, predictions, targets) -> float``.

    ``per_example(params, predictions, targets) -> array (n,)`` (optional) says
    the metric is the mean of those per-example values (accuracy, MAE; not RMSE
    or AUROC); nested cross-validation (``cv_interval: nested``) needs it.
    ``resolution(predictions, targets) -> float`` (optional, for a metric that
    takes discrete steps: a count over test examples or pairs) gives the step
    on that test split; see :class:`MetricInfo`.
    """
    if direction not in ("higher", "lower"):
        raise ValueError(f"metric direction must be 'higher' or 'lower', got {direction!r}")
    if resolution is not None and not callable(resolution):
        raise TypeError(f"metric(resolution=...) must be fn(predictions, targets) -> float, got {resolution!r}")
    low, high = range
    info = MetricInfo(direction, (low, high), definition, resolution)
    return _attach(Declaration("metric", params, tasks=tuple(tasks), metric=info, per_example=per_example))


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


#: The project's own packages, whose implementations a config may always name.
PROJECT_TARGETS = ("components.library", "components.investigations")
#: Where the further packages a config may name are declared.
ALLOWED_TARGETS_KEY = "[tool.axisflow] allowed-targets"


@functools.lru_cache(maxsize=4)
def _declared_targets(pyproject: Path, version: tuple[int, int] | None) -> tuple[str, ...]:
    """The module prefixes ``pyproject.toml`` lists under ``[tool.axisflow] allowed-targets`` (none without the file).

    ``version`` (modification time and size, ``None`` for no file) keys the cache, so an edit is read again.
    """
    if version is None:
        return ()
    table = tomllib.loads(pyproject.read_text()).get("tool", {}).get("axisflow", {})
    declared = table.get("allowed-targets", [])
    if not isinstance(declared, list) or not all(isinstance(d, str) and _is_dotted(d) for d in declared):
        raise ImplementationError(f"{pyproject} {ALLOWED_TARGETS_KEY} must be a list of module names like \"sklearn\", got {excerpt(declared)}")
    return tuple(declared)


def allowed_targets() -> tuple[str, ...]:
    """Module prefixes a ``_target_`` may name: :data:`PROJECT_TARGETS` plus those ``pyproject.toml`` declares.

    Everything else is refused before it is imported, so no module's top-level
    code runs because a config named it. Third-party packages are opted in one
    by one (``allowed-targets = ["sklearn", "torch"]``); their private
    (underscore) names are refused as well, since those re-export modules such
    as ``os`` or ``subprocess``.
    """
    pyproject = REPO_ROOT / "pyproject.toml"
    stat = pyproject.stat() if pyproject.is_file() else None
    return PROJECT_TARGETS + _declared_targets(pyproject, None if stat is None else (stat.st_mtime_ns, stat.st_size))


def _is_dotted(path: str) -> bool:
    return bool(path) and all(part.isidentifier() for part in path.split("."))


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def check_target_path(path: Any, where: str) -> None:
    """Refuse, before importing anything, a path outside the allowed packages or through a private or dunder name."""
    if not isinstance(path, str) or not _is_dotted(path):
        raise ImplementationError(f"{where} must be an import path like package.module.name, got {excerpt(path)}")
    parts = path.split(".")
    if any(part.startswith("__") for part in parts):
        raise ImplementationError(f"{where} {excerpt(path)}: names a dunder attribute; a _target_ names a declared function or class")
    allowed = allowed_targets()
    if not any(_within(path, prefix) for prefix in allowed):
        pyproject = REPO_ROOT / "pyproject.toml"
        where_declared = f"pyproject.toml {ALLOWED_TARGETS_KEY}" if pyproject.is_file() else f"{ALLOWED_TARGETS_KEY} of a pyproject.toml at {pyproject}, which is missing"
        raise ImplementationError(
            f"{where} {excerpt(path)} is outside the packages a config may name ({', '.join(allowed)}); "
            f"a third-party package is declared in {where_declared}"
        )
    third_party = not any(_within(path, prefix) for prefix in PROJECT_TARGETS)
    if third_party and any(part.startswith("_") for part in parts):
        raise ImplementationError(f"{where} {excerpt(path)}: names a private (underscore) part of a third-party package; use its public name")


def _allowed_module(obj: Any) -> bool:
    return any(_within(obj.__name__, prefix) for prefix in allowed_targets())


def locate(path: Any, where: str) -> Any:
    """Import the object at dotted ``path`` (``package.module.attr``); ``where`` names the config key in errors.

    Only paths inside :func:`allowed_targets` are imported: anything else is
    refused on its name alone. Walking the attributes never passes through a
    module outside those packages (``components.library.tables.os.system`` is
    refused), and the result is never a module. Nothing found here is called:
    the caller checks what it is (a :class:`Declaration`, an estimator class)
    first. Hydra's ``get_object`` resolves paths too but imports Hydra (0.6 s
    here), which every branch task would pay; this needs only ``importlib``.
    """
    check_target_path(path, where)
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
                continue  # this prefix is not a module; try a shorter one
            raise ImplementationError(f"{where} {excerpt(path)}: importing {module_name} failed: {excerpt(str(exc), 200, quote=False)}") from None
        except Exception as exc:
            raise ImplementationError(
                f"{where} {excerpt(path)}: importing {module_name} failed: {type(exc).__name__}: {excerpt(str(exc), 200, quote=False)}"
            ) from None
        return _walk(obj, parts[cut:], path, module_name, where)
    raise ImplementationError(f"{where} {excerpt(path)}: no importable module in that path")


def _walk(obj: Any, attrs: list[str], path: str, module_name: str, where: str) -> Any:
    """Follow ``attrs`` from module ``obj``, refusing any module outside the allowed packages on the way or at the end."""
    reached = module_name
    for attr in attrs:
        try:
            found = getattr(obj, attr)
        except AttributeError:
            near = did_you_mean(attr, _public_names(obj), prefix=f"{reached}.")
            raise ImplementationError(f"{where} {excerpt(path)}: module {module_name} has no {'.'.join(attrs)}{near}") from None
        obj, reached = found, f"{reached}.{attr}"
        if isinstance(obj, types.ModuleType) and not _allowed_module(obj):
            raise ImplementationError(f"{where} {excerpt(path)}: reaches module {obj.__name__}, which is outside the packages a config may name")
    if isinstance(obj, types.ModuleType):
        raise ImplementationError(f"{where} {excerpt(path)} is a module; name a declared function or class in it")
    return obj


def _public_names(obj: Any) -> list[str]:
    """What a module or class offers by name: its ``__all__`` when it has one (not what it imported), else its public attributes."""
    exported = getattr(obj, "__all__", None)
    if isinstance(exported, (list, tuple)):
        return [str(name) for name in exported]
    return [name for name in dir(obj) if not name.startswith("_")]


def declaration_of(obj: Any, role: str, where: str) -> Declaration:
    """Return ``obj``'s declaration, checking it plays ``role``."""
    declaration = getattr(obj, _ATTRIBUTE, None)
    if not isinstance(declaration, Declaration):
        raise ImplementationError(
            f"{where} names {excerpt(getattr(obj, '__qualname__', obj))}, which is not a declared axisflow implementation; "
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
            raise FieldError((), f"expected a mapping with {TARGET}, got {excerpt(node)}")
        try:
            obj = locate(node.get(TARGET), TARGET)
            declaration = declaration_of(obj, role, TARGET)
        except ImplementationError as exc:
            raise FieldError((), str(exc)) from None  # the message starts with "_target_ ...", which describe() joins
        try:
            declaration.params(**{k: v for k, v in node.items() if k != TARGET})
        except ValidationError as exc:
            problem = _first(exc, tuple(declaration.params.model_fields))
            raise FieldError(problem.loc, problem.message, near=problem.near, known=problem.known) from None
        return node

    return Annotated[dict[str, Any], AfterValidator(check)]


@dataclass(frozen=True)
class _Problem:
    """One validation failure: where (``loc``), what, and for an unknown key its near miss and the keys known there."""

    loc: tuple[Any, ...]
    message: str
    near: str | None = None
    known: tuple[str, ...] | None = None


def _first(exc: ValidationError, known: tuple[str, ...] | None = None) -> _Problem:
    """The error of ``exc`` to report, following nested :class:`FieldError`s.

    A misspelt key shows up twice: as an unknown key and as the missing key it
    was meant to be. The unknown one is reported (it is what the user typed),
    with the missing key it nearly spells; otherwise the first error is.
    ``known``: the keys the top-level mapping takes.
    """
    errors = exc.errors(include_url=False)
    error = _misspelt(errors) or errors[0]
    loc = tuple(error["loc"])
    inner = (error.get("ctx") or {}).get("error")
    if isinstance(inner, FieldError):
        return _Problem(loc + inner.loc, inner.message, inner.near, inner.known)
    if isinstance(inner, ValueError):
        return _Problem(loc, str(inner))
    message = error["msg"]
    if error["type"] == "missing":
        return _Problem(loc, "is missing; every setting an implementation reads must be in the config")
    if error["type"] == "extra_forbidden":
        siblings = known if len(loc) == 1 else None
        missing = [str(e["loc"][-1]) for e in errors if e["type"] == "missing" and tuple(e["loc"][:-1]) == loc[:-1]]
        near = closest(str(loc[-1]), missing) or (closest(str(loc[-1]), siblings) if siblings else None)
        return _Problem(loc, "is not a setting of this implementation", near, siblings)
    return _Problem(loc, f"{message[0].lower()}{message[1:]} (got {excerpt(error.get('input'))})")


def _misspelt(errors: list[Any]) -> Any:
    """The first unknown-key error whose key nearly spells a missing key of the same mapping, if any."""
    for error in errors:
        if error["type"] != "extra_forbidden":
            continue
        parent = tuple(error["loc"][:-1])
        missing = [str(e["loc"][-1]) for e in errors if e["type"] == "missing" and tuple(e["loc"][:-1]) == parent]
        if closest(str(error["loc"][-1]), missing):
            return error
    return None


def check_keywords(fn: Callable[..., Any], kwargs: Mapping[str, Any], what: str) -> None:
    """Refuse, at launch, a keyword ``fn`` does not take: :class:`FieldError` at that key, with its near miss.

    For anything a config hands keyword arguments by ``_target_`` (a
    scikit-learn estimator, a torch module factory, a dataset loader), so
    ``n_componets`` is named as the typo of ``n_components`` before any task
    starts, instead of failing inside a branch. A function taking
    ``**kwargs``, or one without an introspectable signature, is left to fail
    when called.
    """
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    names = tuple(p.name for p in parameters if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY))
    for key in kwargs:
        if key not in names:
            raise FieldError((key,), f"is not a parameter of {what}", near=closest(str(key), names), known=names)


def key_path(prefix: str, loc: tuple[Any, ...]) -> str:
    """The full key of a field at ``loc`` under ``prefix``: ``method.mlp`` + ``("callbacks", 0, "patience")`` -> ``method.mlp.callbacks[0].patience``."""
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def unknown_key(path: str, what: str, near: str | None, known: tuple[str, ...] | None) -> str:
    """The one line for an unknown key at ``path``: ``what`` it is not, the near miss as a full key, and the keys known there."""
    parent = path.rsplit(".", 1)[0] if "." in path else ""
    message = f"{path} {what}"
    if near:
        message += f"; did you mean {parent + '.' if parent else ''}{near}?"
    if known is not None and not (near and len(known) > _LISTED):
        message += f"; known: {', '.join(known)}" if known else "; it takes no settings"
    return message


#: Past this many known keys, a message that already names the near miss does not list them all (a
#: scikit-learn estimator takes 20 and more; the line must stay one readable line).
_LISTED = 12


def error_key(exc: ValidationError, prefix: str) -> str:
    """The full key of the error :func:`describe` reports for ``exc`` (``prefix`` + its path)."""
    return key_path(prefix, _first(exc).loc)


def describe(exc: ValidationError, prefix: str, known: tuple[str, ...] | None = None) -> str:
    """One line for ``exc``'s error to report: the full key (``prefix`` + path) and what is wrong with it.

    ``known``: the keys the validated mapping takes, listed (with the nearest
    one first, as "did you mean") when the error is an unknown key.
    """
    problem = _first(exc, known)
    path = key_path(prefix, problem.loc)
    if problem.message.startswith("is not a") and (problem.near or problem.known is not None):
        return unknown_key(path, problem.message, problem.near, problem.known)
    if problem.message.startswith(TARGET):
        return f"{path}.{problem.message}"
    return f"{path} {problem.message}" if problem.message.startswith("is ") else f"{path}: {problem.message}"
