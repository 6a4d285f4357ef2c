"""``kubetrail events``: keep every Kubernetes Event occurrence in the lake."""

from __future__ import annotations

import time

import click

from kubetrail.cli.lake import LAKE_OPTION, resolve_cluster, resolve_lake


@click.command("events")
@click.option("--kubeconfig", metavar="FILE", help="Reach the API server with this kubeconfig.")
@click.option("--context", metavar="NAME", help="The kubeconfig context (default: current).")
@click.option("--in-cluster", is_flag=True, help="Use the pod's service account.")
@LAKE_OPTION
@click.option("--cluster", help="Cluster name for the partition (default: kubetrail.toml).")
@click.option(
    "--flush-seconds",
    type=click.FloatRange(0.1),
    default=5.0,
    show_default=True,
    help="Write what arrived at most this long after it arrived.",
)
@click.option("--print-rbac", is_flag=True, help="Print the RBAC this needs, then exit.")
@click.option("--watches", type=click.IntRange(1), hidden=True, help="Stop after N watches.")
def events(
    kubeconfig: str | None,
    context: str | None,
    in_cluster: bool,
    lake: str | None,
    cluster: str | None,
    flush_seconds: float,
    print_rbac: bool,
    watches: int | None,
) -> int:
    """Watch Kubernetes Events and store each occurrence in the lake (k8s_events).

    The API server keeps Events one hour (--event-ttl); this keeps them as long
    as the lake does. LIST then WATCH with bookmarks, resuming from the last
    resourceVersion, listing again after a 410 Gone; events.k8s.io/v1 is
    watched (core/v1 only where that group is absent: both serve the same
    objects). Each occurrence is stored once, replays and relists included.

    \b
    Examples:
      kubetrail events --print-rbac | kubectl apply -f -
      kubetrail events --kubeconfig ~/.kube/config --lake ./lake --cluster prod
    """
    from datetime import UTC, datetime
    from typing import Any

    from kubetrail.errors import InputError, UsageError
    from kubetrail.lake.tables import StoredKeys, WriteStats, event_row, write
    from kubetrail.layers.watch import RBAC, Client, Watcher, from_kubeconfig
    from kubetrail.layers.watch import in_cluster as sa

    if print_rbac:
        click.echo(RBAC, nl=False)
        return 0
    if bool(kubeconfig) == in_cluster:
        raise UsageError("give --kubeconfig FILE or --in-cluster (one of them)")
    endpoint = sa() if in_cluster else from_kubeconfig(str(kubeconfig), context)
    store = resolve_lake(lake, create=True)
    name = resolve_cluster(cluster)
    stats = WriteStats()
    known = StoredKeys()
    pending: list[dict[str, Any]] = []
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal last_flush
        if pending:
            now = datetime.now(UTC)
            write(store, "k8s_events", pending, cluster=name, now=now, stats=stats, stored=known)
            pending.clear()
        last_flush = time.monotonic()

    def emit(record: dict[str, Any]) -> None:
        pending.append(event_row(record, f"watch:{endpoint.server}"))
        if time.monotonic() - last_flush >= flush_seconds:
            flush()

    watcher = Watcher(Client(endpoint), emit, log=lambda m: click.echo(m, err=True))
    try:
        click.echo(f"watching {watcher.discover()} on {endpoint.server}", err=True)
        watcher.run(rounds=watches)
    except KeyboardInterrupt:
        pass
    except (OSError, ValueError) as exc:  # refused, reset, TLS, a body that is not JSON
        raise InputError(f"{endpoint.server}: {exc}") from exc
    finally:
        flush()
        click.echo(
            f"{stats.written:,} occurrences stored, {watcher.duplicates:,} replays skipped",
            err=True,
        )
    return 0
