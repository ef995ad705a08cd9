"""What the dataset-keyed fan-out saves: the axisflow shell against per-cell branches and a plain loop.

Every Metaflow task is a new process that re-imports its libraries, so the grain
of the fan-out sets the overhead. In one invocation this script runs the same
investigation grid three ways and prints wall-clock, CPU time (all child
processes included), task count and trainings:

(a) the axisflow shell, ``flows/investigation.py``, at ``--max-workers 2``;
(b) one foreach branch per config cell, ``benchmarks/naive_flow.py`` (the grain
    lint rule AXF301 catches; it goes through the shell's own gate with the
    explicit override ``--lint-allow AXF301``), at ``--max-workers 2``;
(c) a plain single-process loop over the same seams (the floor).

It also prints what a task's imports cost, the shell's fixed cost at growing
branch counts with a trivial seam (``benchmarks/scaling_flow.py``) and, with the
``probe`` part, which libraries each step of the shipped flow really imports.
All runs use one temporary datastore, deleted at the end unless ``--keep``.

    uv run python benchmarks/fanout.py                       # reference grid, scaling at 10,100
    uv run python benchmarks/fanout.py --quick               # smoke grid, scaling at 10
    uv run python benchmarks/fanout.py --parts scaling --scaling 10,100,400
    uv run python benchmarks/fanout.py --set data.n_train=500 # cheaper data, same grid
    uv run python benchmarks/fanout.py --parts bytecode      # seam imports with vs without install-time bytecode

The ``ratio`` part (not in the default set: it is long) is the fan-out cost
target: digits_cv and reference, each through the flow (``--max-workers 2``,
``--reuse off``) and as a researcher's plain single-process script, in
alternating pairs; it prints every pair's wall and CPU ratio with the load
average beside it, and each experiment's median ratio against its target
(digits_cv <= 1.5x, reference <= 1.2x). Run it on an idle machine::

    uv run python benchmarks/fanout.py --parts ratio                   # digits_cv and reference, 3 pairs each
    uv run python benchmarks/fanout.py --parts ratio --repeats 1       # one pair each
    uv run python benchmarks/fanout.py --parts ratio --experiments digits_cv_smoke,smoke --repeats 1  # a few minutes: checks the part
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHELL_FLOW = ROOT / "flows" / "investigation.py"
NAIVE_FLOW = ROOT / "benchmarks" / "naive_flow.py"
SCALING_FLOW = ROOT / "benchmarks" / "scaling_flow.py"
#: The investigation each mode runs: the default reference experiment (3 noise x 5 seeds x 3 methods x 3 epoch budgets).
GRIDS = {"reference": ["experiment=reference"], "quick": ["experiment=smoke"]}
PARTS = ("imports", "compare", "scaling", "probe", "bytecode", "ratio")
#: What runs without --parts: everything but the long flow-vs-plain-script ratio (ask for it with --parts ratio).
DEFAULT_PARTS = PARTS[:-1]
#: Metaflow refuses a foreach wider than 100 unless told; the per-cell grid and the scaling runs are wider.
MAX_SPLITS = 10_000
HEAVY = ("torch", "hydra", "omegaconf", "scipy", "pandas", "matplotlib")
#: (label, code) pairs timed in a fresh interpreter each: what each kind of task pays before its step body runs.
IMPORTS = (
    ("python, nothing imported", "pass"),
    ("import metaflow", "import metaflow"),
    ("start/end task: flow module + components.engine.surface", "import components.shell, components.engine.surface"),
    ("join task: + components.stats (numpy; scipy only for BCa and student-t)", "import components.shell, components.engine.surface, components.stats"),
    ("branch seams without torch: components.library.metrics (numpy)", "import components.library.metrics"),
    ("import torch", "import torch"),
    ("torch + configure_torch (as shipped)", "import components.library.torch_train as t; t.configure_torch(1)"),
    ("torch + threads + set_deterministic_debug_mode", "import torch; torch.set_num_threads(1); torch.set_deterministic_debug_mode('error')"),
    ("launcher only: Hydra compose", "from components.spec.config import compose; compose()"),
)

__all__ = ["GRIDS", "Measured", "floor", "main", "scaling_overrides", "scratch"]


@dataclass
class Measured:
    """One timed child process: wall seconds, CPU seconds of it and all its descendants, and run details."""

    label: str
    wall: float
    cpu: float
    load: tuple[float, float]
    launched: float = 0.0
    finished: float = 0.0
    run_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def log(message: str) -> None:
    """Progress goes to stderr; the tables go to stdout."""
    print(f"[fanout] {message}", file=sys.stderr, flush=True)


def timed(label: str, cmd: list[str], *, env: dict[str, str], logfile: Path) -> Measured:
    """Run ``cmd`` in the working directory and measure it; exit with the log's tail if it fails.

    CPU time is the ``RUSAGE_CHILDREN`` delta, which includes every descendant
    that was waited for: the Metaflow runtime and all its task processes.
    """
    load_before = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    launched = time.time()
    started = time.perf_counter()
    with open(logfile, "w") as out:
        code = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code != 0:
        tail = "\n".join(logfile.read_text().splitlines()[-25:])
        raise SystemExit(f"fanout: error: {label} exited {code}; last lines of {logfile}:\n{tail}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measured(label, wall, cpu, (load_before, os.getloadavg()[0]), launched=launched, finished=time.time())


def child_env(work: Path, bytecode: str) -> dict[str, str]:
    """The environment every measured process gets.

    ``env`` (the default) uses the environment as is: what a user gets on a fresh
    machine, where the bytecode is whatever the install compiled (the shipped
    ``[tool.uv] compile-bytecode = true`` compiles every package) and
    ``PYTHONDONTWRITEBYTECODE`` may forbid writing more. ``warm`` keeps compiled
    bytecode in a private cache under ``work`` (and lets Python write it even
    when ``PYTHONDONTWRITEBYTECODE`` is set), without touching the virtualenv:
    the steady state of a machine whose caches are warm.
    """
    env = dict(os.environ)
    env.pop("METAFLOW_DATASTORE_SYSROOT_LOCAL", None)  # the datastore is the .metaflow under the working directory
    if not any(env.get(name) for name in ("METAFLOW_USER", "USERNAME", "USER")):
        env["METAFLOW_USER"] = "axisflow-benchmark"
    if bytecode == "warm":
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return env


@contextmanager
def scratch(prefix: str, keep: bool) -> Iterator[Path]:
    """A temporary working folder whose ``.metaflow`` holds every run and client read; removed at the end unless ``keep``."""
    from components.shell import ensure_user

    work = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ.pop("METAFLOW_DATASTORE_SYSROOT_LOCAL", None)
    os.chdir(work)
    ensure_user()
    try:
        yield work
    finally:
        os.chdir(ROOT)
        if keep:
            print(f"kept datastore and logs in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def flow_cmd(flow: Path, overrides: list[str], workers: int, run_id_file: Path, *extra: str) -> list[str]:
    """The command a user types, run with this interpreter: ``python <flow> run key=value ... --max-workers N``.

    Every run passes ``--review-allow all``: the benchmark measures cost, and its warm-up, per-cell and
    scaling variants change the reviewed fidelity facts (the allow is recorded in each run's provenance).
    """
    return [
        sys.executable, str(flow), "run", "--review-allow", "all", *overrides,
        "--max-workers", str(workers), "--run-id-file", str(run_id_file), *extra,
    ]


def run_flow_measured(label: str, flow: Path, flow_name: str, overrides: list[str], *, workers: int, env, work: Path, extra=()) -> Measured:
    """Run a flow through its command line and attach the Metaflow run's task timings and artifacts."""
    slug = re.sub(r"\W+", "-", label).strip("-")
    run_id_file = work / f"{slug}.run-id"
    measured = timed(label, flow_cmd(flow, overrides, workers, run_id_file, *extra), env=env, logfile=work / f"{slug}.log")
    measured.run_id = run_id_file.read_text().strip()
    measured.details = describe_run(flow_name, measured.run_id)
    return measured


def describe_run(flow_name: str, run_id: str) -> dict[str, Any]:
    """Task durations per step (created to finished, from the Metaflow client) and the results artifact."""
    from metaflow import Run, namespace

    namespace(None)
    run = Run(f"{flow_name}/{run_id}")
    steps: dict[str, list] = {}
    for step in run:
        steps[step.id] = list(step)
    tasks = {name: [(t.created_at.timestamp(), t.finished_at.timestamp()) for t in ts] for name, ts in steps.items()}
    end_task = steps["end"][0]
    details: dict[str, Any] = {"tasks": tasks, "results": end_task["results"].data}
    branch_step = next(name for name in steps if name not in ("start", "join", "end"))
    details["branch_step"] = branch_step
    details["artifact_bytes"] = {
        name: max((a.size for t in ts[:3] for a in t.artifacts if not a.id.startswith("_")), default=0) for name, ts in steps.items()
    }
    branch_tasks = steps[branch_step]
    # The shell's tasks carry a list of branch records each; the per-cell flow one record per task.
    records = [r for t in branch_tasks for r in (t["branch_records"].data if "branch_records" in t else [t["record"].data])]
    details["record_timing"] = [r.get("timing", {}) for r in records]
    details["probes"] = {name: [t["probe"].data for t in ts if "probe" in t] for name, ts in steps.items()}
    return details


def floor(overrides: list[str], out: Path) -> None:
    """Mode (c): compose, plan, run every branch and aggregate in this one process; write the results as JSON."""
    from components.engine.branch import run_branch
    from components.spec.config import compose
    from components.engine.surface import aggregate_records, build_results, plan_run

    config = compose(overrides)
    _, branches = plan_run(config)
    records = sorted((run_branch(config, branch) for branch in branches), key=lambda r: r["order"])
    aggregate = aggregate_records(config, records)
    results = build_results(config, records, aggregate, {"flow": "plain loop"})
    out.write_text(json.dumps({"results": results, "record_timing": [r["timing"] for r in records]}))


# ---------------------------------------------------------------- the plain scripts a researcher would write
#
# Each does the work of one shipped experiment in one process, single-threaded, with numpy, scikit-learn and
# torch called directly (no axisflow module is imported): the same data, replicates and folds, methods,
# training budgets, metric and aggregation (per-cell intervals and paired differences against the baseline).
# Its numbers are its own (its folds and initialisations are drawn its own way), so the benchmark compares
# them to the flow's for agreement within noise, not bit for bit. ``PLAIN`` maps an experiment to its script;
# tests/test_benchmarks.py checks that each script's settings are the experiment's.

#: digits_cv: 3 repeats x stratified 5-fold CV on load_digits; methods as in configs/method/{sk_logreg,random_forest,pca_mlp}.yaml.
DIGITS = {"repeats": 3, "folds": 5, "baseline": "sk_logreg", "confidence": 0.95}
#: reference: teacher data (configs/data/teacher.yaml) x label noise x 5 seeds; logreg once, two MLPs per epoch budget.
REFERENCE = {
    "seeds": 5, "label_noise": [0.0, 0.2, 0.4], "epochs": [10, 40, 120], "n_features": 20, "teacher_hidden": 4,
    "teacher_scale": 3.0, "n_train": 1000, "n_val": 500, "n_test": 2000, "hidden": [64, 64], "lr": 0.001,
    "batch_size": 64, "patience": 5, "l2": 0.0001, "max_iter": 200, "baseline": "logreg", "confidence": 0.95,
}


def plain_digits(settings: dict[str, Any] = DIGITS) -> dict[str, Any]:
    """Repeated stratified k-fold on the digits: the three scikit-learn pipelines, accuracy and macro-F1, corrected-t intervals."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    methods = {
        "sk_logreg": lambda seed: make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000)),
        "random_forest": lambda seed: RandomForestClassifier(n_estimators=100, max_features="sqrt", n_jobs=1, random_state=seed),
        "pca_mlp": lambda seed: make_pipeline(
            StandardScaler(), PCA(n_components=16, random_state=seed),
            MLPClassifier(hidden_layer_sizes=(64,), alpha=0.0001, max_iter=200, random_state=seed),
        ),
    }
    k, repeats = settings["folds"], settings["repeats"]
    scores = {name: np.zeros((repeats, k)) for name in methods}
    f1 = {name: np.zeros((repeats, k)) for name in methods}  # the secondary metric digits_cv reports
    for repeat in range(repeats):
        splits = StratifiedKFold(n_splits=k, shuffle=True, random_state=repeat).split(X, y)
        for fold, (train, test) in enumerate(splits):
            for name, make in methods.items():
                predicted = make(1000 * repeat + fold).fit(X[train], y[train]).predict(X[test])
                scores[name][repeat, fold] = accuracy_score(y[test], predicted)
                f1[name][repeat, fold] = f1_score(y[test], predicted, average="macro")
    ratio = 1.0 / (k - 1)  # n_test / n_train of one k-fold split
    cells = {name: _corrected_t(s.ravel(), ratio, settings["confidence"]) for name, s in scores.items()}
    base = scores[settings["baseline"]]
    paired = {name: _corrected_t((s - base).ravel(), ratio, settings["confidence"]) for name, s in scores.items() if name != settings["baseline"]}
    f1_cells = {name: _corrected_t(s.ravel(), ratio, settings["confidence"]) for name, s in f1.items()}
    return {"cells": cells, "paired": _holm(paired), "macro_f1": f1_cells}


def _corrected_t(values: Any, ratio: float, confidence: float) -> dict[str, float]:
    """Nadeau and Bengio's corrected resampled t: the variance grows by n_test/n_train for overlapping training sets."""
    import numpy as np
    from scipy import stats

    j = len(values)
    se = np.sqrt((1.0 / j + ratio) * values.var(ddof=1))
    t = stats.t.ppf((1 + confidence) / 2, j - 1)
    mean = float(values.mean())
    p = float(2 * stats.t.sf(abs(mean) / se, j - 1)) if se > 0 else float(mean == 0)
    return {"mean": mean, "low": mean - t * se, "high": mean + t * se, "p": p}


def _holm(rows: dict[Any, dict[str, float]]) -> dict[Any, dict[str, float]]:
    """Holm's step-down adjustment of the paired p-values (the family is every comparison with the baseline)."""
    order = sorted(rows, key=lambda key: rows[key]["p"])
    running = 0.0
    for rank, key in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * rows[key]["p"]))
        rows[key]["p_holm"] = running
    return rows


