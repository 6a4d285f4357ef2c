"""ingest --layer: the other layers into the lake's tables, each record once, queryable."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kubetrail.cli import main
from kubetrail.lake.engine import DuckDBEngine, records
from kubetrail.lake.store import Lake
from kubetrail.layers.collect import container_files, ingest

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)
UID = "0b7e5c2a-1111-4c3e-9a8b-2b1c7d0e9f00"


@pytest.fixture
def pods(tmp_path: Path) -> Path:
    root = tmp_path / "var/log/pods"
    nginx = root / f"default_web-1_{UID}" / "nginx"
    nginx.mkdir(parents=True)
    with gzip.open(nginx / "0.log.20261203-090000.gz", "wt") as fh:
        fh.write("2026-12-03T09:00:00Z stdout F oldest\n")
    (nginx / "0.log.20261203-100000").write_text("2026-12-03T10:00:00Z stdout P split by, \n")
    (nginx / "0.log").write_text("2026-12-03T10:00:01Z stdout F rotation\n")
    (nginx / "0.log.20261203-100000.tmp").write_text("being compressed: never read\n")
    (nginx / "1.log").write_text(
        '{"log":"docker line\\n","stream":"stderr","time":"2026-12-03T10:05:00Z"}\n'
    )
    return root


def query(lake: Lake, sql: str) -> list[dict[str, object]]:
    engine = DuckDBEngine(lake)
    try:
        return records(engine.query(sql))
    finally:
        engine.close()


def test_container_files_oldest_first(pods: Path) -> None:
    names = [Path(f).name for f in container_files([str(pods)])]
    assert names == ["0.log.20261203-090000.gz", "0.log.20261203-100000", "0.log", "1.log"]


def test_container_logs_once_each(pods: Path, tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake", create=True)
    report = ingest(lake, "container", [str(pods)], cluster="prod", now=NOW)
    assert (report.records, report.stats.written, report.rejected) == (3, 3, [])
    rows = query(lake, "SELECT * FROM container_logs ORDER BY time")
    assert [r["message"] for r in rows] == ["oldest", "split by, rotation", "docker line"]
    assert rows[1]["time"] == "2026-12-03T10:00:00.000000Z"
    assert rows[1]["time_ns"] == "2026-12-03T10:00:00.000000000Z"
    assert (rows[2]["restart"], rows[2]["stream"], rows[2]["cluster"]) == (1, "stderr", "prod")
    assert rows[0]["pod"] == "web-1"
    assert rows[0]["uid"] == UID
    again = ingest(lake, "container", [str(pods)], cluster="prod", now=NOW)
    assert (again.stats.written, again.stats.duplicates) == (0, 3)
    assert len(query(lake, "SELECT * FROM container_logs")) == 3


def test_component_logs_and_events_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = tmp_path / "lake"
    journal = tmp_path / "kubelet.json"
    journal.write_text(
        json.dumps(
            {
                "__REALTIME_TIMESTAMP": "1764756000000000",
                "_HOSTNAME": "node-1",
                "SYSLOG_IDENTIFIER": "kubelet",
                "_PID": "812",
                "MESSAGE": 'E1203 10:00:00.000001     812 pod_workers.go:1301] "Error syncing '
                'pod" err="crash" pod="default/web-1"',
            }
        )
        + "\n"
    )
    klog_file = tmp_path / "kube-apiserver.log"
    klog_file.write_text(
        "Log file created at: 2026/12/03 10:00:00\n"
        'I1203 10:00:02.500000       1 handler.go:1] "Request" verb="GET"\n'
    )
    for path in (journal, klog_file):
        args = ["ingest", "--layer", "component", str(path), "--lake", str(lake)]
        assert main(args) == 0
    events = tmp_path / "events.json"
    events.write_text(
        json.dumps(
            {
                "kind": "EventList",
                "items": [
                    {
                        "kind": "Event",
                        "metadata": {"uid": "e1", "name": "web-1.1", "namespace": "default"},
                        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-1"},
                        "reason": "BackOff",
                        "message": "Back-off restarting failed container",
                        "lastTimestamp": "2026-12-03T10:01:00Z",
                        "count": 3,
                    }
                ],
            }
        )
    )
    assert main(["ingest", "--layer", "events", str(events), "--lake", str(lake)]) == 0
    capsys.readouterr()
    assert main(["sql", "--lake", str(lake), "-o", "json",
                 "SELECT format, severity, ident, file, kv, year_inferred FROM component_logs "
                 "ORDER BY time"]) == 0  # fmt: skip
    rows = json.loads(capsys.readouterr().out)
    assert rows == [
        {"format": "journald", "severity": "E", "ident": "kubelet", "file": "pod_workers.go",
         "kv": '{"err": "crash", "pod": "default/web-1"}', "year_inferred": False},
        {"format": "klog", "severity": "I", "ident": "kube-apiserver", "file": "handler.go",
         "kv": '{"verb": "GET"}', "year_inferred": True},
    ]  # fmt: skip
    assert main(["sql", "--lake", str(lake), "-o", "json", "SELECT * FROM k8s_events"]) == 0
    (event,) = json.loads(capsys.readouterr().out)
    assert (event["occurrence_key"], event["object_name"], event["count"]) == ("e1:3", "web-1", 3)


def test_empty_tables_are_typed(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake", create=True)
    engine = DuckDBEngine(lake)
    try:
        result = engine.query("SELECT time, restart, cluster, hour FROM container_logs")
    finally:
        engine.close()
    assert result.rows == []
    assert result.types == ["TIMESTAMP WITH TIME ZONE", "INTEGER", "VARCHAR", "INTEGER"]


def test_a_cat_loop_sidecar_is_stored_once_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shipper = tmp_path / f"pods/default_web-1_{UID}/log-shipper"
    shipper.mkdir(parents=True)
    lines = ["GET /a 200", "GET /b 200", "GET /c 500"]
    text = "".join(
        f"2026-12-03T10:00:{cycle * 30 + 1:02d}.{i:03d}Z stdout F {line}\n"
        for cycle in range(2)
        for i, line in enumerate(lines[: 2 + cycle])
    )
    (shipper / "0.log").write_text(text)  # 2 lines printed, then 3: the file grew by one
    lake = tmp_path / "lake"
    assert (
        main(["ingest", "--layer", "container", str(tmp_path / "pods"), "--lake", str(lake)]) == 0
    )
    err = capsys.readouterr().err
    assert "default/web-1 log-shipper (stdout): replays its file" in err
    assert "kubetrail sidecar" in err
    assert "2 replayed lines dropped" in err
    rows = query(
        Lake(lake), "SELECT message, time_is_collection_time FROM container_logs ORDER BY time"
    )
    assert [r["message"] for r in rows] == lines
    assert [r["time_is_collection_time"] for r in rows] == [False, False, True]


def test_component_logs_from_stdin_are_told_by_their_first_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import sys

    entry = {"__REALTIME_TIMESTAMP": "1764756000000000", "SYSLOG_IDENTIFIER": "kubelet",
             "_PID": "1", "MESSAGE": 'E1203 10:00:00.000001 1 a.go:1] "x"'}  # fmt: skip
    data = (json.dumps(entry) + "\n").encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    lake = tmp_path / "lake"
    assert main(["ingest", "--layer", "component", "-", "--lake", str(lake)]) == 0
    (row,) = query(Lake(lake), "SELECT format, ident, severity, source FROM component_logs")
    assert row == {"format": "journald", "ident": "kubelet", "severity": "E", "source": "-:1"}


def test_stored_keys_are_read_once_and_still_stop_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    from kubetrail.lake import tables

    lake = Lake(tmp_path / "lake", create=True)
    row = tables.container_row(
        {"time": "2026-12-03T10:00:00.000000000Z", "stream": "stdout", "message": "m",
         "uid": "u", "container": "c", "restart": 0}, "f:1",
    )  # fmt: skip
    known = tables.StoredKeys()
    assert tables.write(lake, "container_logs", [row], cluster="c", now=NOW, stored=known).written
    reads: list[object] = []
    real = pq.read_table
    monkeypatch.setattr(pq, "read_table", lambda *a, **k: reads.append(a) or real(*a, **k))
    again = tables.write(lake, "container_logs", [row], cluster="c", now=NOW, stored=known)
    assert (again.written, again.duplicates) == (0, 1)
    assert reads == []  # the cache knew the file it had written
    fresh = tables.write(lake, "container_logs", [row], cluster="c", now=NOW)
    assert (fresh.written, fresh.duplicates) == (0, 1)  # without it, read from disk
    assert len(reads) == 1
