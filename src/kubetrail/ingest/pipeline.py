"""The one decoder and the path every source takes into the lake.

``bytes of one JSON document`` → audit Event(s) (plain, or unwrapped from a cloud envelope)
→ redaction (:mod:`kubetrail.ingest.redact`) → canonical hash → :class:`~kubetrail.lake.schema.Rows`
→ Parquet (:meth:`Lake.commit`). The file, follow and webhook sources all feed
:meth:`Ingestor.add`. Nothing reaches any file before redaction.

Exact duplicates already in the lake (key ``audit_id, stage, stage_at, event_hash`` within a
cluster and hour) are dropped before a commit — re-ingesting a file adds nothing — and counted.
Removing them here is an optimisation: the ``events`` view removes them again when reading,
so writers that run in parallel need no coordination.
"""

from __future__ import annotations

import collections
import queue
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

import msgspec

from kubetrail.ingest.redact import Redactor
from kubetrail.lake.schema import Key, Provenance, Rows, iso, micros
from kubetrail.lake.store import FileEntry, Lake, partition_dir
from kubetrail.model.event import Event

# A batch is committed at this many bytes of staging lines (or ``batch_rows`` rows): with one
# batch being decoded, one waiting and one being written, the peak stays a few hundred MB.
DEFAULT_BATCH_BYTES: Final = 32 << 20
KEYS_CACHED: Final = 2  # partitions whose stored keys are kept between commits

_decoder: Final = msgspec.json.Decoder(Event)
_encoder: Final = msgspec.json.Encoder()
Clock = Callable[[], datetime]


class IngestStats(msgspec.Struct, kw_only=True):
    events: int = 0
    written: int = 0
    duplicates: int = 0
    collisions: int = 0  # same audit ID and stage, different content
    redacted_events: int = 0
    skipped: int = 0  # documents that held no audit event (envelope health checks, other logs)
    no_time: int = 0
    files: int = 0
    bytes_written: int = 0


def _is_audit_event(event: Event) -> bool:
    return bool(event.audit_id or event.stage or event.request_uri or event.verb)


