"""The lake's one schema, derived from the model in one place.

An event reaches the lake in two steps:

1. Python decodes it with the one decoder (:class:`kubetrail.model.event.Event`), redacts it,
   and re-encodes it canonically (msgspec, the model's key order, defaults omitted). The SHA-256
   of that encoding is the event's hash. The canonical bytes plus a small ``_kt`` object
   (cluster, partition, source, API server, envelope, ingest time, hash, and the received and
   stage times after the pre-v1 fallback chain) form one *staging line* — the unit of
   :class:`Rows`, of receivers' write-ahead logs and of ``_staging`` files.
2. DuckDB projects staging lines into the columns below with :func:`projection_sql` (the one
   definition of every column) and writes Parquet; the ``events`` view uses the same projection
   over the write-ahead logs, so a row reads the same wherever it is.

Column types: timestamps ``TIMESTAMP WITH TIME ZONE`` stored as Parquet microseconds adjusted
to UTC (Spark cannot read nanosecond timestamps); absent values are null, never ``""``; bodies,
``annotations`` and ``user_extra`` are JSON text (already redacted). Hive partition columns —
``cluster``, ``date`` (DATE) and ``hour`` (INTEGER, written ``hour=07``), on the request's
received time in UTC — are in the directory names, not in the files.

Schema history (``SCHEMA_VERSION``, recorded in ``_kubetrail/lake.json``): 1 — first version;
2 — adds ``event_bytes`` (the size of the canonical, redacted event: what the log costs, read
without decompressing bodies; null in rows written by version 1).
A later version may only add columns: readers use ``union_by_name`` (old files read as nulls in
new columns) and ``kubetrail lake compact`` rewrites old files in the current schema.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Final

import msgspec

from kubetrail.model.event import Event

SCHEMA_VERSION: Final = 2
PARTITIONS: Final = ("cluster", "date", "hour")
PARTITION_TYPES: Final = {"cluster": "VARCHAR", "date": "DATE", "hour": "INTEGER"}
# Rows in a file are sorted so that similar rows sit together (zstd compresses them far better),
# then by time: resource, verb, user, received time; then totally (audit ID, stage, hash), so
# that every engine writes a partition's rows in the same order (NULLs last).
SORT_KEYS: Final = (
    "object_resource",
    "verb",
    "user_name",
    "received_at",
    "audit_id",
    "stage",
    "event_hash",
)

_USER: Final = "STRUCT(username VARCHAR, uid VARCHAR, groups VARCHAR[], extra JSON)"
_REF: Final = (
    "STRUCT(resource VARCHAR, namespace VARCHAR, name VARCHAR, uid VARCHAR, apiGroup VARCHAR, "
    "apiVersion VARCHAR, resourceVersion VARCHAR, subresource VARCHAR)"
)
_STATUS: Final = "STRUCT(code INTEGER, status VARCHAR, reason VARCHAR, message VARCHAR)"
_KT: Final = (
    "STRUCT(c VARCHAR, d VARCHAR, hr VARCHAR, r VARCHAR, t VARCHAR, h VARCHAR, s VARCHAR, "
    "a VARCHAR, e VARCHAR, i VARCHAR, b BIGINT)"
)
# The fields of a staging line DuckDB reads (the Event's wire names, and _kt).
STAGING_COLUMNS: Final = {
    "auditID": "VARCHAR",
    "stage": "VARCHAR",
    "level": "VARCHAR",
    "verb": "VARCHAR",
    "requestURI": "VARCHAR",
    "user": _USER,
    "impersonatedUser": _USER,
    "sourceIPs": "VARCHAR[]",
    "userAgent": "VARCHAR",
    "objectRef": _REF,
    "responseStatus": _STATUS,
    "annotations": "JSON",
    "requestObject": "JSON",
    "responseObject": "JSON",
    "_kt": _KT,
}

# (column, DuckDB type, SQL over a staging line): the single definition of every column.
COLUMNS: Final[tuple[tuple[str, str, str], ...]] = (
    ("received_at", "TIMESTAMPTZ", "CAST(_kt.r AS TIMESTAMPTZ)"),
    ("stage_at", "TIMESTAMPTZ", "CAST(_kt.t AS TIMESTAMPTZ)"),
    ("audit_id", "VARCHAR", "NULLIF(auditID, '')"),
    ("stage", "VARCHAR", "NULLIF(stage, '')"),
    ("level", "VARCHAR", "NULLIF(level, '')"),
    ("verb", "VARCHAR", "NULLIF(verb, '')"),
    ("request_uri", "VARCHAR", "NULLIF(requestURI, '')"),
    ("user_name", "VARCHAR", "NULLIF(user.username, '')"),
    ("user_uid", "VARCHAR", "NULLIF(user.uid, '')"),
    ("user_groups", "VARCHAR[]", "user.groups"),
    ("user_extra", "VARCHAR", "CAST(user.extra AS VARCHAR)"),
    ("impersonated_name", "VARCHAR", "NULLIF(impersonatedUser.username, '')"),
    ("impersonated_uid", "VARCHAR", "NULLIF(impersonatedUser.uid, '')"),
    ("impersonated_groups", "VARCHAR[]", "impersonatedUser.groups"),
    ("source_ips", "VARCHAR[]", "sourceIPs"),
    ("user_agent", "VARCHAR", "NULLIF(userAgent, '')"),
    ("object_resource", "VARCHAR", "NULLIF(objectRef.resource, '')"),
    ("object_subresource", "VARCHAR", "NULLIF(objectRef.subresource, '')"),
    ("object_namespace", "VARCHAR", "NULLIF(objectRef.namespace, '')"),
    ("object_name", "VARCHAR", "NULLIF(objectRef.name, '')"),
    ("object_uid", "VARCHAR", "NULLIF(objectRef.uid, '')"),
    ("object_api_group", "VARCHAR", "NULLIF(objectRef.apiGroup, '')"),
    ("object_api_version", "VARCHAR", "NULLIF(objectRef.apiVersion, '')"),
    ("object_resource_version", "VARCHAR", "NULLIF(objectRef.resourceVersion, '')"),
    ("response_code", "INTEGER", "NULLIF(responseStatus.code, 0)"),
    ("response_status", "VARCHAR", "NULLIF(responseStatus.status, '')"),
    ("response_reason", "VARCHAR", "NULLIF(responseStatus.reason, '')"),
    ("response_message", "VARCHAR", "NULLIF(responseStatus.message, '')"),
    (
        "authz_decision",
        "VARCHAR",
        "json_extract_string(annotations, '$.\"authorization.k8s.io/decision\"')",
    ),
    (
        "authz_reason",
        "VARCHAR",
        "json_extract_string(annotations, '$.\"authorization.k8s.io/reason\"')",
    ),
    ("annotations", "VARCHAR", "CAST(annotations AS VARCHAR)"),
    ("request_object", "VARCHAR", "CAST(requestObject AS VARCHAR)"),
    ("response_object", "VARCHAR", "CAST(responseObject AS VARCHAR)"),
    ("apiserver", "VARCHAR", "_kt.a"),
    ("source", "VARCHAR", "_kt.s"),
    ("envelope", "VARCHAR", "_kt.e"),
    ("ingested_at", "TIMESTAMPTZ", "CAST(_kt.i AS TIMESTAMPTZ)"),
    ("event_hash", "VARCHAR", "_kt.h"),
    ("event_bytes", "BIGINT", "_kt.b"),
)
NAMES: Final = tuple(name for name, _, _ in COLUMNS)


def sql_str(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def empty_select(fields: Iterable[tuple[str, str]]) -> str:
    """A typed SELECT of no rows with these (name, DuckDB type) columns: what a view reads
    before its first file."""
    cols = ", ".join(f"CAST(NULL AS {duck}) AS {name}" for name, duck in fields)
    return f"SELECT {cols} WHERE false"


def staging_columns_sql() -> str:
    """``columns={...}`` for DuckDB's ``read_ndjson`` of staging lines."""
    return "{" + ", ".join(f"{sql_str(k)}: {sql_str(v)}" for k, v in STAGING_COLUMNS.items()) + "}"


