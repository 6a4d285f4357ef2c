"""The lake on disk: partitions, atomic files, manifest, dedup, compaction, retention, holds."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from kubetrail.errors import InputError
from kubetrail.lake.engine import DuckDBEngine
from kubetrail.lake.store import Lake

from .conftest import NOW, count, event, ingest


def test_partitions_on_received_time_for_every_stage(lake: Lake) -> None:
    lines = [
        event(
            "a",
            stage="ResponseStarted",
            verb="watch",
            received="2026-11-26T09:59:59.900000Z",
            stage_at="2026-11-26T09:59:59.950000Z",
        ),
        event(
            "a",
            stage="ResponseComplete",
            verb="watch",
            received="2026-11-26T09:59:59.900000Z",
            stage_at="2026-11-26T10:30:00.000000Z",
        ),
        event("b", received="2026-11-26T10:00:00.000000Z"),
    ]
    ingest(lake, lines, cluster="prod")
    assert lake.partitions() == [
        "cluster=prod/date=2026-11-26/hour=09",
        "cluster=prod/date=2026-11-26/hour=10",
    ]
    eng = DuckDBEngine(lake)
    rows = eng.query(
        "SELECT audit_id, stage, cluster, date, hour FROM events ORDER BY audit_id, stage_at"
    ).rows
    assert [(a, s, c, str(d), h) for a, s, c, d, h in rows] == [
        ("a", "ResponseStarted", "prod", "2026-11-26", 9),
        ("a", "ResponseComplete", "prod", "2026-11-26", 9),  # stage 30 min later, same hour
        ("b", "ResponseComplete", "prod", "2026-11-26", 10),
    ]


def test_pre_v1_event_partitioned_by_its_timestamp(lake: Lake) -> None:
    legacy = (
        b'{"kind":"Event","apiVersion":"audit.k8s.io/v1beta1","metadata":{"creationTimestamp":'
        b'"2017-09-11T19:55:05Z"},"timestamp":"2017-09-11T19:55:05Z","level":"Metadata",'
        b'"auditID":"old","stage":"ResponseComplete","verb":"list","requestURI":"/api/v1/pods",'
        b'"user":{"username":"u"}}'
    )
    ingest(lake, [legacy])
    eng = DuckDBEngine(lake)
    row = eng.query("SELECT received_at, stage_at, hour FROM events").rows[0]
    assert str(row[0]) == "2017-09-11 19:55:05+00:00"
    assert row[2] == 19


def test_parquet_layout_timestamps_micros_utc_zstd(lake: Lake) -> None:
    import duckdb

    ingest(lake, [event("a")])
    (path,) = lake.data_files()
    full = str(lake.root / path)
    schema = duckdb.sql(
        f"SELECT name, logical_type FROM parquet_schema('{full}') WHERE name = 'received_at'"
    ).fetchall()
    assert "isAdjustedToUTC=1" in str(schema[0][1]).replace(" ", "").replace("true", "1")
    assert "MICROS" in str(schema[0][1]).upper()
    codecs = {
        c
        for (c,) in duckdb.sql(
            f"SELECT DISTINCT compression FROM parquet_metadata('{full}')"
        ).fetchall()
    }
    assert codecs == {"ZSTD"}
    assert "cluster" not in {
        n for (n,) in duckdb.sql(f"SELECT name FROM parquet_schema('{full}')").fetchall()
    }


def test_reingest_adds_nothing_and_collisions_are_kept(lake: Lake) -> None:
    lines = [event(f"id-{i}") for i in range(50)]
    first = ingest(lake, lines)
    assert first.stats.written == 50
    again = ingest(lake, lines)
    assert (again.stats.written, again.stats.duplicates) == (0, 50)
    # The same audit ID and stage with different content: an ID reused to hide a request.
    hidden = event("id-7", verb="delete", user="mallory")
    third = ingest(lake, [hidden])
    assert (third.stats.written, third.stats.collisions) == (1, 1)
    assert count(lake) == 51
    assert count(lake, "SELECT count(*) FROM events WHERE audit_id = 'id-7'") == 2


def test_view_removes_exact_duplicates_written_by_parallel_writers(lake: Lake) -> None:
    from kubetrail.ingest.pipeline import Ingestor

    lines = [event(f"id-{i}") for i in range(20)]
    # Two receivers that do not coordinate: both store the same batch.
    for _ in range(2):
        ing = Ingestor(lake, "test", clock=lambda: NOW)
        for line in lines:
            ing.add(line, "peer")
        lake.commit(ing.take_rows(), NOW)
    assert count(lake, "SELECT count(*) FROM raw_events") == 40
    assert count(lake) == 20


def test_manifest_verify_detects_changed_missing_extra(lake: Lake, tmp_path: Path) -> None:
    ingest(lake, [event("a", received="2026-11-26T10:00:00.000000Z")])
    ingest(lake, [event("b", received="2026-11-26T11:00:00.000000Z")])
    checked, problems = lake.verify()
    assert (checked, problems) == (2, [])
    first, second = lake.data_files()
    with open(lake.root / first, "r+b") as fh:
        fh.seek(20)
        fh.write(b"X")
    moved = tmp_path / "moved.parquet"
    shutil.move(lake.root / second, moved)
    extra = lake.root / "cluster=test/date=2026-11-26/hour=12/part-x.parquet"
    extra.parent.mkdir(parents=True)
    shutil.copy(moved, extra)
    _, problems = lake.verify()
    assert sorted((p.kind, p.path) for p in problems) == [
        ("changed", first),
        ("extra", str(extra.relative_to(lake.root))),
        ("missing", second),
    ]


def test_readers_ignore_staging_and_dot_files(lake: Lake) -> None:
    ingest(lake, [event("a")])
    (path,) = lake.data_files()
    src = lake.root / path
    shutil.copy(src, lake.root / "_staging" / "half-written.parquet")
    shutil.copy(src, src.parent / ".hidden.parquet.tmp")
    assert count(lake, "SELECT count(*) FROM raw_events") == 1


def test_compaction_merges_dedups_and_keeps_the_view_stable(lake: Lake) -> None:
    from kubetrail.ingest.pipeline import Ingestor

    lines = [event(f"id-{i}") for i in range(30)]
    for chunk in (lines[:20], lines[10:], lines[5:15]):  # overlapping batches, written raw
        ing = Ingestor(lake, "test", clock=lambda: NOW)
        for line in chunk:
            ing.add(line, "x")
        lake.commit(ing.take_rows(), NOW)
    assert len(lake.data_files()) == 3
    assert count(lake, "SELECT count(*) FROM raw_events") == 50
    assert count(lake) == 30
    done = lake.compact(NOW)
    assert done == [("cluster=test/date=2026-11-26/hour=10", 3, 50, 30)]
    assert len(lake.data_files()) == 1
    assert count(lake, "SELECT count(*) FROM raw_events") == 30
    assert lake.verify() == (1, [])


def test_prune_by_age_skips_holds(lake: Lake) -> None:
    lines = [
        event("old-a", received="2026-08-01T10:00:00.000000Z"),
        event("old-b", received="2026-08-02T10:00:00.000000Z"),
        event("new", received="2026-11-26T10:00:00.000000Z"),
    ]
    ingest(lake, lines)
    lake.hold("cluster=test/date=2026-08-02", "case 42", NOW)
    deleted, held = lake.prune(timedelta(days=90), NOW)
    assert deleted == ["cluster=test/date=2026-08-01/hour=10"]
    assert held == ["cluster=test/date=2026-08-02/hour=10"]
    assert count(lake) == 2
    assert lake.verify()[1] == []
    # Held partitions are not compacted either.
    ingest(lake, [event("more", received="2026-08-02T10:30:00.000000Z")])
    assert lake.compact(NOW) == []
    assert lake.release("cluster=test/date=2026-08-02")
    assert lake.prune(timedelta(days=90), NOW)[0] == ["cluster=test/date=2026-08-02/hour=10"]


def test_not_a_lake_and_bad_cluster_names(tmp_path: Path) -> None:
    from kubetrail.errors import UsageError
    from kubetrail.ingest.pipeline import Ingestor

    with pytest.raises(InputError, match="not a kubetrail lake"):
        Lake(tmp_path / "nothing")
    lake = Lake(tmp_path / "l", create=True)
    for bad in ("", "a/b", "_x", ".x"):
        with pytest.raises(UsageError):
            Ingestor(lake, bad)


def test_events_in_the_wal_are_visible(lake: Lake) -> None:
    from kubetrail.ingest.pipeline import Ingestor

    ing = Ingestor(lake, "test", clock=lambda: NOW)
    for i in range(5):
        ing.add(event(f"w-{i}"), "peer")
    wal = lake.root / "_wal" / "writer-1"
    wal.mkdir()
    (wal / "1.jsonl").write_bytes(b"\n".join(ing.take_rows().json_rows()) + b"\n")
    assert count(lake) == 5
    eng = DuckDBEngine(lake)
    row = eng.query("SELECT verb, user_name, hour, received_at FROM events LIMIT 1").rows[0]
    assert row[:3] == ("get", "alice", 10)
    assert str(row[3]) == "2026-11-26 10:15:00+00:00"


def test_corpus_kubeadm_like_events_round_trip(lake: Lake, corpus: Path) -> None:
    from kubetrail.ingest.read import ReadReport, expand_paths, read_lines

    files = expand_paths([str(corpus / "upstream" / "falco")])
    ing = ingest(lake, [line.data for line in read_lines(files, ReadReport())], tolerant=True)
    assert ing.stats.written > 0
    assert count(lake) == ing.stats.written
    eng = DuckDBEngine(lake)
    bad = eng.query("SELECT count(*) FROM events WHERE received_at IS NULL OR verb IS NULL").rows
    assert bad == [(0,)]


def test_cloud_envelopes_reach_the_lake(lake: Lake, corpus: Path) -> None:
    """GKE, AKS and EKS samples of the corpus are unwrapped into events with their bodies."""
    from kubetrail.ingest.read import ReadReport, expand_paths, read_lines

    roots = [corpus / "upstream" / "elastic-integrations", corpus / "upstream" / "panther-analysis"]
    files = expand_paths([str(p) for p in roots if p.exists()])
    lines = [line.data for line in read_lines(files, ReadReport())]
    ing = ingest(lake, lines, tolerant=True)
    eng = DuckDBEngine(lake)
    envelopes = dict(eng.query("SELECT envelope, count(*) FROM events GROUP BY 1").rows)
    assert envelopes.get("gke", 0) > 0
    assert envelopes.get("aks", 0) > 0
    assert ing.stats.written == sum(envelopes.values())


def test_envelope_bodies_and_eks_records_reach_the_lake(lake: Lake) -> None:
    import json

    gke = {
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "serviceName": "k8s.io",
            "methodName": "io.k8s.core.v1.configmaps.create",
            "resourceName": "core/v1/namespaces/default/configmaps/c",
            "authenticationInfo": {"principalEmail": "dev@example.com"},
            "request": {
                "@type": "core.k8s.io/v1.ConfigMap",
                "kind": "ConfigMap",
                "data": {"a": "b"},
            },
            "status": {},
        },
        "insertId": "gke-1",
        "timestamp": "2026-11-26T10:00:00.123456Z",
    }
    eks = {
        "logStreamName": "kube-apiserver-audit-abc",
        "timestamp": 1764151200000,
        "eventId": "e-1",
        "message": event("eks-1").decode(),
    }
    ingest(lake, [json.dumps(gke).encode(), json.dumps(eks).encode()])
    eng = DuckDBEngine(lake)
    rows = eng.query("SELECT envelope, audit_id, request_object FROM events ORDER BY 2").rows
    assert [(r[0], r[1]) for r in rows] == [("eks", "eks-1"), ("gke", "gke-1")]
    assert json.loads(rows[1][2]) == {"kind": "ConfigMap", "data": {"a": "b"}}


def test_batches_are_bounded_by_bytes_and_later_commits_still_drop_duplicates(
    lake: Lake,
) -> None:
    """A long run commits every ``batch_bytes``; a duplicate of a row committed by an earlier
    batch of the same run (same partition) is still dropped, without re-reading the lake."""
    from kubetrail.ingest.pipeline import Ingestor

    ing = Ingestor(lake, "test", clock=lambda: NOW, batch_bytes=4000)
    lines = [event(f"id-{i}") for i in range(40)]
    for i, line in enumerate(lines + lines[:10]):
        ing.add(line, f"test:{i}")
        ing.maybe_flush()
    ing.close()
    assert ing.stats.files >= 5  # ~800 B per staging line: a commit every few events
    assert ing.stats.written == 40
    assert ing.stats.duplicates == 10
    assert count(lake) == 40
    # Physically too: the view's dedup is not what hides them.
    physical = f"SELECT count(*) FROM read_parquet('{lake.root}/cluster=*/*/*/*.parquet')"
    assert count(lake, physical) == 40
    assert sum(e.rows for e in ing.entries) == 40


def test_a_failed_commit_is_retried_without_its_rows_counted_as_duplicates(lake: Lake) -> None:
    """If writing fails (here: the staging directory is not a directory), the rows are not
    remembered as stored: committing them again writes them."""
    from kubetrail.ingest.pipeline import Ingestor

    ing = Ingestor(lake, "test", clock=lambda: NOW)
    for i in range(5):
        ing.add(event(f"id-{i}"), f"test:{i}")
    rows = ing.take_rows()
    staging = lake.root / "_staging"
    shutil.rmtree(staging)
    staging.write_text("not a directory")
    with pytest.raises(OSError):
        ing.commit(rows)
    staging.unlink()
    staging.mkdir()
    ing.commit(rows)
    assert ing.stats.written == 5
    assert ing.stats.duplicates == 0
    assert count(lake) == 5


def test_a_schema_1_lake_reads_and_upgrades_on_first_write(lake: Lake) -> None:
    """Schema 2 only adds event_bytes: files written before it read as nulls there, and the
    first write records version 2 in lake.json."""
    import json

    import duckdb

    from kubetrail.query.search import Filters, top

    ingest(lake, [event("old")])
    (path,) = lake.data_files()
    full = lake.root / path
    duckdb.execute(
        f"COPY (SELECT * EXCLUDE (event_bytes) FROM read_parquet('{full}')) "
        f"TO '{full}.v1' (FORMAT parquet)"
    )
    Path(f"{full}.v1").replace(full)
    meta = lake.root / "_kubetrail" / "lake.json"
    meta.write_text(json.dumps({"schema_version": 1, "format": "kubetrail-lake"}))
    old = Lake(lake.root)
    assert old.schema_version == 1
    assert count(old, "SELECT count(*) FROM events WHERE event_bytes IS NULL") == 1
    ingest(old, [event("new")])
    assert json.loads(meta.read_text())["schema_version"] == 2
    eng = DuckDBEngine(old)
    result = top(eng, "user", Filters(), NOW)
    eng.close()
    assert (result.events, result.unsized) == (2, 1)
    assert result.bytes > 0
