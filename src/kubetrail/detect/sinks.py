"""Where live alerts go: stdout, a webhook (plain JSON, Slack, falcosidekick) or syslog.

A sink is named by one ``--alert-to`` value:

========================================  ==================================================
``stdout``                                one JSON line per alert (the default)
``webhook+https://host/path``             POST of the alert as JSON
``slack+https://hooks.slack.com/...``     POST of a Slack incoming-webhook message
                                          (``text``, and an attachment coloured by level)
``falcosidekick+http://host:2801/``       POST of a Falco alert (``output``, ``priority``,
                                          ``rule``, ``time``, ``output_fields``, ``source``,
                                          ``tags``): falcosidekick fans it out further
``syslog+udp://host:514``                 RFC 5424 messages, one datagram each
``syslog+tcp://host:601``                 the same over TCP, octet-counted (RFC 6587)
========================================  ==================================================

Network sinks never hold up the path that takes events in: alerts go into a bounded queue
(``queue`` alerts) that one thread per sink delivers, a POST retried up to three times with
backoff. An alert that finds the queue full, or that every attempt failed to deliver, is
counted in :attr:`Sink.dropped` / :attr:`Sink.failed` and the count is reported at the end —
never silently lost. The syslog message's severity follows the Sigma level, its facility is
``authpriv`` (10), its app name ``kubetrail`` and its MSGID the rule name.
"""

from __future__ import annotations

import json
import queue
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

from kubetrail.errors import UsageError

__all__ = [
    "FALCO_PRIORITY",
    "SYSLOG_SEVERITY",
    "Sink",
    "falcosidekick_payload",
    "open_sink",
    "slack_payload",
    "syslog_message",
]

FALCO_PRIORITY: Final = {
    "critical": "Critical",
    "high": "Error",
    "medium": "Warning",
    "low": "Notice",
    "informational": "Informational",
}
SYSLOG_SEVERITY: Final = {"critical": 2, "high": 3, "medium": 4, "low": 5, "informational": 6}
_AUTHPRIV: Final = 10
_SLACK_COLOUR: Final = {
    "critical": "#7b1fa2",
    "high": "#d32f2f",
    "medium": "#f57c00",
    "low": "#fbc02d",
    "informational": "#9e9e9e",
}
Alert = dict[str, Any]


def _headline(alert: Alert) -> str:
    return f"[{str(alert.get('level', '')).upper()}] {alert.get('title') or alert.get('rule')}"


def slack_payload(alert: Alert) -> dict[str, Any]:
    """A Slack incoming-webhook message for one alert."""
    fields = [
        {"title": "rule", "value": str(alert.get("rule")), "short": True},
        {"title": "cluster", "value": str(alert.get("cluster") or "-"), "short": True},
        {"title": "techniques", "value": ", ".join(alert.get("techniques") or ()) or "-"},
        {"title": "auditID", "value": str(alert.get("audit_id") or "-"), "short": True},
    ]
    return {
        "text": f"{_headline(alert)}: {alert.get('sentence', '')}",
        "attachments": [
            {
                "color": _SLACK_COLOUR.get(str(alert.get("level")), "#9e9e9e"),
                "fields": fields,
                "footer": "kubetrail",
            }
        ],
    }


def falcosidekick_payload(alert: Alert, hostname: str) -> dict[str, Any]:
    """The alert in the shape Falco posts to falcosidekick."""
    fields = {
        "ka.auditid": alert.get("audit_id"),
        "ka.user.name": alert.get("user"),
        "kubetrail.cluster": alert.get("cluster"),
        "kubetrail.rule_id": alert.get("rule_id"),
        "kubetrail.received": alert.get("received_at"),
    }
    return {
        "output": f"{alert.get('alert_time', '')} {_headline(alert)}: {alert.get('sentence', '')}",
        "priority": FALCO_PRIORITY.get(str(alert.get("level")), "Notice"),
        "rule": alert.get("title") or alert.get("rule"),
        "time": alert.get("alert_time"),
        "output_fields": {k: v for k, v in fields.items() if v is not None},
        "source": "k8s_audit",
        "tags": [*(alert.get("techniques") or ()), *(alert.get("attack") or ())],
        "hostname": hostname,
    }


def syslog_message(alert: Alert, hostname: str) -> bytes:
    """One RFC 5424 message: header, no structured data, the alert as JSON text."""
    pri = _AUTHPRIV * 8 + SYSLOG_SEVERITY.get(str(alert.get("level")), 5)
    stamp = str(alert.get("alert_time") or datetime.now(UTC).isoformat())
    msgid = str(alert.get("rule") or "-")[:32].replace(" ", "_") or "-"
    body = json.dumps(alert, ensure_ascii=False, separators=(",", ":"))
    # BOM: the MSG is UTF-8 (RFC 5424 section 6.4).
    header = f"<{pri}>1 {stamp} {hostname[:255] or '-'} kubetrail - {msgid} - "
    return header.encode() + b"\xef\xbb\xbf" + body.encode()


