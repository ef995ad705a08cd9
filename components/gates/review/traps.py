"""The fidelity worksheet: the facts of the five traps, extracted mechanically, with the question for each.

Five fidelity traps pass every mechanical check and still give a number that
looks reasonable and is wrong: the split convention, reshuffle symmetry, axes
that do not match the source, one name for two quantities, and a selection
budget (a sweep, early stopping, best-of-N) the baseline does not get. No rule
can decide them; a reader checking intent can. :func:`build` gives that reader
the facts, extracted from the composed config and from what the
implementations declare (``components.spec.declarations``), with the question
to answer for each trap. Each trap's ``facts`` are what a review is bound to;
context that does not touch fidelity (a learning rate, the seed count, the
bootstrap settings) is shown but left out of them, so changing it does not
call for a new review. A declared source script is read by
:mod:`~components.gates.review.scanner`, never run.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from components.gates.review.practice import VALIDATION_MONITORS, early_stopping_monitor, one_pass_estimators, scale_free
from components.gates.review.scanner import Occurrence, Source, check_targets, comparable, delegate, module_file, normal, numeric_list
from components.spec.config import CONFIG_DIR, ConfigError, ExperimentSpec, compose, validate
from components.spec.declarations import TARGET, Declaration, ImplementationError, declaration_of, locate

__all__ = ["QUESTIONS", "TRAPS", "Section", "Worksheet", "build", "digest", "worksheet_for"]

TRAPS: dict[str, str] = {
    "split_convention": "Split convention",
    "reshuffle_symmetry": "Reshuffle symmetry",
    "axes_vs_source": "Axes vs source",
    "same_name": "Same name, different quantity",
    "sweep_inflation": "Sweep-override inflation",
}
#: The question a reviewer answers for each trap.
QUESTIONS: dict[str, str] = {
    "split_convention": (
        "Are train, validation and test drawn the way the investigation intends (and the way its source drew them: "
        "one sequential stream, independent seed-offset streams, a fixed file split, k-fold)? A different convention "
        "is a different data-generating process and shifts the numbers."
    ),
    "reshuffle_symmetry": (
        "Does every method that depends on example order see its training data in the same way (reshuffled per "
        "epoch, one fixed order, full batch)? If not, is the asymmetry part of the question, or a silent "
        "difference the comparison would wrongly credit to the method?"
    ),
    "axes_vs_source": (
        "Do the experiment's axes and fixed values match what the source (or the question) fixes and sweeps? An "
        "axis the source held fixed, or a value it set differently, mixes regimes into every aggregate."
    ),
    "same_name": (
        "Does each metric name mean one quantity: the reported metric's definition is the one the question asks "
        "about, no name is bound to two implementations, no shared helper computes two different quantities, and "
        "any selection monitor measures what it should?"
    ),
    "sweep_inflation": (
        "Is every method's reported number selected from as many configurations as the comparison intends? A "
        "method chosen as the best of N (early stopping over epochs, a hyperparameter search) against a "
        "single-configuration baseline, or a sweep where the source used one fixed configuration, is inflated."
    ),
}


@dataclass
class Section:
    """One trap of the worksheet.

    ``facts`` (JSON-able) are what a review is bound to; ``lines`` show them
    with context; ``flags`` are the mechanical warnings a reviewer must answer.
    """

    trap: str
    facts: dict[str, Any]
    lines: list[str]
    flags: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        """The trap's title."""
        return TRAPS[self.trap]

    @property
    def question(self) -> str:
        """The question the reviewer answers."""
        return QUESTIONS[self.trap]


