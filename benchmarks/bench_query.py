"""search and top on a large lake, beside the same questions written by hand in DuckDB SQL.

Data: --events of `kubetrail sample generate` traffic (3 nodes, log-everything) ingested into
a lake in a temporary directory through kubetrail's own ingest, then replicated in DuckDB
--copies times, each copy shifted 5 hours later with its own audit IDs, into the same hive
partitions (so the lake holds events x copies rows). The generated traffic's human users
(jane@example.com and others) run kubectl a few times a minute; the one searched for is the
analyst's usual question, "what did this person do in the last 24 hours".

Figures (best of --repeat, perf_counter, one DuckDB session on the lake for all of them):
  search     kubetrail.query.search.search(Filters(user=X, since=24h)): one line per request,
             newest first, limit 100
  top        kubetrail.query.search.top(by=user): requests and their event bytes per user
  hand SQL   the same answers written by hand over `raw_events`: one row per request by a
             window (search), count(DISTINCT request) (top). Not over the `events` view: its
             duplicate-removing window over every column of 10M rows took more than 15 GB
             and was stopped (docs/benchmarks.md)
  CLI        `kubetrail search` / `kubetrail top` as processes (start-up included)
The answers are compared: the library and the hand SQL must return the same requests (and
the same top five users with their counts), or the benchmark fails.

Goals (issue 7): search < 1 s and top < 2 s on 10M events; overhead <= 1.2x the hand SQL.

    .venv/bin/python benchmarks/bench_query.py [--events 1000000] [--copies 10] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from kubetrail.ingest.pipeline import Ingestor
from kubetrail.ingest.read import ReadReport, read_lines
from kubetrail.lake.engine import DuckDBEngine, Result, records
from kubetrail.lake.store import Lake
from kubetrail.query.search import Filters, search, top
from kubetrail.sample.generate import generate
from timing import best

ROOT = Path(__file__).resolve().parent.parent
USER = "jane@example.com"
GOALS = {"search_seconds": 1.0, "top_seconds": 2.0, "overhead": 1.2}
SHIFT_HOURS = 5

# What an analyst who knows the lake writes: filter the stored rows, keep one row per request
# (its last stage; that also drops exact duplicates), newest first.
HAND_SEARCH = """
SELECT * FROM raw_events
WHERE (user_name = $user OR impersonated_name = $user) AND received_at >= $since
QUALIFY rank() OVER (PARTITION BY cluster, audit_id, received_at ORDER BY
          list_position(['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic'],
                        stage) DESC, stage_at DESC) = 1
    AND row_number() OVER (PARTITION BY cluster, audit_id, stage, stage_at, event_hash
                           ORDER BY ingested_at, source) = 1
ORDER BY received_at DESC, stage_at DESC, audit_id, event_hash LIMIT 100
"""
HAND_TOP = """
SELECT user_name, count(DISTINCT (cluster, audit_id, received_at)) AS requests,
       sum(event_bytes) FILTER (WHERE stage IN ('ResponseComplete', 'Panic')) AS bytes
