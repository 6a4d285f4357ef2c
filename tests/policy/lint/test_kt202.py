"""KT202 managed-fields-kept."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding
from kubetrail.policy.lint.rules.kt202_managed_fields_kept import ManagedFieldsKept
from kubetrail.policy.lint.runner import lint_bytes, lint_file

HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"  # the first rule is on line 4
BASELINE = Path(__file__).resolve().parents[3] / "src/kubetrail/data/policies/baseline.yaml"


def lint(text: str) -> list[Finding]:
    return lint_bytes(textwrap.dedent(text).encode(), source="p.yaml", rules=[ManagedFieldsKept])


OK = {
    "policy-level": """\
        apiVersion: audit.k8s.io/v1
        kind: Policy
        omitManagedFields: true
        rules:
        - level: RequestResponse
        """,
    "metadata-only": HEAD + "- level: None\n  verbs: [get]\n- level: Metadata\n",
    "reads-at-request-have-no-body": HEAD + "- level: Request\n  verbs: [get, list, watch]\n",
    "patch-and-delete-bodies": HEAD
    + "- level: Request\n  verbs: [patch, delete, deletecollection]\n",
    "watch-responses-are-not-logged": HEAD + "- level: RequestResponse\n  verbs: [watch]\n",
    "non-resource-urls": HEAD + '- level: RequestResponse\n  nonResourceURLs: ["/logs*"]\n',
    "rule-level-true": HEAD + "- level: RequestResponse\n  omitManagedFields: true\n",
    "rule-level-false-is-deliberate": """\
        apiVersion: audit.k8s.io/v1
        kind: Policy
        omitManagedFields: true
        rules:
        - level: RequestResponse
          omitManagedFields: false
        """,
}


@pytest.mark.parametrize("text", OK.values(), ids=OK.keys())
def test_no_finding(text: str) -> None:
    assert lint(text) == []


def test_one_rule() -> None:
    (finding,) = lint(HEAD + "- level: None\n  verbs: [watch]\n- level: Request\n")
    assert finding.code == "KT202"
    assert finding.name == "managed-fields-kept"
    assert finding.severity is Severity.WARNING
    assert (finding.rule, finding.location.line) == (1, 6)
    assert finding.message == (
        "this rule logs objects with their managedFields: omitManagedFields is not set"
    )
    assert finding.hint == "set `omitManagedFields: true` at the policy level"


def test_reported_once_at_the_first_rule() -> None:
    findings = lint(
        HEAD
        + """\
- level: RequestResponse
  omitManagedFields: true
  resources: [{group: rbac.authorization.k8s.io}]
- level: Request
  verbs: [update, patch]
  resources: [{group: "", resources: [nodes/status]}]
- level: RequestResponse
  resources: [{group: apps}]
- level: Metadata
"""
    )
    assert [(f.rule, f.location.line) for f in findings] == [(1, 7)]
    assert findings[0].message.startswith("2 rules (this is the first) log objects")


# Checked by reading each policy (none sets omitManagedFields except OpenShift, which sets it
# at the policy level):
# - EKS: rules[0] (aws-auth, RequestResponse), [9], [10] (status updates at Request), [13]
#   (serviceaccounts/token at Request), [15] (RequestResponse) = 5; [11] (deletecollection)
#   and [14] (reads at Request) log no object;
# - Falco: rules[0], [1], [7] (RequestResponse), [6], [9] (Request) = 5;
# - GKE: rules[10], [11] (status updates at Request), [15] (RequestResponse) = 3;
# - docs example: rules[0] (RequestResponse), [5], [7] (Request) = 3;
# - kubespray: rules[11] (RequestResponse) = 1; its Request rule only has reads.
CORPUS: dict[str, list[tuple[int, int, str]]] = {
    "eks-best-practices.yaml": [(0, 8, "5 rules")],
    "falco-k8saudit.yaml": [(0, 9, "5 rules")],
    "gce-gke-configure-helper.yaml": [(10, 83, "3 rules")],
    "k8s-docs-example.yaml": [(0, 8, "3 rules")],
    "kubespray-default.yaml": [(11, 103, "this rule")],
    "openshift-allrequestbodies.yaml": [],
    "openshift-default.yaml": [],
    "openshift-writerequestbodies.yaml": [],
    "rke2-default.yaml": [],
}


@pytest.mark.parametrize(("name", "expected"), CORPUS.items(), ids=CORPUS.keys())
def test_corpus(corpus: Path, name: str, expected: list[tuple[int, int, str]]) -> None:
    findings = lint_file(str(corpus / "policies" / name), rules=[ManagedFieldsKept])
    assert len(findings) == len(expected)
    for finding, (rule, line, text) in zip(findings, expected, strict=True):
        assert (finding.rule, finding.location.line) == (rule, line)
        assert finding.message.startswith(text)


def test_baseline() -> None:
    assert lint_file(str(BASELINE), rules=[ManagedFieldsKept]) == []
