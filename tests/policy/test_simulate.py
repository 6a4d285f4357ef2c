"""simulate: what kube-apiserver would have written, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from kubetrail.model.event import Event
from kubetrail.model.policy import Policy, PolicyRule
from kubetrail.policy.evaluate import Evaluator
from kubetrail.policy.simulate import Simulator, go_escape, strip_managed_fields


def simulator(level: str, **policy: object) -> Simulator:
    return Simulator(Evaluator(Policy(rules=[PolicyRule(level=level)], **policy)))  # type: ignore[arg-type]


def v1_events(corpus: Path) -> list[bytes]:
    """Real events kube-apiserver wrote in the v1 shape (no pre-v1 keys).

    Falco's are recordings. audit2rbac's are pre-v1; Elastic's samples are hand-edited (one
    has ``"apiGroup":""``, which Go's omitempty never writes), so neither can be byte-exact.
    """
    out = []
    paths = sorted((corpus / "upstream" / "falco").glob("*.json"))
    for path in paths:
        for line in path.read_bytes().splitlines():
            line = line.strip()
            if not line.startswith(b"{") or not line.endswith(b"}"):
                continue
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if (
                doc.get("apiVersion") == "audit.k8s.io/v1"
                and doc.get("kind") == "Event"
                and "timestamp" not in doc
                and "metadata" not in doc
                and "requestReceivedTimestamp" in doc
            ):
                out.append(line)
    return out


def test_real_events_at_their_own_level_come_out_byte_identical(corpus: Path) -> None:
    events = v1_events(corpus)
    assert len(events) >= 4  # the corpus events that are verbatim apiserver output
    for line in events:
        level = json.loads(line)["level"]
        out = simulator(level).simulate_raw(line)
        assert out.line == line, line[:200]


def test_levels_gate_bodies_and_none_drops() -> None:
    event = (
        b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"a",'
        b'"stage":"ResponseComplete","requestURI":"/api/v1/namespaces/d/configmaps","verb":"create",'
        b'"user":{"username":"u"},"objectRef":{"resource":"configmaps","namespace":"d","name":"c",'
        b'"apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},'
        b'"requestObject":{"kind":"ConfigMap","data":{"k":"a&b"}},'
        b'"responseObject":{"kind":"ConfigMap","data":{"k":"a&b"}},'
        b'"requestReceivedTimestamp":"2026-01-01T00:00:00.000000Z",'
        b'"stageTimestamp":"2026-01-01T00:00:00.001000Z"}'
    )
    assert simulator("None").simulate_raw(event).line is None
    meta = json.loads(simulator("Metadata").simulate_raw(event).line or b"")
    assert meta["level"] == "Metadata"
    assert "requestObject" not in meta
    assert "responseObject" not in meta
    request = simulator("Request").simulate_raw(event).line or b""
    assert b'"requestObject":{"kind":"ConfigMap","data":{"k":"a\\u0026b"}}' in request
    assert b"responseObject" not in request
    full = simulator("RequestResponse").simulate_raw(event).line or b""
    assert b'"responseObject":{"kind":"ConfigMap","data":{"k":"a\\u0026b"}}' in full


def test_omitted_stage_is_dropped() -> None:
    event = (
        b'{"level":"Metadata","stage":"RequestReceived","verb":"get","requestURI":"/api/v1/pods"}'
    )
    assert simulator("Metadata", omit_stages=["RequestReceived"]).simulate_raw(event).line is None
    line = simulator("Metadata").simulate_raw(event).line or b""
    # Go writes the always-present keys, timestamps as null when zero.
    assert line.startswith(
        b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"",'
        b'"stage":"RequestReceived","requestURI":"/api/v1/pods","verb":"get","user":{}'
    )
    assert line.endswith(b'"requestReceivedTimestamp":null,"stageTimestamp":null}')


def test_recording_lacking_bodies_is_flagged() -> None:
    event = (
        b'{"level":"Metadata","stage":"ResponseComplete","verb":"update",'
        b'"requestURI":"/api/v1/namespaces/d/pods/p"}'
    )
    out = simulator("Request").simulate_raw(event)
    assert out.lacking
    assert b"requestObject" not in (out.line or b"")
    watch = (
        b'{"level":"Metadata","stage":"ResponseComplete","verb":"watch",'
        b'"requestURI":"/api/v1/pods?watch=1"}'
    )
    assert not simulator("RequestResponse").simulate_raw(watch).lacking


def test_pre_v1_events_are_written_as_v1() -> None:
    event = (
        b'{"kind":"Event","apiVersion":"audit.k8s.io/v1beta1",'
        b'"metadata":{"creationTimestamp":"2017-09-11T19:55:05Z"},"timestamp":"2017-09-11T19:55:05Z",'
        b'"level":"Metadata","stage":"ResponseComplete","verb":"list","requestURI":"/api/v1/pods",'
        b'"user":{"username":"u"}}'
    )
    doc = json.loads(simulator("Metadata").simulate_raw(event).line or b"")
    assert doc["apiVersion"] == "audit.k8s.io/v1"
    assert doc["requestReceivedTimestamp"] == "2017-09-11T19:55:05Z"
    assert "timestamp" not in doc
    assert "metadata" not in doc


MF = {"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:data": {}}}


def body(obj: object) -> msgspec.Raw:
    return msgspec.Raw(json.dumps(obj, separators=(",", ":")).encode())


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            {"kind": "Pod", "metadata": {"name": "p", "managedFields": [MF]}, "spec": {}},
            {"kind": "Pod", "metadata": {"name": "p"}, "spec": {}},
        ),
        (
            {
                "kind": "PodList",
                "metadata": {},
                "items": [
                    {"metadata": {"name": "a", "managedFields": [MF]}},
                    {"metadata": {"name": "b"}},
                ],
            },
            {
                "kind": "PodList",
                "metadata": {},
                "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}],
            },
        ),
        (
            {
                "kind": "Table",
                "rows": [
                    {"cells": ["a"], "object": {"metadata": {"name": "a", "managedFields": [MF]}}}
                ],
            },
            {"kind": "Table", "rows": [{"cells": ["a"], "object": {"metadata": {"name": "a"}}}]},
        ),
        ({"kind": "Status", "code": 200}, {"kind": "Status", "code": 200}),
    ],
    ids=["object", "list-items", "table-rows", "no-metadata"],
)
def test_strip_managed_fields(obj: object, expected: object) -> None:
    assert json.loads(bytes(strip_managed_fields(body(obj)))) == expected


def test_managed_fields_stripped_from_objects_but_not_from_patches() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "p", "managedFields": [MF]}}
    create = {
        "level": "RequestResponse",
        "stage": "ResponseComplete",
        "verb": "create",
        "requestURI": "/api/v1/namespaces/d/pods",
        "requestObject": pod,
        "responseObject": pod,
    }
    patch = {
        **create,
        "verb": "patch",
        "requestURI": "/api/v1/namespaces/d/pods/p",
        "requestObject": {"metadata": {"managedFields": [MF]}},
    }
    sim = simulator("RequestResponse", omit_managed_fields=True)
    out = json.loads(sim.simulate_raw(json.dumps(create).encode()).line or b"")
    assert "managedFields" not in out["requestObject"]["metadata"]
    assert "managedFields" not in out["responseObject"]["metadata"]
    out = json.loads(sim.simulate_raw(json.dumps(patch).encode()).line or b"")
    assert out["requestObject"]["metadata"]["managedFields"] == [MF]  # the patch as sent
    assert "managedFields" not in out["responseObject"]["metadata"]
    kept = json.loads(
        simulator("RequestResponse").simulate_raw(json.dumps(create).encode()).line or b""
    )
    assert kept["requestObject"]["metadata"]["managedFields"] == [MF]


def test_go_escape() -> None:
    assert go_escape(b'{"a":"<x>&y"}') == b'{"a":"\\u003cx\\u003e\\u0026y"}'
    assert go_escape('{"a":"\u2028"}'.encode()) == b'{"a":"\\u2028"}'
    assert go_escape(b'{"a":"\\b\\\\b\\f"}') == b'{"a":"\\u0008\\\\b\\u000c"}'
    decoded = msgspec.json.decode(go_escape(msgspec.json.encode({"k": "\b<\f\\b"})))
    assert decoded == {"k": "\b<\f\\b"}


def test_event_fields_decode() -> None:
    assert msgspec.json.decode(b'{"verb":"get"}', type=Event).verb == "get"


# --- the fast path for lines kube-apiserver wrote --------------------------------------------

GO_PREFIX = b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"'


def as_apiserver_wrote(line: bytes) -> bytes:
    """``line`` re-encoded exactly as kube-apiserver writes it (the general path, log all)."""
    out = simulator("RequestResponse").simulate(msgspec.json.decode(line, type=Event)).line
    assert out is not None
    assert out.startswith(GO_PREFIX)
    return out


def crafted_lines() -> list[bytes]:
    pod = {"kind": "Pod", "metadata": {"name": "p", "managedFields": [MF]}, "spec": {}}
    pods = {"kind": "PodList", "metadata": {}, "items": [pod, pod]}
    base = {
        "level": "RequestResponse",
        "auditID": "x",
        "stage": "ResponseComplete",
        "user": {"username": "alice", "groups": ["dev", "system:authenticated"]},
        "sourceIPs": ["10.0.0.1"],
        "userAgent": "kubectl/v1.30 <linux> & more",
        "annotations": {"z": "1", "authorization.k8s.io/decision": "allow"},
        "responseStatus": {"metadata": {}, "code": 200},
        "requestReceivedTimestamp": "2026-01-01T00:00:00.000000Z",
        "stageTimestamp": "2026-01-01T00:00:00.100000Z",
    }
    shapes = [
        {
            "verb": "create",
            "requestURI": "/api/v1/namespaces/d/pods",
            "requestObject": pod,
            "responseObject": pod,
        },
        {
            "verb": "list",
            "requestURI": "/api/v1/pods?limit=500&labelSelector=a<b",
            "responseObject": pods,
        },
        {
            "verb": "patch",
            "requestURI": "/api/v1/namespaces/d/pods/p",
            "requestObject": {"metadata": {"managedFields": [MF]}},
            "responseObject": pod,
        },
        {"verb": "update", "requestURI": "/api/v1/namespaces/d/pods/p"},  # bodies not recorded
        {"verb": "watch", "requestURI": "/api/v1/pods?watch=1", "stage": "ResponseStarted"},
        # Control characters in decoded strings: msgspec writes \b, Go writes \u0008.
        {"verb": "get\b", "requestURI": "/api/v1/namespaces/d/pods/p", "user": {}},
        {
            "verb": "get",
            "requestURI": "/healthz",
            "stage": "RequestReceived",
            "impersonatedUser": {"username": "bob"},
        },
        {
            "verb": "get",
            "requestURI": "/api/v1/namespaces/kube-system/secrets/s",
            "user": {
                "username": "system:serviceaccount:kube-system:x",
                "uid": "u",
                "groups": ["system:serviceaccounts"],
                "extra": {"authentication.kubernetes.io/pod-name": ["p"]},
            },
        },
    ]
    return [as_apiserver_wrote(json.dumps({**base, **shape}).encode()) for shape in shapes]


POLICIES = {
    "None": Policy(rules=[PolicyRule(level="None")]),
    "Metadata-omit-received": Policy(
        rules=[PolicyRule(level="Metadata")],
        omit_stages=["RequestReceived"],
    ),
    "Request": Policy(rules=[PolicyRule(level="Request")]),
    "RequestResponse-omitManagedFields": Policy(
        rules=[PolicyRule(level="RequestResponse")],
        omit_managed_fields=True,
    ),
    "by-user-and-resource": Policy(
        rules=[
            PolicyRule(level="None", users=["system:serviceaccount:kube-system:x"]),
            PolicyRule(level="Request", verbs=["create", "patch"]),
            PolicyRule(level="RequestResponse", non_resource_urls=["/healthz"]),
            PolicyRule(level="Metadata", omit_stages=["ResponseStarted"]),
        ],
        omit_managed_fields=True,
    ),
}


def assert_fast_equals_general(policy: Policy, lines: list[bytes]) -> None:
    fast, general = Simulator(Evaluator(policy)), Simulator(Evaluator(policy))
    for line in lines:
        a = fast.simulate_raw(line)
        b = general.simulate(msgspec.json.decode(line, type=Event))
        assert (a.line, a.lacking, a.decision, a.attributes) == (
            b.line,
            b.lacking,
            b.decision,
            b.attributes,
        ), line[:300]
    assert fast.fast_lines == len(lines)  # every line took the fast path


@pytest.mark.parametrize("name", list(POLICIES))
def test_fast_path_equals_general_path_on_crafted_lines(name: str) -> None:
    assert_fast_equals_general(POLICIES[name], crafted_lines())


@pytest.mark.parametrize("name", list(POLICIES))
def test_fast_path_equals_general_path_on_generated_traffic(name: str) -> None:
    from datetime import UTC, datetime

    from kubetrail.sample.generate import generate

    lines = []
    for line in generate(nodes=2, seconds=600, seed=3, start=datetime(2026, 1, 1, tzinfo=UTC)):
        lines.append(line)
        if len(lines) == 3000:
            break
    assert_fast_equals_general(POLICIES[name], lines)


def test_fast_path_equals_general_path_on_real_events(corpus: Path) -> None:
    lines = v1_events(corpus)
    for policy in POLICIES.values():
        assert_fast_equals_general(policy, lines)


def test_lines_the_fast_path_cannot_take_go_the_general_way() -> None:
    line = crafted_lines()[0]
    null_time = line.replace(
        b'"requestReceivedTimestamp":"2026-01-01T00:00:00.000000Z"',
        b'"requestReceivedTimestamp":null',
    )
    no_uri = line.replace(b'"requestURI":"/api/v1/namespaces/d/pods"', b'"requestURI":""')
    bad_user = line.replace(b'"user":{"username":"alice"', b'"user":{"username":5')
    sim = simulator("Metadata")
    doc = json.loads(sim.simulate_raw(null_time).line or b"")
    assert doc["requestReceivedTimestamp"] == "2026-01-01T00:00:00.100000Z"  # stage time
    assert sim.simulate_raw(no_uri).line is not None
    with pytest.raises(msgspec.ValidationError, match="username"):
        sim.simulate_raw(bad_user)
    with pytest.raises(msgspec.DecodeError):
        sim.simulate_raw(GO_PREFIX + b'Metadata", truncated')
    assert sim.fast_lines == 1  # bad_user: the fast path decodes the user and names the error
