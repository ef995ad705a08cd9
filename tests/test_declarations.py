"""Every implementation declares what it reads; the config holds exactly that, so no setting comes from code."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Annotated

import pytest
from pydantic import Field

from components.spec.config import CONFIG_DIR, ConfigError, load_spec
from components.spec.declarations import TARGET, Params, TaskOnly, declaration_of, locate, missing_for_task, only_for
from components.spec.seams import METHOD_KEYS

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))
IMPLEMENTATION_DIRS = [ROOT / "components" / "library", ROOT / "components" / "investigations"]


def _nodes(config):
    """Every implementation node of a composed config: (where, role, node, keys the framework owns)."""
    yield "data", "generator", config["data"], ()
    yield "training", "training", config["training"], ()
    yield "experiment.metric", "metric", config["experiment"]["metric"], ("name",)
    for name, method in config["method"].items():
        yield f"method.{name}", "trainer", method, ("kind",)
        for key, role in (("model", "model"),):
            if isinstance(method.get(key), dict) and TARGET in method[key]:
                yield f"method.{name}.{key}", role, method[key], ()
        for i, entry in enumerate(method.get("callbacks") or []):
            yield f"method.{name}.callbacks[{i}]", "callback", entry, ()


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_setting_an_implementation_reads_is_in_the_resolved_config(experiment):
    """The declared fields of each implementation equal the keys its config node holds, and none has a default.

    Implementations receive only the validated, frozen settings object (trainers only the training keys
    they declare), so a setting missing from the config cannot be read: it is refused at launch instead.
    """
    config, spec = load_spec([f"experiment={experiment}"])
    for where, role, node, framework_keys in _nodes(config):
        declaration = declaration_of(locate(node[TARGET], where), role, where)
        fields = declaration.params.model_fields
        # A setting only other tasks read (a binary threshold on a multiclass run) may be left out of the config.
        unread = {name for name, info in fields.items() if any(isinstance(m, TaskOnly) and spec.task not in m.tasks for m in info.metadata)}
        assert set(fields) - unread == set(node) - {TARGET, *framework_keys} - unread, where
        # The one default allowed: None for a setting only some tasks read (the config check requires it on those).
        assert all(info.is_required() or any(isinstance(m, TaskOnly) for m in info.metadata) for info in fields.values()), where
    for method in spec.methods:
        assert set(method.reads_training) <= set(config["training"]), method.name


def test_a_settings_declaration_with_a_default_is_refused_when_defined():
    with pytest.raises(TypeError, match="have a default in code"):

        class Hidden(Params):
            l2: float = 1e-4


def test_a_task_only_setting_may_default_to_none_but_to_nothing_else():
    class Binary(Params):
        cut: Annotated[float | None, only_for("binary")] = Field(default=None, description="binary only")

    assert Binary().cut is None and missing_for_task(Binary, {}, "binary") == "cut" and missing_for_task(Binary, {}, "multiclass") is None
    with pytest.raises(TypeError, match="have a default in code"):

        class Guessed(Params):
            cut: Annotated[float | None, only_for("binary")] = Field(default=0.5, description="a real default")


def test_multiclass_accuracy_needs_no_threshold_and_binary_accuracy_does():
    _, spec = load_spec(["experiment=digits_cnn_smoke", "~experiment.metric.threshold"])
    assert spec.task == "multiclass" and "threshold" not in spec.metric
    with pytest.raises(ConfigError) as caught:
        load_spec(["experiment=tabular_cv_smoke", "~experiment.metric.threshold"])
    assert str(caught.value).startswith("experiment.metric.threshold is missing; a binary task reads it: predict class 1")


def test_deleting_a_read_setting_from_the_config_is_a_launch_error():
    with pytest.raises(ConfigError, match=r"^method\.mlp_early_stop\.callbacks\[0\]\.patience is missing"):
        load_spec(["experiment=smoke", "method.mlp_early_stop.callbacks=[{_target_:components.library.callbacks.EarlyStopping,monitor:val_metric,min_delta:0.0,restore_best:true}]"])


def _fallback_reads(path: Path, root: Path = ROOT) -> list[str]:
    """Reads of a function argument with a fallback in code (``arg.get(key, default)``, ``getattr(arg, name, default)``)
    and environment reads: a setting whose value would come from code, not from the config."""
    found = []
    for function in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        arguments = {a.arg for a in [*function.args.args, *function.args.kwonlyargs, *function.args.posonlyargs]} - {"self", "cls"}
        for node in ast.walk(function):
            if not isinstance(node, ast.Call):
                continue
            func, where = node.func, f"{path.relative_to(root)}:{node.lineno}"
            if (
                isinstance(func, ast.Attribute) and func.attr in ("get", "setdefault") and len(node.args) + len(node.keywords) >= 2
                and isinstance(func.value, ast.Name) and func.value.id in arguments
            ):
                found.append(where)
            elif isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) == 3 and isinstance(node.args[0], ast.Name) and node.args[0].id in arguments:
                found.append(where)
            elif "environ" in ast.unparse(func) or (isinstance(func, ast.Attribute) and func.attr == "getenv"):
                found.append(where)
    return found


def test_no_implementation_reads_a_setting_with_a_fallback_in_code():
    files = [p for d in IMPLEMENTATION_DIRS for p in sorted(d.rglob("*.py"))]
    assert files
    assert [place for path in files for place in _fallback_reads(path)] == []


def test_the_fallback_scan_finds_a_planted_default(tmp_path):
    planted = tmp_path / "probe.py"
    planted.write_text("def train(params, data, seed, training, scorer):\n    return training.get('epochs', 10)\n")
    assert _fallback_reads(planted, tmp_path) == ["probe.py:2"]


def test_method_keys_owned_by_the_framework_are_not_trainer_settings():
    config, _ = load_spec(["experiment=smoke"])
    for method in config["method"].values():
        declaration = declaration_of(locate(method[TARGET], "method"), "trainer", "method")
        assert not set(METHOD_KEYS) & set(declaration.params.model_fields)


def test_axis_agnostic_method_whose_trainer_reads_a_swept_key_is_refused():
    with pytest.raises(ConfigError) as info:
        load_spec(["experiment=sample_size_smoke", "method.mlp_regressor.kind=axis_agnostic"])
    assert str(info.value).startswith("method.mlp_regressor.kind is axis_agnostic, but its trainer reads training.weight_decay")
    # The same method is fine when nothing it reads is swept.
    load_spec(["experiment=sample_size_smoke", "method.mlp_regressor.kind=axis_agnostic", "~experiment.axes.training"])


def test_allowed_targets_are_the_projects_packages_plus_those_pyproject_declares(tmp_path, monkeypatch):
    from components.spec import declarations

    assert declarations.allowed_targets()[:2] == declarations.PROJECT_TARGETS and "sklearn" in declarations.allowed_targets()
    monkeypatch.setattr(declarations, "REPO_ROOT", tmp_path)
    assert declarations.allowed_targets() == declarations.PROJECT_TARGETS
    with pytest.raises(declarations.ImplementationError, match=r"is outside .*pyproject.toml at .*, which is missing$"):
        declarations.locate("sklearn.linear_model.Ridge", "method.ridge.estimator._target_")
    (tmp_path / "pyproject.toml").write_text('[tool.axisflow]\nallowed-targets = ["sklearn", "not a module"]\n')
    with pytest.raises(declarations.ImplementationError, match=r"allowed-targets must be a list of module names"):
        declarations.allowed_targets()
