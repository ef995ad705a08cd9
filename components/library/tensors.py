"""Arrays of any shape through the dataset seam: lazily read files, seeded batch order, seeded loaders.

A :class:`~components.spec.seams.Dataset` carries ``X`` arrays of any shape
(tables, ``N x C x H x W`` images, sequences, token ids). This module adds what
deep-learning data needs on top:

* :func:`npy_dataset` opens ``.npy`` files memory-mapped, so a split larger
  than memory is read one batch at a time, and fingerprints the files (their
  SHA-256, computed once by streaming) instead of every byte of every batch.
* :func:`epoch_orders` is the minibatch order: a pure function of the arm's
  seed (a private ``torch.Generator``), never of workers, time or global state.
* :class:`Batches` serves an epoch's batches in that order: by tensor indexing
  for in-memory arrays (no per-batch overhead), or through a ``DataLoader``
  over the map-style :class:`ArrayDataset` with worker processes for
  memory-mapped ones. The sampler runs in the main process, so the order does
  not depend on the number of workers; each worker seeds NumPy and ``random``
  from its torch seed (:func:`seed_worker`), itself drawn from a generator
  seeded by the arm's seed.
* :func:`random_shift` is the seeded random-translation augmentation for images.

torch is imported inside the functions, so importing this module is light.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from components.spec.seams import Dataset
from components.seeding import derive_seed

if TYPE_CHECKING:
    import torch

__all__ = ["SPLITS", "ArrayDataset", "Batches", "epoch_orders", "file_digest", "npy_dataset", "random_shift", "seed_worker"]

#: The files :func:`npy_dataset` reads from its folder, one per split array.
SPLITS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")

_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file, streamed in 1 MiB chunks and cached per (path, size, mtime) in this process."""
    stat = Path(path).stat()
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        _DIGESTS[key] = digest.hexdigest()
    return _DIGESTS[key]


