"""Apache Spark over the same lake: the engine for lakes that outgrow one machine.

The lake is plain Parquet in hive partitions, so Spark reads it as it is — local files, HDFS or
S3 (``s3a://``). :class:`SparkEngine` exposes the same two views as the DuckDB engine
(``raw_events`` and ``events``, see :mod:`kubetrail.lake.engine`) and answers the same SQL:
kubetrail's queries, and the user's, are written once in DuckDB's dialect and transpiled for
Spark with sqlglot. Results are identical on the same lake (a test runs every query and rule
on both engines), because:

* both sessions run in UTC (``spark.sql.session.timeZone``, and the JVM's own zone);
* NULL ordering is made explicit by the transpiler (DuckDB sorts NULLs last, Spark first);
* the partition columns are typed by kubetrail, never inferred: ``cluster`` text (a cluster
  named ``0042`` stays text), ``date`` DATE, ``hour`` INTEGER;
* kubetrail's SQL uses only constructs with one meaning in both dialects: anchored
  ``regexp_matches`` (RE2 and Java regexes agree on the patterns kubetrail writes), globs
  turned into such regexes, ``array_length``, no ``SELECT * REPLACE/EXCLUDE``;
* values come back through Arrow, so timestamps are UTC-aware whatever the local zone.

User SQL is read-only as with DuckDB: one query statement, reading only ``events``,
``raw_events`` and its own CTEs (no table functions, no ``parquet.`path```), and none of the
functions that reach the JVM (``reflect``, ``java_method``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from importlib import resources
from typing import TYPE_CHECKING, Any, Final

from kubetrail.errors import InputError, UsageError
from kubetrail.lake.engine import Result, dedup_sql
from kubetrail.lake.schema import COLUMNS, PARTITION_TYPES, STAGING_COLUMNS
from kubetrail.lake.store import DATA_GLOB, Lake, is_remote
from kubetrail.lake.tables import TABLES
from kubetrail.lake.tables import glob as table_glob

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DEFAULT_MASTER: Final = "local[*]"
VIEWS: Final = frozenset({"events", "raw_events", *TABLES})
# Functions that call into the JVM: never in user SQL.
_DENIED_FUNCTIONS: Final = frozenset({"reflect", "java_method", "try_reflect"})

# What every kubetrail Spark session is set to. Users may add to these with --spark-conf;
# the time zone cannot be changed (results would no longer be those of DuckDB).
SESSION_DEFAULTS: Final = {
    "spark.app.name": "kubetrail",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.parquet.compression.codec": "zstd",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
}
_FIXED: Final = ("spark.sql.session.timeZone",)
# On this machine only: a few shuffle partitions suit local mode's small answers (Spark's 200
# cost more than the query); a cluster keeps its own setting.
_LOCAL_DEFAULTS: Final = {"spark.sql.shuffle.partitions": "8"}


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            "--engine spark needs pyspark and sqlglot: pip install 'kubetrail[spark]' "
            "(and a Java 17+ runtime: java -version)"
        ) from exc


# ---------------------------------------------------------------------------------------------
# Types and SQL, produced from the DuckDB definitions


@functools.cache
def spark_type(duck: str) -> str:
    """A DuckDB type of the schema as a Spark DDL type (JSON is text to Spark)."""
    from sqlglot import exp

    return exp.DataType.build(duck.replace("JSON", "VARCHAR"), dialect="duckdb").sql("spark")


def ddl(fields: Iterable[tuple[str, str]]) -> str:
    """(name, DuckDB type) columns as a Spark DDL schema."""
    return ", ".join(f"`{name}` {spark_type(duck)}" for name, duck in fields)


def lake_ddl() -> str:
    """The Spark schema of the lake: every column, then the typed partition columns."""
    return ddl([*((name, duck) for name, duck, _ in COLUMNS), *PARTITION_TYPES.items()])


def staging_ddl() -> str:
    """The Spark schema of a staging line (the write-ahead log's form)."""
    return ddl(STAGING_COLUMNS.items())


def _projection() -> list[str]:
    """The lake's columns over a staging line (schema.COLUMNS), in Spark's dialect."""
    import sqlglot

    exprs = [f"{expr} AS {name}" for name, _, expr in COLUMNS]
    exprs += [
        "_kt.c AS cluster",
        "CAST(_kt.d AS DATE) AS date",
        "CAST(_kt.hr AS INTEGER) AS hour",
    ]
    return [sqlglot.transpile(e, read="duckdb", write="spark", identify=True)[0] for e in exprs]


def transpile(sql: str, *, user: bool = False) -> str:
    """DuckDB SQL as Spark SQL. With ``user``, the statement is first checked to be one
    read-only query over the lake's views (UsageError otherwise)."""
    import sqlglot
    from sqlglot import exp

    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        raise UsageError(f"SQL: {exc}") from exc
    if len(statements) != 1:
        raise UsageError(f"give exactly one SQL statement (got {len(statements)})")
    tree = statements[0]
    if user:
        if not isinstance(tree, exp.Query):
            kind = tree.key.upper()
            raise UsageError(f"the lake is read-only here: {kind} statements are not allowed")
        ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
        for table in tree.find_all(exp.Table):
            if table.db or table.catalog or table.name not in VIEWS | ctes:
                shown = table.sql("duckdb")
                raise UsageError(
                    f"SQL: {shown}: only the lake's views can be read ({', '.join(sorted(VIEWS))})"
                )
        if tree.find(exp.Qualify) is not None:
            # sqlglot rewrites QUALIFY as a subquery whose `SELECT *` gains the window's
            # column: the answer would differ from DuckDB's, so say how to write it instead.
            raise UsageError(
                "SQL: QUALIFY cannot run on Spark as DuckDB runs it; filter the window in a "
                "subquery: SELECT ... FROM (SELECT ..., row_number() OVER (...) AS rn FROM "
                "events) WHERE rn = 1"
            )
        for func in tree.find_all(exp.Func):
            name = (func.name if isinstance(func, exp.Anonymous) else func.sql_name()).lower()
            if name in _DENIED_FUNCTIONS:
                raise UsageError(f"SQL: {name}() is not allowed")
    spark: exp.Expression = tree.transform(_spark_functions)
    try:
        return spark.sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.SqlglotError as exc:
        raise UsageError(f"SQL: cannot be run on Spark: {exc}") from exc


# DuckDB functions sqlglot leaves as they are, and their Spark equivalents (same meaning).
_SPARK_NAMES: Final = {"strlen": "OCTET_LENGTH"}  # bytes of the UTF-8 text


def _spark_functions(node: Any) -> Any:
    from sqlglot import exp

    if isinstance(node, exp.Anonymous) and str(node.name).lower() in _SPARK_NAMES:
        return exp.Anonymous(
            this=_SPARK_NAMES[str(node.name).lower()], expressions=node.expressions
        )
    return node


# ---------------------------------------------------------------------------------------------
# Sessions


def _log_config() -> str:
    return str(resources.files("kubetrail") / "data" / "spark" / "log4j2.properties")


def spark_session(master: str | None = None, conf: Mapping[str, str] | None = None) -> SparkSession:
    """A Spark session in UTC with kubetrail's settings (``conf`` added on top)."""
    _require_pyspark()
    from pyspark.sql import SparkSession

    submitted = master is None and "PYSPARK_GATEWAY_PORT" in os.environ  # under spark-submit
    local = not submitted and (master or DEFAULT_MASTER).startswith("local")
    settings = dict(SESSION_DEFAULTS) | (_LOCAL_DEFAULTS if local else {})
    for key, value in (conf or {}).items():
        if key in _FIXED and value != settings[key]:
            raise UsageError(f"--spark-conf {key} cannot be changed (it is {settings[key]})")
        settings[key] = value
    java = f"-Duser.timezone=UTC -Dlog4j2.configurationFile=file:{_log_config()}"
    for side in ("driver", "executor"):
        key = f"spark.{side}.extraJavaOptions"
        settings[key] = f"{java} {settings[key]}".strip() if key in settings else java
    builder = SparkSession.builder
    if not submitted:  # (spark-submit gives the master: not overridden)
        builder = builder.master(master or DEFAULT_MASTER)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM could not start: no Java, bad master, bad conf
        where = master or DEFAULT_MASTER
        raise UsageError(f"Spark could not start ({where}): {_first_line(exc)}") from exc
    session.sparkContext.setLogLevel("ERROR")
    # PySpark logs every failed query's whole JVM stack trace as JSON on stderr; kubetrail
    # reports the error itself, in one line (InputError).
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        logging.getLogger(name).disabled = True
    return session


@contextlib.contextmanager
def application(
    master: str | None = None, conf: Mapping[str, str] | None = None
) -> Iterator[SparkSession]:
    """The Spark application already running in this process, or a new one (stopped at the
    end) with ``master`` and ``conf``."""
    _require_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    session = spark_session(master, conf)
    try:
        yield session
    finally:
        session.stop()


def parse_conf(pairs: Sequence[str]) -> dict[str, str]:
    """``--spark-conf k=v`` values as a mapping."""
    out = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise UsageError(f"--spark-conf {pair!r}: give KEY=VALUE")
        out[key.strip()] = value
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("JVM stacktrace", "at ")):
            return line
    return type(exc).__name__


