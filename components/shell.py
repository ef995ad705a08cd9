"""The load-bearing wiring every axisflow shell shares.

* :func:`parse_config` is the Metaflow ``Config`` parser: a pure function that
  composes the Hydra tree from the overrides carried in its JSON input.
* :func:`prepare_argv` is the flow file's entry point hook: it turns Hydra-style
  ``key=value`` words after ``run`` into ``--config-value``, validates the config
  (one-line errors, exit 2, before Metaflow starts), enforces the
  ``single_worker`` contract (on ``resume`` and on a scheduler's ``create``
  too), runs the lint gate on ``run``/``resume`` and on ``argo-workflows
  create`` (and the other schedulers' ``create``), captures the checkout's
  git state (see :mod:`components.engine.provenance` for why here), and tags the run
  (or a deployment's runs) ``experiment:<name>`` so readers can pick one
  experiment's runs cheaply (:func:`components.outputs.runs.select_runs`).
* :class:`ship_project` is a flow mutator that puts ``components/`` and
  ``configs/`` into the code package, so remote tasks can import them, and
  applies ``experiment.resources`` to the branch step as ``@resources``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Mapping, NoReturn

from metaflow import FlowMutator
from metaflow.packaging_sys import ContentType

from components.suggest import did_you_mean
from components.spec.config import CONFIG_DIR, ConfigError, config_hash, load_spec
from components.constants import REPO_ROOT, CONFIG_NAME, DEFAULT_CONFIG, EXPERIMENT_TAG_PREFIX, LAUNCH_KEY
from components.engine.provenance import ensure_user, dirty_warning, git_state, resume_review_tag, resume_tag
from components.engine.reuse import input_changes, launch_inputs

# CONFIG_NAME, DEFAULT_CONFIG and LAUNCH_KEY live in components.constants; flow files import them from here.
__all__ = [
    "CONFIG_NAME", "DEFAULT_CONFIG", "LAUNCH_KEY", "ensure_user", "experiment_tag", "parse_config", "prepare_argv", "ship_project",
]

ROOT = REPO_ROOT

# ``key=value``, ``+key=value``, ``++key=value``, ``~key=value`` and Hydra's bare deletion ``~key``.
_OVERRIDE = re.compile(r"^(?:[~+]{0,2}[A-Za-z_][\w.@/-]*=|~[A-Za-z_][\w.@/-]*$)")
_VALUE_OPTIONS = {
    "--tag", "--with", "--run-id-file", "--runner-attribute-file", "--namespace", "--max-workers",
    "--max-num-splits", "--origin-run-id", "--step-to-rerun", "--max-log-size", "--user-namespace",
    "--decospecs", "--config-value", "--config",
}
# Commands whose config this shell composes; everything else (notably the internal
# ``step`` command that executes a task) passes through untouched.
_COMMANDS = ("run", "resume", "show", "check", "package", "argo-workflows", "step-functions", "airflow")
# Commands that start (or deploy) a run; a dirty checkout warns on these.
_LAUNCHES = ("run", "argo-workflows", "step-functions", "airflow")
# Schedulers whose ``create`` deploys the flow: every run they start later uses that deployment.
_DEPLOYERS = ("argo-workflows", "step-functions", "airflow")


def parse_config(text: str | dict[str, Any]) -> dict[str, Any]:
    """Metaflow ``Config`` parser: compose the Hydra tree from ``{"overrides": [...]}``.

    Accepts the JSON text (or a dict, as ``metaflow.Runner`` passes) with the keys
    ``overrides`` (list of Hydra overrides) and optionally ``lint`` and
    ``review`` (the gates' verdicts) and ``git`` (the launching checkout's state), recorded by
    :func:`prepare_argv`. Returns the resolved config with that launch metadata
    under ``axisflow``. Pure: clears Hydra's global state.
    """
    value = json.loads(text) if isinstance(text, str) else dict(text)
    unknown = set(value) - {"overrides", "lint", "review", "git", "inputs", "slots"}
    if unknown:
        expected = "'overrides' (and 'lint', 'review', 'git', 'inputs', 'slots')"
        raise ConfigError(f"config value has unknown key(s) {sorted(unknown)}; expected {expected}")
    overrides = [str(o) for o in value.get("overrides", [])]
    config, _ = _launched(overrides)
    config[LAUNCH_KEY] = {
        "overrides": overrides,
        "config_hash": config_hash(config),
        "lint": value.get("lint", {"verdict": "not run"}),
        "review": value.get("review", {"verdict": "not run"}),
        "git": value.get("git", {"commit": None, "reason": "not captured: the config value came without git state"}),
    }
    if "inputs" in value:
        config[LAUNCH_KEY]["inputs"] = value["inputs"]
    if "slots" in value:
        slots = value["slots"]
        if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
            raise ConfigError(f"config value key 'slots' must be a positive integer (tasks that run at once), got {slots!r}")
        config[LAUNCH_KEY]["slots"] = slots
    return config


#: What :func:`prepare_argv` composed and checked, for the parser's one call in the same process: see :func:`_launched`.
_HANDED: dict[tuple[Any, ...], tuple[dict[str, Any], Any]] = {}


def _config_key(overrides: list[str]) -> tuple[Any, ...]:
    """The overrides and a digest of every file under the config root: what a composed config depends on."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in Path(CONFIG_DIR).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(CONFIG_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    return (tuple(overrides), digest.hexdigest())


