"""KT202 managed-fields-kept."""

from __future__ import annotations

import textwrap

import pytest

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding
from kubetrail.policy.lint.rules.kt202_managed_fields_kept import ManagedFieldsKept
from kubetrail.policy.lint.runner import lint_bytes

HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"  # the first rule is on line 4


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
