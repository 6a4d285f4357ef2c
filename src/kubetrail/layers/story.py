"""One timeline: the audit events about an object (or by a user) merged, minute by minute, with
what the other layers say — the object's Events, its containers' log lines (collapsed into
counts when many) and the component log lines that name it (``pod="default/web-1"``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import msgspec

from kubetrail.lake.engine import Engine, records
from kubetrail.query.search import Minute

COLLAPSE: Final = 3  # more lines than this of one container stream in a minute: counted


class Entry(msgspec.Struct, frozen=True, kw_only=True):
    """A line of the timeline from another layer."""

    time: str  # RFC 3339 UTC, microseconds
    layer: str  # "event" | "container" | "component"
    text: str
    count: int = 1  # lines stood for (collapsed container lines)


class StoryMinute(msgspec.Struct, kw_only=True):
    start: str
    events: list[dict[str, object]]  # audit events, as in `timeline`
    layers: list[Entry]
    gap_before: float | None = None


def _window(since: datetime | None, until: datetime | None, column: str) -> tuple[str, list[Any]]:
    conds, params = [], []
    if since is not None:
        conds.append(f"{column} >= ?")
        params.append(since)
    if until is not None:
        conds.append(f"{column} < ?")
        params.append(until)
    return "".join(f" AND {c}" for c in conds), params


def _kind(resource: str) -> str:
    """``pods`` → ``pod``: the lower-case kind Events name for a resource (the usual
    plural; ``-ies`` and ``-es`` forms too)."""
    if resource.endswith("ies"):
        return resource[:-3] + "y"
    if resource.endswith(("sses", "ches", "shes", "xes")):
        return resource[:-2]
    return resource[:-1] if resource.endswith("s") else resource


def other_layers(
    engine: Engine,
    *,
    obj: str | None = None,
    user: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    verbose: bool = False,
    limit: int = 10_000,
) -> list[Entry]:
    """The other layers' lines about ``obj`` (``pods/NAMESPACE/NAME``, or any
    ``RESOURCE/[NAMESPACE/]NAME``) or naming ``user``, oldest first."""
    entries: list[Entry] = []
    if obj:
        parts = obj.strip("/").split("/")
        resource, name = parts[0].split(".")[0], parts[-1]
        namespace = parts[1] if len(parts) == 3 else None
        entries += _events(engine, resource, namespace, name, since, until, limit)
        if resource == "pods" and namespace:
            entries += _containers(engine, namespace, name, since, until, verbose, limit)
        ref = f"{namespace}/{name}" if namespace else name
        # klog renders KObj as "ns/name" in text and {"name","namespace"} in JSON.
        needles = [json.dumps({_kind(resource): ref}, ensure_ascii=False)[1:-1]]
        entries += _components(engine, needles, since, until, limit)
    elif user:
        needles = [f'"user": {json.dumps(user, ensure_ascii=False)}']
        entries += _components(engine, needles, since, until, limit)
    return sorted(entries, key=lambda e: (e.time, e.layer))


def _events(
    engine: Engine,
    resource: str,
    namespace: str | None,
    name: str,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> list[Entry]:
    window, params = _window(since, until, "last_time")
    rows = records(
        engine.query(
            "SELECT * FROM k8s_events WHERE object_name = ? AND lower(object_kind) = ? "
            "AND coalesce(object_namespace, '') = ?"
            f"{window} ORDER BY last_time, occurrence_key LIMIT ?",
            [name, _kind(resource), namespace or "", *params, limit],
        )
    )
    out = []
    for r in rows:
        count = int(str(r.get("count") or 1))
        times = f" ×{count}" if count > 1 else ""
        who = r.get("reporting_controller") or "?"
        where = f" on {r['reporting_instance']}" if r.get("reporting_instance") else ""
        text = (
            f"Event {r.get('type') or ''} {r.get('reason') or ''}{times}: {r.get('message')} "
            f"— {who}{where}"
        ).replace("Event  ", "Event ")
        out.append(Entry(time=str(r["last_time"]), layer="event", text=text))
    return out


def _containers(
    engine: Engine,
    namespace: str,
    pod: str,
    since: datetime | None,
    until: datetime | None,
    verbose: bool,
    limit: int,
) -> list[Entry]:
    window, params = _window(since, until, "time")
    rows = records(
        engine.query(
            "SELECT time, container, restart, stream, message, partial FROM container_logs "
            f"WHERE namespace = ? AND pod = ?{window} ORDER BY time, row_key LIMIT ?",
            [namespace, pod, *params, limit],
        )
    )
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((str(r["time"])[:16], str(r["container"]), str(r["stream"])), []).append(
            r
        )
    out = []
    for (_, container, stream), lines in groups.items():
        if verbose or len(lines) <= COLLAPSE:
            out += [
                Entry(
                    time=str(r["time"]),
                    layer="container",
                    text=f"{container} {stream}: {r['message']}"
                    + (" [partial]" if r.get("partial") else ""),
                )
                for r in lines
            ]
        else:
            first, last = lines[0]["message"], lines[-1]["message"]
            out.append(
                Entry(
                    time=str(lines[0]["time"]),
                    layer="container",
                    text=f"{container} {stream}: {len(lines)} lines, from {first!r} to {last!r}",
                    count=len(lines),
                )
            )
    return out


def _components(
    engine: Engine,
    needles: Sequence[str],
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> list[Entry]:
    window, params = _window(since, until, "time")
    test = " OR ".join("contains(kv, ?)" for _ in needles)
    rows = records(
        engine.query(
            "SELECT time, ident, host, severity, file, line, message, kv FROM component_logs "
            f"WHERE ({test}){window} ORDER BY time, row_key LIMIT ?",
            [*needles, *params, limit],
        )
    )
    out = []
    for r in rows:
        who = r.get("ident") or "component"
        where = f"{r['file']}:{r['line']}" if r.get("file") else ""
        pairs = json.loads(str(r["kv"])) if r.get("kv") else {}
        kv = " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in pairs.items())
        text = f"{who} {r.get('severity') or ''} {where} {r.get('message')} {kv}"
        out.append(Entry(time=str(r["time"]), layer="component", text=" ".join(text.split())))
    return out


def merge(minutes: Sequence[Minute], entries: Sequence[Entry], gap: timedelta) -> list[StoryMinute]:
    """The audit minutes and the other layers' entries in one list of minutes, quiet spells
    of at least ``gap`` marked on the minute after them."""
    by_start: dict[str, StoryMinute] = {
        m.start: StoryMinute(start=m.start, events=list(m.events), layers=[]) for m in minutes
    }
    for entry in entries:
        start = entry.time[:16] + ":00Z"
        by_start.setdefault(start, StoryMinute(start=start, events=[], layers=[]))
        by_start[start].layers.append(entry)
    merged = [by_start[k] for k in sorted(by_start)]
    previous: datetime | None = None
    for minute in merged:
        at = datetime.fromisoformat(minute.start.replace("Z", "+00:00"))
        if previous is not None and at - previous >= gap:
            minute.gap_before = (at - previous).total_seconds()
        previous = at
    return merged
