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

FORMATS = ("cri", "docker", "klog")


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
    "klog: component logs (klog text or --logging-format=json).",
)
@click.option(
    "--rejects",
    metavar="FILE",
    help="Write rejected lines here as JSON lines (file, line, reason) instead of stderr.",
)
def parse(paths: tuple[str, ...], fmt: str, rejects: str | None) -> int:
    """Parse log lines of the layers beside the audit log into JSON records.

    stdout carries the records only, one JSON object a line; rejected lines go to
    stderr (or --rejects FILE) with their number and reason, then a summary.
    Container lines are reassembled: fragments (CRI tag P, or a json-file "log"
    without its newline) are joined per pod, container, restart and stream, with
    the first fragment's time, across the files given in order (a rotated
    0.log.<time> then 0.log); fragments never completed come out at the end with
    "partial": true. Pod fields come from /var/log/pods/<ns>_<pod>_<uid>/<c>/<n>.log
    paths. klog continuation lines (TAB, or " >") join their record.

    \b
    Examples:
      kubetrail parse --as cri /var/log/pods/default_web-1_*/nginx/0.log
      journalctl -u kubelet -o cat | kubetrail parse --as klog - | jq .kv
    """
    from kubetrail.layers import container, klog

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
        else:
            for path in paths:
                numbered = list(_lines(path))
                counts["lines"] += len(numbered)
                for number, result in klog.records(numbered):
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
