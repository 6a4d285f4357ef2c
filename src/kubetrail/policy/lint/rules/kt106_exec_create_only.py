"""KT106 exec-create-only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from kubetrail.model.diagnostic import Severity
from kubetrail.model.policy import Level
from kubetrail.policy.evaluate import Decision
from kubetrail.policy.lint.base import Finding, LintContext, LintRule
from kubetrail.policy.lint.probes import (
    IDENTITIES,
    NAMESPACES,
    Identity,
    content,
    decided_by,
    resource_request,
)

# The subresource and the kubectl release that switched it to WebSocket (verb get).
WEBSOCKET_SINCE: Final = {"exec": "1.30", "attach": "1.30", "portforward": "1.31"}
_POD: Final = "probe-pod"


class ExecCreateOnly(LintRule):
    """## What it does
    Finds policies that log `pods/exec`, `pods/attach` or `pods/portforward` for the verb
    `create` but log the same request with the verb `get` less, or not at all. It asks the
    whole policy with a person's `create` and `get` on each subresource.

    ## Why is this bad?
    Over SPDY, `kubectl exec` is a POST (`create`). Since kubectl 1.30, `exec` and `attach`
    use WebSocket, a GET upgrade (`get`), and so does `port-forward` since 1.31; kubectl
    falls back to SPDY only when WebSocket fails. Both verbs occur, and a policy written
    for `create` misses every shell opened by a current kubectl.

    ## Example
    ```yaml
    - level: Metadata
      verbs: ["create"]
      resources:
      - group: ""
        resources: ["pods/exec", "pods/attach", "pods/portforward"]
    - level: None
    ```

    ## Fix
    Match both verbs (or none).
    ```yaml
    - level: Metadata
      verbs: ["create", "get"]
      resources:
      - group: ""
        resources: ["pods/exec", "pods/attach", "pods/portforward"]
    - level: None
    ```
    """

    code = "KT106"
    name = "exec-create-only"
    severity = Severity.WARNING

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        evaluator = ctx.evaluator
        # rule deciding create -> subresource -> (get decision, identity, namespace)
        gaps: dict[int, dict[str, tuple[Decision, Identity, str]]] = {}
        levels: dict[int, Level] = {}
        for sub in WEBSOCKET_SINCE:
            for identity in IDENTITIES:
                for namespace in NAMESPACES:
                    create, get = (
                        evaluator.evaluate(
                            resource_request(
                                verb,
                                "pods",
                                identity=identity,
                                namespace=namespace,
                                name=_POD,
                                subresource=sub,
                            )
                        )
                        for verb in ("create", "get")
                    )
                    # No body either way: anything from Metadata up records the same.
                    if create.rule is None:
                        continue
                    if content(get.level, Level.METADATA) < content(create.level, Level.METADATA):
                        levels[create.rule] = create.level
                        gaps.setdefault(create.rule, {}).setdefault(sub, (get, identity, namespace))
        for index, subs in sorted(gaps.items()):
            names = [f"pods/{s}" for s in subs]
            gets = {f"{d.level} ({decided_by(d)})" for d, _, _ in subs.values()}
            _, identity, namespace = next(iter(subs.values()))
            since = min(WEBSOCKET_SINCE[s] for s in subs)
            yield self.at_rule(
                ctx,
                index,
                f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} logged at "
                f"{levels[index]} for create but at {' or '.join(sorted(gets))} for get, "
                f"which kubectl >= {since} uses (WebSocket), e.g. for {identity.label} in "
                f"namespace {namespace}",
                hint=f'add "get" to the verbs of rules[{index}] (or drop its verbs)',
            )