@dataclass
class Worksheet:
    """The fidelity worksheet of one composed experiment (see :func:`build`)."""

    experiment: str
    question: str
    overrides: list[str]
    sections: list[Section]
    files: list[str] = field(default_factory=list)

    def facts(self) -> dict[str, dict[str, Any]]:
        """Trap name -> its facts: everything a review record is bound to."""
        return {s.trap: s.facts for s in self.sections}

    @property
    def fingerprint(self) -> str:
        """SHA-256 (16 hex digits) of the facts' canonical JSON."""
        return digest(self.facts())

    @property
    def shared_fingerprint(self) -> str:
        """The fingerprint of the facts without their scale (:func:`~components.gates.review.practice.scale_free`)."""
        return digest(scale_free(json.loads(json.dumps(self.facts(), default=str))))

    def section(self, trap: str) -> Section:
        """The section of ``trap``."""
        return next(s for s in self.sections if s.trap == trap)

    def render(self, fmt: str = "text", status: Any = None) -> str:
        """The worksheet as ``text``, ``md`` or ``json``, with a record's :class:`~components.gates.review.records.Status` when given."""
        if fmt == "json":
            return json.dumps(
                {
                    "experiment": self.experiment,
                    "overrides": self.overrides,
                    "fingerprint": self.fingerprint,
                    "status": None if status is None else {"state": status.state, "blocking": list(status.blocking), "message": status.message},
                    "files": self.files,
                    "traps": [
                        {"trap": s.trap, "title": s.title, "facts": s.facts, "lines": s.lines, "flags": s.flags, "question": s.question}
                        for s in self.sections
                    ],
                },
                indent=2,
                default=str,
            )
        md = fmt == "md"
        out = [f"{'# ' if md else ''}Fidelity review worksheet: experiment {self.experiment}", ""]
        out.append(f"question: {self.question or '(none given)'}")
        out.append(f"overrides: {' '.join(self.overrides) or '(none)'}")
        out.append(f"fingerprint: {self.fingerprint} (a review record is bound to the facts below)")
        if status is not None:
            out.append(f"record: {status.message}")
        if self.files:
            out.append("read: " + ", ".join(self.files))
        for i, s in enumerate(self.sections, 1):
            out += ["", f"{'## ' if md else ''}{i}. {s.title} ({s.trap})"]
            out += [f"{'- ' if md else '   '}{line}" for line in s.lines]
            out += [f"{'- **FLAG** ' if md else '   ! FLAG: '}{flag}" for flag in s.flags] or [f"{'- ' if md else '   '}no mechanical flag"]
            out.append(f"{'- **Question:** ' if md else '   ? '}{s.question}")
        return "\n".join(out)


def build(
    config: Mapping[str, Any],
    spec: ExperimentSpec,
    overrides: Sequence[str] = (),
    experiments_dir: Path | None = None,
) -> Worksheet:
    """Extract the worksheet of ``spec`` (composed from ``config`` with ``overrides``).

    ``experiments_dir`` (default ``configs/experiment``) holds the experiment
    files whose metric bindings the same-name check compares with this one's.
    """
    source = Source.read(spec.source) if spec.source else None
    sections = [
        _split_section(spec, source),
        _reshuffle_section(spec),
        _axes_section(spec, source),
        _names_section(spec, experiments_dir or CONFIG_DIR / "experiment"),
        _selection_section(spec),
    ]
    files = [module_file(spec.data[TARGET]), *(module_file(m.target) for m in spec.methods), module_file(spec.metric[TARGET])]
    if spec.source:
        files.append(spec.source)
    exp = config.get("experiment", {}) if isinstance(config.get("experiment"), Mapping) else {}
    return Worksheet(spec.name, str(exp.get("question", "")).strip(), list(overrides), sections, sorted({f for f in files if f}))


def worksheet_for(overrides: Sequence[str] = ()) -> Worksheet:
    """Compose, validate and build the worksheet of ``overrides`` (raises :class:`ConfigError`).

    Every ``_target_`` is checked before validation, which imports and builds
    implementations: one outside the project and its declared dependencies is
    refused without running it (see :func:`~components.gates.review.scanner.check_targets`).
    """
    config = compose(list(overrides))
    check_targets(config)
    return build(config, validate(config), overrides)


