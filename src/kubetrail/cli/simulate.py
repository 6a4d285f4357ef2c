"""``kubetrail policy simulate`` and ``kubetrail policy volume``."""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

import click

from kubetrail.cli.lake import LAKE_OPTION, engine_options, open_lake_engine
from kubetrail.cli.policy import kube_version_option, load_or_report
from kubetrail.text import human_bytes

if TYPE_CHECKING:
    from kubetrail.ingest.read import ReadReport
    from kubetrail.model.event import Event


def _events(paths: tuple[str, ...], report: ReadReport) -> Iterator[tuple[Event, int]]:
    """Decoded events with their recorded size; bad lines are counted in ``report``."""
    import msgspec

    from kubetrail.ingest.read import read_lines
    from kubetrail.model.event import Event

    decode = msgspec.json.Decoder(Event).decode
    for line in read_lines(paths, report, stdin=sys.stdin.buffer):
        try:
            event = decode(line.data)
        except msgspec.DecodeError as exc:
            report.bad_line(line, str(exc))
            continue
        yield event, len(line.data) + 1


def _open_output(path: str | None) -> IO[bytes]:
    if path is None or path == "-":
        return sys.stdout.buffer
    if path.endswith(".gz"):
        return gzip.open(path, "wb")  # type: ignore[return-value]
    return open(path, "wb")


@click.command()
@click.argument("policy_file", metavar="POLICY", type=click.Path(dir_okay=False))
@click.argument("inputs", metavar="EVENTS...", nargs=-1, required=True)
@click.option("-o", "--output", metavar="FILE", help="Write here (.gz: gzip) instead of stdout.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "legacy"]),
    default="json",
    show_default=True,
    help="json: the default log format; legacy: --audit-log-format=legacy lines.",
)
@kube_version_option
def simulate(
    policy_file: str,
    inputs: tuple[str, ...],
    output: str | None,
    fmt: str,
    kube_version: str | None,
) -> int:
    """Write what kube-apiserver would have logged under POLICY for recorded EVENTS.

    EVENTS are audit logs recorded at a richer level (ideally everything at
    RequestResponse, no stages omitted): files, .gz, directories of rotated logs, or -.
    Output: exactly the events POLICY writes — level None and omitted stages dropped,
    bodies kept only at the levels that log them, managedFields removed where
    omitManagedFields applies — encoded as kube-apiserver encodes them, so byte counts
    are real. A summary (events and bytes in and out, per rule) goes to stderr.

    \b
    Examples:
      kubetrail policy simulate policy.yaml /var/log/kubernetes/audit/ -o simulated.log
      kubetrail sample generate --nodes 3 --hours 1 | kubetrail policy simulate policy.yaml -
    """
    import msgspec

    from kubetrail.errors import InputError
    from kubetrail.ingest.read import ReadReport, read_lines
    from kubetrail.policy.evaluate import Evaluator
    from kubetrail.policy.simulate import Simulator, legacy_line

    loaded = load_or_report(policy_file, kube_version)
    simulator = Simulator(Evaluator(loaded.policy))
    report = ReadReport()
    rules = [[0, 0] for _ in loaded.policy.rules]
    events_in = bytes_in = events_out = bytes_out = lacking = 0
    out = _open_output(output)
    try:
        for recorded in read_lines(inputs, report, stdin=sys.stdin.buffer):
            try:
                outcome = simulator.simulate_raw(recorded.data)
            except (msgspec.DecodeError, InputError) as exc:
                report.bad_line(recorded, str(exc))
                continue
            events_in += 1
            bytes_in += len(recorded.data) + 1
            if outcome.line is None:
                continue
            line = legacy_line(outcome.line) if fmt == "legacy" else outcome.line
            out.write(line + b"\n")
            events_out += 1
            bytes_out += len(line) + 1
            lacking += outcome.lacking
            if outcome.decision.rule is not None:
                rules[outcome.decision.rule][0] += 1
                rules[outcome.decision.rule][1] += len(line) + 1
    finally:
        if out is not sys.stdout.buffer:
            out.close()
        else:
            out.flush()
    click.echo(report.summary(), err=True)
    if report.empty:
        raise InputError(f"no audit events in {', '.join(inputs)}")
    share = f" ({bytes_out / bytes_in:.1%} of the bytes)" if bytes_in else ""
    click.echo(
        f"in: {events_in:,} events, {human_bytes(bytes_in)}; out: {events_out:,} events, "
        f"{human_bytes(bytes_out)}{share}",
        err=True,
    )
    for i, (hits, size) in enumerate(rules):
        if hits:
            line_no = loaded.rule_line(i)
            where = f" (line {line_no})" if line_no else ""
            level = loaded.policy.rules[i].level
            click.echo(
                f"  rules[{i}]{where} {level}: {hits:,} events, {human_bytes(size)}", err=True
            )
    if lacking:
        click.echo(
            f"note: {lacking:,} events lack a body the policy would log (recorded at a lower "
            "level); the output keeps what exists",
            err=True,
        )
    return 0


