"""axisflow's one code home: the four seams, config, planner, statistics, provenance and the CLI.

Importing this package is light (no torch, no Metaflow); heavy modules are
imported by the steps that need them.
"""

from components.config import ConfigError, ExperimentSpec, MethodSpec, compose, load_spec, validate
from components.data import Dataset
from components.planner import Training, branches, plan_summary, trainings
from components.seams import TrainResult, build_model, make_data, metric, train_arm
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
