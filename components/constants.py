"""Names and versions that several layers of axisflow share; this module imports nothing.

The shell, the output surface, provenance, run history and the CLI all need
some of these. Keeping them here lets each of those modules import only what
sits below it: no module has to import the shell or the CLI just to read a
constant, so ``components/`` has no import cycles (``tests/test_architecture.py``
checks that).
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "REPO_ROOT",
    "CONFIG_NAME",
    "CONTRACTS",
    "CV_INTERVALS",
    "DEFAULT_CONFIG",
    "DEFAULT_FLOW",
    "ERROR_PREFIX",
    "EXPERIMENT_TAG_PREFIX",
    "FOLD_AXIS",
    "KINDS",
    "LAUNCH_KEY",
    "PROVENANCE_SCHEMA",
    "PROVE_REPORT_SCHEMA",
    "RECORD_SCHEMA",
    "RESULTS_SCHEMA",
]

#: The repository root: ``configs/``, ``flows/``, ``reviews/`` and ``uv.lock`` live here (modules never use the working directory).
REPO_ROOT = Path(__file__).resolve().parents[1]
#: Name of the flow's Metaflow ``Config``; ``--config-value config ...`` targets it.
CONFIG_NAME = "config"
#: The config value when no overrides are given (Metaflow also passes it on ``resume``).
DEFAULT_CONFIG = '{"overrides": []}'
#: Top-level key of the parsed config holding launch metadata (overrides, lint verdict, git); not part of the hash.
LAUNCH_KEY = "axisflow"
#: How every one-line axisflow error starts; a failed run's last line repeats its task's (components.outputs.failures).
ERROR_PREFIX = "axisflow: error: "
#: The flow the commands that read runs (``results``, ``report``, ``runs``, ``diff``) look at unless told otherwise.
DEFAULT_FLOW = "InvestigationFlow"
#: Prefix of the run tag naming the run's experiment (``experiment:smoke``); the shell adds it at launch.
EXPERIMENT_TAG_PREFIX = "experiment:"

#: What an experiment may declare as ``experiment.contract``.
CONTRACTS = ("order_independent", "single_worker", "nondeterministic")
#: What a method may declare as ``kind``.
KINDS = ("axis_agnostic", "axis_dependent")
#: The data axis that names a cross-validation fold; its cells are aggregated by components.stats.cv.
FOLD_AXIS = "fold"
#: ``experiment.statistics.cv_interval`` choices for an experiment with a fold axis.
CV_INTERVALS = ("nadeau_bengio", "nested", "naive_folds_as_seeds")

#: Version of the ``results`` layout (types in :mod:`components.schema`); bump it when a field changes meaning.
#: /2: the metric block declares target, range and definition; ``task`` and ``contrasts`` added; paired rows
#: carry raw and family-adjusted p-values and family-wise verdicts; validation history is ``val_metric``.
#: /3: ``dataset`` (a file-backed generator's path, SHA-256 and rows, else None) and ``cross_validation``
#: (fold axis, folds, interval, split; None without a fold axis) added; the fold axis is not in ``axes``.
#: /4: ``work`` counts only this run's seam calls (arms reused from earlier runs add nothing;
#: ``provenance.reuse`` counts them and says where each reused arm came from).
#: /5: paired and contrast rows carry ``p_signflip``; rows of equal values get no interval (a note says why).
#: /6: ``secondary`` (only when ``experiment.secondary_metrics`` is declared): per secondary metric its block and
#: the same cells, paired rows and contrasts as the primary, in a descriptive family of its own; ``per_class``
#: (binary and multiclass tasks): per (cell, method) the summed confusion matrix and per-class recall and precision
#: with intervals; a cell or comparison whose values are all equal gets an interval from the metric's declared
#: resolution (a note says so); a tied comparison's p is at least its exact sign-flip p.
RESULTS_SCHEMA = "axisflow.results/6"
#: Version of the branch record layout (types in :mod:`components.schema`).
#: /3: ``provenance`` (per arm: reuse key, trained or reused, and from which run/task).
#: /4: trainings and observations carry ``secondary`` (``{name: value}``) when secondary metrics are declared,
#: ``resolution`` when the metric declares one and ``per_example`` under ``cv_interval: nested``; a classification
#: arm's training record carries its test ``confusion`` matrix; the branch task keeps each trained arm's test
#: predictions (``components.engine.reuse.PREDICTIONS``).
RECORD_SCHEMA = "axisflow.record/4"
#: Version of the ``results["provenance"]`` layout. /2: ``reuse`` (components.engine.reuse.reuse_summary).
#: /3: ``hardware`` (devices, precision and kernel settings the arms reported; None for tabular trainers).
PROVENANCE_SCHEMA = "axisflow.provenance/3"
#: Version of the JSON verdict ``axisflow prove --report`` writes.
PROVE_REPORT_SCHEMA = "axisflow.prove/1"
