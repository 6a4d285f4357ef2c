"""``kubetrail ingest``, ``kubetrail sql`` and ``kubetrail lake …``: the lake from the shell."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from kubetrail.lake.engine import Result
    from kubetrail.lake.store import Lake


def resolve_lake(lake: str | None, *, create: bool = False) -> Lake:
    """``--lake``, else ``lake`` from kubetrail.toml; opened (or created)."""
    from kubetrail.config import load_config
    from kubetrail.errors import UsageError
    from kubetrail.lake.store import Lake

    path = lake or load_config().lake
    if not path:
        raise UsageError('give --lake DIR (or set `lake = "DIR"` in kubetrail.toml)')
    return Lake(path, create=create)


def resolve_cluster(cluster: str | None) -> str:
    from kubetrail.config import load_config

    return cluster or load_config().cluster or "default"


LAKE_OPTION = click.option(
    "--lake",
    metavar="DIR",
    help="The lake directory (default: `lake` in kubetrail.toml).",
)


def engine_options(func: Any) -> Any:
    """``--engine``, ``--spark-master`` and ``--spark-conf``: the same on every command that
    reads the lake (open the engine with :func:`open_lake_engine`)."""
    options = [
        click.option(
            "--engine",
            type=click.Choice(["duckdb", "spark"]),
            default="duckdb",
            show_default=True,
            help="duckdb: embedded, one machine. spark: Apache Spark (pip install "
            "'kubetrail[spark]', Java 17+) for lakes that outgrow one machine; the same "
            "answers on the same lake (docs/scale.md). With spark, --lake may be a URL "
            "(s3a://bucket/lake, hdfs://...).",
        ),
        click.option(
            "--spark-master",
            metavar="URL",
            help="With --engine spark: local[*] (the default), spark://host:7077, yarn, "
            "k8s://https://host:6443.",
        ),
        click.option(
            "--spark-conf",
            metavar="KEY=VALUE",
            multiple=True,
            help="With --engine spark: a Spark setting (repeat), e.g. "
            "spark.executor.memory=8g or spark.hadoop.fs.s3a.endpoint=https://....",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def open_lake_engine(
    lake: str | None, engine: str, spark_master: str | None, spark_conf: tuple[str, ...]
) -> Any:
    """The engine the options ask for over ``--lake`` (or kubetrail.toml's lake)."""
    from kubetrail.lake.engine import open_engine
    from kubetrail.lake.spark import parse_conf
    from kubetrail.lake.store import is_remote

    conf = parse_conf(spark_conf) or None
    if lake and is_remote(lake):
        return open_engine(lake, engine, master=spark_master, conf=conf)  # a URL: Spark's
    return open_engine(resolve_lake(lake), engine, master=spark_master, conf=conf)


def _spark_job(engine: str, spark_master: str | None, spark_conf: tuple[str, ...]) -> Any:
    """The Spark application a lake job runs in with --engine spark (a context manager), or
    None for DuckDB's — which --spark-master and --spark-conf do not go with."""
    from kubetrail.errors import UsageError

    if engine == "spark":
        from kubetrail.lake.spark import application, parse_conf

        return application(spark_master, parse_conf(spark_conf))
    if spark_master or spark_conf:
        raise UsageError("--spark-master and --spark-conf go with --engine spark")
    return None


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


@click.command()
@click.argument("paths", metavar="PATH...", nargs=-1, required=True)
@LAKE_OPTION
@click.option(
    "--cluster", help="Cluster name for the partition (default: kubetrail.toml, else 'default')."
)
@click.option("--apiserver", help="API server (host) these logs come from, if known.")
@click.option(
    "--keep-secrets",
    is_flag=True,
    help="Store Secret data, tokens and last-applied annotations as recorded (default: "
    "replaced by keyed-hash markers before anything is written).",
)
@click.option(
    "--layer",
    type=click.Choice(["audit", "container", "component", "events"]),
    default="audit",
    show_default=True,
    help="container: /var/log/pods (CRI or Docker json-file) into container_logs; "
    "component: klog, journalctl -o json or syslog lines into component_logs; events: "
    "Kubernetes Events (kubectl get events -o json, JSON lines) into k8s_events.",
)
@click.option("--format", "-o", "fmt", type=click.Choice(["text", "json"]), default="text")
def ingest(
    paths: tuple[str, ...],
    lake: str | None,
    cluster: str | None,
    apiserver: str | None,
    keep_secrets: bool,
    layer: str,
    fmt: str,
) -> int:
    """Load audit logs — or, with --layer, the other layers — into the lake.

    PATH: files (JSON lines, or one JSON document per file), .gz (by its magic
    bytes), - for stdin, or a directory: every regular file in it, a rotated set
    (audit.log, audit-2026-11-26T10-00-00.000.log[.gz]) oldest first. Older event
    shapes and the GKE, AKS and EKS log envelopes are accepted.

    Secrets never reach disk: Secret data, TokenRequest/TokenReview tokens and
    last-applied annotations are replaced by keyed-hash markers as events are
    decoded. Re-ingesting the same input adds nothing (exact duplicates are
    dropped and counted; the same audit ID with different content is kept and
    counted as a collision — see `kubetrail lake health`).

    \b
    Example:
      kubetrail ingest /var/log/kubernetes/audit/ --lake ./lake --cluster prod
      kubetrail sql --lake ./lake "SELECT verb, count(*) FROM events GROUP BY 1"
    """
    import msgspec

    from kubetrail.errors import InputError
    from kubetrail.ingest.pipeline import Ingestor
    from kubetrail.ingest.read import ReadReport, expand_paths, read_lines

    if layer != "audit":
        return _ingest_layer(paths, lake, cluster, layer, fmt)
    files = expand_paths(paths)
    store = resolve_lake(lake, create=True)
    ingestor = Ingestor(
        store,
        resolve_cluster(cluster),
        keep_secrets=keep_secrets,
        apiserver=apiserver,
        background=True,
    )
    report = ReadReport()
    progress = _progress(files)
    try:
        for line in read_lines(files, report, stdin=sys.stdin.buffer):
            try:
                ingestor.add(line.data, f"{line.source}:{line.number}")
            except msgspec.DecodeError as exc:
                report.bad_line(line, str(exc))
            ingestor.maybe_flush()
            if progress is not None and report.yielded % 5000 == 0:
                progress(line.source, report.yielded)
        ingestor.close()
    finally:
        if progress is not None:
            progress(None, report.yielded)
    stats = ingestor.stats
    if fmt == "json":
        doc = msgspec.to_builtins(stats)
        doc.update(
            {"malformed": report.bad, "problems": [str(p) for p in report.problems]},
        )
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(report.summary(), err=True)
        skipped = f", {stats.skipped:,} envelope records skipped" if stats.skipped else ""
        click.echo(
            f"{stats.events:,} events: {stats.written:,} stored in {stats.files} file(s) "
            f"({_bytes(stats.bytes_written)}), {stats.duplicates:,} exact duplicates dropped, "
            f"{stats.collisions:,} audit-ID collisions kept, {stats.redacted_events:,} events "
            f"redacted{skipped}",
            err=True,
        )
        for reason in ingestor.skip_reasons:
            click.echo(f"  skipped: {reason}", err=True)
    if report.empty and not stats.events:
        raise InputError(f"no audit events in {', '.join(paths)}")
    return 0


def _bytes(n: int) -> str:
    from kubetrail.text import human_bytes

    return human_bytes(n)


def _ingest_layer(
    paths: tuple[str, ...], lake: str | None, cluster: str | None, layer: str, fmt: str
) -> int:
    import msgspec

    from kubetrail.errors import InputError
    from kubetrail.layers.collect import LAYERS
    from kubetrail.layers.collect import ingest as collect

    store = resolve_lake(lake, create=True)
    report = collect(store, layer, paths, cluster=resolve_cluster(cluster), now=_now())
    stats = report.stats
    if fmt == "json":
        doc = msgspec.to_builtins(report)
        doc["rejected"] = [{"file": f, "line": n, "reason": r} for f, n, r in report.rejected]
        click.echo(json.dumps(doc, indent=2))
    else:
        for path, number, reason in report.rejected[:20]:
            click.echo(f"{path}:{number}: {reason}", err=True)
        if len(report.rejected) > 20:
            click.echo(f"… and {len(report.rejected) - 20:,} more rejected lines", err=True)
        for stream in report.replaying:
            click.echo(
                f"{stream}: replays its file (a cat-loop sidecar?); each line kept once, "
                "stamped with the time it was printed — use `kubetrail sidecar` (tail -F)",
                err=True,
            )
        if report.replayed:
            click.echo(f"{report.replayed:,} replayed lines dropped", err=True)
        click.echo(
            f"{report.lines:,} lines: {report.records:,} records, {len(report.rejected):,} "
            f"rejected; {stats.written:,} stored in {LAYERS[layer]} ({stats.files} file(s)), "
            f"{stats.duplicates:,} already stored"
            + (f", {stats.no_time:,} without a time" if stats.no_time else ""),
            err=True,
        )
    if not report.records and not report.rejected:
        raise InputError(f"no {layer} records in {', '.join(paths)}")
    return 0


def _progress(files: list[str]) -> Any:
    """A one-line progress display on a terminal, or None."""
    if not sys.stderr.isatty():
        return None

    def show(source: str | None, count: int) -> None:
        if source is None:
            sys.stderr.write("\r\033[K")
        else:
            sys.stderr.write(f"\r\033[K{count:,} events … {source}")
        sys.stderr.flush()

    return show


@click.command()
@click.argument("query", metavar="SQL")
@LAKE_OPTION
@click.option(
    "--format",
    "-o",
    "fmt",
    type=click.Choice(["table", "csv", "json", "jsonl"]),
    default="table",
    show_default=True,
    help="json: one array of row objects; jsonl: one object per line.",
)
@engine_options
def sql(
    query: str,
    lake: str | None,
    fmt: str,
    engine: str,
    spark_master: str | None,
    spark_conf: tuple[str, ...],
) -> int:
    """Run one read-only SQL query over the lake (DuckDB dialect).

    The SQL is DuckDB's dialect whatever the engine: with --engine spark it is
    transpiled to Spark SQL (sqlglot) and reads only the two views.

    Two views: `events` (exact duplicates removed — use this) and `raw_events`
    (every stored row). Columns: received_at, stage_at, audit_id, stage, level,
    verb, request_uri, user_name, user_uid, user_groups, user_extra,
    impersonated_name, impersonated_uid, impersonated_groups, source_ips,
    user_agent, object_resource, object_subresource, object_namespace,
    object_name, object_uid, object_api_group, object_api_version,
    object_resource_version, response_code, response_status, response_reason,
    response_message, authz_decision, authz_reason, annotations, request_object,
    response_object (JSON text, secrets redacted), apiserver, source, envelope,
    ingested_at, event_hash, event_bytes, and the partitions cluster, date, hour.
    Events a receiver acknowledged but has not yet written to Parquet are included.
    The other layers (kubetrail ingest --layer) are the views container_logs,
    component_logs and k8s_events (docs/layers.md).

    The session time zone is UTC; json/jsonl write timestamps as RFC 3339 UTC with
    microseconds.

    \b
    Example:
      kubetrail sql --lake ./lake -o json \\
        "SELECT user_name, count(*) AS n FROM events WHERE verb = 'delete' GROUP BY 1"
    """
    eng = open_lake_engine(lake, engine, spark_master, spark_conf)
    try:
        result = eng.query(query)
    finally:
        eng.close()
    render_result(result, fmt)
    return 0


def render_result(result: Result, fmt: str) -> None:
    from kubetrail.lake.engine import json_value, records

    out = sys.stdout
    if fmt == "json":
        out.write(json.dumps(records(result), ensure_ascii=False) + "\n")
    elif fmt == "jsonl":
        for record in records(result):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        import csv

        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(result.columns)
        for row in result.rows:
            writer.writerow([_cell(json_value(v)) for v in row])
    else:
        cells = [[_cell(json_value(v)) for v in row] for row in result.rows]
        widths = [
            min(60, max([len(c)] + [len(r[i]) for r in cells]))
            for i, c in enumerate(result.columns)
        ]
        out.write(
            "  ".join(c.ljust(w) for c, w in zip(result.columns, widths, strict=True)).rstrip()
            + "\n"
        )
        for row_cells in cells:
            line = "  ".join(
                (c if len(c) <= w else c[: w - 1] + "…").ljust(w)
                for c, w in zip(row_cells, widths, strict=True)
            )
            out.write(line.rstrip() + "\n")
        click.echo(f"({len(result.rows):,} row{'s' if len(result.rows) != 1 else ''})", err=True)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# ---------------------------------------------------------------------------------------------


@click.group(name="lake")
def lake_group() -> None:
    """Look after the lake: verify, compact, prune, hold, health."""


@lake_group.command()
@LAKE_OPTION
@click.option("--format", "-o", "fmt", type=click.Choice(["text", "json"]), default="text")
def verify(lake: str | None, fmt: str) -> int:
    """Check every data file against the manifest (SHA-256): changed, missing or extra.

    Exit status 1 if any file does not match.
    """
    import msgspec

    store = resolve_lake(lake)
    checked, problems = store.verify()
    if fmt == "json":
        click.echo(
            json.dumps({"files": checked, "problems": msgspec.to_builtins(problems)}, indent=2)
        )
    else:
        for p in problems:
            click.echo(f"{p.kind.upper():8} {p.path}  {p.detail}")
        click.echo(f"{checked} file(s) checked, {len(problems)} problem(s)", err=True)
    return 1 if problems else 0


@lake_group.command()
@LAKE_OPTION
@click.option(
    "--partition", "partitions", multiple=True, help="cluster=…/date=…/hour=HH (repeatable)."
)
@engine_options
def compact(
    lake: str | None,
    partitions: tuple[str, ...],
    engine: str,
    spark_master: str | None,
    spark_conf: tuple[str, ...],
) -> int:
    """Merge each hour's files into one, removing exact duplicates.

    Readers never see partial or doubled data: the merged file appears before the
    old ones are removed, and the `events` view hides the overlap. Partitions under a
    legal hold are not touched. With --engine spark the merge is one Spark job over
    every partition (same files result); the lake must be on this machine's file
    system (or one mounted here).
    """
    store = resolve_lake(lake)
    spark = _spark_job(engine, spark_master, spark_conf)
    if spark is not None:
        from kubetrail.lake.spark import compact as spark_compact

        with spark as session:
            done = spark_compact(
                store, _now(), session=session, partitions=list(partitions) or None
            )
    else:
        done = store.compact(_now(), partitions=list(partitions) or None)
    for partition, files, before, after in done:
        click.echo(f"{partition}: {files} files, {before:,} rows -> 1 file, {after:,} rows")
    click.echo(f"{len(done)} partition(s) compacted", err=True)
    return 0


def _duration(text: str) -> Any:
    import re
    from datetime import timedelta

    from kubetrail.errors import UsageError

    match = re.fullmatch(r"(\d+)([smhdw])", text.strip())
    if not match:
        raise UsageError(f"durations look like 90d, 12h, 30m (got {text!r})")
    n, unit = int(match.group(1)), match.group(2)
    return timedelta(
        **{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]: n}
    )


