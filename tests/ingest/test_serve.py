"""``kubetrail serve``: the webhook receiver, over real sockets (HTTPS, mTLS, bearer tokens).

Certificates are made by the ``openssl`` command. Events come from the sample generator; the
EventLists are built as the apiserver builds them (items without ``kind``/``apiVersion``). The
reliability test runs the receiver as a subprocess, kills it with SIGKILL mid-stream and
restarts it, while a client that behaves like the apiserver's webhook backend (batches of up
to 400, 5 attempts with backoff ×1.5) keeps sending.
"""

from __future__ import annotations

import collections
import http.client
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetrail.errors import UsageError
from kubetrail.ingest.pipeline import Ingestor
from kubetrail.ingest.serve import (
    Receiver,
    ServeConfig,
    is_loopback,
    parse_listen,
    print_webhook_config,
)
from kubetrail.lake.engine import DuckDBEngine
from kubetrail.lake.store import Lake
from kubetrail.sample.generate import generate

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_HEAD = b'{"kind":"Event","apiVersion":"audit.k8s.io/v1",'

# ---------------------------------------------------------------------------------------------
# Fixtures and helpers


class Certs:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.ca = root / "ca.crt"
        self.server_cert = root / "server.crt"
        self.server_key = root / "server.key"
        self.client_cert = root / "client.crt"
        self.client_key = root / "client.key"
        self.rogue_cert = root / "rogue-client.crt"
        self.rogue_key = root / "rogue-client.key"


def _openssl(*args: str | Path, cwd: Path) -> None:
    subprocess.run(
        ["openssl", *map(str, args)], cwd=cwd, check=True, capture_output=True, timeout=60
    )


def _issue(root: Path, name: str, ca: str, subject: str, ext: str) -> None:
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
             f"{name}.csr", "-subj", subject, cwd=root)  # fmt: skip
    (root / f"{name}.ext").write_text(ext)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-days", "2", "-out", f"{name}.crt", "-extfile", f"{name}.ext",
             cwd=root)  # fmt: skip


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    root = tmp_path_factory.mktemp("certs")
    for ca in ("ca", "rogue-ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key",
                 "-out", f"{ca}.crt", "-days", "2", "-subj", f"/CN={ca}", cwd=root)  # fmt: skip
    _issue(root, "server", "ca", "/CN=localhost",
           "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")  # fmt: skip
    _issue(root, "client", "ca", "/CN=kube-apiserver", "extendedKeyUsage=clientAuth\n")
    _issue(root, "rogue-client", "rogue-ca", "/CN=mallory", "extendedKeyUsage=clientAuth\n")
    return Certs(root)


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    """~3,900 events of a 2-node cluster (JSON lines, unique audit ID + stage)."""
    return list(generate(nodes=2, seconds=60, seed=1, start=START))


def item(line: bytes) -> bytes:
    """An EventList item as the apiserver sends it: no kind/apiVersion."""
    return b"{" + line[len(_HEAD) :] if line.startswith(_HEAD) else line


def eventlist(batch: list[bytes]) -> bytes:
    return (
        b'{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":['
        + b",".join(item(x) for x in batch)
        + b"]}"
    )


def ids(batch: list[bytes]) -> set[tuple[str, str]]:
    out = set()
    for line in batch:
        doc = json.loads(line)
        out.add((doc["auditID"], doc["stage"]))
    return out


def client_context(certs: Certs, *, cert: bool = True, rogue: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certs.ca))
    if rogue:
        context.load_cert_chain(str(certs.rogue_cert), str(certs.rogue_key))
    elif cert:
        context.load_cert_chain(str(certs.client_cert), str(certs.client_key))
    return context


