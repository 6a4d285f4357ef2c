"""``kubetrail parse``: log lines of the other layers as JSON records (a stable shape)."""

from __future__ import annotations

import contextlib
import json
import sys

import click

from kubetrail.layers.read import FORMATS


@click.command("parse")
@click.argument("paths", metavar="FILE...|-", nargs=-1, required=True)
@click.option(
    "--as",
    "fmt",
    type=click.Choice(FORMATS),
    required=True,
    help="cri: containerd/CRI-O container logs (/var/log/pods); docker: json-file; "
    "klog: component logs (klog text or --logging-format=json); journald: journalctl -o "
    "json; syslog: syslog-style text (journalctl -o short[-iso], rsyslog); gke, aks, eks: "
    "audit events in their cloud log envelopes; event: "
    "Kubernetes Events (kubectl get events -o json, JSON lines, or a watch stream).",
)
@click.option(
    "--reference-time",
    metavar="RFC3339",
    help="syslog: the time that decides a line's missing year (default: now).",
)
@click.option(
    "--timezone",
    "zone_name",
    default="UTC",
    show_default=True,
    metavar="ZONE",
    help="syslog: the zone of times that have none (e.g. Europe/Paris).",
)
@click.option(
    "--rejects",
    metavar="FILE",
    help="Write rejected lines here as JSON lines (file, line, reason) instead of stderr.",
)
def parse(
    paths: tuple[str, ...],
    fmt: str,
    rejects: str | None,
    reference_time: str | None,
    zone_name: str,
) -> int:
    """Parse log lines of the layers beside the audit log into JSON records.

    stdout carries the records only, one JSON object a line; rejected lines go to
    stderr (or --rejects FILE) with their number and reason, then a summary.
    Container lines are reassembled: fragments (CRI tag P, or a json-file "log"
    without its newline) are joined per pod, container, restart and stream, with
    the first fragment's time, across the files given in order (a rotated
    0.log.<time> then 0.log); fragments never completed come out at the end with
    "partial": true. Pod fields come from /var/log/pods/<ns>_<pod>_<uid>/<c>/<n>.log
    paths. klog continuation lines (TAB, or " >") join their record, in journald
    and syslog input too (same pid and stream). journald and syslog records carry
    the klog message parsed ("klog", or null). syslog lines without a year take
    --reference-time's, or the year before when that would put them more than
    two days later. Events (either API version) become one record per
    occurrence ("occurrence_key" uid:count), each emitted once. gke, aks and eks
    give {"envelope", "event": the audit.k8s.io/v1 Event, "meta": what the
    envelope adds}, never fields the envelope lacks; an event an envelope repeats
    (AKS's kube-audit and kube-audit-admin) once.

    \b
    Examples:
      kubetrail parse --as cri /var/log/pods/default_web-1_*/nginx/0.log
      journalctl -u kubelet -o cat | kubetrail parse --as klog - | jq .kv
      journalctl -u kubelet -o json | kubetrail parse --as journald -
      kubetrail parse --as syslog /var/log/syslog --timezone Europe/Paris
      kubectl get events -A -o json | kubetrail parse --as event -
    """
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from kubetrail.errors import UsageError
    from kubetrail.layers.read import Reader

    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--timezone {zone_name!r}: not a time zone (e.g. UTC)") from None
    reference = datetime.now(UTC)
    if reference_time:
        try:
            reference = datetime.fromisoformat(reference_time.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"--reference-time {reference_time!r}: give RFC 3339") from None
        if reference.tzinfo is None:
            reference = reference.replace(tzinfo=zone)
    reader = Reader(reference=reference, zone=zone)
    out = sys.stdout
    records = rejected = 0
    with contextlib.ExitStack() as stack:
        rejected_out = (
            stack.enter_context(open(rejects, "w", encoding="utf-8")) if rejects else None
        )
        for item in reader.items(fmt, paths):
            if item.record is not None:
                records += 1
                out.write(json.dumps(item.record, ensure_ascii=False) + "\n")
                continue
            rejected += 1
            if rejected_out is not None:
                doc = {"file": item.path, "line": item.line, "reason": item.reason}
                rejected_out.write(json.dumps(doc) + "\n")
            else:
                click.echo(f"{item.path}:{item.line}: {item.reason}", err=True)
    click.echo(f"{reader.lines:,} lines: {records:,} records, {rejected:,} rejected", err=True)
    return 0
