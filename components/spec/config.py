"""Compose the Hydra config tree and validate it into an experiment spec.

``compose`` is a pure function of its overrides: it clears Hydra's global state
first, so Metaflow can call it at launch, again on ``resume`` and at deploy time.
``validate`` turns the composed mapping into a frozen :class:`ExperimentSpec` or
raises :class:`ConfigError` with a one-line message that names the offending key.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, cast

from components.constants import REPO_ROOT, CONTRACTS, CV_INTERVALS, FOLD_AXIS, KINDS, LAUNCH_KEY
from components.suggest import did_you_mean
from components.spec.declarations import (
    TARGET, Declaration, ImplementationError, declaration_of, describe, error_key, excerpt, locate, missing_for_task,
)

__all__ = [
    "CONFIG_DIR",
    "CONTRACTS",
    "CV_INTERVALS",
    "EXPERIMENT_KEYS",
    "EXPERIMENT_NAME",
    "FOLD_AXIS",
    "KINDS",
    "MESSAGE_LIMIT",
    "TOP_KEYS",
    "ConfigError",
    "ExperimentSpec",
    "MethodSpec",
    "compose",
    "config_hash",
    "load_spec",
    "validate",
]

CONFIG_DIR = REPO_ROOT / "configs"


#: The longest a :class:`ConfigError` message gets; values in it are cut much shorter (:func:`excerpt`).
MESSAGE_LIMIT = 500


class ConfigError(ValueError):
    """A configuration mistake, reported as one line naming the offending key.

    The message is made printable and cut at :data:`MESSAGE_LIMIT` characters
    whatever it quotes (a config value, a table's header, Hydra's explanation),
    so an error can never echo a file: every site quotes values through
    :func:`~components.spec.declarations.excerpt`, and this is the backstop.
    """

    def __init__(self, message: object, key: str | None = None):
        super().__init__(excerpt(str(message), MESSAGE_LIMIT, quote=False))
        #: The full key the message names, when one does (``experiment.metric.threshold``).
        self.key = key


@dataclass(frozen=True)
class MethodSpec:
    """One method of the experiment: its trainer's import path (``target``), ``kind`` and own settings.

    ``reads_training`` and ``data_order``/``selection`` come from the trainer's
    declaration.
    """

    name: str
    target: str
    kind: str
    spec: dict[str, Any]
    reads_training: tuple[str, ...] = ()
    data_order: str = ""
    selection: str = ""
    imports: tuple[str, ...] = ()

    @property
    def axis_dependent(self) -> bool:
        """True when the method retrains for every training-axis value."""
        return self.kind == "axis_dependent"


@dataclass(frozen=True)
class ExperimentSpec:
    """The validated experiment: everything the planner and the branches need.

    ``task`` is the generator's task type; ``metric_info`` the metric's declared
    direction, range and definition; ``split`` the generator's declared split
    convention; ``source`` the investigation's declared source of truth (a path
    relative to the repository root, or ``""``), which the fidelity review reads.
    """

    name: str
    contract: str
    seeds: int
    seed_base: int
    baseline: str
    metric: dict[str, Any]
    data_axes: dict[str, list[Any]]
    training_axes: dict[str, list[Any]]
    data: dict[str, Any]
    training: dict[str, Any]
    methods: tuple[MethodSpec, ...]
    statistics: dict[str, Any]
    task: str = ""
    metric_info: Any = None
    split: str = ""
    source: str = ""
    unused_validation: str = "fit"
    resources: dict[str, int] | None = None
    #: ``experiment.branches_per_task``: ``auto`` or at most this many branches per foreach task (:func:`components.engine.planner.task_count`).
    branches_per_task: int | str = "auto"
    #: ``experiment.secondary_metrics``: ``{name: node}`` in config order (each node ``_target_`` and its params).
    secondary_metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Each secondary metric's declared direction, range and definition, by name.
    secondary_info: dict[str, Any] = field(default_factory=dict)

    def method(self, name: str) -> MethodSpec:
        """Return the method called ``name``."""
        for method in self.methods:
            if method.name == name:
                return method
        raise KeyError(name)

    @property
    def higher_is_better(self) -> bool:
        """The metric's declared direction."""
        return bool(self.metric_info.higher_is_better)  # metric_info is a MetricInfo once built