_OPEN: list[Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


class Client:
    """One keep-alive connection to a receiver (closed at the end of the test)."""

    def __init__(
        self, receiver: Receiver, context: ssl.SSLContext | None, token: str | None = None
    ) -> None:
        host, port = receiver.address
        self.conn: http.client.HTTPConnection
        if context is None:
            self.conn = http.client.HTTPConnection(host, port, timeout=30)
        else:
            self.conn = http.client.HTTPSConnection(host, port, timeout=30, context=context)
        self.token = token
        _OPEN.append(self)

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if self.token is not None:
            hdrs["Authorization"] = f"Bearer {self.token}"
        self.conn.request("POST", "/", body, hdrs)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.getheader("Connection", "").lower() == "close":
            self.conn.close()
        try:
            return resp.status, json.loads(data)
        except ValueError:
            return resp.status, data

    def get(self, path: str) -> tuple[int, str]:
        self.conn.request("GET", path)
        resp = self.conn.getresponse()
        return resp.status, resp.read().decode()

    def close(self) -> None:
        self.conn.close()


def post_once(
    receiver: Receiver, context: ssl.SSLContext | None, body: bytes, token: str | None = None
) -> tuple[int, Any]:
    client = Client(receiver, context, token)
    try:
        return client.post(body)
    finally:
        client.close()


StartFn = Callable[..., Receiver]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[StartFn]:
    """Start receivers on ephemeral ports (lake in tmp_path/lake); stopped at teardown."""
    started: list[Receiver] = []

    def run(**kw: Any) -> Receiver:
        kw.setdefault("lake", str(tmp_path / "lake"))
        kw.setdefault("listen", "127.0.0.1:0")
        kw.setdefault("flush_interval", 600.0)
        receiver = Receiver(ServeConfig(**kw))
        receiver.start()
        started.append(receiver)
        return receiver

    yield run
    for receiver in started:
        receiver.stop()


def count(root: Path | str, sql: str = "SELECT count(*) FROM events") -> int:
    engine = DuckDBEngine(Lake(root))
    try:
        return int(engine.query(sql).rows[0][0])
    finally:
        engine.close()


def stored_ids(root: Path | str) -> collections.Counter[tuple[str, str]]:
    engine = DuckDBEngine(Lake(root))
    try:
        rows = engine.query("SELECT audit_id, stage FROM events").rows
    finally:
        engine.close()
    return collections.Counter((str(a), str(s)) for a, s in rows)


def metric(receiver: Receiver, name: str, label: str | None = None) -> float:
    for line in receiver.metrics_text().splitlines():
        if line.startswith(f"kubetrail_serve_{name}{{") and (label is None or label in line):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {name} {label or ''}")


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text("s3cr3t-token-0123456789\n")
    return path


# ---------------------------------------------------------------------------------------------
# Happy paths


def test_mtls_eventlists_queryable_from_wal_then_parquet(
    start: StartFn, certs: Certs, lines: list[bytes], tmp_path: Path
) -> None:
    receiver = start(
        tls_cert=str(certs.server_cert),
        tls_key=str(certs.server_key),
        client_ca=str(certs.ca),
    )
    client = Client(receiver, client_context(certs))
    batches = [lines[i : i + 400] for i in range(0, 1200, 400)]
    for batch in batches:
        status, answer = client.post(eventlist(batch))
        assert status == 200, answer
        assert answer == {"accepted": 400}
    lake = tmp_path / "lake"
    # Acknowledged = in the WAL, fsynced, and queryable before any Parquet exists.
    assert Lake(lake).data_files() == []
    assert Lake(lake).wal_files()
    assert count(lake) == 1200
    assert set(stored_ids(lake)) == ids(lines[:1200])
    assert receiver.flush() == 1200
    assert Lake(lake).wal_files() == []
    assert Lake(lake).data_files()
    assert count(lake) == 1200
    assert count(lake, "SELECT count(*) FROM raw_events") == 1200
    assert set(stored_ids(lake)) == ids(lines[:1200])
    assert metric(receiver, "received_events_total") == 1200
    assert metric(receiver, "committed_events_total") == 1200
    assert metric(receiver, "wal_lag_seconds") == 0
    client.close()


def test_json_lines_single_event_and_array(
    start: StartFn, lines: list[bytes], tmp_path: Path
) -> None:
    receiver = start(insecure=True)
    client = Client(receiver, None)
    assert client.post(b"\n".join(lines[:50]) + b"\n") == (200, {"accepted": 50})
    assert client.post(lines[50]) == (200, {"accepted": 1})
    assert client.post(b"[" + b",".join(lines[51:60]) + b"]") == (200, {"accepted": 9})
    pretty = json.dumps(json.loads(eventlist(lines[60:70])), indent=2).encode()
    assert client.post(pretty) == (200, {"accepted": 10})
    chunked = eventlist(lines[70:80])
    client.conn.putrequest("POST", "/")
    client.conn.putheader("Transfer-Encoding", "chunked")
    client.conn.endheaders()
    for i in range(0, len(chunked), 1000):
        part = chunked[i : i + 1000]
        client.conn.send(b"%x\r\n%s\r\n" % (len(part), part))
    client.conn.send(b"0\r\n\r\n")
    resp = client.conn.getresponse()
    assert (resp.status, json.loads(resp.read())) == (200, {"accepted": 10})
    assert count(tmp_path / "lake") == 80
    assert client.get("/healthz") == (200, "ok\n")
    client.close()


def test_secrets_are_redacted_before_the_wal(
    start: StartFn, lines: list[bytes], tmp_path: Path
) -> None:
    receiver = start(insecure=True)
    secret = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse",
        "auditID": "5e0b7e9c-0000-4000-8000-000000000001",
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/default/secrets",
        "verb": "create",
        "user": {"username": "alice"},
        "objectRef": {"resource": "secrets", "namespace": "default", "name": "db"},
        "requestObject": {"kind": "Secret", "apiVersion": "v1", "data": {"pw": "aHVudGVyMg=="}},
        "requestReceivedTimestamp": "2026-03-01T12:00:00.000000Z",
        "stageTimestamp": "2026-03-01T12:00:00.010000Z",
    }
    client = Client(receiver, None)
    assert client.post(json.dumps(secret).encode())[0] == 200
    for path in Lake(tmp_path / "lake").wal_files():
        assert b"aHVudGVyMg==" not in path.read_bytes()
    assert metric(receiver, "redacted_events_total") == 1
    client.close()


