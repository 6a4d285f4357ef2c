"""KT105 pod-subresources-missed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from kubetrail.model.diagnostic import Severity
from kubetrail.model.policy import Level, PolicyRule
from kubetrail.policy.evaluate import Decision
from kubetrail.policy.lint.base import Finding, LintContext, LintRule
from kubetrail.policy.lint.probes import (
    Identity,
    content,
    decided_by,
    identities_for,
    namespaces_for,
    resource_request,
)

# Each subresource, the verbs its requests have, and the level above which logging more
# records nothing more: exec, attach and portforward carry no body (their command is in the
# URL, logged at Metadata); an ephemeral container's spec is the request body.
SUBRESOURCES: Final = {
    "exec": (("create", "get"), Level.METADATA),
    "attach": (("create", "get"), Level.METADATA),
    "portforward": (("create", "get"), Level.METADATA),
    "ephemeralcontainers": (("get", "update", "patch"), Level.REQUEST),
}
_POD_VERBS: Final = ("get", "list", "watch", "create", "update", "patch", "delete")
_NAMED: Final = frozenset({"get", "update", "patch", "delete"})
_POD: Final = "probe-pod"


def _core(group: str) -> bool:
    return group in ("", "*")


def lists_pods(rule: PolicyRule) -> bool:
    """Whether the rule names ``pods`` itself in a core (or any-group) entry."""
    return any(_core(e.group) and "pods" in e.resources for e in rule.resources)


def covers_subresource(rule: PolicyRule, sub: str) -> bool:
    """Whether the rule's own resource patterns match ``pods/<sub>``."""
    wanted = {"*", "pods/*", f"*/{sub}", f"pods/{sub}"}
    return any(
        _core(e.group) and (not e.resources or not wanted.isdisjoint(e.resources))
        for e in rule.resources
    )


def _pod_name(rule: PolicyRule) -> str:
    for entry in rule.resources:
        if _core(entry.group) and "pods" in entry.resources and entry.resource_names:
            return entry.resource_names[0]
    return _POD


class PodSubresourcesMissed(LintRule):
    """## What it does
    Finds rules that list `pods` but not the subresources through which people get into
    pods: `pods/exec`, `pods/attach`, `pods/portforward` and `pods/ephemeralcontainers`,
    when the whole policy then logs those requests less than the pods themselves (often
    not at all). A later rule that logs them is taken into account.

    ## Why is this bad?
    The resource `pods` matches requests on pods only; `kubectl exec`, `attach`,
    `port-forward` and `debug` are requests on subresources, which need `pods/exec` and
    so on (or `pods/*`). A policy that carefully logs pod changes can leave shell access to
    every container out of the audit log.

    ## Example
    ```yaml
    - level: RequestResponse
      resources:
      - group: ""
        resources: ["pods"]
    - level: None
    ```

    ## Fix
    List the subresources too, or use `pods/*` (pods and all their subresources).
    ```yaml
    - level: RequestResponse
      resources:
      - group: ""
        resources: ["pods", "pods/exec", "pods/attach", "pods/portforward",
                    "pods/ephemeralcontainers"]
    - level: None
    ```
    """

    code = "KT105"
    name = "pod-subresources-missed"
    severity = Severity.WARNING

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for index, rule in enumerate(ctx.policy.rules):
            if not lists_pods(rule):
                continue
            missing = [s for s in SUBRESOURCES if not covers_subresource(rule, s)]
            if missing:
                yield from self._probe(ctx, index, rule, missing)

    def _probe(
        self, ctx: LintContext, index: int, rule: PolicyRule, missing: list[str]
    ) -> Iterator[Finding]:
        evaluator = ctx.evaluator
        verbs = [v for v in _POD_VERBS if not rule.verbs or v in rule.verbs]
        name = _pod_name(rule)
        level = Level(rule.level)
        # subresource -> (best decision among its verbs, identity, namespace), first probe
        gaps: dict[str, tuple[Decision, Identity, str]] = {}
        for identity in identities_for(rule):
            for namespace in namespaces_for(rule):

                def decide(
                    verb: str, sub: str = "", who: Identity = identity, ns: str = namespace
                ) -> Decision:
                    return evaluator.evaluate(
                        resource_request(
                            verb,
                            "pods",
                            identity=who,
                            namespace=ns,
                            name=name if sub or verb in _NAMED else "",
                            subresource=sub,
                        )
                    )

                if not any(decide(verb).rule == index for verb in verbs):
                    continue  # the rule does not decide this identity's pod requests
                for sub in missing:
                    sub_verbs, cap = SUBRESOURCES[sub]
                    best = max((decide(v, sub) for v in sub_verbs), key=lambda d: d.level.order)
                    if content(best.level, cap) < content(level, cap):
                        gaps.setdefault(sub, (best, identity, namespace))
        if not gaps:
            return
        found = [s for s in SUBRESOURCES if s in gaps]
        parts = [f"pods/{s} at {gaps[s][0].level} ({decided_by(gaps[s][0])})" for s in found]
        _, identity, namespace = gaps[found[0]]
        yield self.at_rule(
            ctx,
            index,
            f"rules[{index}] logs pods at {level} but {', '.join(parts)}, e.g. for "
            f"{identity.label} in namespace {namespace}",
            hint=f"add {', '.join(f'pods/{s}' for s in found)} to its resources (or use pods/*)",
        )
