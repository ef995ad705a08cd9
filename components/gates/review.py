"""The review gate: a worksheet of fidelity facts, a reviewer's record bound to them, and the check before a run.

Five fidelity traps pass every mechanical check and still give a number that
looks reasonable and is wrong: the split convention, reshuffle symmetry, axes
that do not match the source, one name for two quantities, and a selection
budget (a sweep, early stopping, best-of-N) the baseline does not get. No rule
can decide them; a reader checking intent can. This module gives that reader
the facts, extracted mechanically from the composed config and from what the
implementations declare (``components.spec.declarations``), with the question to
answer for each trap, and keeps the answers:

* :func:`build` turns a composed config into a :class:`Worksheet`. Each trap's
  ``facts`` are what a review is bound to; context that does not touch
  fidelity (a learning rate, the seed count, the bootstrap settings) is shown
  but left out of them, so changing it does not call for a new review.
* :func:`write_record` stores a reviewer's verdict per trap in
  ``reviews/<experiment>.yaml`` with the facts and their fingerprint.
* :func:`check` compares a worksheet with its record; :func:`gate` is what
  ``run``, ``resume`` and a scheduler's ``create`` call: a missing, stale or
  failing record blocks the launch with one line naming the traps (and facts)
  that changed, unless ``--review-allow TRAP[,TRAP]`` (or ``all``) is given;
  the override is recorded in the run's provenance.

The command line is ``axisflow review [overrides]`` (see :func:`register`).
"""

from __future__ import annotations

import argparse
import ast
import functools
import hashlib
import importlib.util
import inspect
import itertools
import json
import math
import shlex
import sys
import textwrap
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from components.spec.config import CONFIG_DIR, REPO_ROOT, ConfigError, ExperimentSpec, load_spec
from components.spec.declarations import TARGET, Declaration, ImplementationError, declaration_of, locate

__all__ = [
    "ALL",
    "QUESTIONS",
    "RECORD_SCHEMA",
    "REVIEWS_DIR",
    "TRAPS",
    "VERDICTS",
    "ReviewError",
    "Section",
    "Status",
    "Worksheet",
    "build",
    "check",
    "gate",
    "prompt",
    "read_record",
    "record_path",
    "register",
    "worksheet_for",
    "write_record",
]

#: The five fidelity traps, by the name records, flags and ``--review-allow`` use, with their titles.
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
#: Where review records live: one YAML file per experiment name, kept in the repository.
REVIEWS_DIR = REPO_ROOT / "reviews"
#: Version of the record layout.
RECORD_SCHEMA = "axisflow.review/1"
#: A reviewer's verdict on one trap.
VERDICTS = ("pass", "fail")
#: ``--review-allow all`` proceeds past every trap.
ALL = "all"

# Random-number sources and splitters whose calls reveal a source's split convention.
_RNG_CALLS = ("default_rng", "RandomState", "manual_seed", "random.seed", "PRNGKey", "Generator", "SeedSequence")
_SPLITTERS = ("train_test_split", "KFold", "StratifiedKFold", "GroupKFold", "ShuffleSplit", "StratifiedShuffleSplit",
              "TimeSeriesSplit", "RepeatedKFold", "random_split", "LeaveOneOut")
_LOADERS = ("read_csv", "read_parquet", "load", "loadtxt", "genfromtxt", "open", "load_svmlight_file")
# Spellings a source may use for a config key.
_ALIASES = {"n_epochs": "epochs", "num_epochs": "epochs", "epoch": "epochs", "n_seeds": "seeds", "num_seeds": "seeds",
            "learning_rate": "lr", "batchsize": "batch_size", "wd": "weight_decay"}


class ReviewError(ValueError):
    """A review problem reported as one line: a blocked launch, a malformed record or bad review input."""


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
        return _digest(self.facts())

    def section(self, trap: str) -> Section:
        """The section of ``trap``."""
        return next(s for s in self.sections if s.trap == trap)

    def render(self, fmt: str = "text", status: "Status | None" = None) -> str:
        """The worksheet as ``text``, ``md`` or ``json`` (with the record's status when given)."""
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


