"""The benchmark scripts' flow commands still launch the shipped flow.

Benchmarks run rarely and by hand, so nothing else notices when a gate added to
the shell (the lint gate, the review gate) refuses the commands they build; the
fan-out benchmark's warm-up did fail that way once. This runs the exact command
its warm-up and every measured run use, on one tiny branch.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT))


@pytest.mark.slow
def test_the_benchmark_flow_command_runs_a_variant_of_a_reviewed_experiment(tmp_path):
    from benchmarks.fanout import SHELL_FLOW, child_env, flow_cmd

    # A variant of the reviewed smoke experiment (fewer axis values): its fidelity facts differ from the record.
    grid = ["experiment=smoke", "experiment.seeds=1", "experiment.axes.data.label_noise=[0.0]", "method=[logreg]"]
    run_id_file = tmp_path / "run-id"
    done = subprocess.run(
        flow_cmd(SHELL_FLOW, grid, 1, run_id_file, "--reuse", "off"),
        cwd=tmp_path, env=child_env(tmp_path, "env"), capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert run_id_file.read_text().strip()


def test_the_benchmark_flow_command_allows_the_review_and_keeps_overrides_after_run():
    from benchmarks.fanout import SHELL_FLOW, flow_cmd

    command = flow_cmd(SHELL_FLOW, ["experiment=smoke"], 2, ROOT / "x.run-id")
    assert command[2] == "run" and command[3:5] == ["--review-allow", "all"] and "experiment=smoke" in command