# ---------------------------------------------------------------------------------------------
# The engine


def _duck_type(data_type: Any) -> str:
    """A Spark type named as DuckDB names the same type (Result.types)."""
    from pyspark.sql import types as t

    simple = {
        t.StringType: "VARCHAR",
        t.IntegerType: "INTEGER",
        t.LongType: "BIGINT",
        t.ShortType: "SMALLINT",
        t.ByteType: "TINYINT",
        t.DoubleType: "DOUBLE",
        t.FloatType: "FLOAT",
        t.BooleanType: "BOOLEAN",
        t.DateType: "DATE",
        t.TimestampType: "TIMESTAMP WITH TIME ZONE",
        t.TimestampNTZType: "TIMESTAMP",
        t.BinaryType: "BLOB",
        t.NullType: '"NULL"',
    }
    for kind, name in simple.items():
        if isinstance(data_type, kind):
            return name
    if isinstance(data_type, t.DecimalType):
        return f"DECIMAL({data_type.precision},{data_type.scale})"
    if isinstance(data_type, t.ArrayType):
        return f"{_duck_type(data_type.elementType)}[]"
    if isinstance(data_type, t.MapType):
        return f"MAP({_duck_type(data_type.keyType)}, {_duck_type(data_type.valueType)})"
    if isinstance(data_type, t.StructType):
        inner = ", ".join(f"{f.name} {_duck_type(f.dataType)}" for f in data_type.fields)
        return f"STRUCT({inner})"
    return str(data_type.simpleString()).upper()


