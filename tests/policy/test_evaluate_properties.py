"""Property tests: the compiled, cached :class:`Evaluator` equals the plain first-match
:func:`reference_decide` (a transliteration of checker.go) on random policies and requests,
and both obey the laws of first-match evaluation."""

from __future__ import annotations

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubetrail.model.attributes import RequestAttributes
from kubetrail.model.policy import ALL_LEVELS, ALL_STAGES, GroupResources, Level, Policy, PolicyRule
from kubetrail.policy.evaluate import Evaluator, reference_decide

# Small alphabets so that random rules and requests actually meet.
USERS = ["alice", "bob", "system:kube-proxy", ""]
GROUPS = ["dev", "system:authenticated", "system:masters"]
VERBS = ["get", "list", "watch", "create", "delete", "post", "GET"]
NAMESPACES = ["", "default", "kube-system"]
API_GROUPS = ["", "apps", "rbac.authorization.k8s.io"]
RESOURCES = ["pods", "secrets", "deployments", "a/b"]
SUBRESOURCES = ["", "", "log", "exec", "status", "c"]
NAMES = ["", "web", "admin"]
PATHS = ["/healthz", "/healthz/etcd", "/api", "/apis/apps", "/metrics", "", "/logs"]
PATTERNS = [
    "pods",
    "pods/log",
    "pods/*",
    "*",
    "*/log",
    "*/*",
    "secrets",
    "deployments/*",
    "*/status",
    "a/b/c",
    "a/b",
    "",
]
URL_SPECS = ["*", "/healthz", "/healthz*", "/api*", "/logs/*", "/metrics", "**", "/"]


def sub(items: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(items), max_size=3)


group_resources = st.builds(
    GroupResources,
    group=st.sampled_from([*API_GROUPS, "*", "extensions"]),
    resources=sub(PATTERNS),
    resource_names=sub(NAMES),
)


def rule_strategy(*, resources: bool, urls: bool) -> st.SearchStrategy[PolicyRule]:
    return st.builds(
        PolicyRule,
        level=st.sampled_from(list(ALL_LEVELS)),
        users=sub(USERS),
        user_groups=sub(GROUPS),
        verbs=sub(VERBS),
        resources=st.lists(group_resources, max_size=2) if resources else st.just([]),
        namespaces=sub(NAMESPACES) if resources else st.just([]),
        non_resource_urls=sub(URL_SPECS) if urls else st.just([]),
        omit_stages=sub(list(ALL_STAGES)),
        omit_managed_fields=st.sampled_from([None, True, False]),
    )


# Resource rules, non-resource rules, and (rarely; validation refuses them) rules with both.
rules = st.one_of(
    rule_strategy(resources=True, urls=False),
    rule_strategy(resources=False, urls=True),
    rule_strategy(resources=True, urls=True),
)

policies = st.builds(
    Policy,
    rules=st.lists(rules, max_size=6),
    omit_stages=sub(list(ALL_STAGES)),
    omit_managed_fields=st.booleans(),
)

requests = st.builds(
    RequestAttributes,
    user=st.sampled_from([None, *USERS]),
    groups=st.lists(st.sampled_from(GROUPS), max_size=2).map(tuple),
    verb=st.sampled_from(VERBS),
    namespace=st.sampled_from(NAMESPACES),
    api_group=st.sampled_from(API_GROUPS),
    resource=st.sampled_from(RESOURCES),
    subresource=st.sampled_from(SUBRESOURCES),
    name=st.sampled_from(NAMES),
    path=st.sampled_from(PATHS),
    resource_request=st.booleans(),
)


def vocabulary(policy: Policy) -> dict[str, list[object]]:
    """Values for each request field: the alphabets plus everything the policy mentions."""
    rules = policy.rules
    entries = [gr for r in rules for gr in r.resources]
    patterns = [p for gr in entries for p in gr.resources]
    return {
        "user": [None, *USERS, *(u for r in rules for u in r.users)],
        "groups": [(), ("dev",), *(((g, "x"),) for r in rules for g in r.user_groups)],
        "verb": [*VERBS, *(v for r in rules for v in r.verbs)],
        "namespace": [*NAMESPACES, *(n for r in rules for n in r.namespaces)],
        "api_group": [*API_GROUPS, *(gr.group for gr in entries)],
        "resource": [*RESOURCES, *(p.split("/")[0] for p in patterns)],
        "subresource": [*SUBRESOURCES, *(p.split("/", 1)[1] for p in patterns if "/" in p)],
        "name": [*NAMES, *(n for gr in entries for n in gr.resource_names)],
        "path": [*PATHS, *(u.rstrip("*") + "x" for r in rules for u in r.non_resource_urls)],
        "resource_request": [True, False],
    }


