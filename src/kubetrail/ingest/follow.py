"""``tail -F`` of kube-apiserver's audit log into the lake, across rotation and restarts.

A :class:`Follower` reads one log path (``--audit-log-path``) and feeds every complete line to
an :class:`~kubetrail.ingest.pipeline.Ingestor`; each event's source is ``<file name>:<byte
offset>``. It survives what happens to that path:

* **lumberjack rotation** (kube-apiserver's ``--audit-log-max*`` flags): ``audit.log`` is
  renamed to ``audit-<UTC 2006-01-02T15-04-05.000>.log`` and a new ``audit.log`` created; the
  backup may later be gzipped to ``….log.gz`` (the plain file removed) and old backups deleted.
  When the path names a new inode, the old file is read to its end through the descriptor
  still open on it, then every backup rotated after it (several rotations can happen between
  two looks), then the new file from offset 0. Backups are ordered by the timestamp in their
  names and recognised by inode or by *fingerprint* (SHA-256 of the first up-to-1024 bytes,
  which hold the first event's unique audit ID); a ``.gz`` backup is read as a stream.
* **copytruncate** (logrotate): the file shrank, or its first bytes changed. The copy is looked
  for by fingerprint among the files next to the path and read from where reading stopped; the
  path is then read from 0. Lines written between the copy and the truncation are lost — that
  is copytruncate's own race, not one of ours.
* **restarts and crashes**: after every successful flush a checkpoint (device, inode, offset,
  line, size, fingerprint of the current file, of files still being drained and of the last
  file finished) is written atomically (temporary file, fsync, rename, fsync of the
  directory). A restart resolves it against the files present: a file that was rotated (and
  perhaps gzipped) meanwhile is drained from its offset first, then newer backups, then the
  live file.

Delivery is at least once into Parquet — a crash between a commit and its checkpoint re-reads
the lines since the checkpoint — and the lake removes exact duplicates (on commit and in the
``events`` view), so each event is in ``events`` exactly once. Without a crash nothing is read
twice. A partial last line (no newline yet) is held until its newline arrives; at the end of a
rotated file (nothing more can come) it is decoded as it is, and counted as bad if it is not
an event.

A writer killed in the middle of a write leaves a torn line that the next event is appended to:
the line is counted as bad and the whole event at its end is kept.

Limits: a backup deleted (``maxbackup``/``maxage``) before it was read is lost and counted in
:attr:`FollowStats.lost`; a follower that lost track of its file entirely (checkpointed files all
gone) reads the backups rotated after the time it last saw its file, and the live file from 0.
A rotated file is read to its end and closed at once: right for lumberjack, which closes the file
before renaming it, not for a writer that keeps appending to a renamed file until told to reopen
(logrotate ``create`` mode). A file copied and truncated before any byte of it was read cannot
be told from one that was not (copytruncate's race; lumberjack never does it). The clock must
be the wall clock the writer names backups by. The Ingestor must commit in ``flush()`` (not
``background=True``): the checkpoint is written after the flush returns.

The library never prints: notices go to the ``notify`` callback. Clock and sleep are
injectable; :meth:`Follower.run` ends when its stop :class:`threading.Event` is set.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import os
import re
import threading
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import msgspec

from kubetrail.errors import InputError, UsageError
from kubetrail.ingest.pipeline import Ingestor
from kubetrail.lake.store import fsync_dir

__all__ = [
    "CHECKPOINT_VERSION",
    "FINGERPRINT_BYTES",
    "Checkpoint",
    "FileState",
    "FollowStats",
    "Follower",
    "checkpoint_path",
    "default_checkpoint_dir",
]

#: How many leading bytes of a file identify it (they hold the first event's audit ID).
FINGERPRINT_BYTES: Final = 1024
#: A file is recognised by its first bytes alone (a .gz backup, a copy) only when at least this
#: many were fingerprinted: the first ~120 bytes of every audit log are alike, up to the audit ID.
MIN_FINGERPRINT: Final = 256
CHECKPOINT_VERSION: Final = 1
#: Bad lines whose location is kept in :attr:`FollowStats.bad_samples`; all are counted.
MAX_BAD_SAMPLES: Final = 10
_CHUNK: Final = 1 << 20
_TS_RE: Final = r"(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3})"
#: Backups rotated this long before the follower last saw its file are not re-read when it has
#: lost track of its file (clock granularity and the rename/create window).
_FALLBACK_MARGIN: Final = timedelta(seconds=2)
_GZ_ERRORS: Final = (EOFError, OSError, zlib.error)
_EVENT_START: Final = b'{"kind":"Event"'

Clock = Callable[[], datetime]


class FileState(msgspec.Struct, kw_only=True):
    """Where reading one file stands: enough to find the file again and resume in it."""

    name: str  # its name when last seen
    dev: int
    ino: int
    offset: int  # bytes consumed: always at a line boundary
    line: int = 0  # lines consumed (for the line numbers of bad lines)
    size: int = 0  # file size when last seen (bytes decompressed so far for a .gz)
    fingerprint: str  # sha256 hex of the first fingerprint_len bytes
    fingerprint_len: int
    gzip: bool = False
    done: bool = False  # read to its end


class Checkpoint(msgspec.Struct, kw_only=True):
    """The follower's persistent position (one JSON file per followed path and cluster)."""

    version: int = CHECKPOINT_VERSION
    path: str
    cluster: str
    saved_at: str
    live_seen_at: str | None = None  # when the path last named the current file
    done: FileState | None = None  # the last file read to its end
    draining: list[FileState] = msgspec.field(default_factory=list)  # rotated, being read
    current: FileState | None = None  # the file the path names


