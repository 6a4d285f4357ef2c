"""kubetrail.ingest.follow: tail -F into the lake across rotation, copytruncate and restarts."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from kubetrail.ingest.follow import Checkpoint, Follower, checkpoint_path, default_checkpoint_dir
from kubetrail.ingest.pipeline import Ingestor
from kubetrail.lake.engine import DuckDBEngine
from kubetrail.lake.store import Lake
from kubetrail.sample.generate import generate

TOTAL = 100_000
ROTATIONS = 20


class _Key(msgspec.Struct):
    auditID: str
    stage: str


def keys_of(lines: list[bytes]) -> set[tuple[str, str]]:
    decoder = msgspec.json.Decoder(_Key)
    return {(k.auditID, k.stage) for k in map(decoder.decode, lines)}


@pytest.fixture(scope="module")
def sample_lines() -> list[bytes]:
    """100,000 generated events (JSON lines without newline), distinct (auditID, stage)."""
    gen = generate(nodes=2, seconds=3600, seed=1, start=datetime(2026, 1, 1, tzinfo=UTC))
    lines = list(itertools.islice(gen, TOTAL))
    assert len(lines) == TOTAL
    return lines


class Lumberjack:
    """Writes an audit log like kube-apiserver's log backend with lumberjack v2.

    Rotation renames ``audit.log`` to ``audit-<UTC 2006-01-02T15-04-05.000>.log`` and creates
    a new file; with ``gzip_backup`` the backup is then compressed to ``….log.gz`` (written in
    place) and the plain file removed. ``copytruncate`` does what logrotate does instead:
    copy, then truncate the file in place (the writer's descriptor, opened O_APPEND, goes on).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = self._open()
        self.rotations = 0
        self.backups: list[Path] = []
        self._last = ""

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def lines(self, lines: list[bytes]) -> None:
        self.write(b"".join(line + b"\n" for line in lines))

    def backup_name(self) -> Path:
        stem, ext = os.path.splitext(self.path.name)
        while True:
            now = datetime.now(UTC)
            stamp = now.strftime("%Y-%m-%dT%H-%M-%S.") + f"{now.microsecond // 1000:03d}"
            name = self.path.with_name(f"{stem}-{stamp}{ext}")
            if stamp > self._last:
                self._last = stamp
                return name
            time.sleep(0.001)

    def rotate(
        self, *, gzip_backup: bool = False, copytruncate: bool = False, copy_name: str = ""
    ) -> Path:
        backup = self.path.with_name(copy_name) if copy_name else self.backup_name()
        if copytruncate:
            shutil.copyfile(self.path, backup)
            os.truncate(self.path, 0)
        else:
            os.close(self.fd)
            os.rename(self.path, backup)
            self.fd = self._open()
        self.rotations += 1
        if gzip_backup:
            gz = backup.with_name(backup.name + ".gz")
            with open(backup, "rb") as src, gzip.open(gz, "wb", compresslevel=1) as dst:
                shutil.copyfileobj(src, dst)
            os.remove(backup)
            backup = gz
        self.backups.append(backup)
        return backup

    def close(self) -> None:
        os.close(self.fd)


def write_paced(
    writer: Lumberjack,
    lines: list[bytes],
    *,
    rotations: int,
    batch: int = 250,
    pause: float = 0.004,
    seed: int = 7,
) -> None:
    """Append ``lines`` in batches (each split at a random byte, so lines are seen half
    written), rotating ``rotations`` times at equal distances; every other backup gzipped."""
    rng = random.Random(seed)
    per_file = -(-len(lines) // (rotations + 1))
    for start in range(0, len(lines), per_file):
        if start:
            writer.rotate(gzip_backup=writer.rotations % 2 == 1)
        chunk_lines = lines[start : start + per_file]
        for i in range(0, len(chunk_lines), batch):
            data = b"".join(line + b"\n" for line in chunk_lines[i : i + batch])
            cut = rng.randrange(1, len(data))
            writer.write(data[:cut])
            time.sleep(pause / 2)
            writer.write(data[cut:])
            time.sleep(pause / 2)
    assert writer.rotations == rotations


def view_keys(lake: Lake) -> tuple[int, set[tuple[str, str]], int]:
    """(rows in ``events``, their distinct (audit_id, stage), rows in ``raw_events``)."""
    engine = DuckDBEngine(lake)
    try:
        rows = engine.query("SELECT audit_id, stage FROM events").rows
        raw = engine.query("SELECT count(*) FROM raw_events").rows[0][0]
    finally:
        engine.close()
    return len(rows), {(str(a), str(s)) for a, s in rows}, int(raw)


def make_follower(path: Path, lake: Lake, **kwargs: object) -> Follower:
    ingestor = Ingestor(lake, "default", batch_rows=sys.maxsize)
    options: dict[str, object] = {"batch": 5000, "flush_interval": 0.5, "poll_interval": 0.01}
    options.update(kwargs)
    return Follower(path, ingestor, **options)  # type: ignore[arg-type]


def load_checkpoint(lake: Lake, path: Path) -> Checkpoint:
    file = checkpoint_path(default_checkpoint_dir(lake.root), path, "default")
    return msgspec.json.decode(file.read_bytes(), type=Checkpoint)


def small(n: int, prefix: str = "e", pad: int = 0) -> list[bytes]:
    """Tiny valid audit events with IDs ``<prefix>-<i>``."""
    return [
        json.dumps(
            {
                "kind": "Event",
                "apiVersion": "audit.k8s.io/v1",
                "level": "Metadata",
                "auditID": f"{prefix}-{i}",
                "stage": "ResponseComplete",
                "requestURI": "/api/v1/pods" + "?x=" + "y" * pad if pad else "/api/v1/pods",
                "verb": "list",
                "requestReceivedTimestamp": "2026-01-01T00:00:00.000000Z",
                "stageTimestamp": "2026-01-01T00:00:00.100000Z",
            },
            separators=(",", ":"),
        ).encode()
        for i in range(n)
    ]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Path, Lake, Lumberjack]]:
    logs = tmp_path / "logs"
    logs.mkdir()
    path = logs / "audit.log"
    writer = Lumberjack(path)
    lake = Lake(tmp_path / "lake", create=True)
    yield path, lake, writer
    writer.close()