def _checked(overrides: list[str]) -> tuple[dict[str, Any], Any]:
    """:func:`~components.spec.config.load_spec` for the launcher, leaving a private copy for :func:`_launched`.

    Metaflow calls :func:`parse_config` in the launching process right after
    :func:`prepare_argv` composed and checked the same overrides; composing and
    checking again costs every launch a second Hydra compose.
    """
    import copy

    _HANDED.clear()
    config, spec = load_spec(overrides)
    _HANDED[_config_key(overrides)] = copy.deepcopy((config, spec))
    return config, spec


def _launched(overrides: list[str]) -> tuple[dict[str, Any], Any]:
    """The launcher's checked config for these overrides, taken once; otherwise composed and checked afresh.

    Taken, not kept: a second parse (``resume``, a deployment, a test) composes
    again, so the parser stays a pure function of its input and the config files,
    and nothing the first caller does to its copy reaches anyone else.
    """
    found = _HANDED.pop(_config_key(overrides), None) if _HANDED else None
    return found if found is not None else load_spec(overrides)


def experiment_tag(name: str) -> str:
    """The run tag naming a run's experiment, ``experiment:<name>``; :func:`components.outputs.runs.experiment_of` reads it."""
    return EXPERIMENT_TAG_PREFIX + name


def _split_overrides(args: list[str]) -> tuple[list[str], list[str], list[str], list[str]]:
    """Split the words after the command into (overrides, --lint-allow codes, --review-allow traps, the rest)."""
    overrides: list[str] = []
    allow: list[str] = []
    review_allow: list[str] = []
    rest: list[str] = []
    lists = {"--lint-allow": allow, "--review-allow": review_allow}
    i = 0
    while i < len(args):
        word = args[i]
        if word in lists and i + 1 < len(args):
            lists[word].extend(c.strip() for c in args[i + 1].split(",") if c.strip())
            i += 2
            continue
        flag = word.split("=", 1)[0]
        if flag in lists and "=" in word:
            lists[flag].extend(c.strip() for c in word.split("=", 1)[1].split(",") if c.strip())
        elif _OVERRIDE.match(word) and not (rest and rest[-1] in _VALUE_OPTIONS):
            overrides.append(word)
        else:
            rest.append(word)
        i += 1
    return overrides, allow, review_allow, rest


def _max_workers(args: list[str]) -> int | None:
    for i, word in enumerate(args):
        if word == "--max-workers" and i + 1 < len(args):
            return int(args[i + 1])
        if word.startswith("--max-workers="):
            return int(word.split("=", 1)[1])
    return None


