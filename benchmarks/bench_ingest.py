"""Ingest into the lake, beside DuckDB writing the same file as partitioned Parquet.

Data: `kubetrail sample generate` (3 nodes, log-everything), --events of them, in a temporary
file. Figures (best of --repeat, perf_counter, one process unless said):

  baseline       DuckDB 2 threads: COPY (SELECT … FROM read_ndjson(file, columns={…})) TO lake
                 (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (…)) — no dedup, no redaction
  ingest         kubetrail's file ingest in process: read, decode, redact, hash, dedup against
                 the lake, Parquet commits in a background thread
  streaming      the acknowledged path of follow/serve: read, decode, redact, hash, append the
                 staging lines to a write-ahead log with an fsync every 400 events (one webhook
                 batch); Parquet commits happen later, off this path
  ingest CLI     `kubetrail ingest` as a child process; its peak RSS from /proc (VmHWM)
  storage        lake bytes per event (Parquet files only), beside the raw JSONL bytes per event
  probes         what a DuckDB-only ingest would cost (no Python per event): the baseline's read
                 projected into the lake's columns (schema.COLUMNS, `_kt` fields computed in
                 SQL), written partitioned and unsorted; then the same plus an MD5 of the
                 event's content (a stable hash: what exact dedup needs), then plus the sort.
                 No dedup and no redaction in any probe, so each is an upper bound.

    .venv/bin/python benchmarks/bench_ingest.py [--events 1000000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from kubetrail.ingest.pipeline import Ingestor
from kubetrail.ingest.read import ReadReport, read_lines
from kubetrail.lake.engine import DuckDBEngine
from kubetrail.lake.schema import COLUMNS, SORT_KEYS, STAGING_COLUMNS, sql_str
from kubetrail.lake.store import Lake
from kubetrail.sample.generate import generate
from timing import best

ROOT = Path(__file__).resolve().parent.parent
GOALS = {
    "ingest_vs_baseline": 0.8,
    "streaming_events_per_second": 60_000,
    "rss_mb": 500,
    "bytes_per_event": 225,
}


# The staging line's `_kt` fields, computed from the input line instead (probes only).
_FROM_INPUT = {
    "CAST(_kt.r AS TIMESTAMPTZ)": "CAST(requestReceivedTimestamp AS TIMESTAMPTZ)",
    "CAST(_kt.t AS TIMESTAMPTZ)": "CAST(stageTimestamp AS TIMESTAMPTZ)",
    "CAST(_kt.i AS TIMESTAMPTZ)": "now()",
    "_kt.a": "NULL::VARCHAR",
    "_kt.e": "NULL::VARCHAR",
    "_kt.s": "'bench'",
    "_kt.b": "NULL::BIGINT",
}
_CONTENT_MD5 = (
    "md5(concat_ws(chr(0), auditID, stage, requestReceivedTimestamp, stageTimestamp, "
    "user.username, objectRef.name, requestURI, CAST(requestObject AS VARCHAR), "
    "CAST(responseObject AS VARCHAR), CAST(annotations AS VARCHAR)))"
)


def probe_sql(data: Path, out: Path, *, digest: str, sort: bool) -> str:
    """A DuckDB-only ingest of ``data``: the lake's columns straight from the input file."""
    columns = {k: v for k, v in STAGING_COLUMNS.items() if k != "_kt"}
    columns |= {"requestReceivedTimestamp": "VARCHAR", "stageTimestamp": "VARCHAR"}
    read = (
        f"read_ndjson({sql_str(str(data))}, columns = {{"
        + ", ".join(f"{sql_str(k)}: {sql_str(v)}" for k, v in columns.items())
        + "})"
    )
    exprs = []
    for name, _, expr in COLUMNS:
        for staged, direct in _FROM_INPUT.items():
            expr = expr.replace(staged, direct)
        exprs.append(f"{digest if name == 'event_hash' else expr} AS {name}")
    order = f" ORDER BY {', '.join(SORT_KEYS)}" if sort else ""
    return (
        f"COPY (SELECT *, 'bench' AS cluster, CAST(received_at AS DATE) AS date, "
        f"hour(received_at) AS hour FROM (SELECT {', '.join(exprs)} FROM {read}){order}) "
        f"TO {sql_str(str(out))} (FORMAT parquet, COMPRESSION zstd, "
        "PARTITION_BY (cluster, date, hour))"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="30,000 events, one run")
    args = parser.parse_args()
    n = 30_000 if args.quick else args.events
    repeat = 1 if args.quick else args.repeat
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "sample.log"
        start = datetime(2026, 1, 1, tzinfo=UTC)
        with open(data, "wb") as fh:
            for i, line in enumerate(generate(nodes=3, seconds=1e9, seed=7, start=start)):
                if i >= n:
                    break
                fh.write(line + b"\n")
        size = data.stat().st_size
        lake_dir = Path(tmp) / "lake"

        def fresh() -> Lake:
            shutil.rmtree(lake_dir, ignore_errors=True)
            return Lake(lake_dir, create=True)

        def baseline() -> None:
            import duckdb

            out = Path(tmp) / "duck"
            shutil.rmtree(out, ignore_errors=True)
            con = duckdb.connect()
            con.execute("SET threads = 2")
            con.execute(
                f"COPY (SELECT *, strftime(requestReceivedTimestamp, '%Y-%m-%d') AS date, "
                "hour(requestReceivedTimestamp) AS hour FROM read_ndjson("
                f"'{data}', columns={{auditID: 'VARCHAR', stage: 'VARCHAR', level: 'VARCHAR', "
                "verb: 'VARCHAR', requestURI: 'VARCHAR', user: 'JSON', impersonatedUser: 'JSON', "
                "sourceIPs: 'VARCHAR[]', userAgent: 'VARCHAR', objectRef: 'JSON', "
                "responseStatus: 'JSON', requestObject: 'JSON', responseObject: 'JSON', "
                "requestReceivedTimestamp: 'TIMESTAMPTZ', stageTimestamp: 'TIMESTAMPTZ', "
                f"annotations: 'JSON'}})) TO '{out}' (FORMAT parquet, COMPRESSION zstd, "
                "PARTITION_BY (date, hour))"
            )
            con.close()

        def probe(digest: str, sort: bool) -> Callable[[], None]:
            def go() -> None:
                import duckdb

                out = Path(tmp) / "probe"
                shutil.rmtree(out, ignore_errors=True)
                con = duckdb.connect()
                con.execute("SET threads = 2")
                con.execute("SET TimeZone = 'UTC'")
                con.execute(probe_sql(data, out, digest=digest, sort=sort))
                con.close()

            return go

        def run(background: bool, batch: int) -> Ingestor:
            ing = Ingestor(fresh(), "bench", background=background, batch_rows=batch)
            for line in read_lines([str(data)], ReadReport()):
                ing.add(line.data, line.source)
                ing.maybe_flush()
            ing.close()
            if ing.stats.written != n:
                raise SystemExit(f"stored {ing.stats.written:,} of {n:,}: broken benchmark")
            return ing

        def streaming() -> None:
            ing = Ingestor(fresh(), "bench")
            wal = lake_dir / "_wal" / "bench"
            wal.mkdir(parents=True)
            written = 0
            with open(wal / "1.jsonl", "ab") as fh:
                for line in read_lines([str(data)], ReadReport()):
                    ing.add(line.data, line.source)
                    if ing.pending >= 400:
                        rows = ing.take_rows()
                        fh.write(b"\n".join(rows.json_rows()) + b"\n")
                        fh.flush()
                        os.fsync(fh.fileno())
                        written += len(rows)
                rows = ing.take_rows()
                fh.write(b"\n".join(rows.json_rows()) + b"\n")
                os.fsync(fh.fileno())
                written += len(rows)
            if written != n:
                raise SystemExit(f"streamed {written:,} of {n:,}: broken benchmark")

        rss = [0.0]

        def cli() -> None:
            lake = fresh()
            code = (
                "import sys\nfrom kubetrail.cli import main\n"
                "status = main(['ingest', sys.argv[1], '--lake', sys.argv[2]])\n"
                "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
                "print(hwm.split()[1], file=sys.stderr)\nsys.exit(status)\n"
            )
            proc = subprocess.run(
                [sys.executable, "-c", code, str(data), str(lake.root)],
                check=True,
                stderr=subprocess.PIPE,
                text=True,
            )
            rss[0] = float(proc.stderr.strip().splitlines()[-1]) / 1024

        figures = {
            "DuckDB COPY to partitioned Parquet (baseline)": best(baseline, repeat),
            "ingest, in process": best(lambda: run(True, 100_000), repeat),
            "streaming path (decode to fsynced WAL, batches of 400)": best(streaming, repeat),
            "kubetrail ingest CLI process": best(cli, repeat),
            "probe: DuckDB only, lake columns, no hash, unsorted": best(
                probe("NULL::VARCHAR", False), repeat
            ),
            "probe: ... + MD5 of the content": best(probe(_CONTENT_MD5, False), repeat),
            "probe: ... + MD5 + sorted": best(probe(_CONTENT_MD5, True), repeat),
        }
        lake = fresh()
        run(True, 100_000)
        stored = sum(p.stat().st_size for p in lake.root.rglob("*.parquet"))
        eng = DuckDBEngine(lake)
        assert eng.query("SELECT count(*) FROM events").rows[0][0] == n
        eng.close()
    rate = {k: n / v for k, v in figures.items()}
    base = rate["DuckDB COPY to partitioned Parquet (baseline)"]
    print(f"{n:,} events, {size / 1e6:,.0f} MB raw JSONL ({size / n:,.0f} B/event)")
    print(f"{'figure':<58} {'events/s':>10} {'x baseline':>11}")
    for name, r in rate.items():
        print(f"{name:<58} {r:>10,.0f} {r / base:>10.2f}x")
    per_event = stored / n
    print(
        f"storage: {per_event:,.0f} B/event in the lake vs {size / n:,.0f} B/event raw "
        f"(sorted by object_resource, verb, user_name, received_at); goal <= 225"
    )
    print(f"peak RSS of kubetrail ingest: {rss[0]:,.0f} MB (goal < 500)")
    if not args.quick:
        out = {
            "benchmark": "ingest",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "events": n,
            "raw_bytes": size,
            "repeat": repeat,
            "events_per_second": {k: round(v) for k, v in rate.items()},
            "lake_bytes_per_event": round(per_event, 1),
            "peak_rss_mb": round(rss[0]),
            "goals": GOALS,
        }
        (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
        (ROOT / "benchmarks" / "results" / "ingest.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