def compose(overrides: list[str] | tuple[str, ...] = (), config_dir: Path | str = CONFIG_DIR) -> dict[str, Any]:
    """Compose ``config.yaml`` under ``config_dir`` with Hydra ``overrides``; return a plain dict.

    Raises :class:`ConfigError` for an unknown group option, an unknown key or a
    malformed override, with Hydra's own explanation on one line, and for an
    ``${oc.env:...}`` interpolation anywhere (see :func:`_refuse_environment`).
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException
    from yaml import YAMLError

    config_dir = Path(config_dir).resolve()
    if not (config_dir / "config.yaml").is_file():
        raise ConfigError(f"config root {config_dir}/config.yaml does not exist")
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base=None):
            cfg = hydra_compose(config_name="config", overrides=list(overrides))
        _refuse_environment(OmegaConf.to_container(cfg, resolve=False))
        config = OmegaConf.to_container(cfg, resolve=True)
    except (HydraException, OmegaConfBaseException, YAMLError) as exc:
        raise ConfigError(_hydra_message(exc, config_dir)) from None
    finally:
        GlobalHydra.instance().clear()
    if not isinstance(config, dict):  # a config.yaml whose root is a list or a scalar
        raise ConfigError(f"config root {config_dir}/config.yaml composes to a {type(config).__name__}, not a mapping")
    composed = cast(dict[str, Any], config)  # YAML mapping keys read by Hydra are strings
    _check_swept_overrides(composed, overrides)
    return composed


#: An interpolation that reads an environment variable (``${oc.env:VAR}``, and Hydra's older ``${env:VAR}``).
_ENV_INTERPOLATION = re.compile(r"\$\{\s*(?:oc\.env|env)\s*:")


def _refuse_environment(node: Any, where: str = "") -> None:
    """Refuse ``${oc.env:...}`` anywhere in the config, before anything is resolved.

    Every value an implementation reads is stored in the run's resolved config
    and its hash. A value read from the environment would either be stored
    there (a token or password in every run's ``results``) or, if redacted, be
    an input no record shows and no reuse key covers. So a config never reads
    the environment; a per-machine value is passed as an override, which the
    run records.
    """
    if isinstance(node, Mapping):
        for key, value in node.items():
            _refuse_environment(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _refuse_environment(value, f"{where}[{i}]")
    elif isinstance(node, str) and _ENV_INTERPOLATION.search(node):
        raise ConfigError(
            f"{where} reads an environment variable ({excerpt(node, 60)}); a config never does, since the value would be "
            f"stored in every run's results (or, redacted, be an unrecorded input): pass it as an override, {where}=VALUE"
        )


def _check_swept_overrides(config: Mapping[str, Any], overrides: list[str] | tuple[str, ...]) -> None:
    """Refuse an override of a key an axis sweeps: the axis would silently replace it in every cell."""
    found = config.get("experiment")
    experiment: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    found = experiment.get("axes")
    axes: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    for override in overrides:
        key = str(override).lstrip("~+").split("=", 1)[0]
        group, _, name = key.partition(".")
        swept = axes.get(group) if group in ("data", "training") else None
        if isinstance(swept, Mapping) and name in swept:
            raise ConfigError(
                f"{key} is overridden, but experiment.axes.{group}.{name} sweeps it, so the override would be ignored; "
                f"change the axis values (experiment.axes.{group}.{name}=[...]) instead"
            )



def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 of the resolved config's canonical JSON (first 16 hex digits)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_spec(overrides: list[str] | tuple[str, ...] = ()) -> tuple[dict[str, Any], ExperimentSpec]:
    """Compose and validate in one call: return ``(resolved config, spec)``.

    An error about a key the user never typed, left in a mapping they
    overrode whole (``experiment.metric={...}``), says where it came from: see
    :func:`_merged_from_config`.
    """
    config = compose(overrides)
    try:
        return config, validate(config)
    except ConfigError as exc:
        explained = _merged_from_config(exc, config, overrides)
        if explained is None:
            raise
        raise explained from None


def _merged_from_config(exc: ConfigError, config: Mapping[str, Any], overrides: list[str] | tuple[str, ...]) -> ConfigError | None:
    """Explain an error naming a key that came from the composed config into a mapping the user overrode.

    Hydra *merges* ``experiment.metric={name: auroc, _target_: ...}`` into the
    existing ``experiment.metric``, so a key the user left out (the old
    metric's ``threshold``) stays; blaming that key without saying so sends them
    looking for something they never typed. ``None`` when the error's key was
    not inherited that way.
    """
    if not exc.key or not _typed(config, _parts(exc.key)):  # a missing key was not inherited
        return None
    for key, value in _mapping_overrides(overrides):
        if not exc.key.startswith(key + ".") or _typed(value, _parts(exc.key[len(key) + 1 :])):
            continue
        source = next((str(o) for o in overrides if str(o).startswith("experiment=")), "the default experiment")
        what = str(exc)[len(exc.key) :].split(";", 1)[0].strip()
        return ConfigError(
            f"{exc.key} {what}, and you did not type it: it comes from the experiment's config ({source}), because Hydra "
            f"merged your {key}={{...}} into the existing {key} instead of replacing it; drop the key with ~{exc.key}, "
            f"or replace the whole mapping: ~{key} '+{key}={{...}}'",
            key=exc.key,
        )
    return None


def _parts(key: str) -> list[str]:
    """``a.b[0].c`` as ``["a", "b", "0", "c"]``."""
    return key.replace("[", ".").replace("]", "").split(".")


def _mapping_overrides(overrides: list[str] | tuple[str, ...]) -> list[tuple[str, dict[str, Any]]]:
    """``(key, value)`` for each override that sets a key to a mapping (which Hydra merges into the existing one)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    found = []
    parser = OverridesParser.create()
    for override in overrides:
        try:
            parsed = parser.parse_overrides([str(override)])[0]
            value = None if parsed.is_delete() else parsed.value()
        except Exception:  # noqa: BLE001 -- an override compose already accepted; unparsable here means not a mapping
            continue
        if isinstance(value, dict) and not parsed.is_add():
            found.append((parsed.key_or_group, value))
    return found


def _typed(value: Any, path: list[str]) -> bool:
    """Whether the nested ``value`` the user typed holds the key ``path`` (list indices as digits)."""
    for part in path:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False
    return True


def validate(config: Mapping[str, Any], *, settings: bool = True) -> ExperimentSpec:
    """Check the composed config against the user contract and every implementation's declaration; build the spec.

    Raises :class:`ConfigError` with one line naming the offending key: wrong
    types, out-of-range values, unknown keys or choices (checked against the
    ``Params`` each implementation declares), axis values (typed and ranged
    against the key they sweep), task types that do not fit together, and an
    ``axis_agnostic`` method whose trainer reads a swept training key.

    ``settings=False`` skips the ``Params`` checks of the implementations' own
    settings and axis values (the spec built is the same): for steps that
    train nothing on a config already checked at launch, since those checks
    run the implementations' validators, which import their libraries
    (scikit-learn builds every estimator, a loader loads its arrays).
    """
    from components import stats

    exp = _mapping(config, "experiment")
    data = _mapping(config, "data")
    training = _mapping(config, "training")
    method_cfgs = _mapping(config, "method")

    _known_keys(config, TOP_KEYS, "", "a config group")
    _known_keys(exp, EXPERIMENT_KEYS, "experiment.", "an experiment setting")
    name = _name(_require(exp, "experiment.name", str))
    contract = exp.get("contract")
    if contract not in CONTRACTS:
        shown = "missing" if contract is None else repr(contract)
        raise ConfigError(f"experiment.contract is {shown}; declare one of {', '.join(CONTRACTS)}")
    seeds = _require(exp, "experiment.seeds", int)
    if seeds < 1:
        raise ConfigError(f"experiment.seeds must be a positive integer, got {seeds}")
    seed_base = _require(exp, "experiment.seed_base", int)
    if not isinstance(exp.get("question", ""), str):
        raise ConfigError(f"experiment.question must be a string, got {excerpt(exp.get('question'))}")

    generator, data_decl = _implementation(data, "generator", "data")
    train_schema, training_decl = _implementation(training, "training", "training")
    if settings:
        _params(data_decl, data, "data", task=data_decl.tasks[0])
        _params(training_decl, training, "training", task=data_decl.tasks[0])
    resources = _resources(exp.get("resources"), training)

    axes = _mapping(exp, "experiment.axes", key="axes")
    unknown = sorted(set(axes) - {"data", "training"})
    if unknown:
        near = did_you_mean(str(unknown[0]), ("data", "training"), prefix="experiment.axes.")
        raise ConfigError(f"experiment.axes.{unknown[0]}: axes are declared under experiment.axes.data or experiment.axes.training{near}")
    data_axes = _axes(axes, "data")
    training_axes = _axes(axes, "training")
    for axis in data_axes:
        if axis in training_axes:
            raise ConfigError(f"axis {excerpt(axis)} is declared both under experiment.axes.data and experiment.axes.training")
        if axis == TARGET or axis not in data:
            keys = sorted(k for k in data if k != TARGET)
            near = did_you_mean(axis, keys, prefix="experiment.axes.data.")
            raise ConfigError(f"experiment.axes.data.{axis}: not a setting of data ({data[TARGET]}){near}; data keys: {', '.join(keys)}")
        if settings:
            _axis_values(data_decl, data, "data", axis, data_axes[axis])
    for axis in training_axes:
        if axis == TARGET or axis not in training:
            keys = sorted(k for k in training if k != TARGET)
            near = did_you_mean(axis, keys, prefix="experiment.axes.training.")
            raise ConfigError(f"experiment.axes.training.{axis}: not a key of the training group{near}; training keys: {', '.join(keys)}")
        if settings:
            _axis_values(training_decl, training, "training", axis, training_axes[axis])

    _fold_axis(data, data_axes)

    task = data_decl.tasks[0]
    metric = dict(_mapping(exp, "experiment.metric", key="metric"))
    metric_name = metric.get("name")
    if not isinstance(metric_name, str) or not metric_name.isidentifier():
        raise ConfigError(f"experiment.metric.name must be a short identifier (the label tables show), got {excerpt(metric_name)}")
    _, metric_decl = _implementation(metric, "metric", "experiment.metric")
    if settings:
        _params(metric_decl, {k: v for k, v in metric.items() if k != "name"}, "experiment.metric", task=task)
    if task not in metric_decl.tasks:
        raise ConfigError(f"experiment.metric {metric[TARGET]} scores {'/'.join(metric_decl.tasks)} tasks, but data ({data[TARGET]}) is a {task} task")
    secondary, secondary_info = _secondary_metrics(exp.get("secondary_metrics"), task, metric_name, data[TARGET], settings)

    if not method_cfgs:
        raise ConfigError("method: no methods selected; pick some with method=[logreg,mlp]")
    methods = tuple(_method(mname, method_cfgs[mname], training, training_axes, task, settings) for mname in sorted(method_cfgs))

    baseline = _require(exp, "experiment.baseline", str)
    if baseline not in method_cfgs:
        raise ConfigError(f"experiment.baseline {excerpt(baseline)} is not among the selected methods: {', '.join(sorted(method_cfgs))}")

    statistics = _statistics(exp.get("statistics"), folds=FOLD_AXIS in data_axes)
    if statistics.get("cv_interval") == "nested":
        _nested(metric, metric_decl, data, data_decl)
    source = _source(exp.get("source"))
    try:
        stats.check_contrasts(statistics.get("contrasts"), axes={**data_axes, **training_axes}, methods=sorted(method_cfgs))
    except ValueError as exc:
        raise ConfigError(f"experiment.statistics.contrasts{exc}") from None
    return ExperimentSpec(
        name=name,
        contract=contract,
        seeds=seeds,
        seed_base=seed_base,
        baseline=baseline,
        metric=metric,
        data_axes=data_axes,
        training_axes=training_axes,
        data=dict(data),
        training=dict(training),
        methods=methods,
        statistics=statistics,
        task=task,
        metric_info=metric_decl.metric,
        split=data_decl.split,
        source=source,
        unused_validation=_unused_validation(exp),
        resources=resources,
        branches_per_task=_branches_per_task(exp),
        secondary_metrics=secondary,
        secondary_info=secondary_info,
    )


def _secondary_metrics(
    value: Any, task: str, primary: str, generator: str, settings: bool = True,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """``experiment.secondary_metrics`` (optional): ``{name: {_target_, params...}}``, each checked like the primary metric.

    The mapping key is the metric's name (the label tables show), so a node
    has no ``name`` of its own; it may not repeat the primary metric's name.
    Returns the nodes and their declared :class:`~components.spec.declarations.MetricInfo`, in config order.
    ``settings=False`` (a launched run's steps) skips the settings check, as for the primary metric.
    """
    if value is None:
        return {}, {}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"experiment.secondary_metrics must map names to metric nodes, e.g. {{macro_f1: {{_target_: {_EXAMPLES['metric']}, ...}}}}; "
            f"got {excerpt(value)}"
        )
    nodes, infos = {}, {}
    for name, node in value.items():
        where = f"experiment.secondary_metrics.{name}"
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"{where}: a secondary metric's name must be a short identifier (the label tables show), got {excerpt(name)}")
        if name == primary:
            raise ConfigError(f"{where}: {name} is the primary metric's name (experiment.metric.name); give the secondary metric another name")
        if not isinstance(node, Mapping):
            raise ConfigError(f"{where} must be a mapping with _target_ and the metric's settings, got {excerpt(node)}")
        if "name" in node:
            raise ConfigError(f"{where}.name: a secondary metric is named by its key ({name}); remove name")
        _, declaration = _implementation(node, "metric", where)
        if task not in declaration.tasks:
            raise ConfigError(f"{where} {node[TARGET]} scores {'/'.join(declaration.tasks)} tasks, but data ({generator}) is a {task} task")
        if settings:  # a setting only some tasks read (a binary threshold) is required there
            _params(declaration, node, where, task=task)
        nodes[name], infos[name] = dict(node), declaration.metric
    return nodes, infos


#: What an experiment's name may be: it becomes file names (``reviews/<name>.yaml``) and run tags.
EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9_]{1,100}")