# -- (a) 20 rotations under a running follower ------------------------------------------------


@pytest.mark.slow
def test_twenty_rotations_while_writing_exactly_once(
    setup: tuple[Path, Lake, Lumberjack], sample_lines: list[bytes]
) -> None:
    path, lake, writer = setup
    follower = make_follower(path, lake, batch=20_000, flush_interval=0.5)
    stop = threading.Event()
    thread = threading.Thread(target=follower.run, args=(stop,), daemon=True)
    began = time.monotonic()
    thread.start()
    write_paced(writer, sample_lines, rotations=ROTATIONS)
    deadline = time.monotonic() + 60
    while follower.stats.events < TOTAL and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(30)
    assert not thread.is_alive()
    assert time.monotonic() - began < 60
    stats = follower.stats
    assert stats.events == TOTAL, stats
    assert stats.bad_lines == 0
    assert stats.lost == 0
    assert stats.files_finished == ROTATIONS  # every backup read to its end
    assert 1 <= stats.rotations <= ROTATIONS  # several rotations may happen between two looks
    assert stats.lines == TOTAL  # nothing read twice
    rows, keys, raw = view_keys(lake)
    assert rows == TOTAL
    assert keys == keys_of(sample_lines)  # no row missing
    assert raw == TOTAL
    assert any(p.suffix == ".gz" for p in writer.backups)


# -- (b) kill -9 at 5 random moments ---------------------------------------------------------

_CHILD = """
import signal, sys, threading
from kubetrail.ingest.follow import Follower
from kubetrail.ingest.pipeline import Ingestor
from kubetrail.lake.store import Lake

path, lake_dir, mode = sys.argv[1:4]
ingestor = Ingestor(Lake(lake_dir, create=True), "default", batch_rows=sys.maxsize)
follower = Follower(path, ingestor, batch=5000, flush_interval=0.3, poll_interval=0.01)
if mode == "catch-up":
    follower.catch_up()
    follower.close()
    print(follower.stats.events, follower.stats.lost)
else:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    follower.run(stop)
"""


