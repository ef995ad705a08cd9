"""The one typed schema is the producer's contract: every shipped experiment's results pass it, drift fails naming the field."""

from __future__ import annotations

import copy
import itertools

import pytest

from components.engine.surface import aggregate_records, build_results
from components.schema import check_results
from components.spec.config import compose, validate

EXPERIMENTS = ["reference", "smoke", "sample_size", "sample_size_smoke", "tabular_cv", "tabular_cv_smoke"]


def _records(config: dict) -> list[dict]:
    """One record per planned branch (data point x seed), every method scored in every training cell; values from integer arithmetic."""
    spec = validate(config)
    low, high = spec.metric_info.range
    data_names, train_names = sorted(spec.data_axes), sorted(spec.training_axes)
    records = []
    for d, dvals in enumerate(itertools.product(*(spec.data_axes[a] for a in data_names))):
        for seed in range(spec.seeds):
            key = f"branch-{d}-{seed}"
            observations = []
            for t, tvals in enumerate(itertools.product(*(spec.training_axes[a] for a in train_names))):
                for k, method in enumerate(spec.methods):
                    value = 0.7 + 0.02 * k + 0.01 * ((7 * seed + 3 * t + 5 * d + k) % 9)
                    value = min(value, high) if high is not None else value
                    observation = {"axes": {**dict(zip(data_names, dvals)), **dict(zip(train_names, tvals))}, "method": method.name, "seed": seed, "value": value}
                    if spec.secondary_metrics:  # each secondary metric gets a value inside its own range
                        observation["secondary"] = {name: _within(value / 2, info.range) for name, info in spec.secondary_info.items()}
                    observations.append(observation)
            records.append({"key": key, "data_fingerprint": key, "observations": observations, "counts": {"train_arm": len(observations)}})
    return records


def _within(value: float, bounds: tuple) -> float:
    low, high = bounds
    value = max(value, low) if low is not None else value
    return min(value, high) if high is not None else value


@pytest.fixture(scope="module", params=EXPERIMENTS)
def shipped(request):
    config = compose([f"experiment={request.param}", "experiment.statistics.n_resamples=200"] if "cv" not in request.param else [f"experiment={request.param}"])
    records = _records(config)
    return request.param, build_results(config, records, aggregate_records(config, records), {})


def test_check_results_passes_on_every_shipped_experiment(shipped):
    name, results = shipped
    check_results(results)  # build_results checks too; this says so explicitly
    assert results["cells"] and results["paired"]
    if name == "sample_size":
        assert results["contrasts"] and all(isinstance(row["contrast"], str) and row["kind"] == "axis" for row in results["contrasts"])


@pytest.mark.parametrize(
    "plant, field",
    [
        (lambda r: r["cells"][0].update(mean="0.8"), "results.cells.0.mean"),
        (lambda r: r["paired"][0].pop("verdict"), "results.paired.0.verdict"),
        (lambda r: r["paired"][0].update(contrast={"name": "x"}), "results.paired.0.contrast"),
        (lambda r: r["cells"][0].update(ci_width=0.1), "ci_width"),
    ],
)
def test_check_results_fails_naming_the_field_on_planted_drift(shipped, plant, field):
    _, results = shipped
    drifted = copy.deepcopy(results)
    plant(drifted)
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        check_results(drifted)


def test_build_results_refuses_an_aggregate_that_drifted_from_the_schema():
    config = compose(["experiment=smoke"])
    records = _records(config)
    aggregate = aggregate_records(config, records)
    aggregate["paired"][0]["wins"] = "3"
    with pytest.raises(ValueError, match=r"results\.paired\.0\.wins"):
        build_results(config, records, aggregate, {})
