"""Container logs: the CRI format (containerd, CRI-O) and Docker's json-file, with partial lines
reassembled — the rules of ``../shared/research/layers-spec.md`` §1.

A parsed line is a :class:`Line`; :class:`Reassembler` joins the fragments of one logical line
per key (pod UID, container, restart count, stream — not the physical file, which kubelet may
rotate between two fragments) and emits records in the shape of the spec's contract::

    {"time": "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ", "stream": "stdout"|"stderr", "message": str,
     "partial": true?, "tag_missing": true?, "truncated": true?,
     "namespace"?, "pod"?, "uid"?, "container"?, "restart"?}

Upstream behind the rules: kubelet ``pkg/kubelet/kuberuntime/logs/logs.go`` (parseCRILog,
parseDockerJSONLog), containerd ``internal/cri/io/logger.go``, moby ``jsonlog``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any, Final

import msgspec

MAX_MERGED: Final = 1024 * 1024  # a merged record is cut here and marked truncated
STREAMS: Final = frozenset({"stdout", "stderr"})
_TIME: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})"
)
# /var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log[.<YYYYMMDD-HHMMSS>[.gz]]
_LOG_NAME: Final = re.compile(r"(\d+)\.log(?:\.\d{8}-\d{6}(?:\.gz)?)?")


class Rejected(Exception):
    """A line that is not of the format; the message is the reason."""


# What runtimes write in UTC (containerd's RFC3339Nano; kubelet's fixed form): checked by one
# regex, the date's validity remembered (a file holds few dates), nothing converted.
_UTC: Final = re.compile(r"(\d{4}-\d\d-\d\d)T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.(\d{1,9}))?Z")


@functools.lru_cache(maxsize=4096)  # a pure function of its text: a file holds few dates
def _valid_date(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def utc_nanos(text: str) -> str:
    """An RFC 3339 time (1 to 9 fraction digits, ``Z`` or an offset, any case of ``T``/``Z``)
    in UTC with 9 fraction digits; Rejected otherwise."""
    fast = _UTC.fullmatch(text)
    if fast is not None and _valid_date(fast[1]):
        fraction = fast[2]
        if fraction is None:
            return text[:-1] + ".000000000Z"
        return text[:20] + fraction.ljust(9, "0") + "Z"
    match = _TIME.fullmatch(text)
    if match is None:
        raise Rejected("unexpected timestamp format")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = (match[7] or "").ljust(9, "0")
    zone = match[8]
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise Rejected("unexpected timestamp format") from None
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            raise Rejected("unexpected timestamp format")
        moment -= sign * timedelta(hours=hours, minutes=minutes)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{fraction}Z"


class Line(msgspec.Struct, frozen=True):
    """One physical line, parsed: its time (UTC, 9 digits), stream, content, and whether it
    is a fragment (``partial``) or had no tag."""

    time: str
    stream: str
    content: str
    partial: bool
    tag_missing: bool = False


def parse_cri(line: str) -> Line:
    """One CRI line (its terminator removed): ``<time> <stream> <tag> <content>``."""
    parts = line.split(" ", 3)
    stamp = utc_nanos(parts[0])
    if len(parts) < 2 or parts[1] not in STREAMS:
        stream = parts[1] if len(parts) > 1 else ""
        raise Rejected(f"unexpected stream type {stream!r}")
    if len(parts) < 3:
        raise Rejected("log tag is not found")
    tag = parts[2]
    if tag == "F" or tag == "P" or tag[:2] in ("F:", "P:"):
        return Line(stamp, parts[1], parts[3] if len(parts) > 3 else "", tag[0] == "P")
    # No tag: the whole remainder is a full line's content (Alloy-compatible; no runtime
    # writes this).
    rest = line[len(parts[0]) + len(parts[1]) + 2 :]
    return Line(stamp, parts[1], rest, False, tag_missing=True)


class _DockerLine(msgspec.Struct):
    log: str
    stream: str
    time: str


_docker_decoder: Final = msgspec.json.Decoder(_DockerLine)


def parse_docker(line: str | bytes) -> Line:
    """One json-file line: ``{"log": …, "stream": …, "time": …}``; a ``log`` without a
    trailing newline is a fragment (moby's copier writes ``\\n`` only on complete lines)."""
    try:
        doc = _docker_decoder.decode(line)
    except msgspec.DecodeError as exc:
        raise Rejected(f"not a json-file line: {exc}") from None
    if doc.stream not in STREAMS:
        raise Rejected(f"unexpected stream type {doc.stream!r}")
    stamp = utc_nanos(doc.time)
    if doc.log.endswith("\n"):
        return Line(stamp, doc.stream, doc.log[:-1], False)
    return Line(stamp, doc.stream, doc.log, True)


def pod_fields(path: str) -> dict[str, Any]:
    """The pod of a ``/var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log`` path (rotated
    names too), or {} when the path is not of that shape."""
    parts = PurePosixPath(path).parts
    if len(parts) < 3:
        return {}
    restart = _LOG_NAME.fullmatch(parts[-1])
    pieces = parts[-3].split("_")
    if restart is None or len(pieces) != 3 or not all(pieces):
        return {}
    namespace, pod, uid = pieces  # "_" occurs in none of them (DNS-1123, UIDs)
    return {
        "namespace": namespace,
        "pod": pod,
        "uid": uid,
        "container": parts[-2],
        "restart": int(restart[1]),
    }


class _Pending:
    __slots__ = ("chunks", "first", "pod", "size", "tag_missing", "truncated")

    def __init__(self, first: Line, pod: dict[str, Any]) -> None:
        self.first = first
        self.pod = pod
        self.chunks: list[str] = []
        self.size = 0
        self.truncated = False
        self.tag_missing = False

    def add(self, line: Line) -> None:
        self.tag_missing |= line.tag_missing
        room = MAX_MERGED - self.size
        if len(line.content) > room:
            self.chunks.append(line.content[: max(room, 0)])
            self.size = MAX_MERGED
            self.truncated = True
            return
        self.chunks.append(line.content)
        self.size += len(line.content)


class Reassembler:
    """Joins fragments per key, in order: a record is emitted when its line completes;
    :meth:`flush` emits the unfinished ones (``partial: true``) in the order they began."""

    def __init__(self) -> None:
        self._pending: dict[tuple[Any, ...], _Pending] = {}

    def add(self, line: Line, pod: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The records ``line`` completes (none, or one)."""
        pod = pod or {}
        key = (pod.get("uid"), pod.get("container"), pod.get("restart"), line.stream)
        pending = self._pending.get(key)
        if pending is None:
            if not line.partial:  # a whole line on its own: the common case
                out: dict[str, Any] = {
                    "time": line.time,
                    "stream": line.stream,
                    "message": line.content,
                }
                if line.tag_missing:
                    out["tag_missing"] = True
                if len(line.content) > MAX_MERGED:
                    out["message"] = line.content[:MAX_MERGED]
                    out["truncated"] = True
                out.update(pod)
                return [out]
            pending = self._pending[key] = _Pending(line, pod)
        pending.add(line)
        if line.partial:
            return []
        del self._pending[key]
        return [_record(pending, partial=False)]

    def flush(self) -> Iterator[dict[str, Any]]:
        pending, self._pending = self._pending, {}
        for buffered in pending.values():
            yield _record(buffered, partial=True)


def _record(pending: _Pending, *, partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "time": pending.first.time,
        "stream": pending.first.stream,
        "message": "".join(pending.chunks),
    }
    if partial:
        out["partial"] = True
    if pending.tag_missing:
        out["tag_missing"] = True
    if pending.truncated:
        out["truncated"] = True
    out.update(pending.pod)
    return out


# ---------------------------------------------------------------------------------------------
# Cat-loop sidecars (layers-spec.md §5.3): `while true; do cat FILE; sleep 30; done` re-emits
# the whole file every cycle. Such a stream comes in bursts (a quiet gap between them) that
# each start with everything the stream said before.

BURST_GAP: Final = timedelta(seconds=1)
_MIN_REPLAY: Final = 2  # a burst must repeat at least this many lines to count as a replay
_HISTORY_CAP: Final = 200_000  # lines remembered per stream (a bigger file is not repaired)


class _Stream:
    __slots__ = ("held", "history", "label", "last", "matching", "pos", "replaying")

    def __init__(self, label: str) -> None:
        self.label = label
        self.history: list[str] = []  # the messages accepted, in order
        self.pos = 0  # where the current burst is in the history
        self.matching = True  # the current burst still repeats the history
        self.held: list[dict[str, Any]] = []  # a burst's repeating start, not yet decided
        self.last: datetime | None = None
        self.replaying = False


class ReplayFilter:
    """Keeps each line of a cat-loop stream once. Per stream, a burst whose first lines
    repeat the start of what was accepted is a replay: the repeated prefix is dropped and the
    rest accepted (if it diverges, the file was truncated or rotated: the history is cut
    there). A stream is only repaired once a burst has repeated at least two lines — an app
    that logs one same line every few seconds is left alone. Records of a repaired stream
    carry ``time_is_collection_time: true`` (their time is when ``cat`` printed them)."""

    def __init__(self, gap: timedelta = BURST_GAP) -> None:
        self.gap = gap
        self._streams: dict[tuple[Any, ...], _Stream] = {}
        self.dropped: dict[tuple[Any, ...], int] = {}

    def add(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The records to keep, now that ``record`` came (in stream order)."""
        key = (record.get("uid"), record.get("container"), record.get("restart"), record["stream"])
        stream = self._streams.get(key)
        if stream is None:
            pod = "/".join(str(record[k]) for k in ("namespace", "pod") if record.get(k))
            who = " ".join(str(p) for p in (pod, record.get("container")) if p)
            stream = self._streams[key] = _Stream(f"{who or 'container'} ({record['stream']})")
        when = datetime.fromisoformat(str(record["time"])[:26] + "+00:00")
        out: list[dict[str, Any]] = []
        if stream.last is not None and when - stream.last >= self.gap:
            out += self._release(stream)  # the last burst ended too short to tell
            stream.pos, stream.matching = 0, True
        stream.last = when
        message = record["message"]
        if stream.matching and stream.pos < len(stream.history):
            if stream.history[stream.pos] == message:
                stream.pos += 1
                if stream.replaying or stream.pos >= _MIN_REPLAY:
                    stream.replaying = True
                    self.dropped[key] = self.dropped.get(key, 0) + len(stream.held) + 1
                    stream.held = []
                else:
                    stream.held.append(record)
                return out
            del stream.history[stream.pos :]  # diverged: the file was cut here
        stream.matching = False
        out += self._release(stream)
        if len(stream.history) < _HISTORY_CAP:
            stream.history.append(message)
        stream.pos = len(stream.history)
        out.append(self._mark(stream, record))
        return out

    def _release(self, stream: _Stream) -> list[dict[str, Any]]:
        held, stream.held = stream.held, []
        return [self._mark(stream, r) for r in held]

    @staticmethod
    def _mark(stream: _Stream, record: dict[str, Any]) -> dict[str, Any]:
        return {**record, "time_is_collection_time": True} if stream.replaying else record

    def flush(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for stream in self._streams.values():
            out += self._release(stream)
        return out

    def replaying(self) -> list[tuple[Any, ...]]:
        """The streams (uid, container, restart, stream) found replaying."""
        return [k for k, s in self._streams.items() if s.replaying]

    def labels(self) -> list[str]:
        """The streams found replaying, as ``namespace/pod container (stream)``."""
        return [s.label for s in self._streams.values() if s.replaying]