class Ingestor:
    """Decodes, redacts and buffers events; commits them to the lake in batches."""

    def __init__(
        self,
        lake: Lake,
        cluster: str,
        *,
        keep_secrets: bool = False,
        clock: Clock = lambda: datetime.now(UTC),
        batch_rows: int = 100_000,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        apiserver: str | None = None,
        background: bool = False,
        observer: Callable[[Event], None] | None = None,
    ) -> None:
        partition_dir(cluster, "1970-01-01", 0)  # refuses a cluster name that cannot be a dir
        self.lake = lake
        self.cluster = cluster
        self.clock = clock
        self.batch_rows = batch_rows
        self.batch_bytes = batch_bytes
        # Keys stored in the partitions this ingestor wrote to last, so that a run's later
        # commits do not read back what its earlier ones wrote (bounded: KEYS_CACHED).
        self._stored: collections.OrderedDict[tuple[str, str, int], _Keys] = (
            collections.OrderedDict()
        )
        self.redactor = None if keep_secrets else Redactor(lake.key)
        self.provenance = Provenance(cluster=cluster, source="", apiserver=apiserver)
        self.rows = Rows()
        # Sees every event after redaction, before it is buffered (live detection).
        self.observer = observer
        self.stats = IngestStats()
        self.skip_reasons: list[str] = []
        self.entries: list[FileEntry] = []
        # background=True: commits run in a worker thread (DuckDB releases the GIL) while the
        # caller decodes the next batch; at most one batch waits, which bounds memory.
        self._queue: queue.Queue[Rows | None] | None = None
        self._worker: threading.Thread | None = None
        self._failure: BaseException | None = None
        if background:
            self._queue = queue.Queue(maxsize=1)
            self._worker = threading.Thread(target=self._work, name="kubetrail-commit", daemon=True)
            self._worker.start()
        self._now = self._ingest_time()

    def add(self, data: bytes, source: str) -> int:
        """Decode one JSON document and buffer the events in it; returns how many.

        Raises msgspec.DecodeError for a document that is not JSON (the caller counts it).
        """
        try:
            event = _decoder.decode(data)
        except msgspec.ValidationError:
            # Valid JSON of another shape: a cloud envelope (EKS events carry an integer
            # `timestamp`), or junk the envelope reader reports as skipped.
            return self._add_envelope(data, source)
        if _is_audit_event(event):
            self._add_event(event, source, None)
            return 1
        return self._add_envelope(data, source)

    def _add_envelope(self, data: bytes, source: str) -> int:
        from kubetrail.ingest.envelopes import Skipped, unwrap

        added = 0
        for item in unwrap(msgspec.json.decode(data)):
            if isinstance(item, Skipped):
                self.stats.skipped += 1
                if len(self.skip_reasons) < 10:
                    self.skip_reasons.append(f"{source}: {item.reason}")
                continue
            # Bodies are msgspec.Raw in the model: go through JSON, not convert().
            try:
                event = _decoder.decode(_encoder.encode(item.event))
            except msgspec.ValidationError as exc:
                self.stats.skipped += 1
                if len(self.skip_reasons) < 10:
                    self.skip_reasons.append(f"{source}: {item.envelope} event: {exc}")
                continue
            self._add_event(event, source, item.envelope or None)
            added += 1
        return added

    def _add_event(self, event: Event, source: str, envelope: str | None) -> None:
        self.stats.events += 1
        if self.redactor is not None and self.redactor.event(event):
            self.stats.redacted_events += 1
        if self.observer is not None:
            self.observer(event)
        provenance = self.provenance
        if envelope:
            provenance = Provenance(
                cluster=self.cluster,
                source=source,
                apiserver=provenance.apiserver,
                envelope=envelope,
            )
        if not self.rows.add(event, provenance, self._now, source=source):
            self.stats.no_time += 1

    def take_rows(self) -> Rows:
        """The buffered rows (emptying the buffer), e.g. for a receiver's write-ahead log."""
        rows, self.rows = self.rows, Rows()
        return rows

    def commit(self, rows: Rows) -> list[FileEntry]:
        """Commit ``rows`` (from :meth:`take_rows` or a WAL replay), minus stored duplicates."""
        self.rows.extend(rows)
        return self.flush()

    @property
    def pending(self) -> int:
        return len(self.rows)

    def flush(self) -> list[FileEntry]:
        """Commit buffered events (minus exact duplicates already stored).

        In background mode the batch is handed to the worker and ``[]`` returned; the files
        appear in :attr:`entries` (call :meth:`close` to wait for them).
        """
        rows, self.rows = self.rows, Rows()
        self._now = self._ingest_time()
        if self._queue is not None:
            self._raise_failure()
            if len(rows):
                self._queue.put(rows)
            return []
        return self._commit(rows)

    def _commit(self, rows: Rows) -> list[FileEntry]:
        if not len(rows):
            return []
        rows = self._without_stored(rows)
        # In background mode DuckDB gets one core, the decoding thread the other.
        entries = self.lake.commit(rows, self.clock(), threads=1 if self._worker else None)
        self._remember(rows)
        self.stats.written += sum(e.rows for e in entries)
        self.stats.files += len(entries)
        self.stats.bytes_written += sum(e.bytes for e in entries)
        self.entries.extend(entries)
        return entries

    def _work(self) -> None:
        assert self._queue is not None
        while True:
            rows = self._queue.get()
            if rows is None:
                return
            try:
                if self._failure is None:
                    self._commit(rows)
            except BaseException as exc:
                self._failure = exc

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def close(self) -> None:
        """Commit what is buffered and wait for background commits; re-raise their error."""
        self.flush()
        if self._queue is not None and self._worker is not None:
            self._queue.put(None)
            self._worker.join()
            self._queue = None
        self._raise_failure()

    def _ingest_time(self) -> str:
        return iso(micros(self.clock().astimezone(UTC).isoformat())) or ""

    def maybe_flush(self) -> list[FileEntry]:
        rows = self.rows
        if len(rows) >= self.batch_rows or rows.nbytes >= self.batch_bytes:
            return self.flush()
        return []

    def _keys(self, part: tuple[str, str, int]) -> _Keys:
        """The keys stored in a partition: read from the lake once, then kept up to date."""
        stored = self._stored
        keys = stored.get(part)
        if keys is None:
            keys = stored[part] = _Keys(self.lake.stored_keys(part))
            while len(stored) > KEYS_CACHED:
                stored.popitem(last=False)
        elif part != next(reversed(stored)):
            stored.move_to_end(part)
        return keys

    def _without_stored(self, rows: Rows) -> Rows:
        """Drop rows whose exact key is already stored (or repeated in this batch)."""
        exact_here: set[str] = set()
        ids_here: set[int] = set()
        keep: list[int] = []
        for i, (key, part) in enumerate(zip(rows.keys, rows.partition, strict=True)):
            keys = self._keys(part)
            digest = key[3]
            if digest in keys.exact or digest in exact_here:
                self.stats.duplicates += 1
                continue
            ident = hash(key[:2])
            if ident in keys.ids or ident in ids_here:
                self.stats.collisions += 1
            exact_here.add(digest)
            ids_here.add(ident)
            keep.append(i)
        return rows if len(keep) == len(rows) else rows.select(keep)

    def _remember(self, rows: Rows) -> None:
        """After a commit succeeded: its keys are stored (never before: a failed commit is
        retried, and its rows must not then look like duplicates)."""
        for key, part in zip(rows.keys, rows.partition, strict=True):
            keys = self._keys(part)
            keys.exact.add(key[3])
            keys.ids.add(hash(key[:2]))


class _Keys:
    """What one partition holds, compactly (a run keeps this for the partitions it writes).

    ``exact``: event hashes. The hash is the SHA-256 of the canonical event, which holds the
    audit ID, the stage and the stage time, so equal hashes are equal exact keys
    ``(audit_id, stage, stage time, hash)`` (within a partition, i.e. a cluster and hour).
    ``ids``: Python hashes of (audit ID, stage), only to count collisions — a clash of two
    such hashes miscounts a collision, it never drops an event.
    """

    def __init__(self, keys: list[Key]) -> None:
        self.exact: set[str] = {k[3] for k in keys}
        self.ids: set[int] = {hash(k[:2]) for k in keys}
