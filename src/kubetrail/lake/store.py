"""The lake on disk: hive-partitioned Parquet files, committed atomically, listed in a manifest.

Layout under the lake directory::

    cluster=<name>/date=YYYY-MM-DD/hour=HH/part-<time>-<id>.parquet   data (zstd)
    _manifest/<id>.json        one entry per data file: path, SHA-256, rows, bytes, created
    _staging/                  files being written (never read)
    _wal/<writer>/<n>.jsonl    events acknowledged by a receiver, not yet in Parquet
    _kubetrail/lake.json       schema version; _kubetrail/key the redaction key (0600)
    _kubetrail/holds.json      legal holds

Readers (the ``events`` view) read only ``cluster=*/date=*/hour=*/*.parquet`` and the WAL, so
names starting with ``_`` or ``.`` are never read. A data file appears by one ``rename`` from
``_staging``; its manifest entry is written first. Compaction writes the merged file, then
removes the old ones; in between a reader may see both, and the view's exact-duplicate removal
shows each event once.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import secrets
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import msgspec

from kubetrail.errors import InputError, UsageError
from kubetrail.lake.schema import (
    NAMES,
    SCHEMA_VERSION,
    SORT_KEYS,
    Rows,
    projection_sql,
    sql_str,
    staging_columns_sql,
)

DATA_GLOB: Final = "cluster=*/date=*/hour=*/*.parquet"
_PARTITION_KEYS: Final = ("cluster", "date", "hour")


class FileEntry(msgspec.Struct, frozen=True, kw_only=True):
    """A committed data file, as listed in the manifest."""

    path: str  # relative to the lake root
    sha256: str
    rows: int
    bytes: int
    created: str


class Problem(msgspec.Struct, frozen=True):
    kind: str  # "changed" | "missing" | "extra"
    path: str
    detail: str = ""


class Hold(msgspec.Struct, frozen=True, kw_only=True):
    pattern: str  # e.g. "cluster=prod/date=2026-11-*"
    reason: str
    created: str


def fsync_dir(path: Path) -> None:
    """fsync a directory, so that a rename or a new file in it is durable (best effort)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def held_by(partition: str, holds: list[Hold]) -> Hold | None:
    """The first hold whose pattern covers ``partition``."""
    for hold in holds:
        parts = hold.pattern.split("/")
        prefix = "/".join(partition.split("/")[: len(parts)])
        if fnmatch.fnmatchcase(prefix, hold.pattern):
            return hold
    return None


def expired(
    partitions: list[str], holds: list[Hold], older_than: timedelta, now: datetime
) -> tuple[list[str], list[str]]:
    """Of ``partitions``, the hours that ended before ``now - older_than``: (to delete, kept
    under a hold). The one retention rule, whichever engine deletes."""
    cutoff = now - older_than
    deleted: list[str] = []
    kept: list[str] = []
    for partition in partitions:
        fields = dict(part.split("=", 1) for part in partition.split("/"))
        start = datetime.strptime(f"{fields['date']} {fields['hour']}", "%Y-%m-%d %H")
        if start.replace(tzinfo=UTC) + timedelta(hours=1) > cutoff:
            continue
        (kept if held_by(partition, holds) is not None else deleted).append(partition)
    return deleted, kept


def is_remote(location: str) -> bool:
    """Whether ``--lake`` names a URL only Spark reads (``s3a://…``, ``hdfs://…``) rather
    than a directory here (a path, or ``file://``)."""
    return "://" in location and not location.startswith("file://")


def partition_dir(cluster: str, date: str, hour: int) -> str:
    if not cluster or "/" in cluster or cluster.startswith((".", "_")):
        raise UsageError(f"cluster name {cluster!r} cannot name a partition directory")
    return f"cluster={cluster}/date={date}/hour={hour:02d}"