def plain_reference(settings: dict[str, Any] = REFERENCE) -> dict[str, Any]:
    """Label noise x seeds on the teacher data: logistic regression (L-BFGS), an MLP per epoch budget, the same early-stopped."""
    import numpy as np
    import torch
    from scipy import stats
    from sklearn.metrics import roc_auc_score

    torch.set_num_threads(1)
    s = settings
    values: dict[tuple, list[float]] = {}
    for noise in s["label_noise"]:
        for seed in range(s["seeds"]):
            data = _teacher(s, noise, seed)
            torch.manual_seed(seed)
            auc = _logreg(s, data, roc_auc_score)
            for epochs in s["epochs"]:  # cells keyed (epochs, label_noise, method): axes in name order, as the results list them
                values.setdefault((epochs, noise, "logreg"), []).append(auc)
                for name, patience in (("mlp", None), ("mlp_early_stop", s["patience"])):
                    values.setdefault((epochs, noise, name), []).append(_mlp(s, data, epochs, patience, roc_auc_score))
    t = stats.t.ppf((1 + s["confidence"]) / 2, s["seeds"] - 1)

    def interval(v: Any) -> dict[str, float]:
        v = np.asarray(v)
        se = v.std(ddof=1) / np.sqrt(len(v))
        p = float(2 * stats.t.sf(abs(v.mean()) / se, len(v) - 1)) if se > 0 else float(v.mean() == 0)
        return {"mean": float(v.mean()), "low": float(v.mean() - t * se), "high": float(v.mean() + t * se), "p": p}

    cells = {key: interval(v) for key, v in values.items()}
    paired = {
        key: interval(np.subtract(v, values[(key[0], key[1], s["baseline"])]))
        for key, v in values.items() if key[2] != s["baseline"]
    }
    return {"cells": cells, "paired": _holm(paired)}


