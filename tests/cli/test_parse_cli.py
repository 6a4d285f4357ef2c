"""kubetrail parse from the outside: records alone on stdout, rejects and the summary apart."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from kubetrail.cli import main


@pytest.fixture
def pod_dir(tmp_path: Path) -> Path:
    d = tmp_path / "var/log/pods/prod_db-0_5c2a0b7e-2222-4c3e-9a8b-2b1c7d0e9f00/postgres"
    d.mkdir(parents=True)
    return d


def test_cri_across_rotation_with_rejects(
    pod_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with gzip.open(pod_dir / "0.log.20261203-100000.gz", "wt") as fh:
        fh.write("2026-12-03T10:00:00Z stdout F rotated away\n")
    (pod_dir / "0.log.20261203-110000").write_text(
        "2026-12-03T11:00:00Z stdout P begins in the old file, \ngarbage\n"
    )
    (pod_dir / "0.log").write_text("2026-12-03T11:00:01Z stdout F ends in the new one\n")
    paths = [
        str(pod_dir / n) for n in ("0.log.20261203-100000.gz", "0.log.20261203-110000", "0.log")
    ]
    assert main(["parse", "--as", "cri", *paths]) == 0
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["message"] for r in records] == [
        "rotated away",
        "begins in the old file, ends in the new one",
    ]
    assert records[1]["time"] == "2026-12-03T11:00:00.000000000Z"
    assert records[1]["namespace"] == "prod"
    assert records[1]["container"] == "postgres"
    assert "0.log.20261203-110000:2: unexpected timestamp format" in err
    assert "4 lines: 2 records, 1 rejected" in err


def test_rejects_to_a_file_and_klog_from_stdin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import sys

    data = b'I1203 10:15:00.123456 7 a.go:1] "hi" k="v"\nnope\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    rejects = tmp_path / "rejects.jsonl"
    assert main(["parse", "--as", "klog", "-", "--rejects", str(rejects)]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["kv"] for line in out.splitlines()] == [{"k": "v"}]
    assert json.loads(rejects.read_text()) == {"file": "-", "line": 2, "reason": "not a klog line"}
    assert "nope" not in err
    assert "2 lines: 1 records, 1 rejected" in err


def test_events_once_each_from_a_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = {"kind": "Event", "metadata": {"uid": "u1", "name": "a", "namespace": "n"},
             "message": "m", "count": 2}  # fmt: skip
    doc = {"kind": "EventList", "items": [event, event]}
    path = tmp_path / "events.json"
    path.write_text(json.dumps(doc, indent=2))  # one pretty-printed document
    assert main(["parse", "--as", "event", str(path)]) == 0
    out, _ = capsys.readouterr()
    assert [json.loads(line)["occurrence_key"] for line in out.splitlines()] == ["u1:2"]


def test_syslog_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "syslog"
    path.write_text('Dec 31 23:59:59 node-1 kubelet[1]: I1231 23:59:59.000001 1 a.go:1] "x"\n')
    args = ["parse", "--as", "syslog", str(path), "--reference-time", "2027-01-01T00:00:00Z"]
    assert main(args) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["time"] == "2026-12-31T23:59:59.000000Z"
    assert record["klog"]["message"] == "x"
    assert main([*args, "--timezone", "Mars/Olympus"]) == 2


def test_cloud_envelopes(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    elastic = corpus / "upstream" / "elastic-integrations"
    assert main(["parse", "--as", "gke", str(elastic / "test-audit.log")]) == 0
    out, err = capsys.readouterr()
    (gke,) = [json.loads(line) for line in out.splitlines()]
    assert gke["envelope"] == "gke"
    assert gke["event"]["apiVersion"] == "audit.k8s.io/v1"
    assert "not a GKE envelope" in err  # the file's plain and AKS lines
    # An AKS event routed to both kube-audit and kube-audit-admin is emitted once.
    record = json.loads((elastic / "test-kube-audit.log").read_text().splitlines()[0])
    admin = {**record, "category": "kube-audit-admin"}
    batch = tmp_path / "eventhub.json"
    batch.write_text(json.dumps({"records": [record, admin]}))
    assert main(["parse", "--as", "aks", str(batch)]) == 0
    out, _ = capsys.readouterr()
    events = [json.loads(line)["event"] for line in out.splitlines()]
    assert len(events) == 1
    assert events[0]["auditID"] == "ad26f7bc-f1c6-4097-90f1-e0924e12f257"


def test_unreadable_inputs_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["parse", "--as", "cri", str(tmp_path / "missing.log")]) == 1
    assert "missing.log: cannot read: No such file or directory" in capsys.readouterr().err
    damaged = tmp_path / "0.log.gz"
    damaged.write_bytes(b"\x1f\x8b\x08\x00truncated")
    assert main(["parse", "--as", "cri", str(damaged)]) == 1
    assert "0.log.gz: cannot read" in capsys.readouterr().err
    binary = tmp_path / "binary"
    binary.write_bytes(bytes(range(256)) * 4)
    assert main(["parse", "--as", "klog", str(binary)]) == 0  # rejected lines, no traceback
    assert "rejected" in capsys.readouterr().err
