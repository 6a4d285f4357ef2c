"""KT002 unknown-field."""

from __future__ import annotations

from collections.abc import Iterator

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding, LintContext, LintRule


class UnknownField(LintRule):
    """## What it does
    Finds keys that are not fields of an audit Policy, including mis-cased ones (`Verbs`)
    and near-misses (`resource:` for `resources:`).

    ## Why is this bad?
    kube-apiserver decodes the policy leniently and drops unknown keys, so the rule means
    something else than it says. OpenShift's policies have `resource: [machineconfigs]`
    under a group: the key is dropped, the entry selects every resource of the group.

    ## Example
    ```yaml
    - level: Metadata
      resources:
      - group: machineconfiguration.openshift.io
        resource: [machineconfigs]
    ```

    ## Fix
    Use the field's exact name (`resources`, `userGroups`, `nonResourceURLs`, ...).
    """

    code = "KT002"
    name = "unknown-field"
    severity = Severity.WARNING
    needs_valid_policy = False

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for diag in ctx.decoded.warnings:
            if diag.code == "unknown-field":
                yield self.finding(diag.message, diag.location, hint=diag.hint)