@dataclass(frozen=True)
class Status:
    """How a worksheet stands against its record.

    ``state`` is ``reviewed``, ``missing``, ``stale``, ``failed`` or
    ``invalid``; ``blocking`` the traps a launch needs reviewed or allowed;
    ``message`` one line saying why; ``record`` the record (or ``None``).
    """

    state: str
    blocking: tuple[str, ...]
    message: str
    record: dict[str, Any] | None
    path: Path


# ---------------------------------------------------------------------------- building the worksheet


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
    source = _Source.read(spec.source) if spec.source else None
    sections = [
        _split_section(spec, source),
        _reshuffle_section(spec),
        _axes_section(spec, source),
        _names_section(spec, experiments_dir or CONFIG_DIR / "experiment"),
        _selection_section(spec),
    ]
    files = [_module_file(spec.data[TARGET]), *(_module_file(m.target) for m in spec.methods), _module_file(spec.metric[TARGET])]
    if spec.source:
        files.append(spec.source)
    exp = config.get("experiment", {}) if isinstance(config.get("experiment"), Mapping) else {}
    return Worksheet(spec.name, str(exp.get("question", "")).strip(), list(overrides), sections, sorted({f for f in files if f}))


def worksheet_for(overrides: Sequence[str] = ()) -> Worksheet:
    """Compose, validate and build the worksheet of ``overrides`` (raises :class:`ConfigError`)."""
    config, spec = load_spec(list(overrides))
    return build(config, spec, overrides)


def _split_section(spec: ExperimentSpec, source: "_Source | None") -> Section:
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
    """The convention a declared split names, in the vocabulary of :meth:`_Source.convention` ('' if unclear)."""
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
        else:
            effective = f"as declared: {decl.data_order}" if decl.data_order else "not declared"
        facts[m.name] = {"trainer": m.target, "data_order": decl.data_order, "order_free": decl.order_free, "effective": effective}
        lines.append(f"{m.name}: {effective}  [trainer {m.target}; declares: {decl.data_order or '(nothing)'}]")
        if not decl.order_free:
            order_dependent[m.name] = effective
    flags = [f"{name}'s trainer declares no data order (trainer(..., data_order=...))" for name, eff in order_dependent.items() if eff == "not declared"]
    if len(set(order_dependent.values())) > 1:
        flags.append("methods order their training data differently: " + "; ".join(f"{n}: {e}" for n, e in order_dependent.items()))
    return Section("reshuffle_symmetry", facts, lines, flags)


def _axes_section(spec: ExperimentSpec, source: "_Source | None") -> Section:
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
        out.setdefault(_normal(name), []).append((key, value, is_axis))

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
            if isinstance(value, (Mapping, list)) and not _numeric_list(value):
                yield from _leaves(value, f"{prefix}.{key}")
            elif _comparable(value):
                yield f"{prefix}.{key}", value
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, f"{prefix}[{i}]")


def _comparable(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) or _numeric_list(value)


def _numeric_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)


def _same(a: Any, b: Any) -> bool:
    if _numeric_list(a) and _numeric_list(b):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return False


def _compare(value: Any, is_axis: bool, found: list["_Occurrence"]) -> str:
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
            if monitor != "val_metric":
                flags.append(f"{m.name} selects on {monitor} ({meaning}), but the table reports {name}")

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


def _metric_info(target: str):
    try:
        return declaration_of(locate(target, TARGET), "metric", TARGET).metric
    except ImplementationError:
        return None


