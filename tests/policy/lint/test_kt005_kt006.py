"""KT005 shadowed-rule and KT006 never-matches: certain findings only."""

from __future__ import annotations

import textwrap

import pytest

from kubetrail.policy.evaluate import reference_decide
from kubetrail.policy.lint.base import Finding
from kubetrail.policy.lint.rules.kt005_shadowed_rule import ShadowedRule, covers
from kubetrail.policy.lint.rules.kt006_never_matches import NeverMatches
from kubetrail.policy.lint.runner import lint_bytes
from kubetrail.policy.load import parse_policy

HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"


def lint(rules: str, rule: type) -> list[Finding]:
    return lint_bytes((HEAD + textwrap.dedent(rules)).encode(), source="p.yaml", rules=[rule])


SHADOWED = [
    (
        "broad-group-before-specific",
        """\
        - level: Metadata
          resources: [{group: rbac.authorization.k8s.io}]
        - level: RequestResponse
          verbs: [create]
          resources: [{group: rbac.authorization.k8s.io, resources: [clusterrolebindings]}]
        """,
    ),
    ("catch-all-first", "- level: None\n- level: Metadata\n  verbs: [get]\n"),
    (
        "pods-star-covers-exec",
        """\
        - level: Metadata
          resources: [{resources: ["pods/*"]}]
        - level: Request
          resources: [{resources: [pods/exec, pods]}]
        """,
    ),
    (
        "star-sub-covers-named-sub",
        """\
        - level: None
          resources: [{group: apps, resources: ["*/scale"]}]
        - level: Request
          resources: [{group: apps, resources: [deployments/scale]}]
        """,
    ),
    (
        "url-prefix-covers-longer-prefix",
        """\
        - level: None
          nonResourceURLs: ["/healthz*"]
        - level: Metadata
          nonResourceURLs: ["/healthz/etcd", "/healthz/ping*"]
        """,
    ),
    (
        "any-group-covers-a-group",
        """\
        - level: Metadata
          resources: [{group: "*", resources: [secrets]}]
        - level: Request
          namespaces: [default]
          resources: [{resources: [secrets], resourceNames: [a]}]
        """,
    ),
]


@pytest.mark.parametrize("rules", [c[1] for c in SHADOWED], ids=[c[0] for c in SHADOWED])
def test_shadowed(rules: str) -> None:
    (finding,) = lint(rules, ShadowedRule)
    assert finding.code == "KT005"
    assert finding.rule == 1
    lines = textwrap.dedent(rules).splitlines()
    second = [n for n, line in enumerate(lines) if line.startswith("- ")][1]
    assert finding.location.line == second + 4  # after the three header lines
    assert "rules[1] is never reached: rules[0] (line 4)" in finding.message


NOT_SHADOWED = [
    ("narrower-first", "- level: Metadata\n  verbs: [get]\n- level: None\n"),
    (
        "different-groups",
        "- level: None\n  resources: [{group: apps}]\n- level: Metadata\n  resources: [{}]\n",
    ),
    (
        "pods-does-not-cover-exec",
        "- level: None\n  resources: [{resources: [pods]}]\n"
        "- level: Metadata\n  resources: [{resources: [pods/exec]}]\n",
    ),
    (
        "group-rule-does-not-cover-anonymous",
        "- level: None\n  userGroups: [system:authenticated]\n- level: Metadata\n",
    ),
    (
        "names-narrow-the-earlier-rule",
        "- level: None\n  resources: [{resources: [configmaps], resourceNames: [a]}]\n"
        "- level: Metadata\n  resources: [{resources: [configmaps]}]\n",
    ),
    (
        "url-rule-vs-resource-rule",
        '- level: None\n  nonResourceURLs: ["*"]\n- level: Metadata\n  namespaces: [a]\n',
    ),
    (
        "union-of-two-is-not-claimed",
        "- level: None\n  verbs: [get]\n- level: None\n  verbs: [list]\n"
        "- level: Metadata\n  verbs: [get, list]\n",
    ),
]


@pytest.mark.parametrize("rules", [c[1] for c in NOT_SHADOWED], ids=[c[0] for c in NOT_SHADOWED])
def test_not_shadowed(rules: str) -> None:
    assert lint(rules, ShadowedRule) == []


@pytest.mark.parametrize("rules", [c[1] for c in SHADOWED], ids=[c[0] for c in SHADOWED])
def test_covers_is_sound_on_the_examples(rules: str) -> None:
    """Where covers() says so, every request the later rule matches goes to the earlier."""
    policy = parse_policy(HEAD + textwrap.dedent(rules)).policy
    assert covers(policy.rules[0], policy.rules[1])
    from kubetrail.model.policy import Policy

    from ..test_evaluate_properties import vocabulary

    vocab = vocabulary(policy)
    import itertools

    from kubetrail.model.attributes import RequestAttributes

    for verb, res, subres, group, rr, path in itertools.product(
        vocab["verb"],
        vocab["resource"],
        vocab["subresource"],
        vocab["api_group"],
        [True, False],
        vocab["path"],
    ):
        attrs = RequestAttributes(
            user="alice",
            groups=("system:authenticated",),
            verb=verb,
            api_group=group,
            resource=res,
            subresource=subres,
            resource_request=rr,
            path=path,
            namespace="default",
            name="a",
        )
        if reference_decide(Policy(rules=[policy.rules[1]]), attrs).rule == 0:
            assert reference_decide(Policy(rules=[policy.rules[0]]), attrs).rule == 0