def _teacher(s: dict[str, Any], noise: float, seed: int) -> tuple:
    """Inputs ~ N(0, I); labels from a random two-layer tanh network split at its median; train/val labels flipped at ``noise``."""
    import numpy as np
    import torch

    rng = np.random.default_rng(seed)
    d, h = s["n_features"], s["teacher_hidden"]
    w1, b1, w2 = rng.standard_normal((d, h)) / np.sqrt(d), 0.5 * rng.standard_normal(h), rng.standard_normal(h)
    X = rng.standard_normal((s["n_train"] + s["n_val"] + s["n_test"], d))
    logits = np.tanh(s["teacher_scale"] * (X @ w1) + b1) @ w2
    y = (logits > np.median(logits)).astype(np.float32)
    noisy = s["n_train"] + s["n_val"]
    flip = np.random.default_rng(seed + 10_000).random(noisy) < noise
    y[:noisy] = np.where(flip, 1 - y[:noisy], y[:noisy])
    X, y = torch.from_numpy(X.astype(np.float32)), torch.from_numpy(y)
    a, b = s["n_train"], noisy
    return X[:a], y[:a], X[a:b], y[a:b], X[b:], y[b:]


def _logreg(s: dict[str, Any], data: tuple, auroc) -> float:
    import torch

    X, y, _, _, X_test, y_test = data
    net = torch.nn.Linear(X.shape[1], 1)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    opt = torch.optim.LBFGS(net.parameters(), max_iter=s["max_iter"], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = loss_fn(net(X).squeeze(-1), y) + 0.5 * s["l2"] * net.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return auroc(y_test.numpy(), torch.sigmoid(net(X_test)).squeeze(-1).numpy())


def _mlp(s: dict[str, Any], data: tuple, epochs: int, patience: int | None, auroc) -> float:
    """Adam on minibatches reshuffled every epoch; validation AUROC every epoch; with ``patience``, stop early and restore the best."""
    import copy

    import torch

    X, y, X_val, y_val, X_test, y_test = data
    layers, width = [], X.shape[1]
    for hidden in s["hidden"]:
        layers += [torch.nn.Linear(width, hidden), torch.nn.ReLU()]
        width = hidden
    net = torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))
    opt = torch.optim.Adam(net.parameters(), lr=s["lr"])
    loss_fn = torch.nn.BCEWithLogitsLoss()
    best, best_state, waited = -1.0, None, 0
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(len(X)).split(s["batch_size"]):
            opt.zero_grad()
            loss_fn(net(X[idx]).squeeze(-1), y[idx]).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            val = auroc(y_val.numpy(), net(X_val).squeeze(-1).numpy())
        if val > best:
            best, best_state, waited = val, copy.deepcopy(net.state_dict()), 0
        elif patience is not None:
            waited += 1
            if waited >= patience:
                break
    if patience is not None:
        net.load_state_dict(best_state)
    with torch.no_grad():
        return auroc(y_test.numpy(), torch.sigmoid(net(X_test)).squeeze(-1).numpy())


