"""Mid-arm checkpoints: a long arm saves its training state every N epochs and a re-run continues from it.

A checkpoint is one blob (``torch.save`` of a dict: model, optimiser, grad
scaler, every RNG state, callbacks' state, history, epoch, seconds trained)
stored under the arm's reuse key in a :class:`~components.spec.arm.CheckpointStore`:
the run's Metaflow datastore inside a flow
(:mod:`components.engine.checkpoint_store`), or a :class:`DirectoryStore`.
The reuse key covers everything the arm's numbers depend on (config, code,
lockfile, data), so a checkpoint is only ever picked up by the same arm: when
Metaflow's ``resume`` re-runs a killed branch, its arms find their last
checkpoint and continue; the finished arm clears it.

Checkpoints are pickles (as Metaflow artifacts are): load them only from the
run's own datastore, never from an untrusted place.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from components.spec.arm import CheckpointStore

__all__ = ["Checkpointer", "DirectoryStore"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


def _check_name(name: str) -> str:
    if not _NAME.match(name) or name in (".", ".."):
        raise ValueError(f"checkpoint name {name!r} must be 1-200 letters, digits, '_', '.' or '-'")
    return name


class DirectoryStore:
    """A :class:`~components.spec.arm.CheckpointStore` over a folder: one file per name, written atomically."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def save(self, name: str, blob: bytes) -> None:
        """Write ``blob`` to ``root/name`` through a temporary file and an atomic rename."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
        os.replace(tmp, self.root / _check_name(name))

    def load(self, name: str) -> bytes | None:
        """The bytes of ``root/name``, or ``None``."""
        path = self.root / _check_name(name)
        return path.read_bytes() if path.is_file() else None

    def delete(self, name: str) -> None:
        """Remove ``root/name`` if present."""
        (self.root / _check_name(name)).unlink(missing_ok=True)


class Checkpointer:
    """Saves and restores one arm's training state in ``store`` under ``key``, every ``every`` epochs (0: never)."""

    def __init__(self, store: CheckpointStore | None, key: str, every: int):
        self.store, self.name, self.every = store, _check_name(f"{key}.ckpt"), every

    @property
    def enabled(self) -> bool:
        """True when there is a store and a positive interval."""
        return self.store is not None and self.every > 0

    def due(self, epoch: int, last_epoch: int) -> bool:
        """True after every ``every``-th epoch, except the last (a finished arm needs no checkpoint)."""
        return self.enabled and (epoch + 1) % self.every == 0 and epoch != last_epoch

    def save(self, state: dict[str, Any]) -> None:
        """Serialise ``state`` with ``torch.save`` and store it."""
        import torch

        if self.store is None:
            raise RuntimeError(f"checkpoint {self.name}: saving needs a checkpoint store (none in this context)")
        buffer = io.BytesIO()
        torch.save(state, buffer)
        self.store.save(self.name, buffer.getvalue())

    def load(self) -> dict[str, Any] | None:
        """The last saved state, or ``None`` (no store, interval 0, or nothing saved)."""
        import torch

        blob = self.store.load(self.name) if self.enabled and self.store is not None else None
        if not blob:
            return None
        return torch.load(io.BytesIO(blob), weights_only=False)

    def clear(self) -> None:
        """Forget the checkpoint (the arm finished)."""
        if self.enabled and self.store is not None:
            self.store.delete(self.name)
