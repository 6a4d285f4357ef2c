"""simulate and volume on generated traffic, beside DuckDB reading the same file.

Data: `kubetrail sample generate` (a log-everything recording of a 3-node cluster, mean
~1.9 KB per event, ~10 % with pod bodies), --events of them, written to a temporary file.
Policy: the GCE/GKE reference policy plus `omitManagedFields: true` (the issue's setup).

Figures (best of --repeat, perf_counter, GC on, one process unless said):
  simulate, in process      read_lines -> simulate_raw (the fast path for apiserver
                            output) -> encoded line, output discarded
  simulate, general path    the same with every field decoded into Event and re-encoded
  simulate, CLI             `kubetrail policy simulate` to /dev/null, with start-up
  peak RSS of the CLI       ru_maxrss of that child process
  volume, 3 policies        one pass (baseline, GKE, docs example)
Baselines in the same run: `cat` of the file, msgspec decoding each line into the Event
Struct, and DuckDB `read_json` with explicit columns counting rows and summing a column.

    .venv/bin/python benchmarks/bench_simulate.py [--events 1000000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from kubetrail.ingest.read import ReadReport, read_lines
from kubetrail.model.event import Event
from kubetrail.policy.evaluate import Evaluator
from kubetrail.policy.load import load_policy, parse_policy
from kubetrail.policy.simulate import Simulator
from kubetrail.policy.volume import measure
from kubetrail.sample.generate import generate
from timing import best

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT.parent / "shared" / "corpus" / "policies"
GOAL_EVENTS_PER_SECOND = 120_000
GOAL_RSS_MB = 200


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="20,000 events, one run")
    args = parser.parse_args()
    n = 20_000 if args.quick else args.events
    repeat = 1 if args.quick else args.repeat
    if not POLICIES.is_dir():
        print(f"skipped: {POLICIES} is not present", file=sys.stderr)
        return 0
    gke_text = (POLICIES / "gce-gke-configure-helper.yaml").read_text()
    gke_text = gke_text.replace("kind: Policy\n", "kind: Policy\nomitManagedFields: true\n", 1)
    gke = parse_policy(gke_text, source="gke+omitManagedFields")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "sample.log"
        start = datetime(2026, 1, 1, tzinfo=UTC)
        with open(data, "wb") as fh:
            for i, line in enumerate(generate(nodes=3, seconds=1e9, seed=7, start=start)):
                if i >= n:
                    break
                fh.write(line + b"\n")
        size = data.stat().st_size
        policy_path = Path(tmp) / "gke.yaml"
        policy_path.write_text(gke_text)
        decode = msgspec.json.Decoder(Event).decode

        def simulate_in_process() -> int:
            sim = Simulator(Evaluator(gke.policy))
            written = 0
            for line in read_lines([str(data)], ReadReport()):
                out = sim.simulate_raw(line.data).line
                if out is not None:
                    written += len(out) + 1
            if sim.fast_lines != n:
                raise SystemExit(f"only {sim.fast_lines:,} of {n:,} lines took the fast path")
            return written

        def simulate_general_path() -> int:
            sim = Simulator(Evaluator(gke.policy))
            written = 0
            for line in read_lines([str(data)], ReadReport()):
                out = sim.simulate(decode(line.data)).line
                if out is not None:
                    written += len(out) + 1
            return written

        def decode_only() -> None:
            for line in read_lines([str(data)], ReadReport()):
                decode(line.data)

        def cat() -> None:
            subprocess.run(["cat", str(data)], stdout=subprocess.DEVNULL, check=True)

        def duckdb_read() -> None:
            import duckdb

            duckdb.sql(
                f"SELECT count(*), sum(length(requestURI)) FROM read_json('{data}', "
                "format='newline_delimited', columns={auditID: 'VARCHAR', stage: 'VARCHAR', "
                "verb: 'VARCHAR', requestURI: 'VARCHAR', level: 'VARCHAR'})"
            ).fetchall()

        cli_rss = [0.0]

        def simulate_cli() -> None:
            # The child reports its own peak RSS from /proc (VmHWM, in kB): ru_maxrss is kept
            # across execve on Linux, so a child forked from this large process would report
            # this process's peak, and RUSAGE_CHILDREN gives the largest child ever waited for.
            code = (
                "import sys\n"
                "from kubetrail.cli import main\n"
                "policy, data, out = sys.argv[1:4]\n"
                "status = main(['policy', 'simulate', policy, data, '-o', out])\n"
                "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
                "print(hwm.split()[1], file=sys.stderr)\n"
                "sys.exit(status)\n"
            )
            proc = subprocess.run(
                [sys.executable, "-c", code, str(policy_path), str(data), os.devnull],
                check=True,
                stderr=subprocess.PIPE,
                text=True,
            )
            cli_rss[0] = float(proc.stderr.strip().splitlines()[-1])

        three = [
            gke,
            load_policy(str(ROOT / "src/kubetrail/data/policies/baseline.yaml")),
            load_policy(str(POLICIES / "k8s-docs-example.yaml")),
        ]

        def volume_three() -> None:
            events = (
                (decode(line.data), len(line.data) + 1)
                for line in read_lines([str(data)], ReadReport())
            )
            measure(three, events)

        written = simulate_in_process()
        if written <= 0:
            raise SystemExit("simulate wrote nothing: broken benchmark")
        if simulate_general_path() != written:
            raise SystemExit("the fast and the general path wrote different byte counts")
        figures = {
            "cat (baseline)": best(cat, repeat),
            "msgspec decode only (baseline)": best(decode_only, repeat),
            "duckdb read_json, explicit columns (baseline)": best(duckdb_read, repeat),
            "simulate, in process": best(simulate_in_process, repeat),
            "simulate, general path (every field decoded)": best(simulate_general_path, repeat),
            "simulate, CLI process to /dev/null": best(simulate_cli, repeat),
            "volume, 3 policies, one pass": best(volume_three, repeat),
        }
    rate = {k: n / v for k, v in figures.items()}
    duck = rate["duckdb read_json, explicit columns (baseline)"]
    print(
        f"{n:,} events, {size / 1e6:,.0f} MB ({size / n:,.0f} B/event); output "
        f"{written / 1e6:,.1f} MB under GKE + omitManagedFields"
    )
    print(f"{'figure':<48} {'events/s':>12} {'x duckdb':>9}")
    for name, r in rate.items():
        print(f"{name:<48} {r:>12,.0f} {r / duck:>8.2f}x")
    rss_mb = cli_rss[0] / 1024
    print(f"peak RSS of the simulate CLI: {rss_mb:,.0f} MB (goal < {GOAL_RSS_MB} MB)")
    sim_rate = rate["simulate, in process"]
    print(
        f"goal simulate >= {GOAL_EVENTS_PER_SECOND:,} events/s: "
        f"{'PASS' if sim_rate >= GOAL_EVENTS_PER_SECOND else 'MISS'} ({sim_rate:,.0f})"
    )
    if not args.quick:
        out = {
            "benchmark": "simulate",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "events": n,
            "bytes": size,
            "repeat": repeat,
            "events_per_second": {k: round(v) for k, v in rate.items()},
            "peak_rss_mb": round(rss_mb),
            "goal_events_per_second": GOAL_EVENTS_PER_SECOND,
        }
        (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
        (ROOT / "benchmarks" / "results" / "simulate.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