#: The fan-out cost target: the flow's wall time at most this multiple of the plain script's (issue 23, item 7).
TARGETS = {"digits_cv": 1.5, "reference": 1.2}

#: Experiment -> (its plain script, that script's settings): the full experiments and their smoke versions.
PLAIN: dict[str, tuple[Callable[[dict[str, Any]], dict[str, Any]], dict[str, Any]]] = {
    "digits_cv": (plain_digits, DIGITS),
    "digits_cv_smoke": (plain_digits, {**DIGITS, "repeats": 2, "folds": 3}),
    "reference": (plain_reference, REFERENCE),
    "smoke": (plain_reference, {
        **REFERENCE, "seeds": 3, "label_noise": [0.0, 0.3], "epochs": [2, 4], "n_features": 8, "n_train": 200, "n_val": 100, "n_test": 300,
    }),
}


def run_plain(experiment: str, out: Path) -> None:
    """The ``plain`` child: run ``experiment``'s plain script in this process and write its cells and paired rows as JSON."""
    script, settings = PLAIN[experiment]
    found = script(settings)
    out.write_text(json.dumps({part: [[list(k) if isinstance(k, tuple) else [k], v] for k, v in rows.items()] for part, rows in found.items()}))


def scaling_overrides(branches: int) -> list[str]:
    """Overrides for ``benchmarks/scaling_flow.py`` with exactly ``branches`` branches of the trivial seam."""
    return [
        "experiment=smoke",
        "method=[]",
        "+method.logreg={_target_:benchmarks.scaling_seams.first_feature,kind:axis_agnostic}",
        "+method.mlp={_target_:benchmarks.scaling_seams.first_feature,kind:axis_dependent}",
        "experiment.metric={name:plain_accuracy,_target_:benchmarks.scaling_seams.plain_accuracy}",
        "experiment.axes.data.label_noise=[0.0]",
        f"experiment.seeds={branches}",
    ]


