"""Small mistakes get one line, a non-zero exit and nothing written, before any task starts.

Each case is a mistake a researcher made (issue 23's list first, then the same
class elsewhere: other subcommands' option values, other Pipeline steps' arguments,
a value of the wrong type). Config-key mistakes are listed with their exact
messages in ``tests/test_config.py`` (``MISTAKES``, the README table); this module
covers the launch-time options, the data-shape check and the other subcommands.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from components.cli import main
from components.shell import prepare_argv

ROOT = Path(__file__).resolve().parents[1]
FLOW = str(ROOT / "flows" / "investigation.py")

#: ``experiment=tabular_cv_smoke`` (breast cancer: 30 features) with ``logreg_scaled``'s Pipeline as PCA then the model.
_PIPELINE = "method.logreg_scaled.estimator.steps=[[pca,{_target_:sklearn.decomposition.PCA,%s}],[model,{_target_:sklearn.linear_model.LogisticRegression,max_iter:1000}]]"
_CV = "experiment=tabular_cv_smoke"

#: Mistakes on a flow's command line: (words after ``run``, what the one line says).
FLOW_MISTAKES = [
    # Issue 23's list.
    ([_CV, _PIPELINE % "n_componets:5"], "method.logreg_scaled.estimator.steps[0][1].n_componets is not a parameter of sklearn.decomposition.PCA; "
     "did you mean method.logreg_scaled.estimator.steps[0][1].n_components?"),
    ([_CV, "experiment.metric={name:auroc,_target_:components.library.metrics.auroc}"],
     "experiment.metric.threshold is not a setting of this implementation, and you did not type it: it comes from the experiment's config"),
    (["experiment=smoke", "--review-allow"], "--review-allow needs TRAP[,TRAP] or all"),
    (["experiment=smoke", "--reuse", "bogus"], "--reuse 'bogus' is not a reuse mode; choose one of auto, off, verify"),
    (["experiment=smoke", "--max-workers", "two"], "run: Invalid value for '--max-workers': two is not a valid integer"),
    ([_CV, _PIPELINE % "n_components:100"], "method.logreg_scaled.estimator.steps[0][1]: step 'pca' fails on the training data "
     "(379 rows x 30 features): n_components=100 must be between 0 and min(n_samples, n_features)=30"),
    # The same class: other values, other options, other Pipeline steps.
    (["experiment=smoke", "--max-workers", "0"], "run: --max-workers must be a positive integer, got 0"),
    (["resume", "--max-workers", "two"], "resume: Invalid value for '--max-workers': two is not a valid integer"),
    (["experiment=smoke", "--max-num-splits", "-1"], "run: --max-num-splits must be a positive integer, got -1"),
    (["experiment=smoke", "--reuse=of"], "--reuse 'of' is not a reuse mode; did you mean off?; choose one of auto, off, verify"),
    (["experiment=smoke", "--reuse", "--max-workers", "2"], "--reuse needs a mode: auto, off, verify"),
    (["experiment=smoke", "training.reshuffle=once", "--review-allow", "reshufle_symmetry"],
     "--review-allow 'reshufle_symmetry' is not a trap; did you mean reshuffle_symmetry?"),
    ([_CV, _PIPELINE.replace("pca,{_target_:sklearn.decomposition.PCA,%s}", "svd,{_target_:sklearn.decomposition.TruncatedSVD,n_components:40}")],
     "method.logreg_scaled.estimator.steps[0][1]: step 'svd' fails on the training data (379 rows x 30 features): n_components(40) must be <= n_features(30)"),
    ([_CV, "method.logreg_raw.estimator.max_iter=many"], "method.logreg_raw.estimator.max_iter: The 'max_iter' parameter of LogisticRegression must be an int"),
]


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("axisflow: error: "), err
    return lines[0]


@pytest.mark.parametrize(("words", "message"), FLOW_MISTAKES, ids=[" ".join(w)[-50:] for w, _ in FLOW_MISTAKES])
def test_flow_mistake_is_one_line_exit_2_and_writes_nothing(words, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        prepare_argv([FLOW, *(words if words[0] == "resume" else ["run", *words])], FLOW)
    assert info.value.code == 2
    assert message in _one_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


#: Mistakes on ``axisflow``'s own subcommands: (argv, what the one line says).
CLI_MISTAKES = [
    # Issue 23's list.
    (["results", "--run", "a/b/c"], "--run 'a/b/c' is neither a run id nor a Flow/run_id pathspec"),
    (["report", "--dpi", "100000"], "report: argument --dpi: 100000 is outside 10-600"),
    # The same class on the other subcommands.
    (["results", "--format", "jsn"], "did you mean json?"),
    (["runs", "--limit", "two"], "runs: argument --limit: invalid int value: 'two'"),
    (["plan", "--reuse", "of", "experiment=smoke"], "plan: argument --reuse: invalid choice: 'of' (choose from 'auto', 'off', 'verify'); did you mean off?"),
    (["pln", "experiment=smoke"], "did you mean plan?"),
    (["prove", "--show", "-1", "experiment=smoke"], "prove: argument --show: -1 is negative; give 0 or more places"),
    (["prove", "--show", "all", "experiment=smoke"], "prove: argument --show: 'all' is not a whole number"),
    (["seeds", "--width", "0.1", "--power", "2"], "--power must be strictly between 0 and 1, got 2.0"),
    (["seeds", "--width", "-0.1"], "--width must be a positive half-width in metric units, got -0.1"),
    (["seeds", "--effect", "inf"], "--effect must be a non-zero, finite difference in metric units, got inf"),
    (["new", "probe_typo", "--task", "multiclass", "--loader", "sklearn.datasets.load_digts"],
     "--loader 'sklearn.datasets.load_digts': sklearn.datasets has no load_digts; did you mean sklearn.datasets.load_digits?"),
    (["review", "experiment=smoke", "--record", "--reviewer", "me", "--verdict", "reshufle_symmetry=pass:fine"],
     "--verdict 'reshufle_symmetry=pass:fine': expected TRAP=pass:ANSWER or TRAP=fail:ANSWER; did you mean reshuffle_symmetry?"),
    (["plan", "experiment=smoke", "training.epocs=3"], "training.epocs is not a key of the composed config; did you mean training.epochs?"),
]


@pytest.mark.parametrize(("argv", "message"), CLI_MISTAKES, ids=[" ".join(a)[:50] for a, _ in CLI_MISTAKES])
def test_cli_mistake_is_one_line_exit_2_and_writes_nothing(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # an empty folder: no runs to read, so a check that reads runs first would fail differently
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        status = exc.code
    assert status == 2
    assert message in _one_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []
    assert not (ROOT / "components" / "investigations" / "probe_typo").exists()


def test_prove_refuses_a_report_folder_before_running_anything(tmp_path, capsys):
    assert main(["prove", "--report", str(tmp_path), "experiment=smoke"]) == 2
    assert _one_line(capsys.readouterr().err) == f"axisflow: error: --report {tmp_path} is a folder; give the path of the JSON file to write"


def _launch(tmp_path: Path, *words: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "METAFLOW_USER": "axisflow-tests"}
    return subprocess.run([sys.executable, FLOW, "run", *words], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["experiment=smoke", "--max-workrs", "2"], "run: no such option: --max-workrs; did you mean --max-workers?"),
        *[m for m in FLOW_MISTAKES if m[0][0] != "resume" and ("--max-workers" in m[0] or "bogus" in m[0] or "n_components:100" in " ".join(m[0]))],
    ],
)
def test_flow_launch_mistake_exits_2_with_one_line_and_no_datastore(tmp_path, words, message):
    # Through the real flow file: Metaflow's own parser (and its datastore) must not be reached.
    result = _launch(tmp_path, *words)
    assert result.returncode == 2, result.stderr
    assert message in _one_line(result.stderr)
    assert list(tmp_path.iterdir()) == []


# -- the data-shape check at launch -------------------------------------------------------------


def _table(rows: int, features: int):
    from components.spec.seams import Dataset

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(rows, features)), rng.integers(0, 2, rows)
    return Dataset(task="binary", X_train=X, y_train=y, X_val=X[:5], y_val=y[:5], X_test=X[:5], y_test=y[:5])


def _pipeline(*steps: tuple[str, dict]) -> dict:
    return {"estimator": {"_target_": "sklearn.pipeline.Pipeline", "steps": [[n, s] for n, s in steps]}}


_PCA = "sklearn.decomposition.PCA"
_LOGREG = {"_target_": "sklearn.linear_model.LogisticRegression"}


def test_data_check_fits_each_transformer_on_the_training_rows_in_order():
    from components.library.sklearn_train import check_on_data
    from components.spec.declarations import FieldError

    data = _table(40, 6)
    check_on_data(_pipeline(("pca", {"_target_": _PCA, "n_components": 6}), ("model", _LOGREG)), data)
    # The second PCA sees the first one's 4 outputs, not the table's 6 features.
    with pytest.raises(FieldError) as caught:
        check_on_data(_pipeline(("a", {"_target_": _PCA, "n_components": 4}), ("b", {"_target_": _PCA, "n_components": 5}), ("model", _LOGREG)), data)
    assert caught.value.loc == ("estimator", "steps", 1, 1)
    assert caught.value.message.startswith("step 'b' fails on the training data (40 rows x 4 features): n_components=5")


def test_data_check_leaves_the_model_and_bare_estimators_to_the_arm():
    from components.library.sklearn_train import check_on_data

    data = _table(40, 6)
    # Neither is fitted here: a bad model setting that only fit sees is the arm's failure, not a launch check's.
    check_on_data({"estimator": {"_target_": _PCA, "n_components": 50}}, data)
    check_on_data(_pipeline(("scale", {"_target_": "sklearn.preprocessing.StandardScaler"}), ("last", {"_target_": _PCA, "n_components": 50})), data)


# -- a failure's one line, first and last ---------------------------------------------------------


def test_a_failing_branch_prints_its_reason_before_the_traceback(capsys):
    from components.engine.branch import _reports_first

    @_reports_first
    def branch() -> dict:
        raise RuntimeError("branch fold=0,seed=0, method mlp: ValueError: Input contains NaN\nmore detail")

    with pytest.raises(RuntimeError):
        branch()
    assert capsys.readouterr().err == "axisflow: error: branch fold=0,seed=0, method mlp: ValueError: Input contains NaN\n"


def test_the_reason_of_a_failed_task_is_its_own_line_else_the_exception_line():
    from components.outputs.failures import reason_of

    log = "\n".join(
        ["[fold=0] training 1/3", "axisflow: error: branch fold=0, method pca_mlp: ValueError: n_components=100 must be between 0 and 30",
         "Traceback (most recent call last):", '  File "x.py", line 1, in <module>', "RuntimeError: branch fold=0, method pca_mlp: ValueError: ...",
         "Internal error", "    Step failure:"]
    )
    assert reason_of(log) == "branch fold=0, method pca_mlp: ValueError: n_components=100 must be between 0 and 30"
    assert reason_of("Traceback (most recent call last):\n  ...\nsklearn.exceptions.NotFittedError: not fitted\n") == "sklearn.exceptions.NotFittedError: not fitted"
    assert reason_of("nothing went wrong here\n") is None


@pytest.mark.slow
def test_a_failed_run_prints_the_reason_before_its_traceback_and_as_the_last_line(tmp_path):
    # lbfgs with an l1 penalty passes every setting check; only LogisticRegression.fit refuses it, inside the branch.
    result = _launch(
        tmp_path, _CV, "method=[logreg_scaled,logreg_raw]", "+method.logreg_raw.estimator.penalty=l1", "experiment.seeds=1", "--review-allow", "all",
    )
    reason = "method logreg_raw, training axes none: ValueError: Solver lbfgs supports only 'l2' or None penalties, got l1 penalty."
    assert result.returncode != 0
    last = [line for line in result.stderr.splitlines() if line.strip()][-1]
    assert last.startswith("axisflow: error: branch fold=") and reason in last and last.endswith("failed; its log is above)"), result.stderr
    # In the failed task's log (Metaflow prints it on stdout), the reason comes before the traceback.
    task = last.split("(task ", 1)[1].split(" ", 1)[0].split("/", 1)[1]  # run_id/branch/task_id
    own = [line for line in result.stdout.splitlines() if f"[{task} " in line]
    first_reason = next(i for i, line in enumerate(own) if "axisflow: error: branch" in line and reason in line)
    assert first_reason < next(i for i, line in enumerate(own) if "Traceback" in line or "Internal error" in line), result.stdout
