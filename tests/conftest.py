"""Shared fixtures. End-to-end runs go through ``metaflow.Runner`` in temporary datastores."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

# torch._dynamo (imported lazily by torch's deterministic mode and optimizers) must load before the Metaflow
# client loads its vendored typing_extensions: once that has patched `typing`, importing it fails ("Type
# parameter ~_R without a default ..."). Importing it here makes in-process torch tests independent of
# whether a client-reading test ran first in the same session.
import torch._dynamo  # noqa: F401,E402

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

    def to_json(self) -> dict[str, str]:
        """The fields another pytest-xdist worker needs to read this run (see :func:`shared_across_workers`)."""
        return {"pathspec": self.pathspec, "status": self.status, "stdout": self.stdout, "stderr": self.stderr, "root": str(self.datastore_root)}

    @classmethod
    def from_json(cls, fields: dict[str, str]) -> "FinishedRun":
        """The run another pytest-xdist worker finished (see :func:`shared_across_workers`)."""
        run = cls.__new__(cls)
        run.pathspec, run.status, run.stdout, run.stderr = fields["pathspec"], fields["status"], fields["stdout"], fields["stderr"]
        run.datastore_root = Path(fields["root"])
        return run

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
    from components.outputs.runs import run_flow

    with run_flow(FLOW, ["experiment=smoke", *overrides], max_workers=max_workers, datastore_root=tmp_root, **options) as running:
        if running.status != "successful":
            pytest.fail(f"smoke run failed ({running.status}):\n{running.stdout}\n{running.stderr}")
        return FinishedRun(running, tmp_root)


#: Session fixtures built once for the whole session, whichever pytest-xdist worker asks first (the others wait
#: for it and read the finished run): tests using them need not share a worker, so they are not grouped on one.
ACROSS_WORKERS = ("smoke_run",)


def shared_across_workers(tmp_path_factory, config: pytest.Config, name: str, build) -> FinishedRun:
    """``build(root)`` once per session across pytest-xdist workers, under a file lock in the session's temp folder.

    The first worker to get here runs it in ``<session temp>/<name>`` and writes
    the finished run's fields beside it; the others wait on the lock and read
    them. A worker's temp folder is ``<session temp>/<worker id>``, so its
    parent is shared by this session's workers only; without xdist (``-n 0``)
    the session's temp folder is the process's own. Whether this is a worker
    comes from xdist's ``workerinput``, not the environment, which a pytest
    started from inside a test inherits. A failed build is recorded too, so
    the other workers fail at once instead of building it again. The datastore
    is never written again (copy it to add runs).
    """
    base = tmp_path_factory.getbasetemp()
    if hasattr(config, "workerinput"):
        base = base.parent
    done = base / f"{name}.json"
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return _finished_elsewhere(name, json.loads(done.read_text()))
        root = base / name
        root.mkdir()
        try:
            finished = build(root)
        except BaseException as exc:
            done.write_text(json.dumps({"failed": f"{type(exc).__name__}: {exc}"}))
            raise
        done.write_text(json.dumps(finished.to_json()))
        return finished


def _finished_elsewhere(name: str, fields: dict[str, str]) -> FinishedRun:
    """The run another worker built for ``name``, or this test's failure if building it failed there."""
    if "failed" in fields:
        pytest.fail(f"the shared fixture {name} failed in another worker: {fields['failed'][:3000]}")
    return FinishedRun.from_json(fields)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, pytestconfig):
    """One successful smoke run shared by every test that only reads it (``.run`` is the client Run).

    Built once across pytest-xdist workers; its datastore holds this one run only, for good.
    """
    return shared_across_workers(tmp_path_factory, pytestconfig, "smoke-datastore", run_smoke)


def copy_datastore(finished: FinishedRun, root: Path) -> Path:
    """A copy of ``finished``'s datastore (its runs) at ``root``, to add runs beside them without touching the original."""
    shutil.copytree(finished.datastore_root / ".metaflow", root / ".metaflow")
    return root


@pytest.fixture(scope="session")
def smoke_rerun_without_reuse(smoke_run, tmp_path_factory):
    """The smoke experiment again, beside ``smoke_run`` (in a copy of its datastore), at one worker with ``--reuse off``.

    Every arm is recomputed although an identical finished run sits beside it:
    ``test_flow`` checks the bits equal ``smoke_run``'s (recomputing and the
    worker count change nothing), ``test_reuse`` that nothing was reused. One
    run serves both.
    """
    root = copy_datastore(smoke_run, tmp_path_factory.mktemp("smoke-rerun-datastore"))
    return run_smoke(root, max_workers=1, reuse="off")