def _split_section(spec: ExperimentSpec, source: Source | None) -> Section:
    facts: dict[str, Any] = {"generator": spec.data[TARGET], "task": spec.task, "split": spec.split}
    lines = [f"generator: {spec.data[TARGET]} ({spec.task} task)", f"declared split: {spec.split or '(not declared)'}"]
    flags = []
    if not spec.split.strip():
        flags.append("the generator declares no split convention (generator(..., split=...))")
    if source is None:
        lines.append("source: none declared (experiment.source); compare with the investigation's own record of how data was drawn")
    else:
        calls = source.split_calls()
        convention = source.convention()
        facts["source"] = {"path": source.path, "calls": [text for _, text in calls], "convention": convention}
        lines.append(f"source {source.path}: {convention}")
        lines += [f"  line {line}: {text}" for line, text in calls[:20]]
        declared = _declared_convention(spec.split)
        if not calls:
            flags.append(f"no random-number, splitter or file-load call found in {source.path}; read it to find its convention")
        elif declared and declared != convention.split(":")[0]:
            flags.append(f"the source appears to use {convention.split(':')[0]}, the generator declares {declared}")
    return Section("split_convention", facts, lines, flags)


def _declared_convention(text: str) -> str:
    """The convention a declared split names, in the vocabulary of :meth:`Source.convention` ('' if unclear)."""
    text = text.lower()
    if "fold" in text:
        return "a splitter"
    if "file" in text:
        return "a fixed file split"
    if "one sequential stream" in text or "one stream" in text:
        return "one stream"
    if "independent" in text or "offset" in text or "streams" in text:
        return "several streams"
    return ""


def _trainer(target: str) -> Declaration:
    try:
        return declaration_of(locate(target, TARGET), "trainer", TARGET)
    except ImplementationError as exc:  # validation already located it; this is a programming error
        raise ConfigError(str(exc)) from None


def _reshuffle_section(spec: ExperimentSpec) -> Section:
    facts: dict[str, Any] = {}
    lines, order_dependent = [], {}
    for m in spec.methods:
        decl = _trainer(m.target)
        if decl.order_free:
            effective = "order-free"
        elif "reshuffle" in m.reads_training:
            if "reshuffle" in spec.training_axes:
                effective = f"training.reshuffle swept over {spec.training_axes['reshuffle']}"
            else:
                effective = f"training.reshuffle={spec.training.get('reshuffle')}"
        elif (one_pass := one_pass_estimators(m.spec)) is not None:
            effective = f"one pass over the whole training split: no minibatch order ({', '.join(one_pass)} take no shuffle setting)"
        else:
            effective = f"as declared: {decl.data_order}" if decl.data_order else "not declared"
        facts[m.name] = {"trainer": m.target, "data_order": decl.data_order, "order_free": decl.order_free, "effective": effective}
        lines.append(f"{m.name}: {effective}  [trainer {m.target}; declares: {decl.data_order or '(nothing)'}]")
        if not decl.order_free and not effective.startswith("one pass"):
            order_dependent[m.name] = effective
    flags = [f"{name}'s trainer declares no data order (trainer(..., data_order=...))" for name, eff in order_dependent.items() if eff == "not declared"]
    if len(set(order_dependent.values())) > 1:
        flags.append("methods order their training data differently: " + "; ".join(f"{n}: {e}" for n, e in order_dependent.items()))
    return Section("reshuffle_symmetry", facts, lines, flags)