def _name(name: str) -> str:
    """``experiment.name``: 1-100 identifier characters (letters, digits, ``_``): no separator, dot or dash, so it is a safe file name."""
    if not EXPERIMENT_NAME.fullmatch(name):
        raise ConfigError(
            f"experiment.name {excerpt(name)} must be 1-100 letters, digits or '_' "
            "(it becomes file names such as reviews/<name>.yaml and run tags, so no separators, dots or dashes)"
        )
    return name


def _unused_validation(exp: Mapping[str, Any]) -> str:
    """``experiment.unused_validation`` (optional, ``fit`` when absent): see :func:`components.spec.seams.fit_data`."""
    from components.spec.seams import UNUSED_VALIDATION

    value = exp.get("unused_validation", "fit")
    if value not in UNUSED_VALIDATION:
        raise ConfigError(
            f"experiment.unused_validation is {excerpt(value)}; valid: {', '.join(UNUSED_VALIDATION)} (fit: a method that uses no "
            "validation split also fits on validation rows carved from its training part; hold_out: it never sees them)"
        )
    return str(value)


def _branches_per_task(exp: Mapping[str, Any]) -> int | str:
    """``experiment.branches_per_task`` (optional, ``auto`` when absent): ``auto`` or a positive integer."""
    value = exp.get("branches_per_task", "auto")
    if value == "auto":
        return "auto"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ConfigError(
        f"experiment.branches_per_task is {excerpt(value)}; use auto (one task per local worker, one per branch on a scheduler) "
        "or a positive integer (at most that many branches per task)"
    )


