"""Mid-arm checkpoints in the run's Metaflow datastore (local folder or S3), shared by a run and its ``resume``.

The blobs live under ``<datastore root>/<flow>/axisflow-checkpoints/<arm key>.ckpt``:
outside any run id, because Metaflow's ``resume`` re-runs a failed task in a
new run, which must find what the killed task saved. The storage backend is
the datastore Metaflow is configured with (``METAFLOW_DEFAULT_DATASTORE``), so
on Kubernetes/Argo with an S3 datastore the checkpoints go to S3. Metaflow's
storage API has no delete: a cleared checkpoint is overwritten with an empty
blob, which reads as "none".
"""

from __future__ import annotations

import hashlib
import io
from typing import Any, Iterable, Mapping

__all__ = ["DatastoreStore", "clear_finished", "finished_name", "saved_for_resume", "task_store"]

FOLDER = "axisflow-checkpoints"


class DatastoreStore:
    """A :class:`~components.spec.arm.CheckpointStore` over Metaflow's datastore storage for ``flow``."""

    def __init__(self, flow: str, storage: Any):
        self.flow, self.storage = flow, storage

    def _path(self, name: str) -> str:
        return self.storage.path_join(self.flow, FOLDER, name)

    def save(self, name: str, blob: bytes) -> None:
        """Store ``blob`` (Metaflow's local storage writes atomically; S3 puts are atomic)."""
        self.storage.save_bytes(iter([(self._path(name), io.BytesIO(blob))]), overwrite=True)

    def load(self, name: str) -> bytes | None:
        """The stored bytes, or ``None``."""
        with self.storage.load_bytes([self._path(name)]) as loaded:
            for _, path, _ in loaded:
                if path is None:
                    return None
                with open(path, "rb") as handle:
                    return handle.read()
        return None

    def delete(self, name: str) -> None:
        """Overwrite with an empty blob (read back as no checkpoint)."""
        self.save(name, b"")


def task_store() -> DatastoreStore | None:
    """The checkpoint store of the Metaflow task this process runs, or ``None`` outside a flow."""
    from metaflow import current
    from metaflow.metaflow_config import DEFAULT_DATASTORE
    from metaflow.plugins import DATASTORES

    if not current.is_running_flow:
        return None
    impl = next(d for d in DATASTORES if d.TYPE == DEFAULT_DATASTORE)
    # is_running_flow above: the flow name is set
    return DatastoreStore(current.flow_name, impl(impl.get_datastore_root_from_config(lambda *a, **k: None)))  # type: ignore[arg-type]


def saved_for_resume(branches: int) -> int:
    """How many of a task's ``branches`` (the first ones, canonical order) it saves for ``resume``: all but the last, none alone.

    The last branch needs no saving: once it finishes, the task's artifacts are stored.
    """
    return branches - 1 if branches > 1 else 0


def finished_name(run_id: str, branch: Mapping[str, Any]) -> str:
    """The name a multi-branch task of run ``run_id`` saves a finished branch under, for ``resume`` (a digest: keys never become paths)."""
    return "finished-" + hashlib.sha256(f"{run_id}\0{branch['key']}".encode()).hexdigest()[:24]


def clear_finished(records: Iterable[Mapping[str, Any]]) -> int:
    """Blank the finished branches multi-branch tasks saved for ``resume`` (:func:`components.engine.branch.run_task`); return how many.

    Called in ``join``, once every branch task's artifacts are stored: a
    task saved its first :func:`saved_for_resume` branches under its run's
    id, and a task that ``resume`` re-ran took some from the run it resumed
    (``timing.resumed_from``), whose names are blanked too. Outside a
    flow there is nothing to clear.
    """
    store = task_store()
    if store is None:
        return 0
    by_task: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        task = (record.get("provenance") or {}).get("task")
        if task:
            by_task.setdefault(task, []).append(record)
    names = []
    for task, group in by_task.items():
        run_id = task.split("/")[1]
        for record in sorted(group, key=lambda r: r["order"])[: saved_for_resume(len(group))]:
            names.append(finished_name(run_id, record))
            if record["timing"].get("resumed_from"):
                names.append(finished_name(str(record["timing"]["resumed_from"]), record))
    for name in names:
        store.delete(name)
    return len(names)
