"""Finding and launching runs through Metaflow's own client and Runner APIs.

The local datastore is the ``.metaflow`` folder Metaflow finds by walking up
from the working directory (or ``METAFLOW_DATASTORE_SYSROOT_LOCAL``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from components.shell import CONFIG_NAME, ensure_user

__all__ = ["FLOWS_DIR", "find_run", "run_flow"]

FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"


def find_run(flow: str, run_id: str | None = None):
    """Return the named run of ``flow`` or its latest successful one (any user's).

    Raises ``LookupError`` with a one-line explanation when there is none.
    """
    from metaflow import Flow, Run, namespace
    from metaflow.exception import MetaflowNotFound

    ensure_user()
    namespace(None)
    try:
        if run_id is not None:
            run = Run(f"{flow}/{run_id}")
            if not run.successful:
                raise LookupError(f"run {flow}/{run_id} did not finish successfully; it has no results")
            return run
        run = Flow(flow).latest_successful_run
    except MetaflowNotFound:
        where = os.environ.get("METAFLOW_DATASTORE_SYSROOT_LOCAL") or "the .metaflow folder above the working directory"
        what = f"run {flow}/{run_id}" if run_id else f"flow {flow}"
        raise LookupError(f"no {what} in {where}; run `uv run flows/investigation.py run` first") from None
    if run is None:
        raise LookupError(f"flow {flow} has no successful run yet")
    return run


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

    With ``datastore_root`` the run uses its own local datastore (metadata and
    artifacts) under that folder, and the working directory is set there so
    the client reads the same store. ``lint_allow`` and ``review_allow`` pass
    ``--lint-allow`` and ``--review-allow`` to the run gate. The caller checks
    ``.status``: Runner does not raise when the flow fails.
    """
    from metaflow import Runner

    ensure_user()
    value: dict[str, Any] = {"overrides": list(overrides)}
    if lint_allow:
        value["lint"] = {"allowed": list(lint_allow)}
    if review_allow:
        value["review"] = {"allowed": list(review_allow)}
    run_env = dict(env or {})
    cwd = None
    if datastore_root is not None:
        cwd = str(Path(datastore_root).resolve())
        Path(cwd).mkdir(parents=True, exist_ok=True)
    runner = Runner(
        str(flow_file),
        show_output=run_options.pop("show_output", False),
        cwd=cwd,
        env=run_env,
        config_value=[(CONFIG_NAME, value)],
    )
    return runner.run(max_workers=max_workers, **run_options)
