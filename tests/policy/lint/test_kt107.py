"""KT107 no-catch-all."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding
from kubetrail.policy.lint.rules.kt107_no_catch_all import NoCatchAll, is_catch_all
from kubetrail.policy.lint.runner import lint_bytes, lint_file
from kubetrail.policy.load import parse_policy

HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"  # the first rule is on line 4
BASELINE = Path(__file__).resolve().parents[3] / "src/kubetrail/data/policies/baseline.yaml"


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


# Checked by reading each policy: all end with a bare `- level: Metadata` (or, for OpenShift
# AllRequestBodies, `- level: RequestResponse`); RKE2's only rule is `- level: None`, which
# logs nothing (KT108, not KT107).
CORPUS: dict[str, list[tuple[int, int]]] = {
    "eks-best-practices.yaml": [],
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
def test_corpus(corpus: Path, name: str, expected: list[tuple[int, int]]) -> None:
    findings = lint_file(str(corpus / "policies" / name), rules=[NoCatchAll])
    assert [(f.rule, f.location.line) for f in findings] == expected


def test_baseline() -> None:
    assert lint_file(str(BASELINE), rules=[NoCatchAll]) == []
