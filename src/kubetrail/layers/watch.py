"""``kubetrail events``: watch Kubernetes Events and keep every occurrence — ``layers-spec.md``
§3.4 — so that Events outlive the API server's one-hour TTL.

List-then-watch (client-go's reflector): LIST every namespace's Events (paginated), WATCH from
the list's resourceVersion with bookmarks, and on ``410 Gone`` (an ERROR event with a Status
of code 410, or an HTTP 410) LIST again at the last resourceVersion seen, then with a quorum
read (``resourceVersion=""``) if that is gone too. events.k8s.io/v1 is watched, core/v1 only
where that group is absent: both serve the same stored objects, so watching both would
double everything. An object is an occurrence when its count rose above the last count seen
for its UID (``new_occurrences`` says by how much: a jump is repeats seen only in aggregate);
replays, resyncs and relists are duplicates.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator
from http.client import HTTPConnection, HTTPResponse, HTTPSConnection
from pathlib import Path
from typing import Any, Final

import msgspec

from kubetrail.errors import InputError, KubetrailError
from kubetrail.layers.events import normalise

RBAC: Final = """\
# What `kubetrail events` needs: read and watch Events in every namespace, and read the
# events.k8s.io group's discovery document (allowed to every authenticated user by default).
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: kubetrail-events-reader
rules:
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["list", "watch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: kubetrail-events-reader
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: kubetrail-events-reader
subjects:
- kind: ServiceAccount
  name: kubetrail
  namespace: kubetrail
"""
_SA: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class Gone(KubetrailError):
    """The resourceVersion is too old (410): list again."""


class Endpoint(msgspec.Struct, frozen=True, kw_only=True):
    server: str
    token: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False


def _data_file(data: str, suffix: str) -> str:
    fd, path = tempfile.mkstemp(prefix="kubetrail-", suffix=suffix)
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.b64decode(data))
    return path


def from_kubeconfig(path: str, context: str | None = None) -> Endpoint:
    """The API server and credentials of a kubeconfig's (current) context."""
    import yaml

    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read the kubeconfig: {exc}", path=path) from exc
    name = context or doc.get("current-context")
    ctx = next((c["context"] for c in doc.get("contexts") or [] if c.get("name") == name), None)
    if ctx is None:
        raise InputError(f"no context {name!r} in the kubeconfig", path=path)
    cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == ctx["cluster"])
    users = doc.get("users") or []
    user: dict[str, Any] = next((u["user"] for u in users if u["name"] == ctx.get("user")), {})
    token = user.get("token")
    if user.get("tokenFile"):
        token = Path(user["tokenFile"]).read_text().strip()
    ca = cluster.get("certificate-authority")
    if cluster.get("certificate-authority-data"):
        ca = _data_file(cluster["certificate-authority-data"], ".crt")
    cert, key = user.get("client-certificate"), user.get("client-key")
    if user.get("client-certificate-data"):
        cert = _data_file(user["client-certificate-data"], ".crt")
    if user.get("client-key-data"):
        key = _data_file(user["client-key-data"], ".key")
    return Endpoint(
        server=cluster["server"].rstrip("/"),
        token=token,
        ca_file=ca,
        cert_file=cert,
        key_file=key,
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
    )


def in_cluster() -> Endpoint:
    host, port = (
        os.environ.get("KUBERNETES_SERVICE_HOST"),
        os.environ.get("KUBERNETES_SERVICE_PORT"),
    )
    if not host or not port:
        raise InputError("--in-cluster: KUBERNETES_SERVICE_HOST/PORT are not set (not in a pod)")
    host = f"[{host}]" if ":" in host else host
    return Endpoint(
        server=f"https://{host}:{port}",
        token=(_SA / "token").read_text().strip(),
        ca_file=str(_SA / "ca.crt"),
    )


class Client:
    """GET requests to one API server (HTTPS with its CA and credentials, or plain HTTP)."""

    def __init__(self, endpoint: Endpoint, *, timeout: float = 330.0) -> None:
        self.endpoint = endpoint
        url = urllib.parse.urlsplit(endpoint.server)
        self.https = url.scheme == "https"
        self.host = url.hostname or "localhost"
        self.port = url.port or (443 if self.https else 80)
        self.timeout = timeout
        self.context: ssl.SSLContext | None = None
        if self.https:
            context = ssl.create_default_context(cafile=endpoint.ca_file)
            if endpoint.insecure:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if endpoint.cert_file and endpoint.key_file:
                context.load_cert_chain(endpoint.cert_file, endpoint.key_file)
            self.context = context

    def get(
        self, path: str, params: dict[str, str] | None = None
    ) -> tuple[HTTPConnection, HTTPResponse]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        conn: HTTPConnection
        if self.https:
            conn = HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self.context)
        else:
            conn = HTTPConnection(self.host, self.port, timeout=self.timeout)
        headers = {"Accept": "application/json", "User-Agent": "kubetrail-events"}
        if self.endpoint.token:
            headers["Authorization"] = f"Bearer {self.endpoint.token}"
        try:
            conn.request("GET", path + query, headers=headers)
            return conn, conn.getresponse()
        except OSError:
            conn.close()
            raise

    def json(self, path: str, params: dict[str, str] | None = None) -> Any:
        conn, response = self.get(path, params)
        try:
            body = response.read()
        finally:
            conn.close()
        if response.status == 410:
            raise Gone(f"{path}: 410 Gone")
        if response.status != 200:
            raise InputError(f"GET {path}: HTTP {response.status}: {body[:200]!r}")
        return json.loads(body)