def npy_dataset(folder: str | Path, task: str, n_classes: int | None) -> Dataset:
    """A :class:`Dataset` over ``folder/{X_train,y_train,X_val,y_val,X_test,y_test}.npy``, memory-mapped.

    Labels are small and loaded into memory; inputs stay on disk until a batch
    reads their rows. ``source`` is the SHA-256 over the six files' digests, so
    the dataset's fingerprint (and every reuse key built on it) follows the
    files' content without hashing every batch.
    """
    folder = Path(folder)
    missing = [name for name in SPLITS if not (folder / f"{name}.npy").is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: missing {', '.join(f'{name}.npy' for name in missing)}")
    arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r" if name.startswith("X") else None) for name in SPLITS}
    source = hashlib.sha256("".join(f"{name}:{file_digest(folder / f'{name}.npy')};" for name in SPLITS).encode()).hexdigest()
    return Dataset(task, **arrays, n_classes=n_classes, source=source)


def epoch_orders(n: int, seed: int, epochs: int, reshuffle: str, start: int = 0, generator: "torch.Generator | None" = None) -> Iterator["torch.Tensor"]:
    """Yield the example order of each epoch ``start..epochs-1``: permutations drawn from a generator seeded with ``seed``.

    ``reshuffle="per_epoch"`` draws a fresh permutation every epoch, ``"once"``
    keeps the first. Pass ``generator`` (restored from a checkpoint) to
    continue a sequence mid-way; ``start`` only labels where it resumes.
    """
    import torch

    if generator is None:
        generator = torch.Generator().manual_seed(derive_seed(seed, "batches"))
    order = torch.randperm(n, generator=generator)
    for epoch in range(start, epochs):
        if reshuffle == "per_epoch" and epoch > start:
            order = torch.randperm(n, generator=generator)
        yield order


class ArrayDataset:
    """Map-style torch dataset over ``(X, y)`` arrays of any shape; rows are read only when asked for.

    ``__getitems__`` reads a whole batch with one fancy index (one read per
    batch from a memory-mapped file). When pickled into a ``DataLoader`` worker,
    a memory-mapped array travels as its file name and is reopened there, not
    copied.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray):
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
        self.X, self.y = X, y

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, index: int) -> tuple[np.ndarray, Any]:
        return np.asarray(self.X[index]), self.y[index]

    def __getitems__(self, indices: list[int]) -> tuple["torch.Tensor", "torch.Tensor"]:
        import torch

        rows = np.asarray(indices, dtype=np.int64)
        return torch.from_numpy(np.ascontiguousarray(self.X[rows])), torch.from_numpy(np.ascontiguousarray(self.y[rows]))

    def __getstate__(self) -> dict[str, Any]:
        return {"X": _portable(self.X), "y": _portable(self.y)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.X, self.y = _reopen(state["X"]), _reopen(state["y"])


def _portable(array: np.ndarray) -> Any:
    """A whole-file memory map as ``("npy", path)``; anything else as itself."""
    filename = array.filename if isinstance(array, np.memmap) else None
    if filename and np.load(filename, mmap_mode="r").shape == array.shape:
        return ("npy", str(filename))
    return array


def _reopen(value: Any) -> np.ndarray:
    if isinstance(value, tuple) and value[:1] == ("npy",):
        return np.load(value[1], mmap_mode="r")
    return value


def seed_worker(worker_id: int) -> None:
    """``DataLoader`` ``worker_init_fn``: seed NumPy and ``random`` from the worker's torch seed.

    torch seeds each worker with ``base_seed + worker_id``, where ``base_seed``
    is drawn from the loader's generator; seeding the other libraries from it
    makes any randomness a worker draws a function of the arm's seed too.
    """
    import torch

    seed = torch.initial_seed() % 2**32
    # Seeding the global states is the point here: a worker runs a dataset's code, which may draw from them.
    np.random.seed(seed)  # noqa: AXF601
    random.seed(seed)  # noqa: AXF601


def _identity(batch: Any) -> Any:
    return batch


class Batches:
    """An epoch's minibatches of ``(X, y)`` in a given order, as ``(x, y)`` tensors.

    In-memory arrays with ``workers == 0`` are indexed as tensors directly (the
    fast path: no loader, no copies beyond the batch). Memory-mapped arrays, or
    ``workers > 0``, go through a ``DataLoader`` over :class:`ArrayDataset`
    with the batches fixed in the main process, ``worker_init_fn`` =
    :func:`seed_worker` and a generator seeded from ``seed``.
    """

    def __init__(self, X: np.ndarray, y: "torch.Tensor", batch_size: int, workers: int, seed: int):
        import torch

        self.batch_size, self.workers, self.y = batch_size, workers, y
        self.lazy = isinstance(X, np.memmap) or workers > 0
        self.X = X if self.lazy else torch.from_numpy(np.ascontiguousarray(X))
        self.loader_generator = torch.Generator().manual_seed(derive_seed(seed, "loader"))
        self.dataset = ArrayDataset(X, np.arange(len(X))) if self.lazy else None

    def __len__(self) -> int:
        return len(self.y)

    def epoch(self, order: "torch.Tensor") -> Iterator[tuple["torch.Tensor", "torch.Tensor"]]:
        """Yield ``(x, y)`` batches following ``order``."""
        if not self.lazy:
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                yield self.X[idx], self.y[idx]
            return
        from torch.utils.data import DataLoader

        chunks = [order[s : s + self.batch_size].tolist() for s in range(0, len(order), self.batch_size)]
        loader: Any = DataLoader(
            self.dataset,  # type: ignore[arg-type]  # lazy batches: a map-style ArrayDataset (__len__, __getitem__)
            batch_sampler=chunks, num_workers=self.workers, collate_fn=_identity,
            worker_init_fn=seed_worker, generator=self.loader_generator, persistent_workers=False,
        )
        for x, rows in loader:
            yield x, self.y[rows]


def random_shift(x: "torch.Tensor", max_shift: int, generator: "torch.Generator") -> "torch.Tensor":
    """Translate each image of ``x`` (``N x C x H x W``) by up to ``max_shift`` pixels each way, zero-filled.

    Shifts are drawn from ``generator`` (seeded from the arm's seed), one
    ``(dy, dx)`` pair per image, so the augmentation is a pure function of the
    seed and the batch order.
    """
    import torch

    if max_shift == 0:
        return x
    if x.dim() != 4:
        raise ValueError(f"random_shift needs N x C x H x W images, got shape {tuple(x.shape)}")
    n, _, h, w = x.shape
    shifts = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator)
    padded = torch.nn.functional.pad(x, (max_shift,) * 4)
    out = torch.empty_like(x)
    for i, (dy, dx) in enumerate(shifts.tolist()):
        out[i] = padded[i, :, max_shift - dy : max_shift - dy + h, max_shift - dx : max_shift - dx + w]
    return out

