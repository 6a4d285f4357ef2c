"""Why a policy gives a request the level it does — rule by rule, for people.

For each rule, in order, the first selector that fails (in the order ``checker.go``'s
``ruleMatches`` checks them) or "matches"; then what the winning decision means for the log:
which stages are written and whether request and response bodies are recorded
(``pkg/audit/request.go``, ``pkg/endpoints/filters/audit.go``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec

from kubetrail.model.attributes import RequestAttributes
from kubetrail.model.policy import Level, PolicyRule, Stage
from kubetrail.policy.evaluate import (
    Decision,
    Evaluator,
    path_matches,
    reference_decide,
    resources_match,
)
from kubetrail.policy.load import LoadedPolicy

# kube-apiserver's long-running requests get a ResponseStarted stage
# (cmd/kube-apiserver: LongRunningRequestCheck with these verbs and subresources).
LONG_RUNNING_VERBS: Final = frozenset({"watch", "proxy"})
LONG_RUNNING_SUBRESOURCES: Final = frozenset({"attach", "exec", "proxy", "log", "portforward"})
# Verbs whose request carries a body that is logged as requestObject at Request level and up.
_BODY_VERBS: Final = frozenset({"create", "update", "patch", "delete", "deletecollection"})


def is_long_running(verb: str, subresource: str) -> bool:
    """kube-apiserver's long-running check: these requests also write ResponseStarted."""
    return verb in LONG_RUNNING_VERBS or subresource in LONG_RUNNING_SUBRESOURCES


class RuleVerdict(msgspec.Struct, frozen=True):
    """One rule's verdict: ``matched``, and why (or why not)."""

    index: int
    line: int | None
    level: str
    matched: bool
    reason: str


class Explanation(msgspec.Struct, frozen=True):
    """Everything ``policy explain`` shows."""

    request: RequestAttributes
    verdicts: tuple[RuleVerdict, ...]
    decision: Decision
    rule_line: int | None
    stages: tuple[Stage, ...]
    request_body: bool
    response_body: bool
    notes: tuple[str, ...]