def durations(details: dict[str, Any], step: str) -> list[float]:
    """Seconds from task creation to finish for every task of ``step``."""
    return [end - start for start, end in details["tasks"].get(step, [])]


def shell_costs(m: Measured) -> dict[str, float]:
    """Where a run's wall clock went: launcher before the first task, each step, and exit after the last."""
    tasks = m.details["tasks"]
    first = min(start for ts in tasks.values() for start, _ in ts)
    last = max(end for ts in tasks.values() for _, end in ts)
    return {
        "launch": first - m.launched,
        "start": sum(durations(m.details, "start")),
        "join": sum(durations(m.details, "join")),
        "end": sum(durations(m.details, "end")),
        "exit": m.finished - last,
    }


def same_values(*results: dict[str, Any]) -> bool:
    """True when every results dict holds the same cells with bit-identical per-seed values."""
    keys = {json.dumps([[c["axes"], c["method"], c["seeds"], c["values"]] for c in r["cells"]], sort_keys=True) for r in results}
    return len(keys) == 1


def same_conclusions(*results: dict[str, Any]) -> bool:
    """True when every results dict has identical cells and paired comparisons, intervals included."""
    keys = {json.dumps([r["cells"], r["paired"]], sort_keys=True) for r in results}
    return len(keys) == 1


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table with right-aligned numbers."""
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.2f}"
        return str(value)

    text = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text)) for i, h in enumerate(headers)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in text:
        lines.append("| " + " | ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths))) + " |")
    return "\n".join(lines)


def part_imports(grid: list[str], env: dict[str, str], repeats: int) -> None:
    """Print the median wall time of each import set in a fresh interpreter, and what validating ``grid``'s config costs."""
    rows = []
    for label, code in IMPORTS:
        prelude = f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", prelude + code], env=env, check=True, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - started)
        rows.append([label, statistics.median(times)])
    print(f"\n## What a task pays before its step body (fresh interpreter, median of {repeats})\n")
    print(table(["imports", "wall s"], rows))

    from components.spec.config import compose, validate

    config = compose(grid)
    calls = 200
    started = time.perf_counter()
    for _ in range(calls):
        validate(config)
    per_call = (time.perf_counter() - started) / calls
    print(
        f"\nvalidate(config), which each step calls once: {per_call * 1e3:.2f} ms. Tasks receive the config Metaflow "
        "stored at launch, already parsed: no task runs Hydra."
    )


