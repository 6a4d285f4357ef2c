"""The lake's tables for the other layers: ``container_logs``, ``component_logs``,
``k8s_events`` — beside the audit events, in the same hive layout under ``tables/<name>/``::

    tables/container_logs/cluster=prod/date=2026-12-03/hour=10/part-<time>-<id>.parquet

Each row carries ``row_key`` (a hash of what makes it that row); a write skips rows whose key
the partition already holds, so ingesting the same input twice adds nothing. Every column is
named and typed here (docs/layers.md lists them); ``cluster``, ``date`` and ``hour`` are the
partition columns, as for ``events``.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Final

import msgspec

from kubetrail.lake.store import Lake, fsync_dir, partition_dir


class Table(msgspec.Struct, frozen=True):
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type), partitions excluded
    key: tuple[str, ...]  # the columns that make a row that row
    time: str  # the column that decides the partition


TABLES: Final = {
    t.name: t
    for t in (
        Table(
            "container_logs",
            (
                ("time", "TIMESTAMPTZ"),
                ("time_ns", "VARCHAR"),
                ("stream", "VARCHAR"),
                ("message", "VARCHAR"),
                ("partial", "BOOLEAN"),
                ("tag_missing", "BOOLEAN"),
                ("truncated", "BOOLEAN"),
                ("time_is_collection_time", "BOOLEAN"),
                ("namespace", "VARCHAR"),
                ("pod", "VARCHAR"),
                ("uid", "VARCHAR"),
                ("container", "VARCHAR"),
                ("restart", "INTEGER"),
                ("source", "VARCHAR"),
                ("ingested_at", "TIMESTAMPTZ"),
                ("row_key", "VARCHAR"),
            ),
            key=("uid", "container", "restart", "stream", "time_ns", "message", "partial"),
            time="time",
        ),
        Table(
            "component_logs",
            (
                ("time", "TIMESTAMPTZ"),
                ("year_inferred", "BOOLEAN"),
                ("host", "VARCHAR"),
                ("ident", "VARCHAR"),
                ("pid", "BIGINT"),
                ("severity", "VARCHAR"),
                ("file", "VARCHAR"),
                ("line", "INTEGER"),
                ("message", "VARCHAR"),
                ("structured", "BOOLEAN"),
                ("kv", "VARCHAR"),
                ("format", "VARCHAR"),
                ("source", "VARCHAR"),
                ("ingested_at", "TIMESTAMPTZ"),
                ("row_key", "VARCHAR"),
            ),
            key=("time", "host", "ident", "pid", "file", "line", "message", "kv"),
            time="time",
        ),
        Table(
            "k8s_events",
            (
                ("occurrence_key", "VARCHAR"),
                ("uid", "VARCHAR"),
                ("namespace", "VARCHAR"),
                ("name", "VARCHAR"),
                ("type", "VARCHAR"),
                ("reason", "VARCHAR"),
                ("message", "VARCHAR"),
                ("action", "VARCHAR"),
                ("object_kind", "VARCHAR"),
                ("object_namespace", "VARCHAR"),
                ("object_name", "VARCHAR"),
                ("object_uid", "VARCHAR"),
                ("object_field_path", "VARCHAR"),
                ("reporting_controller", "VARCHAR"),
                ("reporting_instance", "VARCHAR"),
                ("first_time", "TIMESTAMPTZ"),
                ("last_time", "TIMESTAMPTZ"),
                ("count", "BIGINT"),
                ("aggregated", "BOOLEAN"),
                ("source", "VARCHAR"),
                ("ingested_at", "TIMESTAMPTZ"),
                ("row_key", "VARCHAR"),
            ),
            key=("occurrence_key",),
            time="last_time",
        ),
    )
}
ROOT: Final = "tables"


def glob(table: str) -> str:
    return f"{ROOT}/{table}/cluster=*/date=*/hour=*/*.parquet"


def files(lake: Lake, table: str) -> list[Path]:
    return sorted(lake.root.glob(glob(table)))


def parse_time(text: Any) -> datetime | None:
    """RFC 3339 (up to 9 fraction digits) → an aware datetime (microseconds); None if none."""
    if not isinstance(text, str) or not text:
        return None
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)].ljust(6, '0')}{rest[digits:]}"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def klog_time(mmdd: str, reference: datetime, zone: tzinfo = UTC) -> datetime | None:
    """A klog header time (``MMDD HH:MM:SS.uuuuuu``, no year, the process's zone) placed in
    the year of ``reference`` — or the year before when that would put it more than two
    days after ``reference`` (the rule of syslog lines, layers-spec.md §2.6)."""
    try:
        moment = datetime.strptime(f"{reference.year}{mmdd}", "%Y%m%d %H:%M:%S.%f")
    except ValueError:
        return None
    moment = moment.replace(tzinfo=zone)
    if moment - reference > timedelta(days=2):
        moment = moment.replace(year=reference.year - 1)
    return moment


def row_key(table: Table, row: Mapping[str, Any]) -> str:
    values = [row.get(k) for k in table.key]
    text = json.dumps(values, default=str, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _arrow_type(duck: str) -> Any:
    import pyarrow as pa  # type: ignore[import-untyped]

    return {
        "VARCHAR": pa.string(),
        "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
        "BOOLEAN": pa.bool_(),
        "INTEGER": pa.int32(),
        "BIGINT": pa.int64(),
    }[duck]


class StoredKeys:
    """The row keys a partition holds, read once per file and kept: a long-running writer
    (follow, events) commits often, and each commit would otherwise read every file of the
    hour again. Keys of files removed later (compaction keeps their rows) stay known."""

    def __init__(self) -> None:
        self._keys: dict[Path, set[str]] = {}
        self._read: dict[Path, set[str]] = {}

    def of(self, directory: Path) -> set[str]:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        keys = self._keys.setdefault(directory, set())
        read = self._read.setdefault(directory, set())
        for existing in sorted(directory.glob("*.parquet")) if directory.is_dir() else []:
            if existing.name not in read:
                keys.update(pq.read_table(existing, columns=["row_key"]).column(0).to_pylist())
                read.add(existing.name)
        return keys

    def wrote(self, directory: Path, name: str, keys: Iterable[str]) -> None:
        self._keys.setdefault(directory, set()).update(keys)
        self._read.setdefault(directory, set()).add(name)


class WriteStats(msgspec.Struct):
    rows: int = 0
    written: int = 0
    duplicates: int = 0
    files: int = 0
    no_time: int = 0


def write(
    lake: Lake,
    table_name: str,
    rows: Iterable[Mapping[str, Any]],
    *,
    cluster: str,
    now: datetime,
    stats: WriteStats | None = None,
    stored: StoredKeys | None = None,
) -> WriteStats:
    """Store ``rows`` (already in the table's columns) in hour partitions, each key once;
    ``stored`` keeps what the partitions hold between calls."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = TABLES[table_name]
    stats = stats or WriteStats()
    known = stored or StoredKeys()
    groups: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    ingested = now.astimezone(UTC)
    for row in rows:
        stats.rows += 1
        moment = row.get(table.time)
        if not isinstance(moment, datetime):
            stats.no_time += 1
            continue
        moment = moment.astimezone(UTC)
        full = {name: row.get(name) for name, _ in table.columns}
        full["ingested_at"] = ingested
        full["row_key"] = key = row_key(table, full)
        bucket = groups.setdefault((moment.strftime("%Y-%m-%d"), moment.hour), {})
        if key in bucket:
            stats.duplicates += 1
        else:
            bucket[key] = full
    schema = pa.schema([(name, _arrow_type(duck)) for name, duck in table.columns])
    stamp = now.strftime("%Y%m%dT%H%M%S")
    for (date, hour), by_key in sorted(groups.items()):
        partition = f"{ROOT}/{table.name}/{partition_dir(cluster, date, hour)}"
        directory = lake.root / partition
        held = known.of(directory)
        fresh = [r for k, r in by_key.items() if k not in held]
        stats.duplicates += len(by_key) - len(fresh)
        if not fresh:
            continue
        fresh.sort(key=lambda r: (r[table.time], r["row_key"]))
        arrow = pa.Table.from_pylist(fresh, schema=schema)
        staging = lake.root / "_staging" / f"{table.name}-{uuid.uuid4().hex[:12]}.parquet"
        pq.write_table(arrow, staging, compression="zstd")
        with open(staging, "rb") as fh:
            os.fsync(fh.fileno())
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"part-{stamp}-{uuid.uuid4().hex[:12]}.parquet"
        os.replace(staging, target)
        fsync_dir(directory)
        known.wrote(directory, target.name, (r["row_key"] for r in fresh))
        stats.written += len(fresh)
        stats.files += 1
    return stats


# ---------------------------------------------------------------------------------------------
# Records of kubetrail parse → rows of the tables


def container_row(record: Mapping[str, Any], source: str) -> dict[str, Any]:
    return {
        "time": parse_time(record.get("time")),
        "time_ns": record.get("time"),
        "stream": record.get("stream"),
        "message": record.get("message"),
        "partial": bool(record.get("partial")),
        "tag_missing": bool(record.get("tag_missing")),
        "truncated": bool(record.get("truncated")),
        "time_is_collection_time": bool(record.get("time_is_collection_time")),
        "namespace": record.get("namespace"),
        "pod": record.get("pod"),
        "uid": record.get("uid"),
        "container": record.get("container"),
        "restart": record.get("restart"),
        "source": source,
    }


def component_row(
    record: Mapping[str, Any],
    fmt: str,
    source: str,
    *,
    reference: datetime,
    zone: tzinfo = UTC,
) -> dict[str, Any]:
    """A klog, journald or syslog record as a component_logs row; the klog message's fields
    (severity, file, line, pairs) come from the record or its ``klog`` field."""
    klog = record.get("klog") if fmt in ("journald", "syslog") else record
    klog = klog if isinstance(klog, Mapping) else {}
    if fmt == "klog":
        time = parse_time(record.get("time_rfc3339")) or klog_time(
            str(record.get("time")), reference, zone
        )
        inferred = record.get("time_rfc3339") is None
        # klog names its files <program>.<host>.<user>.log…: the program is the component.
        name = source.rpartition(":")[0].rsplit("/", 1)[-1]
        ident = name.split(".", 1)[0] if name and name != "-" else None
        host, pid = None, record.get("thread")
    else:
        time = parse_time(record.get("time"))
        inferred = bool(record.get("year_inferred"))
        host, ident, pid = record.get("host"), record.get("ident"), record.get("pid")
    kv = klog.get("kv")
    return {
        "time": time,
        "year_inferred": inferred,
        "host": host,
        "ident": ident,
        "pid": pid,
        "severity": klog.get("severity"),
        "file": klog.get("file"),
        "line": klog.get("line"),
        "message": klog.get("message", record.get("message")),
        "structured": bool(klog.get("structured")),
        "kv": json.dumps(kv, ensure_ascii=False, sort_keys=True) if kv else None,
        "format": fmt,
        "source": source,
    }


def event_row(record: Mapping[str, Any], source: str) -> dict[str, Any]:
    obj = record.get("object") or {}
    first = parse_time(record.get("first_time"))
    last = parse_time(record.get("last_time")) or first
    return {
        "occurrence_key": record.get("occurrence_key"),
        "uid": record.get("uid"),
        "namespace": record.get("namespace"),
        "name": record.get("name"),
        "type": record.get("type"),
        "reason": record.get("reason"),
        "message": record.get("message"),
        "action": record.get("action"),
        "object_kind": obj.get("kind"),
        "object_namespace": obj.get("namespace"),
        "object_name": obj.get("name"),
        "object_uid": obj.get("uid"),
        "object_field_path": obj.get("fieldPath"),
        "reporting_controller": record.get("reporting_controller"),
        "reporting_instance": record.get("reporting_instance"),
        "first_time": first,
        "last_time": last,
        "count": record.get("count"),
        "aggregated": bool(record.get("aggregated")),
        "source": source,
    }
