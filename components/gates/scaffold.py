"""``axisflow new NAME --task TASK``: scaffold an investigation that lints, tests and runs straight away.

The load-bearing wiring is copied, not re-derived: a declared generator whose
every draw comes from a generator seeded from the branch seed, methods named by
import path with ``kind`` declared, a training group of its own, a metric that
fits the task, the experiment and its ``_smoke`` variant, and a test. What is
the researcher's to write is marked ``YOUR LOGIC`` (code) or ``YOUR QUESTION``
(configs); the skeleton around it already runs, so each edit can be checked
with ``axisflow lint``, the generated test and a smoke run.

With ``--loader sklearn.datasets.load_*`` the data comes from that package
loader (:mod:`components.library.loaders`), cross-validated over its folds,
instead of a generator of its own.

Files go only to ``components/investigations/NAME/``, ``configs/`` and
``tests/test_NAME.py``; nothing is overwritten, no framework file changes.
"""

from __future__ import annotations

import argparse
import keyword
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.suggest import did_you_mean
from components.constants import REPO_ROOT
from components.files import atomic_write
from components.spec.declarations import excerpt

__all__ = ["TASKS", "ScaffoldError", "plan_files", "register", "scaffold"]

#: Task types ``axisflow new`` scaffolds.
TASKS = ("binary", "multiclass", "regression")

_NAME = re.compile(r"[a-z][a-z0-9_]{1,39}")
# Names that would shadow something a reader (or Python) already means by them.
_RESERVED = {"library", "investigations", "components", "configs", "tests", "lint", "flows", "test", "smoke", "reference"}


class ScaffoldError(ValueError):
    """A bad name or task, or a file that already exists; one line."""


@dataclass(frozen=True)
class _Task:
    """What differs between task types: the generator's labels, the baseline, the metric."""

    what: str
    labels: str
    dataset: str
    extra_params: str
    extra_yaml: str
    baseline: str
    baseline_doc: str
    metric: str
    metric_doc: str


_TASKS: dict[str, _Task] = {
    "binary": _Task(
        what="two classes separated by a random linear boundary, with Gaussian noise on the logit",
        labels=(
            "logit = X @ weights / np.sqrt(params.n_features) + params.noise * rng.standard_normal(n)\n"
            "y = (logit > 0).astype(np.int64)"
        ),
        dataset='Dataset("binary", *train, *val, *test, n_classes=2)',
        extra_params="",
        extra_yaml="",
        baseline=(
            "  _target_: components.library.torch_train.train_logreg\n"
            "  kind: axis_agnostic\n"
            "  model:\n"
            "    _target_: components.library.models.linear\n"
            "  l2: 0.0001\n"
            "  max_iter: 200\n"
        ),
        baseline_doc="L2-regularised logistic regression (full-batch L-BFGS); it reads no swept key, so it trains once per branch.",
        metric="{name: auroc, _target_: components.library.metrics.auroc}",
        metric_doc="test AUROC",
    ),
    "multiclass": _Task(
        what="classes from the argmax of random linear scores, with Gaussian noise on the scores",
        labels=(
            "scores = X @ weights / np.sqrt(params.n_features) + params.noise * rng.standard_normal((n, params.n_classes))\n"
            "y = scores.argmax(axis=1).astype(np.int64)"
        ),
        dataset='Dataset("multiclass", *train, *val, *test, n_classes=params.n_classes)',
        extra_params='    n_classes: Annotated[int, Field(ge=2, le=1000, description="number of classes")]\n',
        extra_yaml="n_classes: 3\n",
        baseline=(
            "  _target_: components.library.sklearn_train.fit_estimator\n"
            "  kind: axis_agnostic\n"
            "  estimator:\n"
            "    _target_: sklearn.linear_model.LogisticRegression\n"
            "    C: 1.0\n"
            "    max_iter: 500\n"
        ),
        baseline_doc="Multinomial logistic regression (scikit-learn); it reads no training key, so it trains once per branch.",
        metric="{name: accuracy, _target_: components.library.metrics.accuracy, threshold: 0.5}",
        metric_doc="test accuracy",
    ),
    "regression": _Task(
        what="a random linear signal plus Gaussian noise",
        labels="y = (X @ weights / np.sqrt(params.n_features) + params.noise * rng.standard_normal(n)).astype(np.float32)",
        dataset='Dataset("regression", *train, *val, *test)',
        extra_params="",
        extra_yaml="",
        baseline=(
            "  _target_: components.library.sklearn_train.fit_estimator\n"
            "  kind: axis_agnostic\n"
            "  estimator:\n"
            "    _target_: sklearn.linear_model.Ridge\n"
            "    alpha: 1.0\n"
        ),
        baseline_doc="Ridge regression (scikit-learn, closed form); it reads no training key, so it trains once per branch.",
        metric="{name: rmse, _target_: components.library.metrics.rmse}",
        metric_doc="test RMSE (lower is better)",
    ),
}

