"""Which scikit-learn callables draw random numbers when ``random_state`` is left unset.

A table, not an import: the linter stays stdlib-only and never imports
scikit-learn. It was built from scikit-learn's own signatures (1.9.1:
every public function and class whose signature has a ``random_state``
parameter, read with ``inspect.signature``) and then sorted by hand into:

- ``RANDOM_BY_DEFAULT``: random with default arguments and a default of
  ``random_state=None`` (splitters, clusterers, forests, generators,
  ``mutual_info_classif``...);
- ``RANDOM_WHEN``: random only when a keyword is given a truthy value
  (``silhouette_score(sample_size=...)``, ``learning_curve(shuffle=True)``,
  ``KFold(shuffle=True)``);
- everything else with a ``random_state`` parameter is deterministic with
  its defaults (``LogisticRegression`` with lbfgs, ``PCA`` with a full SVD
  on small data, ``HistGradientBoosting*`` without early stopping) or has a
  fixed default seed (``Perceptron``, ``FactorAnalysis``,
  ``permutation_test_score``, ``load_files``: ``random_state=0``), and is not
  listed.
"""

from __future__ import annotations

__all__ = ["RANDOM_BY_DEFAULT", "RANDOM_WHEN"]

RANDOM_BY_DEFAULT = frozenset(
    {
        # model_selection
        "train_test_split", "ShuffleSplit", "StratifiedShuffleSplit", "GroupShuffleSplit",
        "RepeatedKFold", "RepeatedStratifiedKFold", "RandomizedSearchCV", "HalvingGridSearchCV",
        "HalvingRandomSearchCV", "ParameterSampler",
        # trees and ensembles
        "DecisionTreeClassifier", "DecisionTreeRegressor", "ExtraTreeClassifier",
        "ExtraTreeRegressor", "RandomForestClassifier", "RandomForestRegressor",
        "ExtraTreesClassifier", "ExtraTreesRegressor", "GradientBoostingClassifier",
        "GradientBoostingRegressor", "BaggingClassifier", "BaggingRegressor", "AdaBoostClassifier",
        "AdaBoostRegressor", "IsolationForest", "RandomTreesEmbedding",
        # linear models and neural networks trained by stochastic solvers
        "SGDClassifier", "SGDRegressor", "SGDOneClassSVM", "PassiveAggressiveClassifier",
        "PassiveAggressiveRegressor", "MLPClassifier", "MLPRegressor", "BernoulliRBM",
        "RANSACRegressor", "TheilSenRegressor",
        # clustering, mixtures, decompositions, manifolds, projections
        "KMeans", "MiniBatchKMeans", "BisectingKMeans", "k_means", "kmeans_plusplus",
        "AffinityPropagation", "affinity_propagation", "SpectralClustering", "spectral_clustering",
        "SpectralBiclustering", "SpectralCoclustering", "GaussianMixture",
        "BayesianGaussianMixture", "TruncatedSVD", "randomized_svd", "FastICA", "fastica",
        "DictionaryLearning", "MiniBatchDictionaryLearning", "dict_learning",
        "dict_learning_online", "SparsePCA", "MiniBatchSparsePCA", "MiniBatchNMF",
        "LatentDirichletAllocation", "TSNE", "MDS", "smacof", "SpectralEmbedding",
        "spectral_embedding", "GaussianRandomProjection", "SparseRandomProjection",
        "MinCovDet", "EllipticEnvelope", "fast_mcd", "OutputCodeClassifier",
        # feature selection, inspection, utilities, dataset generators
        "mutual_info_classif", "mutual_info_regression", "permutation_importance", "resample",
        "shuffle", "sample_without_replacement", "make_biclusters", "make_blobs",
        "make_checkerboard", "make_circles", "make_classification", "make_friedman1",
        "make_friedman2", "make_friedman3", "make_gaussian_quantiles", "make_hastie_10_2",
        "make_low_rank_matrix", "make_moons", "make_multilabel_classification",
        "make_regression", "make_s_curve", "make_sparse_coded_signal", "make_sparse_spd_matrix",
        "make_sparse_uncorrelated", "make_spd_matrix", "make_swiss_roll",
    }
)

#: Callable -> keyword that makes it random when given a truthy value.
RANDOM_WHEN = {
    "KFold": "shuffle",
    "StratifiedKFold": "shuffle",
    "StratifiedGroupKFold": "shuffle",
    "learning_curve": "shuffle",
    "silhouette_score": "sample_size",
    "extract_patches_2d": "max_patches",
    "PatchExtractor": "max_patches",
}
