"""KT007 wrong-api-group."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from kubetrail.catalog.discovery import Discovery
from kubetrail.model.diagnostic import Location, Severity
from kubetrail.policy.lint.base import Finding, LintContext, LintRule


def group_label(group: str) -> str:
    """How a message names an API group."""
    return 'the core group ""' if group == "" else f'group "{group}"'


def split_pattern(pattern: str) -> tuple[str, str | None] | None:
    """``(resource, subresource)`` of a resource pattern (``"*"`` stays ``"*"``).

    ``None`` for shapes KT006 (never-matches) reports: empty, ``*/*``, a trailing ``/``,
    more than one ``/``.
    """
    if not pattern or pattern == "*/*" or pattern.endswith("/") or pattern.count("/") > 1:
        return None
    resource, slash, sub = pattern.partition("/")
    return resource, (sub if slash else None)


class Misplaced(NamedTuple):
    """What a pattern names that its (built-in) group does not serve, and who serves it."""

    what: str  # the resource, or "*/sub"
    servers: list[str]  # the built-in groups that do, sorted


def groups_with_subresource(discovery: Discovery, sub: str) -> list[str]:
    """The built-in groups with some resource that has subresource ``sub``."""
    return sorted(
        g for g in discovery.groups() if any(sub in r.subresources for r in discovery.resources(g))
    )


def misplaced(discovery: Discovery, group: str, pattern: str) -> Misplaced | None:
    """``pattern`` under built-in ``group`` names something only *other* built-in groups serve."""
    parts = split_pattern(pattern)
    if parts is None or group == "*" or not discovery.is_builtin_group(group):
        return None
    resource, sub = parts
    if resource == "*":
        if sub is None or sub == "*":
            return None
        servers = groups_with_subresource(discovery, sub)
        if not servers or group in servers:
            return None
        return Misplaced(f"*/{sub}", servers)
    if discovery.lookup(group, resource) is not None:
        return None
    servers = [g for g in discovery.groups_serving(resource) if g != group]
    return Misplaced(resource, servers) if servers else None


def groups_label(groups: list[str]) -> str:
    """How a message names one or more API groups."""
    if len(groups) == 1:
        return group_label(groups[0])
    return "groups " + " or ".join(f'"{g}"' for g in groups)


class WrongApiGroup(LintRule):
    """## What it does
    Finds resources listed under an API group that does not serve them while another
    built-in group does, such as `deployments` under the core group `""` (deployments are
    in `apps`), and resources under the `extensions` group, which Kubernetes 1.22 removed.

    ## Why is this bad?
    The audit policy matches the group exactly, so that part of the rule never matches
    anything: the requests it was written for fall through to a later rule, often at a
    lower level. Falco's sample policy lists `deployments` under `""`, so deployment
    changes are not logged at `RequestResponse` as intended.

    ## Example
    ```yaml
    - level: RequestResponse
      resources:
      - group: ""
        resources: ["pods", "deployments"]
    ```

    ## Fix
    List each resource under the group that serves it.
    ```yaml
    - level: RequestResponse
      resources:
      - group: ""
        resources: ["pods"]
      - group: "apps"
        resources: ["deployments"]
    ```
    """

    code = "KT007"
    name = "wrong-api-group"
    severity = Severity.WARNING
    needs_valid_policy = False

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.decoded.policy is None:
            return
        discovery = ctx.discovery
        for i, rule in enumerate(ctx.policy.rules):
            for j, entry in enumerate(rule.resources):
                group = entry.group
                retired = None if group == "*" else discovery.retired_in(group)
                for k, pattern in enumerate(entry.resources):
                    where = ctx.location("rules", i, "resources", j, "resources", k)
                    if retired is not None:
                        if split_pattern(pattern) is None:
                            continue  # KT006 reports malformed patterns
                        yield self._retired(ctx, i, group, retired, pattern, where)
                        continue
                    wrong = misplaced(discovery, group, pattern)
                    if wrong is None:
                        continue
                    if wrong.what.startswith("*/"):
                        message = (
                            f"no resource of {group_label(group)} has subresource "
                            f'"{wrong.what[2:]}" ({groups_label(wrong.servers)} has), '
                            f'so "{pattern}" never matches'
                        )
                    else:
                        it = "it" if pattern == wrong.what else f'"{pattern}"'
                        message = (
                            f'"{wrong.what}" is in {groups_label(wrong.servers)}, not in '
                            f"{group_label(group)}: {it} never matches here"
                        )
                    yield self.finding(
                        message,
                        where,
                        rule=i,
                        hint=f'list "{pattern}" under group: "{wrong.servers[0]}"',
                    )

    def _retired(
        self,
        ctx: LintContext,
        index: int,
        group: str,
        release: str,
        pattern: str,
        where: Location,
    ) -> Finding:
        parts = split_pattern(pattern)
        resource = parts[0] if parts else ""
        servers = [] if resource in ("", "*") else ctx.discovery.groups_serving(resource)
        message = (
            f'group "{group}" was removed in Kubernetes {release}: "{pattern}" under it '
            "never matches"
        )
        hint = None
        if servers:
            message += f" ({resource} are now in {groups_label(servers)})"
            hint = f'list "{pattern}" under group: "{servers[0]}"'
        return self.finding(message, where, rule=index, hint=hint)
