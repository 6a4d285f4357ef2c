"""The Event model reads every real event in the corpus, old shapes included."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from kubetrail.model.event import Event, EventList

decode = msgspec.json.Decoder(Event).decode


def falco_events(corpus: Path) -> list[Path]:
    return sorted(p for p in (corpus / "upstream" / "falco").glob("*.json"))


def test_every_falco_event_decodes_except_the_malformed_one(corpus: Path) -> None:
    good = 0
    for path in falco_events(corpus):
        for line in path.read_bytes().splitlines():
            if not line.strip():
                continue
            if path.name == "fal_01_003.json":
                with pytest.raises(msgspec.ValidationError, match=r"\$\.kind"):
                    decode(line)
                continue
            event = decode(line)
            assert event.verb
            assert event.received_at() is not None
            good += 1
    assert good >= 46


def test_pre_v1_timestamps_fall_back(corpus: Path) -> None:
    line = (corpus / "upstream" / "audit2rbac" / "demo.log").read_bytes().splitlines()[0]
    event = decode(line)
    assert event.request_received_timestamp is None
    assert event.timestamp == "2017-09-11T19:55:05Z"
    assert event.received_at() == "2017-09-11T19:55:05Z"
    assert event.stage_at() == "2017-09-11T19:55:05Z"
    assert event.impersonated_user is not None
    assert event.impersonated_user.username == "bob"


def test_creation_timestamp_is_the_last_legacy_fallback() -> None:
    event = decode(b'{"metadata":{"creationTimestamp":"2018-01-01T00:00:00Z"},"verb":"get"}')
    assert event.received_at() == "2018-01-01T00:00:00Z"


def test_v1_timestamps_win() -> None:
    event = decode(
        b'{"requestReceivedTimestamp":"2020-01-01T00:00:00.000001Z",'
        b'"stageTimestamp":"2020-01-01T00:00:01.000000Z","timestamp":"1999-01-01T00:00:00Z"}'
    )
    assert event.received_at() == "2020-01-01T00:00:00.000001Z"
    assert event.stage_at() == "2020-01-01T00:00:01.000000Z"


def test_no_kind_or_api_version_and_unknown_fields_are_fine() -> None:
    event = decode(b'{"verb":"list","requestURI":"/api/v1/pods","someNewField":{"a":1}}')
    assert event.kind == "Event"
    assert event.request_uri == "/api/v1/pods"


def test_wire_names_are_explicit() -> None:
    event = decode(
        b'{"auditID":"x","requestURI":"/a","sourceIPs":["1.2.3.4"],"userAgent":"kubectl",'
        b'"objectRef":{"apiGroup":"apps","resourceVersion":"7"},"impersonatedUser":{"username":"u"}}'
    )
    assert event.audit_id == "x"
    assert event.source_ips == ["1.2.3.4"]
    assert event.object_ref is not None
    assert event.object_ref.api_group == "apps"
    assert event.object_ref.resource_version == "7"
    encoded = json.loads(msgspec.json.encode(event))
    assert {"auditID", "requestURI", "sourceIPs", "userAgent", "impersonatedUser"} <= set(encoded)


def test_request_and_response_objects_stay_raw() -> None:
    event = decode(b'{"requestObject":{"kind":"Secret","data":{"k":"dmFsdWU="}}}')
    assert isinstance(event.request_object, msgspec.Raw)
    assert json.loads(bytes(event.request_object))["data"]["k"] == "dmFsdWU="
    assert event.response_object is msgspec.UNSET
    assert b"responseObject" not in msgspec.json.encode(event)


def test_event_list() -> None:
    batch = msgspec.json.decode(
        b'{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},'
        b'"items":[{"verb":"get"},{"verb":"list"}]}',
        type=EventList,
    )
    assert [e.verb for e in batch.items] == ["get", "list"]


def test_panther_eks_events_decode(corpus: Path) -> None:
    path = corpus / "upstream" / "panther-analysis" / "panther_k8s_rule_tests.jsonl"
    count = 0
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["p_log_type"] != "Amazon.EKS.Audit":
            continue
        decode(json.dumps(record["log"]).encode())
        count += 1
    assert count > 100