class Lake:
    """One lake directory."""

    def __init__(self, root: str | Path, *, create: bool = False) -> None:
        self.root = Path(root)
        meta = self.root / "_kubetrail" / "lake.json"
        if not meta.exists():
            if not create:
                raise InputError(
                    f"{self.root} is not a kubetrail lake (no _kubetrail/lake.json); "
                    "`kubetrail ingest --lake DIR` creates one"
                )
            (self.root / "_kubetrail").mkdir(parents=True, exist_ok=True)
            _write_atomic(
                meta,
                json.dumps({"schema_version": SCHEMA_VERSION, "format": "kubetrail-lake"}).encode(),
            )
        info = json.loads(meta.read_text())
        self.schema_version = int(info.get("schema_version", 0))
        if self.schema_version > SCHEMA_VERSION:
            raise InputError(
                f"{self.root}: lake schema version {self.schema_version} is newer than this "
                f"kubetrail ({SCHEMA_VERSION}); upgrade kubetrail"
            )
        for sub in ("_manifest", "_staging", "_wal"):
            (self.root / sub).mkdir(exist_ok=True)

    def _upgrade(self) -> None:
        """Before writing files of the current schema into an older lake: record the new
        version. Versions only add columns, so the older files stay readable (nulls)."""
        if self.schema_version < SCHEMA_VERSION:
            meta = self.root / "_kubetrail" / "lake.json"
            info = json.loads(meta.read_text())
            info["schema_version"] = SCHEMA_VERSION
            _write_atomic(meta, json.dumps(info).encode())
            self.schema_version = SCHEMA_VERSION

    # -- the redaction key ---------------------------------------------------------------------

    @property
    def key(self) -> bytes:
        """The lake's HMAC key for redaction markers (created once, mode 0600)."""
        path = self.root / "_kubetrail" / "key"
        try:
            return path.read_bytes()
        except FileNotFoundError:
            key = secrets.token_bytes(32)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return path.read_bytes()  # another writer made it first
            with os.fdopen(fd, "wb") as fh:
                fh.write(key)
                fh.flush()
                os.fsync(fh.fileno())
            return key

    # -- writing -------------------------------------------------------------------------------

    def commit(self, rows: Rows, now: datetime, *, threads: int | None = None) -> list[FileEntry]:
        """Write ``rows`` as one file per partition; each appears atomically.

        Per partition, the staging lines go to ``_staging/<id>.jsonl``; DuckDB projects them
        into the lake's columns (:func:`~kubetrail.lake.schema.projection_sql`), sorts them and
        writes a Parquet file in ``_staging``, which is listed in the manifest and renamed
        into its partition.
        """
        if not len(rows):
            return []
        self._upgrade()
        groups: dict[tuple[str, str, int], list[bytes]] = {}
        for line, key in zip(rows.lines, rows.partition, strict=True):
            groups.setdefault(key, []).append(line)
        batch = uuid.uuid4().hex[:12]
        stamp = now.strftime("%Y%m%dT%H%M%S")
        con = _duckdb(threads)
        entries = []
        try:
            for n, (key, lines) in enumerate(sorted(groups.items())):
                partition = partition_dir(*key)
                staging = self.root / "_staging" / f"{batch}-{n}.jsonl"
                output = self.root / "_staging" / f"part-{stamp}-{batch}-{n}.parquet"
                try:
                    with open(staging, "wb") as fh:
                        # In slices: one join of the whole batch would double its memory.
                        for at in range(0, len(lines), 2048):
                            fh.write(b"\n".join(lines[at : at + 2048]) + b"\n")
                    con.execute(
                        f"COPY (SELECT {projection_sql(partitions=False)} FROM "
                        f"read_ndjson({sql_str(str(staging))}, columns = {staging_columns_sql()}) "
                        f"ORDER BY {', '.join(SORT_KEYS)}) TO {sql_str(str(output))} "
                        "(FORMAT parquet, COMPRESSION zstd)"
                    )
                    entries.append(self._install(output, partition, now, rows=len(lines)))
                finally:
                    staging.unlink(missing_ok=True)
                    output.unlink(missing_ok=True)
        finally:
            con.close()
        return entries

    def _install(
        self, path: Path, partition: str, now: datetime, *, rows: int | None = None
    ) -> FileEntry:
        """List a finished file in the manifest, then rename it into its partition."""
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
        rel = f"{partition}/{path.name}"
        entry = FileEntry(
            path=rel,
            sha256=_sha256(path),
            rows=_parquet_rows(path) if rows is None else rows,
            bytes=path.stat().st_size,
            created=now.astimezone(UTC).isoformat(),
        )
        entry_name = path.name.removesuffix(".parquet")
        _write_atomic(self.root / "_manifest" / f"{entry_name}.json", msgspec.json.encode(entry))
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        fsync_dir(target.parent)
        return entry

    def stored_keys(
        self, partition: tuple[str, str, int]
    ) -> list[tuple[str, str, str | None, str]]:
        """(audit_id, stage, canonical stage time, hash) of every row stored in a partition."""
        directory = self.root / partition_dir(*partition)
        files = sorted(directory.glob("*.parquet")) if directory.is_dir() else []
        if not files:
            return []
        con = _duckdb(None)
        rows = con.execute(
            "SELECT coalesce(audit_id, ''), coalesce(stage, ''), "
            "strftime(stage_at, '%Y-%m-%dT%H:%M:%S.%fZ'), event_hash "
            f"FROM read_parquet([{', '.join(sql_str(str(f)) for f in files)}])"
        ).fetchall()
        con.close()
        return [(a, s, t, h) for a, s, t, h in rows]

    # -- reading the layout --------------------------------------------------------------------

    def data_files(self) -> list[str]:
        """Relative paths of every data file on disk."""
        return sorted(str(p.relative_to(self.root)) for p in self.root.glob(DATA_GLOB))

    def manifest(self) -> dict[str, tuple[Path, FileEntry]]:
        out = {}
        for path in (self.root / "_manifest").glob("*.json"):
            try:
                entry = msgspec.json.decode(path.read_bytes(), type=FileEntry)
            except (OSError, msgspec.DecodeError):
                continue
            out[entry.path] = (path, entry)
        return out

    def partitions(self) -> list[str]:
        return sorted({str(Path(p).parent) for p in self.data_files()})

    def wal_files(self) -> list[Path]:
        return sorted((self.root / "_wal").glob("*/*.jsonl"))

    # -- verify ------------------------------------------------------------------------------

    def verify(self) -> tuple[int, list[Problem]]:
        """Check every file against the manifest: (files checked, problems)."""
        listed = self.manifest()
        on_disk = set(self.data_files())
        problems = [
            Problem("extra", rel, "on disk but not in the manifest")
            for rel in sorted(on_disk - set(listed))
        ]
        for rel, (_, entry) in sorted(listed.items()):
            if rel not in on_disk:
                problems.append(Problem("missing", rel, "in the manifest but not on disk"))
                continue
            actual = _sha256(self.root / rel)
            if actual != entry.sha256:
                problems.append(
                    Problem("changed", rel, f"sha256 {actual[:16]}… != {entry.sha256[:16]}…")
                )
        return len(on_disk | set(listed)), problems

    # -- holds ---------------------------------------------------------------------------------

    def holds(self) -> list[Hold]:
        path = self.root / "_kubetrail" / "holds.json"
        if not path.exists():
            return []
        return msgspec.json.decode(path.read_bytes(), type=list[Hold])

    def hold(self, pattern: str, reason: str, now: datetime) -> Hold:
        """Put partitions matching ``pattern`` (``cluster=x/date=2026-11-*``) under a hold."""
        if not pattern.startswith("cluster="):
            raise UsageError(
                "a hold pattern starts with cluster=… (e.g. cluster=prod/date=2026-11-*)"
            )
        hold = Hold(pattern=pattern.rstrip("/"), reason=reason, created=now.isoformat())
        holds = [h for h in self.holds() if h.pattern != hold.pattern] + [hold]
        _write_atomic(self.root / "_kubetrail" / "holds.json", msgspec.json.encode(holds))
        return hold

    def release(self, pattern: str) -> bool:
        holds = self.holds()
        kept = [h for h in holds if h.pattern != pattern.rstrip("/")]
        _write_atomic(self.root / "_kubetrail" / "holds.json", msgspec.json.encode(kept))
        return len(kept) != len(holds)

    def held(self, partition: str) -> Hold | None:
        return held_by(partition, self.holds())

    # -- retention -----------------------------------------------------------------------------

    def prune(
        self, older_than: timedelta, now: datetime, *, dry_run: bool = False
    ) -> tuple[list[str], list[str]]:
        """Delete partitions whose hour ended before ``now - older_than``: (deleted, held)."""
        deleted, kept = expired(self.partitions(), self.holds(), older_than, now)
        listed = self.manifest()
        for partition in [] if dry_run else deleted:
            for rel in [r for r in listed if r.startswith(partition + "/")]:
                with contextlib.suppress(FileNotFoundError):
                    (self.root / rel).unlink()
                with contextlib.suppress(FileNotFoundError):
                    listed[rel][0].unlink()
            shutil.rmtree(self.root / partition, ignore_errors=True)
            self._remove_empty_parents(self.root / partition)
        return deleted, kept

    def _remove_empty_parents(self, path: Path) -> None:
        for parent in (path.parent, path.parent.parent):
            with contextlib.suppress(OSError):
                parent.rmdir()

    # -- compaction ----------------------------------------------------------------------------

    def compact(
        self, now: datetime, *, partitions: list[str] | None = None
    ) -> list[tuple[str, int, int, int]]:
        """Merge each partition's files into one, removing exact duplicates.

        Returns (partition, files before, rows before, rows after) per compacted partition.
        The merged file appears before the old ones go, so a reader sees every event at every
        moment (twice at most, which the ``events`` view hides). Held partitions are left
        alone: their files must not change.
        """
        from kubetrail.lake.engine import DEDUP_KEY

        done = []
        listed = self.manifest()
        for partition, files in self.to_compact(partitions):
            staging = self.root / "_staging" / self.compacted_name(now)
            key = ", ".join(k for k in DEDUP_KEY if k != "cluster")
            source = (
                f"read_parquet([{', '.join(sql_str(str(f)) for f in files)}], "
                "union_by_name = true, hive_partitioning = false)"
            )
            cols = ", ".join(NAMES)  # the current schema: older files read as nulls
            con = _duckdb(None)
            before = con.execute(f"SELECT count(*) FROM {source}").fetchone()
            con.execute(
                f"COPY (SELECT {cols} FROM {source} QUALIFY row_number() OVER "
                f"(PARTITION BY {key} ORDER BY ingested_at, source) = 1 "
                f"ORDER BY {', '.join(SORT_KEYS)}) TO {sql_str(str(staging))} "
                "(FORMAT parquet, COMPRESSION zstd)"
            )
            con.close()
            entry = self.replace_files(partition, staging, files, now, listed)
            done.append((partition, len(files), int(before[0]) if before else 0, entry.rows))
        return done

    def to_compact(self, partitions: list[str] | None = None) -> list[tuple[str, list[Path]]]:
        """The partitions compaction would merge (two files or more, not held), with their
        files."""
        out = []
        for partition in partitions or self.partitions():
            if self.held(partition) is not None:
                continue
            files = sorted((self.root / partition).glob("*.parquet"))
            if len(files) >= 2:
                out.append((partition, files))
        return out

    @staticmethod
    def compacted_name(now: datetime) -> str:
        return f"part-{now.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}-c.parquet"

    def replace_files(
        self,
        partition: str,
        merged: Path,
        files: list[Path],
        now: datetime,
        listed: dict[str, tuple[Path, FileEntry]],
    ) -> FileEntry:
        """Install ``merged`` (a finished file in ``_staging``) in ``partition``, then remove
        ``files``, the ones it replaces, and their manifest entries."""
        entry = self._install(merged, partition, now)
        for f in files:
            rel = str(f.relative_to(self.root))
            if rel in listed:
                with contextlib.suppress(FileNotFoundError):
                    listed[rel][0].unlink()
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
        return entry

    def iter_partitions(self) -> Iterator[dict[str, str]]:
        for partition in self.partitions():
            yield dict(part.split("=", 1) for part in partition.split("/"))


def _duckdb(threads: int | None) -> Any:
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def _parquet_rows(path: Path) -> int:
    con = _duckdb(None)
    row = con.execute(
        f"SELECT sum(row_group_num_rows) FROM (SELECT DISTINCT row_group_id, row_group_num_rows "
        f"FROM parquet_metadata({sql_str(str(path))}))"
    ).fetchone()
    con.close()
    return int(row[0]) if row and row[0] is not None else 0
