"""Which requests change level between two policies — over the technique catalogue first
(what a change costs in detection), then over a recorded sample (counts and bytes)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import msgspec

from kubetrail.catalog.techniques import Catalogue
from kubetrail.model.event import Event
from kubetrail.model.policy import Policy
from kubetrail.policy.coverage import STATUS_ORDER, Coverage, coverage
from kubetrail.policy.evaluate import Evaluator
from kubetrail.policy.resolve import RequestInfoCache, from_event
from kubetrail.policy.simulate import Simulator


class VariantChange(msgspec.Struct, frozen=True):
    """One technique request whose outcome differs between OLD and NEW."""

    technique: str
    request: str  # "list secrets", "get pods/exec", "get /api"
    caller: str
    old_level: str
    new_level: str
    old_sufficient: bool
    new_sufficient: bool

    @property
    def worse(self) -> bool:
        return self.old_sufficient and not self.new_sufficient


class TechniqueChange(msgspec.Struct, frozen=True):
    id: str
    name: str
    old_status: str
    new_status: str
    variants: tuple[VariantChange, ...]

    @property
    def worse(self) -> bool:
        return STATUS_ORDER[self.new_status] < STATUS_ORDER[self.old_status] or any(
            v.worse for v in self.variants
        )


class SampleChange(msgspec.Struct, frozen=True):
    old_level: str
    new_level: str
    verb: str
    resource: str
    user: str
    events: int
    old_bytes: int
    new_bytes: int


class Diff(msgspec.Struct, frozen=True):
    old_percent: float
    new_percent: float
    techniques: tuple[TechniqueChange, ...]  # worse first
    sample_events: int = 0
    sample_changed: int = 0
    old_bytes: int = 0
    new_bytes: int = 0
    sample: tuple[SampleChange, ...] = ()  # most events first


def _technique_changes(old: Coverage, new: Coverage) -> list[TechniqueChange]:
    changes = []
    for before, after in zip(old.techniques, new.techniques, strict=True):
        variants = tuple(
            VariantChange(
                technique=before.technique.id,
                request=a.attributes.describe(),
                caller=a.caller,
                old_level=b.decision.level.value,
                new_level=a.decision.level.value,
                old_sufficient=b.sufficient,
                new_sufficient=a.sufficient,
            )
            for b, a in zip(before.variants, after.variants, strict=True)
            # Only what changes detection: logged at all, or at the level the technique needs.
            # (Level changes that keep both are volume, shown over the sample.)
            if (b.logged, b.sufficient) != (a.logged, a.sufficient)
        )
        if variants or before.status != after.status:
            changes.append(
                TechniqueChange(
                    id=before.technique.id,
                    name=before.technique.name,
                    old_status=before.status,
                    new_status=after.status,
                    variants=variants,
                )
            )
    return sorted(changes, key=lambda c: (not c.worse, c.id))


def diff(
    old: Policy,
    new: Policy,
    catalogue: Catalogue,
    sample: Iterable[Event] = (),
) -> Diff:
    """Compare ``old`` and ``new`` over ``catalogue`` and, if given, a recorded ``sample``."""
    old_cov = coverage(old, catalogue, source="old")
    new_cov = coverage(new, catalogue, source="new")
    old_sim, new_sim = Simulator(Evaluator(old)), Simulator(Evaluator(new))
    counts: Counter[tuple[str, str, str, str, str]] = Counter()
    old_bytes_by: Counter[tuple[str, str, str, str, str]] = Counter()
    new_bytes_by: Counter[tuple[str, str, str, str, str]] = Counter()
    events = changed = old_bytes = new_bytes = 0
    requests = RequestInfoCache()
    for event in sample:
        events += 1
        attrs = from_event(event, requests)
        before, after = old_sim.simulate(event, attrs), new_sim.simulate(event, attrs)
        ob = len(before.line) + 1 if before.line is not None else 0
        nb = len(after.line) + 1 if after.line is not None else 0
        old_bytes += ob
        new_bytes += nb
        if before.decision.level is after.decision.level:
            continue
        changed += 1
        resource = attrs.resource_path if attrs.resource_request else attrs.path
        key = (
            before.decision.level.value,
            after.decision.level.value,
            attrs.verb,
            resource,
            attrs.user or "(no user)",
        )
        counts[key] += 1
        old_bytes_by[key] += ob
        new_bytes_by[key] += nb
    sample_changes = tuple(
        SampleChange(*key, events=n, old_bytes=old_bytes_by[key], new_bytes=new_bytes_by[key])
        for key, n in counts.most_common()
    )
    return Diff(
        old_percent=old_cov.percent(),
        new_percent=new_cov.percent(),
        techniques=tuple(_technique_changes(old_cov, new_cov)),
        sample_events=events,
        sample_changed=changed,
        old_bytes=old_bytes,
        new_bytes=new_bytes,
        sample=sample_changes,
    )