def _fail(message: str) -> NoReturn:
    print(f"axisflow: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _uv_environment() -> bool:
    """Whether this launch uses Metaflow's ``--environment=uv`` (which packages ``pyproject.toml`` and ``uv.lock`` itself)."""
    argv = sys.argv
    return any(word == "--environment=uv" or (word == "--environment" and argv[i + 1:i + 2] == ["uv"]) for i, word in enumerate(argv))


def _lint_gate(flow_file: Path, allow: list[str]) -> dict[str, Any]:
    """Lint the flow file and ``components/``; block on findings not explicitly allowed."""
    import lint

    try:
        findings = lint.check_paths([str(flow_file), str(ROOT / "components")])
    except lint.LintError as exc:
        _fail(f"the lint gate could not run: {exc}")
    # Only errors (hazards that change numbers) block; warnings and infos are printed and recorded.
    blocking = [f for f in lint.blocking(findings) if f.code not in allow]
    notes = [f for f in findings if f.severity != "error"]
    if notes:
        print(lint.format_findings(notes), file=sys.stderr)
        print(f"axisflow: the lint gate reports {len(notes)} warning/info finding(s); they do not block the run", file=sys.stderr)
    if blocking:
        print(lint.format_findings(blocking), file=sys.stderr)
        codes = ",".join(sorted({f.code for f in blocking}))
        _fail(f"the lint gate found {len(blocking)} error(s) (it blocks on errors only); fix them, or proceed explicitly with --lint-allow {codes}")
    errors = lint.blocking(findings)
    return {
        "verdict": "clean" if not errors else "overridden",
        "allowed": sorted(set(allow)),
        "findings": [f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}" for f in findings],
    }


def _review_gate(config: Mapping[str, Any], spec: Any, overrides: list[str], allow: list[str]) -> dict[str, Any]:
    """Check the experiment's fidelity review record; block when it is missing or stale and not explicitly allowed."""
    from components.gates.review import ReviewError, gate

    try:
        return gate(config, spec, overrides, allow)
    except (ReviewError, ConfigError) as exc:
        _fail(str(exc))


def _check_flags(words: list[str]) -> None:
    """Refuse, before Metaflow creates a run, a ``--reuse`` mode it would only reject inside ``start``, and a bare gate override."""
    from components.engine.reuse import MODES

    for i, word in enumerate(words):
        flag, _, inline = word.partition("=")
        value = inline if "=" in word else (words[i + 1] if i + 1 < len(words) else None)
        if flag == "--reuse" and value not in MODES:
            if not value or value.startswith("-"):
                _fail(f"--reuse needs a mode: {', '.join(MODES)}")
            _fail(f"--reuse {value!r} is not a reuse mode{did_you_mean(value, MODES)}; choose one of {', '.join(MODES)}")
        if flag in ("--lint-allow", "--review-allow") and (value is None or value.startswith("-") or not value.strip()):
            what = "CODE[,CODE] (lint codes, e.g. AXF601)" if flag == "--lint-allow" else "TRAP[,TRAP] or all"
            _fail(f"{flag} needs {what}")


#: Metaflow's count options, which it accepts at 0 or below and then hangs (``--max-workers 0``) or misbehaves.
_POSITIVE = ("max_workers", "max_num_splits", "max_log_size")
#: The options Metaflow's ``run`` and ``resume`` take after the command (metaflow 2.19: ``cli_components/run_cmds.py``),
#: as (name, type) with ``bool`` for a flag, and ``resume``'s one argument. Written down here rather than read from
#: Metaflow: importing its command modules before it builds its own command line breaks the flow's Parameters.
_RUN_OPTIONS = (
    ("--tag", str), ("--max-workers", int), ("--max-num-splits", int), ("--max-log-size", int), ("--with", str),
    ("--run-id-file", str), ("--runner-attribute-file", str), ("--namespace", str),
)
_RESUME_OPTIONS = (
    *_RUN_OPTIONS, ("--resume-identifier", str), ("--reentrant", bool), ("--clone-only", bool), ("--run-id", str), ("--origin-run-id", str),
)


def _check_options(command: str, words: list[str]) -> None:
    """Parse the words Metaflow will see after ``run``/``resume`` with its option types, before it creates anything.

    Metaflow reports ``--max-workers two`` only after creating the local
    datastore, with a usage block, and accepts ``--max-workers 0`` (the run then
    waits forever). Parsing the same options here, Metaflow's ``run``/``resume``
    options plus the flow's Parameters, makes a wrong type, an unknown option
    or a missing value one line, exit 2, nothing written.
    """
    from metaflow._vendor import click  # the click Metaflow parses its command line with

    declared = {"run": _RUN_OPTIONS, "resume": _RESUME_OPTIONS}.get(command)
    if declared is None:
        return
    params: list[Any] = [
        click.Option([name], is_flag=True) if kind is bool else click.Option([name], type=kind, multiple=name in ("--tag", "--with"))
        for name, kind in declared
    ]
    if command == "resume":
        params.append(click.Argument(["step_to_rerun"], required=False))
    flow_options = _flow_options()
    params += flow_options or []
    settings = {"ignore_unknown_options": flow_options is None, "allow_extra_args": flow_options is None}
    try:
        ctx = click.Command(command, params=params, context_settings=settings).make_context(command, list(words))
    except click.NoSuchOption as exc:  # click's own suggestion is a second sentence; ours is the one-line form
        known = [name for param in params for name in getattr(param, "opts", ()) if name.startswith("--")]
        _fail(f"{command}: no such option: {exc.option_name}{did_you_mean(exc.option_name, known)} (see {command} --help)")
    except click.ClickException as exc:
        _fail(f"{command}: {exc.format_message()} (see {command} --help)")
    for name in _POSITIVE:
        value = ctx.params.get(name)
        if isinstance(value, int) and value < 1:
            _fail(f"{command}: --{name.replace('_', '-')} must be a positive integer, got {value}")


def _flow_options() -> list[Any] | None:
    """The flow's Parameters as options (``--reuse``), or ``None`` when the flow class cannot be found."""
    from metaflow import FlowSpec, Parameter
    from metaflow._vendor import click

    main = sys.modules.get("__main__")
    # A flow class, or a flow mutator wrapping one (``@ship_project`` keeps the class as ``_flow_cls``).
    candidates = [getattr(v, "_flow_cls", v) for v in vars(main).values()] if main else []
    flows = [v for v in candidates if isinstance(v, type) and issubclass(v, FlowSpec) and v is not FlowSpec]
    if len(flows) != 1:
        return None
    flow = flows[0]
    found = {value.name for name in dir(flow) if isinstance(value := getattr(flow, name, None), Parameter)}
    return [click.Option([f"--{name}"], type=str) for name in sorted(found)]


def prepare_argv(argv: list[str], flow_file: str) -> list[str]:
    """Rewrite a flow's command line before Metaflow parses it (see the module docstring).

    Returns the new ``argv``. Exits with status 2 and a one-line message on a
    config error, a ``single_worker`` contract violated by ``--max-workers``,
    lint findings that were not allowed with ``--lint-allow CODE[,CODE]``, or a
    missing or stale review not allowed with ``--review-allow TRAP[,TRAP]``.
    """
    ensure_user()
    _exit_quickly()
    head, tail = [argv[0]], list(argv[1:])
    command_at = next((i for i, w in enumerate(tail) if w in _COMMANDS and (i == 0 or tail[i - 1] not in _VALUE_OPTIONS)), None)
    if command_at is None:
        return argv
    before, command, after = tail[:command_at], tail[command_at], tail[command_at + 1 :]
    _check_flags(after)
    overrides, allow, review_allow, after = _split_overrides(after)
    _check_options(command, after)

    # A value already given with --config-value (metaflow.Runner does this) contributes its overrides too.
    given: dict[str, Any] = {}
    for i, word in enumerate(before):
        if word == "--config-value" and i + 2 < len(before) and before[i + 1] == CONFIG_NAME:
            given = json.loads(before[i + 2])
            del before[i : i + 3]
            break
    overrides = [*given.get("overrides", []), *overrides]
    allow = [*given.get("lint", {}).get("allowed", []), *allow]
    review_allow = [*given.get("review", {}).get("allowed", []), *review_allow]

    if command == "resume":
        if overrides:
            _fail(f"resume reuses the original run's config; drop the override(s) {' '.join(overrides)}")
        _lint_gate(Path(flow_file), allow)
        git = _launch_git(flow_file)
        origin = _origin_config(flow_file, after)
        tags = []
        if origin is not None:
            experiment = origin.get("experiment", {})
            if experiment.get("name"):
                after = [*after, "--tag", experiment_tag(experiment["name"])]
            after = _enforce_contract(experiment.get("name"), experiment.get("contract"), after)
            _warn_code_change(origin.get(LAUNCH_KEY, {}).get("git") or {}, git)
            # The resumed tasks run this checkout's code on the original config: review that pair.
            original = [str(o) for o in origin.get(LAUNCH_KEY, {}).get("overrides", [])]
            try:
                config, spec = load_spec(original)
            except ConfigError as exc:
                _fail(f"the resumed run's config no longer validates: {exc}")
            _refuse_changed_inputs(origin, spec)
            tags = ["--tag", resume_review_tag(_review_gate(config, spec, original, review_allow))]
        # The resumed run's re-executed tasks run this checkout's code: record it as a run tag.
        after = _summarise_failure(flow_file, after)
        return [*head, *before, command, *after, "--tag", resume_tag(git), *tags]

    try:
        config, spec = _checked(overrides)
    except ConfigError as exc:
        _fail(str(exc))
    value: dict[str, Any] = {"overrides": overrides}
    # A deployment gets the same gates as a run: the scheduler runs it later with no shell in front.
    if command == "run" or (command in _DEPLOYERS and "create" in after):
        _check_on_data(spec)
        # The experiment's name as a run tag lets readers pick an experiment's runs without loading configs.
        after = _enforce_contract(spec.name, spec.contract, [*after, "--tag", experiment_tag(spec.name)])
        value["lint"] = _lint_gate(Path(flow_file), allow)
        value["review"] = _review_gate(config, spec, overrides, review_allow)
        # Code, table and environment hashes at launch: start trusts the table's, branches verify against them.
        value["inputs"] = launch_inputs(spec)
    # Git state is captured here, in the launching checkout: remote tasks have no .git, and the
    # config value (stored with the run, shipped to every task, reused on resume) carries it.
    value["git"] = _launch_git(flow_file, warn=command in _LAUNCHES)
    if command == "run":
        slots = _local_slots([*before, *after])
        if slots is not None:
            value["slots"] = slots
        after = _summarise_failure(flow_file, after)
    return [*head, *before, "--config-value", CONFIG_NAME, json.dumps(value), command, *after]


#: Metaflow's own default for ``--max-workers``.
_DEFAULT_WORKERS = 16
#: ``--with`` decorators that send every task to a scheduler instead of this machine.
_REMOTE = ("kubernetes", "batch")


def _local_slots(args: list[str]) -> int | None:
    """How many tasks of a local ``run`` run at once: ``--max-workers`` (Metaflow's 16 when absent), at most this process's cores.

    ``args`` are the words before and after the command. ``None`` when the
    tasks run on a scheduler (``--with kubernetes`` or ``--with batch``, before
    or after ``run``, or in ``METAFLOW_DEFAULT_DECOSPECS``):
    ``experiment.branches_per_task: auto`` then gives every branch its own task
    (:func:`components.engine.planner.task_count`).
    """
    from metaflow.metaflow_config import DEFAULT_DECOSPECS

    decorators = [args[i + 1] for i, w in enumerate(args[:-1]) if w == "--with"] + [w.split("=", 1)[1] for w in args if w.startswith("--with=")]
    decorators += (DEFAULT_DECOSPECS or "").split()  # METAFLOW_DEFAULT_DECOSPECS adds them to every run
    if any(d.split(":", 1)[0].strip() in _REMOTE for d in decorators):
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(_max_workers(args) or _DEFAULT_WORKERS, cores))