def _known_keys(node: Mapping[str, Any], known: tuple[str, ...], prefix: str, what: str) -> None:
    """Refuse a key of ``node`` outside ``known``, naming its near miss (``experiment.seedz``: did you mean experiment.seeds?)."""
    unknown = sorted(str(key) for key in set(node) - set(known))
    if unknown:
        near = did_you_mean(unknown[0], known, prefix=prefix)
        raise ConfigError(f"{prefix}{unknown[0]} is not {what}{near}; known: {', '.join(known)}")


#: The top-level keys of a composed config: the four groups, and the launch record the shell adds.
TOP_KEYS = ("data", "training", "method", "experiment", LAUNCH_KEY)
#: Keys an experiment may set.
EXPERIMENT_KEYS = ("name", "question", "contract", "seeds", "seed_base", "baseline", "metric", "secondary_metrics", "axes", "statistics", "source", "unused_validation", "resources", "branches_per_task")
#: The repository root, against which ``experiment.source`` is resolved.


def _source(value: Any) -> str:
    """``experiment.source`` (optional): a file in the repository the experiment claims to follow."""
    if value is None:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"experiment.source must be a path relative to the repository root, got {excerpt(value)}")
    if not (REPO_ROOT / value).is_file() or not (REPO_ROOT / value).resolve().is_relative_to(REPO_ROOT.resolve()):
        raise ConfigError(f"experiment.source {excerpt(value, 200)} is not a file under the repository root {REPO_ROOT}")
    return value


