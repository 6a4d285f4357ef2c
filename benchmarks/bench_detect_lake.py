"""Detection over a large lake (`kubetrail detect --lake`), beside the engine's scan alone.

Data: the lake of bench_query.py — --events of `kubetrail sample generate` traffic ingested by
kubetrail, replicated --copies times in DuckDB (each copy 5 hours later, its own audit IDs),
so 10,000,000 events by default. Built in a temporary directory, or kept in --cache DIR and
reused by later runs (never inside `make test`: the smoke test uses --quick).

Figures (best of --repeat, perf_counter, one DuckDB session):
  scan (baseline)  DuckDB counting the rows the rules may fire on: the bound of every rule
                   (kubetrail.detect.sql.candidates_sql) over the lake, nothing read back
  detect --lake    every bundled rule and correlation over the lake: the engine selects the
                   candidate rows per hour partition, removes exact duplicates, and the
                   in-process matcher decides on them (what `kubetrail detect --lake` does)
The findings must be the same in every run and not none, or the benchmark fails.
Goal (issue 8): SQL detection over a 10M-event lake for all rules in under 30 s.

    .venv/bin/python benchmarks/bench_detect_lake.py [--events 1000000] [--copies 10]
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
from datetime import UTC, datetime
from pathlib import Path

from bench_query import build
from kubetrail.detect.engine import detect, lake_events
from kubetrail.detect.rules import load_pack
from kubetrail.detect.sql import candidates_sql
from kubetrail.lake.engine import DuckDBEngine
from kubetrail.lake.store import Lake
from timing import best

ROOT = Path(__file__).resolve().parent.parent
GOAL_SECONDS = 30.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events ingested")
    parser.add_argument("--copies", type=int, default=10, help="the lake holds events x copies")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--cache", metavar="DIR", help="build the lake here once, then reuse it")
    parser.add_argument("--quick", action="store_true", help="50,000 events x 2, one run")
    args = parser.parse_args()
    events, copies = (50_000, 2) if args.quick else (args.events, args.copies)
    repeat = 1 if args.quick else args.repeat
    rules, correlations, problems = load_pack()
    if problems:
        print(f"the bundled pack has problems: {problems}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.cache) if args.cache else Path(tmp)
        t0 = time.perf_counter()
        reused = (root / "lake" / "_kubetrail").is_dir()
        if reused:
            lake = Lake(root / "lake")
        else:
            root.mkdir(parents=True, exist_ok=True)
            lake, _ = build(root, events, copies)
        built = time.perf_counter() - t0
        engine = DuckDBEngine(lake)
        total = engine.query("SELECT count(*) FROM raw_events").rows[0][0]
        bound = candidates_sql(rules)
        selected: list[int] = []
        found: list[int] = []

        def scan() -> None:
            selected.append(
                engine.query(f"SELECT count(*) FROM raw_events WHERE {bound}").rows[0][0]
            )

        def run_detect() -> None:
            stream = lake_events(engine, rules=rules)
            found.append(sum(1 for _ in detect(rules, stream, correlations=correlations)))

        figures = {
            "scan: rows the rules may fire on (baseline)": best(scan, repeat),
            "detect --lake, full pack": best(run_detect, repeat),
        }
        engine.close()
    if len(set(found)) != 1 or not found[0]:
        print(f"findings differ between runs or are none: {found}", file=sys.stderr)
        return 1
    base = figures["scan: rows the rules may fire on (baseline)"]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"lake: {total:,} events ({'reused' if reused else f'built in {built:.0f} s'}); "
        f"{len(rules)} rules and {len(correlations)} correlations; the bound selects "
        f"{selected[0]:,} rows ({selected[0] / total:.1%}); {found[0]:,} findings"
    )
    print(f"{'figure':<46} {'seconds':>8} {'vs baseline':>12}")
    for name, value in figures.items():
        print(f"{name:<46} {value:>8.2f} {value / base:>11.2f}x")
    seconds = figures["detect --lake, full pack"]
    print(f"goal < {GOAL_SECONDS:.0f} s: {'met' if seconds < GOAL_SECONDS else 'missed'}")
    if not args.quick:
        out = {
            "benchmark": "detect_lake",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "events": total,
            "rules": len(rules),
            "correlations": len(correlations),
            "selected_rows": selected[0],
            "findings": found[0],
            "seconds": {k: round(v, 2) for k, v in figures.items()},
            "goal_seconds": GOAL_SECONDS,
        }
        (ROOT / "benchmarks" / "results" / "detect_lake.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
