"""KT201 request-received-kept."""

from __future__ import annotations

import textwrap

import pytest

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding
from kubetrail.policy.lint.rules.kt201_request_received_kept import RequestReceivedKept
from kubetrail.policy.lint.runner import lint_bytes


def lint(text: str) -> list[Finding]:
    return lint_bytes(textwrap.dedent(text).encode(), source="p.yaml", rules=[RequestReceivedKept])


OK = {
    "policy-level": """\
        apiVersion: audit.k8s.io/v1
        kind: Policy
        omitStages: [ResponseStarted, RequestReceived]
        rules:
        - level: Metadata
        """,
    "every-logging-rule": """\
        apiVersion: audit.k8s.io/v1
        kind: Policy
        rules:
        - level: None
          nonResourceURLs: ["/healthz*"]
        - level: Request
          verbs: [create]
          omitStages: [RequestReceived]
        - level: Metadata
          omitStages: [RequestReceived]
        """,
    "logs-nothing": """\
        apiVersion: audit.k8s.io/v1
        kind: Policy
        rules:
        - level: None
        """,
}


@pytest.mark.parametrize("text", OK.values(), ids=OK.keys())
def test_no_finding(text: str) -> None:
    assert lint(text) == []


def test_no_omit_stages_at_all() -> None:
    (finding,) = lint(
        """\
        apiVersion: audit.k8s.io/v1
        kind: Policy
        rules:
        - level: None
          nonResourceURLs: ["/healthz*"]
        - level: Metadata
        """
    )
    assert finding.code == "KT201"
    assert finding.name == "request-received-kept"
    assert finding.severity is Severity.WARNING
    assert finding.rule is None
    assert finding.location.line == 3  # the `rules:` key
    assert finding.message == (
        "RequestReceived is not omitted by 1 logging rule (rules[1]): each request it logs "
        "writes two events"
    )
    assert finding.hint == "add RequestReceived to the policy-level `omitStages`"


def test_policy_omit_stages_without_request_received() -> None:
    (finding,) = lint(
        """\
        apiVersion: audit.k8s.io/v1
        kind: Policy
        omitStages:
        - ResponseStarted
        rules:
        - level: Request
          verbs: [create]
          omitStages: [RequestReceived]
        - level: Metadata
        """
    )
    assert finding.location.line == 3  # the policy's `omitStages:` key
    assert "by 1 logging rule (rules[1])" in finding.message


def test_many_rules_are_abbreviated() -> None:
    rules = "".join(f"- level: Metadata\n  verbs: [v{i}]\n" for i in range(7))
    (finding,) = lint("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n" + rules)
    assert finding.message.startswith(
        "RequestReceived is not omitted by 7 logging rules (rules[0], rules[1], rules[2], "
        "rules[3], rules[4] and 2 more): each request they log writes two events"
    )