def _resources(value: Any, training: Mapping[str, Any]) -> dict[str, int]:
    """``experiment.resources`` (optional) and ``training.device``, checked here at launch (see :mod:`components.spec.resources`)."""
    from components.spec.resources import check_device, check_resources

    try:
        resources = check_resources(value)
        check_device(training.get("device"), resources)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return resources


def _implementation(node: Mapping[str, Any], role: str, where: str) -> tuple[Any, Declaration]:
    if TARGET not in node:
        raise ConfigError(f"{where}.{TARGET} is missing; name the {role} by import path, e.g. {_EXAMPLES[role]}")
    try:
        obj = locate(node[TARGET], f"{where}.{TARGET}")
        return obj, declaration_of(obj, role, f"{where}.{TARGET}")
    except ImplementationError as exc:
        raise ConfigError(str(exc)) from None


_EXAMPLES = {
    "generator": "components.investigations.reference.data.teacher",
    "training": "components.library.torch_train.TorchTraining",
    "metric": "components.library.metrics.<metric>",
    "trainer": "components.library.torch_train.train_torch",
}


def _params(declaration: Declaration, node: Mapping[str, Any], where: str, exclude: tuple[str, ...] = (), task: str = "") -> Any:
    """Validate ``node``'s settings against the declaration; a setting only some tasks read is required on ``task`` if it reads it."""
    from pydantic import ValidationError

    values = {k: v for k, v in node.items() if k != TARGET and k not in exclude}
    try:
        params = declaration.params(**values)
    except ValidationError as exc:
        raise ConfigError(describe(exc, where, tuple(declaration.params.model_fields)), key=error_key(exc, where)) from None
    missing = missing_for_task(declaration.params, values, task)
    if missing:
        description = declaration.params.model_fields[missing].description or ""
        raise ConfigError(
            f"{where}.{missing} is missing; a {task} task reads it: {excerpt(description, 120, quote=False)}", key=f"{where}.{missing}"
        )
    return params


