"""search, timeline and top over a real lake: every filter, final stages, duplicates, time
windows, bound parameters, and clear errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kubetrail.errors import UsageError
from kubetrail.lake.engine import DuckDBEngine
from kubetrail.lake.store import Lake
from kubetrail.query.search import (
    Filters,
    object_filters,
    parse_time,
    search,
    timeline,
    top,
    where_sql,
)
from tests.lake.conftest import event, ingest

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def ev(audit_id: str, minute: int, **kw: object) -> bytes:
    at = f"2026-11-26T10:{minute:02d}:00.000000Z"
    return event(audit_id, received=kw.pop("received", at), **kw)  # type: ignore[arg-type]


@pytest.fixture
def engine(tmp_path: Path) -> DuckDBEngine:
    lake = Lake(tmp_path / "lake", create=True)
    lines = [
        # a watch logged at two stages: one line for the request
        ev("w", 1, verb="watch", stage="ResponseStarted", uri="/api/v1/pods?watch=1", name=""),
        ev("w", 1, verb="watch", stage="ResponseComplete", uri="/api/v1/pods?watch=1", name="",
           stage_at="2026-11-26T10:31:00.000000Z"),
        ev("exec", 2, verb="create", uri="/api/v1/namespaces/prod/pods/db/exec?command=sh",
           namespace="prod", name="db", objectRef={"resource": "pods", "subresource": "exec",
           "namespace": "prod", "name": "db", "apiVersion": "v1"}, user="mallory",
           sourceIPs=["203.0.113.7"]),
        ev("deny", 3, user="bob", responseStatus={"code": 403, "metadata": {}},
           annotations={"authorization.k8s.io/decision": "forbid",
                        "authorization.k8s.io/reason": "no"}),
        ev("imp", 4, user="system:admin",
           impersonatedUser={"username": "alice", "groups": ["ops"]}),
        ev("dep", 5, verb="patch", objectRef={"resource": "deployments", "apiGroup": "apps",
           "namespace": "default", "name": "web", "apiVersion": "v1"},
           userAgent="Helm/3.17.0", sourceIPs=["2001:db8::17"]),
        ev("old", 0, received="2026-11-20T08:00:00.000000Z"),
        ev("quote", 6, user="o'brien", uri="/api/v1/namespaces/default/pods/p?x=%27;DROP"),
    ]  # fmt: skip
    ingest(lake, lines)
    ingest(lake, lines[:3], cluster="test")  # exact duplicates, dropped
    eng = DuckDBEngine(lake)
    yield eng
    eng.close()


def ids(rows: list[dict[str, object]]) -> list[object]:
    return [r["audit_id"] for r in rows]


def find(engine: DuckDBEngine, **kw: object) -> list[object]:
    return ids(search(engine, Filters(**kw), NOW))  # type: ignore[arg-type]


def test_one_line_per_request_newest_first(engine: DuckDBEngine) -> None:
    rows = search(engine, Filters(), NOW)
    assert ids(rows) == ["quote", "dep", "imp", "deny", "exec", "w", "old"]
    watch = next(r for r in rows if r["audit_id"] == "w")
    assert watch["stage"] == "ResponseComplete"
    assert len(search(engine, Filters(), NOW, all_stages=True)) == 8


def test_user_matches_actor_or_impersonated(engine: DuckDBEngine) -> None:
    assert find(engine, user="alice") == ["dep", "imp", "w", "old"]
    assert find(engine, actor="alice") == ["dep", "w", "old"]
    assert find(engine, as_user="alice") == ["imp"]
    assert find(engine, user="system:*") == ["imp"]
    assert find(engine, group="op?") == ["imp"]


def test_resource_forms(engine: DuckDBEngine) -> None:
    assert "exec" not in find(engine, resource="pods")
    assert find(engine, resource="pods/*") == ["exec"]
    assert find(engine, resource="pods/exec") == ["exec"]
    assert find(engine, resource="deployments.apps") == ["dep"]
    assert find(engine, resource="deployments.batch") == []
    assert set(find(engine, resource="pods/**")) == {"quote", "imp", "deny", "exec", "w", "old"}


def test_other_filters(engine: DuckDBEngine) -> None:
    assert find(engine, verb=("create,patch",)) == ["dep", "exec"]
    assert find(engine, namespace="pro*") == ["exec"]
    assert find(engine, name="db") == ["exec"]
    assert find(engine, decision="forbid") == ["deny"]
    assert find(engine, code="403") == ["deny"]
    assert find(engine, code="4xx") == ["deny"]
    assert find(engine, source_ip="203.0.113.0/24") == ["exec"]
    assert find(engine, source_ip="203.0.113.7") == ["exec"]
    assert find(engine, source_ip="2001:db8::/32") == ["dep"]
    assert find(engine, source_ip="2001:db8::17/128") == ["dep"]
    assert find(engine, source_ip="2001:db9::/32") == []
    assert find(engine, user_agent="helm") == []  # substrings are case-sensitive
    assert find(engine, user_agent="Helm/") == ["dep"]
    assert find(engine, user_agent="Helm/3.*") == ["dep"]
    assert find(engine, text="watch=1") == ["w"]
    assert find(engine, cluster="nope") == []


def test_time_windows(engine: DuckDBEngine) -> None:
    assert find(engine, since="2026-11-21") == ["quote", "dep", "imp", "deny", "exec", "w"]
    assert find(engine, until="2026-11-21") == ["old"]
    assert find(engine, since="2h", until="2026-11-26T10:03:00Z") == ["exec", "w"]
    assert find(engine, since="1w") == find(engine)
    with pytest.raises(UsageError, match="empty window"):
        find(engine, since="1h", until="2h")
    with pytest.raises(UsageError, match="duration back from now"):
        find(engine, since="yesterday")


def test_filters_are_parameters_not_sql(engine: DuckDBEngine) -> None:
    hostile = "x' OR '1'='1'; DROP TABLE t; --"
    fields = ["user", "actor", "as_user", "group", "namespace", "name", "user_agent", "cluster",
              "text"]  # fmt: skip
    for field in fields:
        conds, _ = where_sql(Filters(**{field: hostile}), NOW)  # type: ignore[arg-type]
        assert hostile not in " ".join(conds)
        assert find(engine, **{field: hostile}) == []
    assert find(engine, verb=(hostile,)) == []
    assert find(engine, resource=hostile) == []
    assert find(engine, user="o'brien") == ["quote"]
    assert find(engine, text="%27;DROP") == ["quote"]
    assert find(engine, text="%") == ["quote"]  # LIKE metacharacters are literal
    assert find(engine, text="_") == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("code", "40x", "status code"),
        ("source_ip", "10.0.0.300/8", "CIDR"),
        ("resource", "/exec", "give e.g."),
        ("decision", "maybe", "allow or forbid"),
    ],
)
def test_bad_filters_say_what_to_give(
    engine: DuckDBEngine, field: str, value: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        find(engine, **{field: value})


def test_timeline_groups_minutes_and_marks_gaps(engine: DuckDBEngine) -> None:
    minutes = timeline(engine, Filters(resource="pods/**"), NOW, gap=timedelta(minutes=10))
    assert [m.start for m in minutes] == [
        "2026-11-20T08:00:00Z",
        "2026-11-26T10:01:00Z",
        "2026-11-26T10:02:00Z",
        "2026-11-26T10:03:00Z",
        "2026-11-26T10:04:00Z",
        "2026-11-26T10:06:00Z",
    ]
    assert minutes[0].gap_before is None
    assert minutes[1].gap_before == pytest.approx((6 * 24 + 2) * 3600 + 60)
    assert all(m.gap_before is None for m in minutes[2:])


def test_object_timeline(engine: DuckDBEngine) -> None:
    minutes = timeline(engine, object_filters("pods/prod/db", Filters()), NOW)
    assert [e["audit_id"] for m in minutes for e in m.events] == ["exec"]
    with pytest.raises(UsageError, match="RESOURCE/NAME"):
        object_filters("pods", Filters())


def test_top(engine: DuckDBEngine) -> None:
    result = top(engine, "user", Filters(), NOW)
    rows, total = result.rows, result.events
    assert total == 7
    assert (rows[0].value, rows[0].events) == ("alice", 3)
    rows = top(engine, "resource", Filters(), NOW).rows
    assert {r.value: r.events for r in rows} == {
        "pods": 5,
        "pods/exec": 1,
        "deployments.apps": 1,
    }
    with pytest.raises(UsageError, match="--by"):
        top(engine, "colour", Filters(), NOW)


def test_parse_time() -> None:
    assert parse_time("90m", NOW) == NOW - timedelta(minutes=90)
    assert parse_time("2026-11-26", NOW) == datetime(2026, 11, 26, tzinfo=UTC)
    assert parse_time("2026-11-26T10:00:00+01:00", NOW) == datetime(2026, 11, 26, 9, tzinfo=UTC)


def test_two_phase_search_equals_one_phase_with_physical_duplicates(tmp_path: Path) -> None:
    """The keys-then-rows path (a limit) gives exactly the rows of the one-query path (no
    limit), with exact duplicates stored twice, an audit-ID collision, stages of one request,
    events without an audit ID, and a request whose ID is reused at another time."""
    from kubetrail.ingest.pipeline import Ingestor

    lake = Lake(tmp_path / "lake", create=True)
    lines = [ev(f"id-{i}", i % 50, user=f"u{i % 3}") for i in range(120)]
    lines += [
        ev("same", 7, stage="RequestReceived"),
        ev("same", 7, stage="ResponseComplete"),
        ev("same", 9),  # the ID reused by another request
        ev("same", 9, verb="delete"),  # a collision: same ID and stage, other content
        ev("", 11, user="noid"),
        ev("", 12, user="noid"),
    ]
    for peer in ("a", "b"):  # two receivers that do not coordinate
        ing = Ingestor(lake, "test", clock=lambda: NOW)
        for line in lines:
            ing.add(line, peer)
        lake.commit(ing.take_rows(), NOW)
    engine = DuckDBEngine(lake)
    try:
        assert engine.query("SELECT count(*) FROM raw_events").rows == [(2 * len(lines),)]
        for kw in ({}, {"user": "u1"}, {"user": "noid"}, {"since": "2026-11-26T10:05:00Z"}):
            for all_stages in (False, True):
                whole = search(engine, Filters(**kw), NOW, all_stages=all_stages, limit=None)
                assert len(whole) == len({r["event_hash"] for r in whole})
                for limit in (1, 7, 10_000):
                    part = search(engine, Filters(**kw), NOW, all_stages=all_stages, limit=limit)
                    assert part == whole[:limit], (kw, all_stages, limit)
                    assert {r["source"] for r in part} <= {"a"}  # the first copy
        # The collision is shown twice: one request key, two different last-stage events.
        reused = search(engine, Filters(since="2026-11-26T10:09:00Z",
                                        until="2026-11-26T10:09:01Z"), NOW)  # fmt: skip
        assert sorted(r["verb"] for r in reused if r["audit_id"] == "same") == ["delete", "get"]
    finally:
        engine.close()


def test_top_bytes_are_the_stored_event_sizes(engine: DuckDBEngine) -> None:
    result = top(engine, "cluster", Filters(), NOW)
    (sizes,) = engine.query(
        "SELECT sum(event_bytes) FROM events WHERE stage = 'ResponseComplete'"
    ).rows[0]
    assert result.bytes == sizes > 0
    assert result.unsized == 0


def test_globs_become_regexes_that_match_as_duckdb_glob_does() -> None:
    """glob_regex (what both engines run) agrees with DuckDB's own GLOB, which it replaced."""
    import duckdb
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from kubetrail.query.search import glob_regex

    con = duckdb.connect()
    alphabet = st.sampled_from(list("ab:/.-_*?[]!^\\$(){}+|\n é"))

    @settings(max_examples=400, deadline=None)
    @given(pattern=st.text(alphabet, max_size=8), text=st.text(alphabet, max_size=8))
    def agree(pattern: str, text: str) -> None:
        # Only what kubetrail treats as a glob (a pattern without *?[ is compared with =).
        if not set("*?[") & set(pattern):
            return
        # Where glob_regex is deliberately more lenient than DuckDB's GLOB (which matches
        # nothing): a trailing lone backslash, an unclosed bracket.
        if re.search(r"(?<!\\)(\\\\)*\\$", pattern) or _unclosed(pattern):
            return
        glob, regex = con.execute(
            "SELECT ? GLOB ?, regexp_matches(?, ?)", [text, pattern, text, glob_regex(pattern)]
        ).fetchone()
        assert glob == regex, (pattern, text, glob_regex(pattern))

    agree()
    for pattern, text in (("system:node:*", "system:node:a/b"), ("[a-m]*", "kube"), ("x[", "x[")):
        assert con.execute("SELECT regexp_matches(?, ?)", [text, glob_regex(pattern)]).fetchone()[0]


def _unclosed(pattern: str) -> bool:
    """Whether some ``[`` opens no class (no ``]`` at least one character later)."""
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                return True
            i = end
        i += 1
    return False
