"""Every fixture produces exactly the findings written next to its lines."""

import re
from collections import Counter
from pathlib import Path

import pytest

from lint import check_paths

FIXTURES = Path(__file__).parent / "fixtures"
EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>AXF\d{3}(?:\s*,\s*AXF\d{3})*)")
# The corpus states ground truth, not the linter's exact output: test_lint_corpus.py scores it.
FIXTURE_FILES = sorted(p for p in FIXTURES.rglob("*.py") if "corpus" not in p.relative_to(FIXTURES).parts)


def expected_findings(path: Path) -> Counter:
    """(line, code) pairs from the ``# expect: CODE[, CODE]`` comments of a fixture."""
    expected: Counter = Counter()
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        match = EXPECT.search(text)
        if match:
            for code in match.group("codes").split(","):
                expected[(number, code.strip())] += 1
    return expected


def test_fixtures_exist_for_the_parametrized_test():
    assert len(FIXTURE_FILES) >= 20


@pytest.mark.parametrize("fixture", FIXTURE_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_findings_match_inline_expectations(fixture):
    actual = Counter((f.line, f.code) for f in check_paths([fixture]))
    assert actual == expected_findings(fixture)


@pytest.mark.parametrize(
    "fixture",
    [p for p in FIXTURE_FILES if "_clean" in p.name],
    ids=lambda p: str(p.relative_to(FIXTURES)),
)
def test_clean_fixture_has_no_expectations_and_no_findings(fixture):
    assert not expected_findings(fixture)
    assert check_paths([fixture]) == []
