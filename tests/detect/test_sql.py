"""Rules as SQL over the lake (kubetrail.detect.sql): the bound never excludes a row a rule
fires on, and `detect --lake` through it gives the matcher's findings over every row."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kubetrail.detect.engine import detect, event_from_row, lake_events
from kubetrail.detect.rules import load_rules
from kubetrail.detect.sql import candidates_sql, may_fire_sql
from kubetrail.ingest.pipeline import Ingestor
from kubetrail.lake.engine import DuckDBEngine, records
from kubetrail.lake.store import Lake
from tests.detect.test_pack import BY_NAME, CASES, RULES, ev, sample_and_falco_lake


def _lake(tmp_path: Path, events: list[dict[str, Any]]) -> DuckDBEngine:
    lake = Lake(tmp_path / "lake", create=True)
    ing = Ingestor(lake, "c")
    for event in events:
        ing.add(json.dumps(event).encode(), "test")
    ing.close()
    assert ing.stats.written == len(events)
    return DuckDBEngine(lake)


def _cases(which: int) -> list[dict[str, Any]]:
    """Every rule's must-match (0) or must-not-match (1) events, with distinct audit IDs."""
    out = []
    for name, cases in sorted(CASES.items()):
        for i, event in enumerate(cases[which]):
            out.append({**event, "auditID": f"{name}#{which}.{i}"})
    return out


def test_the_bound_keeps_every_event_a_rule_matches(tmp_path: Path) -> None:
    engine = _lake(tmp_path, _cases(0))
    try:
        for name in sorted(CASES):
            kept = {
                r[0]
                for r in engine.query(
                    f"SELECT audit_id FROM raw_events WHERE {may_fire_sql(BY_NAME[name])}"
                ).rows
            }
            wanted = {f"{name}#0.{i}" for i in range(len(CASES[name][0]))}
            assert wanted <= kept, name
    finally:
        engine.close()


def test_the_bound_is_exact_where_the_matcher_rebuilds_the_row(tmp_path: Path) -> None:
    """Where the bound drops a row, the matcher — over the very row rebuilt from the lake —
    finds nothing either (soundness checked on the rows, not only on the cases)."""
    engine = _lake(tmp_path, _cases(0) + _cases(1))
    try:
        rows = list(records(engine.query("SELECT * FROM raw_events")))
        for rule in RULES:
            kept = {
                r[0]
                for r in engine.query(
                    f"SELECT audit_id FROM raw_events WHERE {may_fire_sql(rule)}"
                ).rows
            }
            fired = {row["audit_id"] for row in rows if rule.matches(event_from_row(row))}
            assert fired <= kept, rule.name
        # And it is a filter: most rules' bounds drop most of the other rules' cases.
        narrow = sum(
            1
            for rule in RULES
            if engine.query(f"SELECT count(*) FROM raw_events WHERE {may_fire_sql(rule)}").rows[0][
                0
            ]
            < len(rows) / 4
        )
        assert narrow >= len(RULES) * 3 // 4
    finally:
        engine.close()


def test_lake_findings_through_the_bound_are_those_over_every_row(
    tmp_path: Path, corpus: Path
) -> None:
    _, engine = sample_and_falco_lake(tmp_path, corpus)
    try:
        every = [(f.rule, f.audit_id, f.sentence) for f in detect(RULES, lake_events(engine))]
        bounded = [
            (f.rule, f.audit_id, f.sentence)
            for f in detect(RULES, lake_events(engine, rules=RULES))
        ]
        total = engine.query("SELECT count(*) FROM raw_events").rows[0][0]
        selected = engine.query(
            f"SELECT count(*) FROM raw_events WHERE {candidates_sql(RULES)}"
        ).rows[0][0]
    finally:
        engine.close()
    assert len(every) > 20
    assert bounded == every  # same findings, same order, same sentences
    assert selected < total / 2  # the engine, not Python, drops most rows


