"""The Spark engine answers as DuckDB does on the same lake: every query kubetrail makes
(search, timeline, top, health, the rows of detect --lake) and user SQL, compared as the JSON
the commands print — same rows, same order, same values."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from kubetrail.detect.engine import detect, lake_events
from kubetrail.detect.rules import load_rules
from kubetrail.errors import UsageError
from kubetrail.ingest.pipeline import Ingestor
from kubetrail.ingest.read import ReadReport, expand_paths, read_lines
from kubetrail.lake.engine import DuckDBEngine, Engine, records
from kubetrail.lake.health import health
from kubetrail.lake.spark import SparkEngine, transpile
from kubetrail.lake.store import Lake
from kubetrail.query.search import TOP_DIMENSIONS, Filters, search, timeline, top

NOW = datetime(2026, 12, 1, tzinfo=UTC)
RULES, _ = load_rules()


def _sample(path: Path) -> Path:
    from kubetrail.sample.generate import generate

    with open(path, "wb") as fh:
        start = datetime(2026, 1, 1, 23, 58, tzinfo=UTC)  # crosses a day and an hour
        for line in generate(nodes=3, seconds=240, seed=5, start=start):
            fh.write(line + b"\n")
    return path


def _ingest(lake: Lake, cluster: str, paths: list[str], *, wal: str | None = None) -> None:
    ing = Ingestor(lake, cluster, clock=lambda: NOW)
    for line in read_lines(expand_paths(paths), ReadReport()):
        with contextlib.suppress(ValueError):  # LICENSE and README files
            ing.add(line.data, f"{line.source}:{line.number}")
    if wal is None:
        ing.close()
        return
    # As a receiver leaves them: acknowledged, in its write-ahead log, not yet in Parquet.
    directory = lake.root / "_wal" / wal
    directory.mkdir(parents=True)
    (directory / "00000001.jsonl").write_bytes(b"\n".join(ing.take_rows().json_rows()) + b"\n")


@pytest.fixture(scope="module")
def engines(
    spark: Any, corpus: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, Engine]]:
    root = tmp_path_factory.mktemp("spark")
    lake = Lake(root / "lake", create=True)
    upstream = corpus / "upstream"
    _ingest(lake, "c", [str(_sample(root / "sample.log")), str(upstream / "falco")])
    _ingest(lake, "c", [str(upstream / "falco")])  # exact duplicates: kept in raw_events only
    _ingest(lake, "0042", [str(upstream / "audit2rbac"), str(upstream / "panther-analysis")])
    _ingest(lake, "edge", [str(upstream / "elastic-integrations")], wal="receiver-a")
    duck, sparkling = DuckDBEngine(lake), SparkEngine(lake, session=spark)
    yield duck, sparkling
    duck.close()
    sparkling.close()


def same(engines: tuple[Engine, Engine], run: Any) -> Any:
    """``run(engine)`` on both engines: equal as JSON; returns DuckDB's answer."""
    duck, sparkling = engines
    a, b = run(duck), run(sparkling)
    ja, jb = msgspec.json.encode(a), msgspec.json.encode(b)
    if ja != jb:  # the first difference, readably
        left, right = msgspec.json.decode(ja), msgspec.json.decode(jb)
        if isinstance(left, list) and isinstance(right, list):
            assert len(left) == len(right)
            for x, y in zip(left, right, strict=True):
                assert x == y
        assert left == right
    return a


SEARCHES = {
    "all": Filters(),
    "user-glob": Filters(user="system:serviceaccount:*"),
    "actor": Filters(actor="kubernetes-admin"),
    "as": Filters(as_user="*"),
    "group": Filters(group="system:mast?rs"),
    "verbs": Filters(verb=("get,list", "watch")),
    "subresource": Filters(resource="pods/*"),
    "resource-both": Filters(resource="pods/**"),
    "group-resource": Filters(resource="deployments.apps"),
    "core": Filters(resource="secrets.core"),
    "any-resource": Filters(resource="*"),
    "namespace": Filters(namespace="kube-*"),
    "name-class": Filters(name="[a-m]*"),
    "name-negated": Filters(name="[!a-m]*"),
    "window": Filters(since="2026-01-01T23:59:00Z", until="2026-01-02T00:01:30Z"),
    "forbid": Filters(decision="forbid"),
    "4xx": Filters(code="4xx"),
    "201": Filters(code="201"),
    "ipv4": Filters(source_ip="10.0.0.0/8"),
    "ipv6": Filters(source_ip="::1"),
    "agent": Filters(user_agent="kubectl"),
    "agent-glob": Filters(user_agent="kube-controller-manager/*"),
    "cluster": Filters(cluster="00*"),
    "text": Filters(text="watch=true"),
    "like-specials": Filters(text="_%\\"),
}