class FollowStats(msgspec.Struct, kw_only=True):
    lines: int = 0  # complete lines consumed (blank and bad ones included)
    events: int = 0
    blank_lines: int = 0
    bad_lines: int = 0
    bad_samples: list[str] = msgspec.field(default_factory=list)  # "file:line"
    bytes_read: int = 0
    rotations: int = 0  # times the path was seen to change (several rotations may be one)
    truncations: int = 0  # of which copytruncate (or truncation)
    files_finished: int = 0  # rotated files read to their end
    gzip_files: int = 0  # of which read from a .gz stream
    lost: int = 0  # files that vanished before they were read to the end
    flushes: int = 0
    checkpoints: int = 0
    lag_bytes: int = 0  # bytes written to the files but not read yet
    lag_seconds: float = 0.0  # how long reading has been behind the end of the live file


def default_checkpoint_dir(lake_root: str | Path) -> Path:
    return Path(lake_root) / "_kubetrail" / "checkpoints"


def checkpoint_path(directory: str | Path, path: str | Path, cluster: str) -> Path:
    """The checkpoint file for following ``path`` into ``cluster``."""
    key = f"{os.path.abspath(path)}\0{cluster}".encode()
    return Path(directory) / f"follow-{hashlib.sha256(key).hexdigest()[:16]}.json"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fmt_ts(when: datetime) -> str:
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H-%M-%S.") + f"{when.microsecond // 1000:03d}"


def _gz_head(path: Path) -> bytes | None:
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read(FINGERPRINT_BYTES)
    except _GZ_ERRORS:
        return None


class _Source:
    """One file being read: an open descriptor (plain) or a gzip stream."""

    def __init__(
        self,
        path: Path,
        *,
        fd: int | None = None,
        gz: gzip.GzipFile | None = None,
        dev: int,
        ino: int,
        head: bytes,
        offset: int = 0,
        line: int = 0,
        size: int = 0,
        live: bool = False,
    ) -> None:
        self.path = path
        self.name = path.name
        self.fd = fd
        self.gz = gz
        self.dev = dev
        self.ino = ino
        self.fp_len = len(head)
        self.fp = _digest(head)
        self.consumed = offset
        self.read_pos = offset
        self.line = line
        self.size = size
        self.live = live
        self.partial: list[bytes] = []
        self.broken = False

    def state(self, *, done: bool = False) -> FileState:
        return FileState(
            name=self.name,
            dev=self.dev,
            ino=self.ino,
            offset=self.consumed,
            line=self.line,
            size=max(self.size, self.read_pos),
            fingerprint=self.fp,
            fingerprint_len=self.fp_len,
            gzip=self.gz is not None,
            done=done,
        )

    def read(self, n: int) -> bytes:
        if self.fd is not None:
            data = os.pread(self.fd, n, self.read_pos)
        elif self.gz is not None and not self.broken:
            try:
                data = self.gz.read(n)
            except _GZ_ERRORS:
                self.broken = True
                data = b""
        else:
            data = b""
        self.read_pos += len(data)
        return data

    def head_matches(self) -> bool:
        """The first bytes are still the ones fingerprinted (extending the fingerprint)."""
        if self.fd is None:
            return True
        head = os.pread(self.fd, FINGERPRINT_BYTES, 0)
        if len(head) < self.fp_len or _digest(head[: self.fp_len]) != self.fp:
            return False
        if len(head) > self.fp_len:
            self.fp_len, self.fp = len(head), _digest(head)
        return True

    def reset(self) -> None:
        """Read the same (truncated) file again from 0."""
        self.consumed = self.read_pos = self.line = 0
        self.partial = []
        self.fp_len, self.fp = 0, _digest(b"")
        self.head_matches()

    def unread(self) -> int:
        if self.fd is None:
            return 0
        try:
            self.size = os.fstat(self.fd).st_size
        except OSError:
            return 0
        return max(0, self.size - self.read_pos)

    def close(self) -> None:
        if self.gz is not None:
            with contextlib.suppress(OSError):
                self.gz.close()  # closes the file it opened
            self.gz = None
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None


class _Cand:
    """A file that may hold part of the log: a backup (with its name's timestamp) or the path."""

    def __init__(self, path: Path, ts: str, gz: bool) -> None:
        self.path = path
        self.ts = ts
        self.gz = gz
        self.dev = self.ino = -1
        self.size = 0
        self.head: bytes | None = None

    def load(self) -> bool:
        """Read identity and head; False when the file is gone (or unreadable)."""
        if self.gz:
            self.head = _gz_head(self.path)
            return self.head is not None
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            gz = self.path.with_name(self.path.name + ".gz")  # gzipped meanwhile
            if not gz.exists():
                return False
            self.path, self.gz = gz, True
            return self.load()
        try:
            st = os.fstat(fd)
            self.dev, self.ino, self.size = st.st_dev, st.st_ino, st.st_size
            self.head = os.pread(fd, FINGERPRINT_BYTES, 0)
        finally:
            os.close(fd)
        return True

    def matches(self, state: FileState, *, any_inode: bool = False) -> bool:
        """Is this the file ``state`` describes? A plain file keeps its inode when renamed;
        a .gz (or, with ``any_inode``, a copy) is recognised by a long enough fingerprint."""
        if not self.gz and not any_inode:
            if (self.dev, self.ino) != (state.dev, state.ino):
                return False
            if state.fingerprint_len == 0:
                return True
        elif state.fingerprint_len < MIN_FINGERPRINT:
            return False
        head = self.head or b""
        return (
            len(head) >= state.fingerprint_len
            and _digest(head[: state.fingerprint_len]) == state.fingerprint
        )


class Follower:
    """Follows one audit log path into an :class:`Ingestor`; see the module docstring."""

    def __init__(
        self,
        path: str | Path,
        ingestor: Ingestor,
        *,
        checkpoint_dir: str | Path | None = None,
        from_end: bool = False,
        batch: int = 10_000,
        flush_interval: float = 2.0,
        poll_interval: float = 0.2,
        clock: Clock = lambda: datetime.now(UTC),
        sleep: Callable[[float], object] | None = None,
        notify: Callable[[str], None] | None = None,
        chunk: int = _CHUNK,
    ) -> None:
        if batch < 1:
            raise UsageError("--batch must be at least 1")
        if flush_interval <= 0:
            raise UsageError("--flush-interval must be positive")
        if getattr(ingestor, "_worker", None) is not None:
            # The checkpoint is written after a flush, so the flush must have committed.
            raise UsageError("follow needs an Ingestor that commits in flush() (background=False)")
        self.path = Path(path)
        self.ingestor = ingestor
        directory = (
            Path(checkpoint_dir)
            if checkpoint_dir is not None
            else default_checkpoint_dir(ingestor.lake.root)
        )
        self.checkpoint_file = checkpoint_path(directory, self.path, ingestor.cluster)
        self.from_end = from_end
        self.batch = batch
        self.flush_interval = flush_interval
        self.poll_interval = poll_interval
        self.clock = clock
        self.sleep = sleep
        self.notify = notify
        self.chunk = chunk
        self.stats = FollowStats()
        self.queue: list[_Source] = []  # oldest first; the last may be the live file
        self.done: FileState | None = None
        self.live_seen_at: datetime | None = None
        self._pending: list[FileState] | None = None  # checkpoint states not yet resolved
        self._first_run = False
        self._started = False
        self._resolved = False
        self._dirty = False
        self._lines_since_flush = 0
        self._last_flush = clock()
        self._behind_since: datetime | None = None
        self._lock_fd: int | None = None
        stem, ext = os.path.splitext(self.path.name)
        self._stem = stem
        self._backup_re = re.compile(rf"^{re.escape(stem)}-{_TS_RE}{re.escape(ext)}(\.gz)?$")

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Take the checkpoint lock and load the checkpoint (done by the first :meth:`poll`)."""
        if self._started:
            return
        import fcntl

        directory = self.checkpoint_file.parent
        directory.mkdir(parents=True, exist_ok=True)
        lock = os.open(f"{self.checkpoint_file}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(lock)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise UsageError(
                    f"another follower of {self.path} holds {self.checkpoint_file}.lock"
                ) from exc
            raise
        self._lock_fd = lock
        for stale in directory.glob(f".{self.checkpoint_file.name}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()
        self._started = True
        checkpoint = self._load()
        if checkpoint is None:
            self._first_run = True
            self._pending = []
            return
        self.done = checkpoint.done
        if checkpoint.live_seen_at:
            self.live_seen_at = datetime.fromisoformat(checkpoint.live_seen_at)
        states = [*([checkpoint.done] if checkpoint.done else []), *checkpoint.draining]
        if checkpoint.current is not None:
            states.append(checkpoint.current)
        self._pending = states
        self._note(
            f"resuming {self.path} from {self.checkpoint_file.name}: "
            + ", ".join(f"{s.name}@{s.offset}" for s in states if not s.done)
        )

    def close(self) -> None:
        for src in self.queue:
            src.close()
        self.queue = []
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None

    def run(self, stop: threading.Event) -> FollowStats:
        """Follow until ``stop`` is set; flush and checkpoint before returning."""
        sleep = self.sleep if self.sleep is not None else stop.wait
        try:
            self.start()
            while not stop.is_set():
                progressed = self.poll()
                if self._flush_due():
                    self.flush()
                if not progressed:
                    sleep(self.poll_interval)
            self.flush()
        finally:
            self.close()
        return self.stats

    def catch_up(self, *, max_polls: int = 1_000_000) -> FollowStats:
        """Read until nothing more is there, then flush (tests, one-shot runs)."""
        for _ in range(max_polls):
            progressed = self.poll()
            if self._lines_since_flush >= self.batch:
                self.flush()
            if not progressed:
                break
        self.flush()
        return self.stats

    def _flush_due(self) -> bool:
        if self._lines_since_flush >= self.batch:
            return True
        return self._dirty and self._elapsed(self._last_flush) >= self.flush_interval

    def _elapsed(self, since: datetime) -> float:
        return (self.clock() - since).total_seconds()

    def _note(self, message: str) -> None:
        if self.notify is not None:
            self.notify(message)

    # -- one step ----------------------------------------------------------------------------

    def poll(self) -> bool:
        """Read one chunk or handle one change of the files; True if anything moved."""
        self.start()
        if not self.queue:
            return self._resolve()
        src = self.queue[0]
        data = src.read(self.chunk)
        if data:
            if src.live and not src.head_matches():
                self._truncated(src)
                return True
            self._consume(src, data)
            return True
        if not src.live:
            self._finish(src)
            return True
        return self._check_live(src)

    def _consume(self, src: _Source, data: bytes) -> None:
        self.stats.bytes_read += len(data)
        cut = data.rfind(b"\n")
        if cut < 0:
            src.partial.append(data)
            return
        if src.partial:
            held = sum(len(part) for part in src.partial)
            data = b"".join([*src.partial, data])
            cut += held
            src.partial = []
        rest = data[cut + 1 :]
        if rest:
            src.partial.append(rest)
        pos = src.consumed
        for raw in data[: cut + 1].split(b"\n")[:-1]:
            start = pos
            pos += len(raw) + 1
            src.line += 1
            self._line(src, raw, start)
        src.consumed = pos
        self._dirty = True

    def _line(self, src: _Source, raw: bytes, start: int) -> None:
        stats = self.stats
        stats.lines += 1
        self._lines_since_flush += 1
        line = raw.strip()
        if not line:
            stats.blank_lines += 1
            return
        try:
            stats.events += self.ingestor.add(line, f"{src.name}:{start}")
        except msgspec.DecodeError:
            stats.bad_lines += 1
            if len(stats.bad_samples) < MAX_BAD_SAMPLES:
                stats.bad_samples.append(f"{src.name}:{src.line}")
            # A writer killed mid-write leaves a torn event that the next one is appended to:
            # keep the whole event at the end of the line.
            at = raw.rfind(_EVENT_START, 1)
            if at > 0:
                with contextlib.suppress(msgspec.DecodeError):
                    stats.events += self.ingestor.add(raw[at:].strip(), f"{src.name}:{start + at}")

    def _finish(self, src: _Source) -> None:
        """A rotated file read to its end: its last line is complete or never will be."""
        if src.partial:
            raw = b"".join(src.partial)
            src.partial = []
            src.line += 1
            self._line(src, raw, src.consumed)
            src.consumed += len(raw)
        if src.gz is not None:
            self.stats.gzip_files += 1
        if src.broken:
            self._note(f"{src.name}: the gzip stream ends early after {src.read_pos} bytes")
        self.done = src.state(done=True)
        self.stats.files_finished += 1
        self.queue.pop(0)
        src.close()
        self._dirty = True

    def _check_live(self, src: _Source) -> bool:
        """At the end of the live file: has the path been rotated or truncated?"""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False  # between lumberjack's rename and create
        if (st.st_dev, st.st_ino) != (src.dev, src.ino):
            # The writer closed the old file before renaming it: read it to its end through
            # the open descriptor, then whatever came after it (see _resolve).
            src.live = False
            self.stats.rotations += 1
            self._dirty = True
            self._note(f"{self.path.name} was rotated; finishing {src.name} (inode {src.ino})")
            return True
        assert src.fd is not None
        size = os.fstat(src.fd).st_size
        if size < src.read_pos or not src.head_matches():
            self._truncated(src)
            return True
        src.size = size
        self.live_seen_at = self.clock()
        self._behind_since = None
        return False

    def _truncated(self, src: _Source) -> None:
        """copytruncate: read the copy from where we were, then the file again from 0."""
        self.stats.rotations += 1
        self.stats.truncations += 1
        state = src.state()
        copy = self._find_copy(state, exclude=(src.dev, src.ino))
        if copy is None:
            self.stats.lost += 1
            self._note(
                f"{src.name} was truncated at offset {src.consumed}; no copy found, "
                "lines written after the last read may be lost"
            )
        else:
            self._note(f"{src.name} was truncated (copytruncate); reading the copy {copy.name}")
        src.reset()
        self.queue[0:0] = [copy] if copy is not None else []
        self._dirty = True

    # -- finding files -----------------------------------------------------------------------

    def _backups(self) -> list[_Cand]:
        """lumberjack backups next to the path, oldest first (a plain file beats its .gz)."""
        found: dict[str, _Cand] = {}
        try:
            names = os.listdir(self.path.parent)
        except FileNotFoundError:
            return []
        for name in names:
            m = self._backup_re.match(name)
            if m is None:
                continue
            gz = bool(m.group(2))
            stem = name[:-3] if gz else name
            if stem in found and not gz:
                found[stem] = _Cand(self.path.parent / name, m.group(1), False)
            elif stem not in found:
                found[stem] = _Cand(self.path.parent / name, m.group(1), gz)
        return sorted(found.values(), key=lambda c: (c.ts, c.path.name))

    def _open(self, cand_path: Path, gz: bool, state: FileState | None, live: bool) -> _Source:
        """Open a file for reading at ``state``'s offset (0 without one); OSError if gone."""
        offset = state.offset if state else 0
        line = state.line if state else 0
        if not gz:
            try:
                fd = os.open(cand_path, os.O_RDONLY)
            except FileNotFoundError:
                if live:
                    raise
                cand_path = cand_path.with_name(cand_path.name + ".gz")
                return self._open(cand_path, True, state, live)
            st = os.fstat(fd)
            head = os.pread(fd, FINGERPRINT_BYTES, 0)
            return _Source(
                cand_path,
                fd=fd,
                dev=st.st_dev,
                ino=st.st_ino,
                head=head,
                offset=offset,
                line=line,
                size=st.st_size,
                live=live,
            )
        stream = gzip.GzipFile(filename=cand_path, mode="rb")  # owns its file
        try:
            head = stream.read(FINGERPRINT_BYTES)
            stream.seek(offset)
        except _GZ_ERRORS:
            head = b""
        src = _Source(
            cand_path,
            gz=stream,
            dev=state.dev if state else -1,
            ino=state.ino if state else -1,
            head=head,
            offset=offset,
            line=line,
            live=False,
        )
        if state is not None and state.fingerprint_len:  # keep the identity it had when plain
            src.fp, src.fp_len = state.fingerprint, state.fingerprint_len
        return src

    def _find_copy(self, state: FileState, exclude: tuple[int, int]) -> _Source | None:
        """A copy of a truncated file (copytruncate) next to it, by fingerprint."""
        if state.fingerprint_len == 0:
            return None
        best: tuple[float, _Cand] | None = None
        for entry in os.scandir(self.path.parent):
            if entry.name == self.path.name or not entry.name.startswith(self._stem):
                continue
            if not entry.is_file() or entry.name.startswith("."):
                continue
            path = Path(entry.path)
            with contextlib.suppress(OSError):
                with open(path, "rb") as fh:
                    gz = fh.read(2) == b"\x1f\x8b"
                cand = _Cand(path, "", gz)
                if not cand.load() or (cand.dev, cand.ino) == exclude:
                    continue
                if not cand.matches(state, any_inode=True):
                    continue
                if not cand.gz and cand.size < state.offset:
                    continue
                mtime = entry.stat().st_mtime
                if best is None or mtime > best[0]:
                    best = (mtime, cand)
        if best is None:
            return None
        try:
            return self._open(best[1].path, best[1].gz, state, live=False)
        except OSError:
            return None

    def _open_live(self, offset_at_end: bool) -> _Source | None:
        try:
            src = self._open(self.path, False, None, live=True)
        except FileNotFoundError:
            return None
        if offset_at_end:  # --from-end: after the last complete line
            end = src.size
            tail = os.pread(src.fd, min(end, _CHUNK), max(0, end - _CHUNK)) if src.fd else b""
            cut = tail.rfind(b"\n")
            start = end - len(tail) + cut + 1 if cut >= 0 else 0
            src.consumed = src.read_pos = start
        return src

    def _resolve(self) -> bool:
        """Nothing open: decide which files to read next, in order. True if any were queued."""
        if self._first_run:
            live = self._open_live(self.from_end)
            if live is None:
                return False
            self._first_run = False
            self._resolved = True
            self.queue.append(live)
            self.live_seen_at = self.clock()
            self._note(f"following {self.path} from offset {live.consumed}")
            return True
        states = self._pending if self._pending else ([self.done] if self.done else [])
        plan = self._plan(states)
        if not plan:
            return False
        self._pending = None
        self._resolved = True
        self.queue.extend(plan)
        self._dirty = True
        return True

    def _plan(self, states: list[FileState]) -> list[_Source]:
        """The files after ``states`` (oldest first) up to the live one, each at its offset."""
        live = self._open_live(False)  # opened first: every backup older than it is listed now
        opened = _fmt_ts(self.clock() - _FALLBACK_MARGIN)
        cands = self._backups()
        wanted = list(states)
        live_cp: FileState | None = None  # the live file's own checkpoint state
        truncated: FileState | None = None  # ... when the live file was truncated since
        if live is not None:
            for state in wanted:
                if not state.done and (state.dev, state.ino) == (live.dev, live.ino):
                    if live.size >= state.offset and _live_matches(live, state):
                        live_cp = state
                    else:
                        truncated = state  # copytruncate, or the inode was reused
                    break
            if live_cp is not None:
                wanted.remove(live_cp)
        live_state = live.state() if live is not None else None
        matched: dict[int, FileState] = {}
        cut = len(cands)
        for i in range(len(cands) - 1, -1, -1):  # newest first
            cand = cands[i]
            if not wanted and (live_state is None or cand.ts < opened):
                break
            if not cand.load():
                continue
            if (
                live is not None
                and live_state is not None
                and (
                    (not cand.gz and (cand.dev, cand.ino) == (live.dev, live.ino))
                    or (cand.gz and cand.matches(live_state))
                )
            ):
                # The live file was rotated after we opened it: what follows it comes later.
                cut = i
                wanted.extend(matched.values())
                matched = {}
                continue
            for state in wanted:
                if cand.matches(state):
                    matched[i] = state
                    wanted.remove(state)
                    break
        cands = cands[:cut]
        if matched:
            first = min(matched)
        elif live_cp is not None or truncated is not None or not states:
            first = len(cands)
        else:  # lost track: backups rotated since we last saw our file, then the live one
            self.stats.lost += 1
            seen = self.live_seen_at
            since = _fmt_ts(seen - _FALLBACK_MARGIN) if seen else ""
            first = next((i for i, c in enumerate(cands) if c.ts >= since), len(cands))
            self._note(
                f"none of the checkpointed files of {self.path} is there any more; reading "
                f"backups rotated since {since or 'ever'} and {self.path.name} from 0"
            )
            wanted = []
        for state in wanted:
            if state.done or state is truncated:
                continue
            self.stats.lost += 1
            self._note(f"{state.name} (inode {state.ino}) is gone; from offset {state.offset} on")
        plan: list[_Source] = []
        for i in range(first, len(cands)):
            cand, got = cands[i], matched.get(i)
            if got is not None and got.done:
                continue
            try:
                plan.append(self._open(cand.path, cand.gz, got, live=False))
            except OSError:
                self.stats.lost += 1
                self._note(f"{cand.path.name} vanished before it could be read")
        if truncated is not None and truncated in wanted:
            self.stats.truncations += 1
            exclude = (live.dev, live.ino) if live is not None else (-1, -1)
            copy = self._find_copy(truncated, exclude=exclude)
            if copy is not None:
                plan.append(copy)
            else:
                self.stats.lost += 1
                self._note(f"{truncated.name} was truncated and no copy was found")
        if live is not None:
            if live_cp is not None:
                live.consumed = live.read_pos = live_cp.offset
                live.line = live_cp.line
            plan.append(live)
            self.live_seen_at = self.clock()
        if plan:
            self._note(
                "reading " + ", ".join(f"{s.name}@{s.consumed}" for s in plan) + " in this order"
            )
        return plan

    # -- flushing and the checkpoint ---------------------------------------------------------

    def flush(self) -> None:
        """Commit pending events, then record the position (only after the commit)."""
        self.start()
        if not self._dirty and not self.ingestor.pending:
            return
        self.ingestor.flush()
        self.stats.flushes += 1
        self._lines_since_flush = 0
        self._last_flush = self.clock()
        if self._resolved:
            self._save()
        self._dirty = False
        self.lag()

    def lag(self) -> FollowStats:
        """Update and return the stats' lag figures."""
        behind = sum(src.unread() for src in self.queue)
        self.stats.lag_bytes = behind
        if behind and self._behind_since is None:
            self._behind_since = self.clock()
        elif not behind:
            self._behind_since = None
        self.stats.lag_seconds = self._elapsed(self._behind_since) if self._behind_since else 0.0
        return self.stats

    def checkpoint(self) -> Checkpoint:
        live = self.queue[-1] if self.queue and self.queue[-1].live else None
        return Checkpoint(
            path=str(self.path.absolute()),
            cluster=self.ingestor.cluster,
            saved_at=self.clock().astimezone(UTC).isoformat(),
            live_seen_at=self.live_seen_at.astimezone(UTC).isoformat()
            if self.live_seen_at
            else None,
            done=self.done,
            draining=[src.state() for src in self.queue if not src.live],
            current=live.state() if live is not None else None,
        )

    def _save(self) -> None:
        for src in self.queue:
            if src.live:
                src.head_matches()  # extend a short fingerprint
        data = msgspec.json.encode(self.checkpoint())
        target = self.checkpoint_file
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        fsync_dir(target.parent)
        self.stats.checkpoints += 1

    def _load(self) -> Checkpoint | None:
        try:
            data = self.checkpoint_file.read_bytes()
        except FileNotFoundError:
            return None
        try:
            checkpoint = msgspec.json.decode(data, type=Checkpoint)
        except msgspec.DecodeError as exc:
            raise InputError(
                f"{self.checkpoint_file}: not a follow checkpoint ({exc}); remove it to start "
                "over (events already in the lake are not stored twice)"
            ) from exc
        if checkpoint.version > CHECKPOINT_VERSION:
            raise InputError(
                f"{self.checkpoint_file}: checkpoint version {checkpoint.version} is newer than "
                "this kubetrail"
            )
        return checkpoint


def _live_matches(src: _Source, state: FileState) -> bool:
    """The open live file still starts with the bytes ``state`` fingerprinted."""
    if state.fingerprint_len == 0:
        return True
    if src.fd is None:
        return False
    head = os.pread(src.fd, state.fingerprint_len, 0)
    return len(head) == state.fingerprint_len and _digest(head) == state.fingerprint