class SparkEngine:
    """Spark SQL over the lake's Parquet files and write-ahead logs.

    ``lake`` is a :class:`Lake` on this machine, or a URL Spark reads (``s3a://bucket/lake``,
    ``hdfs://…``). With ``session``, the engine works in a new session of that Spark
    application (its own views; the application is left running at close); otherwise it
    uses the application already active in this process, if any, or starts one with
    ``master`` and ``conf`` and stops it at close.
    """

    name = "spark"

    def __init__(
        self,
        lake: Lake | str,
        *,
        session: SparkSession | None = None,
        master: str | None = None,
        conf: Mapping[str, str] | None = None,
    ) -> None:
        _require_pyspark()
        self.lake: Lake | None = lake if isinstance(lake, Lake) else None
        if isinstance(lake, Lake):
            root = str(lake.root.resolve())
        elif is_remote(lake):
            root = lake.rstrip("/")
        else:
            self.lake = Lake(lake.removeprefix("file://"))
            root = str(self.lake.root.resolve())
        self.root = root
        if session is None:  # a Spark application already running in this process is used
            from pyspark.sql import SparkSession

            session = SparkSession.getActiveSession()
        self._owned = session is None
        base = session if session is not None else spark_session(master, conf)
        self.session = base.newSession() if session is not None else base
        self.session.conf.set("spark.sql.session.timeZone", "UTC")
        raw = self._raw_events()
        raw.createOrReplaceTempView("raw_events")
        self.session.sql(transpile(dedup_sql("raw_events"))).createOrReplaceTempView("events")
        for table in TABLES.values():
            schema = ddl([*table.columns, *PARTITION_TYPES.items()])
            frame = self.session.createDataFrame([], schema)
            if self.lake is None or self.lake.root.joinpath("tables", table.name).is_dir():
                table_root = f"{self.root}/tables/{table.name}"
                reader = self.session.read.schema(schema).option("basePath", table_root)
                found = self._optional(
                    lambda r=reader, t=table.name: r.parquet(f"{self.root}/{table_glob(t)}")
                )
                frame = found if found is not None else frame
            frame.createOrReplaceTempView(table.name)

    def _raw_events(self) -> DataFrame:
        session = self.session
        schema = lake_ddl()
        frames: list[DataFrame | None] = [session.createDataFrame([], schema)]
        has_data = bool(self.lake.data_files()) if self.lake else True
        has_wal = bool(self.lake.wal_files()) if self.lake else True
        if has_data:
            reader = session.read.schema(schema).option("basePath", self.root)
            frames.append(self._optional(lambda: reader.parquet(f"{self.root}/{DATA_GLOB}")))
        if has_wal:
            wal = session.read.schema(staging_ddl()).option("mode", "DROPMALFORMED")
            frames.append(
                self._optional(
                    lambda: wal.json(f"{self.root}/_wal/*/*.jsonl").selectExpr(*_projection())
                )
            )
        present = [frame for frame in frames if frame is not None]
        out = present[0]
        for frame in present[1:]:
            out = out.unionByName(frame)
        return out

    @staticmethod
    def _optional(read: Any) -> DataFrame | None:
        """A read of files that may not exist (a remote lake is not listed first)."""
        from pyspark.errors import AnalysisException

        try:
            return read()  # type: ignore[no-any-return]
        except AnalysisException as exc:
            if "PATH_NOT_FOUND" in str(exc) or "Path does not exist" in str(exc):
                return None
            raise InputError(f"the lake at {_short(str(exc))}") from exc

    def query(self, sql: str, params: Sequence[object] | None = None) -> Result:
        from py4j.protocol import Py4JError  # type: ignore[import-untyped]
        from pyspark.errors import PySparkException

        text = transpile(sql, user=True)
        try:
            frame = self.session.sql(text, args=list(params) if params else None)
            table = frame.toArrow()
            types = [_duck_type(f.dataType) for f in frame.schema.fields]
        except (PySparkException, Py4JError) as exc:
            raise InputError(f"SQL: {_first_line(exc)}") from exc
        columns = [field.name for field in table.schema]
        values = [column.to_pylist() for column in table.columns]
        rows = list(zip(*values, strict=True)) if values else []
        return Result(columns=columns, types=types, rows=rows)

    def close(self) -> None:
        if self._owned:
            self.session.stop()
        else:
            for view in VIEWS:
                self.session.catalog.dropTempView(view)