_INIT = '''\
"""The {name} investigation ({task}). YOUR QUESTION: say here, in one sentence, what it asks."""
'''

_DATA = '''\
"""The {name} investigation's data: {what}.

YOUR LOGIC: replace the body of :func:`{name}_data` with your data-generating
process (or a loader for your files), and its settings in :class:`DataParams`.
Keep the signature, the declaration (say in ``split`` how train, validation and
test are drawn: the fidelity review shows it) and the rule that every random
draw comes from a generator seeded from ``seed``. ``seed`` is 63-bit: NumPy's
``default_rng`` takes it as it is; an API that takes 32-bit seeds (scikit-learn's
``random_state``, ``np.random.RandomState``) gets
``library_seed(derive_seed(seed, "what it seeds"))`` from ``components.seeding``.
"""

from __future__ import annotations

from typing import Annotated, Any, Mapping

import numpy as np
from pydantic import Field

from components.spec.declarations import Params, generator
from components.spec.seams import Dataset
from components.seeding import derive_seed

__all__ = ["DataParams", "{name}_data"]


class DataParams(Params):
    """Settings of :func:`{name}_data` (``configs/data/{name}.yaml``): each with a type, a range and a description, no default."""

    n_features: Annotated[int, Field(ge=1, le=10_000, description="input dimension")]
{extra_params}    n_train: Annotated[int, Field(ge=2, description="training examples")]
    n_val: Annotated[int, Field(ge=2, description="validation examples")]
    n_test: Annotated[int, Field(ge=2, description="test examples")]
    noise: Annotated[float, Field(ge=0.0, description="standard deviation of the Gaussian noise on the {noise_on}")]


@generator(
    params=DataParams,
    task="{task}",
    split=(
        "independent streams derived from the replicate seed for the task, training, validation and test examples; "
        "the task is fixed per seed, so every value of a data axis sees the same task"
    ),
)
def {name}_data(params: DataParams, data_axes: Mapping[str, Any], seed: int) -> Dataset:
    """{what_cap}; standard normal inputs.

    The task (the weights) depends on the seed only; each split draws from its
    own stream derived from the seed, so changing one split's size leaves the
    others unchanged.
    """
    # YOUR LOGIC: what the labels depend on, fixed per seed.
    weights = np.random.default_rng(derive_seed(seed, "task")).standard_normal({weights_shape})

    def split(name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(derive_seed(seed, "examples", name))
        X = rng.standard_normal((n, params.n_features))
        # YOUR LOGIC: the labels of these examples.
{labels}
        return X.astype(np.float32), y

    train, val, test = split("train", params.n_train), split("val", params.n_val), split("test", params.n_test)
    return {dataset}
'''

_DATA_YAML = '''\
# The {name} investigation's data ({task}); YOUR LOGIC lives in components/investigations/{name}/data.py.
_target_: components.investigations.{name}.data.{name}_data
n_features: 10
{extra_yaml}n_train: 400
n_val: 200
n_test: 1000
# A data axis sets noise per branch.
noise: 0.5
'''

_LOADER_DATA_YAML = '''\
# The {name} investigation's data ({task}): a dataset that ships in a package, cross-validated.
# YOUR LOGIC: name another loader (a function sklearn.datasets.load_*; further keys are its arguments),
# or replace this file with a table (components.library.tables) or your own generator.
_target_: components.library.loaders.{task}_loader
loader:
  _target_: {loader}
splitter: {splitter}
n_splits: 5
# The experiment sweeps the held-out fold: experiment.axes.data.fold.
fold: 0
inner_val_folds: 5
'''

_TRAINING_YAML = '''\
# Training settings of the {name} investigation: authoritative for every method (methods may not set these keys).
_target_: components.library.torch_train.TorchTraining
epochs: 40
lr: 0.005
batch_size: 64
optimizer: adam
# Read only when optimizer is sgd.
momentum: 0.9
weight_decay: 0.0
# Torch intra-op threads per task; one per task keeps two workers on two cores honest.
threads: 1
# Validate every this many epochs (and always at the last one).
eval_every: 1
reshuffle: per_epoch
'''

_BASELINE_YAML = '''\
# The {name} investigation's baseline: {doc}
# YOUR LOGIC: swap in your own baseline (any trainer in components/library or components/investigations/{name}/).
{name}_baseline:
{body}'''

