"""Finding and launching runs through Metaflow's own client and Runner APIs.

Reading: the local datastore is the ``.metaflow`` folder Metaflow finds by
walking up from the working directory (or ``METAFLOW_DATASTORE_SYSROOT_LOCAL``).
Every command that reads runs selects them here (:func:`select_runs`,
:func:`find_run`), by flow and by experiment.

Launching: :func:`run_flow` runs a flow through ``metaflow.Runner``, optionally
isolated in a datastore of its own (the prove gate and the tests do that).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from components.constants import REPO_ROOT, CONFIG_NAME, DEFAULT_FLOW, EXPERIMENT_TAG_PREFIX
from components.engine.provenance import ensure_user

__all__ = ["FLOWS_DIR", "experiment_of", "find_run", "isolated_env", "open_run", "run_config", "run_flow", "select_runs"]

FLOWS_DIR = REPO_ROOT / "flows"


def _client():
    """Metaflow's client with every user's runs visible (runs are shared evidence, not per-user)."""
    import metaflow

    ensure_user()
    metaflow.namespace(None)
    return metaflow


def _where() -> str:
    return os.environ.get("METAFLOW_DATASTORE_SYSROOT_LOCAL") or "the .metaflow folder above the working directory"


def run_config(run) -> dict[str, Any]:
    """The run's resolved config (with the shell's launch metadata under ``axisflow``); ``{}`` if unreadable.

    Read from the ``_parameters`` task, so unfinished and failed runs have one too.
    """
    try:
        return dict(run["_parameters"].task[CONFIG_NAME].data)
    except Exception:  # a run launched without the shell, or one killed before its parameters were saved
        return {}


def experiment_of(run) -> str | None:
    """The name of the experiment ``run`` ran (``experiment.name`` of its config), or ``None`` if unknown.

    The shell tags every run it launches ``experiment:<name>``; reading a tag
    costs nothing, so that is tried first. Runs launched before the tag
    existed (or carrying several such tags after a manual edit) are read from
    their config artifact.
    """
    named = {tag[len(EXPERIMENT_TAG_PREFIX):] for tag in run.tags if tag.startswith(EXPERIMENT_TAG_PREFIX)}
    if len(named) == 1:
        return named.pop()
    return run_config(run).get("experiment", {}).get("name")


def _flow(flow: str):
    from metaflow.exception import MetaflowNotFound

    mf = _client()
    try:
        return mf.Flow(flow)
    except MetaflowNotFound:
        raise LookupError(f"no flow {flow} in {_where()}; run `uv run flows/investigation.py run` first") from None


def select_runs(
    flow: str = DEFAULT_FLOW,
    experiment: str | None = None,
    *,
    successful: bool = False,
    limit: int | None = None,
) -> list[Any]:
    """Client ``Run`` objects of ``flow``, newest first: every run-selecting command goes through here.

    With ``experiment`` only that experiment's runs (see :func:`experiment_of`),
    with ``successful`` only runs that finished successfully, at most ``limit``.
    Raises ``LookupError`` with a one-line message when the flow has no runs
    here, or when ``experiment`` names no run of it at all (the message lists
    the experiments that do have runs).
    """
    kept, others, matched = [], set(), False
    for run in _flow(flow):  # the client yields runs newest first
        if experiment is not None:
            name = experiment_of(run)
            if name != experiment:
                others.add(name)
                continue
            matched = True
        if successful and not run.successful:
            continue
        kept.append(run)
        if limit is not None and len(kept) >= limit:
            break
    if experiment is not None and not matched:
        known = ", ".join(sorted(name for name in others if name is not None)) or "none"
        raise LookupError(f"--experiment {experiment}: flow {flow} has no run of that experiment (experiments with runs: {known})")
    return kept


def find_run(flow: str = DEFAULT_FLOW, run_id: str | None = None, experiment: str | None = None, *, successful: bool = True):
    """The run ``run_id`` of ``flow`` (a run id or a ``Flow/run_id`` pathspec), or else the latest one.

    Without ``run_id``: the latest successful run of ``flow``, of
    ``experiment`` when given (a newer run of another experiment is never
    "the latest"). With ``run_id`` and ``experiment``: the run must be of that
    experiment. With ``successful`` (the default) the run must have finished
    successfully, since only then does it hold results. Raises ``LookupError``
    with a one-line explanation when there is no such run.
    """
    from metaflow.exception import MetaflowInvalidPathspec, MetaflowNotFound

    if run_id is None:
        runs = select_runs(flow, experiment, successful=successful, limit=1)
        if not runs:
            which = f"experiment {experiment} of flow {flow}" if experiment else f"flow {flow}"
            raise LookupError(f"{which} has no successful run yet (see `axisflow runs`)")
        return runs[0]
    mf = _client()
    pathspec = run_id if "/" in run_id else f"{flow}/{run_id}"
    try:
        run = mf.Run(pathspec)
    except MetaflowNotFound:
        raise LookupError(f"no run {pathspec} in {_where()}") from None
    except MetaflowInvalidPathspec:
        raise LookupError(f"--run {run_id!r} is neither a run id nor a Flow/run_id pathspec") from None
    if experiment is not None and experiment_of(run) != experiment:
        raise LookupError(f"run {pathspec} is experiment {experiment_of(run)}, not {experiment} (drop --experiment or pick another run)")
    if successful and not run.successful:
        raise LookupError(f"run {pathspec} did not finish successfully; it has no results")
    return run


#: Metaflow settings a run in its own datastore keeps from the caller's environment: only who runs it.
_KEPT_SETTINGS = ("METAFLOW_USER",)


def isolated_env(datastore_root: str | Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a run that must read and write nothing but the local datastore under ``datastore_root``.

    Starts from ``environ`` (default ``os.environ``) and drops every
    ``METAFLOW_*`` setting but the user name: datastore and metadata choices,
    sysroots, S3 and service locations, profiles, default decorators
    (``--with kubernetes``)... ``METAFLOW_HOME`` points at a folder with no
    config in it, so neither ``~/.metaflowconfig`` nor a profile is read; the
    metadata and the datastore are pinned to local ones at
    ``<datastore_root>/.metaflow``.
    """
    root = Path(datastore_root).resolve()
    env = {k: v for k, v in (os.environ if environ is None else environ).items()
           if not k.startswith("METAFLOW_") or k in _KEPT_SETTINGS}
    env.update({
        "METAFLOW_HOME": str(root / ".metaflow" / "no-user-config"),
        "METAFLOW_DEFAULT_DATASTORE": "local",
        "METAFLOW_DEFAULT_METADATA": "local",
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(root),
    })
    return env


