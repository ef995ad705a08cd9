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

Run: ``uv run python benchmarks/cv_coverage.py [--trials 2000]`` (about a minute on one core).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000, help="datasets per setting (default 2000)")
    parser.add_argument("--seed", type=int, default=20260514)
    args = parser.parse_args()
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
