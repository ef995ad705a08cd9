"""Seeds for other libraries: the 63-bit replicate seed becomes a library-ready seed through one helper."""

from __future__ import annotations

import numpy as np
import pytest

from components.gates.scaffold import plan_files
from components.seeding import derive_seed, library_seed
from components.library.sklearn_train import build_estimator


def test_library_seed_is_below_2_to_the_32_and_keeps_the_low_bits():
    seed = derive_seed("replicate", 3)
    assert seed >= 2**32  # the seeds axisflow hands out are wider than scikit-learn accepts
    assert library_seed(seed) == seed % 2**32 < 2**32
    assert library_seed(seed, bits=16) == seed % 2**16


def test_library_seed_is_accepted_where_the_raw_seed_fails():
    from sklearn.decomposition import PCA

    seed = derive_seed("replicate", 3)
    X = np.random.default_rng(0).standard_normal((20, 5))
    with pytest.raises(ValueError):
        PCA(n_components=2, svd_solver="randomized", random_state=seed).fit(X)
    PCA(n_components=2, svd_solver="randomized", random_state=library_seed(seed)).fit(X)
    np.random.RandomState(library_seed(seed))


@pytest.mark.parametrize("seed, bits", [(1.5, 32), (True, 32), ("7", 32), (7, 0), (7, 65), (7, 32.0)])
def test_library_seed_refuses_a_non_integer_seed_or_width(seed, bits):
    with pytest.raises((TypeError, ValueError), match="library_seed"):
        library_seed(seed, bits)


def test_the_shipped_sklearn_trainer_seeds_through_library_seed():
    seed = derive_seed("arm", 11)
    estimator = build_estimator({"_target_": "sklearn.ensemble.RandomForestClassifier", "n_estimators": 3}, seed)
    assert estimator.random_state == library_seed(seed)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_the_scaffolded_generator_tells_how_to_seed_a_32_bit_library(task):
    data = plan_files("demo", task)["components/investigations/demo/data.py"]
    assert "library_seed(derive_seed(seed" in data
