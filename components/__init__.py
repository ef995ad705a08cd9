"""axisflow's one code home, in three rooms.

* ``components/*.py`` -- the framework: shell wiring (``shell``), config
  composition and typed validation (``config``, ``declarations``), planning and
  seeding (``planner``, ``seeding``), the seams and their types (``seams``),
  statistics (``stats``), gates (``scaffold`` prevents, ``review``, ``prove``),
  outputs (``surface``, ``query``, ``report``, ``history``) and the CLI (``cli``).
* ``components/library/`` -- reusable seam implementations (trainers, models,
  metrics, callbacks) that any investigation names by import path.
* ``components/investigations/<name>/`` -- each investigation's own code.

Importing this package is light (no torch, no Metaflow); heavy modules are
imported by the steps that need them.
"""

from components.config import ConfigError, ExperimentSpec, MethodSpec, compose, load_spec, validate
from components.planner import Training, branches, plan_summary, trainings
from components.seams import Dataset, TrainResult, build_model, make_data, metric, train_arm
from components.seeding import branch_key, derive_seed

__all__ = [
    "ConfigError",
    "Dataset",
    "ExperimentSpec",
    "MethodSpec",
    "TrainResult",
    "Training",
    "branch_key",
    "branches",
    "build_model",
    "compose",
    "derive_seed",
    "load_spec",
    "make_data",
    "metric",
    "plan_summary",
    "train_arm",
    "trainings",
    "validate",
]