@st.composite
def satisfying(draw: st.DrawFn, rule: PolicyRule) -> dict[str, object]:
    """Request fields that meet ``rule``'s selectors (so variants probe its boundaries)."""
    out: dict[str, object] = {}
    if rule.users:
        out["user"] = draw(st.sampled_from(rule.users))
    if rule.user_groups:
        out["groups"] = (draw(st.sampled_from(rule.user_groups)),)
    if rule.verbs:
        out["verb"] = draw(st.sampled_from(rule.verbs))
    if rule.namespaces:
        out["namespace"] = draw(st.sampled_from(rule.namespaces))
    if rule.resources or rule.namespaces:
        out["resource_request"] = True
    if rule.resources:
        gr = draw(st.sampled_from(rule.resources))
        if gr.group != "*":
            out["api_group"] = gr.group
        if gr.resources:
            pattern = draw(st.sampled_from(gr.resources))
            resource, _, subresource = pattern.partition("/")
            out["resource"] = draw(st.sampled_from(RESOURCES)) if resource == "*" else resource
            out["subresource"] = (
                draw(st.sampled_from(SUBRESOURCES)) if subresource == "*" else subresource
            )
        if gr.resource_names:
            out["name"] = draw(st.sampled_from(gr.resource_names))
    elif rule.non_resource_urls:
        out["resource_request"] = False
        spec = draw(st.sampled_from(rule.non_resource_urls))
        out["path"] = spec.rstrip("*") + draw(st.sampled_from(["", "x", "/y"]))
    return out


@st.composite
def policy_and_requests(draw: st.DrawFn) -> tuple[Policy, list[RequestAttributes]]:
    """A policy and families of requests built from its own vocabulary.

    Each family is a request and variants of it that differ in one field. Cache bugs show up
    as two requests that share a reduced key but deserve different decisions; near-identical
    requests that actually meet the rules make such pairs common.
    """
    policy = draw(policies)
    vocab = vocabulary(policy)
    out: list[RequestAttributes] = []
    for _ in range(draw(st.integers(1, 4))):
        fields = {field: draw(st.sampled_from(values)) for field, values in vocab.items()}
        if policy.rules:  # aim at one rule: take each constrained field from that rule
            fields.update(draw(satisfying(draw(st.sampled_from(policy.rules)))))
        base = RequestAttributes(**fields)  # type: ignore[arg-type]
        out.append(base)
        for _ in range(draw(st.integers(1, 10))):
            field = draw(st.sampled_from(sorted(vocab)))
            value = draw(st.sampled_from(vocab[field]))
            out.append(msgspec.structs.replace(base, **{field: value}))
    return policy, out


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(policy_and_requests())
def test_compiled_evaluator_equals_reference(case: tuple[Policy, list[RequestAttributes]]) -> None:
    policy, reqs = case
    evaluator = Evaluator(policy)
    uncached = Evaluator(policy, cache_size=0)
    for attrs in reqs + reqs:  # twice: the second pass is answered from the cache
        expected = reference_decide(policy, attrs)
        assert evaluator.evaluate(attrs) == expected
        assert uncached.evaluate(attrs) == expected


@SETTINGS
@given(policies, rules, requests)
def test_appending_a_rule_never_changes_an_earlier_match(
    policy: Policy, extra: PolicyRule, attrs: RequestAttributes
) -> None:
    before = reference_decide(policy, attrs)
    longer = Policy(
        rules=[*policy.rules, extra],
        omit_stages=policy.omit_stages,
        omit_managed_fields=policy.omit_managed_fields,
    )
    after = Evaluator(longer).evaluate(attrs)
    if before.rule is not None:
        assert after == before
    else:
        assert after.rule in (None, len(policy.rules))


@SETTINGS
@given(requests)
def test_no_rules_means_none(attrs: RequestAttributes) -> None:
    decision = Evaluator(Policy(rules=[])).evaluate(attrs)
    assert decision.level is Level.NONE
    assert decision.rule is None


@SETTINGS
@given(st.sampled_from(list(ALL_LEVELS)), requests)
def test_a_rule_without_selectors_matches_everything(level: str, attrs: RequestAttributes) -> None:
    decision = Evaluator(Policy(rules=[PolicyRule(level=level)])).evaluate(attrs)
    assert decision.rule == 0
    assert decision.level == level


@SETTINGS
@given(requests)
def test_plain_resource_never_matches_a_subresource(attrs: RequestAttributes) -> None:
    rule = PolicyRule(level="Metadata", resources=[GroupResources(resources=[attrs.resource])])
    decision = Evaluator(Policy(rules=[rule])).evaluate(attrs)
    if attrs.subresource:
        assert decision.rule is None


@SETTINGS
@given(requests)
def test_star_matches_every_resource_request(attrs: RequestAttributes) -> None:
    rule = PolicyRule(
        level="Metadata", resources=[GroupResources(group=attrs.api_group, resources=["*"])]
    )
    decision = Evaluator(Policy(rules=[rule])).evaluate(attrs)
    assert (decision.rule == 0) is attrs.resource_request


@SETTINGS
@given(policies, requests)
def test_effective_omit_stages_contain_the_policy_wide_ones(
    policy: Policy, attrs: RequestAttributes
) -> None:
    decision = Evaluator(policy).evaluate(attrs)
    assert set(policy.omit_stages) <= decision.omit_stages
