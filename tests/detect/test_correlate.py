"""Correlation rules of the bundled pack: bursts, distinct values, create-then-exec."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kubetrail.detect.engine import detect, file_events
from kubetrail.detect.rules import load_pack
from kubetrail.ingest.read import ReadReport
from tests.detect.test_pack import _sample, ev

RULES, CORRELATIONS, PROBLEMS = load_pack()
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def at(event: dict[str, Any], seconds: float, audit_id: str) -> dict[str, Any]:
    when = (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {**event, "auditID": audit_id, "requestReceivedTimestamp": when}


def run(events: list[dict[str, Any]], min_level: str = "low") -> list[str]:
    found = detect(RULES, [(e, {}) for e in events], min_level=min_level,
                   correlations=CORRELATIONS)  # fmt: skip
    return [f.rule for f in found]


def test_the_pack_has_its_correlations() -> None:
    assert PROBLEMS == []
    assert {c.name: c.type for c in CORRELATIONS} == {
        "secret-read-burst": "event_count",
        "enumeration-burst": "value_count",
        "create-then-exec": "temporal",
        "token-minted-then-used": "temporal",
    }


def test_a_burst_of_secret_reads() -> None:
    reads = [at(ev("get", "secrets", name=f"s{i}"), i * 10, f"r{i}") for i in range(20)]
    fired = run(reads)
    assert fired.count("secret-read-burst") == 1
    assert fired.count("secret-read-by-user") == 20  # generate: true keeps the base rule
    assert "secret-read-burst" not in run(reads[:19])
    slow = [at(ev("get", "secrets", name=f"s{i}"), i * 30, f"r{i}") for i in range(20)]
    assert "secret-read-burst" not in run(slow)  # 20 reads over 9.5 minutes
    others = [{**r, "user": {"username": f"u{i}"}} for i, r in enumerate(reads)]
    assert "secret-read-burst" not in run(others)  # grouped by user


def test_enumeration_counts_distinct_resources() -> None:
    kinds = ["pods", "secrets", "configmaps", "services", "deployments", "daemonsets", "nodes",
             "namespaces", "roles", "rolebindings", "clusterroles", "clusterrolebindings",
             "serviceaccounts", "ingresses", "networkpolicies"]  # fmt: skip
    lists = [at(ev("list", k, name=None), i, f"l{i}") for i, k in enumerate(kinds)]
    assert run(lists) == ["enumeration-burst"]
    same = [at(ev("list", "pods", name=None), i, f"l{i}") for i in range(15)]
    assert run(same) == []
    # generate: false — the base rule never reports on its own, even when asked for everything.
    assert "resource-listed-by-user" not in run(lists, min_level="informational")


def test_create_then_exec_by_the_same_identity() -> None:
    create = at(ev("create", "pods", name=None), 0, "c")
    exec_ = at(ev("create", "pods", sub="exec"), 120, "e")
    assert run([create, exec_]).count("create-then-exec") == 1
    late = at(ev("create", "pods", sub="exec"), 900, "e")
    assert "create-then-exec" not in run([create, late])
    other = {**exec_, "user": {"username": "bob"}}
    assert "create-then-exec" not in run([create, other])


def test_no_high_correlation_on_benign_generated_traffic(tmp_path: Path) -> None:
    import json

    sample = _sample(tmp_path)
    labelled = {
        json.loads(line)["auditID"]
        for line in sample.read_bytes().splitlines()
        if b"kubetrail.io/sample-attack" in line
    }
    found = detect(RULES, file_events([str(sample)], ReadReport()), correlations=CORRELATIONS)
    high = [f for f in found if f.level in ("high", "critical")]
    assert {f.audit_id for f in high} <= labelled