def _child(path: Path, lake: Lake, mode: str, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as err:
        return subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(path), str(lake.root), mode],
            stdout=subprocess.PIPE if mode == "catch-up" else subprocess.DEVNULL,
            stderr=err,
        )


@pytest.mark.slow
def test_kill_9_five_times_still_exactly_once(
    setup: tuple[Path, Lake, Lumberjack], sample_lines: list[bytes], tmp_path: Path
) -> None:
    path, lake, writer = setup
    log = tmp_path / "children.log"
    thread = threading.Thread(
        target=write_paced,
        args=(writer, sample_lines),
        kwargs={"rotations": ROTATIONS, "pause": 0.03},  # ~12 s of writing
        daemon=True,
    )
    rng = random.Random(int(os.environ.get("KT_KILL_SEED", "5")))
    child = _child(path, lake, "run", log)
    try:
        thread.start()
        for _ in range(5):  # kill -9 at a random moment, restart at once
            time.sleep(rng.uniform(0.7, 1.9))
            assert child.poll() is None, log.read_text()
            child.send_signal(signal.SIGKILL)
            child.wait()
            assert thread.is_alive(), "the writer should still be writing during the kills"
            child = _child(path, lake, "run", log)
        thread.join(120)
        time.sleep(rng.uniform(0.1, 1.0))
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    final = _child(path, lake, "catch-up", log)
    out, _ = final.communicate(timeout=120)
    assert final.returncode == 0, log.read_text()
    assert out.split()[1] == b"0"  # no file lost
    rows, keys, raw = view_keys(lake)
    assert rows == TOTAL
    assert keys == keys_of(sample_lines)
    assert raw >= TOTAL


# -- (c) a partial line waits for its newline ------------------------------------------------


def test_partial_line_waits_for_its_newline(setup: tuple[Path, Lake, Lumberjack]) -> None:
    path, lake, writer = setup
    lines = small(4)
    writer.lines(lines[:3])
    writer.write(lines[3][:40])
    follower = make_follower(path, lake)
    follower.catch_up()
    assert follower.stats.events == 3
    assert follower.stats.bad_lines == 0
    boundary = sum(len(line) + 1 for line in lines[:3])
    assert load_checkpoint(lake, path).current.offset == boundary  # type: ignore[union-attr]
    follower.close()

    # a restart while the line is still half written resumes at the line boundary
    again = make_follower(path, lake)
    again.catch_up()
    assert again.stats.events == 0
    writer.write(lines[3][40:])
    again.catch_up()
    assert again.stats.events == 0  # still no newline
    writer.write(b"\n")
    again.catch_up()
    assert again.stats.events == 1
    assert again.stats.bad_lines == 0
    again.close()
    engine = DuckDBEngine(lake)
    rows = engine.query("SELECT audit_id, source FROM raw_events ORDER BY audit_id").rows
    engine.close()
    assert rows == [(f"e-{i}", f"audit.log:{sum(len(x) + 1 for x in lines[:i])}") for i in range(4)]


def test_bad_lines_are_counted_with_line_numbers(setup: tuple[Path, Lake, Lumberjack]) -> None:
    path, lake, writer = setup
    good = small(3)
    writer.write(good[0] + b"\n{not json\n\n" + good[1] + b"\n\xff\xfe\n" + good[2] + b"\n")
    follower = make_follower(path, lake)
    stats = follower.catch_up()
    follower.close()
    assert (stats.events, stats.bad_lines, stats.blank_lines, stats.lines) == (3, 2, 1, 6)
    assert stats.bad_samples == ["audit.log:2", "audit.log:5"]


def test_torn_event_before_a_whole_one_keeps_the_whole_one(
    setup: tuple[Path, Lake, Lumberjack],
) -> None:
    path, lake, writer = setup
    torn, whole = small(2, "t")
    writer.write(torn[:60] + whole + b"\n")  # the writer died mid-write, then restarted
    follower = make_follower(path, lake)
    stats = follower.catch_up()
    follower.close()
    assert (stats.events, stats.bad_lines) == (1, 1)
    engine = DuckDBEngine(lake)
    assert engine.query("SELECT audit_id, source FROM events").rows == [("t-1", "audit.log:60")]
    engine.close()


