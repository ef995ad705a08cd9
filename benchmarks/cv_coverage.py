"""Coverage of cross-validation intervals where the true generalisation error is known.

Population: ``x ~ N(0, I_d)``, ``y = x.beta + sigma * eps`` with ``beta_j = 2/j``
(a few strong and many weak coefficients) and ``sigma = 1``. For any linear
predictor ``b`` the true mean squared error on this population is exactly
``sigma^2 + ||b - beta||^2`` (an infinitely large independent test set), so no
test-set noise enters the truth.

Methods (closed form, vectorised over trials with batched solves):

* ``A``: ridge regression (``lambda = 1``) on all ``d`` features;
* ``B``: the same on the first 3 features only; the paired difference is ``A - B``.

Each trial draws a table of ``n`` rows and runs ``r`` repeats of ``k``-fold
cross-validation (new fold assignment per repeat, the same assignment for both
methods), giving ``J = r*k`` test-fold MSEs per method. Intervals (95%):

* ``nadeau_bengio`` (axisflow's default, :func:`components.stats.cv.corrected_t_interval`):
  ``mean +- t_{J-1} sqrt((1/J + 1/(k-1)) S^2)``;
* ``naive t``: the ``J`` fold scores as independent seeds, ``mean +- t_{J-1} S/sqrt(J)``;
* ``naive bootstrap-t``: the same scores given to :func:`components.stats.bootstrap_ci`
  with axisflow's default bootstrap method (what ``naive_folds_as_seeds`` reports);
* ``replicate means t`` (``r > 1`` only): Student-t over the ``r`` per-repeat means.

Targets:

* ``Err(n - n/k)``: the expected error of the method trained on ``n - n/k`` rows
  of this population (Monte Carlo over 40,000 independent training sets); this is
  what a CV estimate estimates and what Nadeau & Bengio's correction targets;
* ``Err_XY``: the true error of the model fitted on this trial's whole table
  (the model one would ship), exact.

Nested cross-validation (``--study nested``): a classification population where
the error of any fitted nearest-centroid classifier is exact. Two balanced
classes, ``x | y ~ N(+-mu, I_d)`` with ``mu_j = 1/sqrt(d)`` (Bayes error
``Phi(-1)`` = 0.159); method ``A`` is the nearest-centroid classifier on all
``d`` features (10, or 50 for a less stable fit), ``B`` the same on the first 2. Its error on the
population is ``(Phi(-(mu - c).w/|w|) + Phi((-mu - c).w/|w|)) / 2`` for the fitted
direction ``w`` and midpoint ``c``, so ``Err_XY`` (the model fitted on the whole
table, the one a user deploys) has no test-set noise. Per-example 0/1 losses of
``r`` repeats of nested k-fold go to :func:`components.stats.nested.nested_cv_estimate`
(the engine's ``cv_interval: nested``; the last column says how often its SE sat
at the naive floor or at the ``sqrt(k)`` cap), the fold error rates to the
Nadeau-Bengio interval (``nadeau_bengio``), and the outer losses to the naive CV
interval of Bates et al. (errors as independent); all are checked against ``Err_XY`` and against the
procedure target ``Err(n - n/k)`` (Monte Carlo over 20,000 training sets).

Run: ``uv run python benchmarks/cv_coverage.py [--trials 2000] [--study ridge|nested|all] [--nested-trials 1000]``
(the ridge study takes about a minute on one core; the nested one about two at ``--nested-trials 1000``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.stats.cv import corrected_t_interval, naive_t_interval  # noqa: E402
from components.stats import bootstrap_ci  # noqa: E402
from components.stats.nested import PerExample, nested_cv_estimate  # noqa: E402

SIGMA = 1.0
LAMBDA = 1.0
SUBSET = 3
CONFIDENCE = 0.95


def population(d: int) -> np.ndarray:
    """The true coefficients ``beta_j = 2/j``."""
    return 2.0 / np.arange(1, d + 1)


def ridge(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Ridge coefficients for a batch: ``X (T, m, p)``, ``y (T, m)`` -> ``(T, p)``."""
    p = X.shape[-1]
    gram = np.einsum("tmi,tmj->tij", X, X) + LAMBDA * np.eye(p)
    return np.linalg.solve(gram, np.einsum("tmi,tm->ti", X, y)[..., None])[..., 0]