_MLP_YAML = '''\
# The {name} investigation's second method: a small MLP trained by the shared torch loop, retrained per training-axis value.
# YOUR LOGIC: replace it with the method your question is about.
{name}_mlp:
  _target_: components.library.torch_train.train_torch
  kind: axis_dependent
  model:
    _target_: components.library.models.mlp
    hidden: [32]
  callbacks: []
'''

_EXPERIMENT_YAML = '''\
# @package _global_
# The {name} investigation. YOUR QUESTION: edit `question`, the axes and the methods to match it;
# then `uv run axisflow review experiment={name}` before the first run.
defaults:
  - override /data: {name}
  - override /training: {name}
  - override /method: [{name}_baseline, {name}_mlp]

experiment:
  name: {name}
  question: >-
    Does a small MLP beat the {task} baseline on {metric_doc}{question_axis}, and does a longer epoch budget help it?
  contract: order_independent
  seeds: 5
  seed_base: 0
  baseline: {name}_baseline
  metric: {metric}
  axes:
{axes}
  statistics:
{statistics}'''

_SMOKE_YAML = '''\
# @package _global_
# Tiny version of the {name} investigation for tests, CI and the prove gate.
defaults:
  - override /data: {name}
  - override /training: {name}
  - override /method: [{name}_baseline, {name}_mlp]

{smoke_data}
experiment:
  name: {name}_smoke
  question: Does the {name} pipeline run end to end?
  contract: order_independent
  seeds: {smoke_seeds}
  seed_base: 0
  baseline: {name}_baseline
  metric: {metric}
  axes:
{smoke_axes}
  statistics:
{smoke_statistics}'''

_GENERATED_DATA_TEST = '''\
def test_{name}_data_is_a_pure_function_of_the_seed_with_the_declared_sizes():
    _, spec = load_spec(["experiment={name}_smoke"])
    axes = {{axis: values[0] for axis, values in spec.data_axes.items()}}
    a, b, other = make_data(spec.data, axes, 7), make_data(spec.data, axes, 7), make_data(spec.data, axes, 8)
    assert a.task == "{task}" and a.fingerprint() == b.fingerprint() != other.fingerprint()
    assert (len(a.y_train), len(a.y_val), len(a.y_test)) == (spec.data["n_train"], spec.data["n_val"], spec.data["n_test"])
    assert a.X_train.dtype == np.float32 and a.n_features == spec.data["n_features"]
'''

_LOADER_DATA_TEST = '''\
def test_{name}_data_is_a_pure_function_of_the_seed_and_each_fold_holds_out_its_own_rows():
    _, spec = load_spec(["experiment={name}_smoke"])
    folds = spec.data_axes["fold"]
    a, b, other = (make_data(spec.data, {{"fold": folds[0]}}, seed) for seed in (7, 7, 8))
    assert a.task == "{task}" and a.fingerprint() == b.fingerprint() != other.fingerprint()
    held_out = sum(len(make_data(spec.data, {{"fold": fold}}, 7).y_test) for fold in folds)
    assert held_out == len(a.y_train) + len(a.y_val) + len(a.y_test)
    assert a.X_train.dtype == np.float32 and a.n_features >= 1
'''

_TEST = '''\
"""The {name} investigation: its experiments compose, its data is a pure function of the seed, its methods train."""

from __future__ import annotations

import numpy as np
import pytest

from components.spec.config import load_spec
from components.spec.seams import make_data, metric, train_arm


@pytest.mark.parametrize("experiment", ["{name}", "{name}_smoke"])
def test_{name}_experiment_composes_and_validates(experiment):
    _, spec = load_spec([f"experiment={{experiment}}"])
    assert spec.name == experiment and spec.task == "{task}"
    assert spec.baseline == "{name}_baseline"
    assert {{m.name for m in spec.methods}} == {{"{name}_baseline", "{name}_mlp"}}


{data_test}

@pytest.mark.parametrize("method", ["{name}_baseline", "{name}_mlp"])
def test_{name}_method_trains_and_scores_within_the_metric_range(method):
    _, spec = load_spec(["experiment={name}_smoke"])
    data = make_data(spec.data, {{axis: values[0] for axis, values in spec.data_axes.items()}}, 3)
    training = {{**spec.training, **{{axis: values[0] for axis, values in spec.training_axes.items()}}}}
    result = train_arm({{**spec.method(method).spec, "name": method}}, data, 3, training, metric_spec=spec.metric)
    score = metric(result.predictions, data.y_test, metric_spec=spec.metric)
    low, high = spec.metric_info.range
    assert np.isfinite(score) and (low is None or score >= low) and (high is None or score <= high)
'''


