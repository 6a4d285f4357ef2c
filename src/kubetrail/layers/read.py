"""Reading the other layers' files: every format of ``kubetrail parse`` as one stream of
(path, line, record or rejection), for the CLI and for ingest alike."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any, Final

import msgspec

from kubetrail.errors import InputError
from kubetrail.layers import container, events, klog, system
from kubetrail.layers.container import Rejected

FORMATS: Final = ("cri", "docker", "klog", "journald", "syslog", "gke", "aks", "eks", "event")


class Item(msgspec.Struct, frozen=True):
    """A record of ``path`` (first line ``line``), or the reason the line was rejected."""

    path: str
    line: int
    record: dict[str, Any] | None = None
    reason: str | None = None


def file_lines(path: str) -> Iterator[tuple[int, str]]:
    """(number, line without its terminator) of a file, ``-`` or a .gz (by magic bytes);
    bytes that are not UTF-8 become U+FFFD."""
    with contextlib.ExitStack() as stack:
        raw: Iterable[bytes] = sys.stdin.buffer
        try:
            if path != "-":
                handle = stack.enter_context(open(path, "rb"))
                gzipped = handle.peek(2)[:2] == b"\x1f\x8b"
                raw = stack.enter_context(gzip.open(handle)) if gzipped else handle
            for number, data in enumerate(raw, start=1):
                yield number, data.decode("utf-8", errors="replace").removesuffix("\n")
        except (OSError, EOFError) as exc:  # missing, unreadable, a damaged .gz
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise InputError(f"cannot read: {reason}", path=path) from exc


def sniff(path: str) -> str:
    """The component-log format of a file by its first non-empty line: journald, klog
    (text or JSON) or syslog."""
    for _, line in file_lines(path):
        text = line.strip()
        if not text:
            continue
        if text.startswith("{"):
            return "journald" if "__REALTIME_TIMESTAMP" in text else "klog"
        if klog.is_header(text) or text.startswith("Log file created at: "):
            return "klog"
        return "syslog"
    return "klog"


class Reader:
    """Reads files of one format; ``lines`` counts the physical lines read."""

    def __init__(self, *, reference: datetime | None = None, zone: tzinfo = UTC) -> None:
        self.reference = reference or datetime.now(UTC)
        self.zone = zone
        self.lines = 0

    def _numbered(self, path: str) -> list[tuple[int, str]]:
        numbered = list(file_lines(path))
        self.lines += len(numbered)
        return numbered

    def items(self, fmt: str, paths: Sequence[str]) -> Iterator[Item]:
        if fmt in ("cri", "docker"):
            yield from self._container(fmt, paths)
        elif fmt == "event":
            yield from self._events(paths)
        elif fmt in ("gke", "aks", "eks"):
            yield from self._envelopes(fmt, paths)
        else:
            for path in paths:
                for number, result in self._component(fmt, self._numbered(path)):
                    if isinstance(result, Rejected):
                        yield Item(path, number, reason=str(result))
                    else:
                        yield Item(path, number, record=result)

    def _container(self, fmt: str, paths: Sequence[str]) -> Iterator[Item]:
        joiner = container.Reassembler()
        parse_line = container.parse_cri if fmt == "cri" else container.parse_docker
        for path in paths:
            # The real path: /var/log/containers links point into /var/log/pods.
            pod = container.pod_fields(os.path.realpath(path)) if path != "-" else {}
            for number, line in file_lines(path):
                self.lines += 1
                try:
                    parsed = parse_line(line)
                except Rejected as exc:
                    yield Item(path, number, reason=str(exc))
                    continue
                for record in joiner.add(parsed, pod):
                    yield Item(path, number, record=record)
        for record in joiner.flush():
            yield Item(paths[-1] if paths else "-", 0, record=record)

    def _component(self, fmt: str, numbered: list[tuple[int, str]]) -> Iterator[tuple[int, Any]]:
        if fmt == "klog":
            yield from klog.records(numbered)
            return

        def each() -> Iterator[tuple[int, Any]]:
            for number, line in numbered:
                if not line.strip():
                    continue
                try:
                    if fmt == "syslog":
                        yield number, system.syslog(line, reference=self.reference, zone=self.zone)
                    else:
                        try:
                            entry = json.loads(line)
                        except ValueError as exc:
                            raise Rejected(f"not JSON: {exc}") from None
                        yield number, system.journal(entry)
                except Rejected as exc:
                    yield number, exc

        yield from system.join_continuations(each())

    def _documents(self, path: str) -> Iterator[tuple[int, Any]]:
        """(line number, JSON document) of a file: one document (kubectl -o json), or one a
        line (JSON lines, a watch stream); a line that is not JSON gives (number, None)."""
        numbered = self._numbered(path)
        try:
            yield 1, json.loads("\n".join(line for _, line in numbered))
            return
        except ValueError:
            pass
        for number, line in numbered:
            if line.strip():
                try:
                    yield number, json.loads(line)
                except ValueError:
                    yield number, None

    def _events(self, paths: Sequence[str]) -> Iterator[Item]:
        seen = events.Occurrences()
        for path in paths:
            for number, doc in self._documents(path):
                try:
                    found = [events.normalise(o) for o in events.objects(doc)]
                except Rejected as exc:
                    yield Item(path, number, reason=str(exc))
                    continue
                for record in found:
                    if seen.new(record):  # each occurrence once, however often it came
                        yield Item(path, number, record=record)

    def _envelopes(self, fmt: str, paths: Sequence[str]) -> Iterator[Item]:
        from kubetrail.ingest.envelopes import Skipped, unwrap

        keys: set[str] = set()
        for path in paths:
            for number, doc in self._documents(path):
                if doc is None:
                    yield Item(path, number, reason="not JSON")
                    continue
                for item in unwrap(doc):
                    if isinstance(item, Skipped):
                        yield Item(path, number, reason=item.reason)
                    elif item.envelope != fmt:
                        yield Item(path, number, reason=f"not a {fmt.upper()} envelope")
                    elif item.dedup_key is None or item.dedup_key not in keys:
                        # (AKS routes admin events to two categories: emitted once)
                        if item.dedup_key is not None:
                            keys.add(item.dedup_key)
                        record = {"envelope": fmt, "event": item.event, "meta": item.meta}
                        yield Item(path, number, record=record)