@click.command()
@click.argument("policies", metavar="POLICY...", nargs=-1, required=True)
@click.option(
    "--sample",
    "samples",
    multiple=True,
    metavar="EVENTS",
    help="Recorded events (files, .gz, directories, -); repeatable.",
)
@LAKE_OPTION
@click.option("--since", metavar="WHEN", help="With --lake: 1h, 2d back from now, or RFC 3339.")
@click.option("--until", metavar="WHEN", help="With --lake: same forms; exclusive.")
@engine_options
@click.option(
    "--format",
    "-o",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
@click.option("--maxsize", default=100, show_default=True, help="--audit-log-maxsize (MB).")
@click.option("--maxbackup", default=100, show_default=True, help="--audit-log-maxbackup.")
@click.option("--maxage", default=366, show_default=True, help="--audit-log-maxage (days).")
@kube_version_option
def volume(
    policies: tuple[str, ...],
    samples: tuple[str, ...],
    fmt: str,
    maxsize: int,
    maxbackup: int,
    maxage: int,
    kube_version: str | None,
    lake: str | None,
    since: str | None,
    until: str | None,
    engine: str,
    spark_master: str | None,
    spark_conf: tuple[str, ...],
) -> int:
    """Compare what POLICIES would write for a recorded sample: events, bytes, per day.

    Side by side: events and bytes (raw and gzip), extrapolated per day from the
    sample's time span; per rule; top users, verbs, resources and user agents by
    bytes; and how many hours of history the log rotation keeps on disk. The byte
    totals are the size of what `policy simulate` writes for the same input.

    With --lake instead of --sample, the events stored in the lake (--since,
    --until; any engine) are the sample. They are stored canonical with secrets
    redacted, so the byte figures are estimates of what kube-apiserver would
    write, and labelled so ("estimated": true in json).

    \b
    Examples:
      kubetrail policy volume current.yaml proposed.yaml --sample audit.log.gz
      kubetrail policy volume proposed.yaml --lake ./lake --since 24h
      kubetrail policy volume proposed.yaml --lake s3a://audit/lake --engine spark
    """
    from datetime import UTC, datetime

    import msgspec

    from kubetrail.errors import InputError, UsageError
    from kubetrail.ingest.read import ReadReport
    from kubetrail.policy.volume import Rotation, lake_sample, measure
    from kubetrail.query.search import parse_time

    if bool(samples) == bool(lake):
        raise UsageError("give --sample EVENTS or --lake DIR (one of them)")
    if (since or until) and not lake:
        raise UsageError("--since and --until go with --lake (for files, select the files)")
    if (engine != "duckdb" or spark_master or spark_conf) and not lake:
        raise UsageError("--engine and --spark-* go with --lake")
    loaded = [load_or_report(p, kube_version) for p in policies]
    rotation = Rotation(maxsize_mb=maxsize, maxbackup=maxbackup, maxage_days=maxage)
    report = ReadReport()
    if lake:
        now = datetime.now(UTC)
        start = parse_time(since, now) if since else None
        end = parse_time(until, now, flag="--until") if until else None
        eng = open_lake_engine(lake, engine, spark_master, spark_conf)
        try:
            result = measure(loaded, lake_sample(eng, start, end), rotation=rotation)
        finally:
            eng.close()
        result.estimated = True
        if not result.sample.events:
            raise InputError(f"no events in the lake at {lake} for that window")
    else:
        result = measure(loaded, _events(samples, report), rotation=rotation)
        if report.empty:
            raise InputError(f"no audit events in {', '.join(samples)}")
    if fmt == "json":
        click.echo(msgspec.json.encode(result).decode())
        return 0
    if not lake:
        click.echo(report.summary(), err=True)
    s = result.sample
    header = (
        f"sample: {s.events:,} events, {human_bytes(s.bytes)}, {s.seconds / 3600:.2f} h of traffic"
    )
    if result.estimated:
        header = (
            f"{header.replace('sample:', 'lake:', 1)} — bytes are estimates (events as "
            "stored: canonical, secrets redacted)"
        )
    ps = result.policies
    rows: list[tuple[str, list[str]]] = [
        ("events", [f"{p.events:,}" for p in ps]),
        ("bytes", [human_bytes(p.bytes) for p in ps]),
        ("gzip", [human_bytes(p.gzip_bytes) for p in ps]),
        ("per day", [human_bytes(p.bytes_per_day) for p in ps]),
        (
            f"history kept ({maxsize} MB x {maxbackup + 1})",
            ["unlimited" if p.hours_kept is None else f"{p.hours_kept:,.1f} h" for p in ps],
        ),
    ]
    names = [p.path for p in ps]
    if fmt == "markdown":
        click.echo(f"{header}\n")
        click.echo("| | " + " | ".join(f"`{n}`" for n in names) + " |")
        click.echo("| --- |" + " ---: |" * len(names))
        for label, values in rows:
            click.echo(f"| {label} | " + " | ".join(values) + " |")
        return 0
    width = max(24, *(len(n) + 2 for n in names))
    click.echo(header)
    click.echo(f"{'':<34}" + "".join(f"{n:>{width}}" for n in names))
    for label, values in rows:
        click.echo(f"{label:<34}" + "".join(f"{v:>{width}}" for v in values))
    for p in ps:
        click.echo(f"\n{p.path}: rules by bytes")
        total = max(p.bytes, 1)
        for r in sorted(p.rules, key=lambda r: -r.bytes)[:8]:
            if r.bytes:
                where = f" line {r.line}" if r.line else ""
                click.echo(
                    f"  rules[{r.index}]{where:<10} {r.level:<16} {r.events:>9,} events "
                    f"{human_bytes(r.bytes):>10} {r.bytes / total:>6.1%}"
                )
        for name in ("users", "resources"):
            items = ", ".join(f"{t.name} {human_bytes(t.bytes)}" for t in p.top[name][:3])
            click.echo(f"  top {name}: {items}")
        if p.lacking:
            click.echo(f"  note: {p.lacking:,} events lack a body this policy would log")
    return 0
