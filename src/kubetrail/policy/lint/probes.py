"""Probe requests for lint rules that ask the compiled evaluator, not the policy's syntax.

A rule such as "secrets are read as ``get`` but listed unlogged" is about what the whole
policy does, later rules included. These helpers build the requests such a rule evaluates:
representative identities (a person, a workload's service account), namespaces, and the
:class:`~kubetrail.model.attributes.RequestAttributes` of one resource request.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Final, NamedTuple

from kubetrail.model.attributes import RequestAttributes
from kubetrail.model.policy import Level, Policy, PolicyRule
from kubetrail.policy.evaluate import Decision
from kubetrail.policy.lint.base import LintContext


class Identity(NamedTuple):
    """An authenticated user as the audit policy sees it."""

    user: str
    groups: tuple[str, ...]

    @property
    def label(self) -> str:
        """How a message names this identity."""
        return f"user {self.user}"


HUMAN: Final = Identity("alice", ("system:authenticated",))
SERVICE_ACCOUNT: Final = Identity(
    "system:serviceaccount:app:default",
    ("system:serviceaccounts", "system:serviceaccounts:app", "system:authenticated"),
)
IDENTITIES: Final = (HUMAN, SERVICE_ACCOUNT)
NAMESPACES: Final = ("default", "kube-system")
PROBE_USER: Final = "kubetrail-probe"


def resource_request(
    verb: str,
    resource: str,
    *,
    identity: Identity,
    group: str = "",
    subresource: str = "",
    namespace: str = "",
    name: str = "",
) -> RequestAttributes:
    """The attributes of one resource request, with the URL path kube-apiserver would see."""
    version = "v1"
    parts = ["/api/v1"] if not group else [f"/apis/{group}/{version}"]
    if namespace:
        parts.append(f"namespaces/{namespace}")
    parts.append(resource)
    if name:
        parts.append(name)
        if subresource:
            parts.append(subresource)
    return RequestAttributes(
        user=identity.user,
        groups=identity.groups,
        verb=verb,
        namespace=namespace,
        api_group=group,
        api_version=version,
        resource=resource,
        subresource=subresource,
        name=name,
        path="/".join(parts),
        resource_request=True,
    )


def identities_for(rule: PolicyRule) -> tuple[Identity, ...]:
    """The representative identities, plus one the rule's ``users``/``userGroups`` select."""
    if not rule.users and not rule.user_groups:
        return IDENTITIES
    user = rule.users[0] if rule.users else PROBE_USER
    groups = (*rule.user_groups[:1], "system:authenticated")
    return (*IDENTITIES, Identity(user, tuple(dict.fromkeys(groups))))


def namespaces_for(rule: PolicyRule) -> tuple[str, ...]:
    """The representative namespaces, plus the first namespace the rule names (if any)."""
    named = [n for n in rule.namespaces if n and n not in NAMESPACES]
    return (*NAMESPACES, *named[:1])


def content(level: Level, cap: Level) -> int:
    """The level's order, counting only what the request can put in an event.

    Reads and connect requests (``exec``, ``attach``, ``portforward``) carry no request body,
    so ``Request`` logs no more than ``Metadata`` for them; ``cap`` says where logging more
    adds nothing worth comparing.
    """
    return min(level.order, cap.order)


def decided_by(decision: Decision) -> str:
    """``rules[3]``, or ``no rule`` when nothing matched (for messages)."""
    return "no rule" if decision.rule is None else f"rules[{decision.rule}]"


# Probes of the security rules (KT101-KT103, KT110): which rules write request or response
# bodies of a resource, for a wider set of callers.
VERB_ORDER: Final = (
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
)
# Verbs whose request body holds the object (spec §6: create/update bodies, patches).
WRITE_VERBS: Final = frozenset({"create", "update", "patch"})
# Verbs whose response holds the object at RequestResponse (every verb but watch).
RESPONSE_VERBS: Final = frozenset({"get", "list", "create", "update", "patch", "delete"})
# Verbs that address one object by name, and verbs that can span all namespaces ("").
_NAMED_VERBS: Final = frozenset({"get", "update", "patch", "delete"})
_ALL_NAMESPACE_VERBS: Final = frozenset({"list", "watch"})
_GENERIC_NAME: Final = "probe-object"
_GENERIC_NAMESPACES: Final = ("app", "kube-system")