def _short(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else text


# ---------------------------------------------------------------------------------------------
# Compaction as one Spark job


def compact(
    lake: Lake,
    now: datetime,
    *,
    session: SparkSession,
    partitions: list[str] | None = None,
) -> list[tuple[str, int, int, int]]:
    """:meth:`Lake.compact` as one Spark job over every partition to merge: the same files
    result (one per partition, exact duplicates removed — the first ingested copy kept —,
    rows sorted by the lake's sort keys, zstd), installed the same way (the merged file
    appears before the old ones go). Returns (partition, files before, rows before, rows
    after) per compacted partition."""
    import shutil
    import uuid
    from urllib.parse import unquote

    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from kubetrail.lake.engine import DEDUP_KEY
    from kubetrail.lake.schema import NAMES, SORT_KEYS

    plan = lake.to_compact(partitions)
    if not plan:
        return []
    listed = lake.manifest()
    columns = ddl((n, d) for n, d, _ in COLUMNS)
    paths = [str(f) for _, files in plan for f in files]
    # Each row's partition from its file's path (a URI: decoded below, per output directory).
    part = F.regexp_extract(
        F.input_file_name(), r"(cluster=[^/]*/date=[^/]*/hour=[^/]*)/[^/]*$", 1
    ).alias("_kt_part")
    rows = session.read.schema(columns).parquet(*paths).select(*NAMES, part)
    key = ["_kt_part", *(k for k in DEDUP_KEY if k != "cluster")]
    first = Window.partitionBy(*key).orderBy(
        F.col("ingested_at").asc_nulls_last(), F.col("source").asc_nulls_last()
    )
    order = [F.col(k).asc_nulls_last() for k in SORT_KEYS]
    staging = lake.root / "_staging" / f"spark-{uuid.uuid4().hex[:12]}"
    before = {unquote(p): n for p, n in rows.groupBy("_kt_part").count().collect()}
    try:
        (
            rows.withColumn("_kt_rn", F.row_number().over(first))
            .where("_kt_rn = 1")
            .drop("_kt_rn")
            .repartition("_kt_part")  # each partition's rows in one task: one file
            .sortWithinPartitions("_kt_part", *order)
            .write.partitionBy("_kt_part")
            .option("compression", "zstd")
            .parquet(str(staging))
        )
        written = {}
        for directory in staging.glob("_kt_part=*"):
            # Spark escapes the value in the directory name; the value is the path's URI form.
            value = unquote(unquote(directory.name.removeprefix("_kt_part=")))
            (merged,) = directory.glob("*.parquet")
            written[value] = merged
        done = []
        for partition, files in plan:
            output = written.get(partition)
            if output is None:
                raise InputError(f"{partition}: the Spark job wrote no file for it")
            target = lake.root / "_staging" / lake.compacted_name(now)
            output.rename(target)
            entry = lake.replace_files(partition, target, files, now, listed)
            done.append((partition, len(files), before.get(partition, 0), entry.rows))
        return done
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Retention through Spark's file systems (local, HDFS, S3: whatever the lake's URL names)


