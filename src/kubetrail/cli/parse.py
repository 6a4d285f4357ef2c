"""``kubetrail parse``: log lines of the other layers as JSON records (a stable shape)."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import click

FORMATS = ("cri", "docker", "klog", "journald", "syslog", "gke", "aks", "eks", "event")


def _lines(path: str) -> Iterator[tuple[int, str]]:
    """(number, line without its terminator) of a file, ``-`` or a .gz (by magic bytes);
    bytes that are not UTF-8 become U+FFFD."""
    with contextlib.ExitStack() as stack:
        raw: Iterable[bytes] = sys.stdin.buffer
        if path != "-":
            handle = stack.enter_context(open(path, "rb"))
            gzipped = handle.peek(2)[:2] == b"\x1f\x8b"
            raw = stack.enter_context(gzip.open(handle)) if gzipped else handle
        for number, data in enumerate(raw, start=1):
            yield number, data.decode("utf-8", errors="replace").removesuffix("\n")


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
    from kubetrail.layers import container

    out = sys.stdout
    rejected_out = open(rejects, "w", encoding="utf-8") if rejects else None  # noqa: SIM115
    counts = {"records": 0, "rejected": 0, "lines": 0}

    def emit(record: dict[str, Any]) -> None:
        counts["records"] += 1
        out.write(json.dumps(record, ensure_ascii=False) + "\n")

    def reject(path: str, number: int, reason: str) -> None:
        counts["rejected"] += 1
        if rejected_out is not None:
            rejected_out.write(json.dumps({"file": path, "line": number, "reason": reason}) + "\n")
        else:
            click.echo(f"{path}:{number}: {reason}", err=True)

    try:
        if fmt in ("cri", "docker"):
            joiner = container.Reassembler()
            parse_line = container.parse_cri if fmt == "cri" else container.parse_docker
            for path in paths:
                # The real path: /var/log/containers links point into /var/log/pods.
                pod = container.pod_fields(os.path.realpath(path)) if path != "-" else {}
                for number, line in _lines(path):
                    counts["lines"] += 1
                    try:
                        parsed = parse_line(line)
                    except container.Rejected as exc:
                        reject(path, number, str(exc))
                        continue
                    for record in joiner.add(parsed, pod):
                        emit(record)
            for record in joiner.flush():
                emit(record)
        elif fmt == "event":
            from kubetrail.layers import events

            seen = events.Occurrences()
            for path in paths:
                for number, doc in _documents(path, counts):
                    try:
                        found = [events.normalise(o) for o in events.objects(doc)]
                    except container.Rejected as exc:
                        reject(path, number, str(exc))
                        continue
                    for record in found:
                        if seen.new(record):  # each occurrence once, however often it came
                            emit(record)
        elif fmt in ("gke", "aks", "eks"):
            from kubetrail.ingest.envelopes import Skipped, unwrap

            keys: set[str] = set()
            for path in paths:
                for number, doc in _documents(path, counts):
                    if doc is None:
                        reject(path, number, "not JSON")
                        continue
                    for item in unwrap(doc):
                        if isinstance(item, Skipped):
                            reject(path, number, item.reason)
                        elif item.envelope != fmt:
                            reject(path, number, f"not a {fmt.upper()} envelope")
                        elif item.dedup_key is None or item.dedup_key not in keys:
                            # (AKS routes admin events to two categories: emitted once)
                            if item.dedup_key is not None:
                                keys.add(item.dedup_key)
                            emit({"envelope": fmt, "event": item.event, "meta": item.meta})
        else:
            parse_one = _line_parser(fmt, reference_time, zone_name)
            for path in paths:
                numbered = list(_lines(path))
                counts["lines"] += len(numbered)
                for number, result in parse_one(numbered):
                    if isinstance(result, container.Rejected):
                        reject(path, number, str(result))
                    else:
                        emit(result)
    finally:
        if rejected_out is not None:
            rejected_out.close()
    click.echo(
        f"{counts['lines']:,} lines: {counts['records']:,} records, "
        f"{counts['rejected']:,} rejected",
        err=True,
    )
    return 0


def _line_parser(fmt: str, reference_time: str | None, zone_name: str) -> Any:
    """numbered lines -> (number, record | Rejected) for klog, journald and syslog."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from kubetrail.errors import UsageError
    from kubetrail.layers import klog, system
    from kubetrail.layers.container import Rejected

    if fmt == "klog":
        return klog.records
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

    def one(line: str) -> dict[str, Any]:
        if fmt == "syslog":
            return system.syslog(line, reference=reference, zone=zone)
        try:
            entry = json.loads(line)
        except ValueError as exc:
            raise Rejected(f"not JSON: {exc}") from None
        return system.journal(entry)

    def run(numbered: list[tuple[int, str]]) -> Iterator[tuple[int, Any]]:
        def each() -> Iterator[tuple[int, Any]]:
            for number, line in numbered:
                if not line.strip():
                    continue
                try:
                    yield number, one(line)
                except Rejected as exc:
                    yield number, exc

        return system.join_continuations(each())

    return run


def _documents(path: str, counts: dict[str, int]) -> Iterator[tuple[int, Any]]:
    """(line number, JSON document) of a file: one document (kubectl -o json), or one a line
    (JSON lines, a watch stream); a line that is not JSON gives (number, None)."""
    numbered = list(_lines(path))
    counts["lines"] += len(numbered)
    text = "\n".join(line for _, line in numbered)
    try:
        yield 1, json.loads(text)
        return
    except ValueError:
        pass
    for number, line in numbered:
        if line.strip():
            try:
                yield number, json.loads(line)
            except ValueError:
                yield number, None
