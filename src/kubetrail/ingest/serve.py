"""The kube-apiserver webhook backend's receiver (``kubetrail serve``).

The apiserver POSTs batches of audit events (an ``EventList`` whose items carry no
``kind``/``apiVersion``) to the URL in its ``--audit-webhook-config-file``; any transport error
or non-2xx answer is retried with backoff (factor 1.5, 5 attempts), then the batch is dropped.
So a batch must be durable before ``200`` is answered, and a retried batch must not be stored
twice.

Path of a batch::

    POST → authentication (client certificate against --client-ca and/or bearer token)
         → size and overload checks (413 / 503 + Retry-After) before the body is read
         → body read with a deadline (slow clients time out; one thread per connection)
         → split (EventList, array, single Event or JSON lines) → Ingestor.add per item
           (decode, redact, hash) → staging rows
         → appended to this writer's WAL segment ``_wal/<writer-id>/<seq>.jsonl`` and fsynced
           by the committer thread, which writes every pending append with one fsync
           (group commit)
         → 200 {"accepted": N}

A flusher thread moves WAL segments into Parquet every ``flush_interval`` seconds and on
shutdown: the current segment is closed (a new one is opened on the next append), its rows are
committed (:meth:`Ingestor.commit` drops rows already stored), then the segment is deleted. The
query engine reads the WAL too, so acknowledged events are queryable at once, and at every
moment an event is visible at least once (twice at most, which the ``events`` view hides).

Retries: the digests of the last :data:`RECENT_BATCHES` acknowledged bodies are remembered;
an identical body is answered ``200`` without being written again. After a crash that memory is
gone: a retried batch is written to the new WAL, and the commit's exact-duplicate removal (or,
until then, the ``events`` view) shows it once.

Crash replay — which leftover segments are committed, at start and at every flush:

* segments of a writer on this host whose process is gone (``os.kill(pid, 0)`` fails, or the
  pid is ours under another writer id: a restarted container): at once;
* any other writer's segments (another host sharing the lake, or a pid that is alive but may
  have been reused) once not modified for ``2 × flush_interval``: a live writer closes and
  commits a non-empty segment every interval, so an older one is orphaned.

Two receivers replaying the same orphan at once write it twice physically; the ``events`` view
and compaction remove the copy.

The library never prints nor exits: it logs to the ``kubetrail.serve`` logger.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import hashlib
import http.server
import ipaddress
import json
import logging
import multiprocessing
import os
import re
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import msgspec

from kubetrail.errors import InputError, UsageError
from kubetrail.ingest.pipeline import Clock, Ingestor
from kubetrail.lake.schema import Rows
from kubetrail.lake.store import Lake, fsync_dir
from kubetrail.model.event import Event

__all__ = [
    "DEFAULT_FLUSH_INTERVAL",
    "DEFAULT_LISTEN",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_PENDING",
    "Receiver",
    "ServeConfig",
    "is_loopback",
    "parse_listen",
    "print_webhook_config",
    "serve",
]

log = logging.getLogger("kubetrail.serve")

DEFAULT_LISTEN: Final = "127.0.0.1:8443"
DEFAULT_MAX_BODY: Final = 32 << 20
DEFAULT_FLUSH_INTERVAL: Final = 30.0
DEFAULT_MAX_PENDING: Final = 256 << 20
DEFAULT_READ_TIMEOUT: Final = 30.0
#: Idle keep-alive connections are closed after this long (above Go's 90 s idle timeout, so
#: the apiserver closes first and never sends a POST into a connection being closed).
IDLE_TIMEOUT: Final = 120.0
#: A WAL segment is closed when it reaches this size (bounds a flush's memory).
SEGMENT_BYTES: Final = 128 << 20
#: Acknowledged bodies whose digest is remembered to answer a retry without writing it again.
RECENT_BATCHES: Final = 4096
#: A rejected body is read and discarded up to this size so the client sees the answer.
DRAIN_LIMIT: Final = 64 << 20
MAX_CONNECTIONS: Final = 512

REASONS: Final = (
    "bad_json",
    "wrong_type",
    "not_utf8",
    "empty",
    "no_events",
    "too_large",
    "length_required",
    "unauthenticated",
    "forbidden",
    "overloaded",
    "timeout",
    "tls_handshake",
    "wal_error",
    "shutting_down",
    "too_many_connections",
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ServeConfig(msgspec.Struct, kw_only=True, frozen=True):
    """What ``kubetrail serve`` is told."""

    lake: str
    cluster: str = "default"
    listen: str = DEFAULT_LISTEN
    tls_cert: str | None = None
    tls_key: str | None = None
    client_ca: str | None = None
    token_file: str | None = None
    insecure: bool = False
    max_body: int = DEFAULT_MAX_BODY
    flush_interval: float = DEFAULT_FLUSH_INTERVAL
    max_pending: int = DEFAULT_MAX_PENDING  # bytes of bodies being processed or awaiting fsync
    read_timeout: float = DEFAULT_READ_TIMEOUT  # whole body, and the TLS handshake
    keep_secrets: bool = False
    fsync: bool = True
    segment_bytes: int = SEGMENT_BYTES
    # Commit WAL segments to Parquet in a child process (spawned once), so that decoding a
    # segment does not hold this process's GIL while requests wait; the child uses the wall
    # clock for the files' times. In-process (False) uses ``clock``.
    flush_process: bool = False


# ---------------------------------------------------------------------------------------------
# Configuration checks


def parse_listen(text: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``:port`` (every IPv4 interface) → (host, port)."""
    match = re.fullmatch(r"\[(?P<v6>[^\]]+)\]:(?P<p6>\d+)|(?P<host>[^:\[\]]*):(?P<port>\d+)", text)
    if match is None:
        raise UsageError(f"--listen {text!r}: give HOST:PORT, [IPv6]:PORT or :PORT")
    host = match["v6"] if match["v6"] is not None else match["host"]
    port = int(match["p6"] if match["p6"] is not None else match["port"])
    if port > 65535:
        raise UsageError(f"--listen {text!r}: port {port} is out of range")
    return host, port