# ---------------------------------------------------------------------------------------------
# Authentication


def test_token_auth(start: StartFn, certs: Certs, token_file: Path, lines: list[bytes]) -> None:
    receiver = start(
        tls_cert=str(certs.server_cert), tls_key=str(certs.server_key), token_file=str(token_file)
    )
    context = client_context(certs, cert=False)
    body = eventlist(lines[:10])
    assert post_once(receiver, context, body)[0] == 401
    assert post_once(receiver, context, body, token="wrong")[0] == 403
    assert post_once(receiver, context, body, token="s3cr3t-token-0123456789x")[0] == 403
    assert post_once(receiver, context, body, token="s3cr3t-token-0123456789") == (
        200,
        {"accepted": 10},
    )
    assert metric(receiver, "rejected_requests_total", 'reason="unauthenticated"') == 1
    assert metric(receiver, "rejected_requests_total", 'reason="forbidden"') == 2


def test_mtls_auth(start: StartFn, certs: Certs, lines: list[bytes]) -> None:
    receiver = start(
        tls_cert=str(certs.server_cert), tls_key=str(certs.server_key), client_ca=str(certs.ca)
    )
    body = eventlist(lines[:10])
    status, answer = post_once(receiver, client_context(certs, cert=False), body)
    assert status == 401, answer
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
        post_once(receiver, client_context(certs, rogue=True), body)
    assert post_once(receiver, client_context(certs), body)[0] == 200
    assert metric(receiver, "rejected_requests_total", 'reason="unauthenticated"') == 1
    assert metric(receiver, "rejected_requests_total", 'reason="tls_handshake"') == 1


def test_mtls_and_token_both_required(
    start: StartFn, certs: Certs, token_file: Path, lines: list[bytes]
) -> None:
    receiver = start(
        tls_cert=str(certs.server_cert),
        tls_key=str(certs.server_key),
        client_ca=str(certs.ca),
        token_file=str(token_file),
    )
    body = eventlist(lines[:5])
    assert post_once(receiver, client_context(certs), body)[0] == 401
    token = "s3cr3t-token-0123456789"
    assert post_once(receiver, client_context(certs, cert=False), body, token=token)[0] == 401
    assert post_once(receiver, client_context(certs), body, token=token)[0] == 200


