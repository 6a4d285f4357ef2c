"""KT003 duplicate-field."""

from __future__ import annotations

from collections.abc import Iterator

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding, LintContext, LintRule


class DuplicateField(LintRule):
    """## What it does
    Finds a key given twice in the same mapping.

    ## Why is this bad?
    kube-apiserver keeps the last value and silently drops the first, so a rule written as
    two partial lists (`verbs: [get]` ... `verbs: [list]`) keeps only one of them.

    ## Example
    ```yaml
    - level: Metadata
      verbs: [get]
      resources: [{resources: [secrets]}]
      verbs: [list, watch]
    ```

    ## Fix
    Merge the values into one key: `verbs: [get, list, watch]`.
    """

    code = "KT003"
    name = "duplicate-field"
    severity = Severity.WARNING
    needs_valid_policy = False

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for diag in ctx.decoded.warnings:
            if diag.code == "duplicate-field":
                yield self.finding(diag.message, diag.location, hint=diag.hint)
