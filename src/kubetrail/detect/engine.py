"""Run rules over audit events: from files (decoded events) or from the lake (rows rebuilt
into events), with the same matcher, so both give the same findings on the same data.

Patch bodies: merge and strategic-merge patches are partial objects, read as they are; a JSON
Patch (an array of operations) is turned into the partial object its ``add`` and ``replace``
operations write (:func:`~kubetrail.detect.match.patch_as_object`).

A rule fires at most once per request and rule: a request is logged once per stage
(``(cluster, auditID, requestReceivedTimestamp)`` names it), and its stages share user, verb
and object, so a Metadata-level rule would otherwise fire two or three times.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, BinaryIO, Final

import msgspec

from kubetrail.detect.correlate import Correlator
from kubetrail.detect.exceptions import Silence
from kubetrail.detect.identity import Identities, reads_enrichment
from kubetrail.detect.match import BODIES, patch_as_object
from kubetrail.detect.rules import LEVELS, Correlation, Rule
from kubetrail.lake.engine import DEDUP_KEY, Engine
from kubetrail.lake.schema import NAMES

if TYPE_CHECKING:
    from kubetrail.ingest.read import ReadReport

__all__ = [
    "DetectStats",
    "Detector",
    "Finding",
    "detect",
    "event_from_row",
    "file_events",
    "lake_events",
    "row_from_event",
]


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    rule: str  # the rule's name (file stem)
    rule_id: str
    title: str
    level: str
    techniques: tuple[str, ...]
    attack: tuple[str, ...]
    audit_id: str | None
    received_at: str | None
    cluster: str | None
    user: str | None
    sentence: str
    source: str | None = None


#: In an event rebuilt from the lake (:func:`lake_events`): the bodies' JSON text, decoded by
#: the detector only when a rule, exception or correlation that may read a body is evaluated
#: on the event (most rows of a lake — reads, lists — meet no such rule).
DEFERRED: Final = "\x00deferred bodies"


def _reads_bodies(fields: Iterable[str]) -> bool:
    return any(f.split(".", 1)[0] in BODIES for f in fields)


def _materialize(event: Mapping[str, Any]) -> None:
    if isinstance(event, dict):
        for key, text in event.pop(DEFERRED, {}).items():
            value = _json(text)
            if value is not None:
                event[key] = value


def _may_fire(rule: Rule, shape: tuple[str, str, str, bool]) -> bool:
    resource, sub, verb, extra = shape
    return (
        (rule.resources is None or resource in rule.resources)
        and (rule.subresources is None or sub in rule.subresources)
        and (rule.verbs is None or verb in rule.verbs)
        and (extra or not rule.needs_extra)
    )


def _request_key(event: Mapping[str, Any], cluster: str | None) -> tuple[object, ...]:
    received = event.get("requestReceivedTimestamp") or event.get("timestamp")
    return (cluster, event.get("auditID"), received)


class DetectStats(msgspec.Struct):
    silenced: dict[str, int] = msgspec.field(default_factory=dict)  # exception id -> findings


class Detector:
    """Rules applied to events one at a time (files, the lake, live streams).

    Remembers which (rule, request) pairs fired, so a rule fires once per request however
    many stages arrive; at most ``memory`` of them (the oldest are forgotten: for a live
    stream, a request's stages arrive within its lifetime). ``today`` says which exceptions
    are in force: a date, or a function for long-running streams (the clock is the caller's).
    """

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        min_level: str = "informational",
        exceptions: Sequence[Silence] = (),
        today: date | Callable[[], date] | None = None,
        stats: DetectStats | None = None,
        memory: int = 1_000_000,
        correlations: Sequence[Correlation] = (),
    ) -> None:
        if exceptions and today is None:
            raise ValueError("exceptions need today's date")
        self._floor = floor = LEVELS.index(min_level)
        self.correlator = Correlator(correlations) if correlations else None
        referenced = self.correlator.referenced if self.correlator else frozenset()
        self._silent = self.correlator.silent() if self.correlator else frozenset()
        # Rules below the level still run when a correlation counts their findings.
        self.rules = [
            r
            for r in rules
            if LEVELS.index(r.level) >= floor or r.name in referenced or r.id in referenced
        ]
        self.exceptions = list(exceptions)
        self._today = today
        self.stats = stats if stats is not None else DetectStats()
        self._memory = memory
        # Rules indexed by the resource, subresource and verb they require, and by whether
        # they need user.extra: an event meets only the rules that can fire on it.
        self._candidates: dict[tuple[str, str, str, bool], list[Rule]] = {}
        self._fired: dict[tuple[object, ...], None] = {}
        # Deferred bodies are decoded for these rules, or always (exceptions and correlations
        # are checked on every finding, and may read bodies).
        self._body_rules = frozenset(r.id for r in self.rules if _reads_bodies(r.fields))
        self._always_bodies = bool(self.exceptions) or any(
            _reads_bodies(c.fields()) for c in correlations
        )
        # Pod addresses learned from the stream, for rules on where a pod's token is used.
        self.identities = (
            Identities()
            if any(reads_enrichment(r.fields) for r in self.rules)
            or any(reads_enrichment(c.fields()) for c in correlations)
            else None
        )

    def today(self) -> date | None:
        return self._today() if callable(self._today) else self._today

    def feed(self, event: Mapping[str, Any], row: Mapping[str, Any] | None = None) -> list[Finding]:
        from kubetrail.query.sentences import sentence

        ref = event.get("objectRef")
        ref = ref if isinstance(ref, dict) else {}
        user = event.get("user")
        shape = (
            str(ref.get("resource") or "").lower(),
            str(ref.get("subresource") or "").lower(),
            str(event.get("verb") or "").lower(),
            isinstance(user, dict) and bool(user.get("extra")),
        )
        todo = self._candidates.get(shape)
        if todo is None:
            todo = self._candidates[shape] = [r for r in self.rules if _may_fire(r, shape)]
        identities = self.identities
        teaches = identities is not None and identities.teaches(event)
        if DEFERRED in event and (
            teaches or self._always_bodies or any(r.id in self._body_rules for r in todo)
        ):
            _materialize(event)
        if identities is not None and isinstance(event, dict):
            if teaches:
                identities.observe(event)
            identities.enrich(event)
        body = event.get("requestObject")
        if isinstance(body, list) and event.get("verb") == "patch":
            event = {**event, "requestObject": patch_as_object(body)}  # a JSON Patch
        cluster = row.get("cluster") if row else None
        lake_row = row if row and "received_at" in row else None  # files give only a source
        key = _request_key(event, cluster if isinstance(cluster, str) else None)
        found: list[Finding] = []
        said = ""  # the event's sentence: made once, and only for a finding reported
        for rule in todo:
            fired_key = (rule.id, *key)
            if fired_key in self._fired or not rule.matches(event):
                continue
            self._remember(fired_key)
            today = self.today() if self.exceptions else None
            silence = next(
                (
                    x
                    for x in self.exceptions
                    if today is not None
                    and x.applies(rule.name, rule.id, today)
                    and x.silences(event)
                ),
                None,
            )
            if silence is not None:
                self.stats.silenced[silence.id] = self.stats.silenced.get(silence.id, 0) + 1
                continue
            received = str(key[2]) if key[2] else None
            if self.correlator is not None:
                for corr, group, measure in self.correlator.feed(
                    rule.name, rule.id, received, event
                ):
                    if LEVELS.index(corr.level) >= self._floor:
                        said = said or sentence(lake_row or row_from_event(event))
                        text = f"{Correlator.describe(corr, group, measure)}; last: {said}"
                        found.append(_finding(corr, event, row, received, cluster, text))
            if LEVELS.index(rule.level) >= self._floor and not {rule.name, rule.id} & self._silent:
                said = said or sentence(lake_row or row_from_event(event))
                found.append(_finding(rule, event, row, received, cluster, said))
        return found

    def _remember(self, key: tuple[object, ...]) -> None:
        self._fired[key] = None
        if len(self._fired) > self._memory:
            del self._fired[next(iter(self._fired))]


def _finding(
    what: Rule | Correlation,
    event: Mapping[str, Any],
    row: Mapping[str, Any] | None,
    received: str | None,
    cluster: object,
    sentence: str,
) -> Finding:
    return Finding(
        rule=what.name,
        rule_id=what.id,
        title=what.title,
        level=what.level,
        techniques=what.techniques,
        attack=what.attack,
        audit_id=event.get("auditID"),
        received_at=received,
        cluster=cluster if isinstance(cluster, str) else None,
        user=(event.get("user") or {}).get("username"),
        sentence=sentence,
        source=str(row.get("source")) if row and row.get("source") else None,
    )


def detect(
    rules: Sequence[Rule],
    events: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]],
    *,
    min_level: str = "informational",
    exceptions: Sequence[Silence] = (),
    today: date | None = None,
    stats: DetectStats | None = None,
    correlations: Sequence[Correlation] = (),
) -> Iterator[Finding]:
    """Findings for ``events``: pairs of (the event as audit.k8s.io/v1 JSON, a lake row, or
    ``{}`` / ``{"source": ...}`` for events from elsewhere — a lake row gives the sentence and
    provenance). ``exceptions`` in force on ``today``
    (required with them: the clock is the caller's) silence the findings they cover."""
    detector = Detector(
        rules,
        min_level=min_level,
        exceptions=exceptions,
        today=today,
        stats=stats,
        correlations=correlations,
    )
    for event, row in events:
        yield from detector.feed(event, row)


def _json(text: object) -> object:
    if not isinstance(text, str):
        return None
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return None


def event_from_row(row: Mapping[str, Any], *, defer_bodies: bool = False) -> dict[str, Any]:
    """A lake row (JSON-ready values) back into the audit.k8s.io/v1 shape rules read; with
    ``defer_bodies``, the bodies stay JSON text under :data:`DEFERRED` for the detector."""

    def user(prefix: str) -> dict[str, Any] | None:
        name = row.get(f"{prefix}_name")
        if name is None and row.get(f"{prefix}_groups") is None:
            return None
        out: dict[str, Any] = {"username": name}
        if row.get(f"{prefix}_uid"):
            out["uid"] = row[f"{prefix}_uid"]
        if row.get(f"{prefix}_groups") is not None:
            out["groups"] = row[f"{prefix}_groups"]
        extra = _json(row.get("user_extra")) if prefix == "user" else None
        if extra:
            out["extra"] = extra
        return out

    ref = {
        key: row.get(column)
        for key, column in (
            ("resource", "object_resource"),
            ("subresource", "object_subresource"),
            ("namespace", "object_namespace"),
            ("name", "object_name"),
            ("uid", "object_uid"),
            ("apiGroup", "object_api_group"),
            ("apiVersion", "object_api_version"),
            ("resourceVersion", "object_resource_version"),
        )
        if row.get(column) is not None
    }
    status = {
        key: row.get(column)
        for key, column in (
            ("code", "response_code"),
            ("status", "response_status"),
            ("reason", "response_reason"),
            ("message", "response_message"),
        )
        if row.get(column) is not None
    }
    event: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": row.get("level"),
        "auditID": row.get("audit_id"),
        "stage": row.get("stage"),
        "requestURI": row.get("request_uri"),
        "verb": row.get("verb"),
        "user": user("user"),
        "impersonatedUser": user("impersonated"),
        "sourceIPs": row.get("source_ips"),
        "userAgent": row.get("user_agent"),
        "objectRef": ref or None,
        "responseStatus": status or None,
        "requestObject": None if defer_bodies else _json(row.get("request_object")),
        "responseObject": None if defer_bodies else _json(row.get("response_object")),
        "requestReceivedTimestamp": row.get("received_at"),
        "stageTimestamp": row.get("stage_at"),
        "annotations": _json(row.get("annotations")),
    }
    out = {k: v for k, v in event.items() if v is not None}
    if defer_bodies:
        texts = {
            key: row[column]
            for key, column in (
                ("requestObject", "request_object"),
                ("responseObject", "response_object"),
            )
            if row.get(column) is not None
        }
        if texts:
            out[DEFERRED] = texts
    return out


def row_from_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """The lake row of an event (for its sentence), without going through the lake."""
    user = event.get("user") or {}
    imp = event.get("impersonatedUser") or {}
    ref = event.get("objectRef") or {}
    status = event.get("responseStatus") or {}
    annotations = event.get("annotations") or {}
    body = {k: json.dumps(event[k]) for k in ("requestObject", "responseObject") if k in event}
    return {
        "received_at": event.get("requestReceivedTimestamp") or event.get("timestamp"),
        "user_name": user.get("username"),
        "user_groups": user.get("groups"),
        "impersonated_name": imp.get("username"),
        "impersonated_groups": imp.get("groups"),
        "verb": event.get("verb"),
        "request_uri": event.get("requestURI"),
        "object_resource": ref.get("resource"),
        "object_subresource": ref.get("subresource"),
        "object_namespace": ref.get("namespace"),
        "object_name": ref.get("name"),
        "object_api_group": ref.get("apiGroup"),
        "source_ips": event.get("sourceIPs"),
        "user_agent": event.get("userAgent"),
        "response_code": status.get("code"),
        "response_reason": status.get("reason"),
        "response_message": status.get("message"),
        "authz_decision": annotations.get("authorization.k8s.io/decision"),
        "authz_reason": annotations.get("authorization.k8s.io/reason"),
        "request_object": body.get("requestObject"),
        "response_object": body.get("responseObject"),
    }


def lake_events(
    engine: Engine,
    since: datetime | None = None,
    *,
    rules: Sequence[Rule] | None = None,
    until: datetime | None = None,
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """The events of the lake (exact duplicates removed), oldest first, as (event, row); one
    hour partition in memory at a time. With ``rules``, only the rows one of them may fire on
    (:func:`kubetrail.detect.sql.candidates_sql`, decided by the engine): the findings are
    the same, and the other rows' bodies are never read."""
    conds: list[str] = []
    params: list[Any] = []
    if since is not None:
        conds.append("received_at >= ?")
        params.append(since)
    if until is not None:
        conds.append("received_at < ?")
        params.append(until)
    where = " WHERE " + " AND ".join(conds) if conds else ""
    hours = engine.query(
        f"SELECT DISTINCT date, hour FROM raw_events{where} ORDER BY 1, 2", params
    ).rows
    part = " AND ".join(["date = ? AND hour = ?", *conds])
    if rules is not None:
        from kubetrail.detect.identity import TEACHING_SQL
        from kubetrail.detect.sql import candidates_sql

        bound = candidates_sql(rules)
        if any(reads_enrichment(r.fields) for r in rules) and _has_pod_tokens(
            engine, where, params
        ):
            bound = f"({bound} OR {TEACHING_SQL})"  # the rows pod addresses are learned from
        part += f" AND {bound}"

    # Timestamps and the date rendered by the engine, as records() renders them: every value
    # is then a str, int, list or None, and a row is a plain dict (no per-value conversion).
    # (The columns are named, not ``* REPLACE``, and the time format has no literal letters:
    # the same SQL then runs on Spark.)
    def iso(column: str) -> str:
        return (
            f"strftime({column}, '%Y-%m-%d') || 'T' || "
            f"strftime({column}, '%H:%M:%S.%f') || 'Z' AS {column}"
        )

    rendered = ", ".join(
        iso(c) if c in ("received_at", "stage_at", "ingested_at") else c for c in NAMES
    )
    rendered += ", cluster, CAST(date AS VARCHAR) AS date, hour"

    def fetch(day: object, hour: object) -> Any:
        # Exact duplicates (equal DEDUP_KEY; an equal hash means an equal received time) come
        # out next to each other, the copy the `events` view keeps (first ingested) first.
        return engine.query(
            f"SELECT {rendered} FROM raw_events WHERE {part} "
            "ORDER BY received_at, stage_at, audit_id, event_hash, stage, cluster, "
            "ingested_at, source",
            [day, hour, *params],
        )

    # The engine reads the next hour while Python matches this one (DuckDB releases the GIL).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kubetrail-lake") as pool:
        ahead = pool.submit(fetch, *hours[0]) if hours else None
        for i in range(len(hours)):
            assert ahead is not None
            result = ahead.result()
            ahead = pool.submit(fetch, *hours[i + 1]) if i + 1 < len(hours) else None
            columns = result.columns
            at = [columns.index(k) for k in DEDUP_KEY]
            last: tuple[object, ...] | None = None
            for values in result.rows:
                key = tuple(values[j] for j in at)
                if key == last:
                    continue  # an exact duplicate of the row before (filtered alike)
                last = key
                row = dict(zip(columns, values, strict=True))
                yield event_from_row(row, defer_bodies=True), row


def _has_pod_tokens(engine: Engine, where: str, params: list[Any]) -> bool:
    """Whether any request of the lake (since the start) was made with a pod-bound token:
    without one, pod addresses have nothing to enrich and need not be learned."""
    from kubetrail.detect.identity import POD_TOKEN_SQL

    clause = f"{where} AND {POD_TOKEN_SQL}" if where else f" WHERE {POD_TOKEN_SQL}"
    found = engine.query(f"SELECT 1 FROM raw_events{clause} LIMIT 1", params)
    return bool(found.rows)


def file_events(
    paths: Sequence[str], report: ReadReport, *, stdin: BinaryIO | None = None
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """The events of audit log files (the reader of ``kubetrail ingest``: .gz, rotated
    directories, EventLists, cloud envelopes), as (event, {"source": "path:line"}); bad lines
    are counted in ``report``."""
    from kubetrail.ingest.envelopes import Unwrapped, unwrap
    from kubetrail.ingest.read import read_lines

    for line in read_lines(paths, report, stdin=stdin):
        try:
            doc = msgspec.json.decode(line.data)
        except msgspec.DecodeError as exc:
            report.bad_line(line, f"not JSON: {exc}")
            continue
        for item in unwrap(doc):
            if isinstance(item, Unwrapped):
                yield item.event, {"source": f"{line.source}:{line.number}"}
