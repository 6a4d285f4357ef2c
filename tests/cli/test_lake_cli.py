"""ingest, sql and lake from the outside: the stable shapes and exit codes."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from kubetrail.cli import main
from tests.lake.conftest import event

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    d = tmp_path / "audit"
    d.mkdir()
    # A lumberjack set: the rotated, gzipped backup first, then the live file.
    with gzip.open(d / "audit-2026-11-26T10-30-00.000.log.gz", "wb") as fh:
        fh.write(
            b"\n".join(event(f"old-{i}", received="2026-11-26T10:10:00.000000Z") for i in range(3))
            + b"\n"
        )
    (d / "audit.log").write_bytes(
        b"\n".join(
            event(f"new-{i}", verb="list", received="2026-11-26T11:10:00.000000Z") for i in range(4)
        )
        + b"\nnot json\n"
    )
    return d


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_then_sql_formats(
    capsys: pytest.CaptureFixture[str], logs: Path, tmp_path: Path
) -> None:
    lake = str(tmp_path / "lake")
    code, _, err = run(capsys, "ingest", str(logs), "--lake", lake, "--cluster", "prod")
    assert code == 0
    assert "7 events: 7 stored" in err
    assert "1 malformed" in err
    code, _, err = run(capsys, "ingest", str(logs), "--lake", lake, "--cluster", "prod")
    assert "0 stored" in err
    assert "7 exact duplicates dropped" in err
    code, out, _ = run(
        capsys,
        "sql",
        "--lake",
        lake,
        "-o",
        "json",
        "SELECT audit_id, verb, received_at, user_groups, date, hour, cluster FROM events "
        "ORDER BY received_at, audit_id",
    )
    assert code == 0
    rows = json.loads(out)
    assert isinstance(rows, list)
    assert len(rows) == 7
    assert rows[0] == {
        "audit_id": "old-0",
        "verb": "get",
        "received_at": "2026-11-26T10:10:00.000000Z",
        "user_groups": ["system:authenticated"],
        "date": "2026-11-26",
        "hour": 10,
        "cluster": "prod",
    }
    assert all(TS.match(r["received_at"]) for r in rows)
    code, out, _ = run(
        capsys,
        "sql",
        "--lake",
        lake,
        "--format",
        "jsonl",
        "SELECT verb, count(*) AS n FROM events GROUP BY verb ORDER BY verb",
    )
    assert [json.loads(x) for x in out.splitlines()] == [
        {"verb": "get", "n": 3},
        {"verb": "list", "n": 4},
    ]
    code, out, _ = run(
        capsys,
        "sql",
        "--lake",
        lake,
        "-o",
        "csv",
        "SELECT verb, source_ips FROM events ORDER BY verb LIMIT 1",
    )
    assert out == 'verb,source_ips\nget,"[""10.0.0.1""]"\n'
    code, out, _ = run(capsys, "sql", "--lake", lake, "SELECT current_setting('TimeZone') AS tz")
    assert out.splitlines()[1].strip() == "UTC"


def test_sql_is_read_only(capsys: pytest.CaptureFixture[str], logs: Path, tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    run(capsys, "ingest", str(logs), "--lake", lake)
    for statement in (
        "DROP VIEW events",
        "CREATE TABLE t AS SELECT 1",
        f"COPY (SELECT 1) TO '{tmp_path}/x.csv'",
        "SELECT 1; SELECT 2",
    ):
        code, _, _ = run(capsys, "sql", "--lake", lake, statement)
        assert code == 2, statement
    code, _, _ = run(capsys, "sql", "--lake", lake, "SELECT * FROM read_csv('/etc/hostname')")
    assert code == 1
    assert not (tmp_path / "x.csv").exists()
    code, _, _err = run(capsys, "sql", "--lake", lake, "SELEC nonsense")
    assert code == 2


def test_lake_commands(capsys: pytest.CaptureFixture[str], logs: Path, tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    run(capsys, "ingest", str(logs), "--lake", lake, "--cluster", "prod")
    assert run(capsys, "lake", "verify", "--lake", lake)[0] == 0
    code, out, _ = run(
        capsys,
        "lake",
        "hold",
        "cluster=prod/date=2026-11-26/hour=10",
        "--lake",
        lake,
        "--reason",
        "case 7",
    )
    assert code == 0
    code, out, _ = run(capsys, "lake", "prune", "--lake", lake, "--older-than", "1h")
    assert "kept cluster=prod/date=2026-11-26/hour=10 (legal hold)" in out
    assert "deleted cluster=prod/date=2026-11-26/hour=11" in out
    code, out, _ = run(capsys, "lake", "health", "--lake", lake, "-o", "json")
    assert code == 1  # the only stream went silent long ago
    doc = json.loads(out)
    assert doc["events"] == 3
    assert doc["streams"][0]["cluster"] == "prod"
    part = next((Path(lake)).rglob("*.parquet"))
    part.write_bytes(part.read_bytes()[:-10] + b"0123456789")
    code, out, _ = run(capsys, "lake", "verify", "--lake", lake)
    assert code == 1
    assert out.startswith("CHANGED ")


def test_lake_from_kubetrail_toml(
    capsys: pytest.CaptureFixture[str], logs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "kubetrail.toml"
    config.write_text(f'lake = "{tmp_path / "lake"}"\ncluster = "from-config"\n')
    monkeypatch.setenv("KUBETRAIL_CONFIG", str(config))
    assert run(capsys, "ingest", str(logs))[0] == 0
    code, out, _ = run(capsys, "sql", "-o", "jsonl", "SELECT DISTINCT cluster FROM events")
    assert json.loads(out) == {"cluster": "from-config"}
    config.write_text('lake = "x"\nclustr = "typo"\n')
    code, _, err = run(capsys, "sql", "SELECT 1")
    assert code == 1
    assert "clustr" in err


def test_empty_input_and_missing_lake(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_text("")
    code, _, err = run(capsys, "ingest", str(empty), "--lake", str(tmp_path / "lake"))
    assert code == 1
    assert "no audit events" in err
    code, _, err = run(capsys, "sql", "--lake", str(tmp_path / "nowhere"), "SELECT 1")
    assert code == 1
    assert "not a kubetrail lake" in err


def test_sql_on_spark_prints_what_duckdb_prints(
    capsys: pytest.CaptureFixture[str], logs: Path, tmp_path: Path, spark: object
) -> None:
    """`sql --format json` is a stable shape: the same bytes from either engine."""
    lake = str(tmp_path / "lake")
    assert run(capsys, "ingest", str(logs), "--lake", lake)[0] == 0
    query = (
        "SELECT audit_id, verb, received_at, user_groups, date, hour, cluster, "
        "regexp_matches(user_name, '^al') AS al FROM events ORDER BY received_at DESC, audit_id"
    )
    duck = run(capsys, "sql", "--lake", lake, "-o", "json", query)
    on_spark = run(capsys, "sql", "--lake", lake, "-o", "json", "--engine", "spark", query)
    assert duck[0] == on_spark[0] == 0
    assert json.loads(duck[1])[0]["received_at"] == "2026-11-26T11:10:00.000000Z"
    assert on_spark[1] == duck[1]
    code, _, err = run(capsys, "sql", "--lake", lake, "--engine", "spark", "DELETE FROM events")
    assert code == 2
    assert "read-only" in err


def test_spark_options_need_the_spark_engine(
    capsys: pytest.CaptureFixture[str], logs: Path, tmp_path: Path
) -> None:
    lake = str(tmp_path / "lake")
    assert run(capsys, "ingest", str(logs), "--lake", lake)[0] == 0
    code, _, err = run(capsys, "sql", "--lake", lake, "--spark-master", "local[1]", "SELECT 1")
    assert code == 2
    assert "go with --engine spark" in err
    code, _, err = run(
        capsys, "sql", "--lake", lake, "--engine", "spark", "--spark-conf", "x", "SELECT 1"
    )
    assert code == 2
    assert "KEY=VALUE" in err
    code, _, err = run(capsys, "sql", "--lake", "s3a://bucket/lake", "SELECT 1")
    assert code == 2
    assert "--engine spark" in err


def test_lake_compact_on_spark(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, spark: object
) -> None:
    lake = tmp_path / "lake"
    for n, ids in enumerate((range(0, 6), range(3, 9))):  # two files an hour, overlapping
        log = tmp_path / f"audit-{n}.log"
        log.write_bytes(b"\n".join(event(f"e-{i}") for i in ids) + b"\n")
        assert run(capsys, "ingest", str(log), "--lake", str(lake))[0] == 0
    assert len(list(lake.glob("cluster=*/date=*/hour=*/*.parquet"))) == 2
    code, out, err = run(capsys, "lake", "compact", "--lake", str(lake), "--engine", "spark")
    assert code == 0
    assert out == "cluster=default/date=2026-11-26/hour=10: 2 files, 9 rows -> 1 file, 9 rows\n"
    assert "1 partition(s) compacted" in err
    assert len(list(lake.glob("cluster=*/date=*/hour=*/*.parquet"))) == 1
    assert run(capsys, "lake", "verify", "--lake", str(lake))[0] == 0
    code, out, _ = run(
        capsys, "sql", "--lake", str(lake), "-o", "csv", "SELECT count(*) FROM events"
    )
    assert out.splitlines()[1] == "9"
