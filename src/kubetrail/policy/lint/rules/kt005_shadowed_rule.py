"""KT005 shadowed-rule."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from kubetrail.model.diagnostic import Severity
from kubetrail.model.policy import GroupResources, PolicyRule
from kubetrail.policy.lint.base import Finding, LintContext, LintRule
from kubetrail.policy.lint.rules.kt006_never_matches import never_matches


def _subset(narrow: Sequence[str], wide: Sequence[str]) -> bool:
    """Every request ``narrow`` admits is admitted by ``wide`` (an empty list admits all)."""
    return not wide or (bool(narrow) and set(narrow) <= set(wide))


def _pattern_covers(wide: str, narrow: str) -> bool:
    if wide in ("*", narrow):
        return True
    if wide.endswith("/*"):
        parent = wide[:-2]
        return narrow == parent or narrow.startswith(parent + "/")
    if wide.startswith("*/"):
        _, slash, sub = narrow.partition("/")
        return bool(slash) and sub == wide[2:]
    return False


def _entry_covers(wide: GroupResources, narrow: GroupResources) -> bool:
    if wide.group not in ("*", narrow.group):
        return False
    if not wide.resources:
        return True
    if not narrow.resources or not _subset(narrow.resource_names, wide.resource_names):
        return False
    return all(any(_pattern_covers(w, n) for w in wide.resources) for n in narrow.resources)


def _url_covers(wide: str, narrow: str) -> bool:
    if wide in ("*", narrow):
        return True
    if not wide.endswith("*"):
        return False
    return narrow.rstrip("*").startswith(wide.rstrip("*"))


def covers(wide: PolicyRule, narrow: PolicyRule) -> bool:
    """True if every request that ``narrow`` matches is matched by ``wide`` (checker.go).

    Sound, not complete: it compares one rule with one rule, selector by selector.
    """
    if not (
        _subset(narrow.users, wide.users)
        and _subset(narrow.user_groups, wide.user_groups)
        and _subset(narrow.verbs, wide.verbs)
    ):
        return False
    wide_resource = bool(wide.resources or wide.namespaces)
    narrow_resource = bool(narrow.resources or narrow.namespaces)
    if wide_resource:
        if not narrow_resource or not _subset(narrow.namespaces, wide.namespaces):
            return False
        if not wide.resources:
            return True
        return bool(narrow.resources) and all(
            any(_entry_covers(w, n) for w in wide.resources) for n in narrow.resources
        )
    if wide.non_resource_urls:
        if narrow_resource or not narrow.non_resource_urls:
            return False
        return all(
            any(_url_covers(w, n) for w in wide.non_resource_urls) for n in narrow.non_resource_urls
        )
    return True  # no request-shape selectors: the rule matches every request shape


class ShadowedRule(LintRule):
    """## What it does
    Finds rules that are never reached because an earlier rule matches every request they
    match. (Only one earlier rule at a time is compared, so every finding is certain.)

    ## Why is this bad?
    The first matching rule wins. A rule after a broader one is dead: its level never
    applies. Typically a specific `RequestResponse` rule for RBAC placed after a broad
    `Metadata` rule, so RBAC changes are logged without their bodies.

    ## Example
    ```yaml
    - level: Metadata
      resources:
      - group: rbac.authorization.k8s.io
    - level: RequestResponse
      verbs: [create, update, patch, delete]
      resources:
      - group: rbac.authorization.k8s.io
        resources: [clusterrolebindings]
    ```

    ## Fix
    Put the specific rule before the broad one (or delete it if it is redundant).
    """

    code = "KT005"
    name = "shadowed-rule"
    severity = Severity.WARNING

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        rules = ctx.policy.rules
        for j, narrow in enumerate(rules):
            if never_matches(narrow):
                continue  # KT006 says why; "shadowed" would only add noise
            for i in range(j):
                if never_matches(rules[i]) or not covers(rules[i], narrow):
                    continue
                line = ctx.rule_location(i).line
                where = f"rules[{i}] (line {line})" if line else f"rules[{i}]"
                if rules[i].level == narrow.level:
                    message = (
                        f"rules[{j}] is never reached: {where} matches every request it "
                        f"matches, at the same level {narrow.level} (redundant)"
                    )
                else:
                    message = (
                        f"rules[{j}] is never reached: {where} matches every request it "
                        f"matches, so {rules[i].level} applies instead of {narrow.level}"
                    )
                yield self.at_rule(ctx, j, message, hint=f"move it before rules[{i}], or delete it")
                break
