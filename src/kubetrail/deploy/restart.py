"""``deploy kubeadm --apply``: the restart that works.

kube-apiserver reads its policy only at start, and the kubelet restarts a static pod only when
its manifest changes or disappears. The dance, with every wait bounded:

1. move the manifest out of the manifests directory (the kubelet stops the API server);
2. wait until the API server stops answering (it is gone);
3. move the new manifest in (through a dot-file, renamed into place);
4. wait until the API server is healthy: ``/livez`` answers 200 — or 401/403, which means it
   is serving and only refuses an anonymous caller.

If step 4 times out, the previous manifest is put back the same way, and kubetrail reports
what it saw and exits non-zero.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import ssl
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import msgspec

from kubetrail.deploy.kubeadm import replace_manifest
from kubetrail.errors import DeployError

DEFAULT_LIVEZ_URL: Final = "https://127.0.0.1:6443/livez"
DEFAULT_CA: Final = "/etc/kubernetes/pki/ca.crt"


class Probe(msgspec.Struct, frozen=True):
    """One look at the health endpoint."""

    state: str  # "down" (no answer), "serving" (200, 401, 403) or "unhealthy" (other codes)
    detail: str


class Health:
    """Probes ``/livez`` over TLS with the cluster CA, optionally with a client certificate."""

    def __init__(
        self,
        url: str = DEFAULT_LIVEZ_URL,
        *,
        ca_file: str | None = DEFAULT_CA,
        client_cert: tuple[str, str] | None = None,
        timeout: float = 5.0,
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "https" or not parsed.hostname:
            raise DeployError(f"--livez-url must be an https:// URL, got {url!r}")
        self.url = url
        self._host = parsed.hostname
        self._port = parsed.port or 443
        self._path = (parsed.path or "/livez") + (f"?{parsed.query}" if parsed.query else "")
        self._timeout = timeout
        context = ssl.create_default_context(cafile=ca_file) if ca_file else None
        if context is None:
            context = ssl.create_default_context()
        if client_cert is not None:
            context.load_cert_chain(*client_cert)
        self._context = context

    def _connect(self, host: str) -> ssl.SSLSocket:
        # The TLS socket is made *before* the TCP connect and then connected. Wrapping an already
        # connected socket (what ``socket.create_connection`` + ``wrap_socket`` and http.client
        # do) leaks: if the peer resets the connection in between, CPython 3.11's
        # ``SSLSocket._create`` raises after detaching the raw socket and never closes the one it
        # made (ssl.py: ``getpeername`` -> ENOTCONN, then ``recv(1)`` -> ECONNRESET). Made first,
        # the socket is ours in a ``with`` block whatever the connect or handshake does.
        error: OSError = OSError(f"{host}: no address")
        for family, kind, proto, _, address in socket.getaddrinfo(
            host, self._port, type=socket.SOCK_STREAM
        ):
            tls = self._context.wrap_socket(
                socket.socket(family, kind, proto), server_hostname=host
            )
            try:
                tls.settimeout(self._timeout)
                tls.connect(address)
            except OSError as exc:
                tls.close()
                error = exc
                continue
            return tls
        raise error

    def probe(self) -> Probe:
        # Every path (refused, a failed handshake, a server that goes away mid-answer) closes
        # the socket at once: it is opened in a ``with`` block (see ``_connect``).
        host = self._host or "localhost"
        try:
            with self._connect(host) as tls:
                conn = http.client.HTTPSConnection(host, self._port, timeout=self._timeout)
                conn.sock = tls
                conn.request("GET", self._path)
                with conn.getresponse() as response:
                    body = response.read(200).decode("utf-8", "replace").strip()
                    code = response.status
        except (OSError, http.client.HTTPException) as exc:
            return Probe("down", f"{type(exc).__name__}: {exc}")
        if code == 200 or code in (401, 403):
            return Probe("serving", f"HTTP {code}")
        return Probe("unhealthy", f"HTTP {code}: {body[:120]}")


@contextlib.contextmanager
def client_cert_from_kubeconfig(path: str) -> Iterator[tuple[str, str]]:
    """The client certificate and key of a kubeconfig's current user (admin.conf), as files."""
    import base64

    import yaml

    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise DeployError(f"{path}: cannot read the kubeconfig: {exc}") from exc
    users = {u.get("name"): u.get("user") or {} for u in (doc or {}).get("users") or []}
    contexts = {c.get("name"): c.get("context") or {} for c in (doc or {}).get("contexts") or []}
    current = contexts.get((doc or {}).get("current-context"), {})
    user = users.get(current.get("user")) or (next(iter(users.values())) if users else {})
    with tempfile.TemporaryDirectory(prefix="kubetrail-") as tmp:
        paths = []
        for key in ("client-certificate", "client-key"):
            if user.get(f"{key}-data"):
                target = os.path.join(tmp, key)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(base64.b64decode(user[f"{key}-data"]))
                paths.append(target)
            elif user.get(key):
                paths.append(str(user[key]))
            else:
                raise DeployError(f"{path}: the current user has no {key}")
        yield paths[0], paths[1]


