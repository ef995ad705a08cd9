"""The tabular_cv investigation: on a real table (the Wisconsin breast-cancer data, data/breast_cancer.csv),
does a small MLP beat gradient boosting and logistic regression under repeated stratified 5-fold
cross-validation, and does feature standardisation fitted on each training fold matter?

It needs no code of its own: the table is read by the reusable file-backed generator
(components.library.tables.binary_table), the baselines are scikit-learn estimators
(components.library.sklearn_train.fit_estimator, a Pipeline for the scaled logistic regression), and
the MLPs use the shared torch loop with scaling fitted on the training split
(components.library.scaled_torch.train_torch_scaled). Everything specific to the question is in
configs/experiment/tabular_cv.yaml (and tabular_cv_smoke.yaml), configs/data/breast_cancer.yaml and the
method files it selects.
"""
