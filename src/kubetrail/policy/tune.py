"""Propose a cheaper policy that sees every attack the current one sees.

Candidate cuts are the usual high-volume, low-value traffic (health checks, leader-election
leases, kubelet status reports, kube-proxy and controller watches, discovery), ``Metadata``
instead of bodies for large list responses, ``omitStages: [RequestReceived]`` and
``omitManagedFields``. Each candidate is tried on top of what was accepted so far:

* it must not make any request of any technique in the catalogue, for any of the coverage
  callers, logged less than the technique needs where the current policy logs it enough
  (checked with :mod:`kubetrail.policy.coverage`, the proof is the whole catalogue);
* it must save bytes on the sample (measured with :mod:`kubetrail.policy.simulate`).

New rules go first (first match wins, so each one only takes the requests it selects — the
coverage check is what makes that safe). The proposal is the original text with the rules
inserted, each with a comment stating its saving, so the user's own comments survive.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import msgspec
import yaml

from kubetrail.catalog.techniques import Catalogue
from kubetrail.errors import UsageError
from kubetrail.model.event import Event
from kubetrail.model.policy import GroupResources, Policy, PolicyRule
from kubetrail.policy.coverage import Coverage, coverage
from kubetrail.policy.evaluate import Evaluator
from kubetrail.policy.load import LoadedPolicy
from kubetrail.policy.simulate import Simulator
from kubetrail.text import human_bytes

DAY: Final = 86400.0


class Candidate(msgspec.Struct, frozen=True):
    """A proposed cut: a rule to put first, or a policy-level setting."""

    name: str
    why: str
    rule: PolicyRule | None = None
    omit_request_received: bool = False
    omit_managed_fields: bool = False


def _rule(level: str, **kw: object) -> PolicyRule:
    return PolicyRule(level=level, **kw)  # type: ignore[arg-type]


CANDIDATES: Final = (
    Candidate(
        "request-received",
        "RequestReceived repeats every logged request",
        omit_request_received=True,
    ),
    Candidate(
        "managed-fields", "managedFields bloat every logged object", omit_managed_fields=True
    ),
    Candidate(
        "health-checks",
        "health checks: constant, no security value",
        _rule("None", non_resource_urls=["/healthz*", "/livez*", "/readyz*"]),
    ),
    Candidate(
        "leases",
        "leader-election and node leases: renewed every few seconds",
        _rule(
            "None",
            verbs=["get", "update"],
            resources=[GroupResources(group="coordination.k8s.io", resources=["leases"])],
        ),
    ),
    Candidate(
        "kubelet-status",
        "kubelets reporting node and pod status",
        _rule(
            "None",
            user_groups=["system:nodes"],
            verbs=["get", "update", "patch"],
            resources=[GroupResources(resources=["nodes/status", "pods/status"])],
        ),
    ),
    Candidate(
        "kube-proxy-watches",
        "kube-proxy watching services and endpoints",
        _rule(
            "None",
            users=["system:kube-proxy"],
            verbs=["watch"],
            resources=[
                GroupResources(resources=["endpoints", "services", "services/status"]),
                GroupResources(group="discovery.k8s.io", resources=["endpointslices"]),
            ],
        ),
    ),
    Candidate(
        "controller-watches",
        "control-plane components watching what they manage",
        _rule(
            "None",
            users=["system:kube-controller-manager", "system:kube-scheduler"],
            verbs=["watch"],
        ),
    ),
    Candidate(
        "openapi",
        "OpenAPI documents: large and frequent",
        _rule("None", non_resource_urls=["/openapi/*", "/swagger*"]),
    ),
    Candidate(
        "list-bodies",
        "large list responses: who listed what is enough",
        _rule("Metadata", verbs=["list"]),
    ),
)


def parse_budget(text: str) -> float:
    """``5GB/day``, ``500MB/day``, ``2GiB/day``, ``1TB/day`` → bytes per day."""
    m = re.fullmatch(r"\s*([\d.]+)\s*([kKMGT]i?B)\s*(?:/\s*(day|d|hour|h))?\s*", text)
    if not m:
        raise UsageError(f"not a budget: {text!r} (e.g. 5GB/day)")
    number, unit, per = float(m.group(1)), m.group(2), m.group(3) or "day"
    power = "KMGT".index(unit[0].upper()) + 1
    base = 1024.0 if "i" in unit else 1000.0
    value: float = number * base**power
    return value * 24 if per in ("hour", "h") else value


def _apply(policy: Policy, accepted: Sequence[Candidate]) -> Policy:
    rules = [c.rule for c in accepted if c.rule is not None]
    stages = list(policy.omit_stages)
    if any(c.omit_request_received for c in accepted) and "RequestReceived" not in stages:
        stages.append("RequestReceived")
    return msgspec.structs.replace(
        policy,
        rules=[*rules, *policy.rules],
        omit_stages=stages,
        omit_managed_fields=policy.omit_managed_fields
        or any(c.omit_managed_fields for c in accepted),
    )


def _regressions(before: Coverage, after: Coverage) -> list[str]:
    lost = []
    for b, a in zip(before.techniques, after.techniques, strict=True):
        for vb, va in zip(b.variants, a.variants, strict=True):
            if vb.sufficient and not va.sufficient:
                lost.append(f"{b.technique.id}: {va.attributes.describe()} by {va.caller}")
    return lost


def _bytes(policy: Policy, events: Sequence[Event]) -> int:
    sim = Simulator(Evaluator(policy))
    total = 0
    for event in events:
        line = sim.simulate(event).line
        if line is not None:
            total += len(line) + 1
    return total


class Step(msgspec.Struct, frozen=True):
    candidate: Candidate
    accepted: bool
    saved_bytes: int
    reason: str


class Proposal(msgspec.Struct, frozen=True):
    policy: Policy
    text: str
    steps: tuple[Step, ...]
    before_bytes: int
    after_bytes: int
    seconds: float
    before_percent: float
    after_percent: float

    def per_day(self, size: int) -> float:
        return size * DAY / self.seconds if self.seconds else 0.0


def _not_insertable(loaded: LoadedPolicy, candidate: Candidate) -> str | None:
    """Why a policy-level candidate cannot be added as new lines (the key exists already)."""
    top = loaded.document.value if isinstance(loaded.document.value, dict) else {}
    if candidate.omit_request_received and "omitStages" in top:
        if "RequestReceived" in loaded.policy.omit_stages:
            return "already omitted"
        return "add RequestReceived to the existing omitStages by hand"
    if candidate.omit_managed_fields and "omitManagedFields" in top:
        return "already set" if loaded.policy.omit_managed_fields else "set omitManagedFields: true"
    return None


def tune(
    loaded: LoadedPolicy,
    text: str,
    catalogue: Catalogue,
    events: Sequence[Event],
    *,
    seconds: float,
    budget: float | None = None,
) -> Proposal:
    """Try every candidate; keep those that save bytes and lose no detection.

    ``text`` is the policy file as written (the proposal is that text with rules inserted).
    """
    policy = loaded.policy
    baseline = coverage(policy, catalogue, source=loaded.source)
    before_bytes = current_bytes = _bytes(policy, events)
    accepted: list[Candidate] = []
    steps = []
    for candidate in CANDIDATES:
        if budget is not None and seconds and current_bytes * DAY / seconds <= budget:
            steps.append(Step(candidate, False, 0, "budget already met"))
            continue
        blocked = _not_insertable(loaded, candidate)
        if blocked:
            steps.append(Step(candidate, False, 0, blocked))
            continue
        trial = _apply(policy, [*accepted, candidate])
        lost = _regressions(baseline, coverage(trial, catalogue, source=loaded.source))
        if lost:
            steps.append(Step(candidate, False, 0, f"would lose {lost[0]} (+{len(lost) - 1})"))
            continue
        size = _bytes(trial, events)
        saved = current_bytes - size
        if saved <= 0:
            steps.append(Step(candidate, False, 0, "saves nothing on this sample"))
            continue
        accepted.append(candidate)
        current_bytes = size
        steps.append(Step(candidate, True, saved, "accepted"))
    tuned = _apply(policy, accepted)
    after = coverage(tuned, catalogue, source=loaded.source)
    proposal = Proposal(
        policy=tuned,
        text="",
        steps=tuple(steps),
        before_bytes=before_bytes,
        after_bytes=current_bytes,
        seconds=seconds,
        before_percent=baseline.percent(),
        after_percent=after.percent(),
    )
    return msgspec.structs.replace(proposal, text=render(loaded, text, proposal))


def _rule_yaml(rule: PolicyRule, indent: str) -> list[str]:
    data = msgspec.to_builtins(rule)
    text = yaml.safe_dump([data], sort_keys=False, default_flow_style=None, width=100)
    return [indent + line for line in text.rstrip("\n").splitlines()]


def render(loaded: LoadedPolicy, text: str, proposal: Proposal) -> str:
    """The original policy text with the accepted cuts inserted (comments kept)."""
    source_lines = text.splitlines()
    accepted = [s for s in proposal.steps if s.accepted]
    first = loaded.document.keys.get(("rules", 0))
    rules_key = loaded.document.keys.get(("rules",))
    if not source_lines or first is None or rules_key is None or first.line <= rules_key.line:
        # Flow-style or unusual layout: write the whole policy anew (comments are lost).
        return yaml.safe_dump(msgspec.to_builtins(proposal.policy), sort_keys=False)
    # The recorded position is the item's content; its "-" is on the same line before it.
    dash = source_lines[first.line - 1].rfind("-", 0, first.column - 1)
    indent = " " * max(dash, 0)
    insert: list[str] = []
    for step in accepted:
        if step.candidate.rule is None:
            continue
        saved = human_bytes(proposal.per_day(step.saved_bytes))
        insert.append(f"{indent}# kubetrail tune: {step.candidate.why}; saves {saved}/day")
        insert += _rule_yaml(step.candidate.rule, indent)
    # Right after "rules:", so the first rule keeps the comments above it.
    out = source_lines[: rules_key.line] + insert + source_lines[rules_key.line :]
    top: list[str] = []
    for step in accepted:
        c = step.candidate
        saved = human_bytes(proposal.per_day(step.saved_bytes))
        note = f"# kubetrail tune: {c.why}; saves {saved}/day"
        if c.omit_request_received:
            top += [note, "omitStages: [RequestReceived]"]
        if c.omit_managed_fields:
            top += [note, "omitManagedFields: true"]
    at = rules_key.line - 1
    out = out[:at] + top + out[at:]
    return "\n".join(out) + "\n"