def _summarise_failure(flow_file: str, after: list[str]) -> list[str]:
    """Arrange for a failed run's one line that matters to be printed last, after Metaflow's tracebacks.

    A failing task prints its one-line reason first (``axisflow: error: branch
    ..., method ...: ValueError: ...``, see :func:`components.engine.branch.run_branch`),
    then its traceback, and Metaflow adds its own summary, so the line is
    easily 170 lines up. At exit, this process reads the run's failed tasks
    (through the run id Metaflow writes to ``--run-id-file``, a temporary file
    unless the user gave one) and prints that line again as the last line.
    """
    import atexit
    import tempfile

    given = next((after[i + 1] for i, w in enumerate(after[:-1]) if w == "--run-id-file"), None)
    given = given or next((w.split("=", 1)[1] for w in after if w.startswith("--run-id-file=")), None)
    if given is None:
        handle, given = tempfile.mkstemp(prefix="axisflow-run-id-")
        os.close(handle)
        after = [*after, "--run-id-file", given]
        atexit.register(_remove, given)
    atexit.register(_print_failure, _flow_name(flow_file), given)  # registered last, so it runs before _remove
    return after


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _print_failure(flow: str | None, run_id_file: str) -> None:
    """Print the failed run's reason as the last line (nothing when the run succeeded or never started)."""
    try:
        run_id = Path(run_id_file).read_text().strip()
        if not flow or not run_id:
            return
        from components.outputs.failures import failure_line

        line = failure_line(flow, run_id)
    except Exception:  # noqa: BLE001 -- a summary must never mask Metaflow's own exit
        return
    if line:
        print(line, file=sys.stderr)


