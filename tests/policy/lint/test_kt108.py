"""KT108 logs-nothing."""

from __future__ import annotations

import textwrap

import pytest

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding
from kubetrail.policy.lint.rules.kt108_logs_nothing import LogsNothing
from kubetrail.policy.lint.runner import lint_bytes


def lint(text: str) -> list[Finding]:
    return lint_bytes(textwrap.dedent(text).encode(), source="p.yaml", rules=[LogsNothing])


OK = {
    "metadata-catch-all": """\
        apiVersion: audit.k8s.io/v1
        kind: Policy
        rules:
        - level: None
        - level: Metadata
        """,
    "one-logging-rule": """\
        apiVersion: audit.k8s.io/v1
        kind: Policy
        rules:
        - level: None
          nonResourceURLs: ["/healthz*"]
        - level: Request
          verbs: [create]
        """,
    "invalid-policy-is-kt001": """\
        apiVersion: audit.k8s.io/v1
        kind: Policy
        rules:
        - level: Nothing
        """,
}


@pytest.mark.parametrize("text", OK.values(), ids=OK.keys())
def test_no_finding(text: str) -> None:
    assert lint(text) == []


def test_single_none_rule_like_rke2() -> None:
    (finding,) = lint(
        """\
        apiVersion: audit.k8s.io/v1
        kind: Policy
        metadata: {}
        rules:
        - level: None
        """
    )
    assert finding.code == "KT108"
    assert finding.name == "logs-nothing"
    assert finding.severity is Severity.ERROR
    assert finding.rule is None
    assert (finding.location.line, finding.location.column) == (4, 1)  # the `rules:` key
    assert finding.message == "the only rule has level None: no request is ever logged"
    assert finding.hint == "add `- level: Metadata` as the last rule"


def test_several_none_rules() -> None:
    (finding,) = lint(
        """\
        apiVersion: audit.k8s.io/v1
        kind: Policy
        omitStages: [RequestReceived]
        rules:
          - level: None
            users: [alice]
          - level: None
        """
    )
    assert finding.location.line == 4
    assert finding.message.startswith("all 2 rules have level None")


def test_suppressed_on_the_rules_line() -> None:
    text = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:  # kubetrail: ignore[KT108]\n"
    assert lint(text + "- level: None\n") == []
