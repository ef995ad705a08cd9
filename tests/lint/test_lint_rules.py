"""The rule registry: stable codes, names, documentation and fixture coverage."""

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import lint.rules
from lint import RULES, Rule, rule_for
from lint.rules import expand_codes
from lint.findings import LintError

FIXTURES = Path(__file__).parent / "fixtures"
EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>AXF\d{3}(?:\s*,\s*AXF\d{3})*)")
SECTIONS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead")


def fixture_codes(path: Path) -> set[str]:
    codes = set()
    for match in EXPECT.finditer(path.read_text()):
        codes.update(code.strip() for code in match.group("codes").split(","))
    return codes


def test_registry_codes_are_unique_and_well_formed():
    codes = [rule.code for rule in RULES]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"AXF\d{3}", code) for code in codes)


def test_registry_is_sorted_by_code():
    codes = [rule.code for rule in RULES]
    assert codes == sorted(codes)


def test_registry_names_are_unique_kebab_case():
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)+", name) for name in names)


def test_registry_lists_every_rule_module():
    modules = {
        info.name
        for info in pkgutil.iter_modules(lint.rules.__path__)
        if re.fullmatch(r"axf\d{3}_\w+", info.name)
    }
    registered = {type(rule).__module__.rsplit(".", 1)[-1] for rule in RULES}
    assert modules == registered


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_module_is_named_after_its_code_and_name(rule):
    module = type(rule).__module__.rsplit(".", 1)[-1]
    assert module.startswith(rule.code.lower() + "_")
    assert importlib.import_module(type(rule).__module__).__doc__


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_docstring_has_all_four_sections_in_order(rule):
    doc = type(rule).__doc__ or ""
    positions = [doc.find(section) for section in SECTIONS]
    assert all(position >= 0 for position in positions), positions
    assert positions == sorted(positions)
    assert "```python" in doc


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_has_one_line_summary_and_message(rule):
    assert isinstance(rule, Rule)
    assert rule.summary and "\n" not in rule.summary
    assert rule.message and "\n" not in rule.message


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_has_a_bad_and_a_clean_fixture(rule):
    prefix = rule.code.lower()
    mine = [p for p in FIXTURES.rglob("*.py") if p.name.startswith(prefix + "_")]
    bad = [p for p in mine if "_bad" in p.name and rule.code in fixture_codes(p)]
    clean = [p for p in mine if "_clean" in p.name and not fixture_codes(p)]
    assert bad, f"no bad fixture for {rule.code}"
    assert clean, f"no clean fixture for {rule.code}"


def test_rule_for_finds_codes_case_insensitively():
    assert rule_for("axf101").code == "AXF101"


def test_rule_for_unknown_code_raises_naming_it():
    with pytest.raises(LintError, match="AXF999"):
        rule_for("AXF999")


def test_expand_codes_accepts_prefixes():
    assert expand_codes(["AXF3"], "test") == {"AXF301", "AXF302"}
    assert expand_codes(["axf"], "test") == {rule.code for rule in RULES}


def test_expand_codes_rejects_unknown_code_naming_where():
    with pytest.raises(LintError, match=r"'AXF9' in --select"):
        expand_codes(["AXF9"], "--select")
