"""Stable keys and seeds derived from them.

Every random stream in a run is seeded from a canonical key of *what* is being
computed (experiment seed base, data-axis values, replicate index, method), never
from a task index, the worker count, the clock or a global RNG. The same key gives
the same seed on every machine, Python version and scheduling.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical", "branch_key", "derive_seed"]

_SEED_BITS = 63


def canonical(value: Any) -> str:
    """Return a canonical JSON text for ``value`` (sorted keys, no whitespace).

    Floats keep their repr, so ``0.2`` and ``0.20000000000000001`` are the same
    key, while ``1`` and ``1.0`` differ only if their JSON texts differ.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def branch_key(data_axes: dict[str, Any], seed_index: int) -> str:
    """Human-readable, sortable key of one branch: ``label_noise=0.2,seed=3``."""
    parts = [f"{name}={data_axes[name]!r}" for name in sorted(data_axes)]
    parts.append(f"seed={seed_index}")
    return ",".join(parts)


def derive_seed(*parts: Any) -> int:
    """Derive a 63-bit seed from ``parts`` with SHA-256 of their canonical JSON.

    >>> derive_seed("data", 0, {"label_noise": 0.2}, 3) == derive_seed("data", 0, {"label_noise": 0.2}, 3)
    True
    """
    digest = hashlib.sha256(canonical(list(parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << _SEED_BITS) - 1)