def _underlying(target: str) -> str | None:
    """The function a metric finally computes with: through partials, ``__wrapped__`` and one-line delegates."""
    try:
        obj = locate(target, TARGET)
    except ImplementationError:
        return None
    for _ in range(10):
        if isinstance(obj, functools.partial):
            obj = obj.func
        elif getattr(obj, "__wrapped__", None) is not None:
            obj = obj.__wrapped__
        elif (delegate := _delegate(obj)) is not None:
            obj = delegate
        else:
            break
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _delegate(fn: Any) -> Any:
    """The function ``fn`` only forwards to (its body, docstring aside, is ``return other(...)``), else ``None``."""
    if not inspect.isfunction(fn):
        return None
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return None
    node = tree.body[0] if tree.body else None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str))]
    if len(body) != 1 or not isinstance(body[0], ast.Return) or not isinstance(body[0].value, ast.Call):
        return None
    func = body[0].value.func
    target = fn.__globals__.get(func.id) if isinstance(func, ast.Name) else None
    return target if callable(target) and target is not fn else None


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
        budgets[m.name] = list(per_cell.values())
        facts["methods"][m.name] = {"budget": per_cell, "selection": decl.selection}
        shown = ", ".join(f"{c if c is not None else 'unknown'} ({label})" for label, c in per_cell.items())
        lines.append(f"{m.name}{' (baseline)' if m.name == spec.baseline else ''}: selected from {shown}: {hows[-1]}")
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


@dataclass(frozen=True)
class _Occurrence:
    line: int
    name: str
    value: Any
    swept: bool


class _Source:
    """A declared source of truth (a proof-of-concept script), read with ``ast``: never imported or run."""

    def __init__(self, path: str, tree: ast.Module, text: str):
        self.path, self.tree, self.lines = path, tree, text.splitlines()

    @classmethod
    def read(cls, path: str) -> "_Source":
        file = REPO_ROOT / path
        try:
            text = file.read_text()
            return cls(path, ast.parse(text), text)
        except (OSError, SyntaxError, ValueError) as exc:
            raise ConfigError(f"experiment.source {path!r} cannot be read as Python: {exc}") from None

    def _calls(self) -> Iterator[tuple[ast.Call, str]]:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call):
                yield node, _dotted(node.func)

    def split_calls(self) -> list[tuple[int, str]]:
        """(line, code) of every random-number source, splitter and split-named file load, in line order."""
        out = []
        for node, name in self._calls():
            last = name.rsplit(".", 1)[-1]
            rng = any(name.endswith(r) for r in _RNG_CALLS) or name in ("np.random.seed", "numpy.random.seed", "seed")
            split = last in _SPLITTERS
            load = last in _LOADERS and any(
                isinstance(a, ast.Constant) and isinstance(a.value, str) and any(w in a.value.lower() for w in ("train", "test", "val"))
                for a in node.args
            )
            if rng or split or load:
                out.append((node.lineno, ast.unparse(node)))
        return sorted(set(out))

    def convention(self) -> str:
        """A one-phrase reading of :meth:`split_calls` (the reviewer confirms it)."""
        calls = self.split_calls()
        splitters = [text for _, text in calls if any(text.split("(")[0].endswith(s) for s in _SPLITTERS)]
        loads = [text for _, text in calls if text.split("(")[0].rsplit(".", 1)[-1] in _LOADERS]
        rngs = [text for _, text in calls if text not in splitters and text not in loads]
        if splitters:
            return f"a splitter: {', '.join(sorted({s.split('(')[0] for s in splitters}))}"
        if loads:
            return f"a fixed file split: {len(loads)} split-named file load(s)"
        if len(rngs) == 1:
            return "one stream: a single random generator draws everything"
        if rngs:
            offset = any("+" in text for text in rngs)
            return f"several streams: {len(rngs)} generators{' with seed offsets' if offset else ''}"
        return "unknown: no random-number source found"

    def settings(self) -> dict[str, list[_Occurrence]]:
        """Normalised name -> numeric settings assigned, passed as keywords, looped over or given as CLI defaults."""
        lists: dict[str, Any] = {}
        found: dict[str, list[_Occurrence]] = {}

        def add(name: str, line: int, value: Any, swept: bool) -> None:
            found.setdefault(_normal(name), []).append(_Occurrence(line, name, value, swept))

        for node in ast.walk(self.tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                value = _literal(node.value)
                for target in targets:
                    if isinstance(target, ast.Name) and value is not None:
                        add(target.id, node.lineno, value, False)
                        if isinstance(value, list):
                            lists[target.id] = value
                if isinstance(node.value, ast.Dict):
                    for key, item in zip(node.value.keys, node.value.values):
                        literal = _literal(item)
                        if isinstance(key, ast.Constant) and isinstance(key.value, str) and literal is not None:
                            add(key.value, node.lineno, literal, False)
            elif isinstance(node, ast.Call):
                name = _dotted(node.func)
                if name.endswith("add_argument") and node.args and isinstance(node.args[0], ast.Constant) and str(node.args[0].value).startswith("-"):
                    default = next((_literal(k.value) for k in node.keywords if k.arg == "default"), None)
                    if default is not None:
                        add(str(node.args[0].value).lstrip("-").replace("-", "_"), node.lineno, default, False)
                    continue
                for kw in node.keywords:
                    literal = _literal(kw.value) if kw.arg else None
                    if literal is not None:
                        add(kw.arg, node.lineno, literal, False)
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Name):
                values = _loop_values(node.iter, lists)
                if values is not None:
                    add(node.target.id, getattr(node, "lineno", getattr(node.iter, "lineno", 0)), values, True)
        for occurrences in found.values():
            occurrences.sort(key=lambda o: (o.line, o.name))
        return found


