"""Every lint rule keeps its contract: a unique stable code, a kebab-case name, and the
four documentation sections with content (shown by ``policy lint --explain``)."""

from __future__ import annotations

import re

import pytest

from kubetrail.policy.lint.base import SECTIONS
from kubetrail.policy.lint.registry import BY_CODE, RULES, get_rule


def test_at_least_fifteen_rules_with_unique_codes_and_names() -> None:
    assert len(RULES) >= 15
    assert len({r.code for r in RULES}) == len(RULES)
    assert len({r.name for r in RULES}) == len(RULES)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_contract(rule: type) -> None:
    assert re.fullmatch(r"KT[0-2]\d\d", rule.code)
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name)
    module = rule.__module__.rsplit(".", 1)[-1]
    assert module == f"{rule.code.lower()}_{rule.name.replace('-', '_')}"
    for section in SECTIONS:
        assert len(rule.section(section)) > 20, f"{rule.code}: section {section!r} is thin"
    assert "```yaml" in rule.section("Example")
    assert rule.summary().endswith(".")


def test_lookup_is_case_insensitive() -> None:
    assert get_rule("kt005") is BY_CODE["KT005"]
