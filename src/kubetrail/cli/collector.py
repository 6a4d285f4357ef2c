"""``kubetrail deploy collector``: print the manifests that run the collector in a cluster."""

from __future__ import annotations

import sys

import click


@click.command("collector")
@click.option(
    "--mode",
    required=True,
    type=click.Choice(["follow", "webhook"]),
    help="follow: tail the log file on the control-plane nodes; webhook: receive POSTs.",
)
@click.option(
    "--namespace",
    default="kubetrail-system",
    show_default=True,
    help="Namespace created for the collector.",
)
@click.option(
    "--image",
    default="ghcr.io/kubetrail/kubetrail:latest",
    show_default=True,
    help="Container image with the kubetrail command (pin a digest in production).",
)
@click.option(
    "--log-dir",
    default="/var/log/kubernetes/audit",
    show_default=True,
    help="follow: the node directory of --audit-log-path (the collector reads audit.log).",
)
@click.option(
    "--lake-dir",
    default="/var/lib/kubetrail/lake",
    show_default=True,
    help="follow: where each node's lake is written (a hostPath).",
)
@click.option(
    "--cluster",
    default="default",
    show_default=True,
    help="Cluster name recorded with every event (the lake's cluster= partition).",
)
@click.option(
    "--port",
    default=8443,
    show_default=True,
    type=click.IntRange(1024, 65535),
    help="webhook: the port the receiver listens on (the Service listens on 443).",
)
@click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout.")
def collector(
    mode: str,
    namespace: str,
    image: str,
    log_dir: str,
    lake_dir: str,
    cluster: str,
    port: int,
    output: str | None,
) -> int:
    """Print Kubernetes manifests that run kubetrail's audit-log collector.

    \b
    --mode follow   A DaemonSet on the control-plane nodes tails the audit log
                    file the API server writes (--audit-log-path) through a
                    read-only hostPath mount and writes a lake on each node.
                    Nothing changes in the API server's configuration. It runs
                    as root (the log is root-only, mode 0600) with every
                    capability dropped but DAC_READ_SEARCH and a read-only root
                    filesystem; its namespace allows privileged pods.
    --mode webhook  A Deployment of 2 receivers behind a Service, to which the
                    API server POSTs its events (--audit-webhook-config-file)
                    over mutual TLS; one lake on a ReadWriteMany volume. Works
                    where the log file cannot be reached, runs as non-root.
                    Fill the TLS Secret it creates (see its comment).

    Nothing is applied: review the output, then pipe it to kubectl.

    \b
    Examples:
      kubetrail deploy collector --mode follow | kubectl apply -f -
      kubetrail deploy collector --mode webhook --cluster prod -o collector.yaml
      kubectl apply -f collector.yaml
    """
    from kubetrail.deploy.collector import render

    text = render(
        mode,
        namespace=namespace,
        image=image,
        log_dir=log_dir,
        lake_dir=lake_dir,
        cluster=cluster,
        port=port,
    )
    if output:
        from pathlib import Path

        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        sys.stdout.write(text)
    return 0
