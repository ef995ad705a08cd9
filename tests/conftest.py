"""Shared fixtures. End-to-end runs go through ``metaflow.Runner`` in temporary datastores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLOW = ROOT / "flows" / "investigation.py"

# Metaflow refuses to start without a user name; CI machines may run as root with none.
if not any(os.environ.get(v, "root") != "root" for v in ("METAFLOW_USER", "USERNAME", "USER")):
    os.environ["METAFLOW_USER"] = os.environ["USERNAME"] = "axisflow-tests"


class FinishedRun:
    """A finished run and the local datastore it lives in.

    Metaflow's client reads one local datastore per process, and every Runner
    call re-points it; ``.run`` points the client back at this run's datastore
    before returning the client ``Run``, so tests may read runs from several
    datastores in any order.
    """

    def __init__(self, running, datastore_root: Path):
        self.pathspec = running.run.pathspec
        self.status, self.stdout, self.stderr = running.status, running.stdout, running.stderr
        self.datastore_root = Path(datastore_root)

    @property
    def run(self):
        """The client ``Run``, read from this run's datastore."""
        import metaflow

        metaflow.metadata(f"local@{self.datastore_root}")
        return metaflow.Run(self.pathspec, _namespace_check=False)


def run_smoke(tmp_root: Path, *overrides: str, max_workers: int = 2, **options) -> FinishedRun:
    """Run the reference flow on ``experiment=smoke`` (plus ``overrides``) in its own datastore under ``tmp_root``.

    Fails the test with the run's output if the run failed.
    """
    from components.runs import run_flow

    with run_flow(FLOW, ["experiment=smoke", *overrides], max_workers=max_workers, datastore_root=tmp_root, **options) as running:
        if running.status != "successful":
            pytest.fail(f"smoke run failed ({running.status}):\n{running.stdout}\n{running.stderr}")
        return FinishedRun(running, tmp_root)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """One successful smoke run shared by every test that only reads it (``.run`` is the client Run)."""
    return run_smoke(tmp_path_factory.mktemp("smoke-datastore"))
