"""Which attack techniques a policy logs, which it misses, and which it can only catch by
writing secret values into the log.

Every request variant of every technique in the catalogue
(:mod:`kubetrail.catalog.techniques`) is evaluated with the policy, once for each of a few
representative callers — because first-match ``None`` rules often exempt exactly the
identities attackers use (a service account in ``kube-system``, a node, anonymous).

Per variant and caller:

* ``logged``: an event is written at all — the level is not ``None`` and the stage that
  carries the outcome is kept (``ResponseComplete``; for long-running requests also
  ``ResponseStarted``);
* ``sufficient``: logged at or above the level the technique needs (a privileged pod is
  only visible in the request body, so it needs ``Request``).

Per technique, from ``sufficient``: ``covered`` (every variant), ``partial``, ``missed``
(none), or ``unsafe`` (the technique can only be seen by logging secret values).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

import msgspec

from kubetrail.catalog.techniques import Catalogue, Identity, Technique, Variant
from kubetrail.model.attributes import RequestAttributes
from kubetrail.model.policy import Level, Policy, Stage
from kubetrail.policy.evaluate import Decision, Evaluator
from kubetrail.policy.explain import is_long_running

Status = Literal["covered", "partial", "missed", "unsafe"]
STATUS_ORDER: Final[dict[str, int]] = {"missed": 0, "partial": 1, "unsafe": 2, "covered": 3}


class Caller(msgspec.Struct, frozen=True):
    """A representative identity: a short name and who it is."""

    name: str
    identity: Identity


#: The callers every variant is tried with (unless the technique names its own caller).
CALLERS: Final = (
    Caller("user", Identity("alice", ("system:authenticated",))),
    Caller(
        "app-serviceaccount",
        Identity(
            "system:serviceaccount:shop:default",
            ("system:serviceaccounts", "system:serviceaccounts:shop", "system:authenticated"),
        ),
    ),
    Caller(
        "kube-system-serviceaccount",
        Identity(
            "system:serviceaccount:kube-system:default",
            (
                "system:serviceaccounts",
                "system:serviceaccounts:kube-system",
                "system:authenticated",
            ),
        ),
    ),
    Caller("node", Identity("system:node:worker-1", ("system:nodes", "system:authenticated"))),
    Caller("anonymous", Identity("system:anonymous", ("system:unauthenticated",))),
)


class VariantResult(msgspec.Struct, frozen=True):
    """One request variant, made by one caller, as the policy decides it."""

    variant: Variant
    caller: str
    attributes: RequestAttributes
    decision: Decision
    needed: Level
    logged: bool
    sufficient: bool


class TechniqueResult(msgspec.Struct, frozen=True):
    """A technique's status and its variants' results."""

    technique: Technique
    status: Status
    variants: tuple[VariantResult, ...]

    @property
    def gaps(self) -> tuple[VariantResult, ...]:
        """The variants that are not logged sufficiently."""
        return tuple(v for v in self.variants if not v.sufficient)


class Coverage(msgspec.Struct, frozen=True):
    """The coverage of one policy."""

    source: str
    techniques: tuple[TechniqueResult, ...]

    def summary(self) -> dict[str, int]:
        counts = {"covered": 0, "partial": 0, "missed": 0, "unsafe": 0}
        for t in self.techniques:
            counts[t.status] += 1
        return counts

    def percent(self) -> float:
        """Covered techniques as a share of those that can be covered safely."""
        counts = self.summary()
        safe = len(self.techniques) - counts["unsafe"]
        return 100.0 * counts["covered"] / safe if safe else 100.0

    def worst_first(self) -> list[TechniqueResult]:
        return sorted(
            self.techniques,
            key=lambda t: (STATUS_ORDER[t.status], t.technique.tactic, t.technique.id),
        )


def outcome_logged(decision: Decision, attrs: RequestAttributes) -> bool:
    """True if an event carrying the request's outcome is written."""
    if decision.level is Level.NONE:
        return False
    stages = {Stage.RESPONSE_COMPLETE}
    if attrs.resource_request and is_long_running(attrs.verb, attrs.subresource):
        stages.add(Stage.RESPONSE_STARTED)
    return not stages <= decision.omit_stages


def _callers(technique: Technique, variant: Variant, callers: Sequence[Caller]) -> list[Caller]:
    own = technique.identity_for(variant)
    return [Caller("as-described", own)] if own is not None else list(callers)


def technique_coverage(
    evaluator: Evaluator, technique: Technique, callers: Sequence[Caller] = CALLERS
) -> TechniqueResult:
    """Evaluate every variant of ``technique`` for every caller."""
    results = []
    for variant in technique.variants:
        needed = technique.level_for(variant)
        for caller in _callers(technique, variant, callers):
            attrs = variant.attributes(caller.identity)
            decision = evaluator.evaluate(attrs)
            logged = outcome_logged(decision, attrs)
            results.append(
                VariantResult(
                    variant=variant,
                    caller=caller.name,
                    attributes=attrs,
                    decision=decision,
                    needed=needed,
                    logged=logged,
                    sufficient=logged and decision.level.at_least(needed),
                )
            )
    status: Status
    if technique.secret_material:
        status = "unsafe"
    elif all(r.sufficient for r in results):
        status = "covered"
    elif any(r.sufficient for r in results):
        status = "partial"
    else:
        status = "missed"
    return TechniqueResult(technique=technique, status=status, variants=tuple(results))


def coverage(
    policy: Policy, catalogue: Catalogue, *, source: str, callers: Sequence[Caller] = CALLERS
) -> Coverage:
    """The coverage of ``policy`` over every technique of ``catalogue``."""
    evaluator = Evaluator(policy)
    return Coverage(
        source=source,
        techniques=tuple(technique_coverage(evaluator, t, callers) for t in catalogue.techniques),
    )


def to_json(result: Coverage) -> dict[str, object]:
    """The stable JSON shape of ``policy coverage --format json``."""
    return {
        "policy": result.source,
        "summary": result.summary(),
        "techniques": [
            {
                "id": t.technique.id,
                "name": t.technique.name,
                "status": t.status,
                "variants": [
                    {
                        "verb": v.attributes.verb,
                        "apiGroup": v.attributes.api_group,
                        "resource": v.attributes.resource,
                        "subresource": v.attributes.subresource,
                        "user": v.attributes.user or "",
                        "groups": list(v.attributes.groups),
                        "level": v.decision.level.value,
                        "omitStages": sorted(v.decision.omit_stages),
                        "needed": v.needed.value,
                        "logged": v.logged,
                        "sufficient": v.sufficient,
                    }
                    for v in t.variants
                ],
            }
            for t in result.techniques
        ],
    }
