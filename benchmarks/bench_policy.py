"""Benchmark: audit-policy evaluation, in-process and through ``kubetrail policy eval``.

Policy: GKE's master audit policy (``gce-gke-configure-helper.yaml``, 17 rules) from the corpus
checkout next to this repository. Traffic: :mod:`workload` (the mix of a real capture).

Figures (each the best of ``--repeat`` runs, 3 by default, timed with ``time.perf_counter``;
GC stays on; one process, one core):

* ``evaluate repeating`` / ``evaluate distinct``: ``Evaluator.evaluate`` decisions per second
  over ``--n`` pre-built attribute objects. Every run gets a freshly generated list (same seed,
  new objects and strings), so no run profits from string hashes a previous run computed.
* their baseline: ``ReferenceEvaluator.evaluate``, the plain first-match loop over the policy's
  lists (upstream ``checker.go`` transliterated; the per-rule decisions prepared once), on the
  first ``n // 4`` objects of the same list, rate extrapolated.
* ``evaluate repeating (resource requests only)``: informational; the capture's mix is 63 %
  discovery requests, which reduce to a shorter key.
* ``policy eval <kind> lines``: the real CLI as a subprocess over ``--n`` JSON lines, writing to
  /dev/null, in lines per second (process start-up and policy loading included). Baselines on
  the same file in the same run: ``cat`` and a ``python -c`` that only decodes each line with
  msgspec.

Decisions of the evaluator are compared with the reference on a sample of every list, and the
CLI's output on a sample of lines; a mismatch fails the benchmark (exit status 1). A missed goal
is reported but does not fail it. Results go to ``benchmarks/results/policy.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workload
from kubetrail.model.attributes import RequestAttributes
from kubetrail.model.policy import Policy
from kubetrail.policy.evallines import attributes_from_json
from kubetrail.policy.evaluate import Evaluator, ReferenceEvaluator, reference_decide
from kubetrail.policy.load import load_policy

HERE: Final = Path(__file__).resolve().parent
POLICY: Final = workload.CORPUS / "policies/gce-gke-configure-helper.yaml"
RESULTS: Final = HERE / "results" / "policy.json"
KUBETRAIL: Final = Path(sys.executable).with_name("kubetrail")
SEED: Final = 20240601
SAMPLE: Final = 20_000  # decisions checked against the reference, per list

# Decode-only baseline: what any Python JSON Lines reader pays before doing any work.
_DECODE_ONLY: Final = """
import sys, msgspec
decode = msgspec.json.Decoder().decode
for line in sys.stdin.buffer:
    decode(line)