@pytest.mark.parametrize("name", list(SEARCHES))
def test_search(engines: tuple[Engine, Engine], name: str) -> None:
    filters = SEARCHES[name]
    rows = same(engines, lambda e: search(e, filters, NOW, limit=200))
    same(engines, lambda e: search(e, filters, NOW, limit=None, all_stages=True))
    if name == "all":
        assert len(rows) == 200


def test_search_finds_something_for_most_filters(engines: tuple[Engine, Engine]) -> None:
    """The comparisons above are not of empty answers."""
    empty = [n for n, f in SEARCHES.items() if not search(engines[0], f, NOW, limit=1)]
    assert set(empty) <= {"like-specials", "forbid"}, empty


@pytest.mark.parametrize("by", list(TOP_DIMENSIONS))
def test_top(engines: tuple[Engine, Engine], by: str) -> None:
    answer = same(engines, lambda e: top(e, by, Filters(), NOW, limit=50))
    assert answer.rows
    same(engines, lambda e: top(e, by, Filters(verb=("create",)), NOW))


def test_timeline(engines: tuple[Engine, Engine]) -> None:
    minutes = same(
        engines,
        lambda e: timeline(e, Filters(), NOW, gap=timedelta(minutes=1), limit=None),
    )
    assert any(m.gap_before for m in minutes)


def test_health(engines: tuple[Engine, Engine]) -> None:
    report = same(engines, lambda e: health(e, NOW, silent_after=timedelta(seconds=30)))
    assert report.duplicates > 0
    assert {s.cluster for s in report.streams} == {"c", "0042", "edge"}


def test_detect_lake_rows_and_findings(engines: tuple[Engine, Engine]) -> None:
    rows = same(engines, lambda e: [row for _, row in lake_events(e)])
    assert len(rows) > 1000
    findings = same(engines, lambda e: list(detect(RULES, lake_events(e, rules=RULES))))
    assert len({f.rule for f in findings}) > 10


def test_policy_volume_from_the_lake(engines: tuple[Engine, Engine], corpus: Path) -> None:
    from kubetrail.policy.load import load_policy
    from kubetrail.policy.volume import lake_sample, measure

    policies = [
        load_policy(str(corpus / "policies" / name))
        for name in ("gce-gke-configure-helper.yaml", "k8s-docs-example.yaml")
    ]
    report = same(engines, lambda e: measure(policies, lake_sample(e)))
    assert report.sample.events > 1000
    assert 0 < report.policies[0].bytes < report.sample.bytes


USER_SQL = {
    "count": "SELECT count(*) AS n, count(DISTINCT audit_id) AS ids FROM events",
    "partitions": "SELECT cluster, date, hour, count(*) AS n FROM events GROUP BY ALL "
    "ORDER BY cluster, date, hour",
    "nulls-order": "SELECT DISTINCT object_namespace FROM events ORDER BY object_namespace",
    "nulls-desc": "SELECT DISTINCT object_api_group FROM events ORDER BY 1 DESC",
    "types": "SELECT received_at, date, hour, user_groups, source_ips, response_code, "
    "event_bytes FROM events ORDER BY received_at, audit_id, stage, event_hash LIMIT 300",
    "unnest": "SELECT g, count(*) AS n FROM (SELECT unnest(user_groups) AS g FROM events) "
    "GROUP BY g ORDER BY n DESC, g",
    "json": "SELECT json_extract_string(request_object, '$.kind') AS kind, count(*) AS n "
    "FROM events WHERE request_object IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1",
    "regexp": "SELECT count(*) AS n FROM events WHERE regexp_matches(user_name, '^system:node:')",
    "time": "SELECT date_trunc('hour', received_at) AS h, min(stage_at) AS first, "
    "max(ingested_at) > min(received_at) AS later FROM events GROUP BY 1 ORDER BY 1",
    "cte": "WITH w AS (SELECT user_name, verb FROM events WHERE verb IN ('create', 'delete')) "
    "SELECT user_name, verb, count(*) AS n FROM w GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 20",
    "raw": "SELECT count(*) - (SELECT count(*) FROM events) AS duplicates FROM raw_events",
    "wal": "SELECT count(*) AS n, min(envelope) AS e FROM events WHERE cluster = 'edge'",
}


