"""KT108 logs-nothing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding
from kubetrail.policy.lint.rules.kt108_logs_nothing import LogsNothing
from kubetrail.policy.lint.runner import lint_bytes, lint_file

BASELINE = Path(__file__).resolve().parents[3] / "src/kubetrail/data/policies/baseline.yaml"


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


# Checked by reading each policy: only RKE2's default (`- level: None`) logs nothing; its
# `rules:` key is on line 10.
CORPUS: dict[str, list[int]] = {
    "eks-best-practices.yaml": [],
    "falco-k8saudit.yaml": [],
    "gce-gke-configure-helper.yaml": [],
    "k8s-docs-example.yaml": [],
    "kubespray-default.yaml": [],
    "openshift-allrequestbodies.yaml": [],
    "openshift-default.yaml": [],
    "openshift-writerequestbodies.yaml": [],
    "rke2-default.yaml": [10],
}


@pytest.mark.parametrize(("name", "expected"), CORPUS.items(), ids=CORPUS.keys())
def test_corpus(corpus: Path, name: str, expected: list[int]) -> None:
    findings = lint_file(str(corpus / "policies" / name), rules=[LogsNothing])
    assert [f.location.line for f in findings] == expected


def test_baseline() -> None:
    assert lint_file(str(BASELINE), rules=[LogsNothing]) == []
