"""``kubetrail detect`` and ``kubetrail detections``: Sigma rules over audit logs and the lake."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from kubetrail.cli.lake import LAKE_OPTION, engine_options, open_lake_engine
from kubetrail.detect.export import TARGETS

_LEVELS = ["informational", "low", "medium", "high", "critical"]


def _packs(rules: tuple[str, ...]) -> list[str] | None:
    """--rules, else ``rule_packs`` of kubetrail.toml, else None (the bundled pack)."""
    if rules:
        return list(rules)
    from kubetrail.config import load_config

    return list(load_config().rule_packs) or None


def _load(rules: tuple[str, ...]) -> tuple[Any, Any]:
    """(rules, correlation rules) of the packs; problems said on stderr."""
    from kubetrail.detect.rules import load_pack

    loaded, correlations, problems = load_pack(_packs(rules))
    for problem in problems:
        click.echo(f"{problem.path}: {problem.message}", err=True)
    return loaded, correlations


_RULES = click.option(
    "--rules",
    multiple=True,
    metavar="PACK",
    help="Sigma rule files or directories (repeat; default: rule_packs in kubetrail.toml, "
    "else the bundled pack).",
)


@click.command()
@click.argument("paths", metavar="[EVENTS]...", nargs=-1)
@LAKE_OPTION
@click.option("--since", metavar="WHEN", help="With --lake: 1h, 2d back from now, or RFC 3339.")
@engine_options
@_RULES
@click.option(
    "--min-level",
    type=click.Choice(_LEVELS),
    default="low",
    show_default=True,
    help="Report findings of this level and above.",
)
@click.option(
    "--exceptions",
    multiple=True,
    metavar="PATH",
    help="Sigma filter files (or directories) with owner, reason and expires that silence "
    "rules for known behaviour (docs/detections.md).",
)
@click.option(
    "--fail-on",
    type=click.Choice(_LEVELS),
    help="Exit 1 when a finding of this level or above is reported (for CI and cron).",
)
@click.option(
    "--format",
    "-o",
    "fmt",
    type=click.Choice(["sentences", "json", "jsonl", "sarif"]),
    default="sentences",
    show_default=True,
    help="sentences for people; json (one array) or jsonl (one finding per line) for "
    "machines; sarif (2.1.0) for code-scanning dashboards.",
)
def detect(
    paths: tuple[str, ...],
    lake: str | None,
    since: str | None,
    rules: tuple[str, ...],
    min_level: str,
    exceptions: tuple[str, ...],
    fail_on: str | None,
    fmt: str,
    engine: str,
    spark_master: str | None,
    spark_conf: tuple[str, ...],
) -> int:
    """Run Sigma detection rules over audit logs (EVENTS) or the lake (--lake).

    Rules are Sigma (logsource product kubernetes, service audit) with fields
    named as in audit events (objectRef.resource, requestObject.spec...). A rule
    that reads a body the event does not carry (logged at Metadata) does not
    fire, negations included. Each rule fires once per request.

    \b
    Examples:
      kubetrail detect /var/log/kubernetes/audit/audit.log
      kubetrail detect --lake ./lake --since 24h --min-level high -o jsonl
      kubetrail detect audit.log --rules ./my-rules --fail-on high
    """
    from datetime import UTC, datetime

    import msgspec

    from kubetrail.detect.engine import detect as run_detect
    from kubetrail.detect.engine import file_events, lake_events
    from kubetrail.errors import UsageError
    from kubetrail.ingest.read import ReadReport, expand_paths

    if bool(paths) == bool(lake):
        raise UsageError("give audit log files (EVENTS...) or --lake DIR, not both")
    if since and not lake:
        raise UsageError("--since goes with --lake (for files, select the files)")
    from kubetrail.detect.engine import DetectStats
    from kubetrail.detect.exceptions import load_exceptions

    loaded, correlations = _load(rules)
    today = datetime.now(UTC).date()
    silences, problems = load_exceptions(exceptions)
    for problem in problems:
        click.echo(f"{problem.path}: {problem.message}", err=True)
    for expired in (x for x in silences if x.expires <= today):
        click.echo(
            f"{expired.path}: exception expired on {expired.expires} (owner {expired.owner}); "
            "ignored",
            err=True,
        )
    stats = DetectStats()
    report = ReadReport()
    if (engine != "duckdb" or spark_master or spark_conf) and not lake:
        raise UsageError("--engine and --spark-* go with --lake (files are read by kubetrail)")
    lake_engine = None
    if lake:
        from kubetrail.query.search import parse_time

        lake_engine = open_lake_engine(lake, engine, spark_master, spark_conf)
        start = parse_time(since, datetime.now(UTC)) if since else None
        # The engine selects the rows a rule may fire on; the matcher decides on those.
        events = lake_events(lake_engine, start, rules=loaded)
    else:
        events = file_events(expand_paths(paths), report, stdin=sys.stdin.buffer)
    counts: dict[str, int] = {}
    found: list[Any] = []  # for -o json and sarif: one document at the end
    worst = -1
    try:
        for finding in run_detect(
            loaded,
            events,
            min_level=min_level,
            exceptions=silences,
            today=today,
            stats=stats,
            correlations=correlations,
        ):
            counts[finding.level] = counts.get(finding.level, 0) + 1
            worst = max(worst, _LEVELS.index(finding.level))
            if fmt == "sentences":
                click.echo(f"{finding.level.upper():<8} {finding.rule}: {finding.sentence}")
            elif fmt == "sarif":
                found.append(finding)
            else:
                found.append(msgspec.to_builtins(finding))
                if fmt == "jsonl":
                    click.echo(json.dumps(found.pop(), ensure_ascii=False))
    finally:
        if lake_engine is not None:
            lake_engine.close()
    if fmt == "json":
        sys.stdout.write(json.dumps(found, ensure_ascii=False) + "\n")
    elif fmt == "sarif":
        from kubetrail import __version__
        from kubetrail.detect.sarif import sarif

        log = sarif(found, loaded, correlations, version=__version__)
        sys.stdout.write(json.dumps(log, ensure_ascii=False, indent=1) + "\n")
    if not lake:
        click.echo(report.summary(), err=True)
    total = sum(counts.values())
    said = ", ".join(f"{counts[lv]} {lv}" for lv in reversed(_LEVELS) if lv in counts)
    click.echo(
        f"{total} finding(s) from {len(loaded)} rule(s) and {len(correlations)} correlation(s)"
        + (f": {said}" if said else ""),
        err=True,
    )
    for silence in silences:
        if stats.silenced.get(silence.id):
            click.echo(
                f"  {stats.silenced[silence.id]} silenced by {silence.title!r} "
                f"({silence.owner}, until {silence.expires})",
                err=True,
            )
    if fail_on and worst >= _LEVELS.index(fail_on):
        return 1
    return 0


@click.group(name="detections")
def detections() -> None:
    """The detection rules: list them, or export them for a SIEM."""


@detections.command(name="list")
@_RULES
@click.option(
    "--format", "-o", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def list_rules(rules: tuple[str, ...], fmt: str) -> int:
    """The loaded rules and correlation rules: name, level, techniques, title."""
    loaded, correlations = _load(rules)
    if fmt == "json":
        docs = [
            {
                "name": r.name,
                "id": r.id,
                "title": r.title,
                "level": r.level,
                "techniques": list(r.techniques),
                "attack": list(r.attack),
                "fields": list(r.fields),
                "path": r.path,
            }
            for r in loaded
        ]
        sys.stdout.write(json.dumps(docs, indent=2) + "\n")
        return 0
    width = max([4] + [len(r.name) for r in loaded])
    click.echo(f"{'NAME':<{width}}  {'LEVEL':<8}  TECHNIQUES / TITLE")
    for r in sorted(loaded, key=lambda r: (-_LEVELS.index(r.level), r.name)):
        click.echo(f"{r.name:<{width}}  {r.level:<8}  {', '.join(r.techniques)} — {r.title}")
    for c in sorted(correlations, key=lambda c: (-_LEVELS.index(c.level), c.name)):
        over = f"{c.type} over {', '.join(c.rules)}"
        click.echo(f"{c.name:<{width}}  {c.level:<8}  {over} — {c.title}")
    covered = sorted({t for r in [*loaded, *correlations] for t in r.techniques})
    click.echo(
        f"{len(loaded)} rules and {len(correlations)} correlations covering {len(covered)} "
        "catalogue techniques",
        err=True,
    )
    return 0


@detections.command(name="export")
@click.option(
    "--target",
    required=True,
    type=click.Choice(TARGETS),
    help="splunk: SPL over audit events indexed as JSON; elasticsearch (Lucene), eql, esql: "
    "Elastic's Kubernetes integration (fields under kubernetes.audit.*).",
)
@click.argument("packs", metavar="[PACK]...", nargs=-1)
@click.option(
    "--format",
    "-o",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: each query under a comment naming its rule; json: one array of "
    "{rule, id, title, level, queries, error}.",
)
def export_rules(target: str, packs: tuple[str, ...], fmt: str) -> int:
    """Convert the rules (PACK, default: rule_packs in kubetrail.toml, else the bundled
    pack) into queries for a SIEM, with pySigma's backends.

    A SIEM evaluates queries in two-valued logic: a condition on a body the event
    lacks is false there, so its negation is true. kubetrail's own detection keeps
    such conditions unknown; the exported queries cannot.

    \b
    Examples:
      kubetrail detections export --target splunk
      kubetrail detections export --target esql ./my-rules -o json
    """
    from kubetrail.detect.export import export

    results = export(target, _packs(packs) or [])
    failed = [r for r in results if r.error]
    if fmt == "json":
        import msgspec

        sys.stdout.write(json.dumps(msgspec.to_builtins(results), indent=2) + "\n")
    else:
        for r in results:
            if r.error:
                continue
            click.echo(f"# {r.rule} ({r.level}): {r.title}")
            for query in r.queries:
                click.echo(query)
            click.echo()
    for r in failed:
        click.echo(f"{r.rule}: not converted: {r.error}", err=True)
    click.echo(
        f"{len(results) - len(failed)} of {len(results)} rules converted for {target}", err=True
    )
    return 0


def live_options(func: Any) -> Any:
    """--detect and its settings, for follow and serve."""
    for option in reversed(
        [
            click.option(
                "--detect",
                "detect_live",
                is_flag=True,
                help="Run the detection rules on every event taken in: alerts to the "
                "--alert-to sinks, JSON lines on stdout by default (rate-limited per rule).",
            ),
            click.option(
                "--rules", "live_rules", multiple=True, metavar="PACK", help="With --detect."
            ),
            click.option(
                "--min-level",
                "live_min_level",
                type=click.Choice(_LEVELS),
                default="medium",
                show_default=True,
                help="With --detect: the lowest level alerted.",
            ),
            click.option(
                "--exceptions",
                "live_exceptions",
                multiple=True,
                metavar="PATH",
                help="With --detect: exceptions (Sigma filters).",
            ),
            click.option(
                "--alert-to",
                "alert_to",
                multiple=True,
                metavar="SINK",
                help="With --detect, repeatable (default stdout): stdout, webhook+URL, "
                "slack+URL, falcosidekick+URL, syslog+udp://HOST:PORT, "
                "syslog+tcp://HOST:PORT.",
            ),
            click.option(
                "--alert-token-file",
                "alert_token_file",
                metavar="FILE",
                help="With webhook sinks: a bearer token, read from FILE.",
            ),
            click.option(
                "--alert-ca",
                "alert_ca",
                metavar="FILE",
                help="With https sinks: the CA bundle that signed their certificates.",
            ),
        ]
    ):
        func = option(func)
    return func


def live_alerts(
    *,
    detect_live: bool,
    live_rules: tuple[str, ...],
    live_min_level: str,
    live_exceptions: tuple[str, ...],
    alert_to: tuple[str, ...],
    alert_token_file: str | None,
    alert_ca: str | None,
) -> Any:
    """The observer that turns events into alerts for the sinks, or None without --detect."""
    from kubetrail.errors import UsageError

    rules, exceptions = live_rules, live_exceptions
    if not detect_live:
        if rules or exceptions or alert_to or alert_token_file or alert_ca:
            raise UsageError("--rules, --exceptions and --alert-* go with --detect")
        return None
    import time
    from datetime import UTC, datetime

    from kubetrail.detect.engine import Detector
    from kubetrail.detect.exceptions import load_exceptions
    from kubetrail.detect.live import LiveAlerts

    silences, problems = load_exceptions(exceptions)
    for problem in problems:
        click.echo(f"{problem.path}: {problem.message}", err=True)
    loaded, correlations = _load(rules)
    detector = Detector(
        loaded,
        correlations=correlations,
        min_level=live_min_level,
        exceptions=silences,
        today=lambda: datetime.now(UTC).date(),
        memory=200_000,
    )

    def write(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    from kubetrail.detect.sinks import open_sink

    token = None
    if alert_token_file:
        try:
            with open(alert_token_file, encoding="utf-8") as fh:
                token = fh.read().strip()
        except OSError as exc:
            raise UsageError(f"--alert-token-file: {exc}") from exc
    sinks = [
        open_sink(spec, write, token=token, ca_file=alert_ca) for spec in alert_to or ("stdout",)
    ]
    return LiveAlerts(detector, sinks, clock=time.time)