# -- (d) copytruncate ------------------------------------------------------------------------


@pytest.mark.parametrize("regrow", [False, True], ids=["shrank", "regrown-past-offset"])
def test_copytruncate(setup: tuple[Path, Lake, Lumberjack], regrow: bool) -> None:
    path, lake, writer = setup
    first, unread, after = small(50, "a"), small(30, "b"), small(400 if regrow else 20, "c")
    writer.lines(first)
    follower = make_follower(path, lake)
    follower.catch_up()
    assert follower.stats.events == 50
    writer.lines(unread)  # written, not read yet
    writer.rotate(copytruncate=True, copy_name="audit.log.1")
    writer.lines(after)
    stats = follower.catch_up()
    follower.close()
    assert stats.truncations == 1
    assert stats.lost == 0
    assert stats.events == len(first) + len(unread) + len(after)
    rows, keys, raw = view_keys(lake)
    assert keys == keys_of(first + unread + after)
    assert rows == raw == len(keys)


def test_copytruncate_while_stopped(setup: tuple[Path, Lake, Lumberjack]) -> None:
    path, lake, writer = setup
    first, unread, after = small(50, "a"), small(30, "b"), small(20, "c")
    writer.lines(first)
    follower = make_follower(path, lake)
    follower.catch_up()
    follower.close()
    writer.lines(unread)
    writer.rotate(copytruncate=True)  # a lumberjack-style name this time
    writer.lines(after)
    again = make_follower(path, lake)
    stats = again.catch_up()
    again.close()
    assert stats.lost == 0
    assert stats.lines == len(unread) + len(after)
    rows, keys, raw = view_keys(lake)
    assert keys == keys_of(first + unread + after)
    assert rows == raw == 100


# -- (e) resume from the checkpoint reads nothing twice --------------------------------------


def test_resume_reads_nothing_twice(setup: tuple[Path, Lake, Lumberjack]) -> None:
    path, lake, writer = setup
    a, b, c, d = small(200, "a"), small(150, "b"), small(100, "c"), small(70, "d")
    writer.lines(a)
    follower = make_follower(path, lake)
    assert follower.catch_up().lines == 200
    follower.close()

    # while stopped: more lines, a rotation gzipped away, a second rotation, more lines
    writer.lines(b)
    writer.rotate(gzip_backup=True)
    writer.lines(c)
    writer.rotate()
    writer.lines(d)
    again = make_follower(path, lake)
    stats = again.catch_up()
    again.close()
    assert stats.lines == 150 + 100 + 70  # resumed inside the gzipped file, not at its start
    assert stats.lost == 0
    assert stats.rotations == 0  # found by the checkpoint, not seen happening
    assert stats.gzip_files == 1

    third = make_follower(path, lake)
    assert third.catch_up().lines == 0
    third.close()
    rows, keys, raw = view_keys(lake)
    assert raw == rows == 520  # physically once
    assert keys == keys_of(a + b + c + d)
    checkpoint = load_checkpoint(lake, path)
    assert checkpoint.current is not None
    assert checkpoint.current.offset == path.stat().st_size
    assert checkpoint.current.ino == path.stat().st_ino
    assert checkpoint.current.fingerprint_len == 1024


