"""Cross-validation splits as pure functions of (replicate seed, dataset hash, fold index).

A replicate's fold assignment (which of the ``k`` folds each row is in) is drawn
from a generator seeded with the replicate seed and the dataset's content hash
only, so every fold of one replicate partitions the same table, and every method
in a branch sees the same split (the branch builds its dataset once). The
validation rows used for early stopping and selection come from *inside* the
training fold, drawn with the fold index as well; the test fold is never among them.

Splitters (``SPLITTERS``):

* ``kfold``: a random permutation dealt round-robin into ``k`` folds;
* ``stratified``: the same within each class, classes dealt in turn, so every
  fold has each class in proportion (within one example);
* ``grouped``: whole groups (a declared group column) go to one fold; groups are
  taken in a random order and each goes to the fold with the fewest rows so far.

Repeats of k-fold are the experiment's replicates (seeds): each seed draws a new
assignment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from components.seeding import derive_seed

__all__ = ["SPLITTERS", "Split", "assign_folds", "cv_split", "nested_split"]

#: Splitters :func:`assign_folds` knows.
SPLITTERS = ("kfold", "stratified", "grouped")


@dataclass(frozen=True)
class Split:
    """Row indices (into the table, sorted) of one fold's training, validation and test parts.

    ``train`` and ``val`` together are the training fold; ``test`` is the held-out fold.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def assign_folds(
    splitter: str, n_splits: int, n: int, rng: np.random.Generator, *, labels: np.ndarray | None = None, groups: np.ndarray | None = None
) -> np.ndarray:
    """Fold id (``0..n_splits-1``) of each of ``n`` rows, shape ``(n,)``, drawn from ``rng``.

    ``labels`` (class ids) are required by ``stratified``; ``groups`` (any
    hashable values, one per row) by ``grouped``. Raises ``ValueError`` when a
    fold would be empty.
    """
    if splitter not in SPLITTERS:
        raise ValueError(f"unknown splitter {splitter!r}; known: {', '.join(SPLITTERS)}")
    if splitter == "kfold":
        folds = np.empty(n, dtype=np.int64)
        folds[rng.permutation(n)] = np.arange(n) % n_splits
    elif splitter == "stratified":
        if labels is None:
            raise ValueError("the stratified splitter needs class labels (a classification task)")
        folds = np.empty(n, dtype=np.int64)
        offset = 0
        for cls in np.unique(labels):
            rows = np.flatnonzero(labels == cls)
            rows = rows[rng.permutation(len(rows))]
            folds[rows] = (offset + np.arange(len(rows))) % n_splits
            offset += len(rows)
    else:
        if groups is None:
            raise ValueError("the grouped splitter needs a group column")
        names, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
        if len(names) < n_splits:
            raise ValueError(f"{len(names)} groups cannot fill {n_splits} folds")
        load = np.zeros(n_splits, dtype=np.int64)
        fold_of_group = np.empty(len(names), dtype=np.int64)
        for group in rng.permutation(len(names)):
            target = int(np.argmin(load))
            fold_of_group[group] = target
            load[target] += sizes[group]
        folds = fold_of_group[inverse]
    counts = np.bincount(folds, minlength=n_splits)
    if (counts == 0).any():
        raise ValueError(f"{n_splits} folds over {len(folds)} rows leave fold {int(np.argmin(counts))} empty")
    return folds


def cv_split(
    splitter: str,
    n_splits: int,
    fold: int,
    inner_val_folds: int,
    *,
    seed: int,
    dataset_hash: str,
    n_rows: int,
    labels: np.ndarray | None = None,
    groups: np.ndarray | None = None,
) -> Split:
    """The split of fold ``fold`` of replicate ``seed`` on the table with content hash ``dataset_hash``.

    The outer assignment depends on ``(seed, dataset_hash)`` only; the held-out
    fold is ``fold``. Validation is one of ``inner_val_folds`` folds of the
    training fold, drawn with the same splitter from ``(seed, dataset_hash,
    fold)``: stratified or grouped like the outer split, and disjoint from the test fold.
    ``n_rows`` is the table's row count; ``labels``/``groups`` have one entry per row.
    """
    if not 0 <= fold < n_splits:
        raise ValueError(f"fold {fold} is outside 0..{n_splits - 1}")
    outer = _outer(splitter, n_splits, seed, dataset_hash, n_rows, labels, groups)
    rest = np.flatnonzero(outer != fold)
    validation = np.random.default_rng(derive_seed("cv", "inner", seed, dataset_hash, fold))
    return _with_validation(splitter, inner_val_folds, rest, np.flatnonzero(outer == fold), validation, labels, groups)


def nested_split(
    splitter: str,
    n_splits: int,
    fold: int,
    held_out: int,
    inner_val_folds: int,
    *,
    seed: int,
    dataset_hash: str,
    n_rows: int,
    labels: np.ndarray | None = None,
    groups: np.ndarray | None = None,
) -> Split:
    """The inner split of nested cross-validation: outer fold ``fold`` is left out, fold ``held_out`` is the test part.

    The fold assignment is :func:`cv_split`'s for ``(seed, dataset_hash)``, so
    the inner test folds are the very rows the other outer folds test on;
    training is every fold but ``fold`` and ``held_out``, with validation one of
    ``inner_val_folds`` folds of it, drawn from ``(seed, dataset_hash, fold, held_out)``.
    """
    if not 0 <= fold < n_splits or not 0 <= held_out < n_splits or held_out == fold:
        raise ValueError(f"held-out fold {held_out} must be one of 0..{n_splits - 1} other than the outer fold {fold}")
    outer = _outer(splitter, n_splits, seed, dataset_hash, n_rows, labels, groups)
    rest = np.flatnonzero((outer != fold) & (outer != held_out))
    validation = np.random.default_rng(derive_seed("cv", "nested", seed, dataset_hash, fold, held_out))
    return _with_validation(splitter, inner_val_folds, rest, np.flatnonzero(outer == held_out), validation, labels, groups)


def _outer(
    splitter: str, n_splits: int, seed: int, dataset_hash: str, n_rows: int, labels: np.ndarray | None, groups: np.ndarray | None
) -> np.ndarray:
    """A replicate's fold assignment: a pure function of ``(seed, dataset_hash)``."""
    rng = np.random.default_rng(derive_seed("cv", "outer", seed, dataset_hash))
    return assign_folds(splitter, n_splits, n_rows, rng, labels=labels, groups=groups)


def _with_validation(
    splitter: str, inner_val_folds: int, rest: np.ndarray, test: np.ndarray, rng: np.random.Generator,
    labels: np.ndarray | None, groups: np.ndarray | None,
) -> Split:
    """``rest`` (the training part) split into train and validation (1 of ``inner_val_folds`` folds of it, drawn from ``rng``)."""
    inner = assign_folds(
        splitter,
        inner_val_folds,
        len(rest),
        rng,
        labels=None if labels is None else labels[rest],
        groups=None if groups is None else groups[rest],
    )
    return Split(train=rest[inner != 0], val=rest[inner == 0], test=test)
