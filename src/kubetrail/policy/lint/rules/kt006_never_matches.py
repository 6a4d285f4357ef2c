"""KT006 never-matches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from kubetrail.model.diagnostic import Severity
from kubetrail.model.policy import GroupResources, PolicyRule
from kubetrail.policy.lint.base import Finding, LintContext, LintRule

# Verbs kube-apiserver's RequestInfo gives resource requests (requestinfo.go), and the
# lower-cased HTTP methods that are the verbs of non-resource requests.
RESOURCE_VERBS: Final = frozenset(
    {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "proxy"}
)
NON_RESOURCE_VERBS: Final = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "connect", "trace"}
)


def dead_pattern(pattern: str) -> str | None:
    """Why a resource pattern can match no real request, or None if it can."""
    if pattern == "*/*":
        return '"*/*" only matches a subresource literally named "*"'
    if pattern == "":
        return "an empty resource name matches nothing"
    if pattern.endswith("/"):
        return f'"{pattern}" ends with "/": no request has an empty subresource after "/"'
    if pattern.count("/") > 1:
        return f'"{pattern}" has more than one "/": requests have one resource and one subresource'
    return None


def _entry_dead(entry: GroupResources) -> bool:
    return bool(entry.resources) and all(dead_pattern(p) for p in entry.resources)


def never_matches(rule: PolicyRule) -> str | None:
    """Why ``rule`` can match no request at all, or None if some request can match it."""
    resource_rule = bool(rule.resources or rule.namespaces)
    if rule.verbs:
        possible = RESOURCE_VERBS if resource_rule else NON_RESOURCE_VERBS
        if rule.non_resource_urls or resource_rule:
            if not any(v in possible for v in rule.verbs):
                kind = "resource" if resource_rule else "non-resource"
                return (
                    f"none of verbs {rule.verbs} is a verb of a {kind} request (verbs are "
                    "lower-case; resource requests use get/list/watch/create/update/patch/"
                    "delete/deletecollection, non-resource ones the HTTP method)"
                )
        elif not any(v in RESOURCE_VERBS | NON_RESOURCE_VERBS for v in rule.verbs):
            return f"none of verbs {rule.verbs} is a verb any request has (verbs are lower-case)"
    if rule.resources and all(_entry_dead(e) for e in rule.resources):
        reasons = [r for e in rule.resources for p in e.resources if (r := dead_pattern(p))]
        return "; ".join(dict.fromkeys(reasons))
    return None


class NeverMatches(LintRule):
    """## What it does
    Finds rules that no request can ever match: resource patterns like `*/*`, verbs no
    request has (`GET` — verbs are lower-case), or resource verbs such as `list` on a
    non-resource URL rule.

    ## Why is this bad?
    The rule looks like it logs (or exempts) something, but kube-apiserver never applies
    it: what it was meant to capture falls through to a later rule, often to `None`.

    ## Example
    ```yaml
    - level: RequestResponse
      verbs: [GET, LIST]
      resources:
      - group: ""
        resources: ["*/*"]
    ```

    ## Fix
    Use Kubernetes verbs in lower case, and `*` (every resource and subresource) or
    `pods/*` (pods and all their subresources) instead of `*/*`.
    ```yaml
    - level: RequestResponse
      verbs: [get, list]
      resources:
      - group: ""
        resources: ["*"]
    ```
    """

    code = "KT006"
    name = "never-matches"
    severity = Severity.WARNING

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for i, rule in enumerate(ctx.policy.rules):
            reason = never_matches(rule)
            if reason:
                yield self.at_rule(ctx, i, f"rules[{i}] can never match: {reason}")
                continue
            for v in rule.verbs:
                if v != v.lower():
                    yield self.finding(
                        f'verb "{v}" in rules[{i}] never matches: verbs are lower-case',
                        ctx.location("rules", i, "verbs"),
                        rule=i,
                        hint=f'write "{v.lower()}"',
                    )
            for j, entry in enumerate(rule.resources):
                for k, pattern in enumerate(entry.resources):
                    reason = dead_pattern(pattern)
                    if reason and not _entry_dead(entry):
                        yield self.finding(
                            f"resource pattern in rules[{i}] never matches: {reason}",
                            ctx.location("rules", i, "resources", j, "resources", k),
                            rule=i,
                        )