def part_compare(grid: list[str], workers: int, env: dict[str, str], work: Path, modes: str = "abc") -> None:
    """Run modes (a), (b), (c) (or the subset ``modes``) on ``grid`` and print the comparison."""
    runs: dict[str, Measured] = {}
    if "a" in modes:
        log(f"(a) axisflow shell: {' '.join(grid)} --max-workers {workers}")
        runs["a"] = run_flow_measured("a-shell", SHELL_FLOW, "InvestigationFlow", grid, workers=workers, env=env, work=work)
        log(f"(a) done in {runs['a'].wall:.1f} s")
    if "b" in modes:
        log(f"(b) one branch per config cell: {' '.join(grid)} --max-workers {workers} --lint-allow AXF301")
        runs["b"] = run_flow_measured(
            "b-per-cell", NAIVE_FLOW, "NaiveFanoutFlow", grid, workers=workers, env=env, work=work,
            extra=("--lint-allow", "AXF301", "--max-num-splits", str(MAX_SPLITS)),
        )
        log(f"(b) done in {runs['b'].wall:.1f} s")
    if "c" in modes:
        log("(c) plain loop in one process")
        out = work / "c-floor.json"
        sets = [word for override in grid for word in ("--set", override)]
        runs["c"] = timed("c-floor", [sys.executable, str(Path(__file__).resolve()), "--floor-out", str(out), *sets], env=env, logfile=work / "c-floor.log")
        runs["c"].details = json.loads(out.read_text())
        log(f"(c) done in {runs['c'].wall:.1f} s")

    labels = {"a": f"(a) axisflow shell, {workers} workers", "b": f"(b) per-cell foreach, {workers} workers", "c": "(c) plain loop, 1 process"}
    rows = []
    for key, m in runs.items():
        work_counts = m.details["results"]["work"]
        n_tasks = sum(len(ts) for ts in m.details["tasks"].values()) if "tasks" in m.details else 1
        rows.append([labels[key], m.wall, m.cpu, n_tasks, work_counts.get("train_arm", 0), work_counts.get("make_data", 0), f"{m.load[0]:.1f}/{m.load[1]:.1f}"])
    print(f"\n## Fan-out comparison on {' '.join(grid)}\n")
    print(table(["mode", "wall s", "CPU s", "tasks", "trainings", "datasets", "load before/after"], rows))
    print()
    for top, bottom, target in (("a", "c", "target <= 1.3"), ("b", "a", "target >= 3")):
        if top in runs and bottom in runs:
            t, b = runs[top], runs[bottom]
            print(f"({top})/({bottom}) wall {t.wall / b.wall:.2f}x ({target}), CPU {t.cpu / b.cpu:.2f}x")
    if len(runs) > 1:
        results = [m.details["results"] for m in runs.values()]
        print(f"per-seed metric values bit-identical across {', '.join(f'({k})' for k in runs)}: {'yes' if same_values(*results) else 'NO'}; "
              f"cells and paired comparisons with their intervals too: {'yes' if same_conclusions(*results) else 'NO'}")

    flows = [(key, m) for key, m in runs.items() if key != "c"]
    if flows:
        rows = []
        for key, m in flows:
            costs = shell_costs(m)
            branch = durations(m.details, m.details["branch_step"])
            rows.append([labels[key].split(",")[0], costs["launch"], costs["start"], statistics.mean(branch), max(branch), costs["join"], costs["end"], costs["exit"]])
        print("\nWhere the wall clock goes (task seconds from creation to finish, Metaflow client):\n")
        print(table(["run", "launch s", "start s", "branch mean s", "branch max s", "join s", "end s", "exit s"], rows))
    if "a" in runs:
        a = runs["a"]
        timing = a.details["record_timing"]
        branch = statistics.mean(durations(a.details, a.details["branch_step"]))
        seams = statistics.mean(t["branch_seconds"] for t in timing)
        imports = statistics.mean(t.get("import_seconds", 0.0) for t in timing)
        print(
            f"\n(a) branch task: mean {branch:.2f} s = seam work {seams:.2f} s + seam imports {imports:.2f} s"
            f" + the rest (process start, metaflow, datastore) {branch - seams - imports:.2f} s"
        )
        sizes = a.details["artifact_bytes"]
        print("(a) largest stored artifact per step (bytes, compressed): " + ", ".join(f"{k} {v}" for k, v in sorted(sizes.items())))
    if "c" in runs:
        c = runs["c"]
        print(f"(c) seam work {sum(t['branch_seconds'] for t in c.details['record_timing']):.1f} s of its {c.wall:.1f} s wall")


def part_bytecode(env: dict[str, str], repeats: int) -> None:
    """A/B in one invocation: a branch's seam imports with the bytecode compiled at install vs none (as before).

    "None" points ``PYTHONPYCACHEPREFIX`` at an empty folder under
    ``PYTHONDONTWRITEBYTECODE=1``: Python then ignores the installed
    ``__pycache__`` folders and compiles every source in memory, as it did
    when uv installed without compiling. Runs alternate so load drifts hit both.
    """
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); import components.library.torch_train as t; "
        "t.configure_torch(1); import components.library.metrics"
    )
    base = {k: v for k, v in env.items() if k != "PYTHONPYCACHEPREFIX"}
    base["PYTHONDONTWRITEBYTECODE"] = "1"
    empty = tempfile.mkdtemp(prefix="axisflow-no-pyc-")
    variants = {"as installed (bytecode compiled at install)": base, "no installed bytecode (uv's default before)": {**base, "PYTHONPYCACHEPREFIX": empty}}
    times: dict[str, list[float]] = {label: [] for label in variants}
    for _ in range(repeats):
        for label, variant in variants.items():
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=variant, check=True)
            times[label].append(time.perf_counter() - started)
    shutil.rmtree(empty, ignore_errors=True)
    print(f"\n## A branch task's seam imports (torch + configure_torch + metrics), fresh interpreter, median of {repeats}\n")
    print(table(["bytecode", "wall s"], [[label, statistics.median(ts)] for label, ts in times.items()]))


