"""KT102 token-logged."""

from __future__ import annotations

from collections.abc import Iterator

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding, LintContext, LintRule
from kubetrail.policy.lint.probes import bodies_logged


class TokenLogged(LintRule):
    """## What it does
    Finds rules that write bearer tokens into the log: `serviceaccounts/token` create at
    `RequestResponse` (the TokenRequest response holds the issued token) and
    `authentication.k8s.io` `tokenreviews` create at `Request` or above (the TokenReview
    request holds the token to check). Each rule is judged by the decision the whole policy
    gives to representative requests (a user, service accounts, a node).

    ## Why is this bad?
    Every kubelet asks for service account tokens for its pods, and every webhook or
    aggregated API server sends the tokens it receives to TokenReview: the audit log fills
    with live credentials that anyone reading the log can replay against the API server.

    ## Example
    ```yaml
    - level: RequestResponse
      resources:
      - group: ""
      - group: authentication.k8s.io
    ```

    ## Fix
    Log token requests and reviews at `Metadata` in a rule placed before the broader one.
    ```yaml
    - level: Metadata
      resources:
      - group: ""
        resources: [serviceaccounts/token]
      - group: authentication.k8s.io
        resources: [tokenreviews]
    - level: RequestResponse
      resources:
      - group: ""
      - group: authentication.k8s.io
    ```
    """

    code = "KT102"
    name = "token-logged"
    severity = Severity.ERROR

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        requests = bodies_logged(
            ctx,
            group="",
            resource="serviceaccounts",
            subresource="token",
            request_verbs=(),
            response_verbs={"create"},
        )
        reviews = bodies_logged(
            ctx,
            group="authentication.k8s.io",
            resource="tokenreviews",
            namespaced=False,
            request_verbs={"create"},
            response_verbs=(),
        )
        for index in sorted(requests.keys() | reviews.keys()):
            what = []
            if index in requests:
                what.append("`serviceaccounts/token` create")
            if index in reviews:
                what.append("`tokenreviews` create")
            level = ctx.policy.rules[index].level
            yield self.at_rule(
                ctx,
                index,
                f"{' and '.join(what)} logged at {level}: bearer tokens are written to the log",
                hint=(
                    "add a rule before this one: `- level: Metadata` with `resources: "
                    '[{group: "", resources: [serviceaccounts/token]}, '
                    "{group: authentication.k8s.io, resources: [tokenreviews]}]`"
                ),
            )
