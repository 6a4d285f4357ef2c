"""KT107 no-catch-all."""

from __future__ import annotations

from collections.abc import Iterator

from kubetrail.model.diagnostic import Severity
from kubetrail.model.policy import Level, PolicyRule
from kubetrail.policy.lint.base import Finding, LintContext, LintRule
from kubetrail.policy.lint.rules.kt108_logs_nothing import logs_nothing


def is_catch_all(rule: PolicyRule) -> bool:
    """True if the rule matches every request (no selector at all; spec §11.2)."""
    return not (
        rule.users
        or rule.user_groups
        or rule.verbs
        or rule.resources
        or rule.namespaces
        or rule.non_resource_urls
    )


class NoCatchAll(LintRule):
    """## What it does
    Finds a policy without a final catch-all rule (a rule with only a `level`, which matches
    every request), or whose first catch-all rule has `level: None`.

    ## Why is this bad?
    A request no rule matches is not logged at all. Policies list the API groups they know;
    requests to API groups added later, to CRDs and aggregated APIs (where attackers'
    tooling and operators live) then leave no trace.

    ## Example
    ```yaml
    - level: Metadata
      resources:
      - group: ""
      - group: apps
    ```

    ## Fix
    End the policy with a catch-all rule that logs at least metadata.
    ```yaml
    - level: Metadata
      resources:
      - group: ""
      - group: apps
    - level: Metadata
    ```
    """

    code = "KT107"
    name = "no-catch-all"
    severity = Severity.WARNING

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        rules = ctx.policy.rules
        if not rules or logs_nothing(ctx.policy):
            return  # KT108 reports a policy that logs nothing at all
        first = next((i for i, rule in enumerate(rules) if is_catch_all(rule)), None)
        if first is None:
            yield self.at_rule(
                ctx,
                len(rules) - 1,
                "the policy has no catch-all rule: requests no rule matches (new API groups, "
                "CRDs) are not logged",
                hint="add `- level: Metadata` at the end",
            )
        elif rules[first].level == Level.NONE:
            yield self.at_rule(
                ctx,
                first,
                "the catch-all rule has level None: requests no earlier rule matches "
                "(new API groups, CRDs) are not logged",
                hint="change this rule to `- level: Metadata`",
            )
