"""kubetrail events against a local HTTP server that speaks the list/watch protocol: paginated
LIST, a chunked WATCH stream with bookmarks, a 410 Gone as an ERROR event and on a LIST, the
events.k8s.io/v1 group absent (core/v1 then), each occurrence stored once."""

from __future__ import annotations

import http.server
import json
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubetrail.cli import main
from kubetrail.lake.engine import DuckDBEngine, records
from kubetrail.lake.store import Lake
from kubetrail.layers.watch import Client, Endpoint, Watcher


def ev(uid: str, count: int, rv: str, reason: str = "BackOff") -> dict[str, Any]:
    return {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {"uid": uid, "name": f"web-1.{uid}", "namespace": "default",
                     "resourceVersion": rv},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-1"},
        "reason": reason, "message": f"{reason} happened", "count": count,
        "lastTimestamp": f"2026-12-03T10:{count:02d}:00Z",
    }  # fmt: skip


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[str] = []
        self.watches = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, doc: object) -> None:
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, lines: list[dict[str, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for doc in lines:
            data = json.dumps(doc).encode() + b"\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        self.server.requests.append(self.path)
        if url.path == "/apis/events.k8s.io/v1":
            self._json(404, {"kind": "Status", "code": 404})  # an old cluster: core/v1 only
        elif url.path == "/api/v1/events" and "watch" not in q:
            rv = q.get("resourceVersion", "")
            if rv == "130":  # too old by the time we relist: a quorum read is needed
                self._json(410, {"kind": "Status", "code": 410, "reason": "Expired"})
            elif rv == "" and not q.get("continue") and self.server.watches:
                self._json(200, {"metadata": {"resourceVersion": "200"},
                                 "items": [ev("e1", 3, "125"), ev("e2", 1, "190")]})  # fmt: skip
            elif not q.get("continue"):
                self._json(200, {"metadata": {"resourceVersion": "100", "continue": "page2"},
                                 "items": [ev("e1", 1, "90")]})  # fmt: skip
            else:
                self._json(200, {"metadata": {"resourceVersion": "100"}, "items": []})
        elif url.path == "/api/v1/events":
            self.server.watches += 1
            if self.server.watches == 1:
                assert q["resourceVersion"] == "100"
                assert q["allowWatchBookmarks"] == "true"
                self._stream([
                    {"type": "ADDED", "object": ev("e1", 1, "90")},  # a replay of the list
                    {"type": "MODIFIED", "object": ev("e1", 3, "125")},  # 2 more, seen at once
                    {"type": "BOOKMARK", "object": {"kind": "Event",
                                                    "metadata": {"resourceVersion": "130"}}},
                    {"type": "ERROR", "object": {"kind": "Status", "code": 410,
                                                 "message": "too old resource version: 130 (150)"}},
                ])  # fmt: skip
            else:
                assert q["resourceVersion"] == "200"
                self._stream([
                    {"type": "MODIFIED", "object": ev("e2", 2, "210")},
                    {"type": "DELETED", "object": ev("e1", 3, "220")},  # the TTL: no occurrence
                ])  # fmt: skip
        else:
            self._json(404, {})


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_list_watch_relist_once_each(server: Server) -> None:
    got: list[dict[str, Any]] = []
    logs: list[str] = []
    client = Client(Endpoint(server=f"http://127.0.0.1:{server.server_address[1]}"))
    watcher = Watcher(client, got.append, log=logs.append)
    watcher.run(rounds=2)
    assert watcher.path == "/api/v1/events"  # events.k8s.io absent: core/v1
    assert [(r["occurrence_key"], r["new_occurrences"]) for r in got] == [
        ("e1:1", 1),  # the list
        ("e1:3", 2),  # a count jump: two repeats seen in aggregate
        ("e2:1", 1),  # the quorum relist after two 410s
        ("e2:2", 1),
    ]
    assert watcher.duplicates == 2  # the watch's replay of e1:1, the relist's e1:3
    assert any("410" in line for line in logs)
    lists = [r for r in server.requests if "watch" not in r and "/api/v1/events" in r]
    assert any("continue=page2" in r for r in lists)  # paginated
    assert any("resourceVersion=130" in r for r in lists)  # relisted at the last RV seen


def test_the_cli_stores_occurrences(server: Server, tmp_path: Path) -> None:
    port = server.server_address[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
        f"clusters: [{{name: local, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "users: [{name: u, user: {token: abc}}]\n"
        "contexts: [{name: test, context: {cluster: local, user: u}}]\n"
    )
    lake = tmp_path / "lake"
    args = ["events", "--kubeconfig", str(kubeconfig), "--lake", str(lake), "--watches", "2"]
    assert main(args) == 0
    engine = DuckDBEngine(Lake(lake))
    try:
        rows = records(engine.query("SELECT occurrence_key FROM k8s_events ORDER BY 1"))
    finally:
        engine.close()
    assert [r["occurrence_key"] for r in rows] == ["e1:1", "e1:3", "e2:1", "e2:2"]


def test_print_rbac(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["events", "--print-rbac"]) == 0
    out = capsys.readouterr().out
    assert "kind: ClusterRole" in out
    assert '"watch"' in out


def test_an_unreachable_api_server_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "current-context: t\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "users: [{name: u, user: {}}]\ncontexts: [{name: t, context: {cluster: c, user: u}}]\n"
    )
    args = ["events", "--kubeconfig", str(kubeconfig), "--lake", str(tmp_path / "lake")]
    assert main(args) == 1
    assert "Connection refused" in capsys.readouterr().err
    assert main(["events", "--lake", str(tmp_path / "lake")]) == 2  # neither source given
