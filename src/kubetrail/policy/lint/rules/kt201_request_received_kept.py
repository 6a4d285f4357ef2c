"""KT201 request-received-kept."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from kubetrail.model.diagnostic import Severity
from kubetrail.model.policy import Level, Stage
from kubetrail.policy.lint.base import Finding, LintContext, LintRule
from kubetrail.policy.lint.rules.kt108_logs_nothing import key_location

_SHOWN: Final = 5  # rule indexes named in the message


class RequestReceivedKept(LintRule):
    """## What it does
    Finds logging rules that keep the `RequestReceived` stage: neither the policy-level
    `omitStages` nor the rule's own `omitStages` lists it.

    ## Why is this bad?
    Every request such a rule logs writes two events with the same metadata: one when the
    request arrives (`RequestReceived`) and one when it completes (`ResponseComplete`). The
    first adds no information for investigations, and doubles the volume and the cost of the
    log (and of the SIEM ingesting it).

    ## Example
    ```yaml
    apiVersion: audit.k8s.io/v1
    kind: Policy
    rules:
    - level: Metadata
    ```

    ## Fix
    Omit the stage once for the whole policy.
    ```yaml
    apiVersion: audit.k8s.io/v1
    kind: Policy
    omitStages: [RequestReceived]
    rules:
    - level: Metadata
    ```
    """

    code = "KT201"
    name = "request-received-kept"
    severity = Severity.WARNING

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        policy = ctx.policy
        if Stage.REQUEST_RECEIVED in policy.omit_stages:
            return
        keeping = [
            i
            for i, rule in enumerate(policy.rules)
            if rule.level != Level.NONE and Stage.REQUEST_RECEIVED not in rule.omit_stages
        ]
        if not keeping:
            return
        named = ", ".join(f"rules[{i}]" for i in keeping[:_SHOWN])
        if len(keeping) > _SHOWN:
            named += f" and {len(keeping) - _SHOWN} more"
        if len(keeping) == 1:
            subject = f"1 logging rule ({named}): each request it logs"
        else:
            subject = f"{len(keeping)} logging rules ({named}): each request they log"
        where = "omitStages" if ("omitStages",) in ctx.decoded.document.keys else "rules"
        yield self.finding(
            f"RequestReceived is not omitted by {subject} writes two events",
            key_location(ctx, where),
            hint="add RequestReceived to the policy-level `omitStages`",
        )
