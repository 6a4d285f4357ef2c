"""Alert sinks against real local servers: HTTP webhooks (plain, Slack, falcosidekick) and
syslog over UDP and TCP; failures and overflow are counted, never silent."""

from __future__ import annotations

import http.server
import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubetrail.detect.engine import Detector
from kubetrail.detect.live import LiveAlerts
from kubetrail.detect.rules import load_rules
from kubetrail.detect.sinks import open_sink, syslog_message
from kubetrail.errors import UsageError
from kubetrail.ingest.pipeline import Ingestor
from kubetrail.lake.store import Lake
from tests.lake.conftest import event

ALERT: dict[str, Any] = {
    "rule": "pod-exec",
    "rule_id": "1234",
    "title": "Command run in a container",
    "level": "medium",
    "techniques": ["exec-into-container"],
    "attack": ["T1609"],
    "audit_id": "e1",
    "received_at": "2026-11-26T10:15:00.000000Z",
    "cluster": "prod",
    "user": "alice",
    "sentence": "alice ran a command in pod prod/db",
    "alert_time": "2026-11-26T10:15:01+00:00",
}


class _Hook(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.got.append((dict(self.headers), json.loads(body)))  # type: ignore[attr-defined]
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[Any]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.got = []  # type: ignore[attr-defined]
    server.status = 200  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server: Any) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/alerts"


def test_webhook_posts_the_alert_with_a_bearer_token(hook: Any) -> None:
    sink = open_sink(f"webhook+{_url(hook)}", print, token="s3cret")
    sink(ALERT)
    sink.close()
    ((headers, body),) = hook.got
    assert body == ALERT
    assert headers["Authorization"] == "Bearer s3cret"
    assert headers["Content-Type"] == "application/json"
    assert sink.summary() == "webhook: 1 sent"


def test_slack_and_falcosidekick_payloads(hook: Any) -> None:
    for kind in ("slack", "falcosidekick"):
        sink = open_sink(f"{kind}+{_url(hook)}", print, hostname="collector-0")
        sink(ALERT)
        sink.close()
    (_, slack), (_, falco) = hook.got
    assert slack["text"] == (
        "[MEDIUM] Command run in a container: alice ran a command in pod prod/db"
    )
    assert slack["attachments"][0]["fields"][0] == {
        "title": "rule",
        "value": "pod-exec",
        "short": True,
    }
    assert falco["priority"] == "Warning"
    assert falco["rule"] == "Command run in a container"
    assert falco["source"] == "k8s_audit"
    assert falco["time"] == ALERT["alert_time"]
    assert falco["hostname"] == "collector-0"
    assert falco["output_fields"]["ka.auditid"] == "e1"
    assert falco["tags"] == ["exec-into-container", "T1609"]


def test_a_failing_webhook_is_retried_then_counted(hook: Any) -> None:
    hook.status = 500
    sink = open_sink(f"webhook+{_url(hook)}", print, backoff=0.01)
    sink(ALERT)
    sink.close()
    assert len(hook.got) == 3  # three attempts
    assert (sink.sent, sink.failed) == (0, 1)
    assert "failed (HTTP Error 500" in sink.summary()


def test_a_full_queue_drops_and_counts() -> None:
    with socket.socket() as unused:  # a port nobody listens on: delivery stalls on retries
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    sink = open_sink(f"webhook+http://127.0.0.1:{port}/", print, queue_size=1, backoff=0.2)
    for _ in range(20):
        sink(ALERT)
    sink.close(timeout=5)
    assert sink.dropped >= 15
    assert sink.sent == 0
    assert "dropped (queue full)" in sink.summary()


def test_syslog_udp_and_tcp() -> None:
    got: list[bytes] = []

    class Udp(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            got.append(self.request[0])

    class Tcp(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            data = b""
            while chunk := self.rfile.read(1):
                data += chunk
            got.append(data)

    udp = socketserver.UDPServer(("127.0.0.1", 0), Udp)
    tcp = socketserver.TCPServer(("127.0.0.1", 0), Tcp)
    for server in (udp, tcp):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for spec in (
            f"syslog+udp://127.0.0.1:{udp.server_address[1]}",
            f"syslog+tcp://127.0.0.1:{tcp.server_address[1]}",
        ):
            sink = open_sink(spec, print, hostname="collector-0")
            sink(ALERT)
            sink(ALERT)
            sink.close()
            assert sink.sent == 2
        deadline = threading.Event()
        for _ in range(100):
            if len(got) >= 3:
                break
            deadline.wait(0.05)
    finally:
        for server in (udp, tcp):
            server.shutdown()
            server.server_close()
    message = syslog_message(ALERT, "collector-0")
    # <authpriv(10)*8 + warning(4)>, version 1, time, host, app, no procid, MSGID = rule
    assert message.startswith(
        b"<84>1 2026-11-26T10:15:01+00:00 collector-0 kubetrail - pod-exec - \xef\xbb\xbf"
    )
    assert json.loads(message.split(b"\xef\xbb\xbf", 1)[1]) == ALERT
    assert got[:2] == [message, message]  # one datagram each
    framed = str(len(message)).encode() + b" " + message
    assert got[2] == framed + framed  # octet counting on one connection


@pytest.mark.parametrize(
    "spec",
    ["file:///tmp/x", "webhook+ftp://x/", "syslog+udp://host", "pager+https://x/", "slack"],
)
def test_bad_sinks_are_usage_errors(spec: str) -> None:
    with pytest.raises(UsageError, match="--alert-to"):
        open_sink(spec, print)


def test_live_alerts_fan_out_and_report(hook: Any, tmp_path: Path) -> None:
    lines: list[str] = []
    sinks = [open_sink("stdout", lines.append), open_sink(f"slack+{_url(hook)}", print)]
    rules, _ = load_rules()
    alerts = LiveAlerts(Detector(rules), sinks, clock=lambda: 0.0)
    ingestor = Ingestor(Lake(tmp_path / "lake", create=True), "c", observer=alerts)
    exec_ref = {"resource": "pods", "subresource": "exec", "namespace": "prod", "name": "db"}
    ingestor.add(event("x1", verb="create", objectRef=exec_ref), "t")
    alerts.close()
    (line,) = lines
    assert json.loads(line)["audit_id"] == "x1"
    ((_, slack),) = hook.got
    assert "pod-exec" in json.dumps(slack)
    assert alerts.summary() == "1 alert(s); slack: 1 sent"


def test_cli_follow_alerts_to_a_webhook(hook: Any, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    log = tmp_path / "audit.log"
    exec_ref = {"resource": "pods", "subresource": "exec", "namespace": "prod", "name": "db"}
    log.write_bytes(event("x1", verb="create", objectRef=exec_ref) + b"\n")
    token = tmp_path / "token"
    token.write_text("t0ken\n")
    code = "from kubetrail.cli.follow import follow; follow()"
    sink = f"falcosidekick+{_url(hook)}"
    args = [str(log), "--lake", str(tmp_path / "lake"), "--flush-interval", "0.2", "--detect",
            "--alert-to", sink, "--alert-token-file", str(token)]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while not hook.got and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    assert out == b""  # only the webhook was asked for
    ((headers, body),) = hook.got
    assert headers["Authorization"] == "Bearer t0ken"
    assert body["output_fields"]["ka.auditid"] == "x1"
    assert b"1 alert(s); falcosidekick: 1 sent" in err
