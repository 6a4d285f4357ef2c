"""Identity enrichment: a pod's bound token tied to the pod's addresses, learned in stream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubetrail.detect.engine import detect, lake_events
from kubetrail.detect.identity import Identities
from kubetrail.ingest.pipeline import Ingestor
from kubetrail.lake.engine import DuckDBEngine
from kubetrail.lake.store import Lake
from tests.detect.test_pack import RULES, ev, sa_token


def status_patch(ip: str, *, uid: str = "uid-1", at: str = "10:00:00") -> dict[str, Any]:
    """The kubelet reporting pod ci/runner-1's address (pods/status, Request level)."""
    body = {"metadata": {"uid": uid}, "status": {"podIP": ip, "podIPs": [{"ip": ip}]}}
    event = ev("patch", "pods", sub="status", ns="ci", name="runner-1",
               user="system:node:node-1", body=body)  # fmt: skip
    event["auditID"] = f"status-{ip}-{at}"
    event["requestReceivedTimestamp"] = f"2026-11-26T{at}.000000Z"
    return event


def use(source: str, audit_id: str, at: str = "10:05:00") -> dict[str, Any]:
    event = sa_token(source)
    event["auditID"] = audit_id
    event["requestReceivedTimestamp"] = f"2026-11-26T{at}.000000Z"
    return event


def fired(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    found = detect(RULES, [(e, {}) for e in events], min_level="low")
    return sorted((f.rule, str(f.audit_id)) for f in found if f.rule.startswith("serviceaccount"))


def test_enrichment_fields() -> None:
    ids = Identities()
    ids.observe(status_patch("10.244.1.7"))
    event = use("203.0.113.9", "x")
    ids.enrich(event)
    assert event["kubetrail"] == {
        "serviceAccount": "ci/runner",
        "pod": "ci/runner-1",
        "podUID": "uid-1",
        "node": "node-1",
        "credentialID": "JTI=abc",
        "podIPs": ["10.244.1.7"],
        "sourceInPod": False,
    }
    inside = use("10.244.1.7", "y")
    ids.enrich(inside)
    assert inside["kubetrail"]["sourceInPod"] is True
    plain = ev("get", "pods")
    ids.enrich(plain)
    assert "kubetrail" not in plain  # no pod-bound token: nothing added


def test_a_token_used_from_elsewhere_fires_once_its_pod_is_known() -> None:
    events = [
        use("203.0.113.9", "before", at="09:59:00"),  # the pod's address not yet known
        status_patch("10.244.1.7"),
        use("10.244.1.7", "inside"),
        use("203.0.113.9", "outside"),
    ]
    assert fired(events) == [("serviceaccount-token-outside-pod", "outside")]


def test_a_new_pod_with_the_same_name_is_not_the_old_one() -> None:
    events = [status_patch("10.244.1.7", uid="old-uid"), use("203.0.113.9", "x")]
    assert fired(events) == []  # the token's pod-uid is uid-1: the address known is another pod's
    deleted = {**ev("delete", "pods", ns="ci", name="runner-1", user="admin"), "auditID": "d",
               "requestReceivedTimestamp": "2026-11-26T10:01:00.000000Z"}  # fmt: skip
    events = [status_patch("10.244.1.7"), deleted, use("203.0.113.9", "y")]
    assert fired(events) == []  # deleted: its address forgotten


def test_the_lake_learns_from_the_rows_it_selects(tmp_path: Path) -> None:
    """Over the lake, the status updates that teach pod addresses are selected too."""
    events = [status_patch("10.244.1.7"), use("10.244.1.7", "inside"), use("203.0.113.9", "out")]
    lake = Lake(tmp_path / "lake", create=True)
    ing = Ingestor(lake, "c")
    for event in events:
        ing.add(json.dumps(event).encode(), "t")
    ing.close()
    engine = DuckDBEngine(lake)
    try:
        found = [(f.rule, f.audit_id) for f in detect(RULES, lake_events(engine, rules=RULES))]
    finally:
        engine.close()
    assert ("serviceaccount-token-outside-pod", "out") in found
    assert ("serviceaccount-token-outside-pod", "inside") not in found


def test_a_token_minted_by_a_person_then_used() -> None:
    from kubetrail.detect.rules import load_pack
    from tests.detect.test_pack import minted_use

    rules, correlations, _ = load_pack()
    mint = ev("create", "serviceaccounts", sub="token", ns="ci", name="deployer", user="mallory")
    mint |= {"auditID": "mint", "requestReceivedTimestamp": "2026-11-26T10:00:00.000000Z"}
    used = {**minted_use("ci:deployer"), "auditID": "use",
            "requestReceivedTimestamp": "2026-11-26T10:20:00.000000Z"}  # fmt: skip
    other = {**minted_use("ci:other"), "auditID": "other",
             "requestReceivedTimestamp": "2026-11-26T10:21:00.000000Z"}  # fmt: skip

    def fired(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
        found = detect(rules, [(e, {}) for e in events], correlations=correlations)
        return [(f.rule, f.sentence.split(";")[0]) for f in found if f.rule.startswith("token-")]

    assert fired([mint, other]) == [("token-requested-by-user", fired([mint])[0][1])]
    (corr,) = [f for f in fired([mint, used]) if f[0] == "token-minted-then-used"]
    assert corr[1] == (
        "token-requested-by-user then minted-token-used within 1 h for serviceaccount=ci/deployer"
    )
    late = {**used, "requestReceivedTimestamp": "2026-11-26T11:30:00.000000Z"}
    assert [f for f in fired([mint, late]) if f[0] == "token-minted-then-used"] == []