"""


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    goal: float | None = None
    note: str = ""
    baseline2: float | None = None
    baseline2_name: str = ""
    runs: list[float] = field(default_factory=list)  # the value each run gave

    @property
    def slowest(self) -> float | None:
        return min(self.runs) if self.runs else None

    @property
    def ratio(self) -> float | None:
        return None if not self.baseline else self.value / self.baseline

    @property
    def passed(self) -> bool | None:
        return None if self.goal is None else self.value >= self.goal


def time_loop(
    func: Callable[[RequestAttributes], object], items: Sequence[RequestAttributes]
) -> float:
    start = time.perf_counter()
    for a in items:
        func(a)
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------
# In-process evaluation
# ---------------------------------------------------------------------------------------------


def check_agreement(policy: Policy, items: Sequence[RequestAttributes]) -> int:
    """How many of ``items`` the evaluator decides differently from the reference: with its
    cache (one evaluator for the whole sample, so hits are checked too) and without it (the
    compiled first-match loop alone)."""
    cached, uncached = Evaluator(policy), Evaluator(policy, cache_size=0)
    bad = 0
    for a in items:
        want = reference_decide(policy, a)
        bad += cached.evaluate(a) != want
        bad += uncached.evaluate(a) != want
    return bad


def make_items(n: int, mode: workload.Mode, variant: str) -> list[RequestAttributes]:
    """The objects one run evaluates.

    ``built``: as the generator builds them (strings of the vocabulary are shared between
    objects). ``resource``: the same, resource requests only. ``decoded``: each attribute line
    decoded as ``policy eval`` decodes it, so every object has its own fresh strings.
    """
    items = workload.generate_attributes(n, mode, SEED)
    if variant == "resource":
        return [a for a in items if a.resource_request]
    if variant == "decoded":
        return [attributes_from_json(line) for line in workload.attributes_to_jsonl(items)]
    return items


_VARIANT_NAMES: Final = {
    "built": "",
    "resource": ", resource requests only",
    "decoded": ", objects decoded from JSON",
}


class EvaluateCase:
    """``Evaluator.evaluate`` against the first-match loop on one kind of list."""

    def __init__(
        self, policy: Policy, mode: workload.Mode, n: int, goal: float | None, variant: str
    ) -> None:
        self.policy, self.mode, self.n, self.goal, self.variant = policy, mode, n, goal, variant
        self.name = f"evaluate {mode}{_VARIANT_NAMES[variant]}"
        self.seconds: list[float] = []
        self.reference_seconds: list[float] = []
        self.count = self.subset = 0
        self.keys: int | None = None

    def check(self, mismatches: list[str]) -> None:
        items = make_items(self.n, self.mode, self.variant)
        sample = items[:SAMPLE] + items[-SAMPLE:] if len(items) > 2 * SAMPLE else items
        bad = check_agreement(self.policy, sample)
        if bad:
            mismatches.append(f"{self.name}: {bad} decisions differ from the reference")

    def run(self) -> None:
        # A freshly generated list every run: new objects and strings (no str hash cached by a
        # previous run), and a new evaluator, whose cache starts empty as in a new process.
        policy = self.policy
        items = make_items(self.n, self.mode, self.variant)
        self.count, self.subset = len(items), max(len(items) // 4, 1)
        evaluator = Evaluator(policy)
        self.seconds.append(time_loop(evaluator.evaluate, items))
        head = items[: self.subset]
        self.reference_seconds.append(time_loop(ReferenceEvaluator(policy).evaluate, head))
        cache = getattr(evaluator, "_cache", None)
        self.keys = len(cache) if isinstance(cache, dict) else None

    def figure(self) -> Figure:
        notes = [] if self.keys is None else [f"{self.keys:,} reduced keys cached"]
        if self.variant != "built":
            notes = [f"{self.count:,} requests", *notes, "informational"]
        return Figure(
            self.name,
            self.count / min(self.seconds),
            "decisions/s",
            runs=[self.count / t for t in self.seconds],
            baseline=self.subset / min(self.reference_seconds),
            baseline_name=f"first-match loop, first {self.subset:,}",
            goal=self.goal,
            note="; ".join(notes),
        )


# ---------------------------------------------------------------------------------------------
# End to end: the CLI
# ---------------------------------------------------------------------------------------------


def time_command(argv: list[str], stdin_path: Path | None = None) -> float:
    with open(os.devnull, "wb") as out:
        stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            start = time.perf_counter()
            subprocess.run(argv, stdin=stdin, stdout=out, check=True)
            return time.perf_counter() - start
        finally:
            if stdin_path:
                stdin.close()  # type: ignore[union-attr]


def check_cli(
    policy_path: Path,
    data: Path,
    items: Sequence[RequestAttributes],
    mismatches: list[str],
    what: str,
) -> None:
    """The CLI's decisions on the first ``SAMPLE`` lines equal the reference's."""
    head = data.with_suffix(".head")
    with data.open("rb") as src, head.open("wb") as dst:
        for _, line in zip(range(SAMPLE), src, strict=False):
            dst.write(line)
    proc = subprocess.run(
        [str(KUBETRAIL), "policy", "eval", str(policy_path), str(head)],
        capture_output=True,
        check=True,
    )
    head.unlink()
    policy = load_policy(str(policy_path)).policy
    bad = 0
    lines = proc.stdout.splitlines()
    if len(lines) != min(SAMPLE, len(items)):
        mismatches.append(f"policy eval {what}: {len(lines)} output lines, expected {SAMPLE}")
        return
    for raw, a in zip(lines, items, strict=True):
        out = msgspec.json.decode(raw)
        want = reference_decide(policy, a)
        got = tuple(out.get(k) for k in ("level", "omitStages", "omitManagedFields", "rule"))
        expected = (want.level.value, sorted(want.omit_stages), want.omit_managed_fields, want.rule)
        if got != expected or out.get("request") != a.to_wire():
            bad += 1
    if bad:
        mismatches.append(f"policy eval {what}: {bad} output lines differ from the reference")


class CliCase:
    """``kubetrail policy eval`` on a file of lines, against ``cat`` and a decode-only loop."""

    def __init__(self, policy_path: Path, kind: str, data: Path, n: int) -> None:
        self.kind, self.data, self.n = kind, data, n
        self.size = data.stat().st_size
        self.commands: dict[str, tuple[list[str], Path | None]] = {
            "cli": ([str(KUBETRAIL), "policy", "eval", str(policy_path), str(data)], None),
            "cat": (["cat", str(data)], None),
            "decode": ([sys.executable, "-c", _DECODE_ONLY], data),
        }
        self.seconds: dict[str, list[float]] = {k: [] for k in self.commands}

    def run(self) -> None:
        for k, (argv, stdin) in self.commands.items():
            self.seconds[k].append(time_command(argv, stdin))

    def figure(self) -> Figure:
        n, seconds = self.n, self.seconds
        return Figure(
            f"policy eval, {self.kind} lines",
            n / min(seconds["cli"]),
            "lines/s",
            baseline=n / min(seconds["cat"]),
            baseline_name="cat",
            baseline2=n / min(seconds["decode"]),
            baseline2_name="python: msgspec decode only",
            note=f"{n:,} lines, {self.size / n:.0f} B/line; start-up and policy load included",
            runs=[n / t for t in seconds["cli"]],
        )


def cli_cases(
    policy_path: Path, n: int, tmp: Path, mismatches: list[str], events: bool
) -> list[CliCase]:
    """Write the input files (into ``tmp``) and check the CLI's answers on their first lines."""
    items = workload.generate_attributes(n, "repeating", SEED)
    kinds: list[tuple[str, Callable[[list[RequestAttributes]], Iterator[bytes]]]] = [
        ("attribute", workload.attributes_to_jsonl)
    ]
    if events:
        kinds.append(("event", lambda xs: workload.events_to_jsonl(xs, SEED)))
    cases = []
    for kind, to_jsonl in kinds:
        data = tmp / f"{kind}s.jsonl"
        with data.open("wb") as fh:
            fh.writelines(to_jsonl(items))
        check_cli(policy_path, data, items[:SAMPLE], mismatches, f"{kind} lines")
        cases.append(CliCase(policy_path, kind, data, n))
    return cases


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}x" if value >= 10 else f"{value:.2g}x"