def _axis_values(declaration: Declaration, node: Mapping[str, Any], group: str, axis: str, values: list[Any]) -> None:
    """Check every value of an axis as if it were set in the config: typed and ranged like the key it sweeps."""
    from pydantic import ValidationError

    base = {k: v for k, v in node.items() if k != TARGET}
    for i, value in enumerate(values):
        try:
            declaration.params(**{**base, axis: value})
        except ValidationError as exc:
            line = describe(exc, group)
            raise ConfigError(f"experiment.axes.{group}.{axis}[{i}] = {excerpt(value)}: {line}") from None


def _statistics(cfg: Any, folds: bool = False) -> dict[str, Any]:
    """Check ``experiment.statistics`` now, so a typo fails at launch and not at the join after all the training.

    With a fold axis, ``cv_interval`` is required (see :data:`CV_INTERVALS`); without one it is refused.
    """
    from components import stats

    if cfg is None:
        cfg = {}
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"experiment.statistics: expected a mapping, got {type(cfg).__name__}")
    _known_keys(cfg, stats.SETTINGS, "experiment.statistics.", "a statistics setting")
    cv_interval = cfg.get("cv_interval")
    if folds and cv_interval not in CV_INTERVALS:
        shown = "missing" if cv_interval is None else repr(cv_interval)
        raise ConfigError(
            f"experiment.statistics.cv_interval is {shown}; an experiment with a {FOLD_AXIS} axis declares one of "
            f"{', '.join(CV_INTERVALS)} (nadeau_bengio accounts for the correlation between folds; nested targets the deployed model; the naive one does not)"
        )
    if not folds and cv_interval is not None:
        raise ConfigError(f"experiment.statistics.cv_interval is set, but experiment.axes.data has no {FOLD_AXIS} axis")
    if folds and cfg.get("multiplicity") == "maxt":
        raise ConfigError(
            "experiment.statistics.multiplicity: maxt flips the signs of independent seeds, but fold scores are correlated; "
            "use holm (the default), bonferroni or none with a fold axis"
        )
    try:
        stats.check_settings(cfg)
    except ValueError as exc:
        raise ConfigError(f"experiment.statistics.{exc}") from None
    return dict(cfg)