def part_scaling(counts: list[int], workers: int, env: dict[str, str], work: Path) -> None:
    """Run the instrumented shell at each branch count and print its fixed cost and join footprint."""
    rows, heavy = [], {}
    for n in counts:
        log(f"scaling: {n} branches of the trivial seam")
        m = run_flow_measured(
            f"scaling-{n}", SCALING_FLOW, "ScalingFlow", scaling_overrides(n), workers=workers, env=env, work=work,
            extra=("--max-num-splits", str(max(n, MAX_SPLITS))),
        )
        costs = shell_costs(m)
        probes = m.details["probes"]
        join = probes["join"][0]
        branch = durations(m.details, "branch")
        fixed = costs["launch"] + costs["start"] + costs["join"] + costs["end"] + costs["exit"]
        rows.append([
            n, m.wall, m.cpu, fixed, costs["launch"], costs["start"], statistics.mean(branch), costs["join"],
            join["body_seconds"], join["max_rss_mb"], join["records_bytes"] / 1024, costs["end"], f"{m.load[0]:.1f}/{m.load[1]:.1f}",
        ])
        heavy = {step: sorted({mod for p in ps for mod in p["heavy_modules"]}) for step, ps in probes.items()}
    print(f"\n## Shell fixed cost by branch count (trivial seam, --max-workers {workers})\n")
    print(table(
        ["branches", "wall s", "CPU s", "fixed s", "launch s", "start s", "branch mean s", "join s", "join body s",
         "join max RSS MB", "records KB", "end s", "load"],
        rows,
    ))
    print("\nfixed = launch + start + join + end + exit (everything but the branches). Heavy libraries imported per step: "
          + "; ".join(f"{step}: {', '.join(mods) or 'none'}" for step, mods in sorted(heavy.items())))


def part_ratio(experiments: list[str], repeats: int, workers: int, env: dict[str, str], work: Path) -> None:
    """Time each experiment through the flow and as its plain script, alternately ``repeats`` times; print the ratios.

    The flow runs as a user runs it (``--max-workers``, ``--reuse off`` so nothing is reused); the plain
    script runs in one single-threaded process. Alternating pairs keep the ratio meaningful while the
    machine's load drifts; the load average (1 min) before each run is printed beside it.
    """
    rows, summary = [], []
    for experiment in experiments:
        ratios = []
        for repeat in range(1, repeats + 1):
            log(f"ratio: {experiment}, pair {repeat}/{repeats}: flow")
            flow = run_flow_measured(
                f"ratio-{experiment}-{repeat}", SHELL_FLOW, "InvestigationFlow", [f"experiment={experiment}"], workers=workers, env=env,
                work=work, extra=("--reuse", "off"),
            )
            log(f"ratio: {experiment}, pair {repeat}/{repeats}: plain script")
            out = work / f"plain-{experiment}-{repeat}.json"
            plain = timed(f"plain-{experiment}", [sys.executable, str(Path(__file__).resolve()), "--plain", experiment, "--plain-out", str(out)],
                          env=env, logfile=work / f"plain-{experiment}-{repeat}.log")
            ratios.append(flow.wall / plain.wall)
            gap = mean_gap(flow.details["results"], json.loads(out.read_text()))
            rows.append([experiment, repeat, flow.wall, plain.wall, ratios[-1], flow.cpu / plain.cpu, f"{flow.load[0]:.1f}", f"{plain.load[0]:.1f}", gap])
        target = TARGETS.get(experiment)
        verdict = "no target (a smoke version)" if target is None else ("met" if statistics.median(ratios) <= target else "missed")
        summary.append([experiment, statistics.median(ratios), min(ratios), max(ratios), "-" if target is None else f"<= {target}", verdict])
    print(f"\n## Flow (--max-workers {workers}, --reuse off) against the plain script (1 process), alternating pairs\n")
    print(table(["experiment", "pair", "flow wall s", "plain wall s", "wall ratio", "CPU ratio", "load at flow", "load at plain", "max |mean gap|"], rows))
    print()
    print(table(["experiment", "median wall ratio", "min", "max", "target", "verdict"], summary))
    print("\nmax |mean gap|: the largest difference between a cell's mean in the flow's results and the plain script's "
          "(their folds and initialisations are drawn differently, so agreement is within noise, not bit for bit).")


def mean_gap(results: dict[str, Any], plain: dict[str, Any]) -> float:
    """The largest |flow cell mean - plain cell mean| over the cells both have (a cell keyed by its non-fold axes and method)."""
    flow = {}
    for cell in results["cells"]:
        axes = [v for k, v in sorted(cell["axes"].items()) if k != "fold"]
        flow[json.dumps([*axes, cell["method"]])] = cell["mean"]
    theirs = {json.dumps(key): row["mean"] for key, row in plain["cells"]}
    shared = flow.keys() & theirs.keys()
    if not shared:
        raise SystemExit("fanout: error: the plain script's cells do not match the flow's (check PLAIN against the experiment)")
    return max(abs(flow[k] - theirs[k]) for k in shared)