def _literal(node: ast.AST) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, tuple):
        value = list(value)
    return value if _comparable(value) else None


def _loop_values(node: ast.AST, lists: Mapping[str, Any]) -> list[Any] | None:
    literal = _literal(node)
    if isinstance(literal, list):
        return literal
    if isinstance(node, ast.Name) and node.id in lists:
        return list(lists[node.id])
    if isinstance(node, ast.Call) and _dotted(node.func) == "range":
        args = [_literal(a) for a in node.args]
        if args and all(isinstance(a, int) for a in args):
            values = list(range(*args))
            return values if 0 < len(values) <= 1000 else None
    return None


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _normal(name: str) -> str:
    name = name.strip("_").lower()
    return _ALIASES.get(name, name)


def _module_file(target: str) -> str | None:
    module = ".".join(str(target).split(".")[:-1])
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    try:
        return Path(spec.origin).resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return None


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------- records


def record_path(experiment: str, reviews_dir: Path | None = None) -> Path:
    """Where the review record of ``experiment`` lives."""
    return Path(reviews_dir or REVIEWS_DIR) / f"{experiment}.yaml"


def read_record(experiment: str, reviews_dir: Path | None = None) -> dict[str, Any] | None:
    """The review record of ``experiment``, or ``None`` when there is none; a malformed record raises :class:`ReviewError`."""
    import yaml

    path = record_path(experiment, reviews_dir)
    if not path.is_file():
        return None
    try:
        record = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ReviewError(f"{_shown(path)} is not valid YAML: {_first_line(str(exc))}") from None
    if not isinstance(record, dict) or record.get("schema") != RECORD_SCHEMA:
        raise ReviewError(f"{_shown(path)} is not an axisflow review record (schema {RECORD_SCHEMA})")
    for key in ("experiment", "fingerprint", "facts", "verdicts", "reviewer"):
        if key not in record:
            raise ReviewError(f"{_shown(path)} has no {key!r}; record the review again with axisflow review --record")
    return record


def write_record(
    ws: Worksheet, reviewer: str, verdicts: Mapping[str, Any], reviews_dir: Path | None = None, now: datetime | None = None
) -> Path:
    """Check ``verdicts`` (one ``{verdict, answer}`` per trap) and store the record of ``ws``; return its path.

    Raises :class:`ReviewError` (and writes nothing) when the reviewer is
    missing, a trap is unanswered or unknown, a verdict is not ``pass`` or
    ``fail``, or an answer is empty.
    """
    import yaml

    if not isinstance(reviewer, str) or not reviewer.strip():
        raise ReviewError("a review record needs --reviewer NAME (a person, or the agent and who ran it)")
    checked = _check_verdicts(verdicts)
    record = {
        "schema": RECORD_SCHEMA,
        "experiment": ws.experiment,
        "reviewer": reviewer.strip(),
        "reviewed_at": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "overrides": list(ws.overrides),
        "fingerprint": ws.fingerprint,
        "verdicts": checked,
        "flags": {s.trap: list(s.flags) for s in ws.sections if s.flags},
        "facts": json.loads(json.dumps(ws.facts(), default=str)),
    }
    path = record_path(ws.experiment, reviews_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"# Fidelity review of experiment {ws.experiment}: written by `axisflow review --record`.\n"
        "# The run gate compares `facts` with the composed experiment; edit the verdicts by recording again.\n"
    )
    path.write_text(header + yaml.safe_dump(record, sort_keys=False, width=120, allow_unicode=True))
    return path


