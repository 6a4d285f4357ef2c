"""--apply's restart dance against a stand-in: a fake kubelet that runs a local HTTPS /livez
server while the manifest is in the manifests directory (and only if it likes the manifest)."""

from __future__ import annotations

import http.server
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kubetrail.deploy import kubeadm as kd
from kubetrail.deploy.restart import Health, Waits, restart
from kubetrail.errors import DeployError

from .conftest import BASELINE, STOCK, Node


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1, made with the openssl command."""
    d = tmp_path_factory.mktemp("pki")

    def run(*args: str) -> None:
        words = [w for a in args for w in (a.split() if not a.startswith("/") else [a])]
        subprocess.run(["openssl", *words], check=True, capture_output=True, cwd=d)

    run(
        "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2",
        "-subj",
        "/CN=test-ca",
    )
    for name, subject, ext in (
        ("srv", "/CN=kube-apiserver", "subjectAltName=IP:127.0.0.1\n"),
        ("admin", "/O=system:masters/CN=kubernetes-admin", ""),  # as in admin.conf
    ):
        run(
            f"req -newkey rsa:2048 -nodes -keyout {name}.key -out {name}.csr",
            "-subj",
            subject,
        )
        (d / f"{name}.cnf").write_text(ext)
        run(
            f"x509 -req -in {name}.csr -CA ca.crt -CAkey ca.key -CAcreateserial",
            f"-out {name}.crt -days 2 -extfile {name}.cnf",
        )
    return d / "ca.crt", d / "srv.crt", d / "srv.key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeKubelet:
    """Polls the manifest; runs the 'API server' (HTTPS /livez) while it is present."""

    def __init__(
        self,
        manifest: Path,
        tls: tuple[Path, Path, Path],
        port: int,
        starts: Callable[[str], int | None],
    ) -> None:
        self.manifest, self.port, self.starts = manifest, port, starts
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(str(tls[1]), str(tls[2]))
        # Like kube-apiserver: a client certificate is optional, checked against the CA.
        self.context.verify_mode = ssl.CERT_OPTIONAL
        self.context.load_verify_locations(str(tls[0]))
        self.server: http.server.ThreadingHTTPServer | None = None
        self.running_text: str | None = None
        self.history: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _serve(self, code: int) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                # With anonymous auth off, /livez refuses a caller without a certificate.
                cert = self.connection.getpeercert()  # type: ignore[attr-defined]
                status = 200 if code == 401 and cert else code
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"no")

            def log_message(self, *args: object) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            # Handler threads are joined on close, so that no accepted socket outlives the
            # 'API server' (a daemon thread's socket could be collected later, unclosed).
            allow_reuse_address = True
            daemon_threads = False
            block_on_close = True

        server = Server(("127.0.0.1", self.port), Handler)
        server.socket = self.context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.server = server

    def _halt(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                text: str | None = self.manifest.read_text()
            except FileNotFoundError:
                text = None
            if text != self.running_text:
                self._halt()
                self.history.append("stopped" if text is None else "started")
                code = None if text is None else self.starts(text)
                if code is not None:
                    self._serve(code)
                self.running_text = text
            time.sleep(0.02)

    def __enter__(self) -> FakeKubelet:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._halt()


@pytest.fixture
def kubelet(node: Node, tls: tuple[Path, Path, Path]) -> Iterator[Callable[..., FakeKubelet]]:
    made: list[FakeKubelet] = []

    def make(starts: Callable[[str], int | None] = lambda _: 200) -> FakeKubelet:
        k = FakeKubelet(node.manifest, tls, free_port(), starts).__enter__()
        made.append(k)
        return k

    yield make
    for k in made:
        k.__exit__()


def wait_serving(health: Health) -> None:
    for _ in range(200):
        if health.probe().state == "serving":
            return
        time.sleep(0.02)
    raise AssertionError("the fake API server never came up")


WAITS = Waits(gone_timeout=5, healthy_timeout=2, interval=0.05)


def test_restart_onto_the_new_manifest(
    node: Node, kubelet: Callable[..., FakeKubelet], tls: tuple[Path, Path, Path]
) -> None:
    k = kubelet()
    health = Health(f"https://127.0.0.1:{k.port}/livez", ca_file=str(tls[0]))
    wait_serving(health)
    plan = kd.plan(str(node.manifest), str(BASELINE), node.options())  # type: ignore[arg-type]
    kd.install_files(plan)
    steps = restart(
        str(node.manifest),
        plan.old_manifest,
        plan.new_manifest,
        parking_dir=str(node.backup_dir),
        health=health,
        waits=WAITS,
    )
    whats = [s.what for s in steps]
    assert whats[0].startswith("moved")
    assert "out of the manifests directory" in whats[0]
    assert whats[1] == "the API server stopped"
    assert whats[-1].startswith("healthy:")
    assert node.manifest.read_text() == plan.new_manifest
    assert k.history[-2:] == ["stopped", "started"]  # the kubelet saw it go and come back
    assert node.manifests_listing() == ["kube-apiserver.yaml"]


def test_401_and_403_mean_serving(
    node: Node, kubelet: Callable[..., FakeKubelet], tls: tuple[Path, Path, Path]
) -> None:
    k = kubelet(lambda _: 403)
    health = Health(f"https://127.0.0.1:{k.port}/livez", ca_file=str(tls[0]))
    wait_serving(health)
    assert health.probe().detail == "HTTP 403"


def test_rollback_when_the_new_manifest_never_gets_healthy(
    node: Node, kubelet: Callable[..., FakeKubelet], tls: tuple[Path, Path, Path]
) -> None:
    # The stand-in API server answers 500 when started with audit flags: it never gets healthy.
    k = kubelet(lambda text: 500 if "--audit-policy-file" in text else 200)
    health = Health(f"https://127.0.0.1:{k.port}/livez", ca_file=str(tls[0]))
    wait_serving(health)
    plan = kd.plan(str(node.manifest), str(BASELINE), node.options())  # type: ignore[arg-type]
    kd.install_files(plan)
    rolled_back: list[bool] = []
    with pytest.raises(DeployError) as info:
        restart(
            str(node.manifest),
            plan.old_manifest,
            plan.new_manifest,
            parking_dir=str(node.backup_dir),
            health=health,
            waits=WAITS,
            on_rollback=lambda: rolled_back.append(True),
        )
    message = str(info.value)
    assert "did not become healthy" in message
    assert "HTTP 500" in message
    assert "restored the previous manifest; healthy" in message
    assert rolled_back == [True]
    assert node.manifest.read_text() == STOCK.read_text()
    assert health.probe().state == "serving"
    assert node.manifests_listing() == ["kube-apiserver.yaml"]


def test_cli_apply_end_to_end(
    node: Node, kubelet: Callable[..., FakeKubelet], tls: tuple[Path, Path, Path]
) -> None:
    from click.testing import CliRunner

    from kubetrail.cli import cli

    k = kubelet()
    url = f"https://127.0.0.1:{k.port}/livez"
    wait_serving(Health(url, ca_file=str(tls[0])))
    result = CliRunner().invoke(
        cli,
        [
            "deploy",
            "kubeadm",
            *node.cli_args(),
            "--policy",
            str(BASELINE),
            "--apply",
            "--livez-url",
            url,
            "--ca",
            str(tls[0]),
            "--timeout",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "healthy: " in result.output
    assert "--audit-policy-file" in node.manifest.read_text()
    assert node.policy_path.read_bytes() == BASELINE.read_bytes()


def test_api_server_that_never_stops_aborts_before_the_swap(
    node: Node, tls: tuple[Path, Path, Path]
) -> None:
    # No kubelet watches the manifest: the 'API server' keeps answering after the move out.
    port = free_port()
    stand_in = FakeKubelet(node.root / "elsewhere.yaml", tls, port, lambda _: 200)
    (node.root / "elsewhere.yaml").write_text("x")
    with stand_in:
        health = Health(f"https://127.0.0.1:{port}/livez", ca_file=str(tls[0]))
        wait_serving(health)
        plan = kd.plan(str(node.manifest), str(BASELINE), node.options())  # type: ignore[arg-type]
        rolled_back: list[bool] = []
        with pytest.raises(DeployError, match="is the kubelet running"):
            restart(
                str(node.manifest),
                plan.old_manifest,
                plan.new_manifest,
                parking_dir=str(node.backup_dir),
                health=health,
                waits=Waits(gone_timeout=0.3, healthy_timeout=1, interval=0.05),
                on_rollback=lambda: rolled_back.append(True),
            )
    assert node.manifest.read_text() == STOCK.read_text()
    assert rolled_back == [True]
    assert node.manifests_listing() == ["kube-apiserver.yaml"]


def test_health_authenticates_with_the_kubeconfig_client_certificate(
    node: Node, kubelet: Callable[..., FakeKubelet], tls: tuple[Path, Path, Path]
) -> None:
    import base64

    import yaml

    from kubetrail.deploy.restart import client_cert_from_kubeconfig

    k = kubelet(lambda _: 401)  # anonymous callers get 401
    url = f"https://127.0.0.1:{k.port}/livez"
    anonymous = Health(url, ca_file=str(tls[0]))
    wait_serving(anonymous)
    assert anonymous.probe().detail == "HTTP 401"
    pki = tls[0].parent
    admin_conf = node.root / "admin.conf"
    admin_conf.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "k", "cluster": {"server": url}}],
                "users": [
                    {
                        "name": "kubernetes-admin",
                        "user": {
                            "client-certificate-data": base64.b64encode(
                                (pki / "admin.crt").read_bytes()
                            ).decode(),
                            "client-key-data": base64.b64encode(
                                (pki / "admin.key").read_bytes()
                            ).decode(),
                        },
                    }
                ],
                "contexts": [
                    {"name": "a", "context": {"cluster": "k", "user": "kubernetes-admin"}}
                ],
                "current-context": "a",
            }
        )
    )
    with client_cert_from_kubeconfig(str(admin_conf)) as cert:
        authenticated = Health(url, ca_file=str(tls[0]), client_cert=cert)
        assert authenticated.probe().detail == "HTTP 200"
