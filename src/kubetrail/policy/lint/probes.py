"""Probe requests for lint rules that ask the compiled evaluator, not the policy's syntax.

A rule such as "secrets are read as ``get`` but listed unlogged" is about what the whole
policy does, later rules included. These helpers build the requests such a rule evaluates:
representative identities (a person, a workload's service account), namespaces, and the
:class:`~kubetrail.model.attributes.RequestAttributes` of one resource request.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from kubetrail.model.attributes import RequestAttributes
from kubetrail.model.policy import Level, PolicyRule
from kubetrail.policy.evaluate import Decision


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
