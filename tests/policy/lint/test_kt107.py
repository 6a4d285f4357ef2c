"""KT107 no-catch-all."""

from __future__ import annotations

import textwrap

import pytest

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding
from kubetrail.policy.lint.rules.kt107_no_catch_all import NoCatchAll, is_catch_all
from kubetrail.policy.lint.runner import lint_bytes
from kubetrail.policy.load import parse_policy

HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"  # the first rule is on line 4


def lint(rules: str) -> list[Finding]:
    data = (HEAD + textwrap.dedent(rules)).encode()
    return lint_bytes(data, source="p.yaml", rules=[NoCatchAll])


OK = {
    "metadata-catch-all": """\
        - level: None
          nonResourceURLs: ["/healthz*"]
        - level: Metadata
        """,
    "catch-all-with-stage-options": """\
        - level: RequestResponse
          resources: [{group: rbac.authorization.k8s.io}]
        - level: Metadata
          omitStages: [RequestReceived]
          omitManagedFields: true
        """,
    "logs-nothing-is-kt108": "- level: None\n- level: None\n  verbs: [get]\n",
    "rules-after-the-catch-all-are-kt005": """\
        - level: Metadata
        - level: Request
          verbs: [create]
        """,
    "empty-lists-are-absent": """\
        - level: Metadata
          users: []
          resources: []
        """,
}


@pytest.mark.parametrize("rules", OK.values(), ids=OK.keys())
def test_no_finding(rules: str) -> None:
    assert lint(rules) == []


def test_last_rule_is_not_a_catch_all() -> None:
    (finding,) = lint(
        """\
        - level: None
          users: ["system:kube-proxy"]
        - level: Metadata
          resources:
          - group: ""
          - group: apps
        """
    )
    assert finding.code == "KT107"
    assert finding.name == "no-catch-all"
    assert finding.severity is Severity.WARNING
    assert (finding.rule, finding.location.line) == (1, 6)
    assert finding.message.startswith("the policy has no catch-all rule")
    assert finding.hint == "add `- level: Metadata` at the end"


@pytest.mark.parametrize(
    "selector",
    [
        "users: [alice]",
        "userGroups: [system:authenticated]",
        "verbs: [get, list, watch, create, update, patch, delete]",
        'nonResourceURLs: ["*"]',
        'namespaces: [""]',
    ],
)
def test_any_selector_is_not_a_catch_all(selector: str) -> None:
    (finding,) = lint(f"- level: Metadata\n  {selector}\n")
    assert (finding.rule, finding.location.line) == (0, 4)


def test_catch_all_at_none() -> None:
    (finding,) = lint(
        """\
        - level: Metadata
          resources: [{group: ""}]
        - level: None
        """
    )
    assert (finding.rule, finding.location.line) == (1, 6)
    assert finding.message.startswith("the catch-all rule has level None")
    assert finding.hint == "change this rule to `- level: Metadata`"


def test_is_catch_all() -> None:
    policy = parse_policy(
        HEAD + "- level: None\n  omitStages: [RequestReceived]\n- level: None\n  verbs: [get]\n",
        source="p.yaml",
    ).policy
    assert policy is not None
    assert [is_catch_all(r) for r in policy.rules] == [True, False]
