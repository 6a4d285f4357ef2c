"""Upstream kube-apiserver policy checker tests, run against kubetrail's evaluator.

The table in ``data/checker_cases.json`` is a port, as data, of k8s.io/apiserver
``pkg/audit/policy/checker_test.go`` (TestChecker, TestCheckerPolicyOmitStages with their shared
``testAuditLevel`` helper, TestUnionStages and TestOmitManagedFields); its ``source`` and ``notes``
keys say where every part comes from. Each case is checked against both the compiled
:class:`Evaluator` and :func:`reference_decide` (the plain transliteration of ``checker.go``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from kubetrail.model.attributes import RequestAttributes
from kubetrail.model.policy import Level, Policy, Stage
from kubetrail.policy.evaluate import Evaluator, reference_decide

DATA = Path(__file__).parent / "data" / "checker_cases.json"
TABLE: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))
ATTRS: dict[str, dict[str, Any]] = TABLE["attrs"]
RULES: dict[str, dict[str, Any]] = TABLE["rules"]
CASES: list[dict[str, Any]] = TABLE["cases"]


def _case_id(case: dict[str, Any]) -> str:
    func = case["func"] + (f"/{case['subtest']}" if "subtest" in case else "")
    return f"{func}:{case['request']}:{'+'.join(case['rules'])}"


def _attributes(name: str) -> RequestAttributes:
    a = ATTRS[name]
    return RequestAttributes(
        user=a["user"],
        groups=tuple(a["groups"]),
        verb=a["verb"],
        namespace=a["namespace"],
        api_group=a["apiGroup"],
        api_version=a["apiVersion"],
        resource=a["resource"],
        subresource=a["subresource"],
        name=a["name"],
        path=a["path"],
        resource_request=a["resourceRequest"],
    )


def _policy(case: dict[str, Any]) -> Policy:
    document = {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "rules": [RULES[name] for name in case["rules"]],
        "omitStages": case["policyOmitStages"],
        "omitManagedFields": case["policyOmitManagedFields"],
    }
    return msgspec.convert(document, Policy)


def test_table_is_consistent() -> None:
    """Every case names defined requests and rules, and the ids are unique."""
    assert TABLE["source"]["file"].endswith("pkg/audit/policy/checker_test.go")
    for case in CASES:
        assert case["request"] in ATTRS, case
        assert case["rules"], case
        assert all(name in RULES for name in case["rules"]), case
        assert case["rule"] is None or 0 <= case["rule"] < len(case["rules"]), case
    ids = [_case_id(case) for case in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("engine", ["Evaluator", "reference_decide"])
@pytest.mark.parametrize("case", CASES, ids=[_case_id(case) for case in CASES])
def test_upstream_case(case: dict[str, Any], engine: str) -> None:
    policy = _policy(case)
    attrs = _attributes(case["request"])
    if engine == "Evaluator":
        decision = Evaluator(policy).evaluate(attrs)
    else:
        decision = reference_decide(policy, attrs)

    assert decision.level == Level(case["level"])
    assert decision.omit_stages == frozenset(Stage(s) for s in case["omitStages"])
    assert decision.omit_managed_fields is case["omitManagedFields"]
    assert decision.rule == case["rule"]