def _axes_section(spec: ExperimentSpec, source: Source | None) -> Section:
    facts: dict[str, Any] = {"data_axes": spec.data_axes, "training_axes": spec.training_axes}
    fixed_data = {k: v for k, v in spec.data.items() if k != TARGET and k not in spec.data_axes}
    fixed_training = {k: v for k, v in spec.training.items() if k != TARGET and k not in spec.training_axes}
    lines = [
        "data axes: " + (", ".join(f"{k}={v}" for k, v in spec.data_axes.items()) or "none"),
        "training axes: " + (", ".join(f"{k}={v}" for k, v in spec.training_axes.items()) or "none"),
        "fixed data values: " + ", ".join(f"{k}={v}" for k, v in fixed_data.items()),
        "fixed training values: " + ", ".join(f"{k}={v}" for k, v in fixed_training.items()),
        "(fixed values are shown for the reader; only those compared with a source below bind the review)",
    ]
    flags: list[str] = []
    if source is None:
        lines.append("source: none declared (experiment.source: path/to/poc.py lists the source's settings here)")
        return Section("axes_vs_source", facts, lines, flags)

    settings = source.settings()
    config_values = _config_values(spec, fixed_data, fixed_training)
    mismatches, matched = [], set()
    lines.append(f"source {source.path}: {sum(len(v) for v in settings.values())} numeric setting(s) found (AST, not executed)")
    for name, entries in config_values.items():
        found = settings.get(name)
        if not found:
            continue
        matched.add(name)
        for key, value, is_axis in entries:
            verdict = _compare(value, is_axis, found)
            shown = ", ".join(f"line {o.line}: {o.name} = {o.value}{' (swept)' if o.swept else ''}" for o in found[:4])
            lines.append(f"{key} = {value}  vs source {shown}: {verdict or 'matches'}")
            if verdict:
                mismatches.append(key)
                flags.append(f"{key} = {value} but the source has {shown}: {verdict}")
    for group, axes in (("data", spec.data_axes), ("training", spec.training_axes)):
        for axis in axes:
            if axis not in settings:
                flags.append(f"experiment.axes.{group}.{axis} sweeps {axes[axis]}, but the source never names {axis}: confirm it swept it")
    unmatched = sorted(set(settings) - matched)
    if unmatched:
        shown = ", ".join(f"{n}={settings[n][0].value}" for n in unmatched[:15])
        lines.append(f"source settings with no config key of that name: {shown}{' ...' if len(unmatched) > 15 else ''}")
    facts["source"] = {
        "path": source.path,
        "settings": {n: sorted({json.dumps(o.value) for o in occ}) for n, occ in sorted(settings.items())},
        "mismatches": sorted(set(mismatches)),
    }
    return Section("axes_vs_source", facts, lines, flags)


def _config_values(spec: ExperimentSpec, fixed_data: Mapping[str, Any], fixed_training: Mapping[str, Any]) -> dict[str, list[tuple[str, Any, bool]]]:
    """Source-comparable names -> [(config key, value, is an axis)]."""
    out: dict[str, list[tuple[str, Any, bool]]] = {}

    def add(name: str, key: str, value: Any, is_axis: bool) -> None:
        out.setdefault(normal(name), []).append((key, value, is_axis))

    for group, axes in (("data", spec.data_axes), ("training", spec.training_axes)):
        for axis, values in axes.items():
            add(axis, f"experiment.axes.{group}.{axis}", values, True)
    for group, fixed in (("data", fixed_data), ("training", fixed_training)):
        for key, value in fixed.items():
            add(key, f"{group}.{key}", value, False)
    for m in spec.methods:
        for path, value in _leaves(m.spec, f"method.{m.name}"):
            add(path.rsplit(".", 1)[-1].split("[")[0], path, value, False)
    add("seeds", "experiment.seeds", spec.seeds, False)
    return out


def _leaves(node: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key in (TARGET, "kind"):
                continue
            if isinstance(value, (Mapping, list)) and not numeric_list(value):
                yield from _leaves(value, f"{prefix}.{key}")
            elif comparable(value):
                yield f"{prefix}.{key}", value
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, f"{prefix}[{i}]")


def _same(a: Any, b: Any) -> bool:
    if numeric_list(a) and numeric_list(b):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return False