def plan_files(name: str, task: str, loader: str | None = None) -> dict[str, str]:
    """Repository-relative path -> content of every file ``axisflow new name --task task [--loader LOADER]`` writes.

    Without ``loader`` the investigation starts from a generator of its own
    (``data.py``, swept over its noise); with one (``sklearn.datasets.load_digits``)
    from :mod:`components.library.loaders`, cross-validated over its folds.
    """
    _check(name, task)
    t = _TASKS[task]
    fields = {
        "name": name,
        "task": task,
        "what": t.what,
        "what_cap": t.what[0].upper() + t.what[1:],
        "extra_params": t.extra_params,
        "extra_yaml": t.extra_yaml,
        "noise_on": {"binary": "logit", "multiclass": "class scores", "regression": "targets"}[task],
        "weights_shape": "(params.n_features, params.n_classes)" if task == "multiclass" else "params.n_features",
        "labels": textwrap.indent(t.labels, " " * 8),
        "dataset": t.dataset,
        "metric": t.metric,
        "metric_doc": t.metric_doc,
        "loader": loader,
        "splitter": "kfold" if task == "regression" else "stratified",
        **(_LOADER_EXPERIMENT if loader else _GENERATED_EXPERIMENT),
    }
    fields["data_test"] = (_LOADER_DATA_TEST if loader else _GENERATED_DATA_TEST).format(**fields)
    data = (
        {f"configs/data/{name}.yaml": _LOADER_DATA_YAML.format(**fields)}
        if loader
        else {f"components/investigations/{name}/data.py": _DATA.format(**fields), f"configs/data/{name}.yaml": _DATA_YAML.format(**fields)}
    )
    return {
        f"components/investigations/{name}/__init__.py": _INIT.format(**fields),
        **data,
        f"configs/training/{name}.yaml": _TRAINING_YAML.format(**fields),
        f"configs/method/{name}_baseline.yaml": _BASELINE_YAML.format(name=name, doc=t.baseline_doc, body=t.baseline),
        f"configs/method/{name}_mlp.yaml": _MLP_YAML.format(**fields),
        f"configs/experiment/{name}.yaml": _EXPERIMENT_YAML.format(**fields),
        f"configs/experiment/{name}_smoke.yaml": _SMOKE_YAML.format(**fields),
        f"tests/test_{name}.py": _TEST.format(**fields),
    }


# The experiment's axes and statistics: a generator of its own sweeps its noise; a loader's data sweeps its folds.
_GENERATED_EXPERIMENT = {
    "question_axis": " as the noise grows",
    "axes": "    data:\n      noise: [0.1, 0.5, 1.0]\n    training:\n      epochs: [10, 40]",
    "statistics": "    method: default\n    confidence: 0.95\n    n_resamples: 10000\n",
    "smoke_data": "data:\n  n_train: 120\n  n_val: 60\n  n_test: 200\n",
    "smoke_seeds": 3,
    "smoke_axes": "    data:\n      noise: [0.1, 1.0]\n    training:\n      epochs: [2, 4]",
    "smoke_statistics": (
        "    # BCa, not the default Student-t: the smoke version keeps the bootstrap path exercised.\n"
        "    method: bca\n    confidence: 0.95\n    n_resamples: 2000\n"
    ),
}
_LOADER_EXPERIMENT = {
    "question_axis": " over 5-fold cross-validation",
    "axes": "    data:\n      fold: [0, 1, 2, 3, 4]\n    training:\n      epochs: [10, 40]",
    "statistics": (
        "    # Folds are averaged within a replicate; the interval accounts for their correlation.\n"
        "    cv_interval: nadeau_bengio\n    confidence: 0.95\n"
    ),
    "smoke_data": "data:\n  n_splits: 3\n",
    "smoke_seeds": 2,
    "smoke_axes": "    data:\n      fold: [0, 1, 2]\n    training:\n      epochs: [2, 4]",
    "smoke_statistics": "    cv_interval: nadeau_bengio\n    confidence: 0.95\n",
}


def _check(name: str, task: str) -> None:
    if task not in TASKS:
        raise ScaffoldError(f"--task {excerpt(task)} is not a task axisflow new scaffolds; choose one of {', '.join(TASKS)}")
    # fullmatch: `$` in match() also accepts a trailing newline, and the name becomes file and module names.
    if not isinstance(name, str) or not _NAME.fullmatch(name) or keyword.iskeyword(name) or name.endswith("_smoke") or name in _RESERVED:
        raise ScaffoldError(
            f"investigation name {excerpt(name)} must be 2-40 characters of lowercase letters, digits and underscores, start with a "
            "letter, not end in _smoke, and not be a Python keyword or one of " + ", ".join(sorted(_RESERVED))
        )


