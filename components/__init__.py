"""axisflow's one code home, in three rooms.

**The framework**, grouped by role. Layers run one way: a module imports only
from its own layer or the layers above it in this list, never below it
(``tests/test_architecture.py`` enforces the order and that there is no import
cycle anywhere in ``components/`` or ``lint/``):

1. ``lint`` (its own top-level package) -- the static linter and the one
   import-graph reader; it imports nothing from ``components``.
2. base: :mod:`~components.constants` (names and versions several layers
   share), :mod:`~components.files` (atomic writes), :mod:`~components.seeding`
   (seeds from branch keys), :mod:`~components.schema` (the one typed schema
   of records and ``results``) and :mod:`~components.suggest` (the "did you
   mean" of every one-line error).
3. :mod:`components.stats` -- the statistics package: one ``aggregate``,
   intervals as pluggable strategies.
4. :mod:`components.spec` -- what an investigation is made of and its checks:
   declarations, seams, config.
5. :mod:`components.engine` -- what runs inside the flow: planner, reuse,
   branch, surface, provenance, telemetry.
6. :mod:`components.outputs` -- what a reader gets: runs, query, report,
   history, seeds.
7. :mod:`components.gates` -- scaffold (prevent), review, prove.
8. the entry points: :mod:`~components.shell` (what the flow file wires in)
   and :mod:`~components.cli` (the ``axisflow`` command).

**Reusable seam implementations**, ``components/library/`` (trainers, models,
metrics, callbacks, tables, folds), which any investigation names by import
path; they import only base modules and :mod:`components.spec`.

**Each investigation's own code**, ``components/investigations/<name>/``; it
may import the library, :mod:`components.spec` and the base modules. The
framework never imports an investigation.

Importing this package is light (no torch, no Metaflow); heavy modules are
imported by the steps that need them.
"""

from components.spec.config import ConfigError, ExperimentSpec, MethodSpec, compose, load_spec, validate
from components.engine.planner import Training, branches, plan_summary, trainings
from components.spec.seams import Dataset, TrainResult, build_model, make_data, metric, train_arm
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
