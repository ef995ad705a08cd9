"""``axisflow new`` templates: only public names, and ``--loader`` starts an investigation from a package's dataset."""

from __future__ import annotations

import ast
import importlib
import re

import pytest
import yaml

from components.gates.scaffold import TASKS, ScaffoldError, plan_files, scaffold

VARIANTS = [(task, None) for task in TASKS] + [
    ("multiclass", "sklearn.datasets.load_digits"), ("binary", "sklearn.datasets.load_breast_cancer"),
    ("regression", "sklearn.datasets.load_diabetes"),
]


def _targets(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "_target_":
                yield value
            yield from _targets(value)
    elif isinstance(node, list):
        for value in node:
            yield from _targets(value)


@pytest.mark.parametrize(("task", "loader"), VARIANTS)
def test_scaffolded_files_use_only_public_names_of_the_framework_and_library(task, loader):
    files = plan_files("probe", task, loader)
    for path, text in files.items():
        if path.endswith(".py"):
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.ImportFrom) and node.module.startswith("components.") and "investigations" not in node.module:
                    exported = importlib.import_module(node.module).__all__
                    private = [a.name for a in node.names if a.name not in exported]
                    assert not private, f"{path} imports {private} from {node.module}, which are not in its __all__"
        else:
            for target in _targets(yaml.safe_load(text)):
                module, _, name = target.rpartition(".")
                assert not name.startswith("_"), f"{path} names the private {target}"
                if module.startswith("components.") and "investigations" not in module:
                    assert name in importlib.import_module(module).__all__, f"{path} names {target}, not in its module's __all__"


@pytest.mark.parametrize(("task", "loader"), VARIANTS[3:])
def test_scaffold_from_a_loader_writes_no_generator_and_sweeps_the_folds(task, loader):
    files = plan_files("probe", task, loader)
    assert "components/investigations/probe/data.py" not in files and "components/investigations/probe/__init__.py" in files
    data = yaml.safe_load(files["configs/data/probe.yaml"])
    assert data["_target_"] == f"components.library.loaders.{task}_loader" and data["loader"] == {"_target_": loader}
    smoke = yaml.safe_load(files["configs/experiment/probe_smoke.yaml"])
    assert smoke["experiment"]["axes"]["data"] == {"fold": list(range(smoke["data"]["n_splits"]))}
    assert smoke["experiment"]["statistics"]["cv_interval"] == "nadeau_bengio"
    assert "each_fold_holds_out_its_own_rows" in files["tests/test_probe.py"]


@pytest.mark.parametrize("loader", ["sklearn.datasets.fetch_openml", "sklearn.datasets.make_moons", "numpy.load", "load_digits"])
def test_scaffold_refuses_a_loader_that_is_not_a_sklearn_load_function_and_writes_nothing(tmp_path, loader):
    with pytest.raises(ScaffoldError, match=re.escape(f"--loader {loader!r} is not a scikit-learn dataset loader")):
        scaffold("probe", "multiclass", root=tmp_path, loader=loader)
    assert list(tmp_path.iterdir()) == []
