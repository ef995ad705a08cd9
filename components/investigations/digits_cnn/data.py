"""The digits_cnn investigation's data: scikit-learn's bundled 8x8 digits as ``1 x 8 x 8`` images."""

from __future__ import annotations

from typing import Annotated, Any, Mapping

import numpy as np
from pydantic import Field

from components.spec.declarations import Params, generator
from components.spec.seams import Dataset
from components.seeding import derive_seed

__all__ = ["DigitsParams", "digits_images"]

#: Images in scikit-learn's digits set (1797) and the grey levels of its pixels (0..16).
N_IMAGES, GREY_LEVELS = 1797, 16.0


class DigitsParams(Params):
    """Settings of :func:`digits_images` (``configs/data/digits_images.yaml``)."""

    n_train: Annotated[int, Field(ge=10, le=1000, description="training images (a prefix of the seed's training pool)")]
    n_val: Annotated[int, Field(ge=10, le=300, description="validation images")]
    n_test: Annotated[int, Field(ge=10, le=497, description="test images")]


@generator(
    params=DigitsParams,
    task="multiclass",
    split=(
        "one permutation of the 1797 images per replicate seed: the first n_test are the test set, the next n_val the "
        "validation set, the rest the training pool, of which the first n_train train; a larger n_train extends the same "
        "training sequence, and validation and test are fixed per seed"
    ),
)
def digits_images(params: DigitsParams, data_axes: Mapping[str, Any], seed: int) -> Dataset:
    """The digits as float32 images in ``[0, 1]``, shape ``(n, 1, 8, 8)``, labels 0..9.

    The permutation depends on the seed only, so along the ``n_train`` axis
    every value sees the same test and validation images and the smaller
    training sets are prefixes of the larger: ``n_train`` is the only thing
    that changes.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images[:, None, :, :] / GREY_LEVELS).astype(np.float32)
    labels = bunch.target.astype(np.int64)
    if params.n_test + params.n_val + params.n_train > len(labels):
        raise ValueError(f"n_test + n_val + n_train = {params.n_test + params.n_val + params.n_train} exceeds the {len(labels)} images")
    order = np.random.default_rng(derive_seed(seed, "split")).permutation(len(labels))
    test, val = order[: params.n_test], order[params.n_test : params.n_test + params.n_val]
    train = order[params.n_test + params.n_val :][: params.n_train]
    return Dataset("multiclass", images[train], labels[train], images[val], labels[val], images[test], labels[test], n_classes=10)
