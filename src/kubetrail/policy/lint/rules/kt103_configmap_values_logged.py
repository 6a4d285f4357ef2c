"""KT103 configmap-values-logged."""

from __future__ import annotations

from collections.abc import Iterator

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding, LintContext, LintRule
from kubetrail.policy.lint.probes import (
    RESPONSE_VERBS,
    WRITE_VERBS,
    bodies_logged,
    verb_list,
)


class ConfigmapValuesLogged(LintRule):
    """## What it does
    Finds rules that write the contents of `configmaps` into the log: the request bodies of
    create, update and patch (logged at `Request` and above), or the responses of get, list,
    create, update, patch and delete (logged at `RequestResponse`). Rules that log only
    config maps named in `resourceNames` are left alone: whoever names an object knows what
    it holds.

    ## Why is this bad?
    Config maps are meant for non-secret data, but in practice they often hold database
    URLs with passwords, API keys and cloud credentials. Their values then reach everyone
    who can read the audit log. Not every config map is sensitive, hence a warning.

    ## Example
    ```yaml
    - level: Request
      resources:
      - group: ""
        resources: [configmaps]
      namespaces: [kube-system]
    ```

    ## Fix
    Log config maps at `Metadata`, or name the few config maps whose changes you want in
    full with `resourceNames`.
    ```yaml
    - level: Request
      resources:
      - group: ""
        resources: [configmaps]
        resourceNames: [aws-auth]
      namespaces: [kube-system]
    - level: Metadata
      resources:
      - group: ""
        resources: [configmaps]
    ```
    """

    code = "KT103"
    name = "configmap-values-logged"
    severity = Severity.WARNING

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        found = bodies_logged(
            ctx,
            group="",
            resource="configmaps",
            request_verbs=WRITE_VERBS,
            response_verbs=RESPONSE_VERBS,
            listed_names=False,
        )
        for index in sorted(found):
            level = ctx.policy.rules[index].level
            yield self.at_rule(
                ctx,
                index,
                f"`configmaps` {verb_list(found[index])} logged at {level}: "
                "config map values (often credentials) are written to the log",
                hint=(
                    "log config maps at Metadata in a rule before this one, or limit this "
                    "rule to named config maps with `resourceNames`"
                ),
            )