def is_loopback(host: str) -> bool:
    """True if ``host`` only ever means this machine (127.0.0.0/8, ::1, localhost)."""
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(
        ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos
    )


def check_config(config: ServeConfig) -> None:
    """Refuse a configuration that would be unsafe or cannot work (raises UsageError)."""
    host, _ = parse_listen(config.listen)
    if config.insecure:
        if not is_loopback(host):
            raise UsageError(
                f"refusing plain HTTP on {config.listen}: --insecure is only allowed on a "
                "loopback address (127.0.0.1, ::1, localhost); elsewhere serve HTTPS with "
                "--tls-cert and --tls-key"
            )
        if config.tls_cert or config.tls_key or config.client_ca:
            raise UsageError("--insecure serves plain HTTP: drop --tls-cert/--tls-key/--client-ca")
    else:
        if not (config.tls_cert and config.tls_key):
            raise UsageError(
                "HTTPS needs --tls-cert and --tls-key (plain HTTP only with --insecure on "
                "a loopback address, for testing)"
            )
        if not (config.client_ca or config.token_file):
            raise UsageError(
                "give --client-ca (the apiserver's client certificate is checked) and/or "
                "--token-file (a bearer token): anyone could write audit events otherwise"
            )
    if config.max_body <= 0:
        raise UsageError("--max-body must be > 0")
    if config.flush_interval <= 0:
        raise UsageError("--flush-interval must be > 0")
    if config.read_timeout <= 0:
        raise UsageError("--read-timeout must be > 0")
    if config.max_pending < config.max_body:
        raise UsageError("--max-pending must be at least --max-body")


def _ssl_context(config: ServeConfig) -> ssl.SSLContext | None:
    if config.insecure:
        return None
    assert config.tls_cert
    assert config.tls_key
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise InputError(f"cannot load the server certificate/key: {exc}") from exc
    if config.client_ca:
        try:
            context.load_verify_locations(cafile=config.client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise InputError(f"cannot load the client CA: {exc}", path=config.client_ca) from exc
        # Optional at the TLS level so that a missing certificate gets an HTTP 401 (and a
        # counter) rather than a failed handshake; an invalid one still fails the handshake.
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def read_token(path: str | None) -> bytes | None:
    """A token file's content (stripped); None without a path; InputError if unreadable or
    empty."""
    if path is None:
        return None
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise InputError(f"cannot read the token: {exc.strerror}", path=path) from exc
    if not token:
        raise InputError("the token file is empty", path=path)
    return token.encode()


def writer_id() -> str:
    """``<hostname>-<pid>-<random>``: unique per process, parseable for crash replay."""
    host = re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname()).lstrip("._-") or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(3)}"