FROM raw_events GROUP BY 1 ORDER BY 2 DESC LIMIT 20
"""


def build(root: Path, events: int, copies: int) -> tuple[Lake, datetime]:
    import duckdb

    data = root / "sample.log"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with open(data, "wb") as fh:
        for i, line in enumerate(generate(nodes=3, seconds=1e9, seed=11, start=start)):
            if i >= events:
                break
            fh.write(line + b"\n")
    lake = Lake(root / "lake", create=True)
    ing = Ingestor(lake, "bench", background=True)
    for line in read_lines([str(data)], ReadReport()):
        ing.add(line.data, line.source)
        ing.maybe_flush()
    ing.close()
    data.unlink()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    files = f"{lake.root}/cluster=*/date=*/hour=*/*.parquet"
    originals = f"{lake.root}/cluster=*/date=*/hour=*/part-*.parquet"  # what ingest wrote
    for k in range(1, copies):
        shift = f"INTERVAL {k * SHIFT_HOURS} HOUR"
        con.execute(
            f"""COPY (
              SELECT * EXCLUDE (date, hour) REPLACE (
                  received_at + {shift} AS received_at,
                  stage_at + {shift} AS stage_at,
                  audit_id || '-{k}' AS audit_id),
                strftime(received_at + {shift}, '%Y-%m-%d') AS date,
                strftime(received_at + {shift}, '%H') AS hour
              FROM read_parquet('{originals}', hive_partitioning = true)
            ) TO '{lake.root}' (FORMAT parquet, COMPRESSION zstd,
                PARTITION_BY (cluster, date, hour), FILENAME_PATTERN 'copy{k}-{{uuid}}', APPEND)"""
        )
    (last,) = con.execute(f"SELECT max(received_at) FROM read_parquet('{files}')").fetchone()
    con.close()
    return lake, last


def requests(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(r["cluster"], r["audit_id"], r["received_at"]) for r in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events ingested")
    parser.add_argument("--copies", type=int, default=10, help="the lake holds events x copies")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reuse", metavar="LAKE", help="query this lake instead of building")
    parser.add_argument("--quick", action="store_true", help="50,000 events x 2, one run")
    args = parser.parse_args()
    events, copies = (50_000, 2) if args.quick else (args.events, args.copies)
    repeat = 1 if args.quick else args.repeat
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        if args.reuse:  # a lake an earlier run built (for working on the queries)
            lake = Lake(args.reuse)
            now = DuckDBEngine(lake).query("SELECT max(received_at) FROM raw_events").rows[0][0]
        else:
            lake, now = build(Path(tmp), events, copies)
        built = time.perf_counter() - t0
        engine = DuckDBEngine(lake)
        (total,) = engine.query("SELECT count(*) FROM raw_events").rows[0]
        since = now.timestamp() - 86400
        since_dt = datetime.fromtimestamp(since, UTC)
        filters = Filters(user=USER, since="24h")
        params = {"user": USER, "since": since_dt}

        def hand() -> list[dict[str, object]]:
            cursor = engine.con.execute(HAND_SEARCH, params)
            rows = cursor.fetchall()
            cols = [d[0] for d in cursor.description]
            return records(Result(columns=cols, types=[], rows=[tuple(r) for r in rows]))

        def hand_top() -> list[tuple[object, ...]]:
            return engine.con.execute(HAND_TOP).fetchall()

        ours = search(engine, filters, now)
        theirs = hand()
        if requests(ours) != requests(theirs):
            print("search and the hand SQL disagree: broken benchmark", file=sys.stderr)
            return 1
        answer = top(engine, "user", filters=Filters(), now=now)
        top_rows, top_total = answer.rows, answer.events
        expected = [(r[0], r[1]) for r in hand_top()[:5]]
        if [(r.value, r.events) for r in top_rows[:5]] != expected:
            print("top and the hand SQL disagree: broken benchmark", file=sys.stderr)
            return 1
        figures = {
            "search --user X --since 24h": best(lambda: search(engine, filters, now), repeat),
            "  hand SQL": best(hand, repeat),
            "top --by user": best(lambda: top(engine, "user", Filters(), now), repeat),
            "  hand SQL ": best(hand_top, repeat),
        }
        engine.close()
        cli = {}
        since_arg = since_dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        for name, argv in {
            "kubetrail search (process)": ["search", "--user", USER, "--since", since_arg],
            "kubetrail top --by user (process)": ["top", "--by", "user"],
        }.items():

            def run(argv: list[str] = argv) -> None:
                subprocess.run(
                    [
                        str(Path(sys.executable).parent / "kubetrail"),
                        *argv,
                        "--lake",
                        str(lake.root),
                    ],
                    check=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )

            cli[name] = best(run, repeat)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"lake: {total:,} events ({events:,} ingested x {copies}), built in {built:.0f} s; "
        f"search answers {len(ours)} requests of {USER}; top counts {top_total:,} requests"
    )
    print(f"{'figure':<42} {'seconds':>8} {'vs hand SQL':>12}")
    base_search, base_top = figures["  hand SQL"], figures["  hand SQL "]
    for i, (name, value) in enumerate(figures.items()):
        base = base_search if i < 2 else base_top
        print(f"{name:<42} {value:>8.3f} {value / base:>11.2f}x")
    for name, value in cli.items():
        print(f"{name:<42} {value:>8.3f}")
    if not args.quick:
        out = {
            "benchmark": "query",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "events": total,
            "repeat": repeat,
            "seconds": {
                "search": round(figures["search --user X --since 24h"], 4),
                "search hand SQL": round(base_search, 4),
                "top": round(figures["top --by user"], 4),
                "top hand SQL": round(base_top, 4),
                **{k: round(v, 4) for k, v in cli.items()},
            },
            "goals": GOALS,
        }
        (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
        (ROOT / "benchmarks" / "results" / "query.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