def true_error(coef: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Exact population MSE of linear predictors ``coef (T, p)`` (zero-padded to ``d``)."""
    full = np.zeros((coef.shape[0], beta.size))
    full[:, : coef.shape[1]] = coef
    return SIGMA**2 + ((full - beta) ** 2).sum(axis=1)


def draw(rng: np.random.Generator, trials: int, n: int, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = rng.standard_normal((trials, n, beta.size))
    return X, X @ beta + SIGMA * rng.standard_normal((trials, n))


def expected_error(rng: np.random.Generator, n_train: int, beta: np.ndarray, draws: int = 40_000, chunk: int = 4_000) -> tuple[float, float, float]:
    """Monte Carlo ``(Err_A, Err_B, Err_A - Err_B)`` at training size ``n_train``, with the MC standard error of the difference."""
    a, b = [], []
    for _ in range(draws // chunk):
        X, y = draw(rng, chunk, n_train, beta)
        a.append(true_error(ridge(X, y), beta))
        b.append(true_error(ridge(X[..., :SUBSET], y), beta))
    a, b = np.concatenate(a), np.concatenate(b)
    return float(a.mean()), float(b.mean()), float((a - b).mean())


def cv_scores(rng: np.random.Generator, X: np.ndarray, y: np.ndarray, k: int, repeats: int) -> tuple[np.ndarray, np.ndarray]:
    """Test-fold MSEs of methods A and B, shape ``(T, repeats * k)``, same folds for both."""
    trials, n, _ = X.shape
    size = n // k
    a, b = [], []
    for _ in range(repeats):
        order = np.argsort(rng.random((trials, n)), axis=1)
        Xp, yp = np.take_along_axis(X, order[..., None], axis=1), np.take_along_axis(y, order, axis=1)
        for fold in range(k):
            test = np.zeros(n, dtype=bool)
            test[fold * size : (fold + 1) * size] = True
            X_tr, y_tr, X_te, y_te = Xp[:, ~test], yp[:, ~test], Xp[:, test], yp[:, test]
            for coef_of, out, cols in ((ridge, a, slice(None)), (ridge, b, slice(0, SUBSET))):
                coef = coef_of(X_tr[..., cols], y_tr)
                residual = y_te - np.einsum("tmi,ti->tm", X_te[..., cols], coef)
                out.append((residual**2).mean(axis=1))
    return np.stack(a, axis=1), np.stack(b, axis=1)


def coverage(low: np.ndarray, high: np.ndarray, truth: np.ndarray | float) -> tuple[float, float]:
    """(fraction of intervals containing ``truth``, median width)."""
    low, high = np.asarray(low), np.asarray(high)
    return float(np.mean((low <= truth) & (truth <= high))), float(np.median(high - low))


def intervals(scores: np.ndarray, k: int, repeats: int, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    _, lo, hi = corrected_t_interval(scores, test_train_ratio=1 / (k - 1), confidence=CONFIDENCE)
    out["nadeau_bengio (default)"] = (lo, hi)
    _, lo, hi = naive_t_interval(scores, confidence=CONFIDENCE)
    out["naive t (folds as seeds)"] = (lo, hi)
    lo, hi = bootstrap_ci(scores, method="default", confidence=CONFIDENCE, n_resamples=2000, rngs=list(range(seed, seed + len(scores))))
    out["naive bootstrap-t (folds as seeds)"] = (lo, hi)
    if repeats > 1:
        means = scores.reshape(len(scores), repeats, k).mean(axis=2)
        _, lo, hi = naive_t_interval(means, confidence=CONFIDENCE)
        out["replicate means t (repeats as seeds)"] = (lo, hi)
    return out


def study(n: int, d: int, k: int, repeats: int, trials: int, seed: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    beta = population(d)
    err_a, err_b, err_diff = expected_error(np.random.default_rng(seed + 1), n - n // k, beta)
    X, y = draw(rng, trials, n, beta)
    cond_a = true_error(ridge(X, y), beta)
    cond_b = true_error(ridge(X[..., :SUBSET], y), beta)
    a, b = cv_scores(rng, X, y, k, repeats)
    rows = []
    for target, scores, unconditional, conditional in (
        ("A", a, err_a, cond_a),
        ("A - B", a - b, err_diff, cond_a - cond_b),
    ):
        for name, (lo, hi) in intervals(scores, k, repeats, seed).items():
            cov_u, width = coverage(lo, hi, unconditional)
            cov_c, _ = coverage(lo, hi, conditional)
            rows.append([f"n={n}, d={d}, {repeats}x{k}-fold", target, name, f"{cov_u:.3f}", f"{cov_c:.3f}", f"{width:.3f}"])
    return rows


NC_D, NC_SUBSET = 10, 2


def nc_population(d: int) -> np.ndarray:
    """Class means are ``+-mu`` with ``mu_j = 1/sqrt(d)``: ``|mu| = 1``, Bayes error Phi(-1)."""
    return np.full(d, 1 / np.sqrt(d))


def nc_draw(rng: np.random.Generator, trials: int, n: int, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``trials`` balanced tables of ``n`` rows (``n/2`` per class, in random order): ``X (T, n, d)``, ``y (T, n)`` in {0, 1}."""
    y = np.tile(np.repeat([0, 1], n // 2), (trials, 1))
    y = np.take_along_axis(y, np.argsort(rng.random((trials, n)), axis=1), axis=1)
    X = rng.standard_normal((trials, n, mu.size)) + np.where(y[..., None] == 1, mu, -mu)
    return X, y


def nc_fit(X: np.ndarray, y: np.ndarray, mask: np.ndarray, cols: slice) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-centroid direction ``w = m1 - m0`` and midpoint ``c``, fitted on the rows ``mask`` (``(T, n)`` or ``(n,)``)."""
    Xc = X[..., cols]
    weights = np.broadcast_to(mask, y.shape).astype(np.float64)
    one, zero = weights * (y == 1), weights * (y == 0)
    m1 = np.einsum("tn,tnd->td", one, Xc) / one.sum(axis=1, keepdims=True)
    m0 = np.einsum("tn,tnd->td", zero, Xc) / zero.sum(axis=1, keepdims=True)
    return m1 - m0, (m1 + m0) / 2


def nc_losses(X: np.ndarray, y: np.ndarray, w: np.ndarray, c: np.ndarray, cols: slice) -> np.ndarray:
    """0/1 losses of the classifier ``(w, c)`` on every row: shape ``(T, n)``."""
    predicted = np.einsum("tnd,td->tn", X[..., cols] - c[:, None, :], w) > 0
    return (predicted != (y == 1)).astype(np.float64)


def nc_true_error(w: np.ndarray, c: np.ndarray, mu: np.ndarray, cols: slice) -> np.ndarray:
    """Exact population error of nearest-centroid classifiers ``(w, c)`` (``(T, p)`` each) using features ``cols``."""
    from scipy.special import ndtr

    m = mu[cols]
    norm = np.linalg.norm(w, axis=1)
    return (ndtr(-((m - c) * w).sum(axis=1) / norm) + ndtr(((-m - c) * w).sum(axis=1) / norm)) / 2


NC_METHODS = {"A": slice(None), "B": slice(0, NC_SUBSET)}


def nc_expected_error(rng: np.random.Generator, n: int, k: int, mu: np.ndarray, draws: int = 20_000, chunk: int = 2_000) -> dict[str, float]:
    """Monte Carlo ``Err(n - n/k)`` of A, B and A - B: the error of a fit on a random ``n - n/k`` of a balanced table."""
    out: dict[str, list[np.ndarray]] = {"A": [], "B": []}
    keep = np.arange(n) >= n // k  # the table's rows are in random order: dropping the first n/k drops a random fold
    for _ in range(draws // chunk):
        X, y = nc_draw(rng, chunk, n, mu)
        for name, cols in NC_METHODS.items():
            out[name].append(nc_true_error(*nc_fit(X, y, keep, cols), mu, cols))
    a, b = np.concatenate(out["A"]), np.concatenate(out["B"])
    return {"A": float(a.mean()), "B": float(b.mean()), "A - B": float((a - b).mean())}


def nc_nested_losses(rng: np.random.Generator, X: np.ndarray, y: np.ndarray, k: int, repeats: int) -> dict[str, list[list[list[PerExample]]]]:
    """Per-example 0/1 losses of nested k-fold CV, ``out[method][trial][repeat][fold]``, the same folds for both methods.

    Outer fold ``f``: the fit on the other folds, tested on ``f``. Inner: for each
    ``j != f`` in ascending order, the fit on the folds other than ``f`` and ``j``, tested on ``j``.
    """
    trials, n, _ = X.shape
    size = n // k
    out: dict[str, list[list[list[PerExample]]]] = {name: [[] for _ in range(trials)] for name in NC_METHODS}
    for _ in range(repeats):
        order = np.argsort(rng.random((trials, n)), axis=1)
        Xp, yp = np.take_along_axis(X, order[..., None], axis=1), np.take_along_axis(y, order, axis=1)
        fold = np.arange(n) // size
        for name, cols in NC_METHODS.items():
            pair = {}  # losses on every row of the fit without folds {f, j}, j >= f (j == f: the outer fit)
            for f in range(k):
                for j in range(f, k):
                    pair[f, j] = nc_losses(Xp, yp, *nc_fit(Xp, yp, (fold != f) & (fold != j), cols), cols)
            for t in range(trials):
                units = []
                for f in range(k):
                    inner = np.concatenate([pair[min(f, j), max(f, j)][t, fold == j] for j in range(k) if j != f])
                    units.append(PerExample(pair[f, f][t, fold == f], inner))
                out[name][t].append(units)
    return out


def nc_study(n: int, d: int, k: int, repeats: int, trials: int, seed: int) -> list[list[str]]:
    """Coverage of nested CV and Nadeau-Bengio for ``Err_XY`` and ``Err(n - n/k)``, each with its MC standard error."""
    rng = np.random.default_rng(seed)
    mu = nc_population(d)
    procedure = nc_expected_error(np.random.default_rng(seed + 1), n, k, mu)
    X, y = nc_draw(rng, trials, n, mu)
    full = np.ones(n, dtype=bool)
    deployed = {name: nc_true_error(*nc_fit(X, y, full, cols), mu, cols) for name, cols in NC_METHODS.items()}
    deployed["A - B"] = deployed["A"] - deployed["B"]
    losses = nc_nested_losses(rng, X, y, k, repeats)
    losses["A - B"] = [[[a - b for a, b in zip(ra, rb)] for ra, rb in zip(ta, tb)] for ta, tb in zip(losses["A"], losses["B"])]
    rows = []
    for target in ("A", "A - B"):
        ncv = [nested_cv_estimate(units, confidence=CONFIDENCE) for units in losses[target]]
        fold_errors = np.array([[u.outer.mean() for rep in units for u in rep] for units in losses[target]])
        _, nb_lo, nb_hi = corrected_t_interval(fold_errors, test_train_ratio=1 / (k - 1), confidence=CONFIDENCE)
        naive = [_naive_cv(units) for units in losses[target]]
        se, floor = np.array([e.se for e in ncv]), np.array([e.se_naive for e in ncv])
        at_floor, at_cap = np.isclose(se, floor).mean(), np.isclose(se, np.sqrt(k) * floor).mean()
        found = {
            "nested": ((np.array([e.low for e in ncv]), np.array([e.high for e in ncv])), f"{at_floor:.0%} / {at_cap:.0%}"),
            "nadeau_bengio": ((nb_lo, nb_hi), "—"),
            "naive CV (z, sd/sqrt(n))": ((np.array([lo for lo, _ in naive]), np.array([hi for _, hi in naive])), "—"),
        }
        for name, ((lo, hi), clipped) in found.items():
            cov_xy, width = coverage(lo, hi, deployed[target])
            cov_proc, _ = coverage(lo, hi, procedure[target])
            rows.append([
                f"n={n}, d={d}, {repeats}x{k}-fold", target, name, _with_se(cov_xy, trials), _with_se(cov_proc, trials), f"{width:.3f}", clipped,
            ])
    return rows


def _naive_cv(units: list[list[PerExample]]) -> tuple[float, float]:
    """Bates et al.'s naive CV interval: the mean outer error +- z sd(outer errors)/sqrt(n), as if the errors were independent."""
    from scipy.special import ndtri

    outer = np.concatenate([u.outer for rep in units for u in rep])
    half = float(ndtri(0.5 + CONFIDENCE / 2)) * outer.std(ddof=1) / np.sqrt(outer.size / len(units))
    return float(outer.mean() - half), float(outer.mean() + half)


def _with_se(p: float, trials: int) -> str:
    return f"{p:.3f} ± {np.sqrt(p * (1 - p) / trials):.3f}"


def nested_main(trials: int, seed: int) -> None:
    """Print the nested-CV coverage table (0/1 loss of nearest-centroid classifiers; see the module docstring)."""
    started = time.perf_counter()
    settings = [(100, NC_D, 5, 5), (300, NC_D, 5, 5), (100, NC_D, 10, 3), (100, 50, 5, 5)]
    header = [
        "setting", "target", "interval", "coverage of Err_XY (deployed)", "coverage of Err(n-n/k) (procedure)", "median width",
        "nested SE at floor / cap",
    ]
    rows = [row for i, s in enumerate(settings) for row in nc_study(*s, trials=trials, seed=seed + 1000 * i)]
    print(f"Coverage of nominal {CONFIDENCE:.0%} intervals for the 0/1 error of nearest-centroid classifiers (A: all d features, "
          f"B: the first {NC_SUBSET}); {trials} trials per setting, ± one Monte Carlo standard error\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\n{time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000, help="datasets per setting of the ridge study (default 2000)")
    parser.add_argument("--nested-trials", type=int, default=1000, help="datasets per setting of the nested-CV study (default 1000)")
    parser.add_argument("--study", choices=("ridge", "nested", "all"), default="ridge", help="which study to run (default ridge, the original table)")
    parser.add_argument("--seed", type=int, default=20260514)
    args = parser.parse_args()
    if args.study in ("nested", "all"):
        nested_main(args.nested_trials, args.seed)
    if args.study == "nested":
        return
    started = time.perf_counter()
    settings = [(100, 10, 5, 1), (100, 10, 5, 3), (400, 10, 5, 1), (100, 30, 5, 1), (60, 10, 10, 1)]
    header = ["setting", "target", "interval", f"coverage of Err(n-n/k)", "coverage of Err_XY", "median width"]
    rows = [row for i, s in enumerate(settings) for row in study(*s, trials=args.trials, seed=args.seed + 1000 * i)]
    print(f"Coverage of nominal {CONFIDENCE:.0%} CV intervals; {args.trials} trials per setting; MSE of ridge (A) and ridge on 3 of d features (B)\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