def _writer_gone(name: str) -> bool | None:
    """True if writer ``name``'s process is gone, False if it may live, None if unknowable."""
    parts = name.rsplit("-", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    host, pid = parts[0], int(parts[1])
    if host != writer_id().rsplit("-", 2)[0]:
        return None
    if pid == os.getpid():
        return True  # our pid under another id: an earlier incarnation (container restart)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


# ---------------------------------------------------------------------------------------------
# Metrics


class Metrics:
    """Counters and gauges for ``/metrics`` (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.events = 0
        self.bytes = 0
        self.retried_events = 0  # answered from the recent-digest memory
        self.no_time = 0
        self.redacted = 0
        self.rejected: dict[str, int] = dict.fromkeys(REASONS, 0)
        self.pending_bytes = 0
        self.pending_requests = 0
        self.last_event = 0.0
        self.committed = 0
        self.lake_duplicates = 0
        self.collisions = 0
        self.replayed_segments = 0
        self.damaged_lines = 0
        self.flush_errors = 0

    def reject(self, reason: str) -> None:
        with self.lock:
            self.rejected[reason] = self.rejected.get(reason, 0) + 1


# ---------------------------------------------------------------------------------------------
# The write-ahead log


class WalError(Exception):
    """An append could not be made durable."""


class _Ticket:
    __slots__ = ("data", "done", "error")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.done = threading.Event()
        self.error: BaseException | None = None


class WriteAheadLog:
    """One writer's segments, appended by a committer thread with one fsync per group."""

    def __init__(self, directory: Path, *, fsync: bool = True, segment_bytes: int = SEGMENT_BYTES):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        self.fsyncs = 0
        self.appended_bytes = 0
        self._cond = threading.Condition()
        self._pending: list[_Ticket] = []
        self._stopping = False
        self._file_lock = threading.Lock()
        self._fd: int | None = None
        self._path: Path | None = None
        self._seq = 0
        self._size = 0
        self._first: float = 0.0  # monotonic time of the current segment's first append
        self._closed: list[tuple[Path, float]] = []  # rotated, not yet committed
        self._thread = threading.Thread(target=self._run, name="kubetrail-wal", daemon=True)
        self._thread.start()

    def append(self, data: bytes, timeout: float) -> None:
        """Append ``data`` (whole lines) durably; raises WalError if it could not be."""
        ticket = _Ticket(data)
        with self._cond:
            if self._stopping:
                raise WalError("the write-ahead log is closed")
            self._pending.append(ticket)
            self._cond.notify()
        if not ticket.done.wait(timeout):
            raise WalError(f"no fsync within {timeout:g} s")
        if ticket.error is not None:
            raise WalError(str(ticket.error)) from ticket.error

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if not self._pending:
                    return
                batch, self._pending = self._pending, []
            try:
                with self._file_lock:
                    self._write(b"".join(t.data for t in batch))
            except OSError as exc:
                log.error("write-ahead log: %s", exc)
                for ticket in batch:
                    ticket.error = exc
            for ticket in batch:
                ticket.done.set()

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            self._seq += 1
            self._path = self.directory / f"{self._seq:08d}.jsonl"
            self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._size = 0
            self._first = time.monotonic()
            if self.fsync:
                fsync_dir(self.directory)
        try:
            view = memoryview(data)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            if self.fsync:
                getattr(os, "fdatasync", os.fsync)(self._fd)
                self.fsyncs += 1
        except OSError:
            # The segment may end in a partial line: never append after it.
            self._close_current()
            raise
        self._size += len(data)
        self.appended_bytes += len(data)
        if self._size >= self.segment_bytes:
            self._close_current()

    def _close_current(self) -> None:
        if self._fd is not None and self._path is not None:
            os.close(self._fd)
            self._closed.append((self._path, self._first))
        self._fd = None
        self._path = None

    def rotate(self) -> list[Path]:
        """Close the current segment; return every closed segment not yet committed."""
        with self._file_lock:
            self._close_current()
            return [path for path, _ in self._closed]

    def committed(self, path: Path) -> None:
        """``path`` is in Parquet now: delete it."""
        with self._file_lock:
            self._closed = [(p, t) for p, t in self._closed if p != path]
        path.unlink(missing_ok=True)

    def lag(self) -> float:
        """Seconds since the oldest event not yet in Parquet was appended (0 when none)."""
        with self._file_lock:
            firsts = [t for _, t in self._closed]
            if self._fd is not None:
                firsts.append(self._first)
        return time.monotonic() - min(firsts) if firsts else 0.0

    def segments(self) -> int:
        with self._file_lock:
            return len(self._closed) + (self._fd is not None)

    def close(self) -> None:
        """Write what is pending, stop the committer, close the segment."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join()
        with self._file_lock:
            self._close_current()


# ---------------------------------------------------------------------------------------------
# Bodies


class BadBody(Exception):
    """A body that is refused with 400."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class _Head(msgspec.Struct):
    kind: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    items: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


_decode_head = msgspec.json.Decoder(_Head).decode
_decode_array = msgspec.json.Decoder(list[msgspec.Raw]).decode
_decode_event = msgspec.json.Decoder(Event).decode


def _documents(body: bytes) -> Iterator[tuple[str, bytes]]:
    """(where, JSON text of one event document) for every item of a body."""
    try:
        yield from _document(body, "body")
        return
    except msgspec.DecodeError as exc:
        if "trailing characters" not in str(exc):
            raise BadBody(_reason(exc), f"body: {exc}") from exc
    for n, line in enumerate(body.split(b"\n"), 1):
        if line.strip():
            try:
                yield from _document(line, f"line {n}")
            except msgspec.DecodeError as exc:
                raise BadBody(_reason(exc), f"line {n}: {exc}") from exc


def _reason(exc: msgspec.DecodeError) -> str:
    return "wrong_type" if isinstance(exc, msgspec.ValidationError) else "bad_json"


def _document(doc: bytes, where: str) -> Iterator[tuple[str, bytes]]:
    start = doc.lstrip()[:1]
    if start == b"[":
        items, what = _decode_array(doc), f"{where}: array"
    elif start == b"{":
        head = _decode_head(doc)
        if not head.items:
            if bytes(head.kind) == b'"EventList"':
                raise BadBody("wrong_type", f"{where}: EventList without items")
            yield where, doc
            return
        try:
            items = _decode_array(head.items)
        except msgspec.ValidationError as exc:
            raise BadBody("wrong_type", f"{where}: items must be an array") from exc
        what = f"{where}: item"
    else:
        msgspec.json.decode(doc)  # raises for what is not JSON at all
        raise BadBody(
            "wrong_type",
            f"{where}: expected a JSON object (an EventList or an Event) or JSON lines",
        )
    for i, item in enumerate(items):
        data = bytes(item)
        if data[:1] != b"{":
            raise BadBody("wrong_type", f"{what} {i} is not a JSON object")
        yield f"{what} {i}", data


def decode_body(ingestor: Ingestor, body: bytes, source: str) -> tuple[Rows, int]:
    """(rows, events found) of a POST body; raises BadBody (nothing is kept then)."""
    if not body.strip():
        raise BadBody("empty", "empty body: POST an EventList, an Event or JSON lines")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = f"byte {exc.start} (0x{body[exc.start]:02x})"
        raise BadBody("not_utf8", f"body is not UTF-8: {bad}") from exc
    found = 0
    try:
        for where, data in _documents(body):
            try:
                added = ingestor.add(data, source)
            except msgspec.DecodeError as exc:
                raise BadBody(_reason(exc), f"{where}: {exc}") from exc
            except (ValueError, TypeError) as exc:
                raise BadBody("wrong_type", f"{where}: {exc}") from exc
            if not added:
                # The ingestor skips documents that are no audit event (as in a cloud log);
                # a webhook batch holds nothing else, so say what is wrong with it.
                try:
                    _decode_event(data)
                except msgspec.ValidationError as exc:
                    raise BadBody("wrong_type", f"{where}: {exc}") from exc
                raise BadBody("no_events", f"{where}: not an audit event")
            found += added
    except BaseException:
        ingestor.take_rows()
        raise
    rows = ingestor.take_rows()
    ingestor.flush()  # nothing buffered: only refreshes the ingest time for the next batch
    if not len(rows):
        if found:
            raise BadBody("no_events", f"none of the {found} events has a usable timestamp")
        raise BadBody("no_events", "no audit events in the body")
    return rows, found


# ---------------------------------------------------------------------------------------------
# HTTP


class _Refused(Exception):
    def __init__(self, code: int, reason: str, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.close = close


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubetrail"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.ingestor: Ingestor | None = None

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def do_GET(self) -> None:
        receiver = self.server.receiver
        path = self._path()
        if path == "/healthz":
            self.reply(200, b"ok\n", "text/plain; charset=utf-8")
        elif path == "/metrics":
            self.reply(200, receiver.metrics_text().encode(), "text/plain; version=0.0.4")
        else:
            self.reply(405, _error("POST audit events here"), headers={"Allow": "POST"})

    def do_POST(self) -> None:
        if self._path() in ("/healthz", "/metrics"):
            self.reply(405, _error("GET only"), headers={"Allow": "GET"}, close=True)
            return
        self.server.receiver.handle_post(self)

    def reply(
        self,
        code: int,
        body: bytes,
        content_type: str = "application/json",
        *,
        headers: dict[str, str] | None = None,
        close: bool = False,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)


def _error(message: str) -> bytes:
    return json.dumps({"error": message}).encode() + b"\n"


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], receiver: Receiver, family: int) -> None:
        self.address_family = family
        self.receiver = receiver
        self._connections = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (a DNS lookup at start): skip that.
        if self.address_family == socket.AF_INET6:
            with contextlib.suppress(OSError):
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        http.server.socketserver.TCPServer.server_bind(self)  # type: ignore[attr-defined]
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._connections.acquire(blocking=False):
            self.receiver.metrics.reject("too_many_connections")
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._connections.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()

    def finish_request(self, request: Any, client_address: Any) -> None:
        context = self.receiver.ssl_context
        if context is None:
            _Handler(request, client_address, self)
            return
        # The handshake runs here, in the connection's own thread, with a deadline: a client
        # that connects and says nothing must not hold up the accept loop.
        request.settimeout(self.receiver.config.read_timeout)
        try:
            conn = context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            self.receiver.metrics.reject("tls_handshake")
            log.info("%s: TLS handshake failed: %s", client_address[0], exc)
            return
        try:
            _Handler(conn, client_address, self)
        finally:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_WR)
            conn.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("%s: error while serving a request", client_address[0])