def _check_on_data(spec: Any) -> None:
    """Settings that contradict the data (:mod:`components.engine.launch`): one line, before Metaflow starts."""
    from components.engine.launch import check_on_data

    try:
        check_on_data(spec)
    except ConfigError as exc:
        _fail(str(exc))


def _exit_quickly() -> None:
    """Freeze every object when the process exits, so the interpreter's last garbage collections skip them.

    Every Metaflow task runs the flow file (hence this function) and ends as a
    process exit, which the runtime waits for before it starts the next task.
    The interpreter's finalization runs full collections over every object
    that metaflow, numpy, scipy and scikit-learn made at import: measured on a
    scikit-learn branch task at load average 13, 2.5-3.2 s from the step's end
    to the process's, 0.25-0.4 s with this. Registered first, it runs after
    every other exit handler; the OS still frees the memory, and what it skips
    (``__del__`` of cyclic garbage left at shutdown) Python never guarantees.
    """
    import atexit

    atexit.unregister(_freeze_at_exit)  # once per process, however often the hook runs
    atexit.register(_freeze_at_exit)


def _freeze_at_exit() -> None:
    """``gc.freeze()``, unless a nanobind extension (triton, which ``torch.compile`` loads) is in the process.

    nanobind reports every object of its types still alive at shutdown as a
    reference leak, a screenful per task; such a process exits the ordinary way.
    """
    import gc

    extensions = [m for m in list(sys.modules.values()) if str(getattr(m, "__file__", "") or "").endswith((".so", ".pyd"))]
    if not any(_nanobind(m) for m in extensions):
        gc.freeze()


