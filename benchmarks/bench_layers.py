"""Parsing the other layers: CRI container logs (with partial-line reassembly) and klog
component logs, beside a plain split-and-join loop over the same lines in the same run.

Data, generated here (nothing is committed): --lines CRI lines of 3 containers' stdout and
stderr, interleaved, 10 % of them split into P fragments the way containerd cuts a long line
(16 KiB chunks, here shorter), with realistic web-server and controller messages; and --lines
klog lines (structured InfoS/ErrorS with quoted and numeric pairs, 20 % printf-style).

Figures (best of --repeat, perf_counter, one process, one core):
  baseline       the same lines through `line.split(" ", 3)` and a per-stream join of the
                 contents: the least any CRI reader does
  cri            kubetrail.layers.container.parse_cri + Reassembler (what `parse --as cri`
                 does, without the JSON output)
  klog           kubetrail.layers.klog.records (header checks, Go-quoted messages, key=value)
The record counts are checked (every logical line once), or the benchmark fails.
Goals (issue 11): CRI >= 500,000 lines/s, klog >= 200,000 lines/s on one core.

    .venv/bin/python benchmarks/bench_layers.py [--lines 1000000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
from datetime import UTC, datetime
from pathlib import Path

from kubetrail.layers.container import Reassembler, parse_cri
from kubetrail.layers.klog import records
from timing import best

ROOT = Path(__file__).resolve().parent.parent
GOALS = {"cri": 500_000, "klog": 200_000}


def cri_lines(n: int, seed: int = 7) -> tuple[list[str], int]:
    """Exactly n CRI lines and the number of logical lines they hold (every one closed)."""
    rng = random.Random(seed)
    out: list[str] = []
    logical = 0
    base = 1_764_756_000  # 2025-12-03T10:00:00Z
    while len(out) < n:
        i = len(out)
        stamp = datetime.fromtimestamp(base + i // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        stream = "stderr" if rng.random() < 0.2 else "stdout"
        message = (
            f'10.0.{rng.randrange(256)}.{rng.randrange(256)} - - "GET /api/items/{i} HTTP/1.1" '
            f'200 {rng.randrange(50_000)} "-" "curl/8.5"'
            if stream == "stdout"
            else f'level=error msg="upstream timed out" request_id={rng.getrandbits(64):016x}'
        )
        fragments = 3 if rng.random() < 0.1 and len(out) + 3 <= n else 1
        size = max(1, len(message) // fragments)
        for k in range(fragments):
            last = k == fragments - 1
            piece = message[k * size :] if last else message[k * size : (k + 1) * size]
            frac = f"{(i % 1000) * 1_000_000 + k:09d}".rstrip("0") or "0"
            out.append(f"{stamp}.{frac}Z {stream} {'F' if last else 'P'} {piece}")
        logical += 1
    return out, logical


def klog_lines(n: int, seed: int = 8) -> list[tuple[int, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        minute, second = i // 60_000 % 60, i // 1000 % 60
        head = f"{'IIIWE'[i % 5]}1203 10:{minute:02d}:{second:02d}.{i % 1_000_000:06d}"
        thread = rng.randrange(1, 40_000)
        if i % 5 == 4:
            body = f"Reconcile failed for {rng.randrange(1000)} objects: context deadline exceeded"
        else:
            body = (
                f'"Syncing pod" pod="default/web-{i % 97}" podUID="{rng.getrandbits(64):016x}" '
                f"attempt={i % 7} ready=true"
            )
        out.append((i + 1, f"{head} {thread:>7} pod_workers.go:{rng.randrange(2000)}] {body}"))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="50,000 lines, one run")
    args = parser.parse_args()
    n = 50_000 if args.quick else args.lines
    repeat = 1 if args.quick else args.repeat
    cri, logical = cri_lines(n)
    klog = klog_lines(n)
    counts: dict[str, list[int]] = {"baseline": [], "cri": [], "klog": []}

    def baseline() -> None:
        pending: dict[str, list[str]] = {}
        done = 0
        for line in cri:
            _, stream, tag, content = line.split(" ", 3)
            pending.setdefault(stream, []).append(content)
            if tag == "F":
                "".join(pending.pop(stream))
                done += 1
        counts["baseline"].append(done)

    def run_cri() -> None:
        joiner = Reassembler()
        done = 0
        for line in cri:
            done += len(joiner.add(parse_cri(line)))
        done += sum(1 for _ in joiner.flush())
        counts["cri"].append(done)

    def run_klog() -> None:
        counts["klog"].append(sum(1 for _, r in records(klog) if isinstance(r, dict)))

    seconds = {
        "baseline": best(baseline, repeat),
        "cri": best(run_cri, repeat),
        "klog": best(run_klog, repeat),
    }
    if set(counts["cri"]) != {logical} or set(counts["baseline"]) != {logical}:
        print(f"logical lines differ: {counts} (expected {logical})", file=sys.stderr)
        return 1
    if set(counts["klog"]) != {n}:
        print(f"klog records differ: {counts['klog']} (expected {n})", file=sys.stderr)
        return 1
    rates = {k: n / v for k, v in seconds.items()}
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"{n:,} lines each; {logical:,} logical CRI lines")
    print(f"{'figure':<44} {'lines/s':>12} {'vs baseline':>12} {'goal':>10}")
    print(f"{'split-and-join loop (baseline)':<44} {rates['baseline']:>12,.0f} {1:>11.2f}x")
    for name, label in (("cri", "CRI parse + reassembly"), ("klog", "klog records")):
        verdict = "met" if rates[name] >= GOALS[name] else "missed"
        print(
            f"{label:<44} {rates[name]:>12,.0f} {rates[name] / rates['baseline']:>11.2f}x "
            f"{GOALS[name]:>10,} {verdict}"
        )
    if not args.quick:
        out = {
            "benchmark": "layers",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "lines": n,
            "lines_per_second": {k: round(v) for k, v in rates.items()},
            "goals": GOALS,
        }
        (ROOT / "benchmarks" / "results" / "layers.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
