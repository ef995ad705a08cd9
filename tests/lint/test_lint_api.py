"""The public API the run gate calls: check_paths, check_source, format_findings, settings."""

import dataclasses
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import lint
from lint import (
    Finding,
    LintError,
    Settings,
    check_paths,
    check_source,
    format_findings,
    load_settings,
)

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"

CONSTANT_FLOW = textwrap.dedent(
    """\
    from metaflow import FlowSpec, step

    LR = 0.1{noqa}


    class Flow(FlowSpec):
        @step
        def start(self):
            self.lr = LR
            self.next(self.end)

        @step
        def end(self):
            pass
    """
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def project(tmp_path):
    """A temporary project root with its own (empty) lint settings."""
    write(tmp_path / "pyproject.toml", "[tool.axisflow.lint]\n")
    return tmp_path


def test_public_api_all_matches_the_exported_names():
    assert sorted(lint.__all__) == [
        "Finding",
        "LintError",
        "RULES",
        "Rule",
        "SEVERITIES",
        "Settings",
        "blocking",
        "check_paths",
        "check_source",
        "format_findings",
        "load_settings",
        "rule_for",
    ]
    assert all(hasattr(lint, name) for name in lint.__all__)


def test_import_lint_loads_no_heavy_modules():
    code = (
        "import sys, lint, lint.cli; "
        "heavy = {'torch', 'numpy', 'metaflow', 'hydra', 'omegaconf', 'pandas'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_finding_is_frozen_and_orders_by_path_line_col():
    a = Finding("a.py", 2, 1, "AXF101", "module-constant", "m")
    b = Finding("a.py", 10, 1, "AXF101", "module-constant", "m")
    c = Finding("b.py", 1, 1, "AXF101", "module-constant", "m")
    assert sorted([c, b, a]) == [a, b, c]
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.line = 3


def test_check_paths_returns_findings_sorted_by_path_line_col(project):
    write(project / "b.py", CONSTANT_FLOW.format(noqa=""))
    write(project / "a.py", CONSTANT_FLOW.format(noqa=""))
    findings = check_paths([project])
    assert [(Path(f.path).name, f.line, f.code) for f in findings] == [
        ("a.py", 3, "AXF101"),
        ("b.py", 3, "AXF101"),
    ]


def test_check_paths_gate_on_flow_and_components_is_fast():
    flow = FIXTURES / "axf101_bad.py"
    components = FIXTURES / "components"
    check_paths([flow, components])  # warm the import caches
    started = time.perf_counter()
    check_paths([flow, components])
    assert time.perf_counter() - started < 0.5


def test_check_paths_missing_path_raises_naming_it(project):
    with pytest.raises(LintError, match="path not found: .*nowhere.py"):
        check_paths([project / "nowhere.py"])


def test_check_paths_empty_path_list_raises():
    with pytest.raises(LintError, match="no paths"):
        check_paths([])


def test_check_paths_select_accepts_prefix_lists_and_comma_strings():
    fixture = FIXTURES / "axf401_bad.py"
    assert {f.code for f in check_paths([fixture], select=["AXF4"])} == {"AXF401"}
    assert check_paths([fixture], select="AXF1,AXF2") == []


def test_check_paths_ignore_removes_codes():
    fixture = FIXTURES / "components" / "axf601_bad_library.py"
    assert check_paths([fixture], ignore=["AXF601"]) == []


def test_check_paths_unknown_select_code_raises():
    with pytest.raises(LintError, match="AXF999"):
        check_paths([FIXTURES / "axf101_clean.py"], select=["AXF999"])


def test_check_paths_syntax_error_is_a_finding_not_a_crash(project):
    write(project / "broken.py", "def f(:\n    pass\n")
    [finding] = check_paths([project / "broken.py"])
    assert (finding.code, finding.name, finding.line) == ("AXF001", "syntax-error", 1)


def test_check_paths_undecodable_file_is_a_syntax_error_finding(project):
    (project / "latin.py").write_bytes(b"x = '\xff\xfe'\n")
    [finding] = check_paths([project / "latin.py"])
    assert finding.code == "AXF001"
    assert "UTF-8" in finding.message


def test_check_paths_skips_hidden_venv_metaflow_and_pycache_folders(project):
    for folder in (".venv", ".metaflow", "__pycache__", ".hidden"):
        write(project / folder / "flow.py", CONSTANT_FLOW.format(noqa=""))
    write(project / "notes.txt", "LR = 0.1\n")
    assert check_paths([project]) == []


def test_check_paths_lints_an_explicit_file_even_in_a_skipped_folder(project):
    flow = write(project / ".venv" / "flow.py", CONSTANT_FLOW.format(noqa=""))
    assert [f.code for f in check_paths([flow])] == ["AXF101"]


def test_noqa_with_our_code_silences_the_line():
    assert check_source(CONSTANT_FLOW.format(noqa="  # noqa: AXF101")) == []


def test_noqa_with_several_codes_silences_each_named_code():
    assert check_source(CONSTANT_FLOW.format(noqa="  # noqa: E501, AXF101")) == []


def test_bare_noqa_does_not_silence_our_findings():
    findings = check_source(CONSTANT_FLOW.format(noqa="  # noqa"))
    assert [f.code for f in findings] == ["AXF101"]


def test_noqa_with_another_tools_code_does_not_silence_our_findings():
    findings = check_source(CONSTANT_FLOW.format(noqa="  # noqa: E501"))
    assert [f.code for f in findings] == ["AXF101"]


def test_noqa_inside_a_string_does_not_silence():
    source = CONSTANT_FLOW.format(noqa="; NOTE = '# noqa: AXF101'")
    assert [f.code for f in check_source(source)] == ["AXF101"]


def test_format_findings_text_is_flake8_style():
    finding = Finding("flows/f.py", 3, 1, "AXF101", "module-constant", "message here")
    assert format_findings([finding]) == "flows/f.py:3:1: AXF101 [error] message here"
    warning = Finding("flows/f.py", 4, 1, "AXF101", "module-constant", "message here", "warning")
    assert format_findings([warning]) == "flows/f.py:4:1: AXF101 [warning] message here"


def test_finding_refuses_an_unknown_severity():
    with pytest.raises(ValueError, match="severity must be one of error, warning, info"):
        Finding("flows/f.py", 3, 1, "AXF101", "module-constant", "message here", "fatal")


def test_blocking_keeps_errors_only_sorted():
    error = Finding("b.py", 1, 1, "AXF601", "global-random-state", "m")
    warning = Finding("a.py", 1, 1, "AXF101", "module-constant", "m", "warning")
    info = Finding("a.py", 2, 1, "AXF301", "per-config-foreach", "m", "info")
    early = Finding("a.py", 9, 1, "AXF201", "cwd-relative-path", "m")
    assert lint.blocking([error, warning, info, early]) == [early, error]
    assert lint.blocking([warning, info]) == []


def test_format_findings_json_lists_all_fields():
    finding = Finding("flows/f.py", 3, 1, "AXF101", "module-constant", "message here")
    [row] = json.loads(format_findings([finding], "json"))
    assert row == {
        "path": "flows/f.py",
        "line": 3,
        "col": 1,
        "code": "AXF101",
        "name": "module-constant",
        "message": "message here",
        "severity": "error",
    }


def test_format_findings_unknown_format_raises():
    with pytest.raises(LintError, match="xml"):
        format_findings([], "xml")


def test_load_settings_reads_the_nearest_pyproject(tmp_path):
    write(
        tmp_path / "pyproject.toml",
        """\
        [tool.axisflow.lint]
        project-packages = ["outer"]
        """,
    )
    write(
        tmp_path / "inner" / "pyproject.toml",
        """\
        [tool.axisflow.lint]
        project-packages = ["inner_pkg"]
        exclude = ["generated"]
        per-file-ignores = {"flows/*" = ["AXF1"]}
        ignore = ["AXF602"]
        """,
    )
    (tmp_path / "inner" / "flows").mkdir()
    settings = load_settings(tmp_path / "inner" / "flows")
    assert settings.project_packages == ("inner_pkg",)
    assert settings.exclude == ("generated",)
    assert settings.ignore == {"AXF602"}
    assert settings.ignored_codes(tmp_path / "inner" / "flows" / "x.py") == {"AXF101"}
    assert settings.is_excluded(tmp_path / "inner" / "generated")


def test_load_settings_without_a_table_gives_defaults(tmp_path):
    write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")
    assert load_settings(tmp_path).project_packages == ()


def test_load_settings_unknown_key_raises_naming_it(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.axisflow.lint]\nproject-package = ['x']\n")
    with pytest.raises(LintError, match="unknown setting 'project-package'"):
        load_settings(tmp_path)


def test_load_settings_wrong_type_raises_naming_the_key(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.axisflow.lint]\nexclude = 'tests'\n")
    with pytest.raises(LintError, match="'exclude' must be a list of strings"):
        load_settings(tmp_path)


def test_load_settings_unknown_code_in_per_file_ignores_raises(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.axisflow.lint]\nper-file-ignores = {"a.py" = ["E501"]}\n')
    with pytest.raises(LintError, match="'E501' in .*per-file-ignores 'a.py'"):
        load_settings(tmp_path)


def test_load_settings_invalid_toml_raises_naming_the_file(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.axisflow.lint\n")
    with pytest.raises(LintError, match="pyproject.toml: cannot read settings"):
        load_settings(tmp_path)


def test_exclude_setting_skips_matching_folders_when_walking(project):
    write(project / "pyproject.toml", '[tool.axisflow.lint]\nexclude = ["legacy"]\n')
    write(project / "legacy" / "flow.py", CONSTANT_FLOW.format(noqa=""))
    write(project / "flows" / "flow.py", CONSTANT_FLOW.format(noqa=""))
    assert [Path(f.path).parent.name for f in check_paths([project])] == ["flows"]


def test_exclude_setting_does_not_skip_a_folder_named_explicitly(project):
    write(project / "pyproject.toml", '[tool.axisflow.lint]\nexclude = ["legacy"]\n')
    write(project / "legacy" / "flow.py", CONSTANT_FLOW.format(noqa=""))
    assert [f.code for f in check_paths([project / "legacy"])] == ["AXF101"]


def test_per_file_ignores_setting_silences_codes_for_matching_files(project):
    write(project / "pyproject.toml", '[tool.axisflow.lint]\nper-file-ignores = {"legacy/*.py" = ["AXF101"]}\n')
    write(project / "legacy" / "flow.py", CONSTANT_FLOW.format(noqa=""))
    write(project / "flows" / "flow.py", CONSTANT_FLOW.format(noqa=""))
    assert [Path(f.path).parent.name for f in check_paths([project])] == ["flows"]


def test_select_setting_limits_rules_and_cli_select_overrides_it(project):
    write(project / "pyproject.toml", '[tool.axisflow.lint]\nselect = ["AXF2"]\n')
    write(project / "flow.py", CONSTANT_FLOW.format(noqa=""))
    assert check_paths([project]) == []
    assert [f.code for f in check_paths([project], select=["AXF101"])] == ["AXF101"]


def test_project_packages_setting_drives_the_script_import_rule(project):
    script = """\
        # /// script
        # dependencies = []
        # ///
        import mypkg.seams
        """
    write(project / "flow.py", script)
    assert check_paths([project]) == []
    write(project / "pyproject.toml", '[tool.axisflow.lint]\nproject-packages = ["mypkg"]\n')
    assert [f.code for f in check_paths([project])] == ["AXF501"]


def test_repository_lint_settings_are_valid():
    settings = load_settings(REPO)
    assert isinstance(settings, Settings)
    assert "components" in settings.project_packages


def test_lint_package_passes_its_own_linter():
    assert check_paths([REPO / "lint"]) == []


def test_repository_walk_does_not_pick_up_the_fixtures():
    assert not any("fixtures" in f.path for f in check_paths([REPO / "tests" / "lint"]))