def _check_verdicts(verdicts: Any) -> dict[str, dict[str, str]]:
    if not isinstance(verdicts, Mapping):
        raise ReviewError("verdicts must map each trap to {verdict: pass|fail, answer: ...}")
    unknown = sorted(set(verdicts) - set(TRAPS))
    if unknown:
        raise ReviewError(f"unknown trap {unknown[0]!r}; the traps are {', '.join(TRAPS)}")
    missing = [t for t in TRAPS if t not in verdicts]
    if missing:
        raise ReviewError(f"no verdict for {missing[0]}; a review answers all five traps: {', '.join(TRAPS)}")
    out = {}
    for trap in TRAPS:
        entry = verdicts[trap]
        if not isinstance(entry, Mapping):
            raise ReviewError(f"verdicts.{trap} must be {{verdict: pass|fail, answer: ...}}, got {entry!r}")
        verdict, answer = entry.get("verdict"), entry.get("answer")
        if verdict not in VERDICTS:
            raise ReviewError(f"verdicts.{trap}.verdict is {verdict!r}; must be one of {', '.join(VERDICTS)}")
        if not isinstance(answer, str) or not answer.strip():
            raise ReviewError(f"verdicts.{trap}.answer is empty; say what you checked and why the verdict holds")
        out[trap] = {"verdict": verdict, "answer": " ".join(answer.split())}
    return out


def check(ws: Worksheet, reviews_dir: Path | None = None) -> Status:
    """How ``ws`` stands against its record (see :class:`Status`)."""
    path = record_path(ws.experiment, reviews_dir)
    shown = _shown(path)
    record = read_record(ws.experiment, reviews_dir)
    traps = tuple(TRAPS)
    if record is None:
        return Status("missing", traps, f"experiment {ws.experiment} has no review record ({shown})", None, path)
    if _digest(record["facts"]) != record["fingerprint"]:
        return Status("invalid", traps, f"{shown}: its facts do not match its fingerprint (edited by hand?); record the review again", record, path)
    by = f"reviewed by {record['reviewer']} on {record.get('reviewed_at', '?')}"
    if record["fingerprint"] != ws.fingerprint:
        old, new = record["facts"], json.loads(json.dumps(ws.facts(), default=str))
        changed = [t for t in TRAPS if _digest(old.get(t)) != _digest(new.get(t))]
        detail = "; ".join(f"{t} ({_changes(old.get(t), new.get(t))})" for t in changed)
        return Status("stale", tuple(changed), f"experiment {ws.experiment}: facts changed since the review in {shown} ({by}): {detail}", record, path)
    failed = tuple(t for t in TRAPS if record["verdicts"].get(t, {}).get("verdict") != "pass")
    if failed:
        why = record["verdicts"].get(failed[0], {}).get("answer", "")
        return Status("failed", failed, f"the review in {shown} ({by}) fails {', '.join(failed)}: {why}", record, path)
    return Status("reviewed", (), f"{shown}, {by}: current", record, path)


def _changes(old: Any, new: Any, limit: int = 2) -> str:
    diffs = list(_diff(old, new, ""))
    shown = ", ".join(f"{path or 'all'}: {_short(a)} -> {_short(b)}" for path, a, b in diffs[:limit])
    return shown + (f" and {len(diffs) - limit} more" if len(diffs) > limit else "")


