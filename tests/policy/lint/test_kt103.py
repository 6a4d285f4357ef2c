"""KT103 configmap-values-logged: like KT101, for config maps, as a warning."""

from __future__ import annotations

import textwrap

import pytest

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding
from kubetrail.policy.lint.rules.kt103_configmap_values_logged import ConfigmapValuesLogged
from kubetrail.policy.lint.runner import lint_bytes

HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"  # the first rule is on line 4


def lint(rules: str) -> list[Finding]:
    data = (HEAD + textwrap.dedent(rules)).encode()
    return lint_bytes(data, source="p.yaml", rules=[ConfigmapValuesLogged])


OK = {
    "metadata-before-request-response": """\
        - level: Metadata
          resources: [{group: "", resources: [configmaps]}]
        - level: RequestResponse
        """,
    "named-config-map-in-full": """\
        - level: RequestResponse
          namespaces: [kube-system]
          verbs: [update, patch, delete]
          resources: [{group: "", resources: [configmaps], resourceNames: [aws-auth]}]
        - level: Metadata
        """,
    "reads-at-request-have-no-body": """\
        - level: Request
          verbs: [get, list, watch, delete]
        - level: Metadata
        """,
    "config-maps-dropped": """\
        - level: None
          resources: [{group: "", resources: [configmaps]}]
        - level: Request
        """,
}


@pytest.mark.parametrize("rules", OK.values(), ids=OK.keys())
def test_no_finding(rules: str) -> None:
    assert lint(rules) == []


def test_kube_system_writes_at_request() -> None:
    (finding,) = lint(
        """\
        - level: Request
          resources: [{group: "", resources: [configmaps]}]
          namespaces: [kube-system]
        - level: Metadata
        """
    )
    assert finding.code == "KT103"
    assert finding.name == "configmap-values-logged"
    assert finding.severity is Severity.WARNING
    assert (finding.rule, finding.location.line) == (0, 4)
    assert finding.message == (
        "`configmaps` create, update, patch logged at Request: "
        "config map values (often credentials) are written to the log"
    )
    assert finding.hint is not None
    assert "resourceNames" in finding.hint


def test_request_response_catch_all() -> None:
    findings = lint(
        """\
        - level: Metadata
          resources: [{group: "", resources: [secrets]}]
        - level: RequestResponse
        """
    )
    assert [(f.rule, f.location.line) for f in findings] == [(1, 6)]
    assert "`configmaps` get, list, create, update, patch, delete logged at RequestResponse" in (
        findings[0].message
    )


def test_write_verbs_at_request_response() -> None:
    (finding,) = lint(
        """\
        - level: RequestResponse
          verbs: [create, delete]
        - level: Metadata
        """
    )
    assert "`configmaps` create, delete logged at RequestResponse" in finding.message