class Sink:
    """Delivers alerts; network sinks from a thread of their own (see the module doc)."""

    def __init__(
        self,
        name: str,
        deliver: Callable[[Alert], None],
        *,
        threaded: bool,
        queue_size: int = 1000,
        retries: int = 3,
        backoff: float = 0.5,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self._on_close = on_close
        self._deliver = deliver
        self.sent = 0
        self.dropped = 0  # queue full
        self.failed = 0  # every attempt failed
        self.last_error = ""
        self._retries = retries
        self._backoff = backoff
        self._queue: queue.Queue[Alert | None] | None = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._queue = queue.Queue(maxsize=queue_size)
            self._thread = threading.Thread(target=self._run, name=f"sink {name}", daemon=True)
            self._thread.start()

    def __call__(self, alert: Alert) -> None:
        if self._queue is None:
            self._send(alert)
            return
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self.dropped += 1

    def _send(self, alert: Alert) -> None:
        for attempt in range(self._retries):
            try:
                self._deliver(alert)
                self.sent += 1
                return
            except (OSError, urllib.error.URLError, ValueError) as exc:
                self.last_error = str(exc)
                if attempt + 1 < self._retries:
                    time.sleep(self._backoff * 2**attempt)
        self.failed += 1

    def _run(self) -> None:
        assert self._queue is not None
        while True:
            alert = self._queue.get()
            if alert is None:
                return
            self._send(alert)

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (waiting at most ``timeout`` seconds), then stop."""
        if self._queue is not None and self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
        if self._on_close is not None:
            self._on_close()

    def summary(self) -> str:
        text = f"{self.name}: {self.sent} sent"
        if self.dropped:
            text += f", {self.dropped} dropped (queue full)"
        if self.failed:
            text += f", {self.failed} failed ({self.last_error})"
        return text


def _post(url: str, headers: dict[str, str], context: ssl.SSLContext | None) -> Any:
    def post(payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        request = urllib.request.Request(
            url, data=data, headers={"Content-Type": "application/json", **headers}
        )
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            response.read()

    return post


def open_sink(
    spec: str,
    write: Callable[[str], None],
    *,
    hostname: str | None = None,
    token: str | None = None,
    ca_file: str | None = None,
    queue_size: int = 1000,
    backoff: float = 0.5,
) -> Sink:
    """The sink an ``--alert-to`` value names; ``write`` takes stdout's lines. ``token`` is
    sent as a bearer token to webhooks; ``ca_file`` verifies their HTTPS certificates."""
    host = hostname or socket.gethostname()
    if spec == "stdout":
        return Sink(
            "stdout",
            lambda a: write(json.dumps(a, ensure_ascii=False)),
            threaded=False,
            retries=1,
        )
    kind, plus, target = spec.partition("+")
    url = urlsplit(target)
    if not plus or not url.scheme:
        raise UsageError(
            f"--alert-to {spec!r}: give stdout, webhook+URL, slack+URL, falcosidekick+URL, "
            "syslog+udp://HOST:PORT or syslog+tcp://HOST:PORT"
        )
    if kind in ("webhook", "slack", "falcosidekick"):
        if url.scheme not in ("http", "https") or not url.hostname:
            raise UsageError(f"--alert-to {spec!r}: the URL must be http(s)://HOST/...")
        context = ssl.create_default_context(cafile=ca_file) if url.scheme == "https" else None
        post = _post(target, {"Authorization": f"Bearer {token}"} if token else {}, context)
        shape: Callable[[Alert], dict[str, Any]] = {
            "webhook": lambda a: a,
            "slack": slack_payload,
            "falcosidekick": lambda a: falcosidekick_payload(a, host),
        }[kind]
        return Sink(
            kind,
            lambda a: post(shape(a)),
            threaded=True,
            queue_size=queue_size,
            backoff=backoff,
        )
    if kind == "syslog" and url.scheme in ("udp", "tcp"):
        if not url.hostname or not url.port:
            raise UsageError(f"--alert-to {spec!r}: give syslog+{url.scheme}://HOST:PORT")
        address = (url.hostname, url.port)
        if url.scheme == "udp":

            def datagram(alert: Alert) -> None:
                family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
                with socket.socket(family, socket.SOCK_DGRAM) as sock:
                    sock.sendto(syslog_message(alert, host), address)

            return Sink("syslog", datagram, threaded=True, queue_size=queue_size, backoff=backoff)
        stream = _Stream(address)

        def framed(alert: Alert) -> None:
            message = syslog_message(alert, host)
            stream.send(str(len(message)).encode() + b" " + message)

        return Sink(
            "syslog",
            framed,
            threaded=True,
            queue_size=queue_size,
            backoff=backoff,
            on_close=stream.close,
        )
    raise UsageError(f"--alert-to {spec!r}: unknown sink {kind!r}")


class _Stream:
    """One TCP connection, reopened after a failure (used from the sink's one thread)."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self.sock: socket.socket | None = None

    def send(self, data: bytes) -> None:
        try:
            if self.sock is None:
                self.sock = socket.create_connection(self.address, timeout=5)
            self.sock.sendall(data)
        except OSError:
            if self.sock is not None:
                self.sock.close()
            self.sock = None
            raise

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