KUBE_SYSTEM_SERVICE_ACCOUNT: Final = Identity(
    "system:serviceaccount:kube-system:default",
    ("system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"),
)
NODE: Final = Identity("system:node:n1", ("system:nodes", "system:authenticated"))
# A person, a workload's service account, a kube-system service account and a node.
BODY_IDENTITIES: Final = (HUMAN, SERVICE_ACCOUNT, KUBE_SYSTEM_SERVICE_ACCOUNT, NODE)


def verb_list(verbs: Collection[str]) -> str:
    """``get, list, create`` in the usual Kubernetes order."""
    order = {v: i for i, v in enumerate(VERB_ORDER)}
    return ", ".join(sorted(verbs, key=lambda v: (order.get(v, len(order)), v)))


def probe_requests(
    policy: Policy,
    *,
    group: str,
    resource: str,
    verbs: Collection[str],
    subresource: str = "",
    namespaced: bool = True,
    identities: Collection[Identity] = BODY_IDENTITIES,
    listed_names: bool = True,
) -> Iterator[RequestAttributes]:
    """Representative resource requests: each identity, verb, namespace and name.

    Namespaces are a plain one, ``kube-system`` and every namespace the policy lists (plus
    ``""`` for all-namespace list/watch); names are a generic one and, with ``listed_names``,
    every ``resourceNames`` entry the policy gives for ``group``.
    """
    namespaces = sorted({*_GENERIC_NAMESPACES, *(n for r in policy.rules for n in r.namespaces)})
    names = {_GENERIC_NAME}
    if listed_names:
        names.update(
            n
            for r in policy.rules
            for gr in r.resources
            if gr.group in (group, "*")
            for n in gr.resource_names
        )
    for identity in identities:
        for verb in verbs:
            # A subresource is always addressed through its parent object's name.
            named = verb in _NAMED_VERBS or bool(subresource)
            if not namespaced:
                spaces = [""]
            elif verb in _ALL_NAMESPACE_VERBS:
                spaces = ["", *namespaces]
            else:
                spaces = [n for n in namespaces if n]
            for namespace in spaces:
                for name in sorted(names) if named else [""]:
                    yield resource_request(
                        verb,
                        resource,
                        identity=identity,
                        group=group,
                        subresource=subresource,
                        namespace=namespace,
                        name=name,
                    )


def bodies_logged(
    ctx: LintContext,
    *,
    group: str,
    resource: str,
    request_verbs: Collection[str],
    response_verbs: Collection[str],
    subresource: str = "",
    namespaced: bool = True,
    listed_names: bool = True,
) -> dict[int, set[str]]:
    """The rules (by index) that decide to log the resource's bodies, with the verbs.

    A request body is logged for ``request_verbs`` at Request or above, a response body for
    ``response_verbs`` at RequestResponse (spec §6).
    """
    found: dict[int, set[str]] = {}
    for attrs in probe_requests(
        ctx.policy,
        group=group,
        resource=resource,
        verbs=[v for v in VERB_ORDER if v in request_verbs or v in response_verbs],
        subresource=subresource,
        namespaced=namespaced,
        listed_names=listed_names,
    ):
        decision = ctx.evaluator.evaluate(attrs)
        if decision.rule is None:
            continue
        if (attrs.verb in request_verbs and decision.level.at_least(Level.REQUEST)) or (
            attrs.verb in response_verbs and decision.level is Level.REQUEST_RESPONSE
        ):
            found.setdefault(decision.rule, set()).add(attrs.verb)
    return found