def _nanobind(module: Any, depth: int = 0) -> bool:
    """Whether ``module`` (or a submodule it made, two levels down) defines a type of nanobind's metaclass."""
    import types

    for value in list(vars(module).values()):
        if isinstance(value, type) and type(value).__name__.startswith("nb_type"):
            return True
        inner = isinstance(value, types.ModuleType) and value.__name__.startswith(module.__name__ + ".")
        if inner and depth < 2 and _nanobind(value, depth + 1):
            return True
    return False


def _enforce_contract(name: str | None, contract: str | None, after: list[str]) -> list[str]:
    """Refuse ``--max-workers`` > 1 for a ``single_worker`` experiment, and default it to 1."""
    if contract != "single_worker":
        return after
    workers = _max_workers(after)
    if workers is not None and workers > 1:
        _fail(
            f"experiment {name!r} declares contract single_worker; it cannot run with "
            f"--max-workers {workers} (use --max-workers 1)"
        )
    return after if workers is not None else [*after, "--max-workers", "1"]


def _launch_git(flow_file: str, warn: bool = True) -> dict[str, Any]:
    """The flow checkout's git state; print the dirty-tree warning when asked."""
    state = git_state(flow_file)
    message = dirty_warning(state) if warn else None
    if message:
        print(message, file=sys.stderr)
    return state


def _flow_name(flow_file: str) -> str | None:
    """Name of the FlowSpec class the flow file instantiates under ``if __name__ == "__main__"``."""
    import ast

    try:
        tree = ast.parse(Path(flow_file).read_text())
    except (OSError, SyntaxError):
        return None
    classes = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
    for node in tree.body:
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
            called = [c.func.id for c in ast.walk(node) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)]
            for name in called:
                if name in classes:
                    return name
    return classes[-1] if classes else None


