"""KT109 broad-identity-unlogged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from kubetrail.model.diagnostic import Severity
from kubetrail.model.policy import Level, PolicyRule
from kubetrail.policy.lint.base import Finding, LintContext, LintRule
from kubetrail.policy.lint.probes import verb_list

# Groups every member of which is a possible attacker foothold, and who they are.
BROAD_GROUPS: Final = {
    "system:authenticated": "every authenticated user",
    "system:unauthenticated": "every anonymous request",
    "system:serviceaccounts": "every service account",
    "system:nodes": "every node",
    "system:masters": "every cluster admin",
}
_SA_GROUP_PREFIX: Final = "system:serviceaccounts:"
_SA_USER_PREFIX: Final = "system:serviceaccount:"
# Verbs that change something; a rule limited to other verbs (reads) is a volume choice.
CHANGE_VERBS: Final = frozenset({"create", "update", "patch", "delete", "deletecollection"})


def _broad_identity(rule: PolicyRule) -> str | None:
    """Who a broad rule exempts, or None when its users/groups are specific ones."""
    if rule.users:
        # users and userGroups must both hold: the users list is the identity.
        accounts = [
            u for u in rule.users if u.startswith(_SA_USER_PREFIX) or u == "system:anonymous"
        ]
        if not accounts:
            return None
        names = ", ".join(f"`{u}`" for u in accounts)
        return f"user {names}" if len(accounts) == 1 else f"users {names}"
    for group in rule.user_groups:
        if group in BROAD_GROUPS:
            return f"group `{group}` ({BROAD_GROUPS[group]})"
        if group.startswith(_SA_GROUP_PREFIX):
            namespace = group[len(_SA_GROUP_PREFIX) :]
            return f"group `{group}` (every service account of namespace {namespace})"
    return None


def _whole_groups(rule: PolicyRule) -> list[str]:
    """The API groups the rule covers entirely (an entry without resources, or with "*")."""
    groups = [
        gr.group
        for gr in rule.resources
        if not gr.resources or ("*" in gr.resources and not gr.resource_names)
    ]
    return list(dict.fromkeys(groups))


def _group_label(group: str) -> str:
    return "core" if group == "" else ("any group" if group == "*" else group)


def _scope(rule: PolicyRule) -> str | None:
    """What a rule covers when it is broad, or None when it names specific things."""
    if rule.verbs and not CHANGE_VERBS.intersection(rule.verbs):
        return None  # reads (or non-resource methods) only
    if rule.resources:
        groups = _whole_groups(rule)
        if not groups:
            return None
        what = "every resource of API group " + ", ".join(f"`{_group_label(g)}`" for g in groups)
    elif rule.namespaces:
        what = "every resource"
    elif rule.non_resource_urls:
        return None  # non-resource URLs only (health, discovery, metrics)
    else:
        what = "every resource and URL"
    if rule.namespaces:
        spaces = ", ".join(f"`{n}`" if n else '`""` (cluster scope)' for n in rule.namespaces)
        what += f" in namespace {spaces}" if len(rule.namespaces) == 1 else f" in {spaces}"
    return what


class BroadIdentityUnlogged(LintRule):
    """## What it does
    Finds `level: None` rules that exempt a broad identity from auditing for whole API groups
    or for everything: `system:authenticated`, `system:unauthenticated`,
    `system:serviceaccounts` (or one namespace's service accounts), `system:nodes`,
    `system:masters`, a service account user, or everyone inside a namespace such as
    `kube-system`. Rules limited to specific resources, to read verbs, or to non-resource
    URLs are the usual noise filters and are left alone.

    ## Why is this bad?
    A stolen service account token, a compromised node or an anonymous request is exactly
    what an audit log must show. Attackers also hide their workloads in `kube-system` because
    it is noisy and often exempted. A broad `None` rule makes all of that invisible.

    ## Example
    ```yaml
    - level: None
      userGroups: ["system:serviceaccounts:kube-system"]
    - level: None
      namespaces: [kube-system]
    ```

    ## Fix
    Drop only the specific high-volume requests (who, which verbs, which resources).
    ```yaml
    - level: None
      users: ["system:kube-proxy"]
      verbs: [watch]
      resources:
      - group: ""
        resources: [endpoints, services]
    ```
    """

    code = "KT109"
    name = "broad-identity-unlogged"
    severity = Severity.WARNING

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for index, rule in enumerate(ctx.policy.rules):
            if rule.level != Level.NONE:
                continue
            scope = _scope(rule)
            if scope is None:
                continue
            identity = _broad_identity(rule)
            if identity is None:
                if rule.users or rule.user_groups or not rule.namespaces:
                    continue  # specific identities; or a catch-all/whole group (not identity)
                identity = "everyone"
            verbs = f"{verb_list(rule.verbs)} requests" if rule.verbs else "requests"
            yield self.at_rule(
                ctx,
                index,
                f"{verbs} by {identity} to {scope} are not logged",
                hint=(
                    "limit this rule to the specific noisy users, verbs and resources, or remove it"
                ),
            )
