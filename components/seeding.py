"""Stable keys and seeds derived from them.

Every random stream in a run is seeded from a canonical key of *what* is being
computed (experiment seed base, data-axis values, replicate index, method), never
from a task index, the worker count, the clock or a global RNG. The same key gives
the same seed on every machine, Python version and scheduling.

Seeds handed to implementations are 63-bit. Libraries with narrower seeds --
scikit-learn's ``random_state`` and NumPy's legacy ``RandomState`` take
integers below ``2**32`` -- get theirs from :func:`library_seed`, never from a
modulo written at the call site.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical", "branch_key", "derive_seed", "library_seed"]

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


def library_seed(seed: int, bits: int = 32) -> int:
    """The ``bits``-bit seed for another library (default 32: scikit-learn ``random_state``, NumPy ``RandomState``).

    ``seed`` is a seed axisflow handed you (63-bit, from :func:`derive_seed`);
    the result is its low ``bits`` bits, ``seed % 2**bits``. A seed from
    :func:`derive_seed` is already a SHA-256 digest, so its low bits are as
    uniform, and two distinct seeds as unlikely to collide, as a fresh hash of it
    would give; keeping the modulo keeps every number the shipped scikit-learn
    trainer has published. Derive a seed per purpose first
    (``library_seed(derive_seed(seed, "pca"))``) when one arm seeds two things.

    >>> library_seed(2**40 + 7)
    7
    >>> library_seed(5, bits=16)
    5
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"library_seed: seed must be an int, got {type(seed).__name__} {seed!r}")
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 64:
        raise ValueError(f"library_seed: bits must be an int in 1..64, got {bits!r}")
    return seed % (1 << bits)