def run_flow(
    flow_file: str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    max_workers: int = 2,
    datastore_root: str | Path | None = None,
    env: dict[str, str] | None = None,
    lint_allow: tuple[str, ...] = (),
    review_allow: tuple[str, ...] = (),
    **run_options: Any,
):
    """Run ``flow_file`` with Hydra ``overrides`` through ``metaflow.Runner``; return the ``ExecutingRun``.

    With ``datastore_root`` the run is isolated in its own local datastore
    (metadata and artifacts) at ``<datastore_root>/.metaflow``, whatever the
    caller's Metaflow settings (environment, profile, home config; see
    :func:`isolated_env`), and its working directory is ``datastore_root``.
    ``env`` adds variables on top. The caller checks ``.status``: Runner does
    not raise when the flow fails.
    ``lint_allow`` and ``review_allow`` pass ``--lint-allow`` and
    ``--review-allow`` to the run gate.
    """
    from metaflow import Runner

    ensure_user()
    value: dict[str, Any] = {"overrides": list(overrides)}
    if lint_allow:
        value["lint"] = {"allowed": list(lint_allow)}
    if review_allow:
        value["review"] = {"allowed": list(review_allow)}
    cwd, run_env = None, None
    if datastore_root is not None:
        cwd = str(Path(datastore_root).resolve())
        # The local datastore folder exists before Metaflow looks for it, so nothing walks up to a
        # `.metaflow` (or its config.json) in a parent folder, such as a project's own datastore.
        (Path(cwd) / ".metaflow").mkdir(parents=True, exist_ok=True)
        run_env = {**isolated_env(cwd), **(env or {})}
    runner = Runner(
        str(flow_file),
        show_output=run_options.pop("show_output", False),
        cwd=cwd,
        env=dict(env or {}),
        config_value=[(CONFIG_NAME, value)],
    )
    if run_env is not None:
        # Runner starts from a copy of os.environ and only adds to it; an isolated run must also drop
        # the caller's Metaflow settings, so the child process gets exactly this environment.
        if not isinstance(getattr(runner, "env_vars", None), dict):
            raise RuntimeError("metaflow.Runner no longer exposes env_vars; cannot isolate the run's datastore")
        runner.env_vars = run_env
    return runner.run(max_workers=max_workers, **run_options)


def open_run(pathspec: str, datastore_root: str | Path):
    """The client ``Run`` ``pathspec`` of a run :func:`run_flow` made in its own datastore under ``datastore_root``.

    Points this process's Metaflow client at that datastore first: some client
    objects (a step's ``task``, for one) ignore the metadata their run was
    opened with and ask the process's default provider, which may be the
    caller's metadata service or their own datastore.
    """
    import metaflow

    metaflow.metadata(f"local@{Path(datastore_root).resolve()}")
    return metaflow.Run(pathspec, _namespace_check=False)