def part_probe(workers: int, env: dict[str, str], work: Path) -> None:
    """Run the shipped flow on the smoke grid with ``PYTHONPROFILEIMPORTTIME`` and list each step's heavy imports."""
    log("probe: shipped flow on experiment=smoke with PYTHONPROFILEIMPORTTIME=1")
    probe_env = {**env, "PYTHONPROFILEIMPORTTIME": "1"}
    m = run_flow_measured("probe", SHELL_FLOW, "InvestigationFlow", ["experiment=smoke"], workers=workers, env=probe_env, work=work)
    from metaflow import Run, namespace

    namespace(None)
    rows = []
    pattern = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| (\S+)$")  # one space before the name: a top-level import
    for step in reversed(list(Run(f"InvestigationFlow/{m.run_id}"))):
        task = next(iter(step))
        total, heavy = 0, {}
        for line in task.stderr.splitlines():
            match = pattern.match(line)
            if match:
                micros, name = int(match.group(1)), match.group(2)
                total += micros
                if name.split(".")[0] in HEAVY or name.startswith("components."):
                    heavy[name] = heavy.get(name, 0) + micros
        shown = ", ".join(f"{k} {v / 1e6:.2f}" for k, v in sorted(heavy.items(), key=lambda kv: -kv[1]))
        rows.append([step.id, total / 1e6, shown])
    print("\n## Imports per step of the shipped flow (one task per step, -X importtime, seconds)\n")
    print(table(["step", "all imports s", "project modules and heavy libraries (cumulative s)"], rows))


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the selected parts and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke grid (2 noise x 3 seeds x 3 methods x 2 epoch budgets), scaling at 10 branches")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="extra Hydra override for the compared grid (repeatable)")
    parser.add_argument("--workers", type=int, default=2, help="--max-workers for the flow runs (default 2)")
    parser.add_argument("--scaling", default=None, metavar="N,N,...", help="branch counts for the scaling part (default 10,100; 10 with --quick)")
    parser.add_argument("--parts", default=None, help=f"comma-separated parts to run, from {','.join(PARTS)} (default all but ratio)")
    parser.add_argument(
        "--bytecode", choices=("env", "warm"), default="env",
        help="env: the environment as installed, what a user gets (default; the shipped setup compiles bytecode at install); "
             "warm: a private bytecode cache warmed first, written even under PYTHONDONTWRITEBYTECODE",
    )
    parser.add_argument("--modes", default="abc", help="which of the compared modes to run, e.g. ac (default abc)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary datastore and logs, and print where")
    parser.add_argument("--experiments", default="digits_cv,reference", help=f"ratio part: experiments to time, from {','.join(PLAIN)} (default digits_cv,reference)")
    parser.add_argument("--repeats", type=int, default=3, help="ratio part: flow/plain pairs per experiment (default 3)")
    parser.add_argument("--plain", choices=sorted(PLAIN), help="run only this experiment's plain script in this process (what the ratio part times)")
    parser.add_argument("--floor-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--plain-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.floor_out is not None:  # mode (c), launched by this script as a child process
        floor(args.overrides, args.floor_out)
        return 0
    if args.plain is not None:
        started = time.perf_counter()
        run_plain(args.plain, args.plain_out or Path(os.devnull))
        print(f"plain {args.plain}: {time.perf_counter() - started:.1f} s in one process")
        return 0

    grid = [*GRIDS["quick" if args.quick else "reference"], *args.overrides]
    parts = [p.strip() for p in (args.parts or ",".join(DEFAULT_PARTS)).split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"--parts: unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    experiments = [e.strip() for e in args.experiments.split(",") if e.strip()]
    if "ratio" in parts and (not experiments or set(experiments) - set(PLAIN)):
        parser.error(f"--experiments: choose from {', '.join(PLAIN)} (each has a plain script)")
    counts = [int(n) for n in (args.scaling or ("10" if args.quick else "10,100")).split(",") if n.strip()]

    with scratch("axisflow-fanout-", args.keep) as work:
        env = child_env(work, args.bytecode)
        print(f"# Fan-out benchmark: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start, bytecode {args.bytecode}")
        log(f"working in {work}; warming caches (imports and one tiny scaling run)")
        warm = "; ".join(code for _, code in IMPORTS[1:])
        subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); {warm}"], env=env, check=True)
        warm_grid = ["experiment=smoke", "experiment.seeds=1", "experiment.axes.data.label_noise=[0.0]"]
        timed("warm-up", flow_cmd(SHELL_FLOW, warm_grid, args.workers, work / "warm.run-id"), env=env, logfile=work / "warm-up.log")
        if "imports" in parts:
            part_imports(grid, env, repeats=1 if args.quick else 3)
        if "compare" in parts:
            part_compare(grid, args.workers, env, work, modes=args.modes)
        if "scaling" in parts and counts:
            part_scaling(counts, args.workers, env, work)
        if "probe" in parts:
            part_probe(args.workers, env, work)
        if "bytecode" in parts:
            part_bytecode(env, repeats=1 if args.quick else 3)
        if "ratio" in parts:
            part_ratio(experiments, args.repeats, args.workers, env, work)
        print(f"\nload average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
