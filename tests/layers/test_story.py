"""timeline --object merges the audit events about a pod with its Events, its containers' log
lines (counted when many) and the component lines that name it, in time order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetrail.cli import main
from tests.lake.conftest import event


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    audit = tmp_path / "audit.log"
    audit.write_bytes(
        event("create-web", verb="create", uri="/api/v1/namespaces/default/pods",
              name="web-1", received="2026-12-03T10:00:00.000000Z") + b"\n"
        + event("other", name="db-0", received="2026-12-03T10:00:30.000000Z") + b"\n"
    )  # fmt: skip
    pod = tmp_path / "var/log/pods/default_web-1_u-1/nginx"
    pod.mkdir(parents=True)
    (pod / "0.log").write_text(
        "".join(f"2026-12-03T10:01:{s:02d}Z stdout F request {s}\n" for s in range(10))
        + "2026-12-03T10:03:00Z stderr F fatal: bind failed\n"
    )
    events = tmp_path / "events.json"
    events.write_text(json.dumps({"kind": "EventList", "items": [{
        "kind": "Event", "metadata": {"uid": "e1", "name": "web-1.1", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-1"},
        "reason": "BackOff", "type": "Warning", "message": "Back-off restarting failed container",
        "source": {"component": "kubelet", "host": "node-1"},
        "lastTimestamp": "2026-12-03T10:04:00Z", "count": 3}]}))  # fmt: skip
    kubelet = tmp_path / "kubelet.log"
    kubelet.write_text(
        'E1203 10:04:30.000001     812 pod_workers.go:1301] "Error syncing pod" '
        'err="CrashLoopBackOff" pod="default/web-1"\n'
        'I1203 10:04:31.000001     812 kubelet.go:1] "Other pod" pod="default/db-0"\n'
    )
    for args in (
        ["ingest", str(audit)],
        ["ingest", "--layer", "container", str(tmp_path / "var/log/pods")],
        ["ingest", "--layer", "events", str(events)],
        ["ingest", "--layer", "component", str(kubelet)],
    ):
        assert main([*args, "--lake", str(root)]) == 0
    return root


def test_one_timeline_of_a_pod(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["timeline", "--lake", str(lake), "--object", "pods/default/web-1"]) == 0
    out = capsys.readouterr().out.splitlines()
    body = [line.strip() for line in out if line.startswith("  ") and "⋮" not in line]
    assert body[0].startswith("10:00:00  ")
    assert "created pod default/web-1" in body[0]
    assert body[1] == "10:01:00  [log] nginx stdout: 10 lines, from 'request 0' to 'request 9'"
    assert body[2] == "10:03:00  [log] nginx stderr: fatal: bind failed"
    assert body[3] == (
        "10:04:00  [Event] Event Warning BackOff ×3: Back-off restarting failed container "
        "— kubelet on node-1"
    )
    assert body[4].startswith("10:04:30  [component] kubelet E pod_workers.go:1301 Error syncing")
    assert 'pod="default/web-1"' in body[4]
    assert len(body) == 5  # nothing about db-0
    assert main(["timeline", "--lake", str(lake), "--object", "pods/default/web-1", "-v"]) == 0
    verbose = capsys.readouterr().out
    assert verbose.count("[log] nginx stdout: request") == 10


def test_the_json_shape_holds_the_layers(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    args = ["timeline", "--lake", str(lake), "--object", "pods/default/web-1", "-o", "json"]
    assert main(args) == 0
    minutes = json.loads(capsys.readouterr().out)
    assert [m["start"] for m in minutes] == [
        "2026-12-03T10:00:00Z",
        "2026-12-03T10:01:00Z",
        "2026-12-03T10:03:00Z",
        "2026-12-03T10:04:00Z",
    ]
    assert [e["audit_id"] for e in minutes[0]["events"]] == ["create-web"]
    assert minutes[1]["layers"][0]["count"] == 10
    assert {e["layer"] for e in minutes[3]["layers"]} == {"event", "component"}
