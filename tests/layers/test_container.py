"""Container log lines (CRI, Docker json-file) and their reassembly, by the rules of
layers-spec.md §1 (kubelet logs.go parseCRILog/parseDockerJSONLog, containerd logger.go)."""

from __future__ import annotations

import pytest

from kubetrail.layers.container import (
    MAX_MERGED,
    Line,
    Reassembler,
    Rejected,
    ReplayFilter,
    parse_cri,
    parse_docker,
    pod_fields,
    utc_nanos,
)

POD = "/var/log/pods/default_web-1_0b7e5c2a-1111-4c3e-9a8b-2b1c7d0e9f00/nginx"


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2016-10-06T00:17:09.669794202Z", "2016-10-06T00:17:09.669794202Z"),
        ("2016-10-06T00:17:09.1Z", "2016-10-06T00:17:09.100000000Z"),  # Go trims zeros
        ("2016-10-06T00:17:09Z", "2016-10-06T00:17:09.000000000Z"),
        ("2016-10-06t00:17:09.5z", "2016-10-06T00:17:09.500000000Z"),
        ("2016-10-06T02:17:09.5+02:00", "2016-10-06T00:17:09.500000000Z"),  # CRI-O, local zone
        ("2016-10-05T23:17:09-01:00", "2016-10-06T00:17:09.000000000Z"),
    ],
)
def test_times_in_utc_with_nine_digits(text: str, utc: str) -> None:
    assert utc_nanos(text) == utc


@pytest.mark.parametrize(
    "text", ["2016-10-06 00:17:09Z", "2016-13-06T00:17:09Z", "2016-10-06T00:17:09.1234567890Z", ""]
)
def test_bad_times_are_rejected(text: str) -> None:
    with pytest.raises(Rejected, match="unexpected timestamp format"):
        utc_nanos(text)


def test_cri_lines() -> None:
    assert parse_cri("2016-10-06T00:17:09.669794202Z stdout F log content 1") == Line(
        "2016-10-06T00:17:09.669794202Z", "stdout", "log content 1", False
    )
    assert parse_cri("2016-10-06T00:17:09.669794203Z stderr P log content 2").partial
    assert parse_cri("2016-10-06T00:17:09Z stdout P:extra part").partial  # tags after ':'
    assert parse_cri("2016-10-06T00:17:09Z stdout F ").content == ""  # an empty line
    assert parse_cri("2016-10-06T00:17:09Z stdout F").content == ""  # lenient: no space
    untagged = parse_cri("2016-10-06T00:17:09Z stdout hello world")
    assert (untagged.content, untagged.tag_missing, untagged.partial) == (
        "hello world",
        True,
        False,
    )
    with pytest.raises(Rejected, match="stream"):
        parse_cri("2016-10-06T00:17:09Z  stdout F double space")  # empty stream
    with pytest.raises(Rejected, match="stream"):
        parse_cri("2016-10-06T00:17:09Z stdin F x")
    with pytest.raises(Rejected, match="tag is not found"):
        parse_cri("2016-10-06T00:17:09Z stdout")
    with pytest.raises(Rejected, match="timestamp"):
        parse_cri("not a line at all")


def test_docker_lines() -> None:
    full = parse_docker('{"log":"hello \\u003cworld\\u003e\\n","stream":"stdout","time":'
                        '"2017-09-01T01:01:01.000000001Z"}')  # fmt: skip
    assert full == Line("2017-09-01T01:01:01.000000001Z", "stdout", "hello <world>", False)
    assert parse_docker('{"log":"frag","stream":"stderr","time":"2017-09-01T01:01:01Z"}').partial
    for bad in (
        '{"log":"x\\n","stream":"stdin","time":"2017-09-01T01:01:01Z"}',
        '{"log":"x\\n","stream":"stdout","time":"yesterday"}',
        '{"log":1,"stream":"stdout","time":"2017-09-01T01:01:01Z"}',
        '{"stream":"stdout","time":"2017-09-01T01:01:01Z"}',
        "not json",
    ):
        with pytest.raises(Rejected):
            parse_docker(bad)


def test_pod_fields_from_the_path() -> None:
    fields = {
        "namespace": "default",
        "pod": "web-1",
        "uid": "0b7e5c2a-1111-4c3e-9a8b-2b1c7d0e9f00",
        "container": "nginx",
        "restart": 2,
    }
    assert pod_fields(f"{POD}/2.log") == fields
    assert pod_fields(f"{POD}/2.log.20261203-101500") == fields  # kubelet's rotation
    assert pod_fields(f"{POD}/2.log.20261203-101500.gz") == fields
    assert pod_fields("/tmp/app.log") == {}
    assert pod_fields(f"{POD}/2.log.20261203-101500.tmp") == {}


