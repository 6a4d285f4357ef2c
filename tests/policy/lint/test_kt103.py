"""KT103 configmap-values-logged: like KT101, for config maps, as a warning."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding
from kubetrail.policy.lint.rules.kt103_configmap_values_logged import ConfigmapValuesLogged
from kubetrail.policy.lint.runner import lint_bytes, lint_file

HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"  # the first rule is on line 4
BASELINE = Path(__file__).resolve().parents[3] / "src/kubetrail/data/policies/baseline.yaml"


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


# Checked by reading each policy:
# - docs example, rules[5] (line 43): kube-system config maps at Request (writes logged);
# - Falco, rules[6] (line 52) the same, and rules[7] (line 61): other config maps at
#   RequestResponse;
# - OpenShift AllRequestBodies, rules[3] (line 40): the RequestResponse catch-all;
# - OpenShift WriteRequestBodies, rules[3] (line 40): writes at RequestResponse;
# - EKS logs only `aws-auth` in full (named: not reported), the other config maps at Metadata;
#   GKE, kubespray and OpenShift Default log config maps at Metadata; RKE2 logs nothing.
CORPUS: dict[str, list[tuple[int, int]]] = {
    "eks-best-practices.yaml": [],
    "falco-k8saudit.yaml": [(6, 52), (7, 61)],
    "gce-gke-configure-helper.yaml": [],
    "k8s-docs-example.yaml": [(5, 43)],
    "kubespray-default.yaml": [],
    "openshift-allrequestbodies.yaml": [(3, 40)],
    "openshift-default.yaml": [],
    "openshift-writerequestbodies.yaml": [(3, 40)],
    "rke2-default.yaml": [],
}


@pytest.mark.parametrize(("name", "expected"), CORPUS.items(), ids=CORPUS.keys())
def test_corpus(corpus: Path, name: str, expected: list[tuple[int, int]]) -> None:
    findings = lint_file(str(corpus / "policies" / name), rules=[ConfigmapValuesLogged])
    assert [(f.rule, f.location.line) for f in findings] == expected


def test_baseline() -> None:
    assert lint_file(str(BASELINE), rules=[ConfigmapValuesLogged]) == []
