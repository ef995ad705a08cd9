"""Configs are untrusted input: no code runs from a config before it is checked.

A ``_target_`` resolves only inside the project's packages and the third-party
packages ``pyproject.toml`` declares, checked on its name before anything is
imported; a scikit-learn estimator must be a ``BaseEstimator`` subclass before
it is instantiated. The planted configs below would run a command (or import a
module that writes a file) if any of that slipped; each test asserts the file
was not created.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components.spec.config import CONFIG_DIR, ConfigError, compose, load_spec, validate
from components.spec.declarations import ImplementationError, locate

ROOT = Path(__file__).resolve().parents[1]
#: The regression smoke experiment: its baseline ``ridge`` is a scikit-learn method.
EXPERIMENT = "experiment=sample_size_smoke"
KEY = "method.ridge.estimator._target_"


def _command_overrides(target: str, marker: Path) -> list[str]:
    """Overrides that make ``ridge``'s estimator ``target(command="touch marker")`` (the exploit's shape)."""
    return [EXPERIMENT, f"{KEY}={target}", "~method.ridge.estimator.alpha", f"+method.ridge.estimator.command='touch {marker}'"]


def _planted_ridge(configs: Path, marker: Path) -> None:
    """Commit the exploit into ``configs/method/ridge.yaml`` under a copied config root."""
    (configs / "method" / "ridge.yaml").write_text(
        "ridge:\n"
        "  _target_: components.library.sklearn_train.fit_estimator\n"
        "  kind: axis_agnostic\n"
        "  estimator:\n"
        "    _target_: os.system\n"
        f"    command: touch {marker}\n"
    )


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "ran"
    yield path
    assert not path.exists(), "a command named by the config ran"


def test_os_system_estimator_override_is_refused_by_load_spec_without_running(marker):
    with pytest.raises(ConfigError, match=rf"^{KEY} 'os.system' is outside the packages a config may name"):
        load_spec(_command_overrides("os.system", marker))


def test_os_system_estimator_in_a_committed_yaml_is_refused_by_validate_without_running(tmp_path, marker):
    configs = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, configs)
    _planted_ridge(configs, marker)
    config = compose([EXPERIMENT], config_dir=configs)
    with pytest.raises(ConfigError, match=rf"^{KEY} 'os.system' is outside"):
        validate(config)


@pytest.fixture
def planted_repo(tmp_path, marker):
    """A copy of the project whose committed ``ridge.yaml`` runs ``touch marker`` if its estimator is ever called."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "components", repo / "components", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(CONFIG_DIR, repo / "configs")
    shutil.copy(ROOT / "pyproject.toml", repo / "pyproject.toml")
    _planted_ridge(repo / "configs", marker)
    return repo


def _axisflow(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(repo)}
    return subprocess.run([sys.executable, "-m", "components.cli", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=300)


def test_axisflow_plan_refuses_a_committed_os_system_estimator_in_one_line(planted_repo):
    done = _axisflow(planted_repo, "plan", EXPERIMENT, "--reuse", "off")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"axisflow: error: {KEY} 'os.system' is outside") and done.stderr.count("\n") == 1


def test_axisflow_review_check_all_refuses_a_committed_os_system_estimator(planted_repo):
    done = _axisflow(planted_repo, "review", "--check", "--all")
    assert done.returncode != 0
    assert f"{KEY} 'os.system' is outside" in done.stdout + done.stderr


@pytest.mark.parametrize("target", ["builtins.eval", "subprocess.run", "functools.partial", "posix.system", "importlib.import_module"])
def test_callables_outside_the_allowed_packages_are_refused_as_estimators(target, marker):
    with pytest.raises(ConfigError, match=rf"^{KEY} '{target}' is outside the packages a config may name"):
        load_spec(_command_overrides(target, marker))


@pytest.mark.parametrize(
    "target, expected",
    [
        ("sklearn.utils.Bunch", "'sklearn.utils.Bunch' is not a scikit-learn estimator class"),
        ("sklearn.utils.check_array", "'sklearn.utils.check_array' is not a scikit-learn estimator class"),
        ("sklearn.base.copy.deepcopy", "reaches module copy, which is outside the packages a config may name"),
        ("sklearn.utils._pprint._EstimatorPrettyPrinter", "names a private (underscore) part of a third-party package"),
        ("sklearn.linear_model", "is a module"),
        ("components.library.tables.np.load", "reaches module numpy"),
        ("components.library.metrics.__builtins__", "names a dunder attribute"),
    ],
)
def test_allowed_package_paths_that_are_not_estimator_classes_are_refused(target, expected, marker):
    with pytest.raises(ConfigError, match=KEY) as caught:
        load_spec(_command_overrides(target, marker))
    assert expected in str(caught.value)


