"""The command line: ``python -m lint`` in a subprocess and ``lint.cli.main`` in process."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lint import RULES
from lint.cli import main

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>AXF\d{3}) (?P<message>.+)$")

BAD_FLOW = """\
from metaflow import FlowSpec, step

EPOCHS = 10{noqa}


class Flow(FlowSpec):
    @step
    def start(self):
        self.epochs = EPOCHS
        self.seeds = {{0, 1}}
        self.next(self.branch, foreach="seeds")

    @step
    def branch(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""
CLEAN = "def add(a, b):\n    return a + b\n"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "lint", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


@pytest.fixture
def project(tmp_path):
    """A project with its own settings, one flow with two findings and one clean file."""
    (tmp_path / "pyproject.toml").write_text("[tool.axisflow.lint]\n")
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "flow.py").write_text(BAD_FLOW.format(noqa=""))
    (tmp_path / "clean.py").write_text(CLEAN)
    return tmp_path


def test_cli_clean_file_exits_0_with_no_output(project):
    result = run("clean.py", cwd=project)
    assert (result.returncode, result.stdout) == (0, "")


def test_cli_findings_exit_1_in_path_line_col_code_message_format(project):
    result = run("flows", "clean.py", cwd=project)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    assert [(m["path"], m["line"], m["col"], m["code"]) for m in parsed] == [
        (os.path.join("flows", "flow.py"), "3", "1", "AXF101"),
        (os.path.join("flows", "flow.py"), "10", "22", "AXF302"),
    ]
    assert "2 finding(s)" in result.stderr


def test_cli_output_is_sorted_by_path_then_line(project):
    (project / "a.py").write_text(BAD_FLOW.format(noqa=""))
    result = run(".", cwd=project)
    keys = [(m["path"], int(m["line"])) for m in map(LINE.match, result.stdout.splitlines())]
    assert keys == sorted(keys)
    assert keys[0][0] == "a.py"


def test_cli_json_format_lists_findings_with_all_fields(project):
    result = run("--format", "json", "flows", cwd=project)
    assert result.returncode == 1
    rows = json.loads(result.stdout)
    assert [row["code"] for row in rows] == ["AXF101", "AXF302"]
    assert set(rows[0]) == {"path", "line", "col", "code", "name", "message", "severity"}
    assert rows[0]["name"] == "module-constant"


def test_cli_json_format_prints_an_empty_list_when_clean(project):
    result = run("--format", "json", "clean.py", cwd=project)
    assert (result.returncode, json.loads(result.stdout)) == (0, [])


def test_cli_missing_path_exits_2_naming_it(project):
    result = run("nowhere.py", cwd=project)
    assert result.returncode == 2
    assert result.stderr.strip() == "python -m lint: error: path not found: nowhere.py"


def test_cli_no_paths_exits_2(project):
    result = run(cwd=project)
    assert result.returncode == 2
    assert "no paths given" in result.stderr


def test_cli_unknown_select_code_exits_2_with_one_line(project):
    result = run("--select", "AXF999", "clean.py", cwd=project)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "'AXF999' in --select" in result.stderr


def test_cli_unknown_option_exits_2_with_one_line(project):
    result = run("--frobnicate", "clean.py", cwd=project)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--frobnicate" in result.stderr


def test_cli_unknown_settings_key_exits_2_naming_the_key(project):
    (project / "pyproject.toml").write_text("[tool.axisflow.lint]\nselectt = ['AXF1']\n")
    result = run("clean.py", cwd=project)
    assert result.returncode == 2
    assert "unknown setting 'selectt'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_invalid_pyproject_exits_2(project):
    (project / "pyproject.toml").write_text("[tool.axisflow.lint\n")
    result = run("clean.py", cwd=project)
    assert result.returncode == 2
    assert "pyproject.toml" in result.stderr


def test_cli_syntax_error_file_is_a_finding_exit_1(project):
    (project / "broken.py").write_text("class Flow(FlowSpec)\n    pass\n")
    result = run("broken.py", cwd=project)
    assert result.returncode == 1
    assert result.stdout.startswith("broken.py:1:")
    assert "AXF001 [error] cannot parse file" in result.stdout


def test_cli_list_rules_prints_every_code(project):
    result = run("--list-rules", cwd=project)
    assert result.returncode == 0
    listed = [line.split()[0] for line in result.stdout.splitlines()]
    assert listed == [rule.code for rule in RULES]


