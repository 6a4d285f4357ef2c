"""The explanation is separate code from the evaluator; they must agree on every request."""

from __future__ import annotations

from hypothesis import given

from kubetrail.model.attributes import RequestAttributes
from kubetrail.model.policy import Level, Policy, Stage
from kubetrail.policy.evaluate import reference_decide
from kubetrail.policy.explain import explain, written_stages
from kubetrail.policy.load import LoadedPolicy, parse_policy
from kubetrail.policy.resolve import from_http
from kubetrail.policy.yamlio import YamlDocument

from .test_evaluate_properties import SETTINGS, policy_and_requests


def loaded(policy: Policy) -> LoadedPolicy:
    empty = YamlDocument(value=None, keys={}, values={}, duplicates=())
    return LoadedPolicy(policy=policy, source="p.yaml", warnings=(), document=empty)


@SETTINGS
@given(policy_and_requests())
def test_each_verdict_agrees_with_the_matcher(case: tuple[Policy, list[RequestAttributes]]) -> None:
    policy, reqs = case
    for attrs in reqs:
        ex = explain(loaded(policy), attrs)
        for verdict in ex.verdicts:
            single = Policy(rules=[policy.rules[verdict.index]])
            assert verdict.matched == (reference_decide(single, attrs).rule == 0), verdict
        assert ex.decision == reference_decide(policy, attrs)


def test_reasons_name_the_failing_selector() -> None:
    policy = parse_policy(
        "apiVersion: audit.k8s.io/v1\nrules:\n"
        "- level: Metadata\n  resources: [{resources: [pods]}]\n"
        "- level: Metadata\n  resources: [{resources: [configmaps], resourceNames: [c]}]\n"
        '- level: Metadata\n  namespaces: ["kube-system"]\n'
        "- level: Metadata\n  userGroups: [system:masters]\n"
    )
    ex = explain(policy, from_http("POST", "/api/v1/namespaces/d/pods/x/exec", user="u"))
    assert ex.verdicts[0].reason == (
        '"pods/exec" in group "" (core) matches none of ["pods"] ("pods" does not cover its '
        'subresource: add "pods/exec" or "pods/*")'
    )
    ex = explain(policy, from_http("GET", "/api/v1/namespaces/d/configmaps", user="u"))
    assert ex.verdicts[1].reason.startswith("the request has no name")
    assert ex.verdicts[2].reason == 'namespace "d" is not in namespaces ["kube-system"]'
    assert ex.verdicts[3].reason == 'none of the groups [] is in userGroups ["system:masters"]'
    assert ex.decision.level is Level.NONE
    assert ex.notes[-1].startswith("no rule matched")


def test_written_stages_for_long_running_requests() -> None:
    policy = parse_policy("apiVersion: audit.k8s.io/v1\nrules:\n- level: Metadata\n").policy
    ex = explain(loaded(policy), from_http("GET", "/api/v1/pods?watch=1", user="u"))
    assert ex.stages == (Stage.REQUEST_RECEIVED, Stage.RESPONSE_STARTED, Stage.RESPONSE_COMPLETE)
    ex = explain(loaded(policy), from_http("GET", "/api/v1/pods", user="u"))
    assert written_stages(ex.decision, ex.request) == (
        Stage.REQUEST_RECEIVED,
        Stage.RESPONSE_COMPLETE,
    )


def test_bodies_and_secret_notes() -> None:
    policy = parse_policy("apiVersion: audit.k8s.io/v1\nrules:\n- level: RequestResponse\n").policy
    ex = explain(loaded(policy), from_http("POST", "/api/v1/namespaces/d/secrets", user="u"))
    assert ex.request_body
    assert ex.response_body
    assert any("readable by anyone who can read the log" in n for n in ex.notes)
    ex = explain(loaded(policy), from_http("GET", "/api/v1/namespaces/d/secrets?watch=1", user="u"))
    assert not ex.request_body
    assert not ex.response_body
