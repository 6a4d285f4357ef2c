"""KT004 removed-api-version."""

from __future__ import annotations

from collections.abc import Iterator

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding, LintContext, LintRule


class RemovedApiVersion(LintRule):
    """## What it does
    Finds a policy written for `audit.k8s.io/v1beta1` or `audit.k8s.io/v1alpha1`.

    ## Why is this bad?
    Both versions were removed in Kubernetes 1.24: kube-apiserver refuses the file and does
    not start. Policies copied from older guides (EKS's best-practices policy among them)
    still use `v1beta1`.

    ## Example
    ```yaml
    apiVersion: audit.k8s.io/v1beta1
    kind: Policy
    ```

    ## Fix
    Change the apiVersion; the Policy fields are the same.
    ```yaml
    apiVersion: audit.k8s.io/v1
    kind: Policy
    ```
    """

    code = "KT004"
    name = "removed-api-version"
    severity = Severity.ERROR
    needs_valid_policy = False

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for diag in ctx.decoded.errors:
            if diag.code == "removed-api-version":
                yield self.finding(diag.message, diag.location, hint=diag.hint)