def prune(
    lake: Lake | str,
    older_than: timedelta,
    now: datetime,
    *,
    session: SparkSession,
    dry_run: bool = False,
) -> tuple[list[str], list[str]]:
    """:meth:`Lake.prune` through the Hadoop file system of the lake's URL: the same rule
    (:func:`kubetrail.lake.store.expired`: hours that ended before the cutoff, holds kept),
    the same deletions (each file's manifest entry, the file, the hour's directory, then the
    date and cluster directories left empty). Returns (deleted, kept under a hold)."""
    import msgspec

    from kubetrail.lake.store import Hold, expired

    url = str(lake.root.resolve()) if isinstance(lake, Lake) else lake.rstrip("/")
    jvm = session.sparkContext._jvm
    assert jvm is not None
    hadoop = jvm.org.apache.hadoop.fs
    conf = session.sparkContext._jsc.hadoopConfiguration()
    root = hadoop.Path(url)
    fs = root.getFileSystem(conf)
    base = str(fs.makeQualified(root).toString()).rstrip("/")
    found = fs.globStatus(hadoop.Path(f"{url}/cluster=*/date=*/hour=*")) or []
    partitions = sorted(
        str(status.getPath().toString()).removeprefix(base + "/")
        for status in found
        if status.isDirectory()
    )
    holds_path = hadoop.Path(f"{url}/_kubetrail/holds.json")
    holds: list[Hold] = []
    if fs.exists(holds_path):
        stream = fs.open(holds_path)
        try:
            text = jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
        finally:
            stream.close()
        holds = msgspec.json.decode(str(text).encode(), type=list[Hold])
    deleted, kept = expired(partitions, holds, older_than, now)
    for partition in [] if dry_run else deleted:
        directory = hadoop.Path(f"{url}/{partition}")
        for status in fs.listStatus(directory):
            name = str(status.getPath().getName())
            if name.endswith(".parquet"):
                entry = name.removesuffix(".parquet")
                fs.delete(hadoop.Path(f"{url}/_manifest/{entry}.json"), False)
        fs.delete(directory, True)
        parent = directory.getParent()
        for _ in range(2):  # the date, then the cluster directory, when left empty
            if fs.exists(parent) and len(fs.listStatus(parent)) == 0:
                fs.delete(parent, False)
            parent = parent.getParent()
    return deleted, kept