@pytest.mark.parametrize(
    ("detection", "event", "kept"),
    [
        # NOT of a body leaf: unknown to the bound, so the row stays for the matcher.
        ({"sel": {"verb": "create"}, "tls": {"requestObject.spec.tls|exists": True},
          "condition": "sel and not tls"}, ev("create", "ingresses"), True),
        ({"sel": {"verb": "create"}, "condition": "not sel"}, ev("create", "pods"), False),
        ({"sel": {"user.groups": "SYSTEM:MASTERS"}, "condition": "sel"},
         {**ev("get", "pods"), "user": {"username": "a", "groups": ["system:masters"]}}, True),
        ({"sel": {"responseStatus.code": 403}, "condition": "sel"},
         ev("get", "pods", responseStatus={"code": 403}), True),
        ({"sel": {"responseStatus.code": "403"}, "condition": "sel"},
         ev("get", "pods", responseStatus={"code": 200}), False),
        # A value outside ASCII: Python's and SQL's case rules may differ, the matcher decides.
        ({"sel": {"objectRef.namespace": "kube-system"}, "condition": "sel"},
         ev("get", "pods", ns="\u212aube-system"), True),
    ],
)  # fmt: skip
def test_bound_cases(
    tmp_path: Path, detection: dict[str, Any], event: dict[str, Any], kept: bool
) -> None:
    import yaml

    rule_file = tmp_path / "r.yml"
    rule_file.write_text(
        yaml.safe_dump(
            {
                "title": "t",
                "logsource": {"product": "kubernetes", "service": "audit"},
                "detection": detection,
                "level": "low",
            }
        )
    )
    (rule,), problems = load_rules([rule_file])
    assert problems == []
    engine = _lake(tmp_path, [event])
    try:
        found = engine.query(f"SELECT count(*) FROM raw_events WHERE {may_fire_sql(rule)}")
        assert bool(found.rows[0][0]) is kept
        if not kept:  # sound: the matcher agrees on the row
            (row,) = records(engine.query("SELECT * FROM raw_events"))
            assert not rule.matches(event_from_row(row))
    finally:
        engine.close()


def test_pack_bound_is_one_valid_expression() -> None:
    rules, _ = load_rules()
    sql = candidates_sql(rules)
    assert sql not in ("TRUE", "FALSE")
    assert "object_resource" in sql


@pytest.mark.parametrize(
    ("detection", "event", "kept"),
    [
        ({"sel": {"userAgent|startswith": "kubectl/"}, "condition": "sel"},
         ev("get", "pods", userAgent="KUBECTL/v1.31"), True),
        ({"sel": {"userAgent|startswith": "kubectl/"}, "condition": "sel"},
         ev("get", "pods", userAgent="curl/8"), False),
        # LIKE's own wildcards in a rule's text are literal characters.
        ({"sel": {"objectRef.name|contains": "a_b%"}, "condition": "sel"},
         ev("get", "pods", name="xaXbYy"), False),
        ({"sel": {"objectRef.name|contains": "a_b%"}, "condition": "sel"},
         ev("get", "pods", name="xa_b%y"), True),
        ({"sel": {"impersonatedUser.username|exists": True}, "condition": "sel"},
         ev("get", "pods"), False),
        ({"sel": {"impersonatedUser.username|exists": True}, "condition": "sel"},
         ev("get", "pods", impersonatedUser={"username": "bob"}), True),
        ({"sel": {"impersonatedUser.username|exists": False}, "condition": "sel"},
         ev("get", "pods"), True),
    ],
)  # fmt: skip
def test_wildcards_and_exists(
    tmp_path: Path, detection: dict[str, Any], event: dict[str, Any], kept: bool
) -> None:
    test_bound_cases(tmp_path, detection, event, kept)


def test_lake_rows_are_rendered_as_records_renders_them(tmp_path: Path) -> None:
    """lake_events renders timestamps in SQL; the rows equal those of records()."""
    engine = _lake(tmp_path, _cases(0)[:40])
    try:
        streamed = [row for _, row in lake_events(engine)]
        expected = records(
            engine.query(
                "SELECT * FROM events ORDER BY received_at, stage_at, audit_id, event_hash"
            )
        )
    finally:
        engine.close()
    assert len(streamed) == 40
    assert streamed == expected


PRIV = {"sel": {"verb": "create", "requestObject.spec.containers.securityContext.privileged": True},
        "condition": "sel"}  # fmt: skip
NO_TLS = {"sel": {"verb": "create"}, "tls": {"requestObject.spec.tls|exists": False},
          "condition": "sel and tls"}  # fmt: skip
EXTRA = {"sel": {"user.extra.authentication.kubernetes.io/pod-name|exists": True},
         "condition": "sel"}  # fmt: skip


