"""``kubetrail follow PATH --lake DIR``: tail kube-apiserver's audit log into the lake."""

from __future__ import annotations

import os
from typing import Any

import click

from kubetrail.cli.detect import live_alerts, live_options


@click.command()
@click.argument("path", type=click.Path())
@click.option(
    "--lake",
    "lake_dir",
    type=click.Path(file_okay=False),
    help="The lake directory, created if missing (default: `lake` in kubetrail.toml).",
)
@click.option("--cluster", help="Cluster name (default: kubetrail.toml, else 'default').")
@click.option(
    "--checkpoint",
    "checkpoint_dir",
    type=click.Path(file_okay=False),
    help="Where the position is kept  [default: <lake>/_kubetrail/checkpoints/].",
)
@click.option(
    "--batch",
    type=click.IntRange(1),
    default=10_000,
    show_default=True,
    help="Commit when this many lines are pending.",
)
@click.option(
    "--flush-interval",
    type=click.FloatRange(0.05),
    default=2.0,
    show_default=True,
    help="Commit at least this often (seconds) while lines arrive.",
)
@click.option(
    "--keep-secrets",
    is_flag=True,
    help="Store Secret values and tokens as logged (redacted by default).",
)
@click.option(
    "--from-start/--from-end",
    default=True,
    show_default=True,
    help="Without a checkpoint: read PATH from its start, or only what is written from now on.",
)
@click.option(
    "--layer",
    type=click.Choice(["audit", "container"]),
    default="audit",
    show_default=True,
    help="container: follow every container log under PATH (/var/log/pods) into "
    "container_logs, across kubelet's rotation (docs/layers.md).",
)
@click.option("--polls", type=click.IntRange(1), hidden=True, help="Stop after N polls.")
@live_options
def follow(
    path: str,
    layer: str,
    polls: int | None,
    lake_dir: str | None,
    cluster: str | None,
    checkpoint_dir: str | None,
    batch: int,
    flush_interval: float,
    keep_secrets: bool,
    from_start: bool,
    **live: Any,  # the options of live_options, for live_alerts
) -> None:
    """Follow an audit log (tail -F) into the lake, across rotation and restarts.

    \b
    Survives kube-apiserver's log rotation (audit.log renamed to
    audit-<time>.log, optionally gzipped), copytruncate and restarts: the
    position is checkpointed after every commit, so a restart resumes where
    it stopped and each event is in the lake once. A partial last line waits
    for its newline. Runs until SIGTERM or SIGINT (commits and checkpoints first).

    \b
    kubetrail follow /var/log/kubernetes/audit/audit.log --lake /data/lake --cluster prod
    kubetrail follow audit.log --lake ./lake --detect --min-level high >> alerts.jsonl
    """
    import signal
    import sys
    import threading
    import time

    from kubetrail.cli.lake import resolve_cluster, resolve_lake
    from kubetrail.errors import UsageError
    from kubetrail.ingest.follow import Follower, FollowStats
    from kubetrail.ingest.pipeline import Ingestor

    def say(message: str) -> None:
        click.echo(f"follow: {message}", err=True)

    lake = resolve_lake(lake_dir, create=True)
    cluster = resolve_cluster(cluster)
    if layer == "container":
        _follow_containers(path, lake, cluster, flush_interval, polls, say)
        return
    if os.path.isdir(path):
        raise UsageError(f"{path} is a directory: give the audit log file (or --layer container)")
    alerts = live_alerts(**live)
    ingestor = Ingestor(
        lake, cluster, keep_secrets=keep_secrets, batch_rows=sys.maxsize, observer=alerts
    )
    follower = Follower(
        path,
        ingestor,
        checkpoint_dir=checkpoint_dir,
        from_end=not from_start,
        batch=batch,
        flush_interval=flush_interval,
        notify=say,
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    last_status = [time.monotonic()]

    def status(stats: FollowStats) -> str:
        ing = ingestor.stats
        bad = f", {stats.bad_lines} bad line(s) (first {', '.join(stats.bad_samples)})"
        return (
            f"{stats.events:,} events from {stats.lines:,} lines, {ing.written:,} written, "
            f"{ing.duplicates:,} duplicates, {stats.rotations} rotation(s)"
            + (bad if stats.bad_lines else "")
            + (f", {stats.lost} lost file(s)" if stats.lost else "")
            + f", lag {stats.lag_bytes:,} B / {stats.lag_seconds:.1f} s"
        )

    def periodic(_seconds: float) -> None:
        stop.wait(_seconds)
        now = time.monotonic()
        if now - last_status[0] >= 60:
            last_status[0] = now
            say(status(follower.lag()))

    follower.sleep = periodic
    say(f"following {path} into {lake.root} (cluster {cluster})")
    say(f"checkpoint {follower.checkpoint_file}")
    try:
        stats = follower.run(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    say("stopped: " + status(stats))
    if alerts is not None:
        alerts.close()
        say(alerts.summary())


def _follow_containers(
    path: str, lake: Any, cluster: str, interval: float, polls: int | None, say: Any
) -> None:
    import signal
    import threading
    from datetime import UTC, datetime

    from kubetrail.layers.follow import ContainerFollower

    follower = ContainerFollower(lake, path, cluster=cluster, clock=lambda: datetime.now(UTC))
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    say(f"following the container logs under {path} into {lake.root} (cluster {cluster})")
    done = 0
    try:
        while not stop.is_set() and (polls is None or done < polls):
            follower.poll()
            done += 1
            if polls is None or done < polls:
                stop.wait(interval)
    finally:
        follower.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    r = follower.report
    say(
        f"stopped: {r.lines:,} lines, {r.records:,} records, {r.stats.written:,} written, "
        f"{r.stats.duplicates:,} already stored, {r.rejected:,} rejected"
    )
