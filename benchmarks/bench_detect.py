"""Streaming detection: the bundled Sigma pack over generated traffic, beside reading alone.

Data: --events of `kubetrail sample generate` traffic (3 nodes, log-everything, ~2 KB per
event with bodies) in a temporary file. Figures (best of --repeat, perf_counter, one process,
one core):
  read + decode    kubetrail's reader and msgspec decoding each event to a dict, nothing else
                   (the baseline: what any consumer of the log pays)
  detect           the same plus every bundled rule and correlation (file_events ->
                   detect, every level): the streaming path of `kubetrail detect FILE`
  ingest path      the decode-redact-hash path of follow/serve (Ingestor.add), for scale
The findings are counted and must be the same in every run, or the benchmark fails.
Goal (issue 8): detection with the full pack >= 50,000 events/s.

    .venv/bin/python benchmarks/bench_detect.py [--events 200000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from kubetrail.detect.engine import detect, file_events
from kubetrail.detect.rules import load_pack
from kubetrail.ingest.pipeline import Ingestor
from kubetrail.ingest.read import ReadReport, read_lines
from kubetrail.lake.store import Lake
from kubetrail.sample.generate import generate
from timing import best

ROOT = Path(__file__).resolve().parent.parent
GOAL = 50_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="20,000 events, one run")
    args = parser.parse_args()
    n = 20_000 if args.quick else args.events
    repeat = 1 if args.quick else args.repeat
    rules, correlations, problems = load_pack()
    if problems:
        print(f"the bundled pack has problems: {problems}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "sample.log"
        start = datetime(2026, 1, 1, tzinfo=UTC)
        with open(data, "wb") as fh:
            for i, line in enumerate(generate(nodes=3, seconds=1e9, seed=5, start=start)):
                if i >= n:
                    break
                fh.write(line + b"\n")
        found: list[int] = []

        def read_only() -> None:
            for line in read_lines([str(data)], ReadReport()):
                msgspec.json.decode(line.data)

        def run_detect() -> None:
            events = file_events([str(data)], ReadReport())
            found.append(sum(1 for _ in detect(rules, events, correlations=correlations)))

        def ingest_path() -> None:
            ing = Ingestor(Lake(Path(tmp) / "lake", create=True), "bench")
            for line in read_lines([str(data)], ReadReport()):
                ing.add(line.data, line.source)
                if ing.pending >= 400:
                    ing.take_rows()

        figures = {
            "read + decode to dicts (baseline)": best(read_only, repeat),
            "detect, full pack": best(run_detect, repeat),
            "ingest path (decode, redact, hash)": best(ingest_path, repeat),
        }
    if len(set(found)) != 1 or not found[0]:
        print(f"findings differ between runs or are none: {found}", file=sys.stderr)
        return 1
    rate = {k: n / v for k, v in figures.items()}
    base = rate["read + decode to dicts (baseline)"]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{n:,} generated events, {len(rules)} rules and {len(correlations)} correlations, "
        f"{found[0]:,} findings"
    )
    print(f"{'figure':<42} {'events/s':>10} {'vs baseline':>12}")
    for name, value in rate.items():
        print(f"{name:<42} {value:>10,.0f} {value / base:>11.2f}x")
    ok = rate["detect, full pack"] >= GOAL
    print(f"goal >= {GOAL:,} events/s: {'met' if ok else 'missed'}")
    if not args.quick:
        out = {
            "benchmark": "detect",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "events": n,
            "rules": len(rules),
            "correlations": len(correlations),
            "findings": found[0],
            "events_per_second": {k: round(v) for k, v in rate.items()},
            "goal_events_per_second": GOAL,
        }
        (ROOT / "benchmarks" / "results" / "detect.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
