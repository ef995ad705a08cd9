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

import io
from typing import Any

__all__ = ["DatastoreStore", "task_store"]

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
