"""The same queries on DuckDB and on Spark (local mode), on lakes of two sizes: the crossover.

Data: the lakes of bench_query.py — --events of `kubetrail sample generate` traffic ingested by
kubetrail, replicated in DuckDB (each copy 5 hours later, its own audit IDs): a small lake of
one copy and a large one of --copies (10,000,000 events by default). Built in a temporary
directory, or kept in --cache DIR and reused by later runs (never inside `make test`: the
smoke test uses --quick).

Figures (best of --repeat, perf_counter; one DuckDB session and one Spark application
(local[*] on this machine's cores) for all of them; DuckDB is the baseline):
  search     kubetrail.query.search.search(Filters(user=X, since=24h)), limit 100
  top        kubetrail.query.search.top(by=user)
  sql        GROUP BY verb, resource over `raw_events`
  detect     every bundled rule and correlation over the lake (what `detect --lake` does)
  start      Spark's start-up (JVM, session, views): paid once per command
The answers are compared: both engines must return the same JSON for every query, or the
benchmark fails.

The crossover: each engine's time is fitted as fixed + per-event cost from the two sizes. On
one machine Spark pays its fixed cost (planning, a JVM round trip per query) and a higher
per-event cost; it wins only with more cores than one machine has. The report prints how many
Spark cores would match DuckDB's per-event rate on this machine's cores (docs/scale.md).

    .venv/bin/python benchmarks/bench_spark.py [--events 1000000] [--copies 10]
        [--cache DIR] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from bench_query import build
from kubetrail.detect.engine import detect, lake_events
from kubetrail.detect.rules import load_pack
from kubetrail.lake.engine import DuckDBEngine, Engine, records
from kubetrail.lake.spark import SparkEngine, spark_session
from kubetrail.lake.store import Lake
from kubetrail.query.search import Filters, search, top
from timing import best

ROOT = Path(__file__).resolve().parent.parent
USER = "jane@example.com"
# Over raw_events: the `events` view's duplicate-removing window over every column of 10M rows
# needs more memory than this machine has on DuckDB (docs/lake.md).
SQL = (
    "SELECT verb, object_resource, count(*) AS n FROM raw_events GROUP BY 1, 2 "
    "ORDER BY n DESC, verb, object_resource LIMIT 50"
)


def _lake(root: Path, events: int, copies: int) -> tuple[Lake, datetime, bool]:
    if (root / "lake" / "_kubetrail").is_dir():
        lake = Lake(root / "lake")
        eng = DuckDBEngine(lake)
        (last,) = eng.query("SELECT max(received_at) FROM raw_events").rows[0]
        eng.close()
        return lake, last, True
    root.mkdir(parents=True, exist_ok=True)
    lake, last = build(root, events, copies)
    return lake, last, False


def _queries(now: datetime, rules: Any, correlations: Any) -> dict[str, Callable[[Engine], Any]]:
    since = (now - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "search --user X --since 24h": lambda e: search(
            e, Filters(user=USER, since=since), now, limit=100
        ),
        "top --by user": lambda e: top(e, "user", Filters(), now),
        "sql GROUP BY verb, resource": lambda e: records(e.query(SQL)),
        "detect --lake, full pack": lambda e: [
            (f.rule, f.audit_id)
            for f in detect(rules, lake_events(e, rules=rules), correlations=correlations)
        ],
    }


def measure(
    lake: Lake, now: datetime, spark: Any, repeat: int, rules: Any, correlations: Any
) -> tuple[int, dict[str, tuple[float, float]]]:
    """(events, {query: (duckdb seconds, spark seconds)}); fails if the answers differ."""
    duck, sparkling = DuckDBEngine(lake), SparkEngine(lake, session=spark)
    try:
        total = int(duck.query("SELECT count(*) FROM raw_events").rows[0][0])
        figures = {}
        for name, run in _queries(now, rules, correlations).items():
            answers: dict[str, bytes] = {}

            def once(
                engine: Engine,
                label: str,
                run: Callable[[Engine], Any] = run,
                answers: dict[str, bytes] = answers,
            ) -> None:
                answers[label] = msgspec.json.encode(run(engine))

            d = best(lambda: once(duck, "duckdb"), repeat)
            s = best(lambda: once(sparkling, "spark"), repeat)
            if answers["duckdb"] != answers["spark"] or answers["duckdb"] in (b"[]", b"{}"):
                raise SystemExit(f"{name}: the engines' answers differ (or are empty)")
            figures[name] = (d, s)
        return total, figures
    finally:
        duck.close()
        sparkling.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events ingested")
    parser.add_argument("--copies", type=int, default=10, help="the large lake: events x copies")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--cache", metavar="DIR", help="build the lakes here once, then reuse")
    parser.add_argument("--quick", action="store_true", help="20,000 events x 1 and x 2, one run")
    args = parser.parse_args()
    events, copies = (20_000, 2) if args.quick else (args.events, args.copies)
    repeat = 1 if args.quick else args.repeat
    rules, correlations, problems = load_pack()
    if problems:
        print(f"the bundled pack has problems: {problems}", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    spark = spark_session("local[*]", {"spark.driver.memory": "6g"})
    SparkEngine(Lake(Path(tempfile.mkdtemp()) / "empty", create=True), session=spark).close()
    started = time.perf_counter() - t0
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.cache) if args.cache else Path(tmp)
        for label, n in (("small", 1), ("large", copies)):
            lake, last, reused = _lake(base / f"{label}-{events}x{n}", events, n)
            now = last + timedelta(minutes=1)
            total, figures = measure(lake, now, spark, repeat, rules, correlations)
            results[label] = (total, figures, reused)
    spark.stop()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}; Spark local[*] "
        f"start-up {started:.1f} s"
    )
    (small, small_figures, _), (large, large_figures, _) = results["small"], results["large"]
    print(f"lakes: {small:,} and {large:,} events")
    print(f"{'query':<30} {'events':>11} {'duckdb s':>9} {'spark s':>9} {'spark/duckdb':>13}")
    for name in large_figures:
        for total, figures in ((small, small_figures), (large, large_figures)):
            d, s = figures[name]
            print(f"{name:<30} {total:>11,} {d:>9.2f} {s:>9.2f} {s / d:>12.2f}x")
    print("\nfitted as fixed + per-event (from the two sizes):")
    crossover = {}
    cores = os.cpu_count() or 1
    for name in large_figures:
        (ds, ss), (dl, sl) = small_figures[name], large_figures[name]
        slope_d = max((dl - ds) / (large - small), 1e-12)
        slope_s = max((sl - ss) / (large - small), 1e-12)
        fixed_d, fixed_s = ds - slope_d * small, ss - slope_s * small
        if slope_d <= 1e-12 or slope_s <= 1e-12:
            print(f"  {name:<30} too small a difference between the sizes to fit")
            continue
        needed = cores * slope_s / slope_d  # Spark cores for DuckDB's per-event rate
        crossover[name] = {
            "duckdb_fixed_s": round(fixed_d, 3),
            "duckdb_us_per_event": round(slope_d * 1e6, 4),
            "spark_fixed_s": round(fixed_s, 3),
            "spark_us_per_event": round(slope_s * 1e6, 4),
            "spark_cores_to_match": round(needed, 1),
        }
        print(
            f"  {name:<30} duckdb {fixed_d:6.2f} s + {slope_d * 1e6:7.3f} µs/event; spark "
            f"{fixed_s:6.2f} s + {slope_s * 1e6:7.3f} µs/event on {cores} cores: Spark needs "
            f"~{needed:.0f} cores to match"
        )
    if not args.quick:
        out = {
            "benchmark": "spark",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "cpus": cores,
            "spark_startup_seconds": round(started, 2),
            "events": {"small": small, "large": large},
            "seconds": {
                name: {
                    "small": [round(x, 3) for x in small_figures[name]],
                    "large": [round(x, 3) for x in large_figures[name]],
                }
                for name in large_figures
            },
            "seconds_order": ["duckdb", "spark"],
            "crossover": crossover,
        }
        (ROOT / "benchmarks" / "results" / "spark.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
