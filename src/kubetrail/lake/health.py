"""Pipeline health: is every API server still sending? A silent audit pipeline is the first
thing an attacker arranges.

Per cluster and API server: events, the last event's time and how long ago that was, the
largest gaps between consecutive events, the ingest lag (ingest time minus received time), and
lake-wide exact duplicates and audit-ID collisions (same ID and stage, different content).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

import msgspec

from kubetrail.lake.engine import Engine


class Gap(msgspec.Struct, frozen=True):
    start: datetime
    end: datetime
    seconds: float


class Stream(msgspec.Struct, frozen=True, kw_only=True):
    cluster: str
    apiserver: str | None
    events: int
    first: datetime
    last: datetime
    silent_seconds: float
    lag_p50_seconds: float | None
    lag_max_seconds: float | None
    gaps: list[Gap]


class Health(msgspec.Struct, frozen=True, kw_only=True):
    streams: list[Stream]
    stored_rows: int
    events: int
    duplicates: int
    collisions: int
    collision_examples: list[str]
    silent_after_seconds: float

    @property
    def silent(self) -> list[Stream]:
        return [s for s in self.streams if s.silent_seconds > self.silent_after_seconds]


# Seconds from receipt to ingest, in microseconds (date_diff, not epoch(): the same SQL then
# runs on Spark, whose epoch seconds are whole).
_LAG: Final = "date_diff('microsecond', received_at, ingested_at)"


def health(engine: Engine, now: datetime, *, silent_after: timedelta, top_gaps: int = 3) -> Health:
    """Compute the health of the lake behind ``engine`` at ``now``."""
    threshold = silent_after.total_seconds()
    streams = []
    rows = engine.query(
        "SELECT cluster, apiserver, count(*), min(received_at), max(received_at), "
        f"median({_LAG}) / 1e6, max({_LAG}) / 1e6 "
        "FROM events GROUP BY cluster, apiserver ORDER BY cluster, apiserver NULLS FIRST"
    ).rows
    gaps_rows = engine.query(
        "SELECT cluster, apiserver, prev, received_at, "
        "date_diff('microsecond', prev, received_at) / 1e6 AS gap "
        "FROM (SELECT cluster, apiserver, received_at, lag(received_at) OVER "
        "(PARTITION BY cluster, apiserver ORDER BY received_at) AS prev FROM "
        "(SELECT DISTINCT cluster, apiserver, received_at FROM events)) "
        "WHERE prev IS NOT NULL AND date_diff('microsecond', prev, received_at) / 1e6 > ? "
        "ORDER BY gap DESC",
        [threshold],
    ).rows
    for cluster, apiserver, count, first, last, lag50, lagmax in rows:
        gaps = [
            Gap(start=g[2], end=g[3], seconds=float(g[4]))
            for g in gaps_rows
            if g[0] == cluster and g[1] == apiserver
        ][:top_gaps]
        streams.append(
            Stream(
                cluster=cluster,
                apiserver=apiserver,
                events=int(count),
                first=first,
                last=last,
                silent_seconds=max(0.0, (now - last).total_seconds()),
                lag_p50_seconds=None if lag50 is None else float(lag50),
                lag_max_seconds=None if lagmax is None else float(lagmax),
                gaps=gaps,
            )
        )
    stored = engine.query("SELECT count(*) FROM raw_events").rows[0][0]
    events = engine.query("SELECT count(*) FROM events").rows[0][0]
    collisions = engine.query(
        "SELECT cluster, audit_id, stage, count(*) FROM events WHERE audit_id IS NOT NULL "
        "GROUP BY cluster, audit_id, stage HAVING count(*) > 1 ORDER BY count(*) DESC, audit_id"
    ).rows
    return Health(
        streams=streams,
        stored_rows=int(stored),
        events=int(events),
        duplicates=int(stored) - int(events),
        collisions=len(collisions),
        collision_examples=[f"{c}/{a} {s} ×{n}" for c, a, s, n in collisions[:5]],
        silent_after_seconds=threshold,
    )
