"""``kubetrail policy diff``."""

from __future__ import annotations

import click

from kubetrail.cli.policy import kube_version_option, load_or_report
from kubetrail.cli.simulate import _events
from kubetrail.text import human_bytes


@click.command(name="diff")
@click.argument("old_file", metavar="OLD", type=click.Path(dir_okay=False))
@click.argument("new_file", metavar="NEW", type=click.Path(dir_okay=False))
@click.option(
    "--sample",
    "samples",
    multiple=True,
    metavar="EVENTS",
    help="Recorded events to compare on (files, .gz, directories, -); repeatable.",
)
@click.option(
    "--format", "-o", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@kube_version_option
def diff_command(
    old_file: str, new_file: str, samples: tuple[str, ...], fmt: str, kube_version: str | None
) -> int:
    """Show which requests change level between OLD and NEW policies.

    Coverage changes come first: for every attack technique and caller, what NEW
    stops (or starts) logging at the level that reveals it. With --sample, every
    recorded request whose level changes, grouped, with event counts and bytes.

    \b
    Example:
      kubetrail policy diff current.yaml proposed.yaml --sample audit.log.gz
    """
    import msgspec

    from kubetrail.catalog.techniques import load_techniques
    from kubetrail.ingest.read import ReadReport
    from kubetrail.policy.diff import diff

    old, new = load_or_report(old_file, kube_version), load_or_report(new_file, kube_version)
    report = ReadReport()
    events = (event for event, _ in _events(samples, report)) if samples else iter(())
    result = diff(old.policy, new.policy, load_techniques(), events)
    if fmt == "json":
        click.echo(msgspec.json.encode(result).decode())
        return 0
    if samples:
        click.echo(report.summary(), err=True)
    worse = [t for t in result.techniques if t.worse]
    better = [t for t in result.techniques if not t.worse]
    click.echo(
        f"coverage: {result.old_percent:.0f}% -> {result.new_percent:.0f}% "
        f"({len(worse)} techniques worse, {len(better)} better)"
    )
    for change in result.techniques:
        color = "red" if change.worse else "green"
        click.echo(
            click.style(f"  {'worse ' if change.worse else 'better'} ", fg=color, bold=True)
            + f"{change.id}: {change.old_status} -> {change.new_status}"
        )
        groups: dict[tuple[str, str, str], list[str]] = {}
        for v in change.variants:
            if v.worse == change.worse:
                groups.setdefault((v.request, v.old_level, v.new_level), []).append(v.caller)
        for (request, old_level, new_level), callers in list(groups.items())[:4]:
            if change.worse:
                verb = "stops logging" if new_level == "None" else "logs too little of"
            else:
                verb = "now logs enough of"
            click.echo(
                f"      NEW {verb} `{request}` by {', '.join(callers)} ({old_level} -> {new_level})"
            )
        if len(groups) > 4:
            click.echo(f"      ... {len(groups) - 4} more request(s)")
    if samples:
        delta = result.new_bytes - result.old_bytes
        share = f" ({delta / result.old_bytes:+.0%})" if result.old_bytes else ""
        click.echo(
            f"\nsample: {result.sample_events:,} events, {result.sample_changed:,} change level; "
            f"bytes {human_bytes(result.old_bytes)} -> {human_bytes(result.new_bytes)}{share}"
        )
        for c in result.sample[:15]:
            click.echo(
                f"  {c.old_level:>15} -> {c.new_level:<15} {c.events:>8,}  {c.verb} {c.resource}"
                f"  by {c.user}  ({human_bytes(c.old_bytes)} -> {human_bytes(c.new_bytes)})"
            )
    return 0


@click.command()
@click.argument("policy_file", metavar="POLICY", type=click.Path(dir_okay=False))
@click.option(
    "--sample",
    "samples",
    multiple=True,
    required=True,
    metavar="EVENTS",
    help="Recorded events (files, .gz, directories, -); repeatable.",
)
@click.option("--budget", metavar="SIZE/day", help="Stop cutting once under this (e.g. 5GB/day).")
@click.option("-o", "--output", metavar="FILE", help="Write the proposed policy here.")
@kube_version_option
def tune(
    policy_file: str,
    samples: tuple[str, ...],
    budget: str | None,
    output: str | None,
    kube_version: str | None,
) -> int:
    """Propose a cheaper POLICY that still logs every attack it logs now.

    Tries the usual cuts — health checks, leases, kubelet status reports, kube-proxy
    and controller watches, OpenAPI downloads, list bodies, RequestReceived,
    managedFields — and keeps each only if it saves bytes on the sample and the
    coverage engine proves that no request of any attack technique, for any caller,
    is logged less than the technique needs. The proposal is your file with the new
    rules inserted first, each with a comment stating its saving.

    \b
    Example:
      kubetrail policy tune policy.yaml --sample audit.log.gz --budget 5GB/day -o tuned.yaml
    """
    from kubetrail.catalog.techniques import load_techniques
    from kubetrail.errors import InputError
    from kubetrail.ingest.read import ReadReport
    from kubetrail.policy.load import read_policy_bytes
    from kubetrail.policy.tune import parse_budget
    from kubetrail.policy.tune import tune as propose
    from kubetrail.policy.volume import Sample

    loaded = load_or_report(policy_file, kube_version)
    limit = parse_budget(budget) if budget else None
    report = ReadReport()
    events, sample = [], Sample()
    for event, size in _events(samples, report):
        events.append(event)
        sample.add(event, size)
    click.echo(report.summary(), err=True)
    if not events:
        raise InputError(f"no audit events in {', '.join(samples)}")
    text = read_policy_bytes(policy_file).decode("utf-8", errors="replace")
    proposal = propose(
        loaded, text, load_techniques(), events, seconds=sample.seconds(), budget=limit
    )
    for step in proposal.steps:
        mark = click.style("+", fg="green") if step.accepted else click.style("-", dim=True)
        saved = (
            f"saves {human_bytes(proposal.per_day(step.saved_bytes))}/day" if step.accepted else ""
        )
        click.echo(f"{mark} {step.candidate.name:<20} {saved or step.reason}", err=True)
    click.echo(
        f"volume: {human_bytes(proposal.per_day(proposal.before_bytes))}/day -> "
        f"{human_bytes(proposal.per_day(proposal.after_bytes))}/day; coverage "
        f"{proposal.before_percent:.0f}% -> {proposal.after_percent:.0f}%",
        err=True,
    )
    if limit is not None and proposal.per_day(proposal.after_bytes) > limit:
        click.echo(
            f"note: still above the budget of {budget}: no further cut is safe for detection",
            err=True,
        )
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(proposal.text)
    else:
        click.echo(proposal.text, nl=False)
    return 0
