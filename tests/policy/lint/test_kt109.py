"""KT109 broad-identity-unlogged: broad None rules, not the usual narrow noise filters."""

from __future__ import annotations

import textwrap

import pytest

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding
from kubetrail.policy.lint.rules.kt109_broad_identity_unlogged import BroadIdentityUnlogged
from kubetrail.policy.lint.runner import lint_bytes

HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"  # the first rule is on line 4


def lint(rules: str) -> list[Finding]:
    data = (HEAD + textwrap.dedent(rules) + "- level: Metadata\n").encode()
    return lint_bytes(data, source="p.yaml", rules=[BroadIdentityUnlogged])


OK = {
    "nodes-reading-nodes": """\
        - level: None
          userGroups: ["system:nodes"]
          verbs: [get]
          resources: [{group: "", resources: [nodes, nodes/status]}]
        """,
    "kube-proxy-watches": """\
        - level: None
          users: ["system:kube-proxy"]
          verbs: [watch]
          resources: [{group: "", resources: [endpoints, services]}]
        """,
    "authenticated-discovery-urls": """\
        - level: None
          userGroups: ["system:authenticated", "system:unauthenticated"]
          nonResourceURLs: ["/api*", "/version"]
        """,
    "kube-system-specific-resources": """\
        - level: None
          namespaces: [kube-system]
          verbs: [get, update]
          resources: [{group: "", resources: [endpoints]}]
        """,
    "authenticated-reads-only": """\
        - level: None
          userGroups: ["system:authenticated"]
          verbs: [get, list, watch]
        """,
    "broad-group-logged": """\
        - level: Metadata
          userGroups: ["system:authenticated"]
        """,
    "named-component-user": """\
        - level: None
          users: ["system:kube-controller-manager"]
          verbs: [get, list]
          resources: [{group: metrics.k8s.io}]
        """,
    "everyone-one-whole-group": """\
        - level: None
          resources: [{group: coordination.k8s.io}]
        """,
    "named-objects-only": """\
        - level: None
          userGroups: ["system:serviceaccounts"]
          resources: [{group: "", resources: ["*"], resourceNames: [leader]}]
        """,
    "users-narrow-the-groups": """\
        - level: None
          users: [alice]
          userGroups: ["system:authenticated"]
        """,
}


@pytest.mark.parametrize("rules", OK.values(), ids=OK.keys())
def test_no_finding(rules: str) -> None:
    assert lint(rules) == []


def test_catch_all_none_is_not_about_an_identity() -> None:
    data = (HEAD + "- level: Metadata\n  verbs: [create]\n- level: None\n").encode()
    assert lint_bytes(data, source="p.yaml", rules=[BroadIdentityUnlogged]) == []


def test_authenticated_users_unlogged() -> None:
    (finding,) = lint(
        """\
        - level: None
          userGroups: ["system:authenticated"]
        """
    )
    assert finding.code == "KT109"
    assert finding.name == "broad-identity-unlogged"
    assert finding.severity is Severity.WARNING
    assert (finding.rule, finding.location.line) == (0, 4)
    assert finding.message == (
        "requests by group `system:authenticated` (every authenticated user) to every "
        "resource and URL are not logged"
    )
    assert finding.hint is not None


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            '- level: None\n  userGroups: ["system:serviceaccounts:kube-system"]\n',
            "requests by group `system:serviceaccounts:kube-system` (every service account of "
            "namespace kube-system) to every resource and URL are not logged",
        ),
        (
            "- level: None\n  namespaces: [kube-system]\n",
            "requests by everyone to every resource in namespace `kube-system` are not logged",
        ),
        (
            '- level: None\n  users: ["system:serviceaccount:monitoring:prometheus"]\n',
            "requests by user `system:serviceaccount:monitoring:prometheus` to every resource "
            "and URL are not logged",
        ),
        (
            '- level: None\n  userGroups: ["system:nodes"]\n  resources: [{group: ""}]\n',
            "requests by group `system:nodes` (every node) to every resource of API group "
            "`core` are not logged",
        ),
        (
            '- level: None\n  userGroups: ["system:authenticated"]\n  verbs: [create, delete]\n',
            "create, delete requests by group `system:authenticated` (every authenticated user) "
            "to every resource and URL are not logged",
        ),
        (
            '- level: None\n  userGroups: ["system:serviceaccounts"]\n'
            '  resources: [{group: apps, resources: ["*"]}]\n',
            "requests by group `system:serviceaccounts` (every service account) to every "
            "resource of API group `apps` are not logged",
        ),
        (
            '- level: None\n  userGroups: ["system:unauthenticated"]\n'
            '  namespaces: ["", kube-system]\n',
            "requests by group `system:unauthenticated` (every anonymous request) to every "
            'resource in `""` (cluster scope), `kube-system` are not logged',
        ),
        (
            '- level: None\n  userGroups: ["system:masters"]\n',
            "requests by group `system:masters` (every cluster admin) to every resource and URL "
            "are not logged",
        ),
    ],
)
def test_broad_exemptions(rules: str, message: str) -> None:
    (finding,) = lint(rules)
    assert (finding.rule, finding.location.line) == (0, 4)
    assert finding.message == message


def test_each_rule_once() -> None:
    findings = lint(
        """\
        - level: None
          userGroups: ["system:nodes", "system:authenticated"]
        - level: None
          namespaces: [kube-system]
          resources: [{group: ""}, {group: apps}]
        """
    )
    assert [(f.rule, f.location.line) for f in findings] == [(0, 4), (1, 6)]
    assert "`system:nodes` (every node)" in findings[0].message
    assert "every resource of API group `core`, `apps` in namespace `kube-system`" in (
        findings[1].message
    )
