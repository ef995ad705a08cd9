"""Benchmark only: the shipped axisflow shell over a trivial seam, with a probe on every step.

``benchmarks/fanout.py --scaling 10,100,400`` runs it at growing branch counts
to show what the shell itself costs (start, join and end, and the join's time
and peak memory) when the branches do almost nothing. ``ScalingFlow`` inherits
every step of ``flows/investigation.py`` unchanged; it only

* registers the trivial ``first_feature`` trainer and ``plain_accuracy`` metric
  (``benchmarks/scaling_seams.py``: no torch, no scipy), which the benchmark's
  overrides select, and
* wraps each step in :func:`probe`, which leaves a ``probe`` artifact with the
  step body's seconds, the task's peak RSS, the heavy libraries it imported and,
  in the join, the pickled size of the records.

Run it from a checkout (the trivial seams are imported as ``benchmarks.*``,
which the code package does not ship).
"""

import pickle
import resource
import sys
import time
from pathlib import Path

# Run as a script from any directory: anchor the project root on this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metaflow import FlowMutator, user_step_decorator  # noqa: E402

from components.shell import prepare_argv  # noqa: E402
from flows.investigation import InvestigationFlow  # noqa: E402

HEAVY = ("torch", "hydra", "omegaconf", "scipy", "pandas", "matplotlib", "numpy")


@user_step_decorator
def probe(step_name, flow, inputs=None):
    """Time the step body and record the task's peak RSS (MB) and heavy imports as ``flow.probe``."""
    started = time.perf_counter()
    yield
    flow.probe = {
        "body_seconds": time.perf_counter() - started,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "heavy_modules": [name for name in HEAVY if name in sys.modules],
    }
    if step_name == "join":
        flow.probe["records_bytes"] = len(pickle.dumps(flow.records))


class probe_every_step(FlowMutator):
    """Wrap every step of the flow in :func:`probe`."""

    def pre_mutate(self, mutable_flow):
        """Add the probe to each step."""
        for _, mutable_step in mutable_flow.steps:
            mutable_step.add_decorator(probe)


@probe_every_step
class ScalingFlow(InvestigationFlow):
    """The shipped shell's steps over a trivial seam, each leaving a measurement ``probe``."""


if __name__ == "__main__":
    sys.argv = prepare_argv(sys.argv, __file__)
    ScalingFlow()
