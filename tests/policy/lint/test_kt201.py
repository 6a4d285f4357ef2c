"""KT201 request-received-kept."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding
from kubetrail.policy.lint.rules.kt201_request_received_kept import RequestReceivedKept
from kubetrail.policy.lint.runner import lint_bytes, lint_file

BASELINE = Path(__file__).resolve().parents[3] / "src/kubetrail/data/policies/baseline.yaml"


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


# Checked by reading each policy: EKS sets omitStages on every logging rule except rules[13]
# (`serviceaccounts/token` at Request, line 108) and has no policy-level omitStages, so the
# finding is at its `rules:` key (line 6). GKE and kubespray set it on every logging rule; the
# others set it at the policy level; RKE2 logs nothing.
CORPUS: dict[str, list[tuple[int, str]]] = {
    "eks-best-practices.yaml": [(6, "(rules[13])")],
    "falco-k8saudit.yaml": [],
    "gce-gke-configure-helper.yaml": [],
    "k8s-docs-example.yaml": [],
    "kubespray-default.yaml": [],
    "openshift-allrequestbodies.yaml": [],
    "openshift-default.yaml": [],
    "openshift-writerequestbodies.yaml": [],
    "rke2-default.yaml": [],
}


@pytest.mark.parametrize(("name", "expected"), CORPUS.items(), ids=CORPUS.keys())
def test_corpus(corpus: Path, name: str, expected: list[tuple[int, str]]) -> None:
    findings = lint_file(str(corpus / "policies" / name), rules=[RequestReceivedKept])
    assert len(findings) == len(expected)
    for finding, (line, text) in zip(findings, expected, strict=True):
        assert finding.location.line == line
        assert text in finding.message


def test_baseline() -> None:
    assert lint_file(str(BASELINE), rules=[RequestReceivedKept]) == []
