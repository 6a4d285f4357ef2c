"""Policy evaluation: which level, stages and managed-fields setting a request gets.

Two implementations of the same function:

* :func:`reference_decide` is a plain transliteration of k8s.io/apiserver
  ``pkg/audit/policy/checker.go`` (``EvaluatePolicyRule``, ``ruleMatches``,
  ``ruleMatchesResource``, ``ruleMatchesNonResource``, ``pathMatches``). It is the oracle the
  tests compare against and is kept deliberately naive.
* :class:`Evaluator` compiles a policy once and answers fast. Every request is first reduced to
  the features the policy can tell apart (a user no rule names is the same as any other such
  user, a name no ``resourceNames`` lists is the same as any other, ...). Requests with equal
  reduced keys provably get the same decision, so decisions are cached by that key. A cache
  miss runs the compiled first-match loop over per-rule frozensets.

First matching rule wins; no match means level ``None`` with the policy-wide ``omitStages``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

import msgspec

from kubetrail.errors import PolicyError
from kubetrail.model.attributes import RequestAttributes
from kubetrail.model.policy import GroupResources, Level, Policy, PolicyRule, Stage


class Decision(msgspec.Struct, frozen=True, gc=False):
    """The audit configuration for one request (upstream ``RequestAuditConfig``).

    ``rule`` is the 0-based index of the matching rule, or ``None`` when no rule matched.
    """

    level: Level
    omit_stages: frozenset[Stage]
    omit_managed_fields: bool
    rule: int | None


# --------------------------------------------------------------------------------------------
# Reference: checker.go, line for line.
# --------------------------------------------------------------------------------------------


def path_matches(path: str, spec: str) -> bool:
    # checker.go pathMatches: "*", exact, or a trailing "*" (all trailing stars trimmed) prefix.
    if spec == "*":
        return True
    if spec == path:
        return True
    return spec.endswith("*") and path.startswith(spec.rstrip("*"))


def resources_match(resources: Sequence[GroupResources], a: RequestAttributes) -> bool:
    """The ``resources`` part of checker.go ``ruleMatchesResource`` (non-empty list)."""
    combined = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    for gr in resources:
        if gr.group != a.api_group and gr.group != "*":
            continue
        if not gr.resources:
            return True
        for res in gr.resources:
            if gr.resource_names and a.name not in gr.resource_names:
                continue
            if res in (combined, "*"):
                return True
            if a.subresource and res.startswith("*/") and a.subresource == res[2:]:
                return True
            if res.endswith("/*") and a.resource == res[:-2]:
                return True
    return False


def _rule_matches_resource(rule: PolicyRule, a: RequestAttributes) -> bool:
    # checker.go ruleMatchesResource
    if not a.resource_request:
        return False
    if rule.namespaces and a.namespace not in rule.namespaces:
        return False  # non-namespaced resources use the empty string
    return not rule.resources or resources_match(rule.resources, a)


def _rule_matches(rule: PolicyRule, a: RequestAttributes) -> bool:
    # checker.go ruleMatches
    if rule.users and (a.user is None or a.user not in rule.users):
        return False
    if rule.user_groups:
        if a.user is None:
            return False
        if not any(g in rule.user_groups for g in a.groups):
            return False
    if rule.verbs and a.verb not in rule.verbs:
        return False
    if rule.namespaces or rule.resources:
        return _rule_matches_resource(rule, a)
    if rule.non_resource_urls:
        # checker.go ruleMatchesNonResource
        if a.resource_request:
            return False
        return any(path_matches(a.path, spec) for spec in rule.non_resource_urls)
    return True


def _stages(values: Iterable[str]) -> frozenset[Stage]:
    try:
        return frozenset(Stage(v) for v in values)
    except ValueError as exc:
        raise PolicyError(f"policy is not valid (validate it first): {exc}") from None


def _level(value: str) -> Level:
    try:
        return Level(value)
    except ValueError:
        raise PolicyError(
            f"policy is not valid (validate it first): unsupported level {value!r}"
        ) from None


def rule_decisions(policy: Policy) -> tuple[list[Decision], Decision]:
    """The decision each rule gives when it matches, and the no-match decision.

    Mirrors ``NewPolicyRuleEvaluator`` (rule ``omitStages`` become the union with the policy's)
    and ``isOmitManagedFields`` (a rule's explicit true *or false* overrides the policy).
    """
    policy_stages = _stages(policy.omit_stages)
    per_rule = [
        Decision(
            level=_level(rule.level),
            omit_stages=policy_stages | _stages(rule.omit_stages),
            omit_managed_fields=(
                policy.omit_managed_fields
                if rule.omit_managed_fields is None
                else rule.omit_managed_fields
            ),
            rule=i,
        )
        for i, rule in enumerate(policy.rules)
    ]
    default = Decision(
        level=Level.NONE,
        omit_stages=policy_stages,
        omit_managed_fields=policy.omit_managed_fields,
        rule=None,
    )
    return per_rule, default


class ReferenceEvaluator:
    """The plain first-match loop: rule decisions prepared once, then checker.go per request.

    This is the baseline the compiled :class:`Evaluator` is measured and tested against.
    """

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._decisions, self._default = rule_decisions(policy)

    def evaluate(self, attrs: RequestAttributes) -> Decision:
        """checker.go ``EvaluatePolicyRule``: the first matching rule decides."""
        for i, rule in enumerate(self.policy.rules):
            if _rule_matches(rule, attrs):
                return self._decisions[i]
        return self._default


def reference_decide(policy: Policy, attrs: RequestAttributes) -> Decision:
    """Evaluate ``policy`` for ``attrs`` by walking the rules, exactly as checker.go does."""
    return ReferenceEvaluator(policy).evaluate(attrs)


# --------------------------------------------------------------------------------------------
# Compiled evaluator.
# --------------------------------------------------------------------------------------------

# Stands for "a value no rule mentions". It contains a NUL byte, which no Kubernetes name,
# verb, group or path can contain; a policy that mentions it anyway disables the reduction.
_OTHER: Final = "\x00other"
_DEFAULT_CACHE_SIZE: Final = 1 << 18


class _Rule:
    """A rule with its lists turned into frozensets (``None`` = no constraint)."""

    __slots__ = (
        "exact_urls",
        "groups",
        "namespaces",
        "prefixes",
        "resource_entries",
        "resource_rule",
        "url_any",
        "url_rule",
        "users",
        "verbs",
    )

    def __init__(self, rule: PolicyRule) -> None:
        self.users = frozenset(rule.users) or None
        self.groups = frozenset(rule.user_groups) or None
        self.verbs = frozenset(rule.verbs) or None
        self.resource_rule = bool(rule.namespaces or rule.resources)
        self.namespaces = frozenset(rule.namespaces) or None
        # (group, names or None, exact combined set, star, "*/sub" subs, "res/*" parents)
        self.resource_entries: tuple[
            tuple[str, frozenset[str] | None, frozenset[str], bool, frozenset[str], frozenset[str]],
            ...,
        ] = tuple(
            (
                gr.group,
                frozenset(gr.resource_names) or None,
                frozenset(gr.resources),
                "*" in gr.resources,
                frozenset(r[2:] for r in gr.resources if r.startswith("*/")),
                frozenset(r[:-2] for r in gr.resources if r.endswith("/*")),
            )
            for gr in rule.resources
        )
        self.url_rule = not self.resource_rule and bool(rule.non_resource_urls)
        self.url_any = "*" in rule.non_resource_urls
        self.exact_urls = frozenset(rule.non_resource_urls)
        self.prefixes = tuple(
            u.rstrip("*") for u in rule.non_resource_urls if u.endswith("*") and u != "*"
        )

    def matches(self, a: RequestAttributes) -> bool:
        if self.users is not None and (a.user is None or a.user not in self.users):
            return False
        if self.groups is not None and (a.user is None or self.groups.isdisjoint(a.groups)):
            return False
        if self.verbs is not None and a.verb not in self.verbs:
            return False
        if self.resource_rule:
            if not a.resource_request:
                return False
            if self.namespaces is not None and a.namespace not in self.namespaces:
                return False
            if not self.resource_entries:
                return True
            sub = a.subresource
            combined = f"{a.resource}/{sub}" if sub else a.resource
            for group, names, exact, star, subs, parents in self.resource_entries:
                if group != a.api_group and group != "*":
                    continue
                if not exact:
                    return True
                if names is not None and a.name not in names:
                    continue
                if star or combined in exact or (sub and sub in subs) or (a.resource in parents):
                    return True
            return False
        if self.url_rule:
            if a.resource_request:
                return False
            path = a.path
            return self.url_any or path in self.exact_urls or path.startswith(self.prefixes)
        return True


class Evaluator:
    """A policy compiled for fast, repeated evaluation.

    >>> ev = Evaluator(policy)            # doctest: +SKIP
    >>> ev.evaluate(attrs).level          # doctest: +SKIP

    The evaluator is safe to share; its cache only ever maps a reduced key to the decision the
    reference evaluator gives for it. ``cache_size`` bounds memory (the cache is cleared when
    full; 0 disables caching).
    """

    def __init__(self, policy: Policy, *, cache_size: int = _DEFAULT_CACHE_SIZE) -> None:
        self.policy = policy
        self._decisions, self._default = rule_decisions(policy)
        self._rules = [_Rule(r) for r in policy.rules]
        self._cache: dict[tuple[object, ...], Decision] = {}
        self._groups_cache: dict[tuple[str, ...], frozenset[str]] = {}
        self._cache_size = cache_size

        rules = policy.rules
        self._users = frozenset(u for r in rules for u in r.users)
        self._group_names = frozenset(g for r in rules for g in r.user_groups)
        self._verbs = frozenset(v for r in rules for v in r.verbs)
        self._namespaces = frozenset(n for r in rules for n in r.namespaces)
        entries = [gr for r in rules for gr in r.resources]
        self._api_groups = frozenset(gr.group for gr in entries)
        patterns = [res for gr in entries for res in gr.resources]
        # What resource patterns can tell apart: the combined "res[/sub]" string (exact
        # patterns), the subresource ("*/sub") and the parent resource ("res/*").
        self._combined = frozenset(patterns)
        self._sub_names = frozenset(p[2:] for p in patterns if p.startswith("*/"))
        self._parents = frozenset(p[:-2] for p in patterns if p.endswith("/*"))
        self._names = frozenset(n for gr in entries for n in gr.resource_names)
        urls = [u for r in rules for u in r.non_resource_urls]
        self._exact_urls = frozenset(urls)
        self._url_prefixes = tuple(sorted({u.rstrip("*") for u in urls if u.endswith("*")}))
        self._reducible = not any(
            "\x00" in s
            for s in (
                *self._users,
                *self._group_names,
                *self._verbs,
                *self._namespaces,
                *self._api_groups,
                *patterns,
                *self._names,
                *urls,
            )
        )

    def __repr__(self) -> str:
        return f"<Evaluator rules={len(self._rules)} cached={len(self._cache)}>"

    def _key(self, a: RequestAttributes) -> tuple[object, ...]:
        """The request reduced to what the policy can distinguish (see module docstring)."""
        user = a.user
        if user is not None and user not in self._users:
            user = _OTHER
        groups = self._groups_cache.get(a.groups)
        if groups is None:
            groups = self._group_names.intersection(a.groups)
            if len(self._groups_cache) < 4096:
                self._groups_cache[a.groups] = groups
        verb = a.verb if a.verb in self._verbs else _OTHER
        if a.resource_request:
            sub = a.subresource
            resource = a.resource
            combined = f"{resource}/{sub}" if sub else resource
            return (
                user,
                groups,
                verb,
                True,
                a.namespace if a.namespace in self._namespaces else _OTHER,
                a.api_group if a.api_group in self._api_groups else _OTHER,
                combined if combined in self._combined else _OTHER,
                sub if (not sub or sub in self._sub_names) else _OTHER,
                resource if resource in self._parents else _OTHER,
                a.name if a.name in self._names else _OTHER,
            )
        path = a.path
        prefixes = self._url_prefixes
        return (
            user,
            groups,
            verb,
            False,
            path if path in self._exact_urls else _OTHER,
            # One C-level startswith over all prefixes first: most paths match none, and
            # building the tuple of matches is then skipped (the key is the same either way).
            tuple([p for p in prefixes if path.startswith(p)])
            if prefixes and path.startswith(prefixes)
            else (),
        )

    def _match(self, a: RequestAttributes) -> Decision:
        for i, rule in enumerate(self._rules):
            if rule.matches(a):
                return self._decisions[i]
        return self._default

    def evaluate(self, attrs: RequestAttributes) -> Decision:
        """The decision for one request."""
        if not self._reducible or not self._cache_size:
            return self._match(attrs)
        key = self._key(attrs)
        decision = self._cache.get(key)
        if decision is None:
            decision = self._match(attrs)
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[key] = decision
        return decision
