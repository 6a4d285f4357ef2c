"""``kubetrail follow --layer container``: a ``tail -F`` of ``/var/log/pods`` into the lake,
across kubelet's rotation and restarts — ``layers-spec.md`` §1.4-1.5.

Kubelet rotates ``<n>.log`` by renaming it to ``<n>.log.<YYYYMMDD-HHMMSS>`` (the same inode)
and creating a new ``<n>.log``; it later gzips older rotated files (``….gz``, the plain file
removed). The follower therefore knows a file by its inode, reads each to its last complete
line, and when an inode it had not finished is gone, reads the rest from its ``.gz``.

Fragments are reassembled per pod UID, container, restart and stream across files. The
checkpoint (``<lake>/_kubetrail/follow-container/<hash>.json``, written atomically after each
commit) records, per file, the offset *before* the oldest fragment still waiting for its end:
a restart re-reads those fragments, and whatever is read twice is removed by the table's
row keys — so nothing is lost and nothing is stored twice.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import msgspec

from kubetrail.lake import tables
from kubetrail.lake.store import Lake, fsync_dir
from kubetrail.layers.container import Reassembler, Rejected, parse_cri, parse_docker, pod_fields

_NAME: Final = re.compile(r"(\d+)\.log(?:\.(\d{8}-\d{6}))?")


class FileMark(msgspec.Struct, kw_only=True):
    name: str  # path relative to the root, as last seen
    offset: int  # bytes consumed (to a line end), or the start of a pending fragment
    head: str = ""  # SHA-256 of the file's first head_len bytes: inode numbers are reused
    head_len: int = 0


_HEAD: Final = 256


def _head(data: bytes) -> tuple[str, int]:
    part = data[:_HEAD]
    return hashlib.sha256(part).hexdigest(), len(part)


class FollowReport(msgspec.Struct, kw_only=True):
    lines: int = 0
    records: int = 0
    rejected: int = 0
    stats: tables.WriteStats = msgspec.field(default_factory=tables.WriteStats)


class ContainerFollower:
    """Follows every container log under ``root`` into ``lake``'s container_logs."""

    def __init__(
        self,
        lake: Lake,
        root: str | Path,
        *,
        cluster: str,
        clock: Callable[[], datetime],
        checkpoint: Path | None = None,
    ) -> None:
        self.lake = lake
        self.root = Path(root).resolve()
        self.cluster = cluster
        self.clock = clock
        digest = hashlib.sha256(f"{self.root}\0{cluster}".encode()).hexdigest()[:16]
        self.checkpoint = checkpoint or (
            lake.root / "_kubetrail" / "follow-container" / f"{digest}.json"
        )
        self.marks: dict[str, FileMark] = {}  # inode key "dev:ino" → mark
        self.joiner = Reassembler()
        self.report = FollowReport()
        self._pending_rows: list[dict[str, Any]] = []
        self._stored = tables.StoredKeys()  # each commit reads only the files it has not
        # Per stream: (inode key, offset of the line) of its oldest fragment not yet closed.
        self._open_fragments: dict[tuple[Any, ...], tuple[str, int]] = {}
        if self.checkpoint.exists():
            self.marks = msgspec.json.decode(self.checkpoint.read_bytes(), type=dict[str, FileMark])

    def _files(self) -> list[tuple[Path, str]]:
        """(path, inode key) of every plain log file, a container's in rotation order."""
        found = []
        for path in self.root.rglob("*.log*"):
            match = _NAME.fullmatch(path.name)
            if match is None or not path.is_file():
                continue
            st = path.stat()
            order = (str(path.parent), int(match[1]), match[2] is None, match[2] or "")
            found.append((order, path, f"{st.st_dev}:{st.st_ino}"))
        return [(p, k) for _, p, k in sorted(found)]

    def poll(self) -> int:
        """Read what was appended everywhere, commit it, checkpoint. Returns the lines read."""
        before = self.report.lines
        present = []
        for path, key in self._files():
            with open(path, "rb") as fh:
                start = fh.read(_HEAD)
            mark = self.marks.get(key)
            if mark is not None and mark.head_len and _head(start[: mark.head_len])[0] != mark.head:
                key = f"{key}:{_head(start)[0][:12]}"  # a new file on a reused inode number
            present.append((path, key, start))
        seen = {key for _, key, _ in present}
        # A file not finished that is gone was gzipped by kubelet: its rest is in the .gz whose
        # content starts as it did.
        for key, mark in list(self.marks.items()):
            if key in seen:
                continue
            directory = (self.root / mark.name).parent
            for compressed in sorted(directory.glob("*.log.*.gz")):
                with gzip.open(compressed, "rb") as gz:
                    if mark.head_len and _head(gz.read(mark.head_len))[0] != mark.head:
                        continue
                    gz.seek(mark.offset)
                    name = str(compressed.relative_to(self.root))[: -len(".gz")]
                    self._consume(key, name, gz.read(), mark.offset, final=True)
                break
            del self.marks[key]
        for path, key, start in present:
            name = str(path.relative_to(self.root))
            mark = self.marks.get(key)
            if mark is None:
                head, head_len = _head(start)
                mark = self.marks[key] = FileMark(name=name, offset=0, head=head, head_len=head_len)
            elif mark.head_len < min(len(start), _HEAD):
                mark.head, mark.head_len = _head(start)  # the file grew: a longer fingerprint
            mark.name = name
            with open(path, "rb") as fh:
                fh.seek(mark.offset)
                data = fh.read()
            if data:
                self._consume(key, name, data, mark.offset, final=False)
        self._commit()
        return self.report.lines - before

    def _consume(self, key: str, name: str, data: bytes, start: int, *, final: bool) -> None:
        end = len(data) if final else data.rfind(b"\n") + 1  # a line being written waits
        if end <= 0:
            return
        pod = pod_fields(str(self.root / name))
        offset = start
        for raw in data[:end].splitlines(keepends=True):
            line_at = offset
            offset += len(raw)
            self.report.lines += 1
            text = raw.decode("utf-8", errors="replace").rstrip("\n")
            try:
                parsed = parse_docker(text) if text.startswith("{") else parse_cri(text)
            except Rejected:
                self.report.rejected += 1
                continue
            stream_key = (pod.get("uid"), pod.get("container"), pod.get("restart"), parsed.stream)
            if parsed.partial:
                self._open_fragments.setdefault(stream_key, (key, line_at))
            else:
                self._open_fragments.pop(stream_key, None)
            for record in self.joiner.add(parsed, pod):
                self.report.records += 1
                self._pending_rows.append(tables.container_row(record, f"{name}:{line_at}"))
        mark = self.marks.get(key)
        if mark is not None:
            mark.offset, mark.name = start + end, name

    def _commit(self) -> None:
        if self._pending_rows:
            tables.write(
                self.lake,
                "container_logs",
                self._pending_rows,
                cluster=self.cluster,
                now=self.clock(),
                stats=self.report.stats,
                stored=self._stored,
            )
            self._pending_rows = []
        # Checkpoint no further than the oldest fragment still open in each file.
        marks = {k: msgspec.structs.replace(m) for k, m in self.marks.items()}
        for key, at in self._open_fragments.values():
            if key in marks:
                marks[key].offset = min(marks[key].offset, at)
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.checkpoint.with_suffix(".tmp")
        with open(temporary, "wb") as fh:
            fh.write(msgspec.json.encode(marks))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, self.checkpoint)
        fsync_dir(self.checkpoint.parent)

    def close(self) -> None:
        """At the end: fragments never closed are stored as partial."""
        for record in self.joiner.flush():
            self.report.records += 1
            self._pending_rows.append(tables.container_row(record, "flush"))
        self._open_fragments.clear()
        self._commit()
