"""``kubetrail report``: the single-file HTML report."""

from __future__ import annotations

import sys
from typing import Any

import click

from kubetrail.cli.lake import LAKE_OPTION, engine_options, open_lake_engine
from kubetrail.cli.policy import kube_version_option, load_or_report, parse_version


@click.command()
@click.argument("policies", metavar="POLICY...", nargs=-1, required=True)
@click.option(
    "--sample",
    "samples",
    multiple=True,
    metavar="EVENTS",
    help="Recorded events (files, .gz, directories): adds volume and detections.",
)
@LAKE_OPTION
@click.option("--since", metavar="WHEN", help="With --lake: 1h, 2d back from now, or RFC 3339.")
@engine_options
@click.option(
    "-o",
    "--output",
    default="report.html",
    show_default=True,
    metavar="FILE",
    help="Where to write the report (- for stdout).",
)
@kube_version_option
def report(
    policies: tuple[str, ...],
    samples: tuple[str, ...],
    lake: str | None,
    since: str | None,
    engine: str,
    spark_master: str | None,
    spark_conf: tuple[str, ...],
    output: str,
    kube_version: str | None,
) -> int:
    """Write one self-contained HTML file about POLICIES, to look at and attach.

    Coverage as a matrix of attack techniques by tactic (covered, partial,
    missed, unsafe; each cell opens to its requests; a toggle for one kind of
    caller), lint findings with the policy marked in the margin, and — with
    --sample or --lake — volume per rule (bars), top users, the rotation
    forecast, and a timeline of detections with their sentences. Several
    policies are shown side by side. The file makes no network request: it
    works offline and from an email.

    \b
    Examples:
      kubetrail report policy.yaml -o report.html
      kubetrail report current.yaml proposed.yaml --sample audit.log.gz -o change.html
      kubetrail report policy.yaml --lake ./lake --since 7d
    """
    from datetime import UTC, datetime

    from kubetrail import __version__
    from kubetrail.catalog.techniques import load_techniques
    from kubetrail.errors import InputError, UsageError
    from kubetrail.policy.coverage import coverage
    from kubetrail.policy.lint.registry import RULES as LINT_RULES
    from kubetrail.policy.lint.runner import lint_bytes
    from kubetrail.policy.load import read_policy_bytes
    from kubetrail.report.html import PolicyReport, render

    if samples and lake:
        raise UsageError("give --sample EVENTS or --lake DIR, not both")
    if since and not lake:
        raise UsageError("--since goes with --lake")
    now = datetime.now(UTC)
    version = parse_version(kube_version)
    catalogue = load_techniques()
    # Each file read once: what is hashed, linted and evaluated is the same bytes.
    texts = [read_policy_bytes(p) for p in policies]
    loaded = [load_or_report(p, kube_version, data=d) for p, d in zip(policies, texts, strict=True)]
    sample = volume = detections = None
    estimated = False
    if samples or lake:
        volume, detections, estimated = _events(
            loaded, samples, lake, since, now, (engine, spark_master, spark_conf)
        )
        sample = volume.sample
        if not sample.events:
            raise InputError("no audit events in the events given")
    reports = [
        PolicyReport(
            source=policy.source,
            data=data,
            coverage=coverage(policy.policy, catalogue, source=policy.source),
            lint=lint_bytes(data, source=policy.source, rules=LINT_RULES, kube_version=version),
            volume=volume.policies[i] if volume is not None else None,
        )
        for i, (policy, data) in enumerate(zip(loaded, texts, strict=True))
    ]
    html = render(
        reports,
        now=now,
        version=__version__,
        sample=sample,
        estimated=estimated,
        detections=detections,
    )
    if output == "-":
        sys.stdout.write(html)
    else:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(html)
        click.echo(f"wrote {output} ({len(html.encode()):,} bytes)", err=True)
    return 0


def _events(
    loaded: list[Any],
    samples: tuple[str, ...],
    lake: str | None,
    since: str | None,
    now: Any,
    engine: tuple[str, str | None, tuple[str, ...]],
) -> tuple[Any, list[Any], bool]:
    """(volume report, detection rows, estimated) for the events of --sample or --lake."""
    from kubetrail.cli.simulate import _events as sample_events
    from kubetrail.detect.engine import detect, file_events, lake_events
    from kubetrail.detect.rules import load_pack
    from kubetrail.ingest.read import ReadReport, expand_paths
    from kubetrail.policy.volume import lake_sample, measure
    from kubetrail.query.search import parse_time
    from kubetrail.report.html import DetectionRow

    rules, correlations, _ = load_pack()
    if lake:
        start = parse_time(since, now) if since else None
        eng = open_lake_engine(lake, *engine)
        try:
            volume = measure(loaded, lake_sample(eng, start))
            found = list(
                detect(
                    rules,
                    lake_events(eng, start, rules=rules),
                    correlations=correlations,
                    min_level="low",
                )
            )
        finally:
            eng.close()
    else:
        paths = expand_paths(list(samples))
        volume = measure(loaded, sample_events(tuple(paths), ReadReport()))
        found = list(
            detect(
                rules,
                file_events(paths, ReadReport()),
                correlations=correlations,
                min_level="low",
            )
        )
    rows = [
        DetectionRow(
            rule=f.rule,
            title=f.title,
            level=f.level,
            received_at=f.received_at,
            sentence=f.sentence,
        )
        for f in found
    ]
    return volume, rows, bool(lake)
