"""Named cases for the semantics a naive matcher gets wrong (audit-policy-spec.md §11), and
the 1.36 ``group: "*"`` wildcard, which upstream's checker_test.go table (ported in
test_checker_upstream.py) covers only in a version we could not read."""

from __future__ import annotations

import pytest

from kubetrail.model.policy import Level, Policy
from kubetrail.policy.evaluate import Evaluator, reference_decide
from kubetrail.policy.load import parse_policy
from kubetrail.policy.resolve import from_http

HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"


def decide(rules: str, method: str, url: str, user: str = "alice", groups: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    policy: Policy = parse_policy(HEAD + rules).policy
    attrs = from_http(method, url, user=user, groups=groups)
    decision = Evaluator(policy).evaluate(attrs)
    assert decision == reference_decide(policy, attrs)
    return decision


CASES = [
    # (id, rules, method, url, expected rule index or None)
    (
        "any-group-star-resource",
        '- level: Metadata\n  resources: [{group: "*", resources: [secrets]}]\n',
        "GET",
        "/api/v1/namespaces/d/secrets",
        0,
    ),
    (
        "any-group-covers-named-groups",
        '- level: Metadata\n  resources: [{group: "*", resources: [deployments]}]\n',
        "GET",
        "/apis/apps/v1/namespaces/d/deployments",
        0,
    ),
    (
        "any-group-no-resources-covers-subresources",
        '- level: Metadata\n  resources: [{group: "*"}]\n',
        "POST",
        "/api/v1/namespaces/d/pods/x/exec",
        0,
    ),
    (
        "core-group-is-not-any-group",
        "- level: Metadata\n  resources: [{resources: [deployments]}]\n",
        "GET",
        "/apis/apps/v1/namespaces/d/deployments",
        None,
    ),
    (
        "extensions-does-not-cover-apps",
        "- level: Metadata\n  resources: [{group: extensions, resources: [deployments]}]\n",
        "GET",
        "/apis/apps/v1/namespaces/d/deployments",
        None,
    ),
    (
        "get-rule-misses-kubectl-get-secrets",
        "- level: Metadata\n  verbs: [get]\n  resources: [{resources: [secrets]}]\n",
        "GET",
        "/api/v1/namespaces/d/secrets",
        None,
    ),
    (
        "get-rule-misses-watch",
        "- level: Metadata\n  verbs: [get]\n  resources: [{resources: [secrets]}]\n",
        "GET",
        "/api/v1/namespaces/d/secrets?fieldSelector=metadata.name%3Dx&watch=true",
        None,
    ),
    (
        "pods-misses-exec",
        "- level: Metadata\n  resources: [{resources: [pods]}]\n",
        "POST",
        "/api/v1/namespaces/d/pods/x/exec",
        None,
    ),
    (
        "pods-star-matches-pods-itself",
        '- level: Metadata\n  resources: [{resources: ["pods/*"]}]\n',
        "GET",
        "/api/v1/namespaces/d/pods/x",
        0,
    ),
    (
        "star-slash-scale-needs-a-subresource",
        '- level: Metadata\n  resources: [{group: apps, resources: ["*/scale"]}]\n',
        "GET",
        "/apis/apps/v1/namespaces/d/deployments/x",
        None,
    ),
    (
        "star-slash-star-matches-nothing-real",
        '- level: Metadata\n  resources: [{resources: ["*/*"]}]\n',
        "GET",
        "/api/v1/namespaces/d/pods/x/log",
        None,
    ),
    (
        "websocket-exec-is-get-not-create",
        "- level: Metadata\n  verbs: [create]\n  resources: [{resources: [pods/exec]}]\n",
        "GET",
        "/api/v1/namespaces/d/pods/x/exec?command=sh",
        None,
    ),
    (
        "resource-names-never-match-list",
        "- level: Metadata\n  resources: [{resources: [configmaps], resourceNames: [c]}]\n",
        "GET",
        "/api/v1/namespaces/d/configmaps",
        None,
    ),
    (
        "resource-names-match-field-selector-watch",
        "- level: Metadata\n  resources: [{resources: [configmaps], resourceNames: [c]}]\n",
        "GET",
        "/api/v1/namespaces/d/configmaps?watch=1&fieldSelector=metadata.name%3Dc",
        0,
    ),
    (
        "empty-namespace-is-cluster-scope",
        '- level: Metadata\n  namespaces: [""]\n',
        "GET",
        "/api/v1/nodes/n1",
        0,
    ),
    (
        "empty-namespace-is-all-namespace-list",
        '- level: Metadata\n  namespaces: [""]\n',
        "GET",
        "/api/v1/pods",
        0,
    ),
    (
        "namespace-object-is-its-namespace",
        "- level: Metadata\n  namespaces: [foo]\n",
        "DELETE",
        "/api/v1/namespaces/foo",
        0,
    ),
    (
        "namespaces-make-a-resource-rule",
        "- level: Metadata\n  namespaces: [foo]\n",
        "GET",
        "/healthz",
        None,
    ),
    (
        "url-rules-never-match-resources",
        '- level: Metadata\n  nonResourceURLs: ["/api*"]\n',
        "GET",
        "/api/v1/pods",
        None,
    ),
    (
        "url-prefix-is-a-raw-string-prefix",
        '- level: Metadata\n  nonResourceURLs: ["/api*"]\n',
        "GET",
        "/apis/apps",
        0,
    ),
    (
        "url-prefix-needs-the-slash",
        '- level: Metadata\n  nonResourceURLs: ["/logs/*"]\n',
        "GET",
        "/logs",
        None,
    ),
    (
        "upper-case-verb-never-matches",
        "- level: Metadata\n  verbs: [GET]\n",
        "GET",
        "/healthz",
        None,
    ),
    (
        "non-resource-verb-is-lower-case-method",
        "- level: Metadata\n  verbs: [head]\n",
        "HEAD",
        "/healthz",
        0,
    ),
    ("no-selectors-match-everything", "- level: Request\n", "PUT", "/whatever", 0),
]


@pytest.mark.parametrize(
    ("rules", "method", "url", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_semantics(rules: str, method: str, url: str, expected: int | None) -> None:
    assert decide(rules, method, url).rule == expected


def test_no_match_is_none_with_policy_stages_only() -> None:
    policy = parse_policy(
        "apiVersion: audit.k8s.io/v1\nomitStages: [Panic]\nomitManagedFields: true\n"
        "rules:\n- level: Metadata\n  users: [x]\n  omitStages: [RequestReceived]\n"
    ).policy
    decision = Evaluator(policy).evaluate(from_http("GET", "/healthz", user="alice"))
    assert decision.level is Level.NONE
    assert decision.omit_stages == {"Panic"}
    assert decision.omit_managed_fields is True


def test_rule_false_overrides_policy_true_and_stages_union() -> None:
    policy = parse_policy(
        "apiVersion: audit.k8s.io/v1\nomitStages: [Panic]\nomitManagedFields: true\n"
        "rules:\n- level: Metadata\n  omitManagedFields: false\n  omitStages: [RequestReceived]\n"
    ).policy
    decision = Evaluator(policy).evaluate(from_http("GET", "/healthz", user="alice"))
    assert decision.omit_managed_fields is False
    assert decision.omit_stages == {"Panic", "RequestReceived"}


def test_no_user_object_fails_user_and_group_rules() -> None:
    rules = "- level: Metadata\n  userGroups: [system:unauthenticated]\n- level: Request\n"
    assert decide(rules, "GET", "/healthz", user="").rule == 1
