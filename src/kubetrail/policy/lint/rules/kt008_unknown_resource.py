"""KT008 unknown-resource."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Iterator
from typing import Final

from kubetrail.catalog.discovery import Discovery, load_discovery
from kubetrail.model.diagnostic import Location, Severity
from kubetrail.policy.lint.base import Finding, LintContext, LintRule
from kubetrail.policy.lint.rules.kt007_wrong_api_group import (
    group_label,
    groups_with_subresource,
    misplaced,
    split_pattern,
)
from kubetrail.policy.validate import NEWEST, OLDEST, KubeVersion

# Kinds that people list as resources although kube-apiserver serves them as subresources.
_KIND_ALIASES: Final = {
    "tokenrequests": ("", "serviceaccounts/token"),
    "evictions": ("", "pods/eviction"),
    "ephemeralcontainers": ("", "pods/ephemeralcontainers"),
    "scales": ("*", "*/scale"),
}


@functools.cache
def _all_versions() -> tuple[Discovery, ...]:
    return tuple(
        load_discovery(KubeVersion(OLDEST[0], minor)) for minor in range(OLDEST[1], NEWEST[1] + 1)
    )


def _ranges(versions: list[KubeVersion]) -> str:
    """``1.24``, ``1.24-1.27`` or ``1.35+`` (consecutive minors of one major)."""
    spans: list[list[KubeVersion]] = []
    for v in versions:
        if spans and spans[-1][-1].minor + 1 == v.minor:
            spans[-1].append(v)
        else:
            spans.append([v])
    out = []
    for span in spans:
        first, last = span[0], span[-1]
        if (last.major, last.minor) == NEWEST and first != last:
            out.append(f"{first}+")
        elif first == last:
            out.append(str(first))
        else:
            out.append(f"{first}-{last}")
    return ", ".join(out)


def served_in(test: Callable[[Discovery], bool]) -> str | None:
    """The Kubernetes versions (as ranges) whose discovery passes ``test``, or None."""
    versions = [d.version for d in _all_versions() if test(d)]
    return _ranges(versions) if versions else None


def _suggest_resource(discovery: Discovery, group: str, resource: str) -> str | None:
    lower = resource.lower()
    if lower != resource and discovery.lookup(group, lower) is not None:
        return f'resource names are lower-case: "{lower}"'
    alias = _KIND_ALIASES.get(lower)
    if alias is not None:
        group, pattern = alias
        where = "any group" if group == "*" else group_label(group)
        return f'did you mean "{pattern}" in {where}?'
    names = {r.resource: r.group for g in discovery.groups() for r in discovery.resources(g)}
    close = difflib.get_close_matches(lower, names, n=1, cutoff=0.75)
    if not close:
        return None
    return f'did you mean "{close[0]}" in {group_label(names[close[0]])}?'


def _suggest_subresource(resource: str, sub: str, known: frozenset[str]) -> str | None:
    close = difflib.get_close_matches(sub.lower(), sorted(known), n=1, cutoff=0.75)
    if not close:
        return None
    return f'did you mean "{resource}/{close[0]}"?'


class UnknownResource(LintRule):
    """## What it does
    Finds resources and subresources that a built-in API group does not serve in the
    chosen Kubernetes version, and that no other built-in group serves either: typos
    (`replicacontrollers`), kinds instead of resources (`tokenrequests`, which is
    `serviceaccounts/token`), subresources that do not exist (`pods/exec2`) and resources
    removed or not yet added in that version. Resources that exist but are not served by
    default (alpha, and beta APIs since 1.24) are reported as a note.

    ## Why is this bad?
    The audit policy compares resource names as plain strings, so an unknown name never
    matches: the requests the rule was meant for fall through to a later rule, often at a
    lower level. kube-apiserver accepts such names without a warning.

    ## Example
    ```yaml
    - level: RequestResponse
      resources:
      - group: ""
        resources: ["replicacontrollers", "pods/exec2"]
    ```

    ## Fix
    Use the plural, lower-case resource names of `kubectl api-resources`.
    ```yaml
    - level: RequestResponse
      resources:
      - group: ""
        resources: ["replicationcontrollers", "pods/exec"]
    ```
    """

    code = "KT008"
    name = "unknown-resource"
    severity = Severity.WARNING
    needs_valid_policy = False

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.decoded.policy is None:
            return
        for i, rule in enumerate(ctx.policy.rules):
            for j, entry in enumerate(rule.resources):
                group = entry.group
                if group == "*" or not ctx.discovery.is_builtin_group(group):
                    continue  # any group, or a CRD / aggregated API group: not judged
                for k, pattern in enumerate(entry.resources):
                    where = ctx.location("rules", i, "resources", j, "resources", k)
                    yield from self._check(ctx, i, group, pattern, where)

    def _check(
        self, ctx: LintContext, index: int, group: str, pattern: str, where: Location
    ) -> Iterator[Finding]:
        discovery = ctx.discovery
        version = discovery.version
        parts = split_pattern(pattern)
        if parts is None or misplaced(discovery, group, pattern) is not None:
            return  # KT006 (malformed) or KT007 (served by another group) reports it
        resource, sub = parts
        if resource == "*":
            if sub is None or sub == "*" or groups_with_subresource(discovery, sub):
                return
            yield self.finding(
                f'no built-in resource has subresource "{sub}" in Kubernetes {version}, '
                f'so "{pattern}" never matches',
                where,
                rule=index,
            )
            return
        info = discovery.lookup(group, resource)
        if info is None:
            message = (
                f'{group_label(group)} serves no resource "{resource}" in Kubernetes {version}'
            )
            other = served_in(lambda d: d.lookup(group, resource) is not None)
            if other:
                message += f" (only in {other})"
            it = "it" if pattern == resource else f'"{pattern}"'
            yield self.finding(
                f"{message}: {it} never matches",
                where,
                rule=index,
                hint=_suggest_resource(discovery, group, resource),
            )
            return
        if sub is not None and sub != "*" and sub not in info.subresources:
            message = f'"{resource}" has no subresource "{sub}" in Kubernetes {version}'
            other = served_in(lambda d: d.has_subresource(group, resource, sub))
            if other:
                message += f" (only in {other})"
            yield self.finding(
                f'{message}: "{pattern}" never matches',
                where,
                rule=index,
                hint=_suggest_subresource(resource, sub, info.subresources),
            )
            return
        if not info.served_by_default:
            yield self.finding(
                f'"{resource}" in {group_label(group)} is not served by default in Kubernetes '
                f"{version}: it only exists where its API is enabled",
                where,
                rule=index,
                hint="enable it with --runtime-config (and its feature gate), or ignore this "
                "note if the policy is for clusters that do",
                severity=Severity.INFO,
            )
