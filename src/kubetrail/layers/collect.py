"""Collecting the other layers into the lake's tables (``kubetrail ingest --layer``)."""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Final

import msgspec

from kubetrail.errors import InputError, UsageError
from kubetrail.lake import tables
from kubetrail.lake.store import Lake
from kubetrail.layers.read import Item, Reader, file_lines, sniff

LAYERS: Final = {
    "container": "container_logs",
    "component": "component_logs",
    "events": "k8s_events",
}
_BATCH: Final = 50_000
_ROTATED: Final = re.compile(r"(\d+)\.log(?:\.(\d{8}-\d{6}))?(\.gz)?")


class LayerReport(msgspec.Struct):
    lines: int = 0
    records: int = 0
    rejected: list[tuple[str, int, str]] = []
    # Container streams that replay their file (cat-loop sidecars) and the lines dropped.
    replaying: list[str] = []
    replayed: int = 0
    stats: tables.WriteStats = msgspec.field(default_factory=tables.WriteStats)


def container_files(paths: Sequence[str]) -> list[str]:
    """Container log files, a container's oldest first: each path as given, or for a
    directory (``/var/log/pods``, a pod's, a container's) every ``<n>.log`` with its rotated
    siblings (``<n>.log.<time>[.gz]``; ``.tmp`` files are compressions in progress)."""
    out: list[str] = []
    for path in paths:
        if path == "-" or not os.path.isdir(path):
            if path != "-" and not os.path.exists(path):
                raise InputError("no such file or directory", path=path)
            out.append(path)
            continue
        found = []
        for file in Path(path).rglob("*"):
            match = _ROTATED.fullmatch(file.name)
            if match is None or not file.is_file():
                continue
            restart, stamp = int(match[1]), match[2]
            # Rotated copies before the live file; restarts in order.
            found.append((str(file.parent), restart, stamp is None, stamp or "", str(file)))
        out += [f for *_, f in sorted(found)]
    return out


def ingest(
    lake: Lake,
    layer: str,
    paths: Sequence[str],
    *,
    cluster: str,
    now: datetime,
    reference: datetime | None = None,
    zone: tzinfo = UTC,
    progress: Callable[[int], None] | None = None,
) -> LayerReport:
    """Read ``paths`` of one layer and store their records in its table, each once."""
    if layer not in LAYERS:
        raise UsageError(f"--layer {layer!r}: give audit, {', '.join(LAYERS)}")
    table = LAYERS[layer]
    reader = Reader(reference=reference or now, zone=zone)
    report = LayerReport()
    batch: list[dict[str, Any]] = []
    stored = tables.StoredKeys()  # read each partition's keys once, however many batches

    def flush() -> None:
        tables.write(
            lake, table, batch, cluster=cluster, now=now, stats=report.stats, stored=stored
        )
        batch.clear()
        if progress is not None:
            progress(report.records)

    def take(items: Any, to_row: Callable[[dict[str, Any], str], dict[str, Any]]) -> None:
        for item in items:
            assert isinstance(item, Item)
            if item.record is None:
                report.rejected.append((item.path, item.line, str(item.reason)))
                continue
            report.records += 1
            batch.append(to_row(item.record, f"{item.path}:{item.line}"))
            if len(batch) >= _BATCH:
                flush()

    if layer == "container":
        from kubetrail.layers.container import ReplayFilter

        replays = ReplayFilter()

        def once(items: Any) -> Any:
            for item in items:
                if item.record is None:
                    yield item
                    continue
                for record in replays.add(item.record):
                    yield Item(item.path, item.line, record=record)
            for record in replays.flush():
                yield Item("-", 0, record=record)

        for fmt, group in _by_format(container_files(paths)):
            take(once(reader.items(fmt, group)), tables.container_row)
        report.replaying = replays.labels()
        report.replayed = sum(replays.dropped.values())
    elif layer == "events":
        take(reader.items("event", list(paths)), tables.event_row)
    else:
        with tempfile.TemporaryDirectory(prefix="kubetrail-") as spool:
            for path in paths:
                readable = path
                if path == "-":  # stdin is read once: kept aside to tell its format first
                    readable = os.path.join(spool, "stdin")
                    with open(readable, "wb") as fh:
                        shutil.copyfileobj(sys.stdin.buffer, fh)
                fmt = sniff(readable)

                def row(
                    record: dict[str, Any],
                    source: str,
                    fmt: str = fmt,
                    spooled: str | None = readable if readable != path else None,
                ) -> dict[str, Any]:
                    if spooled is not None and source.startswith(spooled + ":"):
                        source = "-" + source[len(spooled) :]  # stdin, as the user said
                    return tables.component_row(
                        record, fmt, source, reference=reader.reference, zone=zone
                    )

                take(reader.items(fmt, [readable]), row)
    flush()
    report.lines = reader.lines
    return report


def _by_format(files: list[str]) -> list[tuple[str, list[str]]]:
    """Runs of files in one format (CRI, or Docker json-file by its first character)."""
    runs: list[tuple[str, list[str]]] = []
    for path in files:
        fmt = "cri"
        if path != "-":
            for _, line in file_lines(path):
                fmt = "docker" if line.lstrip().startswith("{") else "cri"
                break
        if runs and runs[-1][0] == fmt:
            runs[-1][1].append(path)
        else:
            runs.append((fmt, [path]))
    return runs
