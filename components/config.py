"""Compose the Hydra config tree and validate it into an experiment spec.

``compose`` is a pure function of its overrides: it clears Hydra's global state
first, so Metaflow can call it at launch, again on ``resume`` and at deploy time.
``validate`` turns the composed mapping into a frozen :class:`ExperimentSpec` or
raises :class:`ConfigError` with a one-line message that names the offending key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

__all__ = [
    "CONFIG_DIR",
    "CONTRACTS",
    "KINDS",
    "ConfigError",
    "ExperimentSpec",
    "MethodSpec",
    "compose",
    "config_hash",
    "load_spec",
    "validate",
]

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
CONTRACTS = ("order_independent", "single_worker", "nondeterministic")
KINDS = ("axis_agnostic", "axis_dependent")


class ConfigError(ValueError):
    """A configuration mistake, reported as one line naming the offending key."""


@dataclass(frozen=True)
class MethodSpec:
    """One method of the experiment: its registry ``impl``, ``kind`` and own settings."""

    name: str
    impl: str
    kind: str
    spec: dict[str, Any]

    @property
    def axis_dependent(self) -> bool:
        """True when the method retrains for every training-axis value."""
        return self.kind == "axis_dependent"


@dataclass(frozen=True)
class ExperimentSpec:
    """The validated experiment: everything the planner and the branches need."""

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

    def method(self, name: str) -> MethodSpec:
        """Return the method called ``name``."""
        for method in self.methods:
            if method.name == name:
                return method
        raise KeyError(name)


def compose(overrides: list[str] | tuple[str, ...] = (), config_dir: Path | str = CONFIG_DIR) -> dict[str, Any]:
    """Compose ``config.yaml`` under ``config_dir`` with Hydra ``overrides``; return a plain dict.

    Raises :class:`ConfigError` for an unknown group option, an unknown key or a
    malformed override, with Hydra's own explanation on one line.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    config_dir = Path(config_dir).resolve()
    if not (config_dir / "config.yaml").is_file():
        raise ConfigError(f"config root {config_dir}/config.yaml does not exist")
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base=None):
            cfg = hydra_compose(config_name="config", overrides=list(overrides))
        return OmegaConf.to_container(cfg, resolve=True)
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(_one_line(str(exc))) from None
    finally:
        GlobalHydra.instance().clear()


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 of the resolved config's canonical JSON (first 16 hex digits)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_spec(overrides: list[str] | tuple[str, ...] = ()) -> tuple[dict[str, Any], ExperimentSpec]:
    """Compose and validate in one call: return ``(resolved config, spec)``."""
    config = compose(overrides)
    return config, validate(config)


def validate(config: Mapping[str, Any]) -> ExperimentSpec:
    """Check the composed config against the user contract and build the spec."""
    from components import registry, stats

    exp = _mapping(config, "experiment")
    data = _mapping(config, "data")
    training = _mapping(config, "training")
    method_cfgs = _mapping(config, "method")

    name = _require(exp, "experiment.name", str)
    contract = exp.get("contract")
    if contract not in CONTRACTS:
        shown = "missing" if contract is None else repr(contract)
        raise ConfigError(f"experiment.contract is {shown}; declare one of {', '.join(CONTRACTS)}")
    seeds = _require(exp, "experiment.seeds", int)
    if seeds < 1:
        raise ConfigError(f"experiment.seeds must be a positive integer, got {seeds}")
    seed_base = _require(exp, "experiment.seed_base", int)

    generator = data.get("generator")
    if generator not in registry.DATA:
        raise ConfigError(f"data.generator {generator!r} is not registered; known: {', '.join(sorted(registry.DATA))}")

    axes = _mapping(exp, "experiment.axes", key="axes")
    data_axes = _axes(axes, "data")
    training_axes = _axes(axes, "training")
    for axis in data_axes:
        if axis in training_axes:
            raise ConfigError(f"axis {axis!r} is declared both under experiment.axes.data and experiment.axes.training")
        if axis == "generator" or axis not in data:
            raise ConfigError(f"experiment.axes.data.{axis}: not a setting of data ({generator}); data keys: {', '.join(sorted(k for k in data if k != 'generator'))}")
    for axis in training_axes:
        if axis not in training:
            raise ConfigError(f"experiment.axes.training.{axis}: not a key of the training group; training keys: {', '.join(sorted(training))}")

    methods = []
    if not method_cfgs:
        raise ConfigError("method: no methods selected; pick some with method=[logreg,mlp]")
    for mname in sorted(method_cfgs):
        methods.append(_method(mname, method_cfgs[mname], training))

    baseline = _require(exp, "experiment.baseline", str)
    if baseline not in method_cfgs:
        raise ConfigError(f"experiment.baseline {baseline!r} is not among the selected methods: {', '.join(sorted(method_cfgs))}")

    metric = dict(_mapping(exp, "experiment.metric", key="metric"))
    if metric.get("name") not in registry.METRICS:
        raise ConfigError(f"experiment.metric.name {metric.get('name')!r} is not registered; known: {', '.join(sorted(registry.METRICS))}")

    statistics = _statistics(exp.get("statistics"))
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
        methods=tuple(methods),
        statistics=statistics,
    )


def _statistics(cfg: Any) -> dict[str, Any]:
    """Check ``experiment.statistics`` now, so a typo fails at launch and not at the join after all the training."""
    from components import stats

    if cfg is None:
        return {}
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"experiment.statistics: expected a mapping, got {type(cfg).__name__}")
    try:
        stats.check_settings(cfg)
    except ValueError as exc:
        raise ConfigError(f"experiment.statistics.{exc}") from None
    return dict(cfg)


def _method(name: str, cfg: Any, training: Mapping[str, Any]) -> MethodSpec:
    from components import registry

    if not isinstance(cfg, Mapping):
        raise ConfigError(f"method.{name}: expected a mapping, got {type(cfg).__name__}")
    kind = cfg.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"method.{name}.kind is {kind!r}; must be one of {', '.join(KINDS)}")
    impl = cfg.get("impl")
    if impl not in registry.TRAINERS:
        raise ConfigError(f"method.{name}.impl {impl!r} is not registered; known: {', '.join(sorted(registry.TRAINERS))}")
    for key in cfg:
        if key in training:
            raise ConfigError(
                f"method.{name}.{key} sets a training key; the training group is authoritative "
                f"(set training.{key}, or declare it as a training axis)"
            )
    return MethodSpec(name=name, impl=impl, kind=kind, spec=dict(cfg))


def _axes(axes: Mapping[str, Any], group: str) -> dict[str, list[Any]]:
    declared = axes.get(group) or {}
    if not isinstance(declared, Mapping):
        raise ConfigError(f"experiment.axes.{group} must map axis names to value lists")
    out = {}
    for axis, values in declared.items():
        where = f"experiment.axes.{group}.{axis}"
        if not isinstance(values, list):
            raise ConfigError(f"{where} must be a list of values, got {values!r}")
        if not values:
            raise ConfigError(f"{where} is empty; give it at least one value or remove the axis")
        if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
            raise ConfigError(f"{where} repeats a value: {values!r}")
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
        raise ConfigError(f"{where} must be {'an integer' if typ is int else 'a ' + typ.__name__}, got {value!r}")
    return value


def _one_line(text: str) -> str:
    text = text.split("Config search path", 1)[0]  # Hydra appends its search path; it is noise here
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " ".join(lines) if lines else "invalid configuration"
