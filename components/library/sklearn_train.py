"""scikit-learn estimators as methods: any estimator named by import path, with its parameters checked at launch.

A method config::

    ridge:
      _target_: components.library.sklearn_train.fit_estimator
      kind: axis_agnostic
      estimator:
        _target_: sklearn.linear_model.Ridge
        alpha: 1.0

The estimator's parameters are validated by scikit-learn's own constraints
(``_validate_params``) when the config is checked. ``random_state`` is never a
config key: when the estimator has one, it is set from the arm's seed
(:func:`components.seeding.library_seed`: scikit-learn takes seeds below
``2**32``), so scikit-learn never falls back to NumPy's global random state. The estimator is
fitted on the training split it is handed (a ``Pipeline`` keeps preprocessing
inside that fit); it uses no validation split (``uses_validation=False``), so
under cross-validation, where validation rows come from the training fold, the
seam hands it the whole training fold (:func:`components.spec.seams.fit_data`),
and its validation score is then measured on rows it was fitted on (telemetry only).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import numpy as np
from pydantic import Field, field_validator

from components.spec.declarations import TARGET, FieldError, ImplementationError, Params, check_keywords, excerpt, locate, trainer
from components.spec.seams import Dataset, Scorer, TrainResult
from components.seeding import library_seed

__all__ = ["EstimatorParams", "build_estimator", "check_on_data", "estimator_class", "fit_estimator", "search_budget"]


def build_estimator(node: Mapping[str, Any], seed: int | None = None, loc: tuple[Any, ...] = ()):
    """Instantiate the scikit-learn estimator ``node`` names, with its settings and ``random_state`` from ``seed``.

    Nested estimators (``{_target_: ...}`` values, e.g. a ``Pipeline``'s steps
    given as ``steps: [[name, {_target_: ...}], ...]``) are built the same way.
    Nothing is called before it is known to be an estimator class (see
    :func:`estimator_class`). Raises :class:`FieldError` at the offending key
    for an unknown or refused class or parameter, or a value scikit-learn's own
    constraints reject.
    """
    if not isinstance(node, Mapping) or TARGET not in node:
        raise FieldError(loc, f"expected a mapping with {TARGET}: an estimator's import path")
    cls = estimator_class(node[TARGET], loc)
    if "random_state" in node:
        raise FieldError((*loc, "random_state"), "is set by axisflow from the arm's seed; remove it from the config")
    try:
        check_keywords(cls, {key: None for key in node if key != TARGET}, str(node[TARGET]))
    except FieldError as exc:
        raise FieldError((*loc, *exc.loc), exc.message, near=exc.near, known=exc.known) from None
    kwargs = {key: _build_value(value, seed, (*loc, key)) for key, value in node.items() if key != TARGET}
    try:
        estimator = cls(**kwargs)
    except TypeError as exc:
        raise FieldError(loc, f"{node[TARGET]} does not accept these settings ({excerpt(str(exc), 200, quote=False)})") from None
    if seed is not None and "random_state" in estimator.get_params(deep=False):
        estimator.set_params(random_state=library_seed(seed))
    validate_params = getattr(estimator, "_validate_params", None)
    if validate_params is not None:
        try:
            validate_params()
        except ValueError as exc:  # scikit-learn's InvalidParameterError
            line = str(exc).splitlines()[0]
            named = _CONSTRAINT.match(line)
            at = (*loc, named.group(1)) if named and named.group(1) in node else loc  # the key the user typed
            raise FieldError(at, excerpt(line, 300, quote=False)) from None
    return estimator


#: How scikit-learn's parameter validation names the offending parameter: ``The 'C' parameter of LogisticRegression must be ...``.
_CONSTRAINT = re.compile(r"The '(\w+)' parameter of ")


def estimator_class(path: Any, loc: tuple[Any, ...] = ()) -> type:
    """The class ``path`` names, checked to be a scikit-learn ``BaseEstimator`` subclass *before* anything is called.

    :func:`~components.spec.declarations.locate` refuses paths outside the
    allowed packages without importing them; this refuses what is left that is
    not an estimator class (a function such as ``os.system`` would otherwise be
    called with the config's keys as arguments, a class such as ``Bunch`` is not
    an estimator).
    """
    from sklearn.base import BaseEstimator

    try:
        cls = locate(path, TARGET)
    except ImplementationError as exc:
        raise FieldError(loc, str(exc)) from None  # "_target_ ...": describe() joins it to the key path
    if not isinstance(cls, type) or not issubclass(cls, BaseEstimator) or not hasattr(cls, "fit"):
        raise FieldError((*loc, TARGET), f"{excerpt(path)} is not a scikit-learn estimator class (a subclass of sklearn.base.BaseEstimator)")
    return cls


def _build_value(value: Any, seed: int | None, loc: tuple[Any, ...]) -> Any:
    if isinstance(value, Mapping) and TARGET in value:
        return build_estimator(value, seed, loc)
    if isinstance(value, (list, tuple)):
        return [_build_value(v, seed, (*loc, i)) for i, v in enumerate(value)]
    return value


class EstimatorParams(Params):
    """Settings of :func:`fit_estimator`."""

    estimator: dict[str, Any] = Field(description="{_target_: a scikit-learn estimator's import path, ...its parameters}")

    @field_validator("estimator")
    @classmethod
    def _estimator_builds(cls, node: dict[str, Any]) -> dict[str, Any]:
        build_estimator(node, seed=0)
        return node


#: Parameters through which scikit-learn's built-in cross-validated estimators (``RidgeCV``, ...) take their candidates.
_CANDIDATES = ("alphas", "Cs", "l1_ratio", "n_alphas")


def search_budget(settings: Mapping[str, Any], training: Mapping[str, Any]) -> tuple[int | None, str]:
    """Selection budget of :func:`fit_estimator`: the candidates a search inside the estimator chooses among.

    ``GridSearchCV``-style searches count their grid (a list of grids adds up),
    ``RandomizedSearchCV``-style ones their ``n_iter``, built-in ``...CV``
    estimators the length of their candidate list; nested searches multiply.
    Without any search the budget is 1. ``None`` when a search's size cannot be
    read from the config (a parameter left at scikit-learn's own default).
    """
    count: int | None = 1
    found: list[str] = []

    def walk(value: Any) -> None:
        nonlocal count
        if isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
            return
        if not isinstance(value, Mapping):
            return
        name = str(value[TARGET]).rsplit(".", 1)[-1] if TARGET in value else ""
        size: int | None = None
        if name.endswith("SearchCV"):
            if "param_grid" in value:
                grids = value["param_grid"] if isinstance(value["param_grid"], list) else [value["param_grid"]]
                size = sum(int(np.prod([len(v) for v in grid.values()])) for grid in grids)
            elif "n_iter" in value:
                size = int(value["n_iter"])
            found.append(f"{name} over {size if size is not None else 'an unstated number of'} candidates")
        elif name.endswith("CV") and TARGET in value:
            given = [value[key] for key in _CANDIDATES if key in value]
            size = (len(given[0]) if isinstance(given[0], (list, tuple)) else int(given[0])) if given else None
            found.append(f"{name} over {size if size is not None else 'its default'} candidates")
        if name.endswith("CV") and TARGET in value:
            count = None if size is None or count is None else count * size
        for key, item in value.items():
            if key != TARGET:
                walk(item)

    walk(settings.get("estimator"))
    if not found:
        return 1, "the fitted estimator (no search inside it)"
    return count, "; ".join(found)


def check_on_data(settings: Mapping[str, Any], data: Dataset) -> None:
    """Fit a ``Pipeline``'s transformers (every step but the last) on the first branch's training rows, at launch.

    Settings that contradict the data's shape (``PCA(n_components=100)`` or
    ``TruncatedSVD(n_components=40)`` on 30 features) are rejected only by ``fit``; this
    runs those fits once, before any task starts, and names the step. The
    last step (the model) is not fitted here: that is the arm's work, and
    transformers are cheap by comparison. A bare estimator is not fitted.
    """
    node = settings["estimator"]
    steps = node.get("steps") if isinstance(node, Mapping) else None
    if not isinstance(steps, list) or len(steps) < 2 or not str(node.get(TARGET, "")).endswith("Pipeline"):
        return
    X, y = data.X_train.reshape(len(data.X_train), -1), data.y_train
    for i, (name, step) in enumerate(steps[:-1]):
        if not isinstance(step, Mapping):  # "passthrough" or None
            continue
        loc = ("estimator", "steps", i, 1)
        transformer = build_estimator(step, seed=0, loc=loc)
        try:
            X = transformer.fit_transform(X, y)
        except Exception as exc:  # noqa: BLE001 -- any failure here would fail every arm of the method
            reason = excerpt(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, 300, quote=False)
            raise FieldError(loc, f"step {name!r} fails on the training data ({len(X)} rows x {X.shape[1]} features): {reason}") from None


@trainer(
    params=EstimatorParams,
    tasks=("binary", "multiclass", "regression"),
    reads_training=(),
    # Reviewed text (a fact of the fidelity worksheet): under cross-validation the "whole training split" is the whole
    # training fold, validation rows included, since the trainer declares uses_validation=False (seams.fit_data).
    data_order="the estimator's own (scikit-learn fits on the whole training split; stochastic estimators draw from random_state = the arm's seed)",
    selection="the fitted estimator; no validation-based selection",
    uses_validation=False,
    selection_budget=search_budget,
    imports=("sklearn",),
    data_check=check_on_data,
)
def fit_estimator(params: EstimatorParams, data: Dataset, seed: int, training: Mapping[str, Any], scorer: Scorer) -> TrainResult:
    """Fit the estimator on the training split; predict validation and test in the task's form."""
    estimator = build_estimator(params.estimator, seed)
    estimator.fit(data.X_train, data.y_train)

    def predict(X: np.ndarray) -> np.ndarray:
        if data.task == "regression":
            return np.asarray(estimator.predict(X), dtype=np.float64)
        proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
        return proba[:, 1] if data.task == "binary" else proba

    val_metric = scorer(predict(data.X_val), data.y_val)
    history = {"epoch": [0.0], "val_metric": [val_metric]}
    return TrainResult(estimator, predict(data.X_test), val_metric, history, {"epochs_run": 1})
