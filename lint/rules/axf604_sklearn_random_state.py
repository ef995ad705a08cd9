"""AXF604: a scikit-learn call that draws randomness without ``random_state``."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from lint.analysis import Module, in_seeded_scope, is_step
from lint.dataflow import dataflow_of
from lint.findings import Finding
from lint.rules.base import Rule

# Callables whose result depends on ``random_state`` whenever they run with defaults.
ALWAYS_RANDOM = frozenset(
    {"train_test_split", "KMeans", "MiniBatchKMeans", "BisectingKMeans", "RandomForestClassifier",
     "RandomForestRegressor", "ExtraTreesClassifier", "ExtraTreesRegressor",
     "DecisionTreeClassifier", "DecisionTreeRegressor", "ExtraTreeClassifier",
     "ExtraTreeRegressor", "GradientBoostingClassifier", "GradientBoostingRegressor",
     "BaggingClassifier", "BaggingRegressor", "AdaBoostClassifier", "AdaBoostRegressor",
     "IsolationForest", "RandomTreesEmbedding", "MLPClassifier", "MLPRegressor", "SGDClassifier",
     "SGDRegressor", "Perceptron", "PassiveAggressiveClassifier", "TruncatedSVD", "TSNE",
     "GaussianMixture", "BayesianGaussianMixture", "SpectralClustering", "ShuffleSplit",
     "StratifiedShuffleSplit", "GroupShuffleSplit", "RepeatedKFold", "RepeatedStratifiedKFold",
     "RandomizedSearchCV", "permutation_importance", "make_classification", "make_regression",
     "make_blobs", "make_moons", "make_circles", "resample", "shuffle"}
)
# Splitters that are random only with ``shuffle=True``.
SHUFFLE_RANDOM = frozenset({"KFold", "StratifiedKFold", "StratifiedGroupKFold"})


class SklearnRandomStateRule(Rule):
    """## What it does
    In flow files and in files under a ``components/`` folder, flags a
    scikit-learn call that draws random numbers but is given no
    ``random_state`` (or ``random_state=None``): ``train_test_split`` (unless
    ``shuffle=False``), ``KMeans``, tree, forest, bagging and boosting
    estimators, ``MLPClassifier``, ``SGDClassifier``, ``TSNE``,
    ``GaussianMixture``, the ``*ShuffleSplit`` and ``Repeated*KFold``
    splitters, ``KFold``/``StratifiedKFold`` with ``shuffle=True``,
    ``RandomizedSearchCV``, ``permutation_importance``, the ``make_*``
    dataset generators, ``resample`` and ``shuffle``. Estimators whose
    default fit is deterministic (``LogisticRegression``, ``PCA``,
    ``HistGradientBoosting*``) are not flagged. A call whose result reaches
    no artifact, return value, metric, log or file (followed through the
    shared data-flow) is not flagged.

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
            if last in SHUFFLE_RANDOM:
                if not _is_true(keywords.get("shuffle")):
                    continue
            elif last not in ALWAYS_RANDOM:
                continue
            if last == "train_test_split" and _is_false(keywords.get("shuffle")):
                continue
            if None in keywords:  # **kwargs may carry random_state
                continue
            state = keywords.get("random_state")
            if state is not None and not (isinstance(state, ast.Constant) and state.value is None):
                continue
            if dataflow_of(module).reaches_result(node):
                step = module.enclosing_function(node)
                where = f" in step '{step.name}'" if step is not None and is_step(step) else ""
                yield self.finding(module, node, call=last, where=where)


def _is_true(node: ast.expr | None) -> bool:
    return node is not None and not (isinstance(node, ast.Constant) and not node.value)


def _is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False