# ---------------------------------------------------------------------------------------------
# The receiver


class Receiver:
    """Receives webhook batches into a lake; see the module docstring.

    ``start()`` binds and starts the threads; ``stop()`` stops accepting, writes what is
    pending and flushes the WAL to Parquet. Usable as a context manager.
    """

    def __init__(
        self,
        config: ServeConfig,
        *,
        clock: Clock = _utc_now,
        observer: Callable[[Event], None] | None = None,
    ) -> None:
        check_config(config)
        self.config = config
        self.clock = clock
        self.observer = observer  # sees every accepted event after redaction (live alerts)
        self.ssl_context = _ssl_context(config)
        self.token = read_token(config.token_file)
        self.lake = Lake(config.lake, create=True)
        # Handlers decode with an Ingestor of their own (one per connection); this one only
        # commits WAL segments, from the flusher thread, under _flush_lock.
        self.committer = Ingestor(
            self.lake, config.cluster, keep_secrets=config.keep_secrets, clock=clock
        )
        self.writer = writer_id()
        self.metrics = Metrics()
        self._recent: collections.OrderedDict[bytes, int] = collections.OrderedDict()
        self._recent_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._stopping = False
        self.wal: WriteAheadLog | None = None
        self._server: _HTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        host, port = parse_listen(self.config.listen)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            self._server = _HTTPServer((host or "0.0.0.0", port), self, family)
        except OSError as exc:
            raise UsageError(f"cannot listen on {self.config.listen}: {exc.strerror}") from exc
        if self.config.flush_process:
            self._pool = _flush_pool()
        self.wal = WriteAheadLog(
            self.lake.root / "_wal" / self.writer,
            fsync=self.config.fsync,
            segment_bytes=self.config.segment_bytes,
        )
        self._threads = [
            threading.Thread(target=self._server.serve_forever, name="kubetrail-http", daemon=True),
            threading.Thread(target=self._flush_loop, name="kubetrail-flush", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        log.info(
            "listening on %s (lake %s, cluster %s, writer %s)",
            self.url,
            self.lake.root,
            self.config.cluster,
            self.writer,
        )

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        scheme = "http" if self.config.insecure else "https"
        shown = f"[{host}]" if ":" in host else host
        return f"{scheme}://{shown}:{port}/"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, let requests in progress finish (up to ``timeout``), flush."""
        if self._server is None or self._stopping:
            return
        self._server.shutdown()
        self._server.server_close()
        deadline = time.monotonic() + timeout
        while self.metrics.pending_requests and time.monotonic() < deadline:
            time.sleep(0.01)
        self._stopping = True
        self._stop.set()
        for thread in self._threads[1:]:
            thread.join()
        assert self.wal is not None
        self.wal.close()
        self.flush()
        if self._pool is not None:
            self._pool.shutdown()
        with contextlib.suppress(OSError):
            self.wal.directory.rmdir()  # empty when every segment reached Parquet
        log.info("stopped: %s events received", f"{self.metrics.events:,}")

    def __enter__(self) -> Receiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- requests ---------------------------------------------------------------------------------

    def handle_post(self, handler: _Handler) -> None:
        metrics = self.metrics
        length: int | None = None
        try:
            length = self._length(handler)
            self._authenticate(handler)
            if length is not None and length > self.config.max_body:
                raise _Refused(
                    413,
                    "too_large",
                    f"body of {length:,} bytes is over the limit of {self.config.max_body:,}",
                )
            if self._stopping:
                raise _Refused(503, "shutting_down", "the receiver is shutting down")
            reserve = self.config.max_body if length is None else length
            with metrics.lock:
                if metrics.pending_bytes + reserve > self.config.max_pending:
                    overloaded = True
                else:
                    overloaded = False
                    metrics.pending_bytes += reserve
                    metrics.pending_requests += 1
            if overloaded:
                raise _Refused(503, "overloaded", "too many batches pending; retry later")
        except _Refused as refused:
            self._refuse(handler, refused, drain=length)
            return
        try:
            self._receive(handler, length)
        except _Refused as refused:
            self._refuse(handler, refused, drain=None)
        finally:
            with metrics.lock:
                metrics.pending_bytes -= reserve
                metrics.pending_requests -= 1

    def _length(self, handler: _Handler) -> int | None:
        """The Content-Length, or None for a chunked body."""
        encoding = handler.headers.get("Transfer-Encoding", "").strip().lower()
        if encoding and encoding != "identity":
            if encoding != "chunked":
                raise _Refused(501, "length_required", f"unsupported Transfer-Encoding {encoding}")
            return None
        text = handler.headers.get("Content-Length")
        if text is None:
            raise _Refused(411, "length_required", "Content-Length is required", close=True)
        if not text.strip().isdigit():
            raise _Refused(400, "length_required", "bad Content-Length", close=True)
        return int(text)

    def _authenticate(self, handler: _Handler) -> None:
        if self.config.client_ca is not None:
            conn = handler.connection
            cert = conn.getpeercert() if isinstance(conn, ssl.SSLSocket) else None
            if not cert:
                raise _Refused(401, "unauthenticated", "a client certificate is required")
        if self.token is not None:
            header = handler.headers.get("Authorization", "")
            scheme, _, given = header.partition(" ")
            if scheme.lower() != "bearer" or not given.strip():
                raise _Refused(401, "unauthenticated", "a bearer token is required")
            if not secrets.compare_digest(given.strip().encode(), self.token):
                raise _Refused(403, "forbidden", "wrong bearer token")

    def _refuse(self, handler: _Handler, refused: _Refused, *, drain: int | None) -> None:
        self.metrics.reject(refused.reason)
        headers: dict[str, str] = {}
        if refused.code == 503:
            headers["Retry-After"] = "1"
        if refused.code == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="kubetrail"'
        log.info("%s: %d %s", handler.client_address[0], refused.code, refused)
        close = refused.close or drain is not None
        with contextlib.suppress(OSError):
            handler.reply(refused.code, _error(str(refused)), headers=headers, close=close)
            if drain is not None and drain <= DRAIN_LIMIT:
                # Read (and discard) the body so that the client, which sends all of it before
                # reading the answer, sees the answer rather than a reset connection.
                self._discard(handler, drain)

    def _discard(self, handler: _Handler, length: int) -> None:
        deadline = time.monotonic() + self.config.read_timeout
        buf = bytearray(min(length, 1 << 20))
        view = memoryview(buf)
        left = length
        while left > 0 and time.monotonic() < deadline:
            handler.connection.settimeout(max(0.01, deadline - time.monotonic()))
            n = handler.rfile.readinto1(view[: min(left, len(buf))])
            if not n:
                return
            left -= n

    def _read_body(self, handler: _Handler, length: int | None) -> bytes:
        deadline = time.monotonic() + self.config.read_timeout
        try:
            if length is None:
                return self._read_chunked(handler, deadline)
            buf = bytearray(length)
            view = memoryview(buf)
            got = 0
            while got < length:
                self._settimeout(handler, deadline)
                n = handler.rfile.readinto1(view[got:])
                if not n:
                    raise _Refused(400, "empty", "the body ended early", close=True)
                got += n
            return bytes(buf)
        except TimeoutError as exc:
            raise _Refused(
                408,
                "timeout",
                f"body not received within {self.config.read_timeout:g} s",
                close=True,
            ) from exc
        finally:
            handler.connection.settimeout(IDLE_TIMEOUT)

    def _settimeout(self, handler: _Handler, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        handler.connection.settimeout(left)

    def _read_chunked(self, handler: _Handler, deadline: float) -> bytes:
        out = bytearray()
        while True:
            self._settimeout(handler, deadline)
            line = handler.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise _Refused(400, "bad_json", "bad chunked encoding", close=True) from exc
            if size == 0:
                while True:  # trailers, up to the empty line
                    self._settimeout(handler, deadline)
                    if handler.rfile.readline(1024) in (b"\r\n", b"\n", b""):
                        return bytes(out)
            if len(out) + size > self.config.max_body:
                raise _Refused(
                    413,
                    "too_large",
                    f"body over the limit of {self.config.max_body:,} bytes",
                    close=True,
                )
            while size:
                self._settimeout(handler, deadline)
                chunk = handler.rfile.read1(size)
                if not chunk:
                    raise _Refused(400, "empty", "the body ended early", close=True)
                out += chunk
                size -= len(chunk)
            self._settimeout(handler, deadline)
            handler.rfile.readline(1024)

    def _receive(self, handler: _Handler, length: int | None) -> None:
        metrics = self.metrics
        body = self._read_body(handler, length)
        digest = hashlib.blake2b(body, digest_size=16).digest()
        with self._recent_lock:
            known = self._recent.get(digest)
        if known is not None:
            with metrics.lock:
                metrics.requests += 1
                metrics.retried_events += known
            handler.reply(200, json.dumps({"accepted": known, "duplicate": True}).encode())
            return
        if handler.ingestor is None:
            handler.ingestor = Ingestor(
                self.lake,
                self.config.cluster,
                keep_secrets=self.config.keep_secrets,
                clock=self.clock,
                observer=self.observer,
            )
        ingestor = handler.ingestor
        redacted = ingestor.stats.redacted_events
        try:
            rows, found = decode_body(ingestor, body, f"webhook:{handler.client_address[0]}")
        except BadBody as bad:
            raise _Refused(400, bad.reason, str(bad)) from bad
        assert self.wal is not None
        try:
            self.wal.append(b"\n".join(rows.json_rows()) + b"\n", self.config.read_timeout)
        except WalError as exc:
            raise _Refused(503, "wal_error", f"could not store the batch: {exc}") from exc
        accepted = len(rows)
        with self._recent_lock:
            self._recent[digest] = accepted
            if len(self._recent) > RECENT_BATCHES:
                self._recent.popitem(last=False)
        with metrics.lock:
            metrics.requests += 1
            metrics.events += accepted
            metrics.bytes += len(body)
            metrics.no_time += found - accepted
            metrics.redacted += ingestor.stats.redacted_events - redacted
            metrics.last_event = time.time()
        answer: dict[str, int] = {"accepted": accepted}
        if found > accepted:
            answer["skipped_without_time"] = found - accepted
        handler.reply(200, json.dumps(answer).encode())

    # -- flushing ---------------------------------------------------------------------------------

    def _flush_loop(self) -> None:
        self._replay()
        while not self._stop.wait(self.config.flush_interval):
            self.flush()
            self._replay()

    def flush(self) -> int:
        """Move this writer's closed and current WAL segments into Parquet; rows committed."""
        if self.wal is None:
            return 0
        with self._flush_lock:
            total = 0
            for path in self.wal.rotate():
                try:
                    total += self._commit_segment(path)
                except Exception:
                    self.metrics.flush_errors += 1
                    log.exception("flushing %s failed; it stays in the WAL", path)
                    break
                self.wal.committed(path)
            return total

    def _replay(self) -> None:
        """Commit leftover segments of writers that are gone (rule: the module docstring)."""
        with self._flush_lock:
            segments = events = 0
            for path in self._leftovers():
                try:
                    events += self._commit_segment(path)
                except Exception:
                    self.metrics.flush_errors += 1
                    log.exception("replaying %s failed; it stays in the WAL", path)
                    continue
                path.unlink(missing_ok=True)
                segments += 1
                self.metrics.replayed_segments += 1  # counted before the directory goes
                with contextlib.suppress(OSError):
                    path.parent.rmdir()  # the last one: the gone writer's directory
            if segments:
                log.info("replayed %d WAL segments of gone writers (%d rows)", segments, events)

    def _leftovers(self) -> list[Path]:
        wal = self.lake.root / "_wal"
        stale = time.time() - 2 * self.config.flush_interval
        out: list[Path] = []
        for directory in sorted(p for p in wal.iterdir() if p.is_dir()):
            if directory.name == self.writer:
                continue
            gone = _writer_gone(directory.name)
            files = sorted(directory.glob("*.jsonl"))
            if not files and gone is not False:
                with contextlib.suppress(OSError):
                    directory.rmdir()
            for path in files:
                try:
                    mtime = path.stat().st_mtime
                except FileNotFoundError:
                    continue
                if gone or mtime < stale:
                    out.append(path)
        return out

    def _commit_segment(self, path: Path) -> int:
        if self._pool is not None:
            try:
                written, duplicates, collisions, damaged = self._pool.submit(
                    commit_segment_file, str(self.lake.root), str(path)
                ).result()
            except concurrent.futures.process.BrokenProcessPool:
                self._pool = _flush_pool()  # the child died (OOM killer...): a new one next time
                raise
        else:
            written, duplicates, collisions, damaged = _commit_segment(self.committer, path)
        with self.metrics.lock:
            self.metrics.committed += written
            self.metrics.lake_duplicates += duplicates
            self.metrics.collisions += collisions
            self.metrics.damaged_lines += damaged
        return written

    # -- metrics ---------------------------------------------------------------------------------

    def metrics_text(self) -> str:
        """Prometheus text exposition format."""
        m = self.metrics
        wal = self.wal
        with m.lock:
            rejected = dict(m.rejected)
            values: list[tuple[str, str, str, float | dict[str, float]]] = [
                ("received_requests_total", "counter", "Batches accepted (200).", m.requests),
                ("received_events_total", "counter", "Events accepted into the WAL.", m.events),
                ("received_bytes_total", "counter", "Bytes of accepted bodies.", m.bytes),
                (
                    "rejected_requests_total",
                    "counter",
                    "Requests refused, by reason.",
                    {k: float(v) for k, v in rejected.items()},
                ),
                (
                    "duplicate_events_total",
                    "counter",
                    "Exact duplicates not stored again: a retried batch, or rows already in "
                    "the lake at commit.",
                    {"retry": float(m.retried_events), "lake": float(m.lake_duplicates)},
                ),
                (
                    "id_collisions_total",
                    "counter",
                    "Same audit ID and stage with different content, seen at commit.",
                    m.collisions,
                ),
                ("redacted_events_total", "counter", "Events with secrets redacted.", m.redacted),
                (
                    "events_without_time_total",
                    "counter",
                    "Events skipped: no usable timestamp.",
                    m.no_time,
                ),
                ("committed_events_total", "counter", "Rows written to Parquet.", m.committed),
                (
                    "replayed_segments_total",
                    "counter",
                    "WAL segments of gone writers committed.",
                    m.replayed_segments,
                ),
                (
                    "damaged_wal_lines_total",
                    "counter",
                    "WAL lines unreadable at flush.",
                    m.damaged_lines,
                ),
                ("flush_errors_total", "counter", "Failed WAL flushes.", m.flush_errors),
                (
                    "wal_fsyncs_total",
                    "counter",
                    "fsync calls of the WAL.",
                    wal.fsyncs if wal else 0,
                ),
                (
                    "wal_lag_seconds",
                    "gauge",
                    "Age of the oldest event not yet in Parquet.",
                    wal.lag() if wal else 0.0,
                ),
                (
                    "wal_segments",
                    "gauge",
                    "This writer's WAL segments.",
                    wal.segments() if wal else 0,
                ),
                ("pending_requests", "gauge", "Requests being processed.", m.pending_requests),
                ("pending_bytes", "gauge", "Bytes of bodies being processed.", m.pending_bytes),
                (
                    "last_event_timestamp_seconds",
                    "gauge",
                    "Unix time of the last accepted batch (0: none yet).",
                    m.last_event,
                ),
            ]
        cluster = _label(self.config.cluster)
        out = []
        for name, kind, help_text, value in values:
            full = f"kubetrail_serve_{name}"
            out.append(f"# HELP {full} {help_text}")
            out.append(f"# TYPE {full} {kind}")
            if isinstance(value, dict):
                label = "reason" if name.startswith("rejected") else "where"
                for key, v in value.items():
                    out.append(f'{full}{{cluster="{cluster}",{label}="{key}"}} {_num(v)}')
            else:
                out.append(f'{full}{{cluster="{cluster}"}} {_num(value)}')
        return "\n".join(out) + "\n"


def _flush_pool() -> concurrent.futures.ProcessPoolExecutor:
    # spawn, not fork: forking a process with running threads can copy a held lock.
    return concurrent.futures.ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_watch_parent,
        initargs=(os.getpid(),),
    )


def _watch_parent(parent: int) -> None:
    """In the flush process: exit when the receiver is gone (killed with -9, say)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="kubetrail-watch-parent", daemon=True).start()


def read_segment(path: Path) -> tuple[Rows, int]:
    """The rows of a WAL segment and how many lines were damaged (a crash can leave a partial
    last line, which was never acknowledged). A missing segment (replayed by another receiver)
    has no rows."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Rows(), 0
    lines = [line for line in data.split(b"\n") if line.strip()]
    try:
        return Rows.from_json_lines(lines), 0
    except msgspec.DecodeError:
        pass
    rows, damaged = Rows(), 0
    for line in lines:
        try:
            rows.extend(Rows.from_json_lines([line]))
        except msgspec.DecodeError:
            damaged += 1
    return rows, damaged


def _commit_segment(committer: Ingestor, path: Path) -> tuple[int, int, int, int]:
    rows, damaged = read_segment(path)
    stats = committer.stats
    before = (stats.written, stats.duplicates, stats.collisions)
    committer.commit(rows)
    return (
        stats.written - before[0],
        stats.duplicates - before[1],
        stats.collisions - before[2],
        damaged,
    )


def commit_segment_file(root: str, path: str) -> tuple[int, int, int, int]:
    """Commit one WAL segment into the lake at ``root`` (run in the flush process):
    (rows written, exact duplicates dropped, ID collisions, damaged lines)."""
    committer = Ingestor(Lake(root), "default", keep_secrets=True)  # rows carry their cluster
    return _commit_segment(committer, Path(path))


def _label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.6f}"


