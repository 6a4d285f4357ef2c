"""What policies cost: events and bytes per day, per rule, per user, and how long the log
rotation keeps history — measured by simulating a recorded sample.

The byte counts are the lengths of exactly what :mod:`kubetrail.policy.simulate` writes
(one code path), plus one newline per event, as the log backend writes them. Several
policies are measured in one pass over the sample; each event is decoded and resolved once.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final

import msgspec

from kubetrail.model.event import Event
from kubetrail.policy.evaluate import Evaluator
from kubetrail.policy.load import LoadedPolicy
from kubetrail.policy.resolve import RequestInfoCache, from_event
from kubetrail.policy.simulate import Simulator

if TYPE_CHECKING:
    from kubetrail.lake.engine import Engine

MIB: Final = 1024 * 1024
DAY: Final = 86400.0
TOP: Final = 10


class RuleVolume(msgspec.Struct):
    index: int
    line: int | None
    level: str
    events: int = 0
    bytes: int = 0


class Rotation(msgspec.Struct, frozen=True):
    """``--audit-log-maxsize/maxbackup/maxage``: how much history stays on disk."""

    maxsize_mb: int = 100
    maxbackup: int = 100
    maxage_days: int = 366

    def capacity_bytes(self) -> int | None:
        """Bytes kept on disk (active file + backups); None when nothing is ever deleted."""
        if self.maxsize_mb == 0 or self.maxbackup == 0:
            return None  # no rotation (1.36: maxsize 0) or unlimited backups
        return self.maxsize_mb * MIB * (self.maxbackup + 1)

    def hours_kept(self, bytes_per_day: float) -> float | None:
        capacity = self.capacity_bytes()
        by_age = self.maxage_days * 24.0 if self.maxage_days else None
        if capacity is None or bytes_per_day <= 0:
            return by_age
        by_size = capacity / bytes_per_day * 24.0
        return min(by_size, by_age) if by_age is not None else by_size


class PolicyVolume:
    """Running totals for one policy."""

    def __init__(self, loaded: LoadedPolicy) -> None:
        self.loaded = loaded
        self.simulator = Simulator(Evaluator(loaded.policy))
        self.events = 0
        self.bytes = 0
        self.lacking = 0
        self._gzip = zlib.compressobj(6, zlib.DEFLATED, 31)
        self.gzip_bytes = 0
        self.rules = [
            RuleVolume(index=i, line=loaded.rule_line(i), level=r.level)
            for i, r in enumerate(loaded.policy.rules)
        ]
        self.top: dict[str, Counter[str]] = {
            "users": Counter(),
            "verbs": Counter(),
            "resources": Counter(),
            "userAgents": Counter(),
        }

    def add(self, event: Event, line: bytes, rule: int | None, resource: str) -> None:
        size = len(line) + 1
        self.events += 1
        self.bytes += size
        self.gzip_bytes += len(self._gzip.compress(line + b"\n"))
        if rule is not None:
            self.rules[rule].events += 1
            self.rules[rule].bytes += size
        self.top["users"][event.user.username or "(no user)"] += size
        self.top["verbs"][event.verb] += size
        self.top["resources"][resource] += size
        self.top["userAgents"][event.user_agent.split(" ")[0] or "(none)"] += size

    def finish(self) -> None:
        self.gzip_bytes += len(self._gzip.flush())


class Sample:
    """What the recorded sample holds."""

    def __init__(self) -> None:
        self.events = 0
        self.bytes = 0
        self.first: str | None = None
        self.last: str | None = None

    def add(self, event: Event, size: int) -> None:
        self.events += 1
        self.bytes += size
        when = event.stage_at()
        if when:
            if self.first is None or when < self.first:
                self.first = when
            if self.last is None or when > self.last:
                self.last = when

    def seconds(self) -> float:
        """The time the sample spans (0 if unknown)."""
        if not self.first or not self.last:
            return 0.0
        try:
            start = datetime.fromisoformat(self.first.replace("Z", "+00:00"))
            end = datetime.fromisoformat(self.last.replace("Z", "+00:00"))
        except ValueError:
            return 0.0
        return max((end - start).total_seconds(), 0.0)


class TopEntry(msgspec.Struct):
    name: str
    bytes: int


class PolicyResult(msgspec.Struct):
    """One policy's volume (the ``policies[]`` entries of ``policy volume --format json``)."""

    path: str
    events: int
    bytes: int
    bytes_per_day: int
    events_per_day: int
    gzip_bytes: int
    lacking: int
    hours_kept: float | None
    rules: list[RuleVolume]
    top: dict[str, list[TopEntry]]


class SampleInfo(msgspec.Struct):
    events: int
    bytes: int
    seconds: float


class VolumeReport(msgspec.Struct):
    sample: SampleInfo
    policies: list[PolicyResult]
    # True when the events came from the lake: they are stored canonical and redacted, so the
    # bytes are estimates of what kube-apiserver would write, not measurements of a recording.
    estimated: bool = False


def lake_sample(
    engine: Engine, since: datetime | None = None, until: datetime | None = None
) -> Iterator[tuple[Event, int]]:
    """The lake's events (exact duplicates removed), oldest first, as a sample for
    :func:`measure`: each with its stored size (``event_bytes``: the canonical, redacted
    event — an estimate of the line kube-apiserver wrote)."""
    from kubetrail.detect.engine import event_from_row, lake_events

    encode, decode = msgspec.json.encode, msgspec.json.Decoder(Event).decode
    for _, row in lake_events(engine, since, until=until):
        line = encode(event_from_row(row))  # the one decoder reads it, as a file's line
        size = row.get("event_bytes")
        yield decode(line), (int(size) if size is not None else len(line)) + 1


def measure(
    policies: Sequence[LoadedPolicy],
    events: Iterable[tuple[Event, int]],
    *,
    rotation: Rotation | None = None,
) -> VolumeReport:
    """Volume of each policy over ``events`` (decoded events with their recorded size).

    ``rotation`` defaults to kube-apiserver's flag defaults (1.36: 100 MB x 100 backups, 366 d).
    """
    rotation = rotation or Rotation()
    volumes = [PolicyVolume(p) for p in policies]
    sample = Sample()
    requests = RequestInfoCache()
    for event, size in events:
        sample.add(event, size)
        attrs = from_event(event, requests)
        resource = attrs.resource_path if attrs.resource_request else attrs.path or "(non-resource)"
        for volume in volumes:
            outcome = volume.simulator.simulate(event, attrs)
            if outcome.line is not None:
                volume.add(event, outcome.line, outcome.decision.rule, resource)
                volume.lacking += outcome.lacking
    seconds = sample.seconds()
    out = []
    for volume in volumes:
        volume.finish()
        per_day = volume.bytes * DAY / seconds if seconds else 0.0
        out.append(
            PolicyResult(
                path=volume.loaded.source,
                events=volume.events,
                bytes=volume.bytes,
                bytes_per_day=round(per_day),
                events_per_day=round(volume.events * DAY / seconds) if seconds else 0,
                gzip_bytes=volume.gzip_bytes,
                lacking=volume.lacking,
                hours_kept=rotation.hours_kept(per_day),
                rules=volume.rules,
                top={
                    name: [TopEntry(k, v) for k, v in counter.most_common(TOP)]
                    for name, counter in volume.top.items()
                },
            )
        )
    return VolumeReport(
        sample=SampleInfo(events=sample.events, bytes=sample.bytes, seconds=seconds),
        policies=out,
    )
