"""KT104 secret-reads-partial."""

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

_SECRET: Final = "probe-secret"  # a name no rule is expected to list


class SecretReadsPartial(LintRule):
    """## What it does
    Finds policies that log reading one secret (`get`) but log listing or watching secrets
    less, or not at all. It asks the whole policy, not one rule: a person (in group
    `system:authenticated`) and a service account, in namespaces `default` and
    `kube-system`, reading core `secrets` with `get`, `list` and `watch`.

    ## Why is this bad?
    `kubectl get secrets -o yaml` is a `list`: it returns every secret of the namespace,
    values included, in one request. `kubectl get secrets -w` is a `watch`. A policy that
    logs only `get` records who read one secret but not who dumped them all.

    ## Example
    ```yaml
    - level: Metadata
      verbs: ["get"]
      resources:
      - group: ""
        resources: ["secrets"]
    - level: None
      verbs: ["list", "watch"]
    ```

    ## Fix
    Log every read of secrets at the same level, and only at `Metadata` (a higher level
    writes the secret values into the log).
    ```yaml
    - level: Metadata
      verbs: ["get", "list", "watch"]
      resources:
      - group: ""
        resources: ["secrets"]
    ```
    """

    code = "KT104"
    name = "secret-reads-partial"
    severity = Severity.WARNING

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        evaluator = ctx.evaluator
        # rule deciding get -> verb -> (decision, identity, namespace) of the first probe
        gaps: dict[int, dict[str, tuple[Decision, Identity, str]]] = {}
        levels: dict[int, Level] = {}
        for identity in IDENTITIES:
            for namespace in NAMESPACES:
                get = evaluator.evaluate(
                    resource_request(
                        "get", "secrets", identity=identity, namespace=namespace, name=_SECRET
                    )
                )
                # Reads have no request body: Request and RequestResponse only add the
                # response, i.e. the secret values; Metadata is the bar that matters.
                bar = content(get.level, Level.METADATA)
                if get.rule is None or bar == 0:
                    continue
                for verb in ("list", "watch"):
                    other = evaluator.evaluate(
                        resource_request(verb, "secrets", identity=identity, namespace=namespace)
                    )
                    if content(other.level, Level.METADATA) < bar:
                        levels[get.rule] = get.level
                        gaps.setdefault(get.rule, {}).setdefault(verb, (other, identity, namespace))
        for index, verbs in sorted(gaps.items()):
            parts = [
                f"{verb} at {decision.level} ({decided_by(decision)})"
                for verb, (decision, _, _) in verbs.items()
            ]
            _, identity, namespace = next(iter(verbs.values()))
            yield self.at_rule(
                ctx,
                index,
                f"get of secrets is logged at {levels[index]} (rules[{index}]) but "
                f"{' and '.join(parts)}, e.g. for {identity.label} in namespace {namespace}",
                hint="`kubectl get secrets -o yaml` is a list and `-w` a watch: log list and "
                "watch of secrets at Metadata too",
            )