def run(lines: list[tuple[str, str]]) -> list[dict[str, object]]:
    """(path, CRI line) pairs through one reassembler, then the end-of-input flush."""
    joiner = Reassembler()
    out: list[dict[str, object]] = []
    for path, line in lines:
        out += joiner.add(parse_cri(line), pod_fields(path))
    return out + list(joiner.flush())


def test_fragments_join_per_stream_with_the_first_time() -> None:
    records = run(
        [
            (f"{POD}/0.log", "2026-12-03T10:00:00.1Z stdout P hello "),
            (f"{POD}/0.log", "2026-12-03T10:00:00.2Z stderr F an error"),  # interleaved
            (f"{POD}/0.log", "2026-12-03T10:00:00.3Z stdout P big "),
            (f"{POD}/0.log", "2026-12-03T10:00:00.4Z stdout F world"),
        ]
    )
    assert [(r["stream"], r["message"], r["time"]) for r in records] == [
        ("stderr", "an error", "2026-12-03T10:00:00.200000000Z"),
        ("stdout", "hello big world", "2026-12-03T10:00:00.100000000Z"),
    ]
    assert all(r["pod"] == "web-1" and r["restart"] == 0 for r in records)


def test_a_line_split_by_rotation_is_joined_and_restarts_are_apart() -> None:
    records = run(
        [
            (f"{POD}/0.log.20261203-100000", "2026-12-03T10:00:00Z stdout P first half, "),
            (f"{POD}/1.log", "2026-12-03T10:00:01Z stdout F the next instance"),
            (f"{POD}/0.log", "2026-12-03T10:00:02Z stdout F second half"),
            (f"{POD}/0.log", "2026-12-03T10:00:03Z stdout P never closed"),
        ]
    )
    assert [(r["message"], r["restart"], r.get("partial")) for r in records] == [
        ("the next instance", 1, None),
        ("first half, second half", 0, None),
        ("never closed", 0, True),  # flushed at the end, marked
    ]


def test_merged_records_are_capped() -> None:
    chunk = "x" * (16 * 1024)
    lines = [(POD + "/0.log", f"2026-12-03T10:00:00Z stdout P {chunk}")] * 70
    records = run([*lines, (POD + "/0.log", "2026-12-03T10:00:01Z stdout F end")])
    assert len(records) == 1
    assert len(str(records[0]["message"])) == MAX_MERGED
    assert records[0]["truncated"] is True


def _records(*bursts: tuple[int, list[str]]) -> list[dict[str, object]]:
    """Records of one stream: (second, messages) bursts, a millisecond apart within one."""
    out: list[dict[str, object]] = []
    for second, messages in bursts:
        for i, message in enumerate(messages):
            t = f"2026-12-03T10:{second // 60:02d}:{second % 60:02d}.{i:03d}000000Z"
            out.append(
                {"time": t, "stream": "stdout", "message": message, "uid": "u", "container": "c"}
            )
    return out


def _kept(records: list[dict[str, object]]) -> tuple[list[object], ReplayFilter]:
    f = ReplayFilter()
    kept = [r for record in records for r in f.add(record)] + f.flush()
    return kept, f


def test_a_cat_loop_sidecar_keeps_each_line_once() -> None:
    file = [f"line {i}" for i in range(1, 7)]
    records = _records((0, file[:3]), (30, file[:5]), (60, file[:5]), (90, file))
    kept, f = _kept(records)
    assert [r["message"] for r in kept] == file  # 19 lines printed, 6 kept
    assert sum(f.dropped.values()) == 13
    assert f.replaying() == [("u", "c", None, "stdout")]
    assert all(r.get("time_is_collection_time") for r in kept[3:])
    assert kept[3]["time"] == "2026-12-03T10:00:30.003000000Z"  # when cat printed it


def test_a_truncated_file_cuts_the_history() -> None:
    records = _records((0, ["a", "b", "c"]), (30, ["a", "b", "c", "d"]), (60, ["x", "y"]),
                       (90, ["x", "y", "z"]))  # fmt: skip
    kept, _ = _kept(records)
    assert [r["message"] for r in kept] == ["a", "b", "c", "d", "x", "y", "z"]


def test_a_repeated_single_line_is_not_a_replay() -> None:
    records = _records(*((s, ["GET /healthz 200"]) for s in range(0, 60, 5)))
    kept, f = _kept(records)
    assert len(kept) == 12
    assert f.replaying() == []
    assert not any(r.get("time_is_collection_time") for r in kept)
