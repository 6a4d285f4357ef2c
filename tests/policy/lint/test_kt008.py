"""KT008 unknown-resource: names a built-in group does not serve, and no other group does."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding
from kubetrail.policy.lint.rules.kt007_wrong_api_group import WrongApiGroup
from kubetrail.policy.lint.rules.kt008_unknown_resource import UnknownResource
from kubetrail.policy.lint.runner import lint_bytes
from kubetrail.policy.validate import KubeVersion

HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"


def lint(rules: str, version: str = "1.36") -> list[Finding]:
    data = HEAD + textwrap.dedent(rules)
    return lint_bytes(
        data.encode(),
        source="p.yaml",
        rules=[UnknownResource],
        kube_version=KubeVersion.parse(version),
    )


def entry(group: str, *patterns: str) -> str:
    listed = ", ".join(f'"{p}"' for p in patterns)
    return (
        "- level: None\n  users: [a]\n- level: Metadata\n"
        f'  resources: [{{group: "{group}", resources: [{listed}]}}]\n'
    )


OK = {
    "core-resources": entry("", "pods", "pods/exec", "pods/*", "*", "*/scale", "*/status"),
    "serviceaccount-token": entry("", "serviceaccounts/token", "namespaces/finalize"),
    "apps": entry("apps", "deployments/scale", "statefulsets", "*/status"),
    "any-group-is-not-judged": entry("*", "foo", "*/bar"),
    "crd-group-is-not-judged": entry("example.com", "foo", "pods/exec2"),
    "retired-group-is-kt007s": entry("extensions", "foo"),
    "wrong-group-is-kt007s": entry("", "deployments", "deployments/scale2"),
    "malformed-is-kt006s": entry("", "*/*", "pods/", "a/b/c", ""),
    "default-on-since-1.30": entry("admissionregistration.k8s.io", "validatingadmissionpolicies"),
}


@pytest.mark.parametrize("rules", OK.values(), ids=OK.keys())
def test_no_finding(rules: str) -> None:
    assert lint(rules) == []


# (rules, message part, hint part or None); each finding is at line 7, about rules[1].
ERRORS = {
    "typo": (
        entry("", "replicacontrollers"),
        'the core group "" serves no resource "replicacontrollers" in Kubernetes 1.36: '
        "it never matches",
        'did you mean "replicationcontrollers" in the core group ""?',
    ),
    "not-a-resource": (
        entry("", "container"),
        'serves no resource "container"',
        None,
    ),
    "kind-not-resource": (
        entry("authentication.k8s.io", "tokenrequests"),
        'group "authentication.k8s.io" serves no resource "tokenrequests"',
        'did you mean "serviceaccounts/token" in the core group ""?',
    ),
    "mis-cased": (
        entry("", "Pods"),
        'serves no resource "Pods"',
        'resource names are lower-case: "pods"',
    ),
    "singular-of-another-group": (
        entry("", "deployment"),
        'serves no resource "deployment"',
        'did you mean "deployments" in group "apps"?',
    ),
    "unknown-subresource": (
        entry("", "pods/exec2"),
        '"pods" has no subresource "exec2" in Kubernetes 1.36: "pods/exec2" never matches',
        'did you mean "pods/exec"?',
    ),
    "unknown-star-subresource": (
        entry("", "*/foo"),
        'no built-in resource has subresource "foo" in Kubernetes 1.36, so "*/foo" never matches',
        None,
    ),
    "removed-resource": (
        entry("policy", "podsecuritypolicies"),
        'group "policy" serves no resource "podsecuritypolicies" in Kubernetes 1.36 '
        "(only in 1.24): it never matches",
        None,
    ),
    "removed-subresource": (
        entry("networking.k8s.io", "networkpolicies/status"),
        '"networkpolicies" has no subresource "status" in Kubernetes 1.36 (only in 1.24-1.27)',
        None,
    ),
    "unknown-parent-of-subresource": (
        entry("", "podz/exec"),
        'serves no resource "podz" in Kubernetes 1.36: "podz/exec" never matches',
        'did you mean "pods" in the core group ""?',
    ),
}


@pytest.mark.parametrize("case", ERRORS.values(), ids=ERRORS.keys())
def test_finding(case: tuple[str, str, str | None]) -> None:
    rules, message, hint = case
    (finding,) = lint(rules)
    assert finding.code == "KT008"
    assert finding.name == "unknown-resource"
    assert finding.severity is Severity.WARNING
    assert finding.rule == 1
    assert finding.location.line == 7
    assert message in finding.message
    if hint is None:
        assert finding.hint is None
    else:
        assert finding.hint == hint


def test_not_yet_added_in_an_older_version() -> None:
    (finding,) = lint(entry("networking.k8s.io", "servicecidrs"), "1.28")
    assert finding.severity is Severity.WARNING
    assert '"servicecidrs" in Kubernetes 1.28 (only in 1.29+)' in finding.message


@pytest.mark.parametrize(
    ("group", "resource", "version"),
    [
        ("internal.apiserver.k8s.io", "storageversions", "1.36"),
        ("admissionregistration.k8s.io", "validatingadmissionpolicies", "1.29"),
        ("certificates.k8s.io", "clustertrustbundles/*", "1.36"),
    ],
)
def test_not_served_by_default_is_a_note(group: str, resource: str, version: str) -> None:
    (finding,) = lint(entry(group, resource), version)
    assert finding.code == "KT008"
    assert finding.severity is Severity.INFO
    assert finding.rule == 1
    assert finding.location.line == 7
    name = resource.partition("/")[0]
    assert f'"{name}" in group "{group}" is not served by default in Kubernetes {version}' in (
        finding.message
    )


def test_does_not_repeat_kt007() -> None:
    rules = entry("", "deployments", "replicasetz")
    both = lint_bytes(
        (HEAD + rules).encode(), source="p.yaml", rules=[WrongApiGroup, UnknownResource]
    )
    assert [(f.code, f.location.column) for f in both] == [("KT007", 39), ("KT008", 54)]


def test_block_style_lists_point_at_the_item() -> None:
    rules = """\
    - level: Metadata
      resources:
      - group: ""
        resources:
        - pods
        - secretz
    """
    (finding,) = lint(rules)
    assert (finding.rule, finding.location.line, finding.location.column) == (0, 9, 7)


def _blocks(title: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", UnknownResource.section(title), re.S)


def test_documented_example_and_fix() -> None:
    (example,) = _blocks("Example")
    (fix,) = _blocks("Fix")
    assert [f.code for f in lint(example)] == ["KT008", "KT008"]
    assert lint(fix) == []


@pytest.mark.parametrize(
    "name", ["openshift-allrequestbodies.yaml", "openshift-writerequestbodies.yaml"]
)
def test_openshift_tokenrequests(corpus: Path, name: str) -> None:
    """TokenRequest is served as serviceaccounts/token (which the same rule also lists)."""
    path = corpus / "policies" / name
    (finding,) = lint_bytes(path.read_bytes(), source=name, rules=[UnknownResource])
    assert (finding.rule, finding.location.line) == (2, 34)
    assert 'group "authentication.k8s.io" serves no resource "tokenrequests"' in finding.message
    assert finding.hint == 'did you mean "serviceaccounts/token" in the core group ""?'
