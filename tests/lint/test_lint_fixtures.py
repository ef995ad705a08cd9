"""Every fixture produces exactly the findings written next to its lines."""

import re
from collections import Counter
from pathlib import Path

import pytest

from lint import check_paths

FIXTURES = Path(__file__).parent / "fixtures"
# `# expect: AXF101` or, to pin the severity too, `# expect: AXF101[warning]`.
_ITEM = r"AXF\d{3}(?:\[(?:error|warning|info)\])?"
EXPECT = re.compile(rf"#\s*expect:\s*(?P<codes>{_ITEM}(?:\s*,\s*{_ITEM})*)")
# The corpus states ground truth, not the linter's exact output: test_lint_corpus.py scores it.
FIXTURE_FILES = sorted(p for p in FIXTURES.rglob("*.py") if "corpus" not in p.relative_to(FIXTURES).parts)


def expected_findings(path: Path) -> Counter:
    """(line, code) pairs from the ``# expect: CODE[, CODE]`` comments of a fixture."""
    expected: Counter = Counter()
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        match = EXPECT.search(text)
        if match:
            for item in match.group("codes").split(","):
                expected[(number, item.strip().partition("[")[0])] += 1
    return expected


def expected_severities(path: Path) -> dict[tuple[int, str], str]:
    """(line, code) -> severity for the expectations that pin one (``AXF101[warning]``)."""
    pinned = {}
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        match = EXPECT.search(text)
        if match:
            for item in match.group("codes").split(","):
                code, _, severity = item.strip().partition("[")
                if severity:
                    pinned[(number, code)] = severity.rstrip("]")
    return pinned


def test_fixtures_exist_for_the_parametrized_test():
    assert len(FIXTURE_FILES) >= 20


@pytest.mark.parametrize("fixture", FIXTURE_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_findings_match_inline_expectations(fixture):
    findings = check_paths([fixture])
    actual = Counter((f.line, f.code) for f in findings)
    assert actual == expected_findings(fixture)
    pinned = expected_severities(fixture)
    assert {(f.line, f.code): f.severity for f in findings if (f.line, f.code) in pinned} == pinned


def test_fixtures_pin_severities_of_every_kind():
    kinds = {severity for fixture in FIXTURE_FILES for severity in expected_severities(fixture).values()}
    assert kinds == {"error", "warning", "info"}


@pytest.mark.parametrize(
    "fixture",
    [p for p in FIXTURE_FILES if "_clean" in p.name],
    ids=lambda p: str(p.relative_to(FIXTURES)),
)
def test_clean_fixture_has_no_expectations_and_no_findings(fixture):
    assert not expected_findings(fixture)
    assert check_paths([fixture]) == []
