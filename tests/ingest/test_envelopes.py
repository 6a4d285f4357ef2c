"""kubetrail.ingest.envelopes: audit events out of GKE, AKS and EKS envelopes (spec §4)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pytest

from kubetrail.ingest.envelopes import (
    GRPC_TO_HTTP,
    Skipped,
    Unwrapped,
    parse_resource_name,
    unwrap,
)
from kubetrail.model.event import Event

AUDITLOG = "type.googleapis.com/google.cloud.audit.AuditLog"


def one(doc: object) -> Unwrapped:
    results = unwrap(doc)
    assert len(results) == 1, results
    result = results[0]
    assert isinstance(result, Unwrapped), result
    return result


def skipped(doc: object) -> str:
    results = unwrap(doc)
    assert len(results) == 1, results
    result = results[0]
    assert isinstance(result, Skipped), result
    return result.reason


def event(
    audit_id: str = "id-1", stage: str = "ResponseComplete", **extra: object
) -> dict[str, object]:
    return {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": audit_id,
        "stage": stage,
        "verb": "get",
        **extra,
    }


def gke(
    method: str,
    resource_name: str | None = None,
    *,
    payload: dict[str, object] | None = None,
    **entry: object,
) -> dict[str, object]:
    proto: dict[str, object] = {
        "@type": AUDITLOG,
        "serviceName": "k8s.io",
        "methodName": method,
        **(payload or {}),
    }
    if resource_name is not None:
        proto["resourceName"] = resource_name
    return {"protoPayload": proto, **entry}


# --------------------------------------------------------------------------------------------
# plain events


def test_plain_event_passes_through_untouched() -> None:
    doc = event()
    result = one(doc)
    assert result.event is doc
    assert (result.envelope, result.meta, result.dedup_key) == ("", {}, None)


def test_event_without_kind_is_recognised_by_audit_fields() -> None:
    assert one({"auditID": "x", "verb": "list"}).envelope == ""


def test_event_list_gives_one_result_per_item() -> None:
    doc = {"kind": "EventList", "items": [event("a"), event("b"), 7]}
    results = unwrap(doc)
    assert [r.event["auditID"] for r in results if isinstance(r, Unwrapped)] == ["a", "b"]
    assert isinstance(results[2], Skipped)
    assert "EventList item 2" in results[2].reason


@pytest.mark.parametrize(
    "doc",
    [None, 3, "text", [], {}, {"kind": 0}, {"foo": "bar"}, {"kind": "EventList", "items": []}],
)
def test_unrecognised_input_is_skipped_not_raised(doc: object) -> None:
    assert skipped(doc).startswith("not an audit event")


# --------------------------------------------------------------------------------------------
# GKE: resourceName grammar


@pytest.mark.parametrize(
    ("name", "ref", "uri"),
    [
        (
            "core/v1/namespaces/default/pods/web",
            {"resource": "pods", "namespace": "default", "name": "web", "apiVersion": "v1"},
            "/api/v1/namespaces/default/pods/web",
        ),
        (
            "core/v1/namespaces/default/pods/web/exec",
            {
                "resource": "pods",
                "namespace": "default",
                "name": "web",
                "apiVersion": "v1",
                "subresource": "exec",
            },
            "/api/v1/namespaces/default/pods/web/exec",
        ),
        (
            "apps/v1/namespaces/prod/deployments",
            {
                "resource": "deployments",
                "namespace": "prod",
                "apiGroup": "apps",
                "apiVersion": "v1",
            },
            "/apis/apps/v1/namespaces/prod/deployments",
        ),
        (
            "rbac.authorization.k8s.io/v1/clusterroles/admin",
            {
                "resource": "clusterroles",
                "name": "admin",
                "apiGroup": "rbac.authorization.k8s.io",
                "apiVersion": "v1",
            },
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin",
        ),
        # a namespace itself is cluster-scoped
        (
            "core/v1/namespaces/kube-system",
            {"resource": "namespaces", "name": "kube-system", "apiVersion": "v1"},
            "/api/v1/namespaces/kube-system",
        ),
        (
            "core/v1/namespaces",
            {"resource": "namespaces", "apiVersion": "v1"},
            "/api/v1/namespaces",
        ),
        # 5 parts ending in status/finalize: the namespace's own subresource
        (
            "core/v1/namespaces/team-a/status",
            {
                "resource": "namespaces",
                "name": "team-a",
                "apiVersion": "v1",
                "subresource": "status",
            },
            "/api/v1/namespaces/team-a/status",
        ),
        (
            "core/v1/namespaces/team-a/finalize",
            {
                "resource": "namespaces",
                "name": "team-a",
                "apiVersion": "v1",
                "subresource": "finalize",
            },
            "/api/v1/namespaces/team-a/finalize",
        ),
        # ...but a namespaced resource list is not
        (
            "core/v1/namespaces/team-a/secrets",
            {"resource": "secrets", "namespace": "team-a", "apiVersion": "v1"},
            "/api/v1/namespaces/team-a/secrets",
        ),
        # the subresource is one segment; deeper ones stay only in the URI
        (
            "core/v1/nodes/n1/proxy/metrics",
            {"resource": "nodes", "name": "n1", "apiVersion": "v1", "subresource": "proxy"},
            "/api/v1/nodes/n1/proxy/metrics",
        ),
        (
            "apps/v1/namespaces/prod/deployments/web/scale",
            {
                "resource": "deployments",
                "namespace": "prod",
                "name": "web",
                "apiGroup": "apps",
                "apiVersion": "v1",
                "subresource": "scale",
            },
            "/apis/apps/v1/namespaces/prod/deployments/web/scale",
        ),
    ],
)
def test_resource_name_grammar(name: str, ref: dict[str, object], uri: str) -> None:
    assert parse_resource_name(name) == (ref, uri)
    assert list(parse_resource_name(name)[0] or {}) == list(ref)  # audit key order


def test_core_group_has_no_api_group_key() -> None:
    ref, _ = parse_resource_name("core/v1/pods")
    assert ref is not None
    assert "apiGroup" not in ref


def test_unparseable_resource_name_gives_no_object_ref() -> None:
    assert parse_resource_name("readyz") == (None, "/readyz")


# --------------------------------------------------------------------------------------------
# GKE: the mapping table


def test_gke_full_mapping() -> None:
    doc = gke(
        "io.k8s.core.v1.pods.create",
        "core/v1/namespaces/default/pods/web",
        payload={
            "authenticationInfo": {"principalEmail": "alice@example.com"},
            "requestMetadata": {"callerIp": "10.1.2.3", "callerSuppliedUserAgent": "kubectl/1.30"},
            "request": {"@type": "core.k8s.io/v1.Pod", "kind": "Pod", "spec": {}},
            "status": {},
        },
        insertId="ins-1",
        operation={"id": "op-1", "producer": "k8s.io", "first": True, "last": True},
        timestamp="2025-07-13T08:38:39.127266Z",
        receiveTimestamp="2025-07-13T08:38:41.005864307Z",
        labels={"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""},
        logName="projects/p1/logs/cloudaudit.googleapis.com%2Factivity",
        resource={
            "type": "k8s_cluster",
            "labels": {"project_id": "p1", "location": "europe-west1", "cluster_name": "c1"},
        },
    )
    result = one(doc)
    assert result.envelope == "gke"
    assert result.dedup_key is None
    assert result.event == {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Request",
        "auditID": "op-1",
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/default/pods/web",
        "verb": "create",
        "user": {"username": "alice@example.com"},
        "sourceIPs": ["10.1.2.3"],
        "userAgent": "kubectl/1.30",
        "objectRef": {
            "resource": "pods",
            "namespace": "default",
            "name": "web",
            "apiVersion": "v1",
        },
        "responseStatus": {"metadata": {}, "code": 201},
        "requestObject": {"kind": "Pod", "spec": {}},
        "requestReceivedTimestamp": "2025-07-13T08:38:39.127266Z",
        "stageTimestamp": "2025-07-13T08:38:39.127266Z",
        "annotations": {
            "authorization.k8s.io/decision": "allow",
            "authorization.k8s.io/reason": "",
        },
    }
    assert result.meta == {
        "resource_type": "k8s_cluster",
        "project_id": "p1",
        "location": "europe-west1",
        "cluster_name": "c1",
        "logName": "projects/p1/logs/cloudaudit.googleapis.com%2Factivity",
        "log_type": "activity",
        "insertId": "ins-1",
        "receiveTimestamp": "2025-07-13T08:38:41.005864307Z",
        "inferred": ["level", "stage", "requestURI", "responseStatus"],
    }
    # receiveTimestamp is envelope-only and the result decodes as an audit Event
    assert "2025-07-13T08:38:41" not in json.dumps(result.event)
    decoded = msgspec.json.decode(msgspec.json.encode(result.event), type=Event)
    assert decoded.object_ref is not None
    assert decoded.object_ref.api_group == ""


def test_gke_invents_no_groups_uid_or_impersonation() -> None:
    doc = gke(
        "io.k8s.core.v1.pods.get",
        "core/v1/namespaces/a/pods/b",
        payload={"authenticationInfo": {"principalEmail": "bob"}},
    )
    ev = one(doc).event
    assert ev["user"] == {"username": "bob"}
    assert "impersonatedUser" not in ev
    assert "responseStatus" not in ev  # no status and no Status response: nothing to report


def test_gke_audit_id_falls_back_to_insert_id() -> None:
    assert one(gke("io.k8s.core.v1.pods.get", insertId="ins-9")).event["auditID"] == "ins-9"


def test_gke_accepts_at_sign_type_and_caller_ip_spelling() -> None:
    doc = gke(
        "io.k8s.core.v1.pods.list",
        "core/v1/pods",
        payload={"requestMetadata": {"callerIP": "1.2.3.4"}},
    )
    proto = doc["protoPayload"]
    assert isinstance(proto, dict)
    proto["at_sign_type"] = proto.pop("@type")
    ev = one(doc).event
    assert ev["sourceIPs"] == ["1.2.3.4"]
    assert ev["verb"] == "list"


@pytest.mark.parametrize(
    ("method", "verb"),
    [
        ("io.k8s.core.v1.pods.create", "create"),
        ("io.k8s.core.v1.pods.exec.create", "create"),
        ("io.k8s.apps.v1.deployments.scale.update", "update"),
        ("io.k8s.get", "get"),
    ],
)
def test_gke_verb_is_last_method_segment(method: str, verb: str) -> None:
    assert one(gke(method)).event["verb"] == verb


def test_gke_non_resource_request_from_three_segment_method() -> None:
    ev = one(gke("io.k8s.get", "readyz", payload={"status": {"code": 0}})).event
    assert ev["requestURI"] == "/readyz"
    assert "objectRef" not in ev
    assert ev["responseStatus"] == {"metadata": {}, "code": 200}


def test_gke_non_resource_path_is_not_read_as_a_resource_name() -> None:
    # three path segments would fit <group>/<version>/<resource>; the method says otherwise
    ev = one(gke("io.k8s.get", "openid/v1/jwks")).event
    assert ev["requestURI"] == "/openid/v1/jwks"
    assert "objectRef" not in ev


@pytest.mark.parametrize(
    ("method", "resource_name", "code"),
    [
        ("io.k8s.core.v1.pods.exec.create", "core/v1/namespaces/d/pods/p/exec", 101),
        ("io.k8s.core.v1.pods.attach.create", "core/v1/namespaces/d/pods/p/attach", 101),
        ("io.k8s.core.v1.pods.portforward.create", "core/v1/namespaces/d/pods/p/portforward", 101),
        ("io.k8s.core.v1.pods.exec.create", None, 101),  # subresource from methodName
        ("io.k8s.core.v1.pods.create", "core/v1/namespaces/d/pods/p", 201),
        ("io.k8s.core.v1.pods.get", "core/v1/namespaces/d/pods/p", 200),
        ("io.k8s.core.v1.pods.delete", "core/v1/namespaces/d/pods/p", 200),
    ],
)
def test_gke_grpc_ok_maps_by_verb_and_subresource(
    method: str, resource_name: str | None, code: int
) -> None:
    for status in ({"code": 0}, {}):  # proto3 JSON omits a zero code
        ev = one(gke(method, resource_name, payload={"status": status})).event
        assert ev["responseStatus"] == {"metadata": {}, "code": code}


@pytest.mark.parametrize(
    ("grpc", "http"),
    [
        (1, 499),
        (3, 400),
        (4, 504),
        (5, 404),
        (6, 409),
        (7, 403),
        (8, 429),
        (10, 409),
        (12, 501),
        (13, 500),
        (14, 503),
        (16, 401),
        (99, 500),  # not a google.rpc.Code: UNKNOWN
    ],
)
def test_gke_grpc_error_codes_map_to_http(grpc: int, http: int) -> None:
    doc = gke("io.k8s.core.v1.pods.create", payload={"status": {"code": grpc, "message": "m"}})
    result = one(doc)
    assert result.event["responseStatus"] == {"metadata": {}, "message": "m", "code": http}
    assert "responseStatus" in result.meta["inferred"]  # type: ignore[operator]


def test_grpc_table_matches_code_proto() -> None:
    assert GRPC_TO_HTTP == {
        0: 200,
        1: 499,
        2: 500,
        3: 400,
        4: 504,
        5: 404,
        6: 409,
        7: 403,
        8: 429,
        9: 400,
        10: 409,
        11: 400,
        12: 501,
        13: 500,
        14: 503,
        15: 500,
        16: 401,
    }


def test_gke_status_response_wins_over_grpc_code() -> None:
    response = {
        "@type": "core.k8s.io/v1.Status",
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": 'pods "p" already exists',
        "reason": "AlreadyExists",
        "details": {"name": "p", "kind": "pods"},
        "code": 409,
    }
    doc = gke(
        "io.k8s.core.v1.pods.create",
        "core/v1/namespaces/d/pods/p",
        payload={"status": {"code": 6}, "response": response},
    )
    result = one(doc)
    assert result.event["responseStatus"] == {
        "metadata": {},
        "status": "Failure",
        "message": 'pods "p" already exists',
        "reason": "AlreadyExists",
        "details": {"name": "p", "kind": "pods"},
        "code": 409,
    }
    assert "responseStatus" not in result.meta["inferred"]  # type: ignore[operator]
    assert result.event["level"] == "RequestResponse"
    assert result.event["responseObject"] == {k: v for k, v in response.items() if k != "@type"}


def test_gke_status_422_survives_where_grpc_would_say_400() -> None:
    response = {"kind": "Status", "status": "Failure", "reason": "Invalid", "code": 422}
    doc = gke("io.k8s.core.v1.pods.create", payload={"status": {"code": 3}, "response": response})
    assert one(doc).event["responseStatus"] == {
        "metadata": {},
        "status": "Failure",
        "reason": "Invalid",
        "code": 422,
    }


@pytest.mark.parametrize(
    ("body", "level"),
    [
        ({"request": {"a": 1}, "response": {"b": 2}}, "RequestResponse"),
        ({"response": {"b": 2}}, "RequestResponse"),
        ({"request": {"a": 1}}, "Request"),
        ({}, "Metadata"),
    ],
)
def test_gke_level_inference(body: dict[str, object], level: str) -> None:
    assert one(gke("io.k8s.core.v1.pods.get", payload=body)).event["level"] == level


@pytest.mark.parametrize(
    ("operation", "stage"),
    [
        ({"first": True, "last": False}, "ResponseStarted"),
        ({"first": True}, "ResponseStarted"),
        ({"first": True, "last": True}, "ResponseComplete"),
        ({"last": True}, "ResponseComplete"),
        ({"producer": "k8s.io"}, "ResponseComplete"),
        (None, "ResponseComplete"),
    ],
)
def test_gke_stage_inference(operation: dict[str, object] | None, stage: str) -> None:
    doc = gke("io.k8s.core.v1.pods.get")
    if operation is not None:
        doc["operation"] = {"id": "x", **operation}
    assert one(doc).event["stage"] == stage


def test_gke_other_services_and_payload_types_are_skipped() -> None:
    doc = gke("google.container.v1.ClusterManager.CreateCluster")
    proto = doc["protoPayload"]
    assert isinstance(proto, dict)
    proto["serviceName"] = "container.googleapis.com"
    assert "container.googleapis.com" in skipped(doc)
    proto["serviceName"] = "k8s.io"
    proto["@type"] = "type.googleapis.com/google.cloud.audit.Other"
    assert "is not AuditLog" in skipped(doc)


# --------------------------------------------------------------------------------------------
# AKS


def aks(log: object, category: str = "kube-audit", **extra: object) -> dict[str, object]:
    return {
        "category": category,
        "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
        "properties": {"log": log, "pod": "kube-apiserver-1", "stream": "stdout"},
        "resourceId": "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/"
        "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PROD-AKS",
        "time": "2025-10-07T16:19:19.647880072Z",
        **extra,
    }


def test_aks_string_log() -> None:
    inner = event("a1", "ResponseComplete")
    result = one(aks(json.dumps(inner)))
    assert result.envelope == "aks"
    assert result.event == inner
    assert result.dedup_key == "a1/ResponseComplete"
    assert result.meta == {
        "category": "kube-audit",
        "time": "2025-10-07T16:19:19.647880072Z",
        "resourceId": "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/"
        "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PROD-AKS",
        "cluster_name": "PROD-AKS",
        "pod": "kube-apiserver-1",
    }


def test_aks_object_log() -> None:
    inner = event("a2")
    result = one(aks(inner, "kube-audit-admin"))
    assert result.event == inner
    assert result.meta["category"] == "kube-audit-admin"


def test_aks_both_categories_share_the_dedup_key() -> None:
    full = one(aks(json.dumps(event("dup", "ResponseComplete"))))
    admin = one(aks(event("dup", "ResponseComplete"), "kube-audit-admin"))
    started = one(aks(event("dup", "ResponseStarted")))
    assert full.dedup_key == admin.dedup_key == "dup/ResponseComplete"
    assert started.dedup_key == "dup/ResponseStarted"


@pytest.mark.parametrize(
    "category",
    ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "guard", "Administrative"],
)
def test_aks_non_audit_category_is_skipped(category: str) -> None:
    log = 'I1007 16:19:19.647880       1 controller.go:12] "msg"'
    assert skipped(aks(log, category)) == f"AKS category {category} is not audit"


def test_aks_bad_json_log_is_skipped() -> None:
    assert skipped(aks('{"kind":"Event",')).startswith("AKS kube-audit log is not JSON")


def test_aks_too_big_bodies_are_dropped_and_flagged() -> None:
    inner = event(
        "big",
        requestObject="skipped-too-big-size-object",
        responseObject="skipped-too-big-size-object",
    )
    result = one(aks(json.dumps(inner)))
    assert "requestObject" not in result.event
    assert "responseObject" not in result.event
    assert result.meta["skipped_too_big"] == ["requestObject", "responseObject"]
    kept = one(aks(event("ok", requestObject={"kind": "Pod"})))
    assert kept.event["requestObject"] == {"kind": "Pod"}
    assert "skipped_too_big" not in kept.meta


def test_event_hub_records_batch() -> None:
    body = {
        "records": [
            aks(json.dumps(event("r1"))),
            aks("I1007 klog text", "kube-apiserver"),
            aks(event("r2"), "kube-audit-admin"),
        ]
    }
    results = unwrap(body)
    assert [type(r) for r in results] == [Unwrapped, Skipped, Unwrapped]
    assert [r.event["auditID"] for r in results if isinstance(r, Unwrapped)] == ["r1", "r2"]


def test_azure_diagnostics_log_s_row() -> None:
    row = {"Category": "kube-audit", "log_s": json.dumps(event("d1")), "TimeGenerated": "t"}
    result = one(row)
    assert result.event["auditID"] == "d1"
    assert result.meta == {"category": "kube-audit", "TimeGenerated": "t"}


def test_aks_resource_specific_table_row() -> None:
    row = {
        "Type": "AKSAuditAdmin",
        "AuditId": "t1",
        "Level": "Request",
        "Stage": "ResponseComplete",
        "RequestUri": "/api/v1/namespaces/d/pods",
        "Verb": "create",
        "User": '{"username":"u","groups":["g"]}',
        "SourceIps": ["1.1.1.1"],
        "ObjectRef": {"resource": "pods", "namespace": "d"},
        "RequestObject": "skipped-too-big-size-object",
        "RequestReceivedTime": "2025-01-01T00:00:00.000001Z",
        "StageReceivedTime": "2025-01-01T00:00:00.000002Z",
        "PodName": "kube-apiserver-x",
    }
    result = one(row)
    assert result.event == {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Request",
        "auditID": "t1",
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/d/pods",
        "verb": "create",
        "user": {"username": "u", "groups": ["g"]},
        "sourceIPs": ["1.1.1.1"],
        "objectRef": {"resource": "pods", "namespace": "d"},
        "requestReceivedTimestamp": "2025-01-01T00:00:00.000001Z",
        "stageTimestamp": "2025-01-01T00:00:00.000002Z",
    }
    assert result.meta == {
        "category": "AKSAuditAdmin",
        "PodName": "kube-apiserver-x",
        "skipped_too_big": ["requestObject"],
    }
    assert result.dedup_key == "t1/ResponseComplete"


# --------------------------------------------------------------------------------------------
# EKS


def test_cloudwatch_get_log_events_event() -> None:
    inner = event("e1", user={"username": "arn:aws:iam::1:role/x", "extra": {"arn": ["a"]}})
    doc = {
        "logStreamName": "kube-apiserver-audit-abc",
        "timestamp": 1700000000000,
        "message": json.dumps(inner),
        "ingestionTime": 1700000001000,
        "eventId": "3782",
    }
    result = one(doc)
    assert result.envelope == "eks"
    assert result.event == inner  # user.extra kept: the only link to the IAM principal
    assert result.dedup_key == "3782"
    assert result.meta == {
        "logStream": "kube-apiserver-audit-abc",
        "eventId": "3782",
        "timestamp": 1700000000000,
        "ingestionTime": 1700000001000,
    }


def test_cloudwatch_subscription_data_message() -> None:
    doc = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/aws/eks/prod/cluster",
        "logStream": "kube-apiserver-audit-abc",
        "subscriptionFilters": ["f"],
        "logEvents": [
            {"id": "1", "timestamp": 1, "message": json.dumps(event("s1"))},
            {"id": "2", "timestamp": 2, "message": json.dumps(event("s2"))},
        ],
    }
    results = unwrap(doc)
    assert all(isinstance(r, Unwrapped) for r in results)
    got = [(r.event["auditID"], r.dedup_key, r.meta) for r in results if isinstance(r, Unwrapped)]
    base = {"owner": "123456789012", "logGroup": "/aws/eks/prod/cluster"}
    stream = {"logStream": "kube-apiserver-audit-abc"}
    assert got == [
        ("s1", "1", {**base, **stream, "eventId": "1", "timestamp": 1}),
        ("s2", "2", {**base, **stream, "eventId": "2", "timestamp": 2}),
    ]


def test_cloudwatch_control_message_is_skipped() -> None:
    doc = {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [{"id": "", "timestamp": 1, "message": "CWL CONTROL MESSAGE: Checking"}],
    }
    assert skipped(doc) == "CloudWatch CONTROL_MESSAGE"


def test_eks_truncated_message_is_skipped_with_audit_id() -> None:
    message = (
        '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse",'
        '"auditID":"4d1c9d6e-8f1e-4f8a-9c1b-2a3b4c5d6e7f","stage":"ResponseComplete",'
        '"requestObject":{"kind":"ConfigMap","data":{"a":"xxxxxxxx[Truncated...]'
    )
    doc = {"eventId": "9", "timestamp": 1, "message": message}
    assert skipped(doc) == (
        "EKS message truncated ([Truncated...]) auditID=4d1c9d6e-8f1e-4f8a-9c1b-2a3b4c5d6e7f"
    )


def test_eks_message_with_event_list() -> None:
    message = json.dumps({"kind": "EventList", "items": [event("l1"), event("l2")]})
    results = unwrap({"eventId": "77", "message": message, "timestamp": 5})
    assert [(r.event["auditID"], r.dedup_key) for r in results if isinstance(r, Unwrapped)] == [
        ("l1", "77#0"),
        ("l2", "77#1"),
    ]


def test_eks_klog_stream_is_skipped() -> None:
    doc = {
        "logStreamName": "kube-apiserver-abc",
        "eventId": "1",
        "timestamp": 1,
        "message": "I0101 00:00:00.000000      10 trace.go:205] Trace",
    }
    assert "(log stream kube-apiserver-abc)" in skipped(doc)


def test_logs_insights_row() -> None:
    row = {
        "@timestamp": "2025-01-01 00:00:00.000",
        "@logStream": "kube-apiserver-audit-x",
        "@message": json.dumps(event("q1")),
    }
    result = one(row)
    assert result.event["auditID"] == "q1"
    assert result.meta == {
        "logStream": "kube-apiserver-audit-x",
        "timestamp": "2025-01-01 00:00:00.000",
    }
    assert result.dedup_key is None


def test_logs_insights_field_value_row() -> None:
    row = [
        {"field": "@timestamp", "value": "2025-01-01 00:00:00.000"},
        {"field": "@message", "value": json.dumps(event("q2"))},
        {"field": "@ptr", "value": "abc"},
    ]
    assert one(row).event["auditID"] == "q2"


def test_get_log_events_response() -> None:
    doc = {
        "events": [{"eventId": "1", "timestamp": 1, "message": json.dumps(event("g1"))}],
        "nextForwardToken": "f/1",
        "nextBackwardToken": "b/1",
    }
    assert one(doc).event["auditID"] == "g1"


# --------------------------------------------------------------------------------------------
# the real samples


def corpus_lines(corpus: Path, name: str) -> list[dict[str, object]]:
    path = corpus / "upstream" / name
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_elastic_samples(corpus: Path) -> None:
    docs = corpus_lines(corpus, "elastic-integrations/test-audit.log")
    results = [r for doc in docs for r in unwrap(doc)]
    assert all(isinstance(r, Unwrapped) for r in results)
    assert [r.envelope for r in results if isinstance(r, Unwrapped)] == ["", "", "", "gke", "aks"]

    gke_result = results[3]
    assert isinstance(gke_result, Unwrapped)
    ev = gke_result.event
    assert ev["auditID"] == "1234abcd"  # operation.id
    assert ev["verb"] == "get"
    assert ev["requestURI"] == "/readyz"
    assert "objectRef" not in ev
    assert ev["user"] == {"username": "system:gke-master-healthcheck"}
    assert ev["sourceIPs"] == ["67.43.156.1"]
    assert ev["userAgent"] == "gke-master-healthcheck"
    assert ev["responseStatus"] == {"metadata": {}, "code": 200}
    assert ev["level"] == "Metadata"
    assert ev["stage"] == "ResponseComplete"
    # both audit times from LogEntry.timestamp, never from receiveTimestamp
    assert ev["requestReceivedTimestamp"] == ev["stageTimestamp"] == "2025-07-13T08:38:39.127266Z"
    assert ev["annotations"] == docs[3]["labels"]
    assert gke_result.meta["cluster_name"] == "test-cluster"
    assert gke_result.meta["project_id"] == "elastic-siem"
    assert gke_result.meta["location"] == "us-central1"
    assert gke_result.meta["log_type"] == "data_access"
    assert gke_result.meta["receiveTimestamp"] == "2025-07-13T08:38:41.005864307Z"

    aks_result = results[4]
    assert isinstance(aks_result, Unwrapped)
    properties = docs[4]["properties"]
    assert isinstance(properties, dict)
    assert aks_result.event == properties["log"]  # object-form log
    assert aks_result.meta["category"] == "kube-audit-admin"
    assert aks_result.meta["cluster_name"] == "TEST-AKS"
    assert aks_result.meta["time"] == "2025-09-30T06:23:35.101355367Z"
    assert aks_result.dedup_key == "abcde12345/ResponseComplete"


def test_elastic_aks_string_log(corpus: Path) -> None:
    (doc,) = corpus_lines(corpus, "elastic-integrations/test-kube-audit.log")
    result = one(doc)
    assert result.envelope == "aks"
    assert result.event["auditID"] == "ad26f7bc-f1c6-4097-90f1-e0924e12f257"
    assert result.event["verb"] == "update"
    assert result.meta["category"] == "kube-audit"
    assert result.meta["cluster_name"] == "TEST-CLUSTER"
    decoded = msgspec.json.decode(msgspec.json.encode(result.event), type=Event)
    assert decoded.stage_timestamp == "2025-10-07T16:19:19.647762Z"


def panther(corpus: Path) -> list[dict[str, object]]:
    return corpus_lines(corpus, "panther-analysis/panther_k8s_rule_tests.jsonl")


def test_panther_samples_unwrap_by_log_type(corpus: Path) -> None:
    counts: Counter[tuple[object, str]] = Counter()
    for record in panther(corpus):
        for result in unwrap(record["log"]):
            kind = "skipped" if isinstance(result, Skipped) else result.envelope
            counts[record["p_log_type"], kind] += 1
    assert counts == {
        ("Amazon.EKS.Audit", ""): 182,  # already-unwrapped audit events
        (None, ""): 6,
        ("Azure.MonitorActivity", "aks"): 34,
        ("Azure.MonitorActivity", "skipped"): 1,  # an Azure activity log, category Administrative
        ("GCP.AuditLog", "gke"): 33,
        ("GCP.AuditLog", "skipped"): 1,  # serviceName compute.googleapis.com
    }


def panther_gke(corpus: Path) -> dict[str, dict[str, Any]]:
    """Panther GKE test name → the mapped Event (bodies left out)."""
    mapped: dict[str, dict[str, Any]] = {}
    for record in panther(corpus):
        if record["p_log_type"] != "GCP.AuditLog":
            continue
        for result in unwrap(record["log"]):
            if isinstance(result, Unwrapped):
                mapped[str(record["test_name"])] = dict(result.event)
    return mapped


def test_panther_gke_failed_secret_get(corpus: Path) -> None:
    ev = panther_gke(corpus)["GKE failed secret get"]
    assert {k: v for k, v in ev.items() if k != "requestObject"} == {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/production/secrets/tls-cert",
        "verb": "get",
        "user": {"username": "user@company.com"},
        "sourceIPs": ["8.8.8.8"],
        "objectRef": {
            "resource": "secrets",
            "namespace": "production",
            "name": "tls-cert",
            "apiVersion": "v1",
        },
        "responseStatus": {"metadata": {}, "message": "PERMISSION_DENIED", "code": 403},
    }


def test_panther_gke_exec_and_cluster_wide_list(corpus: Path) -> None:
    mapped = panther_gke(corpus)
    ev = mapped["GCP GKE Exec Into Pod"]
    assert ev["verb"] == "create"
    assert ev["requestURI"] == "/api/v1/namespaces/default/pods/nginx-pod/exec"
    assert ev["objectRef"] == {
        "resource": "pods",
        "namespace": "default",
        "name": "nginx-pod",
        "apiVersion": "v1",
        "subresource": "exec",
    }
    assert "responseStatus" not in ev  # the sample has no status: nothing is invented
    ev = mapped["GKE cluster-wide secret list"]
    assert ev["requestURI"] == "/api/v1/secrets"
    assert ev["objectRef"] == {"resource": "secrets", "apiVersion": "v1"}
    ev = mapped["GKE system Role patched"]
    assert ev["objectRef"] == {
        "resource": "roles",
        "namespace": "kube-system",
        "name": "system:controller",
        "apiGroup": "rbac.authorization.k8s.io",
        "apiVersion": "v1",
    }
    assert ev["requestURI"] == (
        "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/roles/system:controller"
    )


def test_panther_gke_at_sign_type_sample(corpus: Path) -> None:
    ev = panther_gke(corpus)["GCP GKE Privileged Pod Created"]
    # at_sign_type spelling, a Pod (not Status) response and status {} on a create → 201
    assert ev["level"] == "RequestResponse"
    assert ev["responseStatus"] == {"metadata": {}, "code": 201}
    assert "@type" not in ev["responseObject"]
    assert ev["responseObject"]["spec"]["containers"][0]["securityContext"] == {"privileged": True}
    assert ev["requestReceivedTimestamp"] == ev["stageTimestamp"] == "2024-02-13 12:45:06.073"


def test_panther_gke_health_checks(corpus: Path) -> None:
    mapped = panther_gke(corpus)
    ev = mapped["GKE system:anonymous Health Check (Excluded - Anonymous)"]
    assert ev["requestURI"] == "/readyz"  # "/readyz" resourceName, 3-segment io.k8s.readyz
    assert "objectRef" not in ev
    assert ev["responseStatus"] == {"metadata": {}, "code": 200}
    ev = mapped["Google Load Balancer Health Check (excluded)"]
    assert "requestURI" not in ev  # no resourceName: no URI or objectRef is made up
    assert "objectRef" not in ev
    assert ev["verb"] == "list"
    for name, ev in mapped.items():
        ref = ev.get("objectRef")
        assert ref is None or ref.get("apiGroup") != "core", name


def test_panther_aks_samples_decode_as_events(corpus: Path) -> None:
    for record in panther(corpus):
        if record["p_log_type"] != "Azure.MonitorActivity":
            continue
        for result in unwrap(record["log"]):
            if isinstance(result, Unwrapped):
                properties = record["log"]["properties"]  # type: ignore[index]
                assert result.event == json.loads(properties["log"])
                msgspec.json.decode(msgspec.json.encode(result.event), type=Event)


def test_falco_samples_are_plain_events(corpus: Path) -> None:
    folder = corpus / "upstream" / "falco"
    seen = 0
    for path in sorted(folder.glob("*.json")):
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            doc = json.loads(line)
            results = unwrap(doc)
            if path.name == "fal_01_003.json":  # deliberately malformed {"kind": 0}
                assert [type(r) for r in results] == [Skipped]
                continue
            assert all(isinstance(r, Unwrapped) and r.envelope == "" for r in results), path
            seen += len(results)
    assert seen > 40