def projection_sql(*, partitions: bool) -> str:
    """The SELECT list that turns a staging line into the lake's columns."""
    cols = [f"{expr} AS {name}" for name, _, expr in COLUMNS]
    if partitions:
        cols += [
            "_kt.c AS cluster",
            "CAST(_kt.d AS DATE) AS date",
            "CAST(_kt.hr AS INTEGER) AS hour",
        ]
    return ", ".join(cols)


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


def micros(timestamp: str | None) -> int | None:
    """RFC 3339 text → microseconds since the epoch (UTC); None if absent or unreadable."""
    if not timestamp:
        return None
    text = timestamp
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    head, dot, rest = text.partition(".")
    if dot:  # Python reads at most 6 fraction digits: cut nanoseconds
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)].ljust(6, '0')}{rest[digits:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return (parsed - _EPOCH) // _MICROSECOND


def iso(us: int | None) -> str | None:
    """Microseconds since the epoch → RFC 3339 UTC with microseconds (the lake's text form)."""
    if us is None:
        return None
    return (_EPOCH + timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_time(text: str | None) -> str | None:
    """An audit timestamp as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC), or None if unreadable.

    kube-apiserver writes exactly that shape (MicroTime), which passes through untouched;
    anything else (offsets, other precisions, pre-v1 shapes) is parsed and rewritten, so that
    equal instants have equal text (dedup compares it).
    """
    if (
        text
        and len(text) == 27
        and text[-1] == "Z"
        and text[19] == "."
        and text[10] == "T"
        and text[4] == "-"
        and text[13] == ":"
        and text[:4].isdigit()
        and text[11:13].isdigit()
    ):
        return text
    return iso(micros(text))


class Provenance(msgspec.Struct, frozen=True, kw_only=True):
    """Where a batch of events came from."""

    cluster: str
    source: str  # file:offset, webhook peer…
    apiserver: str | None = None
    envelope: str | None = None


class _Meta(msgspec.Struct, frozen=True, omit_defaults=True):
    """The ``_kt`` object of a staging line."""

    c: str  # cluster
    d: str  # date (partition)
    hr: str  # hour (partition, two digits)
    r: str  # received time, canonical
    t: str | None  # stage time, canonical
    h: str  # event hash
    s: str | None = None  # source
    a: str | None = None  # API server
    e: str | None = None  # envelope
    i: str | None = None  # ingest time
    b: int | None = None  # bytes of the canonical event (schema 2)


class _KeyLine(msgspec.Struct):
    """What dedup needs from a staging line (decoded without the rest)."""

    _kt: _Meta = msgspec.field(name="_kt")
    audit_id: str = msgspec.field(default="", name="auditID")
    stage: str = ""


_encoder: Final = msgspec.json.Encoder()
_key_decoder: Final = msgspec.json.Decoder(_KeyLine)
Key = tuple[str, str, str | None, str]  # (audit_id, stage, canonical stage time, hash)


def event_hash(event: Event) -> str:
    """SHA-256 of the canonical (re-encoded, redacted) event: 32 hex digits."""
    return hashlib.sha256(_encoder.encode(event)).hexdigest()[:32]


class Rows:
    """Staging lines, with their partitions and dedup keys."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.partition: list[tuple[str, str, int]] = []
        self.keys: list[Key] = []
        self.nbytes = 0  # bytes of the staging lines: what a batch costs in memory
        self.skipped_no_time = 0

    def __len__(self) -> int:
        return len(self.lines)

    def add(
        self,
        event: Event,
        provenance: Provenance,
        ingested: str,
        *,
        source: str | None = None,
    ) -> bool:
        """Append one (already redacted) event; False if it has no usable time."""
        received = canonical_time(event.received_at())
        if received is None:
            self.skipped_no_time += 1
            return False
        stage_time = canonical_time(event.stage_at())
        canon = _encoder.encode(event)
        digest = hashlib.sha256(canon).hexdigest()[:32]
        date, hour = received[:10], received[11:13]
        meta = _Meta(
            c=provenance.cluster,
            d=date,
            hr=hour,
            r=received,
            t=stage_time,
            h=digest,
            s=source if source is not None else provenance.source,
            a=provenance.apiserver,
            e=provenance.envelope,
            i=ingested,
            b=len(canon),
        )
        head = canon[:-1] + b"," if len(canon) > 2 else b"{"
        line = head + b'"_kt":' + _encoder.encode(meta) + b"}"
        self.lines.append(line)
        self.nbytes += len(line)
        self.partition.append((provenance.cluster, date, int(hour)))
        self.keys.append((event.audit_id, event.stage, stage_time, digest))
        return True

    def select(self, keep: list[int]) -> Rows:
        out = Rows()
        out.lines = [self.lines[i] for i in keep]
        out.partition = [self.partition[i] for i in keep]
        out.keys = [self.keys[i] for i in keep]
        out.nbytes = sum(len(line) for line in out.lines)
        return out

    def extend(self, other: Rows) -> None:
        self.lines.extend(other.lines)
        self.partition.extend(other.partition)
        self.keys.extend(other.keys)
        self.nbytes += other.nbytes

    def json_rows(self) -> list[bytes]:
        """The rows as JSON lines: the write-ahead-log form (staging lines)."""
        return list(self.lines)

    @classmethod
    def from_json_lines(cls, lines: list[bytes]) -> Rows:
        """Rows back from their WAL form; raises msgspec.DecodeError on a damaged line."""
        rows = cls()
        for line in lines:
            key = _key_decoder.decode(line)
            meta = key._kt
            rows.lines.append(line)
            rows.nbytes += len(line)
            rows.partition.append((meta.c, meta.d, int(meta.hr)))
            rows.keys.append((key.audit_id, key.stage, meta.t, meta.h))
        return rows
