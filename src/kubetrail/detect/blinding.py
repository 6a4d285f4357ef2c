"""Which detection rules an audit policy blinds: can each rule still fire under the policy?

For every rule, the requests it watches are derived from its condition (each alternative of
its OR-of-ANDs, with the resources, subresources, verbs, namespaces and names it requires; a
representative request where it requires none) and tried with the policy for each of the
coverage engine's callers (a user, service accounts in an app namespace and in kube-system,
a node, anonymous). A probe counts only if the rule could fire on it at all: the rule is
evaluated on the probe's event — user, verb, object and stage known, every other field
unknown — and must not be false (a rule that ignores ``system:`` callers is not blinded by a
policy that drops a node's requests). The probe is *seen* if the policy logs it

* at the level the rule's fields need (``Metadata``; ``Request`` when it reads
  ``requestObject``; ``RequestResponse`` when it reads ``responseObject``), and
* in a stage the rule can read: the stages it requires, else the outcome's stage
  (``ResponseComplete``, or ``ResponseStarted`` for long-running requests).

A rule is ``live`` when every relevant probe is seen, ``partly blinded`` when some are,
``blinded`` when none is — and ``broken`` when no probe could make it fire: its condition
asks for something no audit event carries.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Final, Literal

import msgspec

from kubetrail.catalog.discovery import Discovery
from kubetrail.detect.match import OPEN_WORLD, plain_alternatives
from kubetrail.detect.rules import Rule
from kubetrail.model.attributes import RequestAttributes
from kubetrail.model.policy import Level, Policy, Stage
from kubetrail.policy.coverage import CALLERS, Caller, outcome_logged
from kubetrail.policy.evaluate import Evaluator

__all__ = ["Probe", "RuleSight", "blinding"]

Sight = Literal["live", "partly blinded", "blinded", "broken"]
_COLLECTIONS: Final = frozenset({"create", "list", "watch", "deletecollection"})
# The verbs of resource requests, the only ones an event's `verb` holds for an object
# (k8s.io/apiserver pkg/endpoints/request/requestinfo.go: from the HTTP method, with list and
# watch for collections, and the legacy proxy verb). A rule asking for another (`replace`,
# `escalate`) watches no request.
_VERBS: Final = frozenset(
    {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "proxy"}
)


class Probe(msgspec.Struct, frozen=True):
    caller: str
    attributes: RequestAttributes
    level: Level  # what the policy logs
    rule: int | None  # the policy rule that decides it
    seen: bool


class RuleSight(msgspec.Struct, frozen=True):
    rule: Rule
    needs: Level
    sight: Sight
    probes: tuple[Probe, ...]

    @property
    def gaps(self) -> tuple[Probe, ...]:
        return tuple(p for p in self.probes if not p.seen)


def needed_level(rule: Rule) -> Level:
    if any(f.startswith("responseObject") for f in rule.fields):
        return Level.REQUEST_RESPONSE
    if any(f.startswith("requestObject") for f in rule.fields):
        return Level.REQUEST
    return Level.METADATA


def _newest_discovery() -> Discovery:
    from kubetrail.catalog.discovery import load_discovery
    from kubetrail.policy.validate import NEWEST, KubeVersion

    return load_discovery(KubeVersion(*NEWEST))


def _group(discovery: Discovery, resource: str) -> str:
    groups = discovery.groups_serving(resource)
    return "" if not groups or "" in groups else groups[0]


def _namespaced(discovery: Discovery, group: str, resource: str) -> bool:
    info = discovery.lookup(group, resource)
    return True if info is None else info.namespaced


_PROBE_FIELDS: Final = (
    "objectRef.resource",
    "objectRef.subresource",
    "verb",
    "objectRef.namespace",
    "objectRef.name",
)


def _branches(node: Any) -> list[dict[str, frozenset[str]]]:
    """The condition as alternatives (an OR of ANDs, as far as it is about the probe fields),
    each with the plain values it requires of those fields."""
    from sigma.conditions import ConditionAND, ConditionOR

    field_values = plain_alternatives(node)
    if field_values is not None:
        field, values = field_values
        return [{field: values}] if field in _PROBE_FIELDS else [{}]
    if isinstance(node, ConditionOR):
        return [b for arg in node.args for b in _branches(arg)][:64]
    if isinstance(node, ConditionAND):
        combined: list[dict[str, frozenset[str]]] = [{}]
        for arg in node.args:
            options = _branches(arg)
            combined = [
                {**left, **right}
                for left in combined
                for right in options
                if all(left[k] & right[k] for k in left.keys() & right.keys())
            ][:64]
        return combined
    return [{}]  # a NOT, or a leaf on another field: no requirement here


def _probes(rule: Rule) -> list[tuple[str, str, str, str, str]]:
    """(resource, subresource, verb, namespace, name) of the requests the rule watches."""
    out: set[tuple[str, str, str, str, str]] = set()
    for tree in rule.trees:
        for branch in _branches(tree):
            out.update(
                itertools.product(
                    sorted(branch.get("objectRef.resource", ["pods"])),
                    sorted(branch.get("objectRef.subresource", [""])),
                    sorted(branch.get("verb", ["get"])),
                    # No namespace named: the request in one namespace and across all of them.
                    sorted(branch.get("objectRef.namespace", ["default", ""])),
                    sorted(branch.get("objectRef.name", [""])),
                )
            )
    return sorted(out)


def _codes(rule: Rule) -> list[int]:
    """The response codes a probe tries: 200, and every code the rule names (a rule on 401 or
    403 watches refused requests; a code no response has, such as the text 'ALLOW', adds
    none). 403 also when the rule reads a forbidding authorization decision."""
    from sigma.conditions import ConditionFieldEqualsValueExpression

    codes = {200}
    stack = list(rule.trees)
    while stack:
        node = stack.pop()
        if isinstance(node, ConditionFieldEqualsValueExpression):
            text = str(node.value).strip()
            if node.field == "responseStatus.code" and text.isdigit():
                codes.add(int(text))
            elif node.field == "annotations.authorization.k8s.io/decision" and text != "allow":
                codes.add(403)
        stack.extend(getattr(node, "args", ()))
    return sorted(codes)


def _event(
    attrs: RequestAttributes, stage: str, *, impersonating: bool, named: bool, code: int = 200
) -> dict[str, Any]:
    """The probe as an event: what it fixes is known; the rest (the object's name unless the
    rule asked for one, the URI, bodies) unknown."""
    ref: dict[str, Any] = {"resource": attrs.resource, "apiVersion": "v1"}
    ref |= {
        key: value
        for key, value in (
            ("subresource", attrs.subresource),
            ("namespace", attrs.namespace),
            ("name", attrs.name if named else ""),
            ("apiGroup", attrs.api_group),
        )
        if value
    }
    event: dict[str, Any] = {
        OPEN_WORLD: True,  # what the probe does not fix is unknown
        "stage": stage,
        "verb": attrs.verb,
        "user": {"username": attrs.user, "groups": list(attrs.groups)},
        "objectRef": ref,
        "responseStatus": {"code": code},
        # 401: authentication failed, no authorizer ran; 403: the authorizer forbade it.
        "annotations": {}
        if code == 401
        else {"authorization.k8s.io/decision": "forbid" if code == 403 else "allow"},
    }
    if impersonating:
        # The policy sees the caller (the audit filter runs before impersonation is applied,
        # k8s.io/apiserver pkg/server/config.go); the event also names whom it acts as.
        event["impersonatedUser"] = {"username": "someone-else", "groups": []}
    return event


def _stages(rule: Rule) -> frozenset[Stage] | None:
    from kubetrail.detect.rules import required

    found: set[Stage] = set()
    for tree in rule.trees:
        values = required(tree, "stage")
        if values is None:
            return None
        found |= {s for s in Stage if s.value.lower() in values}
    return frozenset(found) or None


def rule_sight(
    rule: Rule,
    evaluator: Evaluator,
    callers: Sequence[Caller] = CALLERS,
    *,
    discovery: Discovery | None = None,
) -> RuleSight:
    discovery = discovery or _newest_discovery()  # read once per rule, not once per probe
    needs = needed_level(rule)
    stages = _stages(rule)
    impersonating = any(f.startswith("impersonatedUser") for f in rule.fields)
    codes = _codes(rule)
    probes: list[Probe] = []
    for resource, sub, verb, ns, wanted_name in _probes(rule):
        if verb not in _VERBS:
            continue
        group = _group(discovery, resource)
        if not _namespaced(discovery, group, resource):
            if ns:
                continue
            namespace = ""
        elif not ns and (sub or verb not in ("list", "watch")):
            continue  # only list and watch reach a namespaced resource across namespaces
        else:
            namespace = ns
        if wanted_name and verb in _COLLECTIONS and not sub:
            continue  # a create or list names no object in its URL
        name = wanted_name or ("" if verb in _COLLECTIONS and not sub else "x")
        base = f"/apis/{group}/v1" if group else "/api/v1"
        path = base + (f"/namespaces/{namespace}" if namespace else "") + f"/{resource}"
        path += f"/{name}" if name else ""
        path += f"/{sub}" if sub else ""
        for caller in callers:
            attrs = RequestAttributes(
                user=caller.identity.user,
                groups=tuple(caller.identity.groups),
                verb=verb,
                namespace=namespace,
                api_group=group,
                api_version="v1",
                resource=resource,
                subresource=sub,
                name=name,
                path=path,
                resource_request=True,
            )
            event_stage = min(s.value for s in stages) if stages else "ResponseComplete"
            # The rule could fire on this request with some response (or it is not probed).
            if all(
                p(_event(attrs, event_stage, impersonating=impersonating,
                         named=bool(wanted_name), code=code)) is False
                for code in codes
                for p in rule.predicates
            ):  # fmt: skip
                continue
            decision = evaluator.evaluate(attrs)
            if decision.level is Level.NONE:
                logged = False
            elif stages:
                logged = not stages <= decision.omit_stages
            else:
                logged = outcome_logged(decision, attrs)
            probes.append(
                Probe(
                    caller=caller.name,
                    attributes=attrs,
                    level=decision.level,
                    rule=decision.rule,
                    seen=logged and decision.level.at_least(needs),
                )
            )
    sight: Sight
    if not probes:
        sight = "broken"
    elif all(p.seen for p in probes):
        sight = "live"
    elif any(p.seen for p in probes):
        sight = "partly blinded"
    else:
        sight = "blinded"
    return RuleSight(rule=rule, needs=needs, sight=sight, probes=tuple(probes))


def blinding(policy: Policy, rules: Sequence[Rule]) -> list[RuleSight]:
    """Every rule's sight under ``policy``, worst first."""
    evaluator = Evaluator(policy)
    order = {"broken": 0, "blinded": 1, "partly blinded": 2, "live": 3}
    discovery = _newest_discovery()  # once for every rule
    sights = [rule_sight(r, evaluator, discovery=discovery) for r in rules]
    return sorted(sights, key=lambda s: (order[s.sight], s.rule.name))