def test_unsafe_configurations_are_refused(tmp_path: Path, certs: Certs) -> None:
    lake = str(tmp_path / "lake")
    with pytest.raises(UsageError, match="loopback"):
        Receiver(ServeConfig(lake=lake, insecure=True, listen="0.0.0.0:0"))
    with pytest.raises(UsageError, match="loopback"):
        Receiver(ServeConfig(lake=lake, insecure=True, listen=":8443"))
    with pytest.raises(UsageError, match="--tls-cert"):
        Receiver(ServeConfig(lake=lake, listen="0.0.0.0:0"))
    with pytest.raises(UsageError, match="--client-ca"):
        Receiver(
            ServeConfig(lake=lake, tls_cert=str(certs.server_cert), tls_key=str(certs.server_key))
        )
    assert parse_listen("[::1]:8443") == ("::1", 8443)
    assert parse_listen(":8443") == ("", 8443)
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert not is_loopback("")
    assert not is_loopback("10.1.2.3")


# ---------------------------------------------------------------------------------------------
# Bad input


BAD_BODIES = [
    ("malformed", b'{"kind":"EventList","items":[{"auditID": }]}', "bad_json"),
    ("truncated", b'{"kind":"EventList","items":[', "bad_json"),
    ("items-not-array", b'{"kind":"EventList","items":"abc"}', "wrong_type"),
    ("item-not-object", b'{"kind":"EventList","items":[1]}', "wrong_type"),
    ("field-type", b'{"auditID":"x","stage":5,"verb":"get"}', "wrong_type"),
    ("scalar", b"42", "wrong_type"),
    ("not-utf8", b'{"auditID":"\xff\xfe","stage":"ResponseComplete"}', "not_utf8"),
    ("empty", b"", "empty"),
    ("blank", b" \n ", "empty"),
    ("no-items", b'{"kind":"EventList","items":[]}', "no_events"),
    ("not-an-event", b'{"hello":"world"}', "no_events"),
    ("bad-json-line", b'{"auditID":"a","stage":"ResponseComplete"}\n{oops}\n', "bad_json"),
]


