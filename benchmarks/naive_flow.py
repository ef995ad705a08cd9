"""Benchmark only: the fan-out anti-pattern, one foreach branch per config cell.

This is the grain lint rule AXF301 exists to catch, kept here so
``benchmarks/fanout.py`` can measure what it costs against the axisflow shell.
It calls the same seams as ``flows/investigation.py`` and pins the same
``results``, but every (data-axis values, seed, method, training-axis cell) is
its own task that regenerates its dataset and trains one arm:

1. ``start`` validates the config and lists every config cell.
2. ``train`` generates that cell's dataset and trains its one method on it.
3. ``join`` orders the cell records and aggregates them like the shell's join.
4. ``end`` pins the ``results`` artifact.

The shell's entry point gates it like any flow, so running it takes the
explicit override, which the run's provenance records:
``uv run python benchmarks/naive_flow.py run experiment=smoke --lint-allow AXF301``.
Never use this grain for real work.
"""

import sys
from pathlib import Path
from typing import Any, Mapping

# Run as a script from any directory: anchor the project root on this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metaflow import Config, FlowSpec, current, step  # noqa: E402

from components.shell import CONFIG_NAME, DEFAULT_CONFIG, parse_config, prepare_argv, ship_project  # noqa: E402

def run_cell(config: Mapping[str, Any], cell: Mapping[str, Any]) -> dict[str, Any]:
    """Generate one cell's dataset, train its one arm and return a record shaped like a branch record.

    ``cell`` holds ``branch`` (an entry of :func:`components.engine.planner.branches`),
    ``method`` and ``train_axes``. Seeds derive exactly as in
    :func:`components.engine.branch.run_branch`, so every value equals the shell's.
    """
    from components.spec import seams
    from components.spec.config import validate
    from components.seeding import derive_seed

    spec = validate(config)
    calls_before = seams.CALLS.copy()
    branch, method = cell["branch"], spec.method(cell["method"])
    data = seams.make_data(spec.data, branch["data_axes"], branch["seed"])
    train_cfg = {**spec.training, **cell["train_axes"]}
    seed = derive_seed(branch["seed"], method.name)
    result = seams.train_arm({**method.spec, "name": method.name}, data, seed, train_cfg, metric_spec=spec.metric)
    value = seams.metric(result.predictions, data.y_test, metric_spec=spec.metric)
    return {
        "key": branch["key"],
        "order": [*branch["order"], *cell["order"]],
        "data_fingerprint": data.fingerprint(),
        "observations": [
            {"axes": {**branch["data_axes"], **cell["train_axes"]}, "method": method.name, "seed": branch["seed_index"], "value": value}
        ],
        "counts": dict(sorted((seams.CALLS - calls_before).items())),
    }


@ship_project
class NaiveFanoutFlow(FlowSpec):
    """One task per config cell: the anti-pattern the shell's dataset-keyed fan-out replaces."""

    config = Config(CONFIG_NAME, default_value=DEFAULT_CONFIG, parser=parse_config)

    @step
    def start(self):
        """List every (data-axis values, seed, method, training-axis cell) as its own branch."""
        from components.spec.config import validate
        from components.engine.planner import branches, training_cells

        spec = validate(self.config.to_dict())
        self.cells = [
            {"branch": branch, "method": method.name, "train_axes": cell, "order": [m, c]}
            for branch in branches(spec)
            for m, method in enumerate(spec.methods)
            for c, cell in enumerate(training_cells(spec))
        ]
        print(f"naive: {len(self.cells)} branches, one training each")
        self.next(self.train, foreach="cells")

    @step
    def train(self):
        """Regenerate this cell's dataset and train its one arm."""
        self.record = run_cell(self.config.to_dict(), self.input)
        self.next(self.join)

    @step
    def join(self, inputs):
        """Order the cell records and aggregate them exactly as the shell's join does."""
        from components.engine.surface import aggregate_records

        self.records = sorted((inp.record for inp in inputs), key=lambda r: r["order"])
        self.aggregate = aggregate_records(self.config.to_dict(), self.records)
        self.next(self.end)

    @step
    def end(self):
        """Pin the same results surface as the shell."""
        from components.engine.surface import build_results, provenance

        self.results = build_results(self.config.to_dict(), self.records, self.aggregate, provenance(self))
        print(f"naive: results pinned at {current.pathspec}.results")


if __name__ == "__main__":
    sys.argv = prepare_argv(sys.argv, __file__)
    NaiveFanoutFlow()