def test_cli_list_rules_json_has_code_name_summary(project):
    result = run("--list-rules", "--format", "json", cwd=project)
    rows = json.loads(result.stdout)
    assert [row["name"] for row in rows] == [rule.name for rule in RULES]
    assert {row["code"]: row["severity"] for row in rows}["AXF101"] == "warning"


def test_cli_explain_prints_the_rule_documentation(project):
    result = run("--explain", "AXF401", cwd=project)
    assert result.returncode == 0
    assert result.stdout.startswith("AXF401 (model-merge-artifacts)")
    for section in ("What it does", "Why is this bad?", "Example", "Use instead"):
        assert section in result.stdout


def test_cli_explain_unknown_code_exits_2(project):
    result = run("--explain", "AXF999", cwd=project)
    assert result.returncode == 2
    assert "AXF999" in result.stderr


def test_cli_select_prefix_keeps_only_matching_codes(project):
    result = run("--select", "AXF3", "flows", cwd=project)
    assert [m["code"] for m in map(LINE.match, result.stdout.splitlines())] == ["AXF302"]


def test_cli_ignore_list_drops_codes_and_can_make_the_run_clean(project):
    result = run("--ignore", "AXF101,AXF302", "flows", cwd=project)
    assert (result.returncode, result.stdout) == (0, "")


def test_cli_noqa_with_code_silences_but_bare_noqa_does_not(project):
    flow = project / "flows" / "flow.py"
    flow.write_text(BAD_FLOW.format(noqa="  # noqa: AXF101"))
    codes = [m["code"] for m in map(LINE.match, run("flows", cwd=project).stdout.splitlines())]
    assert codes == ["AXF302"]
    flow.write_text(BAD_FLOW.format(noqa="  # noqa"))
    codes = [m["code"] for m in map(LINE.match, run("flows", cwd=project).stdout.splitlines())]
    assert codes == ["AXF101", "AXF302"]


def test_cli_reads_settings_from_pyproject_above_the_first_path(project):
    (project / "pyproject.toml").write_text(
        '[tool.axisflow.lint]\nper-file-ignores = {"flows/*" = ["AXF101"]}\n'
    )
    result = run(str(project / "flows"), cwd=REPO)
    assert [m["code"] for m in map(LINE.match, result.stdout.splitlines())] == ["AXF302"]


def test_main_returns_exit_codes_without_raising(project, capsys, monkeypatch):
    monkeypatch.chdir(project)
    assert main(["clean.py"]) == 0
    assert main(["flows"]) == 1
    assert main(["missing.py"]) == 2
    captured = capsys.readouterr()
    assert "flows/flow.py:3:1: AXF101" in captured.out.replace(os.sep, "/")
    assert "axisflow lint: error: path not found: missing.py" in captured.err


def test_main_json_format_writes_parseable_output(project, capsys, monkeypatch):
    monkeypatch.chdir(project)
    assert main(["--format", "json", "flows"]) == 1
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_main_help_returns_0(capsys):
    assert main(["--help"]) == 0
    assert "--explain" in capsys.readouterr().out


def test_main_internal_rule_error_exits_2(project, capsys, monkeypatch):
    from lint.rules.axf101_module_constant import ModuleConstantRule

    def explode(self, module):
        raise RuntimeError("boom")

    monkeypatch.setattr(ModuleConstantRule, "check", explode)
    monkeypatch.chdir(project)
    assert main(["flows"]) == 2
    assert "internal error: rule AXF101 failed" in capsys.readouterr().err


def test_cli_self_lint_of_the_lint_package_is_clean():
    result = run("lint", cwd=REPO)
    assert (result.returncode, result.stdout) == (0, "")


def test_cli_bad_fixture_through_the_cli_reports_every_inline_expectation():
    fixture = FIXTURES / "axf301_bad.py"
    result = run(str(fixture), cwd=REPO)
    reported = [int(m["line"]) for m in map(LINE.match, result.stdout.splitlines())]
    expected = [
        number
        for number, text in enumerate(fixture.read_text().splitlines(), start=1)
        if "# expect: AXF301" in text
    ]
    assert reported == expected


def test_cli_writes_nothing_to_the_working_tree(project):
    before = sorted(p.name for p in project.rglob("*"))
    run(".", cwd=project)
    assert sorted(p.name for p in project.rglob("*")) == before



def test_cli_summary_counts_findings_by_severity(project):
    result = run("flows", cwd=project)
    assert result.returncode == 1
    # The flow's module constant in a step is a warning; its foreach over a set is an error.
    assert "2 finding(s) (1 error, 1 warning) in 1 file(s)" in result.stderr
    assert "the run gate blocks on errors only" in result.stderr