@pytest.mark.parametrize(
    ("detection", "event", "kept"),
    [
        (PRIV, ev("create", "pods", body={"spec": {"containers": [
            {"securityContext": {"privileged": True}}]}}), True),
        (PRIV, ev("create", "pods", body={"spec": {"containers": [{"name": "c"}]}}), False),
        (PRIV, ev("create", "pods"), False),  # no body: the matcher's unknown never fires
        # A JSON Patch names the key in its path.
        (PRIV, ev("patch", "pods", body=[{"op": "add", "value": True,
            "path": "/spec/containers/0/securityContext/privileged"}]), False),
        (NO_TLS, ev("create", "ingresses", body={"spec": {"rules": []}}), True),
        (NO_TLS, ev("create", "ingresses"), False),
        (EXTRA, {**ev("get", "pods"), "user": {"username": "system:serviceaccount:a:b",
            "extra": {"authentication.kubernetes.io/pod-name": ["p"]}}}, True),
        (EXTRA, ev("get", "pods"), False),
    ],
)  # fmt: skip
def test_bounds_of_json_leaves(
    tmp_path: Path, detection: dict[str, Any], event: dict[str, Any], kept: bool
) -> None:
    test_bound_cases(tmp_path, detection, event, kept)


def test_an_escaped_key_cannot_slip_past_the_bound(tmp_path: Path) -> None:
    """The raw text of an event whose key is written \\u0070rivileged (json.dumps writes it
    plainly): the lake keeps the body's text, the bound keeps the row, the rule fires."""
    raw = json.dumps(ev("create", "pods", body={"spec": {"containers": [
        {"securityContext": {"XXrivileged": True}}]}})).replace("XX", "\\u0070")  # fmt: skip
    lake = Lake(tmp_path / "lake", create=True)
    ing = Ingestor(lake, "c")
    ing.add(raw.encode(), "test")
    ing.close()
    engine = DuckDBEngine(lake)
    try:
        fired = [f.rule for f in detect(RULES, lake_events(engine, rules=RULES))]
    finally:
        engine.close()
    assert "privileged-container" in fired


def test_deferred_bodies_are_decoded_for_exceptions_that_read_them(tmp_path: Path) -> None:
    """Over the lake, bodies are decoded only when something may read them: a rule that does
    not read bodies, silenced by an exception that does, is silenced as it is from files."""
    from datetime import date

    from kubetrail.detect.exceptions import load_exceptions
    from tests.detect.test_exceptions import write

    exception = write(tmp_path, "lists", (
        "owner: sre\nreason: dashboards list pods\nexpires: 2027-01-31\n"
        "filter:\n  rules: [resource-listed-by-user]\n  selection:\n"
        "    responseObject.kind: PodList\n  condition: not selection\n"))  # fmt: skip
    silences, problems = load_exceptions([exception])
    assert problems == []
    events = [
        {**ev("list", "pods", name=None), "auditID": "pods",
         "responseObject": {"kind": "PodList", "items": []}},
        {**ev("list", "secrets", name=None), "auditID": "secrets",
         "responseObject": {"kind": "SecretList", "items": []}},
    ]  # fmt: skip
    engine = _lake(tmp_path, events)
    today = date(2026, 12, 2)
    try:

        def fired(stream: Any) -> list[tuple[str, str | None]]:
            found = detect(RULES, stream, exceptions=silences, today=today,
                           min_level="informational")  # fmt: skip
            return sorted((f.rule, f.audit_id) for f in found)

        from_lake = fired(lake_events(engine, rules=RULES))
    finally:
        engine.close()
    from_files = fired([(e, {}) for e in events])
    assert ("resource-listed-by-user", "secrets") in from_lake
    assert ("resource-listed-by-user", "pods") not in from_lake
    assert from_lake == from_files


def test_exact_duplicates_in_the_lake_are_matched_once(tmp_path: Path) -> None:
    """Two receivers that stored the same batch: the lake path sees each event once, the
    rows of the `events` view (the copy ingested first)."""
    lake = Lake(tmp_path / "lake", create=True)
    events = [{**e, "auditID": f"dup-{i}"} for i, e in enumerate(_cases(0)[:30])]
    for peer in ("peer-a", "peer-b"):
        ing = Ingestor(lake, "c")
        for e in events:
            ing.add(json.dumps(e).encode(), peer)
        lake.commit(ing.take_rows(), datetime.now(UTC))
    engine = DuckDBEngine(lake)
    try:
        assert engine.query("SELECT count(*) FROM raw_events").rows[0][0] == 60
        streamed = [row for _, row in lake_events(engine)]
        bounded = [row for _, row in lake_events(engine, rules=RULES)]
        view = records(engine.query("SELECT * FROM events"))
    finally:
        engine.close()
    assert len(streamed) == 30
    key = ("audit_id", "stage", "source")
    assert sorted(tuple(r[k] for k in key) for r in streamed) == sorted(
        tuple(r[k] for k in key) for r in view
    )
    assert {r["audit_id"] for r in bounded} <= {r["audit_id"] for r in streamed}
    assert len(bounded) == len({r["audit_id"] for r in bounded})  # once each