@pytest.mark.parametrize("name", list(USER_SQL))
def test_user_sql(engines: tuple[Engine, Engine], name: str) -> None:
    rows = same(engines, lambda e: records(e.query(USER_SQL[name])))
    assert rows


def test_partition_columns_are_typed_not_inferred(engines: tuple[Engine, Engine]) -> None:
    """A cluster named 0042 stays the text '0042' (Spark would read it as the number 42)."""
    for engine in engines:
        result = engine.query("SELECT DISTINCT cluster, date, hour FROM events ORDER BY 1 LIMIT 1")
        assert result.rows[0][0] == "0042"
        assert result.types[:3] == ["VARCHAR", "DATE", "INTEGER"]


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("DROP VIEW events", "read-only"),
        ("SELECT 1; SELECT 2", "exactly one"),
        ("SELECT * FROM read_parquet('/etc/x.parquet')", "only the lake's views"),
        ('SELECT * FROM parquet."/etc"', "only the lake's views"),
        ("SELECT * FROM other_table", "only the lake's views"),
        ("SELECT reflect('java.lang.System', 'exit', '0')", "reflect.. is not allowed"),
        ("SELECT * FROM events QUALIFY row_number() OVER () = 1", "in a subquery"),
    ],
)
def test_user_sql_is_read_only_over_the_views(sql: str, says: str) -> None:
    with pytest.raises(UsageError, match=says):
        transpile(sql, user=True)