def _nested(metric: Mapping[str, Any], metric_decl: Declaration, data: Mapping[str, Any], data_decl: Declaration) -> None:
    """``cv_interval: nested`` needs a per-example metric, a generator that makes inner splits, and at least 3 folds."""
    where = "experiment.statistics.cv_interval is nested, but"
    if metric_decl.per_example is None:
        raise ConfigError(
            f"{where} experiment.metric ({metric.get('name')}: {metric[TARGET]}) is not a mean of per-example values, which nested "
            "cross-validation needs (accuracy and mae are; rmse and auroc are not); use cv_interval: nadeau_bengio for it"
        )
    if data_decl.nested_split is None:
        raise ConfigError(f"{where} data._target_ {data[TARGET]} declares no nested_split, so the inner folds cannot be made")
    if data["n_splits"] < 3:
        raise ConfigError(f"{where} data.n_splits is {data['n_splits']}; the inner cross-validation of each outer fold needs n_splits >= 3")


def _fold_axis(data: Mapping[str, Any], data_axes: Mapping[str, list[Any]]) -> None:
    """A fold axis lists every fold of a cross-validating generator (settings ``fold`` and ``n_splits``), in order."""
    if FOLD_AXIS not in data_axes:
        return
    where = f"experiment.axes.data.{FOLD_AXIS}"
    n_splits = data.get("n_splits")
    if isinstance(n_splits, bool) or not isinstance(n_splits, int):
        raise ConfigError(f"{where}: a fold axis needs a cross-validating generator (settings fold and n_splits); data ({data[TARGET]}) has no n_splits")
    if data_axes[FOLD_AXIS] != list(range(n_splits)):
        raise ConfigError(
            f"{where} is {excerpt(data_axes[FOLD_AXIS])}, but data.n_splits={n_splits}: list every fold, "
            f"{list(range(n_splits))!r} (a subset of folds is not a cross-validation estimate; lower n_splits instead)"
        )


def _method(name: str, cfg: Any, training: Mapping[str, Any], training_axes: Mapping[str, Any], task: str, settings: bool = True) -> MethodSpec:
    where = f"method.{name}"
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(cfg).__name__}")
    kind = cfg.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{where}.kind is {excerpt(kind)}; must be one of {', '.join(KINDS)}")
    for key in cfg:
        if key in training and key != TARGET:
            raise ConfigError(
                f"{where}.{key} sets a training key; the training group is authoritative "
                f"(set training.{key}, or declare it as a training axis)"
            )
    _, declaration = _implementation(cfg, "trainer", where)
    if settings:
        _params(declaration, cfg, where, exclude=("kind",), task=task)
    if task not in declaration.tasks:
        raise ConfigError(f"{where}.{TARGET} {cfg[TARGET]} trains {'/'.join(declaration.tasks)} tasks, but the data is a {task} task")
    missing = [key for key in declaration.reads_training if key not in training]
    if missing:
        raise ConfigError(f"{where}: its trainer reads training.{missing[0]}, which the training group does not have")
    swept = [key for key in declaration.reads_training if key in training_axes]
    if kind == "axis_agnostic" and swept:
        raise ConfigError(
            f"{where}.kind is axis_agnostic, but its trainer reads training.{swept[0]}, which experiment.axes.training sweeps; "
            "declare it axis_dependent (or stop sweeping that key)"
        )
    return MethodSpec(
        name=name,
        target=cfg[TARGET],
        kind=kind,
        spec=dict(cfg),
        reads_training=declaration.reads_training,
        data_order=declaration.data_order,
        selection=declaration.selection,
        imports=declaration.imports,
    )


