"""KT101 secret-values-logged.

Also holds the probing helpers shared by the rules that judge a policy by its effective
decision for representative requests (KT101, KT102, KT103, KT110).
"""

from __future__ import annotations

from collections.abc import Iterator

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding, LintContext, LintRule
from kubetrail.policy.lint.probes import RESPONSE_VERBS, WRITE_VERBS, bodies_logged, verb_list


class SecretValuesLogged(LintRule):
    """## What it does
    Finds rules that write the contents of `secrets` into the log: the request bodies of
    create, update and patch (logged at `Request` and above), or the responses of get, list,
    create, update, patch and delete (logged at `RequestResponse`). Each rule is judged by the
    decision the whole policy gives to representative requests (a user, service accounts, a
    node) so a `Metadata` rule for secrets placed before it is taken into account.

    ## Why is this bad?
    Secret values are base64, not encrypted: anyone who can read the audit log (a SIEM, a log
    bucket, every team with log access) can read every password, token and private key that
    is created or read. Audit logs are usually kept longer and shared wider than etcd.

    ## Example
    ```yaml
    - level: RequestResponse
      resources:
      - group: ""
    ```

    ## Fix
    Log secrets at `Metadata` (who touched which secret, without the values) in a rule placed
    before the broader one.
    ```yaml
    - level: Metadata
      resources:
      - group: ""
        resources: [secrets]
    - level: RequestResponse
      resources:
      - group: ""
    ```
    """

    code = "KT101"
    name = "secret-values-logged"
    severity = Severity.ERROR

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        found = bodies_logged(
            ctx,
            group="",
            resource="secrets",
            request_verbs=WRITE_VERBS,
            response_verbs=RESPONSE_VERBS,
        )
        for index in sorted(found):
            level = ctx.policy.rules[index].level
            yield self.at_rule(
                ctx,
                index,
                f"`secrets` {verb_list(found[index])} logged at {level}: "
                "secret values are written to the log",
                hint=(
                    "add a rule before this one: `- level: Metadata` with "
                    '`resources: [{group: "", resources: [secrets]}]`'
                ),
            )