@pytest.mark.parametrize(("name", "body", "reason"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_bodies_get_400_and_a_counter(
    start: StartFn, lines: list[bytes], tmp_path: Path, name: str, body: bytes, reason: str
) -> None:
    receiver = start(insecure=True)
    client = Client(receiver, None)
    status, answer = client.post(body)
    assert status == 400, answer
    assert answer["error"]
    assert metric(receiver, "rejected_requests_total", f'reason="{reason}"') == 1
    # Nothing half-decoded leaks into the next batch, and the connection keeps serving.
    assert client.post(eventlist(lines[:3])) == (200, {"accepted": 3})
    assert count(tmp_path / "lake") == 3


def test_body_over_the_limit_gets_413_without_being_stored(
    start: StartFn, certs: Certs, token_file: Path, lines: list[bytes], tmp_path: Path
) -> None:
    receiver = start(
        tls_cert=str(certs.server_cert),
        tls_key=str(certs.server_key),
        token_file=str(token_file),
        max_body=1 << 20,
        max_pending=4 << 20,
    )
    big = eventlist(lines[:1000])  # ~1.9 MB of real events
    huge = (
        b'{"auditID":"x","stage":"ResponseComplete","requestObject":"' + b"a" * (20 << 20) + b'"}'
    )
    token = "s3cr3t-token-0123456789"
    client = Client(receiver, client_context(certs, cert=False), token=token)
    status, answer = client.post(huge)
    assert status == 413, answer
    status, answer = post_once(receiver, client_context(certs, cert=False), big, token=token)
    assert status == 413
    assert metric(receiver, "rejected_requests_total", 'reason="too_large"') == 2
    # The server keeps serving.
    ok = Client(receiver, client_context(certs, cert=False), token=token)
    assert ok.post(eventlist(lines[:100])) == (200, {"accepted": 100})
    assert count(tmp_path / "lake") == 100


def test_slow_client_times_out_without_blocking_others(
    start: StartFn, certs: Certs, token_file: Path, lines: list[bytes]
) -> None:
    receiver = start(
        tls_cert=str(certs.server_cert),
        tls_key=str(certs.server_key),
        token_file=str(token_file),
        read_timeout=1.0,
    )
    host, port = receiver.address
    token = "s3cr3t-token-0123456789"
    # 1: connects and never starts the TLS handshake.
    silent = socket.create_connection((host, port))
    # 2: sends headers and a tenth of the body, then stalls.
    slow = client_context(certs, cert=False).wrap_socket(
        socket.create_connection((host, port)), server_hostname="localhost"
    )
    slow.sendall(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer "
        + token.encode()
        + b"\r\nContent-Length: 1000\r\n\r\n"
        + b"{" * 100
    )
    began = time.monotonic()
    client = Client(receiver, client_context(certs, cert=False), token=token)
    for i in range(5):
        assert client.post(eventlist(lines[i * 10 : i * 10 + 10]))[0] == 200
    assert time.monotonic() - began < 1.0  # served while the slow ones hang
    slow.settimeout(5)
    answer = slow.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - began >= 0.9
    silent.settimeout(5)
    assert silent.recv(100) == b""  # closed after the handshake deadline
    assert metric(receiver, "rejected_requests_total", 'reason="timeout"') == 1
    assert metric(receiver, "rejected_requests_total", 'reason="tls_handshake"') == 1
    slow.close()
    silent.close()


def test_overload_gets_503_with_retry_after(start: StartFn, lines: list[bytes]) -> None:
    receiver = start(insecure=True, max_body=1 << 20, max_pending=1 << 20, read_timeout=5.0)
    host, port = receiver.address
    holder = socket.create_connection((host, port))
    holder.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 900000\r\n\r\n{")
    deadline = time.monotonic() + 5
    while metric(receiver, "pending_bytes") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("POST", "/", eventlist(lines[:100]))
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 503
    assert resp.getheader("Retry-After") == "1"
    assert metric(receiver, "rejected_requests_total", 'reason="overloaded"') == 1
    holder.close()
    deadline = time.monotonic() + 5
    while metric(receiver, "pending_bytes") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert post_once(receiver, None, eventlist(lines[:100])) == (200, {"accepted": 100})


# ---------------------------------------------------------------------------------------------
# Retries, crash replay


def test_retried_batch_is_stored_once(start: StartFn, lines: list[bytes], tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    first = start(insecure=True)
    body = eventlist(lines[:400])
    client = Client(first, None)
    assert client.post(body) == (200, {"accepted": 400})
    assert client.post(body) == (200, {"accepted": 400, "duplicate": True})
    assert count(lake) == 400
    assert count(lake, "SELECT count(*) FROM raw_events") == 400
    assert metric(first, "duplicate_events_total", 'where="retry"') == 400
    first.stop()
    # After a restart the memory of recent batches is gone: the retry reaches the new WAL,
    # the view shows it once, and the flush does not write it to Parquet again.
    second = start(insecure=True)
    assert post_once(second, None, body) == (200, {"accepted": 400})
    assert count(lake) == 400
    assert count(lake, "SELECT count(*) FROM raw_events") == 800
    second.flush()
    assert count(lake) == 400
    assert count(lake, "SELECT count(*) FROM raw_events") == 400
    assert metric(second, "duplicate_events_total", 'where="lake"') == 400


def _gone_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_leftover_segments_are_replayed(lines: list[bytes], tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    lake = Lake(lake_dir, create=True)
    ingestor = Ingestor(lake, "default")
    for line in lines[:300]:
        ingestor.add(line, "test")
    wal_lines = ingestor.take_rows().json_rows()
    host = socket.gethostname()
    dead = lake_dir / "_wal" / f"{host}-{_gone_pid()}-aaaaaa"
    dead.mkdir(parents=True)
    # A killed writer: an fsynced batch, then a partial line it never acknowledged.
    (dead / "00000001.jsonl").write_bytes(b"\n".join(wal_lines[:100]) + b"\n" + wal_lines[100][:50])
    (dead / "00000002.jsonl").write_bytes(b"\n".join(wal_lines[100:200]) + b"\n")
    fresh = lake_dir / "_wal" / "otherhost-1-bbbbbb"  # another host: left alone while fresh
    fresh.mkdir()
    (fresh / "00000001.jsonl").write_bytes(b"\n".join(wal_lines[200:250]) + b"\n")
    stale = lake_dir / "_wal" / "otherhost-2-cccccc"  # another host, untouched for long
    stale.mkdir()
    (stale / "00000001.jsonl").write_bytes(b"\n".join(wal_lines[250:300]) + b"\n")
    old = time.time() - 3600
    os.utime(stale / "00000001.jsonl", (old, old))
    # The WAL is queryable. (The engine reads the partial line as a row of NULLs: filtered
    # here; the replay below removes it.)
    assert count(lake_dir, "SELECT count(*) FROM events WHERE event_hash IS NOT NULL") == 300

    receiver = Receiver(ServeConfig(lake=str(lake_dir), insecure=True, listen="127.0.0.1:0",
                                    flush_interval=60))  # fmt: skip
    receiver.start()
    try:
        deadline = time.monotonic() + 20
        while (dead.exists() or stale.exists()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not dead.exists()
        assert not stale.exists()
        assert (fresh / "00000001.jsonl").exists()
        assert metric(receiver, "replayed_segments_total") == 3
        assert metric(receiver, "damaged_wal_lines_total") == 1
    finally:
        receiver.stop()
    assert count(lake_dir) == 300
    assert count(lake_dir, "SELECT count(*) FROM raw_events") == 300
    assert [p.parent.name for p in Lake(lake_dir).wal_files()] == ["otherhost-1-bbbbbb"]


# ---------------------------------------------------------------------------------------------
# The apiserver's configuration


def test_print_webhook_config(certs: Certs, token_file: Path) -> None:
    text = print_webhook_config(
        "https://kubetrail.example:8443/",
        str(certs.ca),
        client_cert_file=str(certs.client_cert),
        client_key_file=str(certs.client_key),
        token_file=str(token_file),
    )
    assert "--audit-webhook-truncate-enabled=true" in text
    assert "--audit-webhook-truncate-max-batch-size=10485760" in text
    config = yaml.safe_load(text)
    assert config["clusters"][0]["cluster"]["server"] == "https://kubetrail.example:8443/"
    assert config["clusters"][0]["cluster"]["certificate-authority-data"]
    user = config["users"][0]["user"]
    assert user["token"] == "s3cr3t-token-0123456789"
    assert user["client-certificate-data"]
    small = print_webhook_config("https://x:1/", None, max_body=1 << 20)
    assert f"--audit-webhook-truncate-max-batch-size={(1 << 20) - (64 << 10)}" in small
    with pytest.raises(UsageError):
        print_webhook_config("http://x:1/", None)


def test_cli_print_webhook_config(certs: Certs) -> None:
    from click.testing import CliRunner

    from kubetrail.cli.serve import serve

    result = CliRunner().invoke(
        serve,
        ["--print-webhook-config", "--url", "https://10.0.0.5:8443/",
         "--tls-cert", str(certs.server_cert)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.output)["current-context"] == "kubetrail"


# ---------------------------------------------------------------------------------------------
# The CLI as a process; the reliability test


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_SERVER = "import sys; from kubetrail.cli.serve import serve; sys.exit(serve())"


def _spawn(lake: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    # stdout and stderr go to files: a pipe would stay open in the receiver's flush process
    # for a moment after a kill -9.
    logs = lake.parent / "logs"
    logs.mkdir(exist_ok=True)
    n = len(list(logs.iterdir()))
    with open(logs / f"{n}.out", "wb") as out, open(logs / f"{n}.err", "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER, "--lake", str(lake), "--insecure",
             "--listen", f"127.0.0.1:{port}", *extra],
            stdout=out,
            stderr=err,
        )  # fmt: skip
    proc.logs = (logs / f"{n}.out", logs / f"{n}.err")  # type: ignore[attr-defined]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert proc.poll() is None, logs.joinpath(f"{n}.err").read_text()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    raise AssertionError("the receiver did not start")


def test_cli_serve_flushes_on_sigterm(lines: list[bytes], tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    port = _free_port()
    proc = _spawn(lake, port, "--flush-interval", "600")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/", eventlist(lines[:400]))
    assert conn.getresponse().status == 200
    conn.close()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    out, err = (path.read_bytes() for path in proc.logs)  # type: ignore[attr-defined]
    assert proc.returncode == 0, err
    assert out == b""  # events are never printed
    assert b"listening on http://127.0.0.1" in err
    assert Lake(lake).wal_files() == []
    assert count(lake, "SELECT count(*) FROM raw_events") == 400


class WebhookClient:
    """Behaves like the apiserver's webhook backend: one POST per batch, every error (transport
    or non-2xx) retried with backoff ×1.5 and +0–20 % jitter, at most 5 attempts, then the
    batch is dropped. The initial backoff is shortened from 10 s to 0.05 s."""

    def __init__(self, port: int, rng: random.Random) -> None:
        self.port = port
        self.rng = rng
        self.acked: list[list[bytes]] = []
        self.dropped: list[list[bytes]] = []
        self.attempts = 0

    def send(self, batch: list[bytes]) -> None:
        body = eventlist(batch)
        wait = 0.05
        for attempt in range(5):
            self.attempts += 1
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("POST", "/", body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                conn.close()
                if 200 <= resp.status < 300:
                    self.acked.append(batch)
                    return
            except (OSError, http.client.HTTPException):
                conn.close()
            if attempt < 4:
                time.sleep(wait * (1 + 0.2 * self.rng.random()))
                wait *= 1.5
        self.dropped.append(batch)


@pytest.mark.slow
def test_kill_9_mid_stream_every_acknowledged_batch_once(tmp_path: Path) -> None:
    rng = random.Random(7)
    events = list(generate(nodes=2, seconds=600, seed=3, start=START))  # ~39k events
    batches: list[list[bytes]] = []
    i = 0
    while i < len(events):
        size = rng.randint(1, 400)
        batches.append(events[i : i + size])
        i += size
    lake = tmp_path / "lake"
    port = _free_port()
    args = ("--flush-interval", "0.3")
    proc = _spawn(lake, port, *args)
    clients = [WebhookClient(port, random.Random(n)) for n in range(2)]
    queue = list(reversed(batches))
    lock = threading.Lock()

    def sender(client: WebhookClient) -> None:
        while True:
            with lock:
                if not queue:
                    return
                batch = queue.pop()
            client.send(batch)

    threads = [threading.Thread(target=sender, args=(c,)) for c in clients]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    kills = 0
    for _ in range(5):
        time.sleep(rng.uniform(0.2, 0.7))
        if not queue:
            break
        proc.kill()  # SIGKILL: no flush, no goodbye
        proc.wait()
        kills += 1
        proc = _spawn(lake, port, *args)
    for thread in threads:
        thread.join(timeout=60)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert proc.returncode == 0, proc.logs[1].read_text()  # type: ignore[attr-defined]
    elapsed = time.monotonic() - began

    acked = [b for c in clients for b in c.acked]
    dropped = [b for c in clients for b in c.dropped]
    assert kills >= 1
    assert acked
    stored = stored_ids(lake)
    expected: set[tuple[str, str]] = set()
    for batch in acked:
        expected |= ids(batch)
    missing = expected - set(stored)
    assert not missing, f"{len(missing)} acknowledged events are missing"
    twice = {k: n for k, n in stored.items() if n > 1}
    assert not twice, f"{len(twice)} events are in the events view more than once"
    every = ids(events)
    assert set(stored) <= every
    assert Lake(lake).wal_files() == []  # everything replayed and flushed
    raw = count(lake, "SELECT count(*) FROM raw_events")
    print(
        f"\n{len(acked)} batches acknowledged, {len(dropped)} dropped after 5 attempts, "
        f"{kills} kills, {sum(c.attempts for c in clients)} POSTs, {len(stored)} events stored, "
        f"{raw - len(stored)} physical duplicates, {elapsed:.1f} s"
    )
    assert elapsed < 30