def test_a_function_inside_an_allowed_package_is_never_called_as_an_estimator(monkeypatch):
    import sklearn.utils

    calls = []
    monkeypatch.setattr(sklearn.utils, "planted_function", lambda **kwargs: calls.append(kwargs), raising=False)
    with pytest.raises(ConfigError, match=rf"{KEY}: 'sklearn.utils.planted_function' is not a scikit-learn estimator class"):
        load_spec([EXPERIMENT, f"{KEY}=sklearn.utils.planted_function"])
    assert calls == []


def test_a_module_outside_the_allowed_packages_is_refused_without_being_imported(tmp_path, monkeypatch):
    wrote = tmp_path / "imported"
    (tmp_path / "axisflow_planted_module.py").write_text(f"open({str(wrote)!r}, 'w').close()\n\ndef teacher(*a, **k):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match=r"^data._target_ 'axisflow_planted_module.teacher' is outside"):
        load_spec(["experiment=smoke", "data._target_=axisflow_planted_module.teacher"])
    with pytest.raises(ImplementationError, match="is outside"):
        locate("axisflow_planted_module.teacher", "data._target_")
    assert not wrote.exists() and "axisflow_planted_module" not in sys.modules


def test_a_declared_trainer_outside_the_allowed_packages_is_refused_for_every_seam():
    for override, key in [
        ("method.logreg._target_=builtins.print", "method.logreg._target_"),
        ("experiment.metric._target_=operator.eq", "experiment.metric._target_"),
        ("training._target_=collections.OrderedDict", "training._target_"),
    ]:
        with pytest.raises(ConfigError, match=rf"^{key} '[\w.]+' is outside"):
            load_spec(["experiment=smoke", override])



def test_atomic_write_keeps_the_previous_file_when_the_disk_fills(tmp_path, monkeypatch):
    from components import files

    target = files.atomic_write(tmp_path / "record.yaml", "verdict: pass\n")

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        files.atomic_write(target, "verdict: fail\n" * 1000)
    assert target.read_text() == "verdict: pass\n" and [p.name for p in tmp_path.iterdir()] == ["record.yaml"]


def test_atomic_write_replaces_a_symlink_instead_of_writing_through_it(tmp_path):
    from components.files import atomic_write

    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    link = tmp_path / "report.md"
    link.symlink_to(victim)
    atomic_write(link, "report\n")
    assert victim.read_text() == "keep\n" and not link.is_symlink() and link.read_text() == "report\n"


def test_atomic_write_gives_the_files_usual_permissions(tmp_path):
    from components.files import atomic_write

    plain = tmp_path / "plain"
    plain.write_text("x")
    assert atomic_write(tmp_path / "atomic", "x").stat().st_mode == plain.stat().st_mode


TABLE = "experiment=tabular_cv_smoke"


def _table_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_spec([TABLE, f"data.path={path}"])
    return str(caught.value)


def test_a_ten_megabyte_one_line_file_as_data_path_gives_a_short_error(tmp_path):
    big = tmp_path / "big.csv"
    big.write_text("A" * 10_000_000)
    message = _table_error(big)
    assert len(message) < 300 and message.startswith("data.target: column 'diagnosis' is not in big.csv; columns: AAAA")
    assert "(10000000 characters)" in message


def test_control_characters_in_a_table_header_are_escaped(tmp_path):
    table = tmp_path / "ctl.csv"
    table.write_bytes(b"hello\x1b[31m\x00,world\x07\n1,2\n")
    message = _table_error(table)
    assert message.endswith(r"columns: hello\x1b[31m\x00, world\x07")
    assert message.isprintable()


def test_a_binary_file_as_data_path_gives_one_short_printable_line(tmp_path):
    blob = tmp_path / "blob.csv"
    blob.write_bytes(bytes(range(256)) * 40_000)
    message = _table_error(blob)
    assert message.startswith("data.") and len(message) < 300 and message.isprintable()


@pytest.mark.parametrize(
    "key, value, expected",
    [
        (("experiment", "seeds"), "A" * 1_000_000, "experiment.seeds must be an integer, got 'AAAA"),
        (("experiment", "question"), ["\x00"] * 100_000, "experiment.question must be a string, got ['\\x00', "),
        (("data", "n_features"), "B\n" * 1_000_000, "data.n_features: input should be a valid integer (got 'B\\nB\\n"),
        (("experiment", "baseline"), "\x1b[2J" * 100_000, "experiment.baseline '\\x1b[2J"),
    ],
)
def test_huge_or_unprintable_config_values_are_quoted_as_a_short_excerpt(key, value, expected):
    config = compose(["experiment=smoke"])
    config[key[0]][key[1]] = value
    with pytest.raises(ConfigError) as caught:
        validate(config)
    message = str(caught.value)
    assert message.startswith(expected) and len(message) < 300 and message.isprintable()


def test_a_config_error_is_one_printable_line_of_bounded_length_whatever_it_is_given():
    from components.spec.config import MESSAGE_LIMIT

    message = str(ConfigError("data.path: " + "line\n\x00" * 1_000_000))
    assert message.isprintable() and len(message) < MESSAGE_LIMIT + 40 and message.startswith(r"data.path: line\n\x00")


def test_excerpt_quotes_like_repr_and_cuts_with_an_ellipsis_and_the_length():
    from components.spec.declarations import excerpt

    assert excerpt("ok") == "'ok'" and excerpt(3) == "3" and excerpt("a\nb", quote=False) == r"a\nb"
    assert excerpt("x" * 100, limit=5) == "'xxxxx'... (100 characters)"
    assert excerpt(r"already\x00escaped", quote=False) == r"already\x00escaped"


SECRET = "sk-live-4f9c2e71d0b8a6539e1f"


@pytest.fixture
def secret(monkeypatch):
    monkeypatch.setenv("AXISFLOW_TEST_TOKEN", SECRET)
    return "AXISFLOW_TEST_TOKEN"


@pytest.mark.parametrize(
    "override, key",
    [
        ("experiment.question=${oc.env:AXISFLOW_TEST_TOKEN}", "experiment.question"),
        ("+data.note=${oc.env:AXISFLOW_TEST_TOKEN,fallback}", "data.note"),
        ("experiment.question=token-${oc.env:AXISFLOW_TEST_TOKEN}", "experiment.question"),
        ("+experiment.axes.data.seedling=[1,'${oc.decode:${oc.env:AXISFLOW_TEST_TOKEN}}']", "experiment.axes.data.seedling[1]"),
    ],
)
def test_an_environment_interpolation_is_refused_before_it_is_resolved(secret, override, key):
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)} reads an environment variable") as caught:
        load_spec(["experiment=smoke", override])
    assert SECRET not in str(caught.value)


