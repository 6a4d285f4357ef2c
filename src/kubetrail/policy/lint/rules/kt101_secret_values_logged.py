"""KT101 secret-values-logged.

Also holds the probing helpers shared by the rules that judge a policy by its effective
decision for representative requests (KT101, KT102, KT103, KT110).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Final

from kubetrail.model.attributes import RequestAttributes
from kubetrail.model.diagnostic import Severity
from kubetrail.model.policy import Level, Policy
from kubetrail.policy.lint.base import Finding, LintContext, LintRule
from kubetrail.policy.lint.probes import HUMAN, SERVICE_ACCOUNT, Identity, resource_request

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
IDENTITIES: Final = (HUMAN, SERVICE_ACCOUNT, KUBE_SYSTEM_SERVICE_ACCOUNT, NODE)


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
    identities: Collection[Identity] = IDENTITIES,
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


class SecretValuesLogged(LintRule):
    """## What it does
    Finds rules that write the contents of `secrets` into the log: the request bodies of
    create, update and patch (logged at `Request` and above), or the responses of get, list,
    create, update, patch and delete (logged at `RequestResponse`). Each rule is judged by the
    decision the whole policy gives to representative requests (a user, service accounts, a
    node) so a `Metadata` rule for secrets placed before it is taken into account.

    ## Why is this bad?
    Secret values are base64, not encrypted: anyone who can read the audit log (a SIEM, a log
    bucket, every team with log access) can read every password, token and private key that
    is created or read. Audit logs are usually kept longer and shared wider than etcd.

    ## Example
    ```yaml
    - level: RequestResponse
      resources:
      - group: ""
    ```

    ## Fix
    Log secrets at `Metadata` (who touched which secret, without the values) in a rule placed
    before the broader one.
    ```yaml
    - level: Metadata
      resources:
      - group: ""
        resources: [secrets]
    - level: RequestResponse
      resources:
      - group: ""
    ```
    """

    code = "KT101"
    name = "secret-values-logged"
    severity = Severity.ERROR

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        found = bodies_logged(
            ctx,
            group="",
            resource="secrets",
            request_verbs=WRITE_VERBS,
            response_verbs=RESPONSE_VERBS,
        )
        for index in sorted(found):
            level = ctx.policy.rules[index].level
            yield self.at_rule(
                ctx,
                index,
                f"`secrets` {verb_list(found[index])} logged at {level}: "
                "secret values are written to the log",
                hint=(
                    "add a rule before this one: `- level: Metadata` with "
                    '`resources: [{group: "", resources: [secrets]}]`'
                ),
            )
