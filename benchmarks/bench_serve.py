"""kubetrail serve: webhook batches acknowledged per second, with fsync, on loopback.

Setup: the receiver runs in its own process (``kubetrail serve``, HTTPS with a bearer token,
certificate made by ``openssl``; ``--insecure`` for plain HTTP), the lake in a temporary
directory, the WAL fsynced before every answer (group commit). 4 sender threads in this process
POST EventList batches of 400 distinct events (``kubetrail sample generate`` traffic, items
without kind/apiVersion as the apiserver sends them) over keep-alive connections, as fast as
they are acknowledged. The flusher moves the WAL to Parquet every 5 s during the run.

Figures: events/s acknowledged (events in 200 answers / wall time from first send to last
answer) and p50/p99/max acknowledgement latency (request sent → answer read) per batch.
Goals (issue 6): >= 20,000 events/s, p99 <= 100 ms. Printed, never asserted.

    .venv/bin/python benchmarks/bench_serve.py [--events 200000] [--senders 4] [--insecure]
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from kubetrail.sample.generate import generate

GOAL_EVENTS_PER_SECOND = 20_000
GOAL_P99_MS = 100.0
_HEAD = b'{"kind":"Event","apiVersion":"audit.k8s.io/v1",'
TOKEN = "bench-token-0123456789abcdef"
SERVER = "import sys; from kubetrail.cli.serve import serve; sys.exit(serve())"


def _eventlist(batch: list[bytes]) -> bytes:
    items = (b"{" + x[len(_HEAD) :] if x.startswith(_HEAD) else x for x in batch)
    return (
        b'{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":['
        + b",".join(items)
        + b"]}"
    )


def _certs(root: Path) -> tuple[Path, Path]:
    cert, key = root / "server.crt", root / "server.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--batch", type=int, default=400)
    parser.add_argument("--insecure", action="store_true", help="plain HTTP instead of HTTPS")
    parser.add_argument(
        "--flush-interval", type=float, default=5.0, help="the receiver's (default 5 s)"
    )
    parser.add_argument("--quick", action="store_true", help="20,000 events")
    args = parser.parse_args()
    n = 20_000 if args.quick else args.events
    if not args.insecure and shutil.which("openssl") is None:
        print("skipped: the openssl command is needed for HTTPS (or give --insecure)")
        return 0

    print(f"generating {n:,} events ...", flush=True)
    events: list[bytes] = []
    seed = 1
    while len(events) < n:
        start = datetime(2026, 1, 1, tzinfo=UTC)
        events.extend(generate(nodes=3, seconds=max(60.0, n / 68), seed=seed, start=start))
        seed += 1
    events = events[:n]
    bodies = [_eventlist(events[i : i + args.batch]) for i in range(0, n, args.batch)]
    counts = [min(args.batch, n - i) for i in range(0, n, args.batch)]
    mean_body = sum(map(len, bodies)) / len(bodies)

    with tempfile.TemporaryDirectory(prefix="kubetrail-bench-serve-") as tmp:
        root = Path(tmp)
        port = _free_port()
        cmd = [
            sys.executable, "-c", SERVER, "--lake", str(root / "lake"),
            "--listen", f"127.0.0.1:{port}", "--flush-interval", str(args.flush_interval),
        ]  # fmt: skip
        context: ssl.SSLContext | None = None
        if args.insecure:
            cmd.append("--insecure")
        else:
            cert, key = _certs(root)
            (root / "token").write_text(TOKEN)
            cmd += ["--tls-cert", str(cert), "--tls-key", str(key)]
            cmd += ["--token-file", str(root / "token")]
            context = ssl.create_default_context(cafile=str(cert))
        server = subprocess.Popen(cmd, stderr=subprocess.PIPE)

        def connect() -> http.client.HTTPConnection:
            if context is None:
                return http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            return http.client.HTTPSConnection("127.0.0.1", port, timeout=60, context=context)

        deadline = time.monotonic() + 20
        while True:
            try:
                conn = connect()
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                conn.close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    server.kill()
                    print(server.communicate()[1].decode(), file=sys.stderr)
                    return 1
                time.sleep(0.05)

        latencies: list[float] = []
        acked = [0]
        failures = [0]
        lock = threading.Lock()
        next_batch = [0]
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}

        def sender() -> None:
            conn = connect()
            while True:
                with lock:
                    i = next_batch[0]
                    next_batch[0] += 1
                if i >= len(bodies):
                    break
                began = time.perf_counter()
                conn.request("POST", "/", bodies[i], headers)
                resp = conn.getresponse()
                resp.read()
                took = time.perf_counter() - began
                with lock:
                    latencies.append(took)
                    if resp.status == 200:
                        acked[0] += counts[i]
                    else:
                        failures[0] += 1
            conn.close()

        threads = [threading.Thread(target=sender) for _ in range(args.senders)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began

        conn = connect()
        conn.request("GET", "/metrics")
        metrics = conn.getresponse().read().decode()
        conn.close()
        server.terminate()
        _, err = server.communicate(timeout=120)

    fsyncs = next(
        (int(float(line.rsplit(" ", 1)[1])) for line in metrics.splitlines()
         if line.startswith("kubetrail_serve_wal_fsyncs_total{")),
        0,
    )  # fmt: skip
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    rate = acked[0] / elapsed
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        f", load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'HTTP' if args.insecure else 'HTTPS + bearer token'}, {args.senders} senders, "
        f"batches of {args.batch} ({mean_body / 1e6:.2f} MB mean), fsync on, "
        f"flush every {args.flush_interval:g} s, "
        f"{len(bodies)} batches, {fsyncs} fsyncs (group commit)"
    )
    verdict = "met" if rate >= GOAL_EVENTS_PER_SECOND else "MISSED"
    print(
        f"acknowledged: {acked[0]:,} events in {elapsed:.2f} s = {rate:,.0f} events/s "
        f"(goal >= {GOAL_EVENTS_PER_SECOND:,}: {verdict})"
    )
    p99 = pct(0.99)
    print(
        f"ack latency: p50 {pct(0.5):.1f} ms, p99 {p99:.1f} ms, max {latencies[-1] * 1000:.1f} ms "
        f"(goal p99 <= {GOAL_P99_MS:.0f} ms: {'met' if p99 <= GOAL_P99_MS else 'MISSED'})"
    )
    if failures[0]:
        print(f"non-200 answers: {failures[0]}")
    if server.returncode != 0:
        print(err.decode(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
