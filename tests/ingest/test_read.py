"""kubetrail.ingest.read: paths in, raw event lines out."""

from __future__ import annotations

import gzip
import io
import json
import os
from pathlib import Path

import msgspec
import pytest

from kubetrail.errors import InputError
from kubetrail.ingest.read import (
    MAX_PROBLEMS,
    Line,
    ReadReport,
    expand_paths,
    read_lines,
)


def event(i: int, **extra: object) -> dict[str, object]:
    return {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": f"id-{i}", **extra}


def jsonl(*events: dict[str, object], eol: str = "\n") -> bytes:
    return "".join(json.dumps(e, separators=(",", ":")) + eol for e in events).encode()


def read(*paths: str | Path, stdin: io.BytesIO | None = None) -> tuple[list[Line], ReadReport]:
    report = ReadReport()
    lines = list(read_lines([str(p) for p in paths], report, stdin=stdin))
    return lines, report


def ids(lines: list[Line]) -> list[str]:
    return [json.loads(line.data)["auditID"] for line in lines]


def test_jsonl_lines_are_yielded_as_written(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    data = jsonl(event(1), event(2), event(3))
    path.write_bytes(data)
    lines, report = read(path)
    assert [line.data for line in lines] == data.splitlines()
    assert [line.number for line in lines] == [1, 2, 3]
    assert {line.source for line in lines} == {str(path)}
    assert (report.files, report.lines, report.events, report.bad) == ([str(path)], 3, 3, 0)
    assert report.summary() == "1 file, 3 events"


def test_crlf_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes(b"\r\n" + jsonl(event(1), eol="\r\n") + b"\n   \n" + jsonl(event(2)))
    lines, report = read(path)
    assert ids(lines) == ["id-1", "id-2"]
    assert [line.number for line in lines] == [2, 5]
    assert all(not line.data.endswith((b"\r", b"\n")) for line in lines)
    assert report.bad == 0


def test_no_trailing_newline_and_leading_whitespace(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes(b'  {"auditID":"id-1"}\n{"auditID":"id-2"}')
    lines, _ = read(path)
    assert [line.data for line in lines] == [b'{"auditID":"id-1"}', b'{"auditID":"id-2"}']


def test_gzip_recognised_by_magic_not_name(tmp_path: Path) -> None:
    named = tmp_path / "a.log.gz"
    unnamed = tmp_path / "b.log"
    named.write_bytes(gzip.compress(jsonl(event(1), event(2))))
    unnamed.write_bytes(gzip.compress(jsonl(event(3))))
    lines, report = read(named, unnamed)
    assert ids(lines) == ["id-1", "id-2", "id-3"]
    assert report.truncated == []
    assert report.summary() == "2 files, 3 events"


def test_truncated_gzip_is_recorded_and_reading_goes_on(tmp_path: Path) -> None:
    body = b"".join(jsonl(event(i, pad="x" * (i % 97))) for i in range(20_000))
    whole = gzip.compress(body)
    cut = tmp_path / "audit-2026-01-01T00-00-00.000.log.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    after = tmp_path / "after.log"
    after.write_bytes(jsonl(event(-1)))
    lines, report = read(cut, after)
    assert report.truncated == [str(cut)]
    assert any("gzip" in p.message and p.number is None for p in report.problems)
    got = ids(lines)
    assert got[-1] == "id--1"
    # Everything before the cut is read, in order, complete lines only.
    assert 0 < len(got) - 1 < 20_000
    assert got[:-1] == [f"id-{i}" for i in range(len(got) - 1)]
    assert report.bad == 0
    assert "1 truncated file" in report.summary()


def test_directory_is_read_in_rotation_order(tmp_path: Path) -> None:
    (tmp_path / "audit.log").write_bytes(jsonl(event(3)))
    (tmp_path / "audit-2026-01-02T03-04-05.000.log.gz").write_bytes(gzip.compress(jsonl(event(2))))
    (tmp_path / "audit-2026-01-01T00-00-00.000.log").write_bytes(jsonl(event(1)))
    (tmp_path / ".hidden").write_bytes(b"junk\n")
    (tmp_path / "sub").mkdir()
    # An old mtime on the active file must not move it before its backups.
    os.utime(tmp_path / "audit.log", (0, 0))
    paths = expand_paths([str(tmp_path)])
    assert [Path(p).name for p in paths] == [
        "audit-2026-01-01T00-00-00.000.log",
        "audit-2026-01-02T03-04-05.000.log.gz",
        "audit.log",
    ]
    lines, report = read(*paths)
    assert ids(lines) == ["id-1", "id-2", "id-3"]
    assert report.files == paths


def test_directory_other_files_by_mtime_and_plain_backup_preferred(tmp_path: Path) -> None:
    (tmp_path / "b.json").write_bytes(b"")
    (tmp_path / "a.json").write_bytes(b"")
    os.utime(tmp_path / "b.json", (100, 100))
    os.utime(tmp_path / "a.json", (200, 200))
    (tmp_path / "audit-2026-01-01T00-00-00.000.log").write_bytes(b"")
    (tmp_path / "audit-2026-01-01T00-00-00.000.log.gz").write_bytes(b"")
    names = [Path(p).name for p in expand_paths([str(tmp_path)])]
    assert names == ["b.json", "a.json", "audit-2026-01-01T00-00-00.000.log"]


def test_expand_paths_keeps_files_and_stdin_and_rejects_missing(tmp_path: Path) -> None:
    f = tmp_path / "x.log"
    f.write_bytes(b"")
    assert expand_paths([str(f), "-"]) == [str(f), "-"]
    missing = str(tmp_path / "nope.log")
    with pytest.raises(InputError) as info:
        expand_paths([str(f), missing])
    assert info.value.path == missing
    assert missing in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no audit log files"):
        expand_paths([str(tmp_path / "empty")])


def test_stdin(tmp_path: Path) -> None:
    stdin = io.BytesIO(jsonl(event(1), event(2)))
    lines, report = read("-", stdin=stdin)
    assert ids(lines) == ["id-1", "id-2"]
    assert {line.source for line in lines} == {"-"}
    assert report.files == ["-"]
    assert not stdin.closed


def test_gzip_stdin() -> None:
    lines, _ = read("-", stdin=io.BytesIO(gzip.compress(jsonl(event(1)))))
    assert ids(lines) == ["id-1"]


def test_eventlist_file(tmp_path: Path) -> None:
    path = tmp_path / "batch.json"
    batch = {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}}
    batch["items"] = [event(1), event(2)]
    path.write_bytes(jsonl(event(0)) + jsonl(batch) + json.dumps(batch, indent=2).encode())
    lines, report = read(path)
    assert ids(lines) == ["id-0", "id-1", "id-2", "id-1", "id-2"]
    assert [line.number for line in lines] == [1, 2, 2, 3, 3]
    assert all(b"\n" not in line.data for line in lines)
    assert report.events == 5
    assert report.bad == 0


def test_json_array_file(tmp_path: Path) -> None:
    compact = tmp_path / "compact.json"
    compact.write_bytes(json.dumps([event(1), event(2)]).encode())
    pretty = tmp_path / "pretty.json"
    pretty.write_bytes(b"\xef\xbb\xbf" + json.dumps([event(3), 5, event(4)], indent=2).encode())
    lines, report = read(compact, pretty)
    assert ids(lines) == ["id-1", "id-2", "id-3", "id-4"]
    assert report.bad == 1
    assert report.problems[0].source == str(pretty)
    assert report.problems[0].number == 1
    assert "item 1 is not a JSON object" in report.problems[0].message


def test_pretty_printed_events(tmp_path: Path, corpus: Path) -> None:
    # The Falco corpus files are all compact; pretty-print two of them like ``jq .`` would.
    falco = corpus / "upstream" / "falco"
    a = json.loads((falco / "create_nginx_pod_privileged.json").read_bytes())
    b = json.loads((falco / "exec_pod.json").read_bytes())
    path = tmp_path / "pretty.json"
    text_a = json.dumps(a, indent=2)
    path.write_text(text_a + "\n" + json.dumps(b, indent=4) + "\n")
    lines, report = read(path)
    assert [json.loads(line.data) for line in lines] == [a, b]
    assert [line.number for line in lines] == [1, text_a.count("\n") + 2]
    assert report.bad == 0
    msgspec.json.decode(lines[0].data)  # one valid document each


def test_unterminated_pretty_document_is_bad(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text('{"auditID":"id-0"}\n{\n  "auditID": "x",\n  "verb": "get"\n')
    lines, report = read(path)
    assert ids(lines) == ["id-0"]
    assert report.bad == 1
    assert report.problems[0].number == 2


def test_falco_corpus(corpus: Path) -> None:
    falco = corpus / "upstream" / "falco"
    lines, report = read(falco / "create_configmap_sensitive_values.json")
    assert len(lines) == 6
    assert [line.number for line in lines] == [1, 2, 3, 4, 5, 6]
    # `{"kind": 0}` is a JSON object: it passes this layer, the decoder rejects it later.
    lines, report = read(falco / "fal_01_003.json")
    assert [line.data for line in lines] == [b'{"kind": 0}']
    paths = sorted(falco.glob("*.json"))
    lines, report = read(*paths)
    assert report.bad == 0
    assert report.events == len(lines) >= len(paths) - 1


def test_malformed_lines_are_counted_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    out = [
        jsonl(event(i)) if i % 2 else b'{"kind":"Event","auditID":"trunc\n' for i in range(1, 61)
    ]
    path.write_bytes(b"".join(out) + b"42\nnot json at all\n")
    lines, report = read(path)
    assert len(lines) == 30
    assert report.bad == 32
    assert report.problem_count == 32
    assert len(report.problems) == MAX_PROBLEMS
    assert [p.number for p in report.problems] == list(range(2, 2 * MAX_PROBLEMS + 1, 2))
    assert "truncated" in report.problems[0].message
    assert report.summary().startswith(
        f"1 file, 30 events, 32 malformed lines (first: {path}:2: not a JSON event"
    )


def test_bad_line_from_callers(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes(jsonl(event(1)) + b'{"kind": 0}\n')
    report = ReadReport()
    for line in read_lines([str(path)], report):
        try:
            msgspec.json.decode(line.data, type=dict[str, str])
        except msgspec.DecodeError as exc:
            report.bad_line(line, str(exc))
    assert (report.events, report.bad) == (1, 1)
    assert report.problems[0].number == 2
    assert report.summary().startswith("1 file, 1 event, 1 malformed line (first: ")


def test_empty_file_gives_no_events(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    blank = tmp_path / "blank.log"
    blank.write_bytes(b"\n\n")
    lines, report = read(path, blank)
    assert lines == []
    assert report.events == 0
    assert report.empty
    assert report.bad == 0


def test_counters_are_flushed_when_the_consumer_stops_early(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes(jsonl(*(event(i) for i in range(10))))
    report = ReadReport()
    gen = read_lines([str(path)], report)
    for _ in range(3):
        next(gen)
    gen.close()
    assert report.events == 3


def test_sorted_key_eventlist_on_the_first_line(tmp_path: Path) -> None:
    path = tmp_path / "batch.json"
    batch = {"apiVersion": "audit.k8s.io/v1", "items": [event(1)], "kind": "EventList"}
    path.write_bytes(json.dumps(batch, sort_keys=True).encode() + b"\n" + jsonl(event(2)))
    lines, _ = read(path)
    assert ids(lines) == ["id-1", "id-2"]


def test_oversized_document_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kubetrail.ingest.read as module

    monkeypatch.setattr(module, "MAX_DOCUMENT", 200)
    path = tmp_path / "big.json"
    big = json.dumps(event(1, pad=["x" * 10] * 50), indent=2)
    path.write_text(big + "\n" + json.dumps(event(2)) + "\n")
    lines, report = read(path)
    assert ids(lines) == ["id-2"]
    assert report.bad == 1
    assert "larger than" in report.problems[0].message
