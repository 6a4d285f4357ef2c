"""KT202 managed-fields-kept."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from kubetrail.model.diagnostic import Severity
from kubetrail.model.policy import Level, PolicyRule
from kubetrail.policy.lint.base import Finding, LintContext, LintRule

# Request bodies that are whole objects (and so may carry managedFields): create and update.
# Patches are logged as sent and never stripped; delete bodies are DeleteOptions.
_OBJECT_BODY_VERBS: Final = frozenset({"create", "update"})


def logs_objects(rule: PolicyRule) -> bool:
    """True if the rule writes request or response objects into the log (spec §6)."""
    if rule.non_resource_urls and not (rule.resources or rule.namespaces):
        return False  # non-resource requests have no objects
    if rule.level == Level.REQUEST_RESPONSE:
        return not rule.verbs or any(v != "watch" for v in rule.verbs)
    if rule.level == Level.REQUEST:
        return not rule.verbs or bool(_OBJECT_BODY_VERBS.intersection(rule.verbs))
    return False


class ManagedFieldsKept(LintRule):
    """## What it does
    Finds rules that log objects (at `Request` or `RequestResponse`, for verbs that carry
    one) while `omitManagedFields` is set neither at the policy level nor on the rule. One
    finding, at the first such rule, counts them all.

    ## Why is this bad?
    `metadata.managedFields` records which field manager owns which field. It is often
    larger than the object itself, tells an investigator nothing the request does not, and is
    written into every logged request and response body: log volume and cost grow for
    nothing.

    ## Example
    ```yaml
    apiVersion: audit.k8s.io/v1
    kind: Policy
    rules:
    - level: RequestResponse
      resources:
      - group: rbac.authorization.k8s.io
    ```

    ## Fix
    Set `omitManagedFields` for the whole policy (a rule can still set it to `false`).
    ```yaml
    apiVersion: audit.k8s.io/v1
    kind: Policy
    omitManagedFields: true
    rules:
    - level: RequestResponse
      resources:
      - group: rbac.authorization.k8s.io
    ```
    """

    code = "KT202"
    name = "managed-fields-kept"
    severity = Severity.WARNING

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        policy = ctx.policy
        if policy.omit_managed_fields:
            return
        # A rule's explicit `omitManagedFields: false` is a deliberate choice: not reported.
        keeping = [
            i
            for i, rule in enumerate(policy.rules)
            if rule.omit_managed_fields is None and logs_objects(rule)
        ]
        if not keeping:
            return
        count = len(keeping)
        subject = "this rule logs" if count == 1 else f"{count} rules (this is the first) log"
        yield self.at_rule(
            ctx,
            keeping[0],
            f"{subject} objects with their managedFields: omitManagedFields is not set",
            hint="set `omitManagedFields: true` at the policy level",
        )