NEVER = [
    ("star-slash-star", '- level: Metadata\n  resources: [{resources: ["*/*"]}]\n', "*/*"),
    ("upper-case-verbs", "- level: Metadata\n  verbs: [GET, LIST]\n", "lower-case"),
    (
        "resource-verbs-on-urls",
        '- level: Metadata\n  verbs: [list, watch]\n  nonResourceURLs: ["/metrics"]\n',
        "non-resource request",
    ),
    (
        "http-verbs-on-resources",
        "- level: Metadata\n  verbs: [post, put]\n  resources: [{resources: [pods]}]\n",
        "resource request",
    ),
]


@pytest.mark.parametrize(("rules", "text"), [c[1:] for c in NEVER], ids=[c[0] for c in NEVER])
def test_never_matches(rules: str, text: str) -> None:
    (finding,) = lint(rules, NeverMatches)
    assert finding.code == "KT006"
    assert finding.rule == 0
    assert finding.location.line == 4
    assert text in finding.message


def test_partly_dead_rule_names_the_dead_parts() -> None:
    findings = lint(
        '- level: Metadata\n  verbs: [get, LIST]\n  resources: [{resources: [pods, "*/*"]}]\n',
        NeverMatches,
    )
    assert [f.location.line for f in findings] == [5, 6]
    assert 'verb "LIST"' in findings[0].message
    assert findings[0].hint == 'write "list"'
    assert '"*/*"' in findings[1].message


def test_dead_rules_are_not_also_reported_as_shadowed() -> None:
    assert lint("- level: None\n- level: Metadata\n  verbs: [GET]\n", ShadowedRule) == []


from hypothesis import given, settings  # noqa: E402

from kubetrail.model.policy import Policy, PolicyRule  # noqa: E402

from ..test_evaluate_properties import SETTINGS, policy_and_requests  # noqa: E402


@SETTINGS
@given(policy_and_requests())
def test_covers_is_sound(case: tuple[Policy, list[object]]) -> None:
    policy, requests = case
    rules: list[PolicyRule] = policy.rules
    for wide in rules:
        for narrow in rules:
            if wide is narrow or not covers(wide, narrow):
                continue
            for attrs in requests:
                if reference_decide(Policy(rules=[narrow]), attrs).rule == 0:  # type: ignore[arg-type]
                    assert reference_decide(Policy(rules=[wide]), attrs).rule == 0  # type: ignore[arg-type]


from hypothesis import strategies as st  # noqa: E402

from kubetrail.model.policy import GroupResources  # noqa: E402

from ..test_evaluate_properties import (  # noqa: E402
    URL_SPECS,
    satisfying,
    sub,
    vocabulary,
)

light_entries = st.builds(
    GroupResources,
    group=st.sampled_from(["", "apps", "*"]),
    resources=st.lists(
        st.sampled_from(["pods", "pods/*", "pods/log", "*", "*/log", "secrets", "a/b"]),
        min_size=1,
        max_size=2,
    ),
    resource_names=st.sampled_from([[], [], ["web"]]),
)
LIGHT_KINDS = {
    "resources": st.builds(
        PolicyRule,
        level=st.just("None"),
        resources=st.lists(light_entries, min_size=1, max_size=2),
        namespaces=st.sampled_from([[], [], ["default"], ["", "default"]]),
    ),
    "urls": st.builds(
        PolicyRule,
        level=st.just("None"),
        non_resource_urls=st.lists(st.sampled_from(URL_SPECS), min_size=1, max_size=2),
    ),
    "verbs": st.builds(PolicyRule, level=st.just("None"), verbs=sub(["get", "list", "create"])),
}


@st.composite
def pairs_and_requests(draw: st.DrawFn) -> tuple[PolicyRule, PolicyRule, list[object]]:
    kind = draw(st.sampled_from(sorted(LIGHT_KINDS)))
    other = draw(st.sampled_from([kind, kind, *sorted(LIGHT_KINDS)]))
    wide, narrow = draw(LIGHT_KINDS[kind]), draw(LIGHT_KINDS[other])
    vocab = vocabulary(Policy(rules=[wide, narrow]))
    requests = []
    for _ in range(8):
        fields = {f: draw(st.sampled_from(v)) for f, v in vocab.items()}
        fields.update(draw(satisfying(narrow)))
        from kubetrail.model.attributes import RequestAttributes

        requests.append(RequestAttributes(**fields))  # type: ignore[arg-type]
    return wide, narrow, requests


@settings(max_examples=600, deadline=None)
@given(pairs_and_requests())
def test_covers_is_sound_on_selector_light_pairs(
    case: tuple[PolicyRule, PolicyRule, list[object]],
) -> None:
    wide, narrow, requests = case
    if not covers(wide, narrow):
        return
    for attrs in requests:
        if reference_decide(Policy(rules=[narrow]), attrs).rule == 0:  # type: ignore[arg-type]
            assert reference_decide(Policy(rules=[wide]), attrs).rule == 0  # type: ignore[arg-type]
