"""What the framework tells a trainer about the arm it is training, beyond the seam's arguments.

The ``train_arm`` seam passes ``(params, data, seed, training, scorer)``: what
the arm's numbers depend on. Two more things are the run's business, not the
method's, and do not change the numbers: the experiment's ``contract`` (which
decides the determinism settings a trainer applies and records) and where a
long arm may save and find its mid-arm checkpoints (a store and a key that
stays the same across a run and its ``resume``). The branch sets them with
:func:`arm_scope` around each ``train_arm`` call; a trainer reads them with
:func:`current_arm`, which is ``None`` outside a flow (unit tests, notebooks).
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass
from typing import Iterator, Protocol

__all__ = ["ArmContext", "CheckpointStore", "arm_scope", "current_arm"]


class CheckpointStore(Protocol):
    """Bytes by name: where mid-arm checkpoints live (the run's datastore, or a folder)."""

    def save(self, name: str, blob: bytes) -> None:
        """Store ``blob`` under ``name``, replacing what was there, atomically."""

    def load(self, name: str) -> bytes | None:
        """The bytes stored under ``name``, or ``None``."""

    def delete(self, name: str) -> None:
        """Forget ``name`` (no error if absent)."""


@dataclass(frozen=True)
class ArmContext:
    """The arm being trained: its reuse ``key`` (also its checkpoint name), the experiment's ``contract``, a checkpoint ``store``."""

    key: str
    contract: str | None
    store: CheckpointStore | None = None


_CURRENT: contextvars.ContextVar[ArmContext | None] = contextvars.ContextVar("axisflow_arm", default=None)


def current_arm() -> ArmContext | None:
    """The arm the framework is training now, or ``None`` outside a branch."""
    return _CURRENT.get()


@contextlib.contextmanager
def arm_scope(context: ArmContext) -> Iterator[ArmContext]:
    """Make ``context`` the current arm for the duration of the block."""
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)