def _origin_config(flow_file: str, after: list[str]) -> dict[str, Any] | None:
    """The config of the run a ``resume`` continues (``--origin-run-id`` or Metaflow's latest run), if readable."""
    from metaflow import Run
    from metaflow.util import get_latest_run_id

    flow = _flow_name(flow_file)
    origin = next((after[i + 1] for i, w in enumerate(after[:-1]) if w == "--origin-run-id"), None)
    origin = origin or next((w.split("=", 1)[1] for w in after if w.startswith("--origin-run-id=")), None)
    try:
        origin = origin or get_latest_run_id(lambda *a, **k: None, flow)
        if flow is None or origin is None:
            return None
        return dict(Run(f"{flow}/{origin}", _namespace_check=False)["_parameters"].task[CONFIG_NAME].data)  # type: ignore[index]  # a run's _parameters step has its task
    except Exception:  # Metaflow itself reports a missing origin run; these checks are best effort
        print(f"axisflow: warning: could not read the config of the run being resumed ({flow}/{origin}); "
              "its contract is not enforced here (a single_worker experiment needs --max-workers 1)", file=sys.stderr)
        return None


def _warn_code_change(original: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    """Warn when a resume runs different code from the run it continues."""
    before = (original.get("commit"), original.get("diff_hash"))
    now = (current.get("commit"), current.get("diff_hash"))
    if original.get("commit") and before != now:
        print(
            f"axisflow: warning: resuming with different code: the original run used {_describe(before)}, this "
            f"checkout is {_describe(now)}; re-executed branches run the new code, cloned ones keep the old results",
            file=sys.stderr,
        )


def _refuse_changed_inputs(origin: Mapping[str, Any], spec: Any) -> None:
    """Refuse a ``resume`` whose code, table or environment differs from the original run's.

    Its re-executed branches would compute arms on the new inputs and store
    them under keys planned from the old ones (``start`` is cloned), and a
    later run would reuse those numbers for the old inputs. Refusing is the
    stricter of the two choices (the other: record the difference and store
    nothing); a new ``run`` reuses every arm that still matches.
    """
    recorded = origin.get(LAUNCH_KEY, {}).get("inputs")
    if not recorded:
        _fail("resume refused: the original run recorded no input hashes (launched by an older axisflow); start a new run")
    changes = input_changes(recorded, launch_inputs(spec))
    if changes:
        _fail(f"resume refused: {'; '.join(changes)} since the original run; start a new run (finished arms are reused)")


def _describe(state: tuple[str | None, str | None]) -> str:
    commit, diff = state
    return f"commit {(commit or 'none')[:12]}" + (f" + diff {diff}" if diff else "")


class ship_project(FlowMutator):
    """Add ``components/`` (every file), ``configs/`` (YAML) and ``data/`` (CSV, Parquet) to the flow's code package.

    They go in as code content, under ``.mf_code/`` in the package, which remote
    tasks put on ``PYTHONPATH``: ``import components`` works there and
    ``CONFIG_DIR`` is the packaged ``configs/``. ``README.md`` goes next to the
    flow file, where ``--environment=uv`` runs ``uv sync``: building this
    project's metadata needs the readme that ``pyproject.toml`` names.
    """

    def pre_mutate(self, mutable_flow):
        """Request ``experiment.resources`` for the branch step (:mod:`components.engine.resources`)."""
        from components.engine.resources import apply_resources

        apply_resources(mutable_flow)

    def add_to_package(self):
        """Yield the project's files, keeping their repository-relative paths."""
        # data/ holds the tables file-backed generators read (components.library.tables resolves
        # relative paths against the project root, which is .mf_code/ in a remote task).
        # Every file of components/ (not only *.py): an investigation may read a file next to its code, and the
        # code fingerprint a branch verifies covers it (components.engine.reuse.code_files).
        for folder, pattern in (("components", "*"), ("configs", "*.yaml"), ("data", "*.csv"), ("data", "*.parquet")):
            for path in sorted((ROOT / folder).rglob(pattern)):
                if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                    yield (str(path), path.relative_to(ROOT).as_posix(), ContentType.CODE_CONTENT)
        yield (str(ROOT / "README.md"), "README.md", ContentType.USER_CONTENT)
        # [tool.axisflow] allowed-targets: a remote task checks every _target_ against it before importing anything.
        # (--environment=uv ships pyproject.toml itself, at the same path.)
        if not _uv_environment():
            yield (str(ROOT / "pyproject.toml"), "pyproject.toml", ContentType.CODE_CONTENT)
