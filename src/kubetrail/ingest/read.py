"""The one place that turns input paths into raw event documents, streaming.

:func:`expand_paths` resolves the paths a user gave (files, directories of rotated logs, ``-``
for stdin) into an ordered list of inputs; :func:`read_lines` opens each one (gzip recognised by
its magic bytes, not its name) and yields one :class:`Line` per event, with bounded memory.

Accepted shapes, mixed freely within one file:

* JSON Lines, the ``--audit-log-format=json`` output: one compact event per line, ``\\n`` or
  ``\\r\\n``, blank lines ignored. This is the fast path: a line that starts with ``{`` and ends
  with ``}`` is yielded as is, *without* parsing it. Full JSON validity is the decoder's job:
  callers decode :attr:`Line.data` and report failures with :meth:`ReadReport.bad_line`.
* A line holding a whole JSON document on its own: an ``EventList`` (``{"kind":"EventList",
  "items":[...]}``, a webhook batch) or an array of events; each item is yielded separately with
  the document's line number. To keep the fast path cheap, a compact EventList is recognised on
  the first line of a file, or on any line when ``items`` is its last key (Go's and ``jq``'s key
  order: the line ends with ``]}``); elsewhere it would be passed on as one event.
* Pretty-printed documents (``jq .``, ``kubectl -o json``, ``json.dumps(indent=2)``): a line that
  is just ``{`` or ``[`` opens a document, which ends at the next line starting with the matching
  ``}`` / ``]`` in column 0 that completes it. The document may be one event, an EventList or an
  array. Documents larger than :data:`MAX_DOCUMENT` are skipped with a problem.

A line that is none of these (legacy-format text, a truncated line, a bare number...) is counted
in :attr:`ReadReport.bad` with a :class:`Problem` and skipped; reading never raises for bad
content. A truncated or corrupt ``.gz`` is recorded in :attr:`ReadReport.truncated` and reading
goes on with the next input.

**Empty input is not an error here**: when nothing was found, :attr:`ReadReport.events` is 0
after the iteration and the caller says "empty input" (a generator cannot usefully raise at its
end). Paths that do not exist raise :class:`~kubetrail.errors.InputError` from
:func:`expand_paths`, before anything is read.

Known limit: a single physical line is held in memory whole, so a multi-gigabyte file without
any newline is read at once.
"""

from __future__ import annotations

import calendar
import contextlib
import gzip
import io
import os
import re
import sys
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO, cast

import msgspec

from kubetrail.errors import InputError

__all__ = [
    "MAX_DOCUMENT",
    "MAX_PROBLEMS",
    "Line",
    "Problem",
    "ReadReport",
    "expand_paths",
    "read_lines",
]

#: Problems kept in :attr:`ReadReport.problems`; all of them are counted.
MAX_PROBLEMS = 20
#: Largest multi-line document (pretty-printed event, EventList, array) accepted, in bytes.
MAX_DOCUMENT = 256 << 20

_BUFFER = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_OPEN, _CLOSE, _BRACKET = 123, 125, 93  # ord("{"), ord("}"), ord("]")


class Line(msgspec.Struct, frozen=True, gc=False):
    """One raw event document."""

    source: str
    """The input path as given/expanded, ``-`` for stdin."""
    number: int
    """1-based line number where the document starts."""
    data: bytes
    """The JSON text of one event, without line terminator (not validated on the fast path)."""


class Problem(msgspec.Struct, frozen=True):
    """Something in the input that was skipped."""

    source: str
    number: int | None
    message: str

    def __str__(self) -> str:
        where = self.source if self.number is None else f"{self.source}:{self.number}"
        return f"{where}: {self.message}"


class ReadReport:
    """Counters filled while :func:`read_lines` is iterated (final once it is exhausted).

    ``lines`` counts physical lines read, ``yielded`` the :class:`Line` objects produced,
    ``rejected`` those callers then reported with :meth:`bad_line`, ``events`` the difference,
    ``bad`` the malformed documents (found here or reported by callers).
    ``problems`` keeps the first :data:`MAX_PROBLEMS` problems; ``problem_count`` counts them all.
    """

    def __init__(self) -> None:
        self.files: list[str] = []
        self.lines = 0
        self.yielded = 0
        self.rejected = 0
        self.bad = 0
        self.problems: list[Problem] = []
        self.problem_count = 0
        self.truncated: list[str] = []

    def problem(self, source: str, number: int | None, message: str) -> None:
        """Record a problem (kept if fewer than :data:`MAX_PROBLEMS` are kept already)."""
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(source, number, message))

    def bad_line(self, line: Line, message: str) -> None:
        """A caller could not decode ``line``: count it as malformed instead of as an event."""
        self.bad += 1
        self.rejected += 1
        self.problem(line.source, line.number, message)

    @property
    def events(self) -> int:
        """Events read: lines yielded that callers did not reject."""
        return self.yielded - self.rejected

    @property
    def empty(self) -> bool:
        """True when no event was found at all."""
        return self.events == 0

    def summary(self) -> str:
        """One human line: ``3 files, 1,000 events, 2 malformed lines (first: a.log:17: …)``."""
        parts = [_plural(len(self.files), "file"), _plural(self.events, "event")]
        if self.bad:
            parts.append(_plural(self.bad, "malformed line"))
        if self.truncated:
            parts.append(f"{_plural(len(self.truncated), 'truncated file')}")
        text = ", ".join(parts)
        if self.problems:
            text += f" (first: {self.problems[0]})"
        return text


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


