"""Run every ``benchmarks/bench_*.py``, one after the other, each in its own process.

``make bench`` calls this. ``--quick`` is passed through (small inputs, for smoke tests). The exit
status is 0 only if every benchmark exited 0 (a benchmark fails when its answers are wrong, not
when it is slow).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small inputs (smoke test)")
    parser.add_argument("names", nargs="*", help="only these benchmarks (e.g. policy)")
    args = parser.parse_args(argv)
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.names]
        if not scripts:
            print(f"no benchmark named {', '.join(args.names)}", file=sys.stderr)
            return 2
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        start = time.perf_counter()
        cmd = [sys.executable, str(script), *(["--quick"] if args.quick else [])]
        code = subprocess.run(cmd, check=False).returncode
        print(f"== {script.name}: exit {code} in {time.perf_counter() - start:.0f} s\n", flush=True)
        if code:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
