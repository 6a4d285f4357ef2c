"""Who did what, when, where and from where: filters, search, timeline and top over the lake.

Every filter becomes a SQL condition with bound parameters (never text spliced into SQL); the
conditions run on ``raw_events`` *before* exact duplicates are removed, which gives the same
rows as filtering the ``events`` view (exact duplicates agree on every filtered column, see
:data:`kubetrail.lake.engine.DEDUP_KEY`) at a fraction of the cost on a large lake.

One request is logged once per stage (``RequestReceived``, ``ResponseStarted``,
``ResponseComplete``, ``Panic``). :func:`search` shows one line per request by default — its
last stage that matches the filters — newest first. A request is ``(cluster, audit_id,
received_at)``: the audit ID alone is not unique (a client may reuse an ``Audit-ID`` header).
Two events of the same last stage with different content (an audit-ID collision, which
``kubetrail lake health`` counts) are both shown: a search never hides an event behind another.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

import msgspec

from kubetrail.errors import UsageError
from kubetrail.lake.engine import Engine, Result, dedup_sql, records
from kubetrail.lake.schema import NAMES, PARTITIONS

__all__ = [
    "TOP_DIMENSIONS",
    "Filters",
    "Minute",
    "Top",
    "TopRow",
    "object_filters",
    "parse_time",
    "search",
    "timeline",
    "top",
    "where_sql",
]

_DURATION: Final = re.compile(r"(?i)^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$")
_UNIT: Final = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_GLOB_CHARS: Final = frozenset("*?[")
# Stages in the order they happen: the last one present stands for the request.
_STAGE_RANK: Final = (
    "CASE stage WHEN 'Panic' THEN 4 WHEN 'ResponseComplete' THEN 3 "
    "WHEN 'ResponseStarted' THEN 2 WHEN 'RequestReceived' THEN 1 ELSE 0 END"
)
_REQUEST: Final = "cluster, audit_id, received_at"
# A request's last row for top(): its last stage and, when that stage was logged twice with
# different content (an audit-ID collision), the larger copy — so that every engine picks the
# same row. (One integer: a struct of stage, time and hash, a total order, doubled the time of
# top on 10M events; copies of one stage of one size remain a tie.)
_LAST: Final = f"{_STAGE_RANK} * 1000000000000 + coalesce(event_bytes, 0)"


class Filters(msgspec.Struct, kw_only=True, frozen=True):
    """What ``kubetrail search`` (and timeline, top) selects. Unset means any.

    ``user`` matches the authenticated user or the impersonated one (glob); ``actor`` only the
    authenticated, ``as_user`` only the impersonated. ``resource``: ``pods`` (no subresource),
    ``pods/*`` (any subresource), ``pods/exec`` (exactly), ``deployments.apps`` (with its
    group), ``pods/**`` (with or without a subresource), ``*`` (any resource request).
    ``since``/``until``: durations back from now (``1h``, ``2d``) or RFC 3339 times.
    ``code``: ``403`` or a class such as ``4xx``.
    ``source_ip``: an address or a CIDR (IPv4 or IPv6). ``text``: a substring of the request
    URI.
    """

    user: str | None = None
    actor: str | None = None
    as_user: str | None = None
    group: str | None = None
    verb: tuple[str, ...] = ()
    resource: str | None = None
    namespace: str | None = None
    name: str | None = None
    since: str | None = None
    until: str | None = None
    decision: str | None = None
    code: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    cluster: str | None = None
    text: str | None = None


def parse_time(text: str, now: datetime, *, flag: str = "--since") -> datetime:
    """``90m``, ``1h``, ``2d``, ``1w`` back from ``now``, or an RFC 3339 time (UTC if no
    offset; a date alone is its midnight UTC)."""
    match = _DURATION.match(text)
    if match:
        return now - timedelta(seconds=float(match[1]) * _UNIT[match[2].lower()])
    try:
        value = datetime.fromisoformat(text.strip().replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{flag} {text!r}: give a duration back from now (30m, 1h, 2d, 1w) "
            "or an RFC 3339 time (2026-11-26T10:00:00Z, 2026-11-26)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _like(text: str) -> str:
    """A substring as a LIKE pattern (the ESCAPE '\\' form)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def glob_regex(pattern: str) -> str:
    """A glob (``*``, ``?``, ``[a-z]``, ``[!a-z]``) as an anchored regular expression that RE2
    (DuckDB) and Java (Spark) read alike — ``GLOB`` itself is DuckDB's alone. Like DuckDB's
    GLOB, ``*`` also matches ``/`` and a backslash makes the next character literal (``\\*``);
    unlike it, an unclosed ``[`` and a trailing backslash are ordinary characters (DuckDB's
    GLOB matches nothing then)."""
    out = ["(?s)^"]
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(_regex_char(pattern[i + 1]))
            i += 1
        elif c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[" and (end := pattern.find("]", i + 2)) != -1:
            out.append(_glob_class(pattern[i + 1 : end]))
            i = end
        else:
            out.append(_regex_char(c))
        i += 1
    return "".join(out) + "$"


def _glob_class(body: str) -> str:
    """``[…]`` of a glob (without the brackets) as a regex class: members and ``a-z``
    ranges; a reversed range holds nothing."""
    negate = body[:1] in ("!", "^")
    body = body[1:] if negate else body
    members = []
    k = 0
    while k < len(body):
        if k + 2 < len(body) and body[k + 1] == "-":
            low, high = body[k], body[k + 2]
            if low <= high:
                members.append(f"{_regex_char(low)}-{_regex_char(high)}")
            k += 3
        else:
            members.append(_regex_char(body[k]))
            k += 1
    if not members:  # nothing in the class: [] matches no character, [!] any
        return "." if negate else "[^\\x{0}-\\x{10ffff}]"
    return f"[{'^' if negate else ''}{''.join(members)}]"


def _regex_char(c: str) -> str:
    """One character, literally, in a regex (or in a class): alphanumerics as they are, the
    rest as ``\\x{…}``, which RE2 and Java both read."""
    return c if c.isascii() and c.isalnum() else f"\\x{{{ord(c):x}}}"


def _text_match(column: str, pattern: str, params: list[object]) -> str:
    """Glob if the pattern has ``*?[``, else equality."""
    if _GLOB_CHARS & set(pattern):
        params.append(glob_regex(pattern))
        return f"regexp_matches({column}, ?)"
    params.append(pattern)
    return f"{column} = ?"


def _resource(spec: str, params: list[object]) -> str:
    if spec == "*":
        return "object_resource IS NOT NULL"
    base, _, sub = spec.partition("/")
    resource, _, group = base.partition(".")
    if not resource:
        raise UsageError(f"--resource {spec!r}: give e.g. pods, pods/exec, deployments.apps")
    conds = [_text_match("object_resource", resource, params)]
    if group:
        if group == "core":
            conds.append("object_api_group IS NULL")
        else:
            conds.append(_text_match("object_api_group", group, params))
    if not sub:
        conds.append("object_subresource IS NULL")
    elif sub == "**":  # the object and its subresources
        pass
    elif sub != "*":
        conds.append(_text_match("object_subresource", sub, params))
    else:
        conds.append("object_subresource IS NOT NULL")
    return " AND ".join(conds)


def _code(spec: str, params: list[object]) -> str:
    text = spec.strip().lower()
    if re.fullmatch(r"[1-5]xx", text):
        low = int(text[0]) * 100
        params += [low, low + 99]
        return "response_code BETWEEN ? AND ?"
    if re.fullmatch(r"\d{3}", text):
        params.append(int(text))
        return "response_code = ?"
    raise UsageError(f"--code {spec!r}: give a status code (403) or a class (4xx)")


def _ipv4_int(column: str) -> str:
    parts = [f"TRY_CAST(split_part({column}, '.', {i}) AS BIGINT)" for i in range(1, 5)]
    return f"({parts[0]} * 16777216 + {parts[1]} * 65536 + {parts[2]} * 256 + {parts[3]})"


def _source_ip(spec: str, params: list[object]) -> str:
    try:
        net = ipaddress.ip_network(spec.strip(), strict=False)
    except ValueError:
        raise UsageError(
            f"--source-ip {spec!r}: give an address or a CIDR (10.0.0.0/8, 2001:db8::/32)"
        ) from None
    low, high = int(net.network_address), int(net.broadcast_address)
    if net.version == 4:
        # Dotted quads only (an IPv6 entry fails the cast and is skipped).
        value = _ipv4_int("ip")
        params += [low, high]
        return (
            "array_length(list_filter(source_ips, lambda ip: "
            "regexp_matches(ip, '^[0-9]+[.][0-9]+[.][0-9]+[.][0-9]+$')"
            f" AND {value} BETWEEN ? AND ?)) > 0"
        )
    # IPv6: the 32 hex digits of each address, '::' expanded in SQL, compared as text.
    params += [f"{low:032x}", f"{high:032x}"]
    return (
        f"array_length(list_filter(source_ips, lambda ip: {_ipv6_hex('ip')} BETWEEN ? AND ?)) > 0"
    )


def _ipv6_hex(column: str) -> str:
    """The 32 hex digits of an IPv6 address in SQL (``::`` expanded), or NULL."""
    # Split on '::' into head and tail; pad each group to 4 digits; fill the gap with zeros.
    head = (
        f"CASE WHEN contains({column}, '::') THEN split_part({column}, '::', 1) ELSE {column} END"
    )
    tail = f"CASE WHEN contains({column}, '::') THEN split_part({column}, '::', 2) ELSE '' END"

    def groups(expr: str) -> str:
        return (
            f"list_transform(list_filter(string_split({expr}, ':'), lambda g: g <> ''), "
            "lambda g: lpad(lower(g), 4, '0'))"
        )

    h, t = groups(head), groups(tail)
    return (
        f"CASE WHEN contains({column}, ':') AND NOT contains({column}, '.') THEN "
        f"array_to_string({h}, '') || repeat('0000', 8 - array_length({h}) - array_length({t})) || "
        f"array_to_string({t}, '') END"
    )


def where_sql(filters: Filters, now: datetime) -> tuple[list[str], list[object]]:
    """The filters as SQL conditions over the lake's columns, and their parameters."""
    conds: list[str] = []
    params: list[object] = []
    if filters.user:
        conds.append(
            "(" + _text_match("user_name", filters.user, params) + " OR "
            + _text_match("impersonated_name", filters.user, params) + ")"
        )  # fmt: skip
    if filters.actor:
        conds.append(_text_match("user_name", filters.actor, params))
    if filters.as_user:
        conds.append(_text_match("impersonated_name", filters.as_user, params))
    if filters.group:
        params += [glob_regex(filters.group)] * 2
        conds.append(
            "(array_length(list_filter(user_groups, lambda g: regexp_matches(g, ?))) > 0 OR "
            "array_length(list_filter(impersonated_groups, lambda g: regexp_matches(g, ?))) > 0)"
        )
    if filters.verb:
        verbs = [v.strip().lower() for spec in filters.verb for v in spec.split(",") if v.strip()]
        conds.append(f"verb IN ({', '.join('?' for _ in verbs)})")
        params += verbs
    if filters.resource:
        conds.append(_resource(filters.resource, params))
    if filters.namespace:
        conds.append(_text_match("object_namespace", filters.namespace, params))
    if filters.name:
        conds.append(_text_match("object_name", filters.name, params))
    since = parse_time(filters.since, now) if filters.since else None
    until = parse_time(filters.until, now, flag="--until") if filters.until else None
    if since and until and since >= until:
        raise UsageError(
            f"--since {filters.since} is not before --until {filters.until}: an empty window"
        )
    if since:
        # The partition conditions let the engine skip whole days and hours of files.
        conds += ["(date > ? OR (date = ? AND hour >= ?))", "received_at >= ?"]
        params += [since.date(), since.date(), since.hour, since]
    if until:
        conds += ["(date < ? OR (date = ? AND hour <= ?))", "received_at < ?"]
        params += [until.date(), until.date(), until.hour, until]
    if filters.decision:
        decision = filters.decision.lower()
        if decision not in ("allow", "forbid"):
            raise UsageError(f"--decision {filters.decision!r}: give allow or forbid")
        conds.append("authz_decision = ?")
        params.append(decision)
    if filters.code:
        conds.append(_code(filters.code, params))
    if filters.source_ip:
        conds.append(_source_ip(filters.source_ip, params))
    if filters.user_agent:
        if _GLOB_CHARS & set(filters.user_agent):
            conds.append("regexp_matches(user_agent, ?)")
            params.append(glob_regex(filters.user_agent))
        else:
            conds.append("user_agent LIKE ? ESCAPE '\\'")
            params.append(_like(filters.user_agent))
    if filters.cluster:
        conds.append(_text_match("cluster", filters.cluster, params))
    if filters.text:
        conds.append("request_uri LIKE ? ESCAPE '\\'")
        params.append(_like(filters.text))
    return conds, params


def _where(filters: Filters, now: datetime) -> tuple[str, list[object]]:
    """`` WHERE …`` (or nothing) for the filters, and its parameters."""
    conds, params = where_sql(filters, now)
    return (" WHERE " + " AND ".join(conds) if conds else ""), params


def _last_stage(relation: str, columns: Sequence[str]) -> str:
    """Each request's last stage (ties, i.e. audit-ID collisions, all kept). The window is
    spelled out, not ``QUALIFY``, and the columns named: the same SQL runs on Spark."""
    return (
        f"SELECT {', '.join(columns)} FROM (SELECT *, rank() OVER "
        f"(PARTITION BY {_REQUEST} ORDER BY {_STAGE_RANK} DESC, stage_at DESC) AS _kt_rank "
        f"FROM ({relation})) WHERE _kt_rank = 1"
    )


def _selected(filters: Filters, now: datetime, *, all_stages: bool) -> tuple[str, list[object]]:
    where, params = _where(filters, now)
    rows = dedup_sql(f"(SELECT * FROM raw_events{where})")
    return (rows if all_stages else _last_stage(rows, [*NAMES, *PARTITIONS])), params


# Two phases: the request keys first (narrow columns, cheap to scan, sort and deduplicate),
# then the whole rows of at most this many events (their bodies are what costs).
_TWO_PHASE_MAX: Final = 10_000
_EXACT: Final = ("cluster", "audit_id", "received_at", "stage", "stage_at", "event_hash")


def search(
    engine: Engine,
    filters: Filters,
    now: datetime,
    *,
    all_stages: bool = False,
    limit: int | None = 100,
    oldest_first: bool = False,
) -> list[dict[str, object]]:
    """The matching events as lake rows (JSON-ready values), newest first.

    With a ``limit`` (up to 10,000), the filters run over the key columns only; the full rows
    (with their bodies) are then read for the events chosen, instead of for every match.
    """
    order = "ASC" if oldest_first else "DESC"
    # A total order (ties of time are common: one request's stages, bursts of a controller).
    sort = f"received_at {order}, stage_at {order}, audit_id, {_STAGE_RANK} {order}, event_hash"
    if limit is None or limit > _TWO_PHASE_MAX:
        rows, params = _selected(filters, now, all_stages=all_stages)
        sql = f"SELECT * FROM ({rows}) ORDER BY {sort}"
        if limit is not None:
            sql += " LIMIT ?"
            params = [*params, int(limit)]
        return records(engine.query(sql, params))
    where, params = _where(filters, now)
    keys = f"SELECT DISTINCT {', '.join(_EXACT)} FROM raw_events{where}"  # exact dups fold
    if not all_stages:
        keys = _last_stage(keys, _EXACT)
    chosen = engine.query(f"SELECT * FROM ({keys}) ORDER BY {sort} LIMIT ?", [*params, limit])
    if not chosen.rows:
        return []
    return records(_fetch(engine, chosen.rows))


def _fetch(engine: Engine, keys: list[tuple[object, ...]]) -> Result:
    """The whole rows of the events whose exact keys are given, in that order (the first
    ingested copy of an exact duplicate, as the ``events`` view keeps)."""
    ids = [k[1] for k in keys if k[1] is not None]
    times = [k[2] for k in keys if isinstance(k[2], datetime)]
    low, high = min(times), max(times)
    cond = "audit_id IN (SELECT unnest(?))"
    if len(ids) < len(keys):
        cond = f"({cond} OR audit_id IS NULL)"
    result = engine.query(
        f"SELECT * FROM raw_events WHERE {cond} AND received_at BETWEEN ? AND ? "
        "AND date BETWEEN ? AND ? ORDER BY ingested_at, source",
        [ids, low, high, low.date(), high.date()],
    )
    at = [result.columns.index(c) for c in _EXACT]
    first: dict[tuple[object, ...], tuple[object, ...]] = {}
    for row in result.rows:
        first.setdefault(tuple(row[i] for i in at), row)
    return Result(
        columns=result.columns,
        types=result.types,
        rows=[first[tuple(k)] for k in keys if tuple(k) in first],
    )


class Minute(msgspec.Struct, frozen=True):
    """One minute of a timeline: its events, and the quiet time before it (if any)."""

    start: str  # RFC 3339, the minute
    events: list[dict[str, object]]
    gap_before: float | None = None  # seconds since the previous minute with events


def timeline(
    engine: Engine,
    filters: Filters,
    now: datetime,
    *,
    gap: timedelta = timedelta(minutes=10),
    limit: int | None = 10_000,
) -> list[Minute]:
    """Every matching request oldest first, grouped by minute; a quiet spell of at least
    ``gap`` is marked on the minute after it."""
    rows = search(engine, filters, now, limit=limit, oldest_first=True)
    minutes: list[Minute] = []
    previous: datetime | None = None
    current: list[dict[str, object]] = []
    start = ""
    for row in rows:
        received = str(row["received_at"])
        key = received[:16]
        if key != start[:16]:
            if current:
                minutes.append(_minute(start, current, previous, gap))
                previous = datetime.fromisoformat(start.replace("Z", "+00:00"))
            start, current = key + ":00Z", []
        current.append(row)
    if current:
        minutes.append(_minute(start, current, previous, gap))
    return minutes


def _minute(
    start: str, events: list[dict[str, object]], previous: datetime | None, gap: timedelta
) -> Minute:
    if previous is None:
        return Minute(start=start, events=events)
    quiet = datetime.fromisoformat(start.replace("Z", "+00:00")) - previous
    return Minute(
        start=start,
        events=events,
        gap_before=quiet.total_seconds() if quiet >= gap else None,
    )


# What `top --by` may name, and the column (or expression) it groups on.
TOP_DIMENSIONS: Final = {
    "user": "user_name",
    "verb": "verb",
    "resource": (
        "CASE WHEN object_resource IS NULL THEN NULL ELSE object_resource || "
        "coalesce('/' || object_subresource, '') || coalesce('.' || object_api_group, '') END"
    ),
    "namespace": "object_namespace",
    "user-agent": "split_part(user_agent, ' ', 1)",
    "source-ip": "source_ips[1]",
    "code": "CAST(response_code AS VARCHAR)",
    "cluster": "cluster",
}


class TopRow(msgspec.Struct, frozen=True):
    value: str | None
    events: int  # requests
    bytes: int  # of their events as stored (canonical, redacted; the last stage's)


class Top(msgspec.Struct, frozen=True):
    by: str
    rows: list[TopRow]  # the largest, at most ``limit``
    events: int  # every matching request
    bytes: int
    unsized: int  # requests stored before the lake recorded event sizes (schema 1)


def top(
    engine: Engine,
    by: str,
    filters: Filters,
    now: datetime,
    *,
    limit: int = 20,
) -> Top:
    """Requests and their bytes by one dimension, largest first; and the totals."""
    if by not in TOP_DIMENSIONS:
        raise UsageError(f"--by {by!r}: give one of {', '.join(TOP_DIMENSIONS)}")
    where, params = _where(filters, now)
    # One row per request (which also folds exact duplicates), valued as its last stage: a
    # hash aggregate, far cheaper on a large lake than the window search() uses.
    per_request = (
        f"SELECT arg_max({TOP_DIMENSIONS[by]}, {_LAST}) AS value, "
        f"arg_max(event_bytes, {_LAST}) AS bytes FROM raw_events{where} GROUP BY {_REQUEST}"
    )
    sql = (
        "SELECT value, count(*) AS events, sum(bytes) AS bytes, count(*) - count(bytes) "
        f"FROM ({per_request}) GROUP BY value ORDER BY events DESC, bytes DESC, value NULLS LAST"
    )
    result = engine.query(sql, params).rows
    return Top(
        by=by,
        rows=[TopRow(value=r[0], events=int(r[1]), bytes=int(r[2] or 0)) for r in result[:limit]],
        events=sum(int(r[1]) for r in result),
        bytes=sum(int(r[2] or 0) for r in result),
        unsized=sum(int(r[3]) for r in result),
    )


def object_filters(spec: str, base: Filters) -> Filters:
    """``pods/default/priv-pod``, ``namespaces/foo``, ``clusterroles/admin`` or
    ``deployments.apps/ns/web`` as filters (any subresource of it)."""
    parts = spec.split("/")
    if len(parts) == 2:
        resource, name = parts
        namespace = None
    elif len(parts) == 3:
        resource, namespace, name = parts
    else:
        raise UsageError(
            f"--object {spec!r}: give RESOURCE/NAME or RESOURCE/NAMESPACE/NAME "
            "(pods/default/web, clusterroles/admin)"
        )
    if not resource or not name:
        raise UsageError(f"--object {spec!r}: the resource and the name must not be empty")
    return msgspec.structs.replace(base, resource=resource + "/**", namespace=namespace, name=name)