def _axes(axes: Mapping[str, Any], group: str) -> dict[str, list[Any]]:
    declared = axes.get(group) or {}
    if not isinstance(declared, Mapping):
        raise ConfigError(f"experiment.axes.{group} must map axis names to value lists")
    out = {}
    for axis, values in declared.items():
        where = f"experiment.axes.{group}.{axis}"
        if not isinstance(values, list):
            raise ConfigError(f"{where} must be a list of values, got {excerpt(values)}")
        if not values:
            raise ConfigError(f"{where} is empty; give it at least one value or remove the axis")
        if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
            raise ConfigError(f"{where} repeats a value: {excerpt(values)}")
        out[str(axis)] = list(values)
    return out


def _mapping(cfg: Mapping[str, Any], where: str, key: str | None = None) -> Mapping[str, Any]:
    value = cfg.get(key or where)
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} is missing or not a mapping")
    return value


def _require(cfg: Mapping[str, Any], where: str, typ: type) -> Any:
    key = where.rsplit(".", 1)[-1]
    value = cfg.get(key)
    # bool is an int subclass; a seed count of `true` is a mistake, not 1.
    if value is None or isinstance(value, bool) or not isinstance(value, typ):
        raise ConfigError(f"{where} must be {'an integer' if typ is int else 'a ' + typ.__name__}, got {excerpt(value)}")
    return value


#: Hydra's message for an override of a key the config does not have, and for a group option it cannot find.
_NO_KEY = re.compile(r"^Could not override '([^']+)'")
_NO_OPTION = re.compile(r"Could not (?:find|load) '([^'/]+)/([^']+)'")


def _hydra_message(exc: Exception, config_dir: Path) -> str:
    """Hydra's explanation on one line, with the near miss of a misspelt key or group option.

    Hydra answers ``training.epocs=3`` with "To append to your config use
    +training.epocs=3", which turns a typo into a second, later error; the
    near miss among the keys next to it (``training.epochs``) is what was meant.
    """
    text = _one_line(str(exc))
    key = _NO_KEY.match(text)
    if key:
        return _missing_key(key.group(1), exc.__cause__, text)
    option = _NO_OPTION.search(text)
    if option:
        group, name = option.groups()
        known = sorted(p.stem for p in (config_dir / group).glob("*.yaml"))
        near = did_you_mean(name, known, prefix=f"{group}/")
        head, options, tail = text.partition(" Available options")  # the suggestion goes before Hydra's list of options
        return f"{head.rstrip('.')}{near}{options}{tail}" if near else text
    return text


def _missing_key(override: str, cause: BaseException | None, text: str) -> str:
    """One line for an override of a key that does not exist, naming its near miss among the keys next to it."""
    missing = str(getattr(cause, "full_key", "") or override)
    parent = getattr(cause, "parent_node", None)
    siblings = [str(k) for k in parent.keys()] if parent is not None and hasattr(parent, "keys") else []
    head, _, leaf = missing.rpartition(".")
    near = did_you_mean(leaf, siblings, prefix=f"{head}." if head else "")
    given = override.split("=", 1)[0].lstrip("+~")
    if missing.startswith(given + "."):  # a mapping override (given={...}) brought a key the existing mapping lacks
        return (
            f"{missing} is not a key of the composed config{near}: Hydra merges {given}={{...}} into the existing {given} "
            f"and refuses new keys; to replace the whole mapping write ~{given} '+{given}={{...}}'"
        )
    if not near:
        return text
    return f"{missing} is not a key of the composed config{near} (to add a new key on purpose, prefix the override with +)"


def _one_line(text: str) -> str:
    text = text.split("Config search path", 1)[0]  # Hydra appends its search path; it is noise here
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " ".join(lines) if lines else "invalid configuration"
