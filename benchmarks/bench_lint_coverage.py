"""Lint and coverage of the nine corpus policies: goal under one second together.

Baseline in the same run: only loading and validating the same nine files (the floor any
analysis pays). Figures are the best of --repeat runs (time.perf_counter, GC on), in one
process; the technique catalogue is loaded once per run, as the CLI does per command.
Prints a table and writes benchmarks/results/lint_coverage.json.

    .venv/bin/python benchmarks/bench_lint_coverage.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from kubetrail.catalog.techniques import load_techniques
from kubetrail.policy.coverage import coverage
from kubetrail.policy.lint.registry import RULES
from kubetrail.policy.lint.runner import lint_file
from kubetrail.policy.load import decode_policy, load_policy, read_policy_bytes
from timing import best

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "policies"
GOAL_SECONDS = 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one repeat (smoke test)")
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    if not CORPUS.is_dir():
        print(f"skipped: {CORPUS} is not present", file=sys.stderr)
        return 0
    files = sorted(str(p) for p in CORPUS.glob("*.yaml"))
    loadable = [f for f in files if not decode_policy(read_policy_bytes(f), source=f).errors]

    def baseline() -> None:
        for f in files:
            decode_policy(read_policy_bytes(f), source=f)

    def lint_all() -> int:
        return sum(len(lint_file(f, rules=RULES)) for f in files)

    def coverage_all() -> int:
        catalogue = load_techniques()
        return sum(
            len(coverage(load_policy(f).policy, catalogue, source=f).techniques) for f in loadable
        )

    def both() -> None:
        lint_all()
        coverage_all()

    findings, techniques = lint_all(), coverage_all()  # warm-up, and a sanity check
    if not findings or not techniques:
        raise SystemExit("lint found nothing or coverage analysed nothing: broken benchmark")
    base = best(baseline, repeat)
    figures = {
        "load+validate 9 policies (baseline)": base,
        "lint 9 policies (21 rules)": best(lint_all, repeat),
        f"coverage {len(loadable)} policies": best(coverage_all, repeat),
        "lint + coverage (goal < 1 s)": best(both, repeat),
    }
    print(f"{'figure':<40} {'seconds':>9} {'x baseline':>11}")
    for name, secs in figures.items():
        print(f"{name:<40} {secs:>9.3f} {secs / base:>10.1f}x")
    total = figures["lint + coverage (goal < 1 s)"]
    passed = total < GOAL_SECONDS
    print(f"goal: lint + coverage < {GOAL_SECONDS:.0f} s: {'PASS' if passed else 'FAIL'}")
    out = {
        "benchmark": "lint_coverage",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "repeat": repeat,
        "timing": "best of repeat runs, time.perf_counter, GC on, one process",
        "files": len(files),
        "findings": findings,
        "figures": {k: round(v, 4) for k, v in figures.items()},
        "goal_seconds": GOAL_SECONDS,
        "passed": passed,
    }
    if not args.quick:
        results = ROOT / "benchmarks" / "results"
        results.mkdir(exist_ok=True)
        (results / "lint_coverage.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
