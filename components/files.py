"""Atomic file writes: a reader (or a full disk) never sees half a file the tool wrote.

Every file axisflow writes (a scaffolded investigation, a report, a review
record) goes through :func:`atomic_write`: the bytes go to a temporary file in
the same folder, are flushed to disk, and replace the target in one
``os.replace``. A failure at any point (a full disk, an interrupted process)
leaves the previous file, or no file, never a truncated one; a symlink at the
target is replaced, not followed.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically; return ``path``.

    The temporary file is created with the umask's usual permissions (not
    ``tempfile``'s owner-only 0600), so a written file reads like one made by
    ``open(path, "w")``.
    """
    path = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