def _compare(value: Any, is_axis: bool, found: list[Occurrence]) -> str:
    """'' when the config value agrees with one of the source's, else what differs."""
    swept = [o for o in found if o.swept]
    if is_axis:
        for o in swept:
            if len(o.value) == len(value) and all(any(_same(v, s) for s in o.value) for v in value):
                return ""
        if swept:
            return f"the config sweeps {value}, the source sweeps {swept[0].value}"
        return f"the config sweeps {len(value)} value(s), the source fixes it"
    if any(_same(value, o.value) for o in found):
        return ""
    if swept and not isinstance(value, list):
        return "the config fixes it, the source sweeps it"
    return "different value"


def _names_section(spec: ExperimentSpec, experiments_dir: Path) -> Section:
    info = spec.metric_info
    name, target = spec.metric["name"], spec.metric[TARGET]
    metric = {"name": name, "target": target, "direction": info.direction, "range": list(info.range), "definition": info.definition}
    facts: dict[str, Any] = {"metric": metric, "monitors": {}}
    lines = [
        f"reported metric {name} = {target}: {info.definition} ({info.direction} is better, range {list(info.range)}), on the test split",
    ]
    flags: list[str] = []
    for m in spec.methods:
        for i, cb in enumerate(m.spec.get("callbacks") or []):
            if not isinstance(cb, Mapping) or "monitor" not in cb:
                continue
            monitor = str(cb["monitor"])
            facts["monitors"].setdefault(m.name, []).append(monitor)
            meaning = f"{name} on the validation split" if monitor == "val_metric" else "the training loss on the validation split" if monitor == "val_loss" else monitor
            lines.append(f"{m.name}: callbacks[{i}] {cb.get(TARGET, '?').rsplit('.', 1)[-1]} monitors {monitor} = {meaning}; the table reports {name} on the test split")
            if monitor not in VALIDATION_MONITORS:
                flags.append(f"{m.name} selects on {monitor} ({meaning}), not on the validation split, and the table reports {name}")

    conflicts: list[str] = []
    bindings = _metric_bindings(experiments_dir, spec.name)
    same_name = sorted({t for n, t, _ in bindings if n == name} - {target})
    if same_name:
        where = "; ".join(f"{t} in {', '.join(e for n2, t2, e in bindings if n2 == name and t2 == t)}" for t in same_name)
        conflicts.append(f"metric name {name} is also bound to a different implementation: {where}")
    mine = _underlying(target)
    for other_name, other_target, exp in bindings:
        if other_target == target:
            if other_name != name:
                lines.append(f"the same implementation is reported as {other_name} in {exp}")
            continue
        if mine is not None and _underlying(other_target) == mine:
            other = _metric_info(other_target)
            differs = other is not None and other.definition != info.definition
            lines.append(f"{other_name} ({other_target}, in {exp}) computes with the same function {mine}")
            if differs:
                conflicts.append(
                    f"{name} ({target}) and {other_name} ({other_target}, in {exp}) run the same function {mine} "
                    f"but declare different meanings: {info.definition!r} vs {other.definition!r}"
                )
    facts["conflicts"] = sorted(conflicts)
    return Section("same_name", facts, lines, conflicts + flags)


def _metric_bindings(experiments_dir: Path, current: str) -> list[tuple[str, str, str]]:
    """(metric name, target, experiment) for every experiment file under ``experiments_dir`` other than ``current``."""
    import yaml

    out = []
    for path in sorted(Path(experiments_dir).glob("*.yaml")):
        try:
            exp = (yaml.safe_load(path.read_text()) or {}).get("experiment") or {}
        except (OSError, yaml.YAMLError):
            continue
        metric = exp.get("metric") if isinstance(exp, Mapping) else None
        if not isinstance(metric, Mapping) or exp.get("name") == current:
            continue
        if isinstance(metric.get("name"), str) and isinstance(metric.get(TARGET), str):
            out.append((metric["name"], metric[TARGET], str(exp.get("name", path.stem))))
    return out