_RUN_IN_COPY = """
import json, sys
from components.outputs.runs import run_flow
args = json.loads(sys.argv[1])
with run_flow(args["flow"], args["overrides"], max_workers=args["workers"], datastore_root=args["store"],
              review_allow=tuple(args["review_allow"])) as running:
    out = {"status": running.status, "output": running.stdout + running.stderr}
    if running.status == "successful":
        out["results"] = running.run["end"].task.data.results
print("AXISFLOW-RUN " + json.dumps(out, default=str))
"""


def run_in_copy(repo: Path, overrides: list[str], datastore_root: Path, *, review_allow: tuple[str, ...] = (), max_workers: int = 2) -> dict:
    """Run the flow of a copy of the repository through ``metaflow.Runner``; return ``{"status", "output", "results"}``.

    ``Runner`` calls the flow's config parser in the launching process, where
    this repository's ``components`` is already imported (and with it its
    ``configs/``), so a run of a copy is launched from a Python process started
    in the copy: that process imports the copy's own components and configs.
    """
    import json
    import subprocess
    import sys

    value = {
        "flow": str(repo / "flows" / "investigation.py"), "overrides": list(overrides), "workers": max_workers,
        "store": str(datastore_root), "review_allow": list(review_allow),
    }
    proc = subprocess.run(
        [sys.executable, "-c", _RUN_IN_COPY, json.dumps(value)], cwd=repo, capture_output=True, text=True, timeout=1800,
        env={**os.environ, "METAFLOW_USER": os.environ.get("METAFLOW_USER", "axisflow-tests")},
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("AXISFLOW-RUN ")]
    if not lines:
        pytest.fail(f"the run in {repo} did not report (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("AXISFLOW-RUN "):])


#: moto's fixed test credentials, valid for its server only.
S3_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


@contextmanager
def moto_s3(bucket: str) -> Iterator[tuple[str, Any]]:
    """moto's S3 server on a free loopback port with one empty ``bucket``: ``(endpoint URL, boto3 client)``."""
    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, **S3_CREDENTIALS)
    client.create_bucket(Bucket=bucket)
    try:
        yield endpoint, client
    finally:
        server.stop()


def _shared_fixtures(item: pytest.Item) -> list[str]:
    """The project's module- and session-scoped fixtures ``item`` uses, as ``name@where`` keys."""
    keys = []
    for name in item.fixturenames:
        definitions = item._fixtureinfo.name2fixturedefs.get(name) or ()
        if not definitions:
            continue
        last = definitions[-1]
        if name in ACROSS_WORKERS:
            continue
        if last.scope in ("module", "package", "session") and not last.func.__module__.startswith(("_pytest", "pytest")):
            keys.append(f"{name}@{last.baseid if last.scope != 'session' else 'session'}")
    return keys


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, keep the tests that share a finished run (a module or session fixture) on one worker.

    ``--dist loadgroup`` sends each test to whichever worker is free, so a
    shared fixture would otherwise be built once per worker: the end-to-end
    runs behind ``smoke_run`` and the module fixtures of ``test_reuse`` would
    run twice. Tests linked through any shared fixture form one group
    (union-find over the fixtures they use); every other test runs anywhere.
    Fixtures in :data:`ACROSS_WORKERS` link nothing: each is built once
    for all workers. The group is written into the node id the way xdist's own hook would
    (``nodeid@group``): under pytest 9 that hook's write no longer reaches the id.
    """
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    used = {item.nodeid: _shared_fixtures(item) for item in items}
    for keys in used.values():
        for key in keys[1:]:
            parent[find(key)] = find(keys[0])
    grouping = config.getoption("dist", "no") == "loadgroup" or bool(getattr(config.option, "loadgroup", False))
    for item in items:
        keys = used[item.nodeid]
        if keys:
            group = find(keys[0])
            item.add_marker(pytest.mark.xdist_group(group))
            if grouping and "@" not in item.nodeid:
                _suffix_node_id(item, group)


def _suffix_node_id(item: pytest.Item, group: str) -> None:
    """``nodeid@group``, which xdist's loadgroup scheduler reads; pytest 9 keeps the id in ``_id`` (xdist 3.8 sets ``_nodeid``)."""
    if hasattr(item, "_id"):
        from _pytest.nodeid import coerce_node_id

        item._id = coerce_node_id(f"{item.nodeid}@{group}")
    else:
        item._nodeid = f"{item.nodeid}@{group}"