def test_an_environment_interpolation_in_a_committed_yaml_is_refused_by_compose(secret, tmp_path):
    configs = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, configs)
    smoke = configs / "experiment" / "smoke.yaml"
    text, count = re.subn(r"(?m)^  question: .*$", "  question: ${oc.env:AXISFLOW_TEST_TOKEN}", smoke.read_text())
    smoke.write_text(text)
    assert count == 1
    with pytest.raises(ConfigError, match=r"^experiment.question reads an environment variable") as caught:
        compose(["experiment=smoke"], config_dir=configs)
    assert SECRET not in str(caught.value)


def test_axisflow_plan_never_prints_an_environment_value(secret):
    done = subprocess.run(
        [sys.executable, "-m", "components.cli", "plan", "experiment=smoke", "experiment.question=${oc.env:AXISFLOW_TEST_TOKEN}", "--reuse", "off"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "AXISFLOW_TEST_TOKEN": SECRET},
    )
    assert done.returncode == 2 and done.stderr.startswith("axisflow: error: experiment.question reads an environment variable")
    assert SECRET not in done.stdout + done.stderr


def _readme_rows() -> list[tuple[str, str]]:
    """The (overrides, error line) rows of the README's "What axisflow checks for you" launch-time table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## What axisflow checks for you", 1)[1].split("\n## ", 1)[0].split("\n### At each seam", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `") and line.count("`") >= 4:
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows.append((cells[0].strip("`"), cells[1].strip("`")))
    return rows


def test_readme_table_of_trust_checks_shows_the_exact_error_of_each():
    import shlex

    rows = _readme_rows()
    assert len(rows) >= 7
    for overrides, line in rows:
        with pytest.raises(ConfigError) as caught:
            load_spec(shlex.split(overrides))
        assert line == f"axisflow: error: {caught.value}", overrides
    assert not Path("x").exists()