def _diff(old: Any, new: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(set(old) | set(new), key=str):
            yield from _diff(old.get(key, "(absent)"), new.get(key, "(absent)"), f"{path}.{key}" if path else str(key))
    elif json.dumps(old, sort_keys=True, default=str) != json.dumps(new, sort_keys=True, default=str):
        yield path, old, new


def _short(value: Any, width: int = 60) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def gate(
    config: Mapping[str, Any],
    spec: ExperimentSpec,
    overrides: Sequence[str],
    allow: Sequence[str] = (),
    reviews_dir: Path | None = None,
) -> dict[str, Any]:
    """The review gate of a launch: the verdict to record in the run's launch metadata.

    Returns ``{"verdict": "reviewed" | "overridden", ...}``. Raises
    :class:`ReviewError` with one line when the record is missing, stale,
    failing or malformed and ``allow`` (trap names, or ``all``) does not cover
    every trap that blocks.
    """
    allow = sorted({a for a in allow})
    unknown = [a for a in allow if a not in TRAPS and a != ALL]
    if unknown:
        raise ReviewError(f"--review-allow {unknown[0]!r} is not a trap; use {', '.join(TRAPS)} or {ALL}")
    ws = build(config, spec, overrides)
    status = check(ws, reviews_dir)
    info: dict[str, Any] = {
        "verdict": "reviewed",
        "experiment": ws.experiment,
        "fingerprint": ws.fingerprint,
        "record": _shown(status.path),
        "reviewer": (status.record or {}).get("reviewer"),
        "reviewed_at": (status.record or {}).get("reviewed_at"),
        "allowed": allow,
    }
    if status.state == "reviewed":
        return info
    if ALL in allow or set(status.blocking) <= set(allow):
        return {**info, "verdict": "overridden", "state": status.state, "unreviewed": list(status.blocking), "reason": status.message}
    needed = ",".join(t for t in status.blocking if t not in allow)
    command = "uv run axisflow review " + " ".join(shlex.quote(o) for o in overrides)
    raise ReviewError(
        f"{status.message}; review it ({command.strip()} --prompt, then --record) or proceed explicitly with --review-allow {needed}"
    )


def prompt(ws: Worksheet, status: Status | None = None) -> str:
    """A self-contained brief for a reviewer (a person or an agent): the worksheet, the questions, the answer format."""
    command = [shlex.quote(o) for o in ws.overrides]
    answer = "\n".join(
        f"  {trap}:\n    verdict: pass    # or fail\n    answer: >-\n      <what you checked, against which file or fact, and why the verdict holds>"
        for trap in TRAPS
    )
    return "\n".join(
        [
            f"You are the fidelity reviewer of the axisflow experiment {ws.experiment!r}, before it runs.",
            "",
            "Five traps pass every mechanical check and still produce a number that looks reasonable and is wrong: the split",
            "convention, reshuffle symmetry, axes that do not match the source, one name for two quantities, and a selection",
            "budget (early stopping, a search, best-of-N) that differs between a method and its baseline. The worksheet below",
            "lists, for each trap, facts extracted mechanically from the composed config and from what the implementations",
            "declare, the flags a script raised, and the question you must answer. Flags are prompts, not verdicts: a flag",
            "may be intended (then say why it is right), and an unflagged trap may still be wrong. Read the files listed",
            "under 'read' (paths relative to the repository root) to check the declarations against the code. Judge intent:",
            "does the experiment measure what its question asks, the way its source did? Do not run anything.",
            "",
            ws.render("text", status),
            "",
            "Answer with YAML only, in exactly this shape (one entry per trap, verdict pass or fail, a non-empty answer):",
            "",
            "reviewer: <your name, or the agent and who ran it>",
            "verdicts:",
            answer,
            "",
            "The answers are recorded, bound to the fingerprint above, with:",
            "  " + " ".join(["uv run axisflow review", *command, "--record --answers ANSWERS.yaml"]),
        ]
    )


def _shown(path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def _first_line(text: str) -> str:
    return " ".join(text.split())[:200]


# ---------------------------------------------------------------------------- command line


def _experiment_files(config_dir: Path = CONFIG_DIR) -> list[str]:
    return sorted(p.stem for p in (config_dir / "experiment").glob("*.yaml"))


def _parse_verdicts(items: Sequence[str]) -> dict[str, dict[str, str]]:
    out = {}
    for item in items:
        trap, sep, rest = item.partition("=")
        verdict, _, answer = rest.partition(":")
        if not sep or trap.strip() not in TRAPS:
            raise ReviewError(f"--verdict {item!r}: expected TRAP=pass:ANSWER or TRAP=fail:ANSWER with TRAP one of {', '.join(TRAPS)}")
        out[trap.strip()] = {"verdict": verdict.strip(), "answer": answer.strip()}
    return out


def _load_answers(path: str) -> dict[str, Any]:
    import yaml

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
        answers = yaml.safe_load(text)
    except OSError as exc:
        raise ReviewError(f"--answers {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ReviewError(f"--answers {path} is not valid YAML: {_first_line(str(exc))}") from None
    if not isinstance(answers, dict) or "verdicts" not in answers:
        raise ReviewError(f"--answers {path} must be a mapping with 'verdicts' (and 'reviewer'); see axisflow review --prompt")
    return answers


def _cmd_review(args: argparse.Namespace) -> int:
    chosen = [name for name in ("prompt", "check", "record") if getattr(args, name)]
    if len(chosen) > 1:
        raise ReviewError(f"--{chosen[0]} and --{chosen[1]} cannot be combined")
    if args.all and not args.check:
        raise ReviewError("--all goes with --check")
    if args.check and args.all:
        if args.overrides:
            raise ReviewError("--check --all checks every configs/experiment/*.yaml; drop the overrides")
        bad = 0
        for name in _experiment_files():
            status = check(worksheet_for([f"experiment={name}"]))
            bad += status.state != "reviewed"
            print(f"{'ok' if status.state == 'reviewed' else status.state}: experiment={name}: {status.message}")
        return 1 if bad else 0
    if not args.record and (args.reviewer or args.answers or args.verdict):
        raise ReviewError("--reviewer, --answers and --verdict go with --record")
    ws = worksheet_for(args.overrides)
    if args.record:
        answers = _load_answers(args.answers) if args.answers else {}
        verdicts = {**(answers.get("verdicts") or {}), **_parse_verdicts(args.verdict or [])}
        reviewer = args.reviewer or answers.get("reviewer")
        path = write_record(ws, reviewer, verdicts)
        status = check(ws)
        print(f"recorded {_shown(path)} (fingerprint {ws.fingerprint}): {status.state}")
        return 0
    status = check(ws)
    if args.check:
        print(f"{'ok' if status.state == 'reviewed' else status.state}: {status.message}")
        return 0 if status.state == "reviewed" else 1
    print(prompt(ws, status) if args.prompt else ws.render(args.format, status))
    return 0


def register(sub: Any) -> None:
    """Add the ``review`` subcommand to the ``axisflow`` parser."""
    review = sub.add_parser(
        "review",
        help="the fidelity review: print the worksheet, a reviewer's brief (--prompt), record a review, or check one",
        description=(
            "Print the fidelity worksheet of the composed experiment: for each of the five traps (split convention, "
            "reshuffle symmetry, axes vs source, same name / different quantity, sweep-override inflation) the facts "
            "extracted from the config and the implementations' declarations, the flags, and the question a reviewer "
            "answers. --record stores the answers in reviews/<experiment>.yaml, bound to the facts; run, resume and a "
            "scheduler's create refuse to start while that record is missing or stale (unless --review-allow)."
        ),
    )
    review.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. experiment=smoke")
    review.add_argument("--format", default="text", choices=["text", "md", "json"], help="worksheet format (default text)")
    review.add_argument("--prompt", action="store_true", help="print a self-contained brief for a reviewer (person or agent)")
    review.add_argument("--check", action="store_true", help="exit 0 when the record is current, 1 when missing, stale or failing")
    review.add_argument("--all", action="store_true", help="with --check: every experiment under configs/experiment")
    review.add_argument("--record", action="store_true", help="record a review (with --reviewer and --answers FILE or --verdict)")
    review.add_argument("--reviewer", help="who reviewed (with --record)")
    review.add_argument("--answers", metavar="FILE", help="YAML answers in the --prompt format ('-' reads stdin)")
    review.add_argument(
        "--verdict", action="append", metavar="TRAP=pass|fail:ANSWER", help="one trap's verdict and answer (repeat for each trap)"
    )
    review.set_defaults(func=_cmd_review)
