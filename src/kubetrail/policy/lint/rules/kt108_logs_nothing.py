"""KT108 logs-nothing."""

from __future__ import annotations

from collections.abc import Iterator

from kubetrail.model.diagnostic import Location, Severity
from kubetrail.model.policy import Level, Policy
from kubetrail.policy.lint.base import Finding, LintContext, LintRule


def logs_nothing(policy: Policy) -> bool:
    """True if every rule's level is None: no request is ever logged."""
    return all(rule.level == Level.NONE for rule in policy.rules)


def key_location(ctx: LintContext, key: str) -> Location:
    """Where the top-level ``key:`` itself is (not its value), or the nearest known place."""
    pos = ctx.decoded.document.keys.get((key,))
    if pos is None:
        return ctx.location(key)
    return Location(path=ctx.source, line=pos.line, column=pos.column)


class LogsNothing(LintRule):
    """## What it does
    Finds a policy whose rules all have `level: None`.

    ## Why is this bad?
    Auditing looks enabled (`--audit-policy-file` and `--audit-log-path` are set, compliance
    checks pass) but not a single request is written: there is nothing to investigate after
    an incident. RKE2 writes exactly this policy (`- level: None`) when none exists.

    ## Example
    ```yaml
    rules:
    - level: None
    ```

    ## Fix
    Log at least metadata for every request, and drop only known noise before that.
    ```yaml
    rules:
    - level: None
      nonResourceURLs: ["/healthz*", "/livez*", "/readyz*"]
    - level: Metadata
    ```
    """

    code = "KT108"
    name = "logs-nothing"
    severity = Severity.ERROR

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if logs_nothing(ctx.policy):
            count = len(ctx.policy.rules)
            yield self.finding(
                f"all {count} rules have level None: no request is ever logged"
                if count > 1
                else "the only rule has level None: no request is ever logged",
                key_location(ctx, "rules"),
                hint="add `- level: Metadata` as the last rule",
            )