# ---------------------------------------------------------------------------------------------
# Paths

# lumberjack backup: <stem>-<2006-01-02T15-04-05.000><ext>, optionally gzip-compressed.
_BACKUP = re.compile(
    r"^(?P<stem>.+)-(?P<ts>\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3})(?P<ext>\.[^.]*)?(?P<gz>\.gz)?$"
)


def _backup_time(ts: str) -> float:
    """Seconds since the epoch of a lumberjack name timestamp (UTC)."""
    whole, _, millis = ts.partition(".")
    parsed = time.strptime(whole, "%Y-%m-%dT%H-%M-%S")
    return calendar.timegm(parsed) + int(millis) / 1000


def expand_paths(paths: Sequence[str]) -> list[str]:
    """Resolve user-given paths into the ordered list of inputs :func:`read_lines` reads.

    Files are kept as given, ``-`` means stdin. A directory stands for its (non-hidden) files,
    not recursively, in chronological order: a rotated backup
    (``<stem>-<2006-01-02T15-04-05.000><ext>[.gz]``) is placed at the time in its name, the
    active file ``<stem><ext>`` after its last backup (or at its mtime, if later), any other file
    at its mtime; ties are broken by name. When a backup exists both plain and ``.gz`` (a
    compression in progress), only the plain one is read.

    Raises :class:`~kubetrail.errors.InputError` for a path that does not exist or a directory
    without files.
    """
    out: list[str] = []
    for path in paths:
        if path == "-":
            out.append(path)
        elif os.path.isdir(path):
            files = _directory(path)
            if not files:
                raise InputError("directory holds no audit log files", path=path)
            out.extend(files)
        elif os.path.exists(path):
            out.append(path)
        else:
            raise InputError("no such file or directory", path=path)
    return out


def _directory(path: str) -> list[str]:
    names: dict[str, float] = {}  # file name -> mtime
    with os.scandir(path) as entries:
        for entry in entries:
            if not entry.name.startswith(".") and entry.is_file():
                names[entry.name] = entry.stat().st_mtime
    keys: dict[str, float] = {}
    last_backup: dict[str, float] = {}  # active file name -> time of its newest backup
    for name in names:
        match = _BACKUP.match(name)
        if match is None:
            continue
        if match["gz"] and name[: -len(".gz")] in names:
            continue  # the plain copy of the same backup is read instead
        when = _backup_time(match["ts"])
        keys[name] = when
        active = match["stem"] + (match["ext"] or "")
        last_backup[active] = max(last_backup.get(active, when), when)
    for name, mtime in names.items():
        if name in keys or _BACKUP.match(name):
            continue
        keys[name] = max(mtime, last_backup[name] + 0.001) if name in last_backup else mtime
    return [os.path.join(path, name) for name in sorted(keys, key=lambda n: (keys[n], n))]


# ---------------------------------------------------------------------------------------------
# Reading


def read_lines(
    paths: Sequence[str], report: ReadReport, *, stdin: BinaryIO | None = None
) -> Iterator[Line]:
    """Yield one :class:`Line` per event of ``paths`` (already expanded), in order.

    ``stdin`` replaces ``sys.stdin.buffer`` for ``-`` (tests pass a ``BytesIO``); it is never
    closed. Fills ``report`` as it goes; see the module docstring for the accepted shapes.
    Raises :class:`~kubetrail.errors.InputError` only when a file cannot be opened.
    """
    for path in paths:
        report.files.append(path)
        with contextlib.ExitStack() as stack:
            fh = _open(path, stdin, stack)
            if fh.peek(2)[:2] != _GZIP_MAGIC:
                yield from _lines(fh, path, report)
                continue
            gz = gzip.GzipFile(fileobj=fh, mode="rb")  # never closes fh
            unzipped = stack.enter_context(io.BufferedReader(gz, _BUFFER))
            try:
                yield from _lines(unzipped, path, report)
            except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                report.truncated.append(path)
                report.problem(path, None, f"gzip data ended early or is corrupt: {exc}")


def _open(path: str, stdin: BinaryIO | None, stack: contextlib.ExitStack) -> io.BufferedReader[Any]:
    """A buffered reader (with ``peek``) on ``path``, closed by ``stack`` unless it is stdin."""
    if path != "-":
        try:
            fh = open(path, "rb", buffering=_BUFFER)  # noqa: SIM115 - closed by the stack
        except OSError as exc:
            raise InputError(exc.strerror or str(exc), path=path) from exc
        return cast("io.BufferedReader[Any]", stack.enter_context(fh))
    stream = stdin if stdin is not None else sys.stdin.buffer
    if isinstance(stream, io.BufferedReader):
        return stream
    # Wrap for peek(); detach afterwards so that the caller's stream is not closed.
    wrapper = io.BufferedReader(cast(io.RawIOBase, stream), _BUFFER)
    stack.callback(wrapper.detach)
    return wrapper