class Watcher:
    """List-then-watch of Events; ``emit`` gets each new occurrence's record."""

    def __init__(
        self,
        client: Client,
        emit: Callable[[dict[str, Any]], None],
        *,
        log: Callable[[str], None] = lambda _: None,
        page: int = 500,
        timeout_seconds: int = 300,
    ) -> None:
        self.client = client
        self.emit = emit
        self.log = log
        self.page = page
        self.timeout_seconds = timeout_seconds
        self.counts: dict[str, int] = {}  # last count seen per Event UID
        self.resource_version = ""
        self.path = ""
        self.duplicates = 0

    def discover(self) -> str:
        """events.k8s.io/v1 where the group is served, else core/v1."""
        try:
            self.client.json("/apis/events.k8s.io/v1")
            self.path = "/apis/events.k8s.io/v1/events"
        except (InputError, Gone):
            self.path = "/api/v1/events"
        return self.path

    def _seen(self, obj: Any) -> None:
        try:
            record = normalise(obj)
        except Exception:  # not an Event: nothing to keep
            return
        uid, count = record["uid"], int(record["count"])
        previous = self.counts.get(uid, 0)
        if count <= previous:
            self.duplicates += 1
            return
        self.counts[uid] = count
        self.emit({**record, "new_occurrences": count - previous})

    def list(self) -> None:
        """LIST every page at the last resourceVersion (or a quorum read when it is gone)."""
        for rv in dict.fromkeys([self.resource_version, ""]):
            params = {"limit": str(self.page)}
            if rv:
                params["resourceVersion"] = rv
            try:
                items: list[Any] = []
                while True:
                    doc = self.client.json(self.path, params)
                    items += doc.get("items") or []
                    token = (doc.get("metadata") or {}).get("continue")
                    if not token:
                        break
                    params = {"limit": str(self.page), "continue": token}
            except Gone:
                self.log(f"list at resourceVersion {rv!r}: 410 Gone; a quorum read next")
                continue
            for item in items:
                self._seen(item)
            self.resource_version = str((doc.get("metadata") or {}).get("resourceVersion") or "")
            return
        raise Gone("LIST with a quorum read answered 410")

    def watch(self) -> None:
        """One WATCH from the current resourceVersion until the server ends it; Gone on 410."""
        params = {
            "watch": "1",
            "allowWatchBookmarks": "true",
            "resourceVersion": self.resource_version,
            "timeoutSeconds": str(self.timeout_seconds),
        }
        conn, response = self.client.get(self.path, params)
        try:
            if response.status == 410:
                raise Gone("watch: HTTP 410")
            if response.status != 200:
                raise InputError(f"watch {self.path}: HTTP {response.status}")
            for line in _lines(response):
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise Gone(str(obj.get("message") or "410 Gone"))
                    raise InputError(f"watch error: {obj.get('message')}")
                rv = (obj.get("metadata") or {}).get("resourceVersion")
                if kind in ("ADDED", "MODIFIED"):
                    self._seen(obj)
                if rv:
                    self.resource_version = str(rv)
        finally:
            conn.close()

    def run(self, *, rounds: int | None = None, stop: Callable[[], bool] = lambda: False) -> None:
        """LIST, then WATCH again and again (relisting after a 410) until ``stop()`` or
        ``rounds`` watches."""
        if not self.path:
            self.discover()
        self.list()
        done = 0
        while not stop() and (rounds is None or done < rounds):
            done += 1
            try:
                self.watch()
            except Gone as exc:
                self.log(f"{exc}: listing again from resourceVersion {self.resource_version}")
                self.list()


def _lines(response: HTTPResponse) -> Iterator[bytes]:
    """The JSON lines of a watch stream (http.client undoes the chunked encoding)."""
    while True:
        line = response.readline()
        if not line:
            return
        if line.strip():
            yield line