def print_table(figures: list[Figure]) -> None:
    header = ("figure", "value", "baseline", "ratio", "goal", "result")
    rows = [header]
    for f in figures:
        result = "-" if f.passed is None else ("pass" if f.passed else "FAIL")
        rows.append(
            (
                f.name,
                f"{_fmt(f.value)} {f.unit}",
                f"{_fmt(f.baseline)} ({f.baseline_name})",
                _ratio(f.ratio),
                _fmt(f.goal),
                result,
            )
        )
        if f.baseline2 is not None:
            ratio2 = f.value / f.baseline2
            rows.append(
                ("", "", f"{_fmt(f.baseline2)} ({f.baseline2_name})", _ratio(ratio2), "", "")
            )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for i, r in enumerate(rows):
        print(
            "  ".join(
                c.ljust(w) if j == 0 or j == 2 else c.rjust(w)
                for j, (c, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for f in figures:
        spread = f"slowest of {len(f.runs)} runs {_fmt(f.slowest)}" if len(f.runs) > 1 else ""
        notes = "; ".join(x for x in (f.note, spread) if x)
        if notes:
            print(f"  {f.name}: {notes}")


def case_name(case: EvaluateCase | CliCase) -> str:
    return case.name if isinstance(case, EvaluateCase) else f"policy eval, {case.kind} lines"


def _figure_json(f: Figure) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in asdict(f).items():
        if isinstance(value, float):
            value = round(value)
        elif key == "runs":
            value = [round(v) for v in value]
        out[key] = value
    out["ratio"] = None if f.ratio is None else round(f.ratio, 4)
    out["passed"] = f.passed
    return out


def machine() -> dict[str, object]:
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    cpu = info.get("model name", "")
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return {
        "cpu": cpu or platform.processor(),
        "cpu_family_model": f"{info.get('cpu family', '?')}/{info.get('model', '?')}",
        "cpu_mhz": info.get("cpu MHz", ""),
        "cpus": os.cpu_count(),
        "memory_gib": mem_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "msgspec": msgspec.__version__,
        "loadavg": _loadavg(),
    }


def _loadavg() -> str:
    """Other work on the machine skews timings; the load average says how much there was."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="requests/lines per figure")
    parser.add_argument("--quick", action="store_true", help="n=20,000, for smoke tests")
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs per figure, the best counts (default 3; 1 with --quick)",
    )
    parser.add_argument("--no-events", action="store_true", help="skip the event-lines figure")
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="where to write the JSON results"
    )
    args = parser.parse_args(argv)
    n = 20_000 if args.quick else args.n
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if not POLICY.is_file():
        print(f"bench_policy: skipped: {POLICY} is not present (the corpus checkout)")
        return 0
    if not KUBETRAIL.exists():
        print(f"bench_policy: {KUBETRAIL} is missing; run `make bench` (it installs it)")
        return 1

    started = datetime.now(UTC)
    load_before = _loadavg()
    mismatches: list[str] = []
    print(
        f"bench_policy: n={n:,}, best of {args.repeat} runs, GC {'on' if gc.isenabled() else 'off'}"
        f", load average {load_before}"
    )
    policy = load_policy(str(POLICY)).policy
    cases: list[EvaluateCase | CliCase] = [
        EvaluateCase(policy, "repeating", n, 1_000_000, "built"),
        EvaluateCase(policy, "distinct", n, 300_000, "built"),
        EvaluateCase(policy, "repeating", n, None, "resource"),
        EvaluateCase(policy, "repeating", n, None, "decoded"),
    ]
    with tempfile.TemporaryDirectory(prefix="kubetrail-bench-") as tmp:
        for case in cases:
            if isinstance(case, EvaluateCase):
                case.check(mismatches)
        cases += cli_cases(POLICY, n, Path(tmp), mismatches, not args.no_events)
        # Runs are interleaved (run 1 of every figure, then run 2, ...): a burst of other work
        # on the machine then costs one run of several figures, not every run of one figure.
        for i in range(args.repeat):
            for case in cases:
                print(f"  run {i + 1}/{args.repeat}: {case_name(case)}", flush=True)
                case.run()
    figures = [case.figure() for case in cases]
    print()
    print_table(figures)
    print()
    agreed = not mismatches
    for m in mismatches:
        print(f"MISMATCH: {m}")
    print(f"evaluator agrees with reference: {'yes' if agreed else 'NO'}")
    print(f"load average before: {load_before}; after: {_loadavg()}")

    if not args.quick or args.results != RESULTS:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        result = {
            "benchmark": "policy",
            "date": started.isoformat(timespec="seconds"),
            "machine": machine(),
            "loadavg_before": load_before,
            "policy": POLICY.name,
            "n": n,
            "repeat": args.repeat,
            "timing": "best of repeat runs, time.perf_counter, GC on",
            "agrees_with_reference": agreed,
            "figures": [_figure_json(f) for f in figures],
        }
        tmp_path = args.results.with_suffix(".json.tmp")
        tmp_path.write_text(json.dumps(result, indent=2) + "\n")
        tmp_path.replace(args.results)
        print(f"results: {args.results}")
    return 0 if agreed else 1


if __name__ == "__main__":
    sys.exit(main())
