"""Query engines over the lake, behind one small Protocol. DuckDB is the embedded one.

Every engine exposes the same two views of audit events (and one per table of the other
layers — ``container_logs``, ``component_logs``, ``k8s_events``: kubetrail.lake.tables):

* ``raw_events``: every stored row — Parquet files plus the write-ahead log of receivers —
  with the hive partition columns ``cluster`` (text), ``date`` (DATE) and ``hour`` (INTEGER);
* ``events``: the same with exact duplicates removed. Only *exact* duplicates are the same
  event — key ``(cluster, audit_id, stage, stage_at, event_hash)``; the first ingested copy is
  kept. Same audit ID and stage with different content is kept twice (an ``Audit-ID`` header
  can be reused by a client to hide a request behind another: see ``kubetrail lake health``).

Sessions run in UTC. User SQL is read-only: only query statements run, and the DuckDB session
may read the lake directory and nothing else.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

import msgspec

from kubetrail.errors import InputError, UsageError
from kubetrail.lake.schema import (
    COLUMNS,
    NAMES,
    PARTITION_TYPES,
    empty_select,
    projection_sql,
    staging_columns_sql,
)
from kubetrail.lake.store import DATA_GLOB, Lake, is_remote
from kubetrail.lake.tables import TABLES
from kubetrail.lake.tables import files as table_files
from kubetrail.lake.tables import glob as table_glob

DEDUP_KEY: Final = ("cluster", "audit_id", "stage", "stage_at", "event_hash")


class Result(msgspec.Struct, frozen=True):
    """A query's answer: column names, their engine types, rows of Python values."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]


class Engine(Protocol):
    """What kubetrail's commands need from an engine."""

    name: str

    def query(self, sql: str, params: Sequence[object] | None = None) -> Result: ...

    def close(self) -> None: ...


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def dedup_sql(source: str) -> str:
    """``source`` (a relation with the lake's columns) without exact duplicates."""
    key = ", ".join(DEDUP_KEY)
    # The columns named, not ``* EXCLUDE``: the same SQL then runs on Spark (lake/spark.py).
    cols = ", ".join([*NAMES, *PARTITION_TYPES])
    return (
        f"SELECT {cols} FROM (SELECT *, row_number() OVER (PARTITION BY {key} "
        f"ORDER BY ingested_at, source) AS _kt_rn FROM {source}) WHERE _kt_rn = 1"
    )


_READ_ONLY: Final = frozenset({"SELECT", "EXPLAIN", "PRAGMA"})


class DuckDBEngine:
    """DuckDB over the lake's Parquet files and WAL, in an in-memory session."""

    name = "duckdb"

    def __init__(self, lake: Lake, *, threads: int | None = None) -> None:
        import duckdb

        self.lake = lake
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET TimeZone = 'UTC'")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        root = str(lake.root.resolve())
        types = ", ".join(f"{_sql_str(k)}: {_sql_str(v)}" for k, v in PARTITION_TYPES.items())
        parts = []
        if lake.data_files():
            parts.append(
                f"SELECT * FROM read_parquet({_sql_str(root + '/' + DATA_GLOB)}, "
                f"hive_partitioning = true, hive_types = {{{types}}}, union_by_name = true)"
            )
        if lake.wal_files():
            parts.append(
                f"SELECT {projection_sql(partitions=True)} FROM "
                f"read_ndjson({_sql_str(root + '/_wal/*/*.jsonl')}, "
                f"columns = {staging_columns_sql()}, ignore_errors = true)"
            )
        # Every column of the current schema, typed, even in an empty lake or one whose files
        # are all of an older schema version (they read as nulls in the newer columns).
        parts.append(empty_select([*((n, d) for n, d, _ in COLUMNS), *PARTITION_TYPES.items()]))
        union = " UNION ALL BY NAME ".join(f"({p})" for p in parts)
        self.con.execute(f"CREATE VIEW raw_events AS {union}")
        self.con.execute(f"CREATE VIEW events AS {dedup_sql('raw_events')}")
        # The other layers' tables (kubetrail.lake.tables), typed even when empty.
        for table in TABLES.values():
            if table_files(lake, table.name):
                source = (
                    f"SELECT * FROM read_parquet({_sql_str(root + '/' + table_glob(table.name))}, "
                    f"hive_partitioning = true, hive_types = {{{types}}}, union_by_name = true)"
                )
            else:
                source = empty_select([*table.columns, *PARTITION_TYPES.items()])
            self.con.execute(f"CREATE VIEW {table.name} AS {source}")
        # From here on the session may read the lake and nothing else, and cannot undo that.
        self.con.execute(f"SET allowed_directories = [{_sql_str(root)}]")
        self.con.execute("SET enable_external_access = false")
        self.con.execute("SET lock_configuration = true")

    def query(self, sql: str, params: Sequence[object] | None = None) -> Result:
        import duckdb

        try:
            statements = self.con.extract_statements(sql)
        except duckdb.Error as exc:
            raise UsageError(f"SQL: {exc}") from exc
        if len(statements) != 1:
            raise UsageError(f"give exactly one SQL statement (got {len(statements)})")
        kind = statements[0].type.name
        if kind not in _READ_ONLY:
            raise UsageError(f"the lake is read-only here: {kind} statements are not allowed")
        try:
            cursor = self.con.execute(sql, params) if params else self.con.execute(sql)
            rows = cursor.fetchall()
        except duckdb.Error as exc:
            raise InputError(f"SQL: {exc}") from exc
        description = cursor.description or []
        return Result(
            columns=[d[0] for d in description],
            types=[str(d[1]) for d in description],
            rows=[tuple(r) for r in rows],
        )

    def close(self) -> None:
        self.con.close()


# ---------------------------------------------------------------------------------------------
# Rendering values the same way for every engine and format


def json_value(value: object) -> object:
    """A query value as JSON: timestamps RFC 3339 UTC with microseconds, dates ISO, maps as
    objects, decimals as numbers, bytes as hex."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time | dt.timedelta):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict):
        if set(value) == {"key", "value"} and isinstance(value["key"], list):
            return {
                str(k): json_value(v) for k, v in zip(value["key"], value["value"], strict=False)
            }
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def records(result: Result) -> list[dict[str, object]]:
    return [
        {c: json_value(v) for c, v in zip(result.columns, row, strict=True)} for row in result.rows
    ]


ENGINES: Final = ("duckdb", "spark")


def open_engine(
    lake: Lake | str,
    name: str = "duckdb",
    *,
    master: str | None = None,
    conf: Mapping[str, str] | None = None,
) -> Engine:
    """The engine ``name`` over ``lake`` (a URL such as ``s3a://…`` only for Spark)."""
    if name == "spark":
        from kubetrail.lake.spark import SparkEngine

        return SparkEngine(lake, master=master, conf=conf)
    if name != "duckdb":
        raise UsageError(f"unknown engine {name!r} (available: {', '.join(ENGINES)})")
    if master or conf:
        raise UsageError("--spark-master and --spark-conf go with --engine spark")
    if not isinstance(lake, Lake):
        if is_remote(lake):
            raise UsageError(f"{lake}: DuckDB reads a lake on this machine (or --engine spark)")
        lake = Lake(lake.removeprefix("file://"))
    return DuckDBEngine(lake)