def test_crash_while_draining_a_rotated_file_resumes_in_its_gzip(
    setup: tuple[Path, Lake, Lumberjack],
) -> None:
    path, lake, writer = setup
    a, b, c, d = small(300, "a"), small(100, "b"), small(300, "c"), small(100, "d")
    writer.lines(a)
    follower = make_follower(path, lake, chunk=8192)
    follower.catch_up()
    writer.lines(b)
    writer.rotate()
    writer.lines(c)
    backup = writer.rotate()  # rotated before the follower saw it: drained from the plan
    writer.lines(d)
    while not follower.queue or follower.queue[0].name != backup.name:
        follower.poll()
    for _ in range(3):  # read part of it
        follower.poll()
    follower.flush()
    draining = load_checkpoint(lake, path).draining
    assert [s.name for s in draining] == [backup.name]
    assert 0 < draining[0].offset < backup.stat().st_size
    read_before = follower.stats.lines
    follower.close()  # the process dies here: nothing after the checkpoint is kept
    with open(backup, "rb") as src, gzip.open(f"{backup}.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    backup.unlink()

    again = make_follower(path, lake)
    stats = again.catch_up()
    again.close()
    assert stats.lost == 0
    assert stats.gzip_files == 1
    assert read_before + stats.lines == 800  # nothing read twice
    rows, keys, raw = view_keys(lake)
    assert raw == rows == 800
    assert keys == keys_of(a + b + c + d)


def test_backup_deleted_before_it_was_read_is_counted_lost(
    setup: tuple[Path, Lake, Lumberjack],
) -> None:
    path, lake, writer = setup
    writer.lines(small(20, "a"))
    follower = make_follower(path, lake)
    follower.catch_up()
    follower.close()
    writer.lines(small(20, "b"))
    first = writer.rotate()
    writer.lines(small(20, "c"))
    writer.rotate()
    writer.lines(small(20, "d"))
    first.unlink()  # maxbackup
    notes: list[str] = []
    again = make_follower(path, lake, notify=notes.append)
    stats = again.catch_up()
    again.close()
    assert stats.lost == 1
    assert any("gone" in note or "any more" in note for note in notes)
    _, keys, _ = view_keys(lake)
    assert keys == keys_of(small(20, "a") + small(20, "c") + small(20, "d"))


def test_several_rotations_between_two_looks(setup: tuple[Path, Lake, Lumberjack]) -> None:
    path, lake, writer = setup
    batches = [small(40, f"r{i}") for i in range(6)]
    writer.lines(batches[0])
    follower = make_follower(path, lake)
    follower.catch_up()
    for i, batch in enumerate(batches[1:]):  # 5 rotations the follower does not see happen
        writer.rotate(gzip_backup=i % 2 == 0)
        writer.lines(batch)
    stats = follower.catch_up()
    follower.close()
    assert stats.rotations == 1
    assert stats.lost == 0
    assert stats.lines == 240
    rows, keys, raw = view_keys(lake)
    assert raw == rows == 240
    assert keys == keys_of([line for batch in batches for line in batch])


def test_from_end_and_waiting_for_the_file(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake", create=True)
    path = tmp_path / "audit.log"
    follower = make_follower(path, lake)
    assert not follower.poll()  # no file yet: waits
    follower.close()
    half = small(1, "half")[0]
    path.write_bytes(b"".join(line + b"\n" for line in small(5)) + half[:30])
    tail = make_follower(path, lake, from_end=True)
    tail.catch_up()
    with open(path, "ab") as fh:  # the line in progress is not cut: reading starts before it
        fh.write(half[30:] + b"\n" + small(1, "new")[0] + b"\n")
    stats = tail.catch_up()
    tail.close()
    assert (stats.events, stats.bad_lines) == (2, 0)


def test_second_follower_is_refused(setup: tuple[Path, Lake, Lumberjack]) -> None:
    from kubetrail.errors import UsageError

    path, lake, _ = setup
    first = make_follower(path, lake)
    first.start()
    with pytest.raises(UsageError, match="another follower"):
        make_follower(path, lake).start()
    first.close()


# -- the command -----------------------------------------------------------------------------


def test_cli_follow_until_sigterm(setup: tuple[Path, Lake, Lumberjack]) -> None:
    path, lake, writer = setup
    writer.lines(small(25))
    code = "from kubetrail.cli.follow import follow; follow()"
    args = [str(path), "--lake", str(lake.root), "--cluster", "c1", "--flush-interval", "0.2"]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while not lake.data_files() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    assert out == b""  # status lines go to stderr only
    assert b"stopped: 25 events" in err
    engine = DuckDBEngine(lake)
    assert engine.query("SELECT count(*) FROM events WHERE cluster = 'c1'").rows == [(25,)]
    engine.close()
