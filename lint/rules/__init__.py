"""The rule registry.

Codes are stable and grouped by hundreds by theme:

- ``AXF0xx`` the file itself (it must parse);
- ``AXF1xx`` configuration is authoritative (no hard-coded hyperparameters);
- ``AXF2xx`` paths are anchored to the file, not the working directory;
- ``AXF3xx`` foreach fan-out grain and shape;
- ``AXF4xx`` joins (what they merge, the order they read);
- ``AXF5xx`` script mode (PEP 723) imports;
- ``AXF6xx`` randomness is seeded and local.

A retired code is never reused.
"""

from __future__ import annotations

from collections.abc import Iterable

from lint.findings import LintError
from lint.rules.axf001_syntax_error import SyntaxErrorRule
from lint.rules.axf101_module_constant import ModuleConstantRule
from lint.rules.axf201_cwd_relative_path import CwdRelativePathRule
from lint.rules.axf301_per_config_foreach import PerConfigForeachRule
from lint.rules.axf302_unordered_foreach import UnorderedForeachRule
from lint.rules.axf401_model_merge_artifacts import ModelMergeArtifactsRule
from lint.rules.axf402_join_arrival_order import JoinArrivalOrderRule
from lint.rules.axf403_join_tie_order import JoinTieOrderRule
from lint.rules.axf501_script_project_import import ScriptProjectImportRule
from lint.rules.axf601_global_random_state import GlobalRandomStateRule
from lint.rules.axf602_unseeded_generator import UnseededGeneratorRule
from lint.rules.axf603_run_identity_seed import RunIdentitySeedRule
from lint.rules.axf604_sklearn_random_state import SklearnRandomStateRule
from lint.rules.axf605_salted_hash_seed import SaltedHashSeedRule
from lint.rules.base import Rule

__all__ = ["RULES", "Rule", "SYNTAX_ERROR", "expand_codes", "rule_for"]

SYNTAX_ERROR = SyntaxErrorRule()

RULES: tuple[Rule, ...] = (
    SYNTAX_ERROR,
    ModuleConstantRule(),
    CwdRelativePathRule(),
    PerConfigForeachRule(),
    UnorderedForeachRule(),
    ModelMergeArtifactsRule(),
    JoinArrivalOrderRule(),
    JoinTieOrderRule(),
    ScriptProjectImportRule(),
    GlobalRandomStateRule(),
    UnseededGeneratorRule(),
    RunIdentitySeedRule(),
    SklearnRandomStateRule(),
    SaltedHashSeedRule(),
)


def rule_for(code: str) -> Rule:
    """The rule with this exact code (case-insensitive), or LintError naming the code."""
    wanted = code.strip().upper()
    for rule in RULES:
        if rule.code == wanted:
            return rule
    raise LintError(f"unknown rule code {code!r} (see --list-rules)")


def expand_codes(patterns: Iterable[str], where: str) -> frozenset[str]:
    """Expand codes and prefixes (``AXF1``, ``AXF``) into the set of matching rule codes.

    A pattern that matches no rule raises LintError naming it and ``where``
    it came from (a CLI option or a settings key).
    """
    codes: set[str] = set()
    for pattern in patterns:
        wanted = pattern.strip().upper()
        if not wanted:
            continue
        matched = {rule.code for rule in RULES if rule.code.startswith(wanted)}
        if not matched:
            raise LintError(f"unknown rule code {pattern.strip()!r} in {where} (see --list-rules)")
        codes |= matched
    return frozenset(codes)
