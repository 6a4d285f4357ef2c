"""Live alerts: findings as JSON lines while events are taken in, rate-limited per rule."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kubetrail.detect.engine import Detector
from kubetrail.detect.live import LiveAlerts
from kubetrail.detect.rules import load_rules
from kubetrail.ingest.pipeline import Ingestor
from kubetrail.lake.store import Lake
from tests.lake.conftest import event

RULES, _ = load_rules()
EXEC = {"resource": "pods", "subresource": "exec", "namespace": "prod", "name": "db",
        "apiVersion": "v1"}  # fmt: skip


def test_alerts_are_rate_limited_per_rule(tmp_path: Path) -> None:
    now = [1000.0]
    docs: list[dict[str, Any]] = []
    alerts = LiveAlerts(Detector(RULES), [docs.append], clock=lambda: now[0], per_minute=3)
    ingestor = Ingestor(Lake(tmp_path / "lake", create=True), "c", observer=alerts)
    for i in range(5):
        ingestor.add(event(f"e{i}", verb="get", objectRef=EXEC), "t")
    ingestor.add(event("e1", verb="get", objectRef=EXEC, stage="ResponseStarted"), "t")
    assert len(docs) == 3  # e0-e2; e3 and e4 held back; e1's second stage fires nothing
    now[0] += 61
    ingestor.add(event("e9", verb="get", objectRef=EXEC), "t")
    assert [d["audit_id"] for d in docs] == ["e0", "e1", "e2", "e9"]
    assert docs[-1]["held_back_before"] == 2
    assert docs[0]["rule"] == "pod-exec"
    assert docs[0]["alert_time"].startswith("1970-01-01T00:16:40")
    assert alerts.summary() == "4 alert(s), 2 held back by the rate limit (pod-exec 2)"


def test_alerts_see_redacted_events(tmp_path: Path) -> None:
    """The observer runs after redaction: an alert can hold nothing the lake would not."""
    seen: list[Any] = []
    ingestor = Ingestor(Lake(tmp_path / "lake", create=True), "c", observer=seen.append)
    secret = {"kind": "Secret", "data": {"password": "aHVudGVyMg=="}}
    ingestor.add(event("s", verb="get", resource="secrets", name="db", responseObject=secret), "t")
    (ev,) = seen
    assert b"aHVudGVyMg==" not in bytes(ev.response_object)


def test_cli_follow_detect(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_bytes(
        event("x1", verb="create", objectRef=EXEC) + b"\n" + event("ok", verb="get") + b"\n"
    )
    lake = tmp_path / "lake"
    code = "from kubetrail.cli.follow import follow; follow()"
    args = [str(log), "--lake", str(lake), "--flush-interval", "0.2", "--detect"]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    meta = lake / "_kubetrail" / "lake.json"
    while not (meta.exists() and Lake(lake).data_files()) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    (alert,) = [json.loads(line) for line in out.splitlines()]
    assert (alert["rule"], alert["audit_id"]) == ("pod-exec", "x1")
    assert b"follow: 1 alert(s)" in err


def test_cli_serve_detect(tmp_path: Path) -> None:
    import http.client

    from tests.ingest.test_serve import _free_port, _spawn, eventlist

    port = _free_port()
    proc = _spawn(tmp_path / "lake", port, "--flush-interval", "600", "--detect")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/", eventlist([event("w1", verb="get", objectRef=EXEC)]))
    assert conn.getresponse().status == 200
    conn.close()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    out, err = (path.read_bytes() for path in proc.logs)  # type: ignore[attr-defined]
    assert proc.returncode == 0, err
    (alert,) = [json.loads(line) for line in out.splitlines()]
    assert (alert["rule"], alert["audit_id"]) == ("pod-exec", "w1")
    assert b"1 alert(s)" in err