@lake_group.command()
@LAKE_OPTION
@click.option("--older-than", required=True, metavar="AGE", help="e.g. 90d, 12h.")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@engine_options
def prune(
    lake: str | None,
    older_than: str,
    dry_run: bool,
    engine: str,
    spark_master: str | None,
    spark_conf: tuple[str, ...],
) -> int:
    """Delete hours older than AGE, except partitions under a legal hold.

    With --engine spark the files are deleted through Spark's file system for the
    lake's URL (local, hdfs://, s3a://), by the same rule.
    """
    age = _duration(older_than)
    spark = _spark_job(engine, spark_master, spark_conf)
    if spark is not None:
        from kubetrail.lake.spark import prune as spark_prune
        from kubetrail.lake.store import is_remote

        where: Any = lake if lake and is_remote(lake) else resolve_lake(lake)
        with spark as session:
            deleted, held = spark_prune(where, age, _now(), session=session, dry_run=dry_run)
    else:
        deleted, held = resolve_lake(lake).prune(age, _now(), dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for p in deleted:
        click.echo(f"{verb} {p}")
    for p in held:
        click.echo(f"kept {p} (legal hold)")
    click.echo(f"{len(deleted)} partition(s) {verb}, {len(held)} kept under hold", err=True)
    return 0


@lake_group.command()
@click.argument("pattern")
@LAKE_OPTION
@click.option("--reason", required=True, help="Why (case number, ticket).")
def hold(pattern: str, lake: str | None, reason: str) -> int:
    """Put partitions under a legal hold: prune and compact leave them alone.

    PATTERN: cluster=NAME[/date=YYYY-MM-DD[/hour=HH]], wildcards allowed
    (cluster=prod/date=2026-11-*).
    """
    store = resolve_lake(lake)
    h = store.hold(pattern, reason, _now())
    click.echo(f"hold on {h.pattern}: {h.reason}")
    return 0


@lake_group.command()
@click.argument("pattern")
@LAKE_OPTION
def release(pattern: str, lake: str | None) -> int:
    """Lift a legal hold."""
    from kubetrail.errors import UsageError

    store = resolve_lake(lake)
    if not store.release(pattern):
        raise UsageError(f"no hold on {pattern}")
    click.echo(f"released {pattern}")
    return 0


@lake_group.command()
@LAKE_OPTION
def holds(lake: str | None) -> int:
    """List legal holds."""
    for h in resolve_lake(lake).holds():
        click.echo(f"{h.pattern}\t{h.created}\t{h.reason}")
    return 0


@lake_group.command(name="health")
@LAKE_OPTION
@click.option(
    "--silent-after", default="10m", show_default=True, help="Report streams silent this long."
)
@click.option("--format", "-o", "fmt", type=click.Choice(["text", "json"]), default="text")
def health_command(lake: str | None, silent_after: str, fmt: str) -> int:
    """Is every API server still sending? Last event, gaps, ingest lag, duplicates,
    audit-ID collisions. Exit status 1 if a stream is silent longer than --silent-after."""
    import msgspec

    from kubetrail.lake.engine import json_value, open_engine
    from kubetrail.lake.health import health

    store = resolve_lake(lake)
    eng = open_engine(store)
    try:
        result = health(eng, _now(), silent_after=_duration(silent_after))
    finally:
        eng.close()
    if fmt == "json":
        doc = json_value(
            msgspec.to_builtins(result, builtin_types=(__import__("datetime").datetime,))
        )
        click.echo(json.dumps(doc, indent=2))
    else:
        for s in result.streams:
            server = s.apiserver or "(API server unknown)"
            lag = (
                f", ingest lag p50 {_ago(s.lag_p50_seconds)}"
                if s.lag_p50_seconds is not None
                else ""
            )
            state = "SILENT" if s.silent_seconds > result.silent_after_seconds else "ok"
            click.echo(
                f"{state:6} {s.cluster} {server}: {s.events:,} events, last "
                f"{json_value(s.last)} ({_ago(s.silent_seconds)} ago){lag}"
            )
            for g in s.gaps:
                click.echo(
                    f"       gap {_ago(g.seconds)}: {json_value(g.start)} -> {json_value(g.end)}"
                )
        click.echo(
            f"{result.events:,} events ({result.stored_rows:,} stored rows, {result.duplicates:,} "
            f"exact duplicates); {result.collisions:,} audit-ID collisions"
        )
        for example in result.collision_examples:
            click.echo(f"  collision: {example}")
    return 1 if result.silent else 0


def _ago(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
