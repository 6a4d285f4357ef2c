"""The benchmarks run, and their workload generator keeps its promises.

The benchmark itself runs in a subprocess with ``--quick`` (20,000 requests, one run each): it
must exit 0 and report that the evaluator agreed with the reference on every sampled decision.
The timings are not checked here (see docs/benchmarks.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from kubetrail.policy.evallines import attributes_from_json
from kubetrail.policy.resolve import from_http, method_for_verb

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"


@pytest.fixture(scope="module")
def workload() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import workload as module

        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.mark.slow
def test_bench_policy_quick(corpus: Path, tmp_path: Path) -> None:
    results = tmp_path / "policy.json"
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_policy.py"), "--quick", "--results", str(results)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "KUBETRAIL_CORPUS": str(corpus)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "evaluator agrees with reference: yes" in proc.stdout
    data = json.loads(results.read_text())
    assert data["agrees_with_reference"] is True
    names = {f["name"] for f in data["figures"]}
    assert {"evaluate repeating", "evaluate distinct", "policy eval, attribute lines"} <= names
    assert all(f["value"] > 0 for f in data["figures"])
    assert not list(BENCHMARKS.glob("**/*.jsonl")), "generated data left in the repository"


def test_builtin_mix_is_the_capture(workload: ModuleType, corpus: Path) -> None:
    csv_path = corpus / "datasets/hkerma-perfspec/audit-logs.csv"
    derived = workload.derive_mix(csv_path)
    builtin = workload.builtin_mix()
    assert derived.activities == builtin.activities
    assert derived.discovery == builtin.discovery
    assert workload.parse_mix(workload.format_mix(builtin), "x").activities == builtin.activities


@pytest.mark.parametrize("mode", ["repeating", "distinct"])
def test_workload_is_deterministic_and_resolvable(workload: ModuleType, mode: str) -> None:
    mix = workload.builtin_mix()
    attrs = workload.generate_attributes(3000, mode, 7, mix=mix)
    assert attrs == workload.generate_attributes(3000, mode, 7, mix=mix)
    assert attrs != workload.generate_attributes(3000, mode, 8, mix=mix)
    assert len({id(a) for a in attrs}) == len(attrs)
    distinct = len(set(attrs))
    if mode == "distinct":
        assert distinct == len(attrs)
    else:
        assert distinct < len(attrs) // 2
    # Every request is what kube-apiserver would resolve from its URL, and survives both
    # line formats of `policy eval`.
    events = list(workload.events_to_jsonl(attrs, seed=1))
    lines = list(workload.attributes_to_jsonl(attrs))
    for a, event, line in zip(attrs, events, lines, strict=True):
        uri = workload.request_uri(a)
        assert from_http(method_for_verb(a.verb), uri, user=a.user, groups=a.groups) == a
        assert attributes_from_json(event) == a
        assert attributes_from_json(line) == a


def test_workload_mix_shape(workload: ModuleType) -> None:
    attrs = workload.generate_attributes(20_000, "repeating", 0, mix=workload.builtin_mix())
    shares = workload.shares(attrs)
    users = shares["users"]
    for cls in ("human", "kubelet", "kube-controller-manager", "kube-scheduler", "kube-proxy"):
        assert users[cls] > 0, cls
    assert shares["verbs"].most_common(1)[0][0] == "get"
    assert {"/readyz", "/livez", "/version"} <= set(shares["paths"])


def test_bench_lint_coverage_quick(corpus: Path) -> None:
    """Runs end to end and meets its goal (lint + coverage of the nine policies < 1 s)."""
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_lint_coverage.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "lint + coverage" in proc.stdout


@pytest.mark.slow
def test_bench_simulate_quick(corpus: Path) -> None:
    """simulate, volume and the DuckDB baseline run end to end on generated traffic."""
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_simulate.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "simulate, in process" in proc.stdout
    assert "duckdb read_json" in proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "figures"),
    [
        ("bench_ingest.py", ["DuckDB COPY to partitioned Parquet (baseline)", "peak RSS"]),
        ("bench_query.py", ["search --user X --since 24h", "hand SQL", "top --by user"]),
        ("bench_detect.py", ["read + decode to dicts (baseline)", "detect, full pack"]),
        ("bench_detect_lake.py", ["rows the rules may fire on (baseline)", "detect --lake"]),
        ("bench_spark.py", ["Spark local[*] start-up", "top --by user", "spark/duckdb"]),
        ("bench_layers.py", ["split-and-join loop (baseline)", "CRI parse + reassembly"]),
    ],
)
def test_bench_lake_quick(script: str, figures: list[str]) -> None:
    """The lake benchmarks run end to end on generated traffic; bench_query also checks that
    search and top give the answers of the hand-written SQL (exit 1 otherwise)."""
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for figure in figures:
        assert figure in proc.stdout