def _overlapping_lake(root: Path, corpus: Path) -> Lake:
    """Several files per hour, exact duplicates across them, two clusters (one named with a
    space and a percent sign, escaped differently by Spark and by URIs), one hour held."""
    from kubetrail.sample.generate import generate

    lake = Lake(root, create=True)
    start = datetime(2026, 3, 1, 9, 59, tzinfo=UTC)
    lines = list(generate(nodes=2, seconds=150, seed=9, start=start))
    for cluster in ("c", "ops 100%"):
        for chunk in (lines[: len(lines) // 2], lines[len(lines) // 3 :], lines[::7]):
            ing = Ingestor(lake, cluster, clock=lambda: NOW)
            for i, line in enumerate(chunk):
                ing.add(line, f"x:{i}")
            lake.commit(ing.take_rows(), NOW)
    _ingest(lake, "c", [str(corpus / "upstream" / "falco")])  # one file an hour: left alone
    lake.hold("cluster=c/date=2026-03-01/hour=09", "case 7", NOW)
    return lake


def _content(lake: Lake) -> dict[str, Any]:
    """Every partition's files (rows in file order, as JSON) and the events view."""
    duck = DuckDBEngine(lake)
    try:
        files = {}
        for partition in lake.partitions():
            names = sorted((lake.root / partition).glob("*.parquet"))
            rows = []
            for name in names:
                got = duck.con.execute(
                    f"SELECT * EXCLUDE (ingested_at) FROM read_parquet('{name}')"
                ).fetchall()
                rows.append(msgspec.json.encode([list(map(str, r)) for r in got]))
            files[partition] = sorted(rows)  # (names differ: they hold a random batch id)
        view = records(duck.query("SELECT * FROM events ORDER BY ALL"))
    finally:
        duck.close()
    return {"files": files, "events": view}


def test_compaction_on_spark_writes_what_duckdb_writes(
    spark: Any, corpus: Path, tmp_path: Path
) -> None:
    from kubetrail.lake.spark import compact

    on_duck = _overlapping_lake(tmp_path / "duck", corpus)
    shutil.copytree(on_duck.root, tmp_path / "spark")  # the same files, byte for byte
    on_spark = Lake(tmp_path / "spark")
    before = _content(on_spark)
    done_duck = on_duck.compact(NOW)
    done_spark = compact(on_spark, NOW, session=spark)
    assert done_spark == done_duck
    assert len(done_spark) == 3
    assert any(p.startswith("cluster=ops 100%/") for p, *_ in done_spark)
    assert all(before_rows > after_rows for _, _, before_rows, after_rows in done_spark)
    assert "cluster=c/date=2026-03-01/hour=09" not in {p for p, *_ in done_spark}  # held
    after_duck, after_spark = _content(on_duck), _content(on_spark)
    for partition, files in after_duck["files"].items():
        assert after_spark["files"][partition] == files, partition
    assert after_spark["events"] == before["events"]  # nothing lost, nothing doubled
    assert after_spark == after_duck  # the same rows in the same order in each file
    assert on_spark.verify()[1] == []
    assert compact(on_spark, NOW, session=spark) == []  # one file an hour: nothing to do


def test_spark_settings() -> None:
    from kubetrail.lake.spark import parse_conf, spark_session

    assert parse_conf(["spark.executor.memory=8g", "a.b=x=y"]) == {
        "spark.executor.memory": "8g",
        "a.b": "x=y",
    }
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_conf(["spark.executor.memory"])
    with pytest.raises(UsageError, match="cannot be changed"):
        spark_session("local[1]", {"spark.sql.session.timeZone": "Europe/Paris"})


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if "_staging" not in p.parts)


def test_prune_through_spark_deletes_what_the_lake_deletes(
    spark: Any, corpus: Path, tmp_path: Path
) -> None:
    from kubetrail.lake.spark import prune

    lake = Lake(tmp_path / "a", create=True)
    # Falco's recordings are of 2018-2020, audit2rbac's of 2017: old hours in two clusters.
    _ingest(lake, "c", [str(corpus / "upstream" / "falco")])
    _ingest(lake, "ops 1", [str(corpus / "upstream" / "audit2rbac")])
    _ingest(lake, "c", [str(_sample(tmp_path / "new.log"))])  # 2026: kept
    lake.hold("cluster=c/date=2020-04-*", "case 9", NOW)
    shutil.copytree(lake.root, tmp_path / "b")
    other = Lake(tmp_path / "b")
    age = timedelta(days=365)
    dry = prune(other, age, NOW, session=spark, dry_run=True)
    assert dry == lake.prune(age, NOW, dry_run=True)
    assert _tree(other.root) == _tree(lake.root)  # a dry run deletes nothing
    expected = lake.prune(age, NOW)
    deleted, held = prune(f"file://{other.root}", age, NOW, session=spark)
    assert (deleted, held) == expected
    assert len(deleted) > 5
    assert held
    assert any(p.startswith("cluster=ops 1/") for p in deleted)
    assert _tree(other.root) == _tree(lake.root)  # files, manifest entries, empty dirs
    assert other.verify()[1] == []


def test_the_other_layers_tables_read_the_same(spark: Any, tmp_path: Path) -> None:
    from kubetrail.layers.collect import ingest

    pod = tmp_path / "pods/default_web-1_u-1/nginx"
    pod.mkdir(parents=True)
    (pod / "0.log").write_text(
        "2026-12-03T10:00:00.123456789Z stdout P a \n2026-12-03T10:00:01Z stderr F err\n"
        "2026-12-03T10:00:02Z stdout F b\n"
    )
    lake = Lake(tmp_path / "lake", create=True)
    ingest(lake, "container", [str(tmp_path / "pods")], cluster="0042", now=NOW)
    duck, sparkling = DuckDBEngine(lake), SparkEngine(lake, session=spark)
    try:
        for sql in (
            "SELECT * FROM container_logs ORDER BY time, stream",
            "SELECT count(*) AS n FROM component_logs",  # no files: typed and empty
            "SELECT * FROM k8s_events",
        ):
            assert records(duck.query(sql)) == records(sparkling.query(sql))
        rows = records(duck.query("SELECT message, cluster FROM container_logs ORDER BY time"))
        assert rows == [
            {"message": "a b", "cluster": "0042"},
            {"message": "err", "cluster": "0042"},
        ]
    finally:
        duck.close()
        sparkling.close()