def scaffold(name: str, task: str, root: Path | str = REPO_ROOT, loader: str | None = None) -> list[Path]:
    """Write the investigation ``name`` under ``root`` (its data from ``loader``, if given); return the files written.

    Raises :class:`ScaffoldError` (writing nothing) for a bad name, task or
    loader, or when any of the files, or the investigation's folder, already
    exists. Each file is written atomically (:func:`components.files.atomic_write`),
    and a failure part way removes the files already written.
    """
    root = Path(root)
    _check_loader(loader)
    files = plan_files(name, task, loader)
    folder = root / "components" / "investigations" / name
    taken = [path for path in files if (root / path).exists() or (root / path).is_symlink()]
    if folder.exists() or taken:
        shown = f"components/investigations/{name}/" if folder.exists() else taken[0]
        raise ScaffoldError(f"{shown} already exists; axisflow new never overwrites (choose another name, or remove it first)")
    if not (root / "configs" / "config.yaml").is_file() or not (root / "components" / "investigations").is_dir():
        raise ScaffoldError(f"{root} is not an axisflow repository (no configs/config.yaml or components/investigations/)")
    return _write_all(root, files, folder)


def _write_all(root: Path, files: dict[str, str], folder: Path) -> list[Path]:
    """Write every file atomically; on any failure remove what was written (and ``folder``), so a scaffold is all or nothing."""
    written: list[Path] = []
    try:
        for path, text in files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            written.append(atomic_write(target, text))
    except BaseException:
        for done in written:
            done.unlink(missing_ok=True)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        raise
    return written


def _check_loader(loader: str | None) -> None:
    # The rule of components.library.loaders, checked here so a wrong name writes nothing.
    if loader is not None and not re.match(r"^sklearn\.datasets\.load_[a-z0-9_]+$", loader):
        raise ScaffoldError(
            f"--loader {loader!r} is not a scikit-learn dataset loader; name a function sklearn.datasets.load_* "
            "(e.g. sklearn.datasets.load_digits; fetch_* downloads and is refused)"
        )
    if loader is not None:
        import sklearn.datasets

        name = loader.rsplit(".", 1)[1]
        if not callable(getattr(sklearn.datasets, name, None)):
            known = [n for n in dir(sklearn.datasets) if n.startswith("load_")]
            raise ScaffoldError(f"--loader {loader!r}: sklearn.datasets has no {name}{did_you_mean(name, known, prefix='sklearn.datasets.')}")


def _cmd_new(args: argparse.Namespace) -> int:
    written = scaffold(args.name, args.task, loader=args.loader)
    print(f"axisflow: scaffolded investigation {args.name} ({args.task}):")
    for path in written:
        print(f"  {path.relative_to(REPO_ROOT).as_posix()}")
    name = args.name
    print(
        "\n".join(
            [
                "",
                "next: put your logic where the files say YOUR LOGIC / YOUR QUESTION, then",
                f"  uv run axisflow review experiment={name}_smoke           # the fidelity worksheet (--prompt for a reviewer's brief)",
                f"  uv run axisflow review experiment={name}_smoke --record --reviewer NAME --answers ANSWERS.yaml",
                "  uv run axisflow lint flows components",
                f"  uv run pytest tests/test_{name}.py",
                f"  uv run flows/investigation.py run experiment={name}_smoke --max-workers 2",
                f"  uv run axisflow prove flows/investigation.py experiment={name}_smoke",
            ]
        )
    )
    return 0


def register(sub: Any) -> None:
    """Add the ``new`` subcommand to the ``axisflow`` parser."""
    new = sub.add_parser(
        "new",
        help="scaffold a new investigation (generator, two methods, metric, experiments, test) that runs straight away",
        description=(
            "Write components/investigations/NAME/ (a declared data generator), configs for its data, training, a "
            "baseline and a second method, configs/experiment/NAME.yaml and NAME_smoke.yaml, and tests/test_NAME.py. "
            "Never overwrites a file; no framework file changes."
        ),
    )
    new.add_argument("name", help="the investigation's name: lowercase letters, digits and underscores")
    new.add_argument("--task", required=True, help=f"the task type of its data: {', '.join(TASKS)}")
    new.add_argument(
        "--loader",
        default=None,
        help="start from a dataset that ships in scikit-learn (e.g. sklearn.datasets.load_digits), cross-validated, instead of a generator of its own",
    )
    new.set_defaults(func=_cmd_new)
