"""AXF604: a scikit-learn call that draws randomness without ``random_state``."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from lint.analysis import Module, in_seeded_scope, is_step
from lint.dataflow import dataflow_of
from lint.findings import Finding
from lint.rules.base import Rule
from lint.seeds import reseeded
from lint.sklearn_random import RANDOM_BY_DEFAULT, RANDOM_WHEN



class SklearnRandomStateRule(Rule):
    """## What it does
    In flow files and in files under a ``components/`` folder, flags a
    scikit-learn call that draws random numbers but is given no
    ``random_state`` (or ``random_state=None``): ``train_test_split`` (unless
    ``shuffle=False``), ``KMeans``, tree, forest, bagging and boosting
    estimators, ``MLPClassifier``, ``SGDClassifier``, ``TSNE``,
    ``GaussianMixture``, the ``*ShuffleSplit`` and ``Repeated*KFold``
    splitters, ``KFold``/``StratifiedKFold`` with ``shuffle=True``,
    ``RandomizedSearchCV``, ``permutation_importance``,
    ``mutual_info_classif``/``mutual_info_regression``, the ``make_*``
    dataset generators, ``resample`` and ``shuffle``: every callable whose
    scikit-learn signature has a ``random_state`` that defaults to ``None``
    and is used with default arguments (the table in
    :mod:`lint.sklearn_random`, built from scikit-learn's own signatures).
    Estimators whose default fit is deterministic (``LogisticRegression``,
    ``PCA``, ``HistGradientBoosting*``) or whose default seed is fixed
    (``Perceptron``) are not flagged. A call whose result reaches no
    artifact, return value, metric, log or file (followed through the shared
    data-flow) is not flagged, and neither is one that follows a fixed
    ``np.random.seed(...)`` earlier in the same step (see AXF601: the task's
    NumPy state is then deterministic).

    ## Why is this bad?
    Without ``random_state`` scikit-learn draws from NumPy's global random
    state, which is seeded from the operating system in every new process.
    Each Metaflow task is a new process, so the split, the clustering or the
    forest differs on every run and on every retry or ``resume``, and no
    seed in the config or the branch key controls it.

    ## Example
    ```python
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2)
    self.model = RandomForestClassifier(n_estimators=100).fit(x_train, y_train)
    ```

    ## Use instead
    ```python
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=self.seed)
    self.model = RandomForestClassifier(n_estimators=100, random_state=self.seed).fit(x_train, y_train)
    ```
    """

    code = "AXF604"
    name = "sklearn-random-state"
    summary = "A scikit-learn call draws randomness without random_state (NumPy's global RNG)."
    message = (
        "{call}(){where} has no random_state, so it draws from NumPy's global random state; "
        "pass random_state= a seed from the config or the branch"
    )

    def check(self, module: Module) -> Iterator[Finding]:
        if not in_seeded_scope(module):
            return
        for node in module.calls:
            qualified = module.qualname(node.func)
            if qualified is None or not qualified.startswith("sklearn."):
                continue
            last = qualified.rsplit(".", 1)[-1]
            keywords = {keyword.arg: keyword.value for keyword in node.keywords}
            if last in RANDOM_WHEN:
                if not _is_true(keywords.get(RANDOM_WHEN[last])):
                    continue
            elif last not in RANDOM_BY_DEFAULT:
                continue
            if last == "train_test_split" and _is_false(keywords.get("shuffle")):
                continue
            if None in keywords:  # **kwargs may carry random_state
                continue
            state = keywords.get("random_state")
            if state is not None and not (isinstance(state, ast.Constant) and state.value is None):
                continue
            if reseeded(module, node, "numpy"):
                continue  # NumPy's global state was reseeded with a fixed seed earlier in the step
            if dataflow_of(module).reaches_result(node):
                step = module.enclosing_function(node)
                where = f" in step '{step.name}'" if step is not None and is_step(step) else ""
                yield self.finding(module, node, call=last, where=where)


def _is_true(node: ast.expr | None) -> bool:
    return node is not None and not (isinstance(node, ast.Constant) and not node.value)


def _is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False
