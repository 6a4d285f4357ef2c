"""``kubetrail sidecar``: a streaming sidecar for an application's log file."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.option(
    "--pod", required=True, metavar="FILE", help="The manifest (Pod or workload; - for stdin)."
)
@click.option("--log-file", required=True, metavar="PATH", help="The log file's path in the pod.")
@click.option("--container", metavar="NAME", help="The container that writes it (default: first).")
@click.option("--image", default="busybox:1.36", show_default=True, help="The sidecar's image.")
@click.option("--size-limit", default="1Gi", show_default=True, help="The emptyDir's sizeLimit.")
@click.option("-o", "--output", metavar="FILE", help="Write the manifest here (default: stdout).")
def sidecar(
    pod: str,
    log_file: str,
    container: str | None,
    image: str,
    size_limit: str,
    output: str | None,
) -> int:
    """Write POD's manifest with a correct streaming sidecar for a log file.

    The sidecar is a native one (an init container with restartPolicy: Always,
    Kubernetes 1.29+) running `tail -n+1 -F FILE`: the file from its start,
    once, then followed across rotation — so `kubectl logs POD -c SIDECAR` and
    the node's log agent see every line once, stamped when it was written. The
    file's directory is shared through an emptyDir with a sizeLimit (or the
    volume the app already mounts there). A `while true; do cat FILE; sleep
    30; done` sidecar, which re-emits the whole file every cycle, is removed.

    \b
    Example:
      kubetrail sidecar --pod web.yaml --log-file /var/log/nginx/access.log -o web.yaml
    """
    from kubetrail.errors import InputError
    from kubetrail.layers.sidecar import add_sidecar

    try:
        text = sys.stdin.read() if pod == "-" else Path(pod).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the manifest: {exc.strerror}", path=pod) from exc
    manifest, said = add_sidecar(
        text, log_file, container=container, image=image, size_limit=size_limit
    )
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(manifest)
    else:
        sys.stdout.write(manifest)
    for line in said:
        click.echo(line, err=True)
    return 0
