"""search, timeline and top from the outside: formats, the -o alias, exit codes, messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetrail.cli import main
from tests.lake.conftest import event


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def lake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    log = tmp_path / "audit.log"
    log.write_bytes(
        b"\n".join(
            [
                event("a", user="alice", verb="delete", received="2026-11-26T10:00:00.000000Z"),
                event("b", user="bob", received="2026-11-26T10:20:00.000000Z"),
                event("c", user="alice", received="2026-11-26T10:21:30.000000Z"),
            ]
        )
        + b"\n"
    )
    path = str(tmp_path / "lake")
    assert main(["ingest", str(log), "--lake", path, "--cluster", "prod"]) == 0
    capsys.readouterr()
    return path


def test_search_sentences_by_default(capsys: pytest.CaptureFixture[str], lake: str) -> None:
    code, out, err = run(capsys, "search", "--lake", lake, "--user", "alice")
    assert code == 0
    assert out.splitlines() == [
        "2026-11-26 10:21:30Z alice read pod default/p from 10.0.0.1 using kubectl/v1.30.0 "
        "— allowed",
        "2026-11-26 10:00:00Z alice deleted pod default/p from 10.0.0.1 using kubectl/v1.30.0 "
        "— allowed",
    ]
    assert err == ""


def test_search_json_is_an_array_of_stored_rows(
    capsys: pytest.CaptureFixture[str], lake: str
) -> None:
    code, out, _ = run(capsys, "search", "--lake", lake, "-o", "json", "--verb", "delete")
    assert code == 0
    rows = json.loads(out)
    assert [r["audit_id"] for r in rows] == ["a"]
    assert rows[0]["received_at"] == "2026-11-26T10:00:00.000000Z"
    assert rows[0]["cluster"] == "prod"
    assert {"user_name", "verb", "object_resource", "request_object", "event_hash"} <= set(rows[0])
    code, out, _ = run(capsys, "search", "--lake", lake, "--format", "jsonl")
    assert [json.loads(line)["audit_id"] for line in out.splitlines()] == ["c", "b", "a"]


def test_search_table_and_limit(capsys: pytest.CaptureFixture[str], lake: str) -> None:
    code, out, err = run(capsys, "search", "--lake", lake, "-o", "table", "--limit", "2")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["TIME", "USER", "AS", "VERB"]
    assert len(lines) == 3
    assert "the newest 2" in err


def test_nothing_found_says_why(capsys: pytest.CaptureFixture[str], lake: str) -> None:
    code, out, err = run(capsys, "search", "--lake", lake, "--user", "mallory", "--since", "1h")
    assert code == 0
    assert out == ""
    assert "no events match (--user mallory, --since 1h)" in err
    code, out, _ = run(capsys, "search", "--lake", lake, "--user", "mallory", "-o", "json")
    assert json.loads(out) == []


def test_missing_or_empty_lake(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "search", "--lake", str(tmp_path / "none"))
    assert code == 1
    assert "is not a kubetrail lake" in err
    from kubetrail.lake.store import Lake

    Lake(tmp_path / "empty", create=True)
    code, _, err = run(capsys, "top", "--lake", str(tmp_path / "empty"))
    assert code == 0
    assert "holds no events yet" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "--since", "last tuesday"], "duration back from now"),
        (["search", "--since", "1h", "--until", "2h"], "empty window"),
        (["search", "--code", "abc"], "status code"),
        (["search", "--colour", "red"], "No such option"),
        (["timeline"], "give --user NAME or --object"),
        (["timeline", "--object", "pods"], "RESOURCE/NAME"),
        (["top", "--by", "colour"], "Invalid value for '--by'"),
    ],
)
def test_bad_input_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], lake: str, args: list[str], message: str
) -> None:
    code, _, err = run(capsys, args[0], "--lake", lake, *args[1:])
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_timeline_marks_gaps(capsys: pytest.CaptureFixture[str], lake: str) -> None:
    code, out, _ = run(capsys, "timeline", "--lake", lake, "--object", "pods/default/p")
    assert code == 0
    assert out.splitlines() == [
        "2026-11-26 10:00Z",
        "  10:00:00  alice deleted pod default/p from 10.0.0.1 using kubectl/v1.30.0 — allowed",
        "   ⋮  20 min quiet",
        "2026-11-26 10:20Z",
        "  10:20:00  bob read pod default/p from 10.0.0.1 using kubectl/v1.30.0 — allowed",
        "2026-11-26 10:21Z",
        "  10:21:30  alice read pod default/p from 10.0.0.1 using kubectl/v1.30.0 — allowed",
    ]
    code, out, _ = run(capsys, "timeline", "--lake", lake, "--user", "alice", "-o", "json")
    doc = json.loads(out)
    assert [m["start"] for m in doc] == ["2026-11-26T10:00:00Z", "2026-11-26T10:21:00Z"]
    assert doc[1]["gap_before"] == 21 * 60


def test_top_text_and_json(capsys: pytest.CaptureFixture[str], lake: str) -> None:
    code, out, err = run(capsys, "top", "--lake", lake, "--by", "user")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["USER", "REQUESTS", "SHARE"]
    assert lines[1].split()[:3] == ["alice", "2", "66.7%"]
    assert "3 requests" in err
    code, out, _ = run(capsys, "top", "--lake", lake, "--by", "verb", "-o", "json")
    doc = json.loads(out)
    assert doc["by"] == "verb"
    assert doc["events"] == 3
    assert [(r["value"], r["events"]) for r in doc["rows"]] == [("get", 2), ("delete", 1)]