def _importable(target: str) -> bool:
    """Whether the review may import ``target``'s module (another experiment file's binding is unchecked input)."""
    try:
        check_targets({TARGET: target})
    except ConfigError:
        return False
    return True


def _metric_info(target: str):
    if not _importable(target):
        return None
    try:
        return declaration_of(locate(target, TARGET), "metric", TARGET).metric
    except ImplementationError:
        return None


def _underlying(target: str) -> str | None:
    """The function a metric finally computes with: through partials, ``__wrapped__`` and one-line delegates."""
    if not _importable(target):
        return None
    try:
        obj = locate(target, TARGET)
    except ImplementationError:
        return None
    for _ in range(10):
        if isinstance(obj, functools.partial):
            obj = obj.func
        elif getattr(obj, "__wrapped__", None) is not None:
            obj = obj.__wrapped__
        elif (forwarded := delegate(obj)) is not None:
            obj = forwarded
        else:
            break
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _selection_section(spec: ExperimentSpec) -> Section:
    cells = [dict(zip(spec.training_axes, values)) for values in itertools.product(*spec.training_axes.values())] or [{}]
    facts: dict[str, Any] = {"baseline": spec.baseline, "methods": {}}
    lines, flags = [], []
    budgets: dict[str, list[int | None] | None] = {}
    for m in spec.methods:
        decl = _trainer(m.target)
        if decl.selection_budget is None:
            budgets[m.name] = None
            facts["methods"][m.name] = {"budget": None, "selection": decl.selection}
            lines.append(f"{m.name}: selection budget not declared; declares: {decl.selection or '(nothing)'}")
            flags.append(f"{m.name}'s trainer declares no selection budget (trainer(..., selection_budget=...)); count it by reading {m.target}")
            continue
        per_cell, hows = {}, []
        for cell in cells if m.axis_dependent else [{}]:
            count, how = decl.selection_budget(m.spec, {**spec.training, **cell})
            label = ", ".join(f"{k}={v}" for k, v in cell.items()) or "every cell"
            per_cell[label] = count
            hows.append(how)
        shown = ", ".join(f"{c if c is not None else 'unknown'} ({label})" for label, c in per_cell.items())
        role = " (baseline)" if m.name == spec.baseline else ""
        monitor = early_stopping_monitor(m.spec)
        if monitor is None:
            budgets[m.name] = list(per_cell.values())
            facts["methods"][m.name] = {"budget": per_cell, "selection": decl.selection}
            lines.append(f"{m.name}{role}: selected from {shown}: {hows[-1]}")
            continue
        # Early stopping picks among one configuration's validation checkpoints: one configuration when
        # budgets are compared, and its count (which follows training.epochs) is shown, not bound.
        budgets[m.name] = [1]
        facts["methods"][m.name] = {"budget": f"early stopping on {monitor} (validation split)", "selection": decl.selection}
        lines.append(f"{m.name}{role}: early stopping on {monitor}, one configuration's validation checkpoints: {shown}: {hows[-1]}")
    lines.append("training axes are reported cell by cell: a cell is never chosen as the best of the axis")
    base = budgets.get(spec.baseline)
    base_max = _max_budget(base)
    for name, values in budgets.items():
        if name == spec.baseline or values is None:
            continue
        if None in values:
            flags.append(f"{name}'s selection budget cannot be read from the config; count it by hand")
        elif base is not None and None not in base and _max_budget(values) != base_max:
            flags.append(f"{name} is selected from up to {_max_budget(values)} configuration(s), the baseline {spec.baseline} from {base_max}")
    return Section("sweep_inflation", facts, lines, flags)


def _max_budget(values: list[int | None] | None) -> int | None:
    if not values or None in values:
        return None
    return max(v for v in values if v is not None)


def digest(value: Any) -> str:
    """SHA-256 (16 hex digits) of ``value``'s canonical JSON: the fingerprint of facts and of records."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
