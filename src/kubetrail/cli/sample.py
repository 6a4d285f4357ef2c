"""``kubetrail sample generate``: realistic audit traffic for users with no capture yet."""

from __future__ import annotations

import gzip
import sys
import time
from datetime import UTC, datetime
from typing import BinaryIO, cast

import click

DEFAULT_START = "2026-01-01T00:00:00Z"
_PROGRESS_EVERY = 50_000


def _parse_start(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO 8601 time: {text!r}", param_hint="--start") from exc
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@click.group()
def sample() -> None:
    """Sample data to try kubetrail on before you have a capture of your own."""


@sample.command()
@click.option("--nodes", type=click.IntRange(1), default=3, show_default=True, help="Nodes.")
@click.option("--hours", type=click.FloatRange(0), default=0.0, help="Hours of traffic.")
@click.option("--minutes", type=click.FloatRange(0), default=0.0, help="Minutes of traffic.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
@click.option("--start", default=DEFAULT_START, show_default=True, help="Time of the first event.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to FILE (gzip when it ends in .gz) instead of stdout.",
)
def generate(
    nodes: int, hours: float, minutes: float, seed: int, start: str, output: str | None
) -> None:
    """Write a log-everything audit log (JSON lines) of a cluster with NODES nodes.

    \b
    Level RequestResponse, no stage omitted; kubelets, controllers, the scheduler,
    operators, Helm, a human with kubectl, health checks, and a few attacks labelled
    with the annotation kubetrail.io/sample-attack. Deterministic for a seed.
    3 nodes give about 68 events/s (~2 KB each).
    """
    from kubetrail.sample.generate import generate as gen

    seconds = hours * 3600 + minutes * 60
    if seconds <= 0:
        raise click.UsageError("give the length of the traffic with --hours and/or --minutes")
    when = _parse_start(start)
    progress = sys.stderr.isatty()
    sink: BinaryIO
    if output is None:
        sink = sys.stdout.buffer
    elif output.endswith(".gz"):
        sink = cast(BinaryIO, gzip.open(output, "wb"))  # noqa: SIM115 - closed below
    else:
        sink = open(output, "wb")  # noqa: SIM115 - closed below
    events = 0
    size = 0
    began = time.perf_counter()
    try:
        write = sink.write
        for line in gen(nodes=nodes, seconds=seconds, seed=seed, start=when):
            write(line)
            write(b"\n")
            events += 1
            size += len(line) + 1
            if progress and events % _PROGRESS_EVERY == 0:
                click.echo(f"\r{events:,} events, {size / 1e6:,.1f} MB", nl=False, err=True)
    finally:
        if output is not None:
            sink.close()
        else:
            sink.flush()
    if progress:
        click.echo("\r", nl=False, err=True)
    took = time.perf_counter() - began
    click.echo(
        f"{events:,} events, {size:,} bytes, {seconds:,.0f} s of traffic "
        f"(generated in {took:.1f} s)",
        err=True,
    )
