"""follow --layer container: across kubelet's rotation (rename, new file, gzip of the rotated
one), a line being written, a fragment open over a restart — each line stored once."""

from __future__ import annotations

import gzip
import os
from datetime import UTC, datetime
from pathlib import Path

from kubetrail.cli import main
from kubetrail.lake.engine import DuckDBEngine, records
from kubetrail.lake.store import Lake
from kubetrail.layers.follow import ContainerFollower

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)


def line(second: int, text: str, tag: str = "F", stream: str = "stdout") -> str:
    return f"2026-12-03T10:00:{second:02d}Z {stream} {tag} {text}\n"


def stored(lake: Lake) -> list[object]:
    engine = DuckDBEngine(lake)
    try:
        rows = records(engine.query("SELECT message FROM container_logs ORDER BY time, message"))
    finally:
        engine.close()
    return [r["message"] for r in rows]


def follower(lake: Lake, root: Path) -> ContainerFollower:
    return ContainerFollower(lake, root, cluster="c", clock=lambda: NOW)


def test_rotation_gzip_and_restart(tmp_path: Path) -> None:
    root = tmp_path / "pods"
    nginx = root / "default_web-1_u-1" / "nginx"
    nginx.mkdir(parents=True)
    live = nginx / "0.log"
    lake = Lake(tmp_path / "lake", create=True)

    live.write_text(line(1, "one") + line(2, "two") + "2026-12-03T10:00:03Z stdout F thr")
    f = follower(lake, root)
    f.poll()
    assert stored(lake) == ["one", "two"]  # the line being written waits

    with open(live, "a") as fh:
        fh.write("ee\n" + line(4, "begins ", "P"))
    f.poll()
    rotated = nginx / "0.log.20261203-100005"
    os.rename(live, rotated)  # kubelet's rotation: same inode, new name
    with open(rotated, "a") as fh:  # the runtime wrote one more line before reopening
        fh.write(line(5, "last of the old file", stream="stderr"))
    live.write_text(line(6, "ends in the new file") + line(7, "four"))
    f.poll()
    assert stored(lake) == [
        "one", "two", "three", "begins ends in the new file", "last of the old file", "four",
    ]  # fmt: skip

    # A restart: nothing is read twice into the lake.
    with open(live, "a") as fh:
        fh.write(line(8, "five"))
    again = follower(lake, root)
    again.poll()
    assert stored(lake)[-1] == "five"
    assert len(stored(lake)) == 7
    assert again.report.stats.written == 1


def test_a_file_gzipped_before_it_was_read_to_its_end(tmp_path: Path) -> None:
    root = tmp_path / "pods"
    app = root / "default_api-0_u-2" / "app"
    app.mkdir(parents=True)
    live = app / "0.log"
    lake = Lake(tmp_path / "lake", create=True)
    live.write_text(line(1, "a"))
    f = follower(lake, root)
    f.poll()
    with open(live, "a") as fh:
        fh.write(line(2, "b") + line(3, "c"))
    rotated = app / "0.log.20261203-100004"
    os.rename(live, rotated)
    with gzip.open(str(rotated) + ".gz", "wb") as gz:
        gz.write(rotated.read_bytes())
    rotated.unlink()  # kubelet compressed it before we looked again
    live.write_text(line(5, "d"))
    f.poll()
    assert stored(lake) == ["a", "b", "c", "d"]


def test_a_fragment_open_over_a_restart_is_not_lost(tmp_path: Path) -> None:
    root = tmp_path / "pods"
    app = root / "default_api-0_u-3" / "app"
    app.mkdir(parents=True)
    live = app / "0.log"
    lake = Lake(tmp_path / "lake", create=True)
    live.write_text(line(1, "x") + line(2, "half ", "P"))
    first = follower(lake, root)
    first.poll()  # (a crash here: the P fragment was only in memory)
    with open(live, "a") as fh:
        fh.write(line(3, "and half"))
    second = follower(lake, root)
    second.poll()
    assert stored(lake) == ["x", "half and half"]


def test_the_cli(tmp_path: Path) -> None:
    root = tmp_path / "pods"
    app = root / "default_api-0_u-4" / "app"
    app.mkdir(parents=True)
    (app / "0.log").write_text(line(1, "hello") + line(2, "never closed", "P"))
    lake = tmp_path / "lake"
    args = ["follow", "--layer", "container", str(root), "--lake", str(lake), "--polls", "1"]
    assert main(args) == 0
    assert stored(Lake(lake)) == ["hello", "never closed"]  # flushed as partial at the end