def serve(
    config: ServeConfig,
    stop: threading.Event,
    *,
    clock: Clock = _utc_now,
    ready: Callable[[Receiver], None] | None = None,
    observer: Callable[[Event], None] | None = None,
) -> Receiver:
    """Run a receiver until ``stop`` is set, then stop it (flushing); returns it."""
    receiver = Receiver(config, clock=clock, observer=observer)
    receiver.start()
    try:
        if ready is not None:
            ready(receiver)
        while not stop.wait(0.5):  # a timed wait lets the main thread run signal handlers
            pass
    finally:
        receiver.stop()
    return receiver


# ---------------------------------------------------------------------------------------------
# The apiserver's side


def print_webhook_config(
    url: str,
    ca_file: str | None,
    *,
    client_cert_file: str | None = None,
    client_key_file: str | None = None,
    token_file: str | None = None,
    max_body: int = DEFAULT_MAX_BODY,
) -> str:
    """The ``--audit-webhook-config-file`` kubeconfig for this receiver, as ``deploy`` writes
    it, preceded by comments giving the kube-apiserver flags (truncation keeps every batch
    under ``max_body``, the receiver's 413 limit)."""
    from kubetrail.deploy.kubeadm import Options, WebhookOptions, _webhook_kubeconfig

    if not url.startswith("https://"):
        raise UsageError(f"--url must be https:// (the apiserver's webhook), got {url!r}")
    if bool(client_cert_file) != bool(client_key_file):
        raise UsageError("give both the client certificate and its key, or neither")
    margin = 64 << 10  # the EventList wrapper and separators around the events
    defaults = WebhookOptions(url=url)
    max_batch = min(defaults.max_batch_bytes, max_body - margin)
    if max_batch <= 0:
        raise UsageError(f"--max-body {max_body} is too small for an apiserver batch")
    hook = WebhookOptions(
        url=url,
        ca_file=ca_file,
        client_cert_file=client_cert_file,
        client_key_file=client_key_file,
        token_file=token_file,
        max_batch_bytes=max_batch,
        max_event_bytes=min(defaults.max_event_bytes, max_batch),
    )
    flags = Options(webhook=hook).audit_flags()
    lines = [
        "# kube-apiserver flags for this receiver (as deploy kubeadm --webhook-url sets them):",
        *(
            f"#   --{name}={value}"
            for name, value in flags.items()
            if name.startswith("audit-webhook")
        ),
        "# The receiver answers 413 over "
        f"{max_body:,} bytes; truncation keeps batches under {max_batch:,}.",
    ]
    config = _webhook_kubeconfig(hook).decode()
    return "\n".join(lines) + "\n" + config
