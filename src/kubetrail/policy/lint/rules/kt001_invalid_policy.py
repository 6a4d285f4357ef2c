"""KT001 invalid-policy."""

from __future__ import annotations

from collections.abc import Iterator

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding, LintContext, LintRule

_LOAD_CODES = ("decode", "validation", "api-version", "no-rules")


class InvalidPolicy(LintRule):
    """## What it does
    Reports every reason kube-apiserver would refuse to load the policy, with the exact
    message kube-apiserver logs: validation errors (`rules[3].level: Required value`),
    type errors, a wrong `apiVersion` or `kind`, and a policy without rules.

    ## Why is this bad?
    kube-apiserver reads the audit policy only at start-up, and a policy it cannot load
    stops it from starting: the control plane is down until someone fixes the file on the
    node.

    ## Example
    ```yaml
    rules:
    - level: Metadta
    ```

    ## Fix
    Correct each reported field; `kubetrail policy validate` shows the same errors.
    ```yaml
    rules:
    - level: Metadata
    ```
    """

    code = "KT001"
    name = "invalid-policy"
    severity = Severity.ERROR
    needs_valid_policy = False

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for diag in ctx.decoded.errors:
            if diag.code in _LOAD_CODES:
                yield self.finding(diag.message, diag.location, hint=diag.hint)