def _show(values: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(f'"{v}"' for v in values[:limit])
    more = f", … {len(values) - limit} more" if len(values) > limit else ""
    return f"[{shown}{more}]"


def _resource_reason(rule: PolicyRule, a: RequestAttributes) -> str | None:
    """None if the resources selector matches, else why not."""
    combined = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    groups = [gr for gr in rule.resources if gr.group in (a.api_group, "*")]
    shown_group = f'"{a.api_group}"' + (" (core)" if a.api_group == "" else "")
    if not groups:
        listed = ", ".join(f'"{gr.group}"' for gr in rule.resources)
        return f"API group {shown_group} is not among the rule's groups ({listed})"
    if resources_match(groups, a):
        return None
    wanted = [res for gr in groups for res in gr.resources]
    names = [n for gr in groups for n in gr.resource_names]
    if (
        names
        and a.name not in names
        and any(res in (combined, "*", f"{a.resource}/*") for res in wanted)
    ):
        shown = f'"{a.name}"' if a.name else "no name (list, create and collection requests)"
        return f"the request has {shown}, not one of resourceNames {_show(names)}"
    reason = f'"{combined}" in group {shown_group} matches none of {_show(wanted)}'
    if a.subresource and a.resource in wanted:
        reason += (
            f' ("{a.resource}" does not cover its subresource: add "{combined}" or '
            f'"{a.resource}/*")'
        )
    return reason


def rule_reason(rule: PolicyRule, a: RequestAttributes) -> str | None:
    """None if ``rule`` matches ``a``; otherwise the first failing selector, in plain words."""
    if rule.users:
        if a.user is None:
            return "the request has no user (failed authentication); rules with users never match"
        if a.user not in rule.users:
            return f'user "{a.user}" is not in users {_show(rule.users)}'
    if rule.user_groups:
        if a.user is None:
            return (
                "the request has no user (failed authentication); rules with userGroups never match"
            )
        if not any(g in rule.user_groups for g in a.groups):
            return (
                f"none of the groups {_show(a.groups)} is in userGroups {_show(rule.user_groups)}"
            )
    if rule.verbs and a.verb not in rule.verbs:
        return f'verb "{a.verb}" is not in verbs {_show(rule.verbs)}'
    if rule.namespaces or rule.resources:
        if not a.resource_request:
            return (
                "the rule selects resources/namespaces, so it only matches resource requests; "
                f'"{a.path}" is a non-resource request'
            )
        if rule.namespaces and a.namespace not in rule.namespaces:
            ns = f'"{a.namespace}"' if a.namespace else '"" (cluster-scoped or all namespaces)'
            return f"namespace {ns} is not in namespaces {_show(rule.namespaces)}"
        return _resource_reason(rule, a) if rule.resources else None
    if rule.non_resource_urls:
        if a.resource_request:
            return "the rule selects nonResourceURLs, so it never matches resource requests"
        if not any(path_matches(a.path, spec) for spec in rule.non_resource_urls):
            return (
                f'path "{a.path}" matches none of nonResourceURLs {_show(rule.non_resource_urls)}'
            )
    return None


def _match_reason(rule: PolicyRule) -> str:
    used = [
        name
        for name, present in (
            ("users", rule.users),
            ("userGroups", rule.user_groups),
            ("verbs", rule.verbs),
            ("namespaces", rule.namespaces),
            ("resources", rule.resources),
            ("nonResourceURLs", rule.non_resource_urls),
        )
        if present
    ]
    if not used:
        return "matches: the rule has no selectors, so it matches every request"
    return "matches: " + ", ".join(used) + " all match"


def written_stages(decision: Decision, a: RequestAttributes) -> tuple[Stage, ...]:
    """The stages kube-apiserver writes for a request that completes normally."""
    if decision.level is Level.NONE:
        return ()
    long_running = a.resource_request and is_long_running(a.verb, a.subresource)
    stages = [Stage.REQUEST_RECEIVED]
    if long_running:
        stages.append(Stage.RESPONSE_STARTED)
    stages.append(Stage.RESPONSE_COMPLETE)
    return tuple(s for s in stages if s not in decision.omit_stages)


def explain(loaded: LoadedPolicy, attrs: RequestAttributes) -> Explanation:
    """Explain how ``loaded`` decides ``attrs``."""
    policy = loaded.policy
    verdicts = []
    for i, rule in enumerate(policy.rules):
        reason = rule_reason(rule, attrs)
        verdicts.append(
            RuleVerdict(
                index=i,
                line=loaded.rule_line(i),
                level=rule.level,
                matched=reason is None,
                reason=_match_reason(rule) if reason is None else reason,
            )
        )
    decision = Evaluator(policy).evaluate(attrs)
    # The explanation and the evaluator are separate code; they must agree.
    first = next((v.index for v in verdicts if v.matched), None)
    assert first == decision.rule == reference_decide(policy, attrs).rule
    level = decision.level
    notes = []
    request_body = (
        level.at_least(Level.REQUEST) and attrs.resource_request and attrs.verb in _BODY_VERBS
    )
    response_body = (
        level is Level.REQUEST_RESPONSE and attrs.resource_request and attrs.verb != "watch"
    )
    if attrs.resource in ("secrets", "configmaps", "tokenreviews") and request_body:
        notes.append(
            f"{attrs.resource} bodies are written to the log at this level: values in "
            "the audit log are readable by anyone who can read the log"
        )
    if response_body and attrs.resource in ("secrets", "configmaps") and attrs.verb != "delete":
        notes.append(f"the response body holds the {attrs.resource}' data")
    if attrs.resource_request and attrs.verb == "get" and attrs.subresource in ("exec", "attach"):
        notes.append(
            f"a WebSocket {attrs.subresource} (kubectl >= 1.30) is a GET, so its verb is "
            '"get", not "create"'
        )
    if decision.rule is None:
        notes.append("no rule matched: the request is not logged at all (level None)")
    return Explanation(
        request=attrs,
        verdicts=tuple(verdicts),
        decision=decision,
        rule_line=loaded.rule_line(decision.rule) if decision.rule is not None else None,
        stages=written_stages(decision, attrs),
        request_body=request_body,
        response_body=response_body,
        notes=tuple(notes),
    )
