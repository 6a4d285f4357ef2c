"""``kubetrail serve``: receive the kube-apiserver's audit webhook into a lake."""

from __future__ import annotations

import re
from typing import Any

import click

from kubetrail.cli.detect import live_alerts, live_options

_SIZE = re.compile(r"(?i)\s*(\d+)\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib)\s*")
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_UNITS.update({"kb": 1000, "mb": 1000**2, "gb": 1000**3})
_UNITS.update({"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30})


def _size(ctx: click.Context, param: click.Parameter, value: object) -> int:
    """A byte size: ``33554432``, ``32MiB``, ``10MB`` (1000-based), ``512k`` (1024-based)."""
    if isinstance(value, int):
        return value
    match = _SIZE.fullmatch(str(value))
    if match is None:
        raise click.BadParameter(f"{value!r} is not a size (e.g. 33554432, 32MiB, 10MB)")
    return int(match[1]) * _UNITS[match[2].lower()]


@click.command()
@click.option(
    "--lake",
    type=click.Path(file_okay=False),
    help="The lake directory, created if missing (default: `lake` in kubetrail.toml).",
)
@click.option(
    "--cluster", help="Cluster name in the lake (default: kubetrail.toml, else 'default')."
)
@click.option(
    "--listen",
    default="127.0.0.1:8443",
    show_default=True,
    help="HOST:PORT, [IPv6]:PORT, or :PORT for every IPv4 interface.",
)
@click.option("--tls-cert", type=click.Path(dir_okay=False), help="Server certificate (PEM).")
@click.option("--tls-key", type=click.Path(dir_okay=False), help="Server private key (PEM).")
@click.option(
    "--client-ca",
    type=click.Path(dir_okay=False),
    help="Accept clients whose certificate this CA signed (mTLS).",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False),
    help="Require 'Authorization: Bearer <the file's content>' (compared in constant time).",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Plain HTTP, no TLS: only on a loopback address, for testing.",
)
@click.option(
    "--max-body",
    metavar="SIZE",
    callback=_size,
    default="32MiB",
    show_default=True,
    help="Larger POST bodies get 413 (keep above the apiserver's truncate max batch size).",
)
@click.option(
    "--flush-interval",
    type=click.FloatRange(min=0.05),
    default=30.0,
    show_default=True,
    help="Seconds between moves of the write-ahead log into Parquet.",
)
@click.option(
    "--max-pending",
    metavar="SIZE",
    callback=_size,
    default="256MiB",
    show_default=True,
    help="Bytes of bodies in progress above which POSTs get 503 with Retry-After.",
)
@click.option(
    "--read-timeout",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds a client has for the TLS handshake and for sending a whole body.",
)
@click.option(
    "--keep-secrets",
    is_flag=True,
    help="Store Secret values and tokens as sent (default: replaced by keyed hash markers).",
)
@click.option(
    "--print-webhook-config",
    is_flag=True,
    help="Print the apiserver's --audit-webhook-config-file for --url, then exit.",
)
@click.option("--url", metavar="URL", help="With --print-webhook-config: this receiver's URL.")
@click.option(
    "--webhook-ca",
    type=click.Path(dir_okay=False),
    help="With --print-webhook-config: CA of the server certificate (default: --tls-cert).",
)
@click.option(
    "--webhook-client-cert",
    type=click.Path(dir_okay=False),
    help="With --print-webhook-config: the apiserver's client certificate.",
)
@click.option(
    "--webhook-client-key",
    type=click.Path(dir_okay=False),
    help="With --print-webhook-config: the apiserver's client key.",
)
@click.option(
    "-v", "--verbose", count=True, help="More log lines on stderr (-v: each request's refusal)."
)
@live_options
def serve(
    lake: str | None,
    cluster: str | None,
    listen: str,
    tls_cert: str | None,
    tls_key: str | None,
    client_ca: str | None,
    token_file: str | None,
    insecure: bool,
    max_body: int,
    flush_interval: float,
    max_pending: int,
    read_timeout: float,
    keep_secrets: bool,
    print_webhook_config: bool,
    url: str | None,
    webhook_ca: str | None,
    webhook_client_cert: str | None,
    webhook_client_key: str | None,
    verbose: int,
    **live: Any,  # the options of live_options, for live_alerts
) -> None:
    """Receive the kube-apiserver's audit webhook into the lake at --lake.

    \b
    Every batch is fsynced to a write-ahead log (queryable at once) before 200 is
    answered, and moved into Parquet every --flush-interval and on exit (SIGTERM,
    Ctrl-C). A crash loses nothing acknowledged: the next start replays the log.
    Retried batches are stored once. GET /healthz, GET /metrics (Prometheus).

    \b
    Example:
      kubetrail serve --lake /var/lib/kubetrail --listen :8443 \\
          --tls-cert tls.crt --tls-key tls.key --client-ca apiserver-ca.crt
      kubetrail serve --print-webhook-config --url https://kubetrail.example:8443/ \\
          --webhook-ca ca.crt --webhook-client-cert apiserver.crt \\
          --webhook-client-key apiserver.key > /etc/kubernetes/audit/webhook.yaml
    """
    from kubetrail.ingest import serve as server

    if print_webhook_config:
        if not url:
            raise click.UsageError("--print-webhook-config needs --url (this receiver's URL)")
        text = server.print_webhook_config(
            url,
            webhook_ca or tls_cert,
            client_cert_file=webhook_client_cert,
            client_key_file=webhook_client_key,
            token_file=token_file,
            max_body=max_body,
        )
        click.echo(text, nl=False)
        return
    if url or webhook_ca or webhook_client_cert or webhook_client_key:
        raise click.UsageError("--url and --webhook-* only go with --print-webhook-config")
    from kubetrail.cli.lake import resolve_cluster, resolve_lake

    lake = str(resolve_lake(lake, create=True).root)
    config = server.ServeConfig(
        lake=lake,
        cluster=resolve_cluster(cluster),
        listen=listen,
        tls_cert=tls_cert,
        tls_key=tls_key,
        client_ca=client_ca,
        token_file=token_file,
        insecure=insecure,
        max_body=max_body,
        flush_interval=flush_interval,
        max_pending=max(max_pending, max_body),
        read_timeout=read_timeout,
        keep_secrets=keep_secrets,
        flush_process=True,
    )
    alerts = live_alerts(**live)
    _run(config, verbose, alerts)


def _run(config: object, verbose: int, alerts: Any = None) -> None:
    import logging
    import signal
    import threading

    from kubetrail.ingest.serve import ServeConfig, serve

    assert isinstance(config, ServeConfig)
    handler = logging.StreamHandler()  # stderr
    handler.setFormatter(logging.Formatter("%(asctime)s kubetrail serve: %(message)s"))
    logger = logging.getLogger("kubetrail.serve")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    # Start-up and shutdown lines are always shown.
    notice = logging.getLogger("kubetrail.serve.cli")
    notice.setLevel(logging.INFO)

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        receiver = serve(
            config,
            stop,
            ready=lambda r: notice.info("listening on %s (writer %s)", r.url, r.writer),
            observer=alerts,
        )
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    notice.info(
        "stopped after %s events; the write-ahead log is flushed to %s",
        f"{receiver.metrics.events:,}",
        config.lake,
    )
    if alerts is not None:
        alerts.close()
        notice.info("%s", alerts.summary())