def _lines(fh: Iterable[bytes], source: str, report: ReadReport) -> Iterator[Line]:
    """The line loop: a fast path for JSON Lines, a slower one for everything else."""
    n = 0
    events = 0
    bad = 0
    # 0: between documents, 1: collecting a multi-line document, 2: skipping one,
    # 3: before the first line (which always takes the slow path)
    state = 3
    buf: list[bytes] = []
    size = 0
    start = 0
    close = b"}"
    try:
        for n, raw in enumerate(fh, 1):
            line = raw.rstrip(b"\r\n")
            if (
                state == 0
                and line
                and line[0] == _OPEN
                and line[-1] == _CLOSE
                and line[-2] != _BRACKET
            ):
                events += 1
                yield Line(source, n, line)
                continue
            # Slow path: multi-line documents, blank lines, EventLists, junk.
            if state == 3:
                state = 0
            elif state:
                if state == 2:
                    if line.startswith(close):
                        state = 0
                    continue
                buf.append(line)
                size += len(raw)
                if size > MAX_DOCUMENT:
                    bad += 1
                    report.problem(
                        source, start, f"document larger than {MAX_DOCUMENT:,} bytes skipped"
                    )
                    buf, size, state = [], 0, 0 if line.startswith(close) else 2
                    continue
                if not line.startswith(close):
                    continue
                doc = b"\n".join(buf)
                try:
                    results = _document(doc)
                except msgspec.DecodeError as exc:
                    if "truncated" in str(exc):
                        continue  # not the end of this document yet
                    results = [str(exc)]
                buf, size, state = [], 0, 0
                for item in results:
                    if isinstance(item, str):
                        bad += 1
                        report.problem(source, start, item)
                    else:
                        events += 1
                        yield Line(source, start, item)
                continue
            text = line.strip()
            if n == 1 and text.startswith(_BOM):
                text = text[len(_BOM) :].lstrip()
            if not text:
                continue
            if text in (b"{", b"["):
                state, start, buf, size = 1, n, [text], len(raw)
                close = b"}" if text == b"{" else b"]"
                continue
            if text[0] == _OPEN and text[-1] == _CLOSE and _KIND_EVENTLIST not in text:
                events += 1
                yield Line(source, n, text)
                continue
            try:
                results = _document(text)
            except msgspec.DecodeError as exc:
                results = [_short(str(exc), text)]
            for item in results:
                if isinstance(item, str):
                    bad += 1
                    report.problem(source, n, item)
                else:
                    events += 1
                    yield Line(source, n, item)
        if state == 1:
            try:
                results = _document(b"\n".join(buf))
            except msgspec.DecodeError as exc:
                results = [f"document never ends: {exc}"]
            for item in results:
                if isinstance(item, str):
                    bad += 1
                    report.problem(source, start, item)
                else:
                    events += 1
                    yield Line(source, start, item)
    finally:
        report.lines += n
        report.yielded += events
        report.bad += bad


class _Head(msgspec.Struct):
    """The two fields of a JSON object that decide whether it is an EventList."""

    kind: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    items: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


_decode_head = msgspec.json.Decoder(_Head).decode
_decode_array = msgspec.json.Decoder(list[msgspec.Raw]).decode
_KIND_EVENTLIST = b'"EventList"'


def _document(doc: bytes) -> list[bytes | str]:
    """Split one complete JSON document into event texts (bytes) and problems (str).

    Raises :class:`msgspec.DecodeError` when ``doc`` is not valid JSON.
    """
    if doc.lstrip()[:1] == b"[":
        return _items(_decode_array(doc), "array")
    try:
        head = _decode_head(doc)
    except msgspec.ValidationError:
        return ["not a JSON object"]
    if bytes(head.kind) == _KIND_EVENTLIST:
        try:
            items = _decode_array(head.items)
        except msgspec.DecodeError:
            return ["EventList without an items array"]
        return _items(items, "EventList")
    return [_compact(doc)]


def _items(items: list[msgspec.Raw], what: str) -> list[bytes | str]:
    out: list[bytes | str] = []
    for i, item in enumerate(items):
        data = bytes(item)
        if data[:1] == b"{":
            out.append(_compact(data))
        else:
            out.append(f"{what} item {i} is not a JSON object")
    return out


def _compact(data: bytes) -> bytes:
    """One event's JSON text on one line (only reformatted if it spans several)."""
    return msgspec.json.format(data, indent=0) if b"\n" in data else data


def _short(message: str, text: bytes) -> str:
    """A problem message for a line that is not JSON: the decoder's words and the line's start."""
    head = text[:40].decode("utf-8", "replace")
    more = "…" if len(text) > 40 else ""
    return f"not a JSON event ({message}): {head!r}{more}"