class Waits(msgspec.Struct, frozen=True):
    """Bounds of the dance (seconds)."""

    gone_timeout: float = 120.0
    healthy_timeout: float = 180.0
    interval: float = 2.0


class Step(msgspec.Struct, frozen=True):
    """One thing the dance did or saw, for the report."""

    at: float  # seconds since the start
    what: str


def _wait(
    health: Health,
    want: Callable[[Probe], bool],
    timeout: float,
    interval: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> tuple[bool, Probe]:
    deadline = clock() + timeout
    while True:
        probe = health.probe()
        if want(probe):
            return True, probe
        if clock() >= deadline:
            return False, probe
        sleep(interval)


def _move(src: str, dst: str) -> None:
    try:
        os.replace(src, dst)
    except OSError:
        # A different file system: copy, then remove (the kubelet ignores neither path).
        shutil.copy2(src, dst)
        os.unlink(src)


def restart(
    manifest_path: str,
    old_text: str,
    new_text: str,
    *,
    parking_dir: str,
    health: Health,
    waits: Waits | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_rollback: Callable[[], None] | None = None,
) -> list[Step]:
    """Restart the API server onto ``new_text``; restore ``old_text`` if it does not come up.

    Raises :class:`DeployError` (after restoring) when the new manifest does not become
    healthy in time; the message lists what was seen. ``on_rollback`` runs before the
    previous manifest goes back (to restore the files installed with the new one).
    """
    waits = waits or Waits()
    start = clock()
    steps: list[Step] = []

    def note(what: str) -> None:
        steps.append(Step(round(clock() - start, 3), what))

    def swap(text: str, expected: str, label: str) -> tuple[bool, Probe]:
        os.makedirs(parking_dir, mode=0o700, exist_ok=True)
        parked = os.path.join(parking_dir, f"{os.path.basename(manifest_path)}.parked")
        if Path(manifest_path).read_text(encoding="utf-8") != expected:
            raise DeployError(f"{manifest_path}: changed on disk meanwhile; not touched")
        _move(manifest_path, parked)
        note(f"moved {manifest_path} out of the manifests directory")
        gone, probe = _wait(
            health, lambda p: p.state == "down", waits.gone_timeout, waits.interval, clock, sleep
        )
        if not gone:
            # The kubelet did not stop it: moving the new manifest in now would make the old
            # process look like a healthy new one. Put the manifest back and stop.
            replace_manifest(manifest_path, None, expected)
            os.unlink(parked)
            if on_rollback is not None:
                on_rollback()
            raise DeployError(
                f"the API server still answered {waits.gone_timeout:g}s after its manifest was "
                f"moved out ({probe.detail}); is the kubelet running? The manifest and files "
                "are back as they were"
            )
        note("the API server stopped")
        replace_manifest(manifest_path, None, text)
        os.unlink(parked)
        note(f"moved the {label} manifest in")
        return _wait(
            health,
            lambda p: p.state == "serving",
            waits.healthy_timeout,
            waits.interval,
            clock,
            sleep,
        )

    healthy, probe = swap(new_text, old_text, "new")
    if healthy:
        note(f"healthy: {health.url} answered {probe.detail}")
        return steps
    note(f"not healthy after {waits.healthy_timeout:g}s: last {probe.state}, {probe.detail}")
    if on_rollback is not None:
        on_rollback()  # e.g. the previous policy file back in place
        note("restored the previous policy and files")
    restored, back = swap(old_text, new_text, "previous")
    note(
        f"restored the previous manifest; {'healthy' if restored else 'still not healthy'}: "
        f"{back.detail}"
    )
    seen = "\n".join(f"  +{s.at:>7.1f}s {s.what}" for s in steps)
    raise DeployError(f"the API server did not become healthy with the new manifest:\n{seen}")
