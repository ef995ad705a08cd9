"""The benchmark scripts' flow commands still launch the shipped flow.

Benchmarks run rarely and by hand, so nothing else notices when a gate added to
the shell (the lint gate, the review gate) refuses the commands they build; the
fan-out benchmark's warm-up did fail that way once. This runs the exact command
its warm-up and every measured run use, on one tiny branch.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT))


@pytest.mark.slow
def test_the_benchmark_flow_command_runs_a_variant_of_a_reviewed_experiment(tmp_path):
    from benchmarks.fanout import SHELL_FLOW, child_env, flow_cmd

    # A variant of the reviewed smoke experiment (fewer axis values): its fidelity facts differ from the record.
    grid = ["experiment=smoke", "experiment.seeds=1", "experiment.axes.data.label_noise=[0.0]", "method=[logreg]"]
    run_id_file = tmp_path / "run-id"
    done = subprocess.run(
        flow_cmd(SHELL_FLOW, grid, 1, run_id_file, "--reuse", "off"),
        cwd=tmp_path, env=child_env(tmp_path, "env"), capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert run_id_file.read_text().strip()


def test_the_benchmark_flow_command_allows_the_review_and_keeps_overrides_after_run():
    from benchmarks.fanout import SHELL_FLOW, flow_cmd

    command = flow_cmd(SHELL_FLOW, ["experiment=smoke"], 2, ROOT / "x.run-id")
    assert command[2] == "run" and command[3:5] == ["--review-allow", "all"] and "experiment=smoke" in command


def _estimator(config, method: str, step: int | None = None) -> dict:
    node = config["method"][method]["estimator"]
    return node if step is None else node["steps"][step][1]


def test_the_plain_digits_script_does_the_work_of_the_digits_cv_experiment():
    """The flow-vs-plain ratio means something only while the plain script trains what the experiment trains."""
    from benchmarks.fanout import PLAIN, plain_digits
    from components.spec.config import load_spec

    for experiment in ("digits_cv", "digits_cv_smoke"):
        config, spec = load_spec([f"experiment={experiment}"])
        script, settings = PLAIN[experiment]
        assert script is plain_digits
        assert settings["repeats"] == spec.seeds and settings["folds"] == config["data"]["n_splits"]
        assert config["experiment"]["axes"]["data"]["fold"] == list(range(settings["folds"]))
        assert settings["baseline"] == spec.baseline and sorted(m.name for m in spec.methods) == ["pca_mlp", "random_forest", "sk_logreg"]
        assert config["data"]["loader"] == {"_target_": "sklearn.datasets.load_digits", "n_class": 10}
        assert config["data"]["splitter"] == "stratified" and spec.metric["_target_"].endswith(".accuracy")
        # Both compute macro-F1 beside accuracy from the same predictions.
        assert [node["_target_"] for node in spec.secondary_metrics.values()] == ["components.library.metrics.macro_f1"]
        assert _estimator(config, "sk_logreg", 1) == {"_target_": "sklearn.linear_model.LogisticRegression", "C": 1.0, "max_iter": 1000}
        assert _estimator(config, "random_forest") == {
            "_target_": "sklearn.ensemble.RandomForestClassifier", "n_estimators": 100, "max_features": "sqrt", "n_jobs": 1,
        }
        assert _estimator(config, "pca_mlp", 1) == {"_target_": "sklearn.decomposition.PCA", "n_components": 16}
        assert _estimator(config, "pca_mlp", 2) == {
            "_target_": "sklearn.neural_network.MLPClassifier", "hidden_layer_sizes": [64], "alpha": 0.0001, "max_iter": 200,
        }
        assert config["experiment"]["statistics"]["cv_interval"] == "nadeau_bengio"


def test_the_plain_reference_script_does_the_work_of_the_reference_experiment():
    from benchmarks.fanout import PLAIN, plain_reference
    from components.spec.config import load_spec

    for experiment in ("reference", "smoke"):
        config, spec = load_spec([f"experiment={experiment}"])
        script, s = PLAIN[experiment]
        assert script is plain_reference
        assert s["seeds"] == spec.seeds and s["baseline"] == spec.baseline
        assert config["experiment"]["axes"]["data"]["label_noise"] == s["label_noise"] and config["experiment"]["axes"]["training"]["epochs"] == s["epochs"]
        data = config["data"]
        assert {k: data[k] for k in ("n_features", "teacher_hidden", "teacher_scale", "n_train", "n_val", "n_test")} == {
            k: s[k] for k in ("n_features", "teacher_hidden", "teacher_scale", "n_train", "n_val", "n_test")
        }
        training = config["training"]
        assert (training["lr"], training["batch_size"], training["optimizer"], training["eval_every"]) == (s["lr"], s["batch_size"], "adam", 1)
        assert training["weight_decay"] == 0.0 and training["reshuffle"] == "per_epoch"
        methods = config["method"]
        assert (methods["logreg"]["l2"], methods["logreg"]["max_iter"]) == (s["l2"], s["max_iter"])
        assert methods["mlp"]["model"]["hidden"] == methods["mlp_early_stop"]["model"]["hidden"] == s["hidden"]
        assert methods["mlp"]["callbacks"] == []
        [stop] = methods["mlp_early_stop"]["callbacks"]
        assert (stop["monitor"], stop["patience"], stop["min_delta"], stop["restore_best"]) == ("val_metric", s["patience"], 0.0, True)
        assert spec.metric["_target_"].endswith(".auroc")


def test_the_plain_digits_script_agrees_with_the_flow_on_a_small_grid():
    """Its numbers are its own (scikit-learn's folds), but they must be the same task: accuracies near the flow's."""
    from benchmarks.fanout import plain_digits

    found = plain_digits({"repeats": 1, "folds": 3, "baseline": "sk_logreg", "confidence": 0.95})
    assert set(found["cells"]) == {"sk_logreg", "random_forest", "pca_mlp"}
    assert all(0.9 < row["mean"] < 1.0 and row["low"] < row["mean"] < row["high"] for row in found["cells"].values())
    assert set(found["paired"]) == {"random_forest", "pca_mlp"} and all(0 <= r["p_holm"] <= 1 for r in found["paired"].values())


def test_the_ratio_part_prints_each_experiments_median_ratio_against_its_target(monkeypatch, tmp_path, capsys):
    """The lead reads the verdict line: digits_cv against 1.5x and reference against 1.2x, from the median of the pairs."""
    import json
    from pathlib import Path

    import benchmarks.fanout as fanout

    walls = iter([30.0, 20.0, 36.0, 20.0, 22.0, 20.0, 25.0, 20.0])  # flow, plain, flow, plain, ...

    def measured(label, *args, **kwargs):
        return fanout.Measured(label, next(walls), 1.0, (0.1, 0.1), details={"results": {"cells": [{"axes": {}, "method": "m", "mean": 0.5}]}})

    def plain(label, cmd, *, env, logfile):
        out = cmd[cmd.index("--plain-out") + 1]
        Path(out).write_text(json.dumps({"cells": [[["m"], {"mean": 0.5}]]}))
        return measured(label)

    monkeypatch.setattr(fanout, "run_flow_measured", measured)
    monkeypatch.setattr(fanout, "timed", plain)
    fanout.part_ratio(["digits_cv", "reference"], 2, 2, {}, tmp_path)
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in capsys.readouterr().out.splitlines()
            if line.startswith("| digits_cv ") or line.startswith("| reference ")}
    assert rows["digits_cv"][0] == "1.65" and rows["digits_cv"][-2:] == ["<= 1.5", "missed"]  # median of 1.5 and 1.8
    assert rows["reference"][0] == "1.18" and rows["reference"][-2:] == ["<= 1.2", "met"]  # median of 1.1 and 1.25


def test_the_plain_digits_script_reports_accuracy_and_macro_f1_like_the_flow():
    from benchmarks.fanout import plain_digits

    out = plain_digits({"folds": 2, "repeats": 1, "baseline": "sk_logreg", "confidence": 0.95})
    assert set(out["cells"]) == set(out["macro_f1"]) == {"sk_logreg", "random_forest", "pca_mlp"}
    assert all(0.5 < cell["mean"] <= 1.0 for cell in [*out["cells"].values(), *out["macro_f1"].values()])
