"""Sentences: pinned for real corpus events (Falco, audit2rbac) and for crafted rows that
cover every verb, the subresources that matter, impersonation, denials and body facts."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest

from kubetrail.ingest.pipeline import Ingestor
from kubetrail.ingest.read import ReadReport, expand_paths, read_lines
from kubetrail.lake.engine import DuckDBEngine, records
from kubetrail.lake.store import Lake
from kubetrail.query.sentences import body_facts, sentence, singular

# (corpus file, audit ID) -> the sentence. Every one was read against its event by hand.
PINNED = {
    ("falco/exec_pod.json", "ca1ed9f4-7bf4-4c85-81a8-1b11253d1ba6"): (
        "2018-10-26 13:38:34Z minikube-user (system:masters) ran `bash` in pod "
        "default/nginx-deployment-7998647bdf-phvq7 (container nginx1) from 192.168.99.1 — allowed"
    ),
    ("falco/attach_pod.json", "14933b4e-7b09-4964-af09-b7987367e1ba"): (
        "2018-10-26 13:42:46Z minikube-user (system:masters) attached to pod "
        "default/nginx-deployment-7998647bdf-phvq7 (container nginx1) from 192.168.99.1 — allowed"
    ),
    ("falco/create_nginx_pod_privileged.json", "a362d22b-db3c-4590-9505-23782f12925f"): (
        "2018-10-25 14:09:12Z system:serviceaccount:kube-system:replicaset-controller created pod "
        "default/nginx-deployment-5cdcc99dbf-rgw6z [privileged] from ::1 — allowed by "
        "ClusterRoleBinding system:controller:replicaset-controller"
    ),
    ("falco/create_nginx_pod_hostnetwork.json", "24142dcc-7ad8-4fb8-8d3b-106ea474759d"): (
        "2018-10-26 09:09:28Z system:serviceaccount:kube-system:replicaset-controller created pod "
        "default/nginx-deployment-754c877bcd-zh5qx [hostNetwork] from ::1 — allowed by "
        "ClusterRoleBinding system:controller:replicaset-controller"
    ),
    ("falco/create_nginx_pod_sensitive_mount.json", "e456c9cf-9abe-4fa1-8526-e014da96821b"): (
        "2018-10-25 17:36:11Z system:serviceaccount:kube-system:replicaset-controller created pod "
        "default/nginx-deployment-7d5b5dd9cf-t8ngb [hostPath /etc] from ::1 — allowed by "
        "ClusterRoleBinding system:controller:replicaset-controller"
    ),
    ("falco/attach_cluster_admin_role.json", "c97244c7-4aec-4714-946a-8204d00ecdca"): (
        "2018-10-26 14:26:34Z minikube-user (system:masters) created clusterrolebinding "
        "some-reader-binding [ClusterRole cluster-admin to User minikube] from 192.168.99.1 "
        "— allowed"
    ),
    ("falco/create_cluster_role_wildcard_verbs.json", "0dc97dd4-aa34-4071-b8cc-e1a1036c9ae9"): (
        "2018-10-26 14:24:52Z minikube-user (system:masters) created clusterrole some-reader "
        "[2 rule(s), wildcards: verbs *] from 192.168.99.1 — allowed"
    ),
    ("falco/create_cluster_role_pod_exec.json", "412a7809-4016-4228-a670-182be4bd18ec"): (
        "2018-10-26 14:35:50Z minikube-user (system:masters) created clusterrole some-reader "
        "[2 rule(s), on pods/exec] from 192.168.99.1 — allowed"
    ),
    ("falco/create_nginx_service_nodeport.json", "ceba9ec7-50b5-4bde-8b27-5909df9b35c9"): (
        "2018-10-26 09:31:36Z minikube-user (system:masters) created service default/nginx "
        "[NodePort] from 192.168.99.1 — allowed"
    ),
    (
        "falco/anonymous_creates_namespace_foo.json",
        None,
    ): "anonymous (system:anonymous) created namespace foo",
    ("falco/delete_secret.json", "d1df3fa9-497f-49cf-bd48-60a651df8075"): (
        "2020-04-21 17:58:49Z minikube-user (system:masters) deleted secret "
        "default/example-secret from 192.168.64.1 using kubectl/v1.17.3 — allowed"
    ),
    ("audit2rbac/demo.log", "4b814005-0bfa-4756-bf3e-3750de5b8769"): (
        "2017-09-11 20:29:04Z system:admin (system:masters) acting as alice listed secrets in "
        'namespace ns1 from ::1 — DENIED (403): secrets is forbidden: User "alice" cannot list '
        'secrets in the namespace "ns1"'
    ),
}


@pytest.fixture(scope="module")
def corpus_rows(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    lake = Lake(tmp_path_factory.mktemp("sentences") / "lake", create=True)
    ing = Ingestor(lake, "corpus")
    files = expand_paths(
        [str(corpus / "upstream" / "falco"), str(corpus / "upstream" / "audit2rbac")]
    )
    for line in read_lines(files, ReadReport()):
        with contextlib.suppress(ValueError):  # LICENSE files and the like
            ing.add(line.data, f"{line.source}:{line.number}")
    ing.close()
    engine = DuckDBEngine(lake)
    rows = records(engine.query("SELECT * FROM events"))
    engine.close()
    return rows


@pytest.mark.parametrize(("where", "expected"), list(PINNED.items()), ids=[k[0] for k in PINNED])
def test_corpus_sentences(
    corpus_rows: list[dict[str, Any]], where: tuple[str, str | None], expected: str
) -> None:
    path, audit_id = where
    rows = [
        r
        for r in corpus_rows
        if str(r["source"]).split(":")[0].endswith(path)
        and (audit_id is None or r["audit_id"] == audit_id)
    ]
    assert rows, f"no event of {path} {audit_id}"
    said = {sentence(r) for r in rows}
    if audit_id is None:
        assert any(expected in s for s in said), said
    else:
        assert said == {expected}


def test_every_corpus_event_reads_as_one_line(corpus_rows: list[dict[str, Any]]) -> None:
    for row in corpus_rows:
        text = sentence(row)
        assert "\n" not in text
        assert text[:4].isdigit()
        assert "None" not in text, text


def row(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "received_at": "2026-11-26T10:15:00.123456Z",
        "user_name": "alice",
        "user_groups": ["system:authenticated", "dev"],
        "verb": "get",
        "object_resource": "pods",
        "object_namespace": "default",
        "object_name": "web",
        "source_ips": ["10.0.0.1", "10.0.0.2"],
        "user_agent": "kubectl/v1.30.0 (linux/amd64) kubernetes/abc",
        "response_code": 200,
        "authz_decision": "allow",
        "authz_reason": 'RBAC: allowed by RoleBinding "devs/default" of Role "edit" to Group "dev"',
    }
    base.update(kw)
    return base


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {},
            "alice (dev) read pod default/web from 10.0.0.1 using kubectl/v1.30.0 "
            "— allowed by RoleBinding devs/default",
        ),
        ({"verb": "list", "object_name": None}, "alice (dev) listed pods in namespace default"),
        (
            {"verb": "list", "object_name": None, "object_namespace": None},
            "listed pods in all namespaces",
        ),
        (
            {
                "verb": "list",
                "object_resource": "nodes",
                "object_name": None,
                "object_namespace": None,
            },
            "listed nodes from",
        ),
        ({"verb": "watch", "object_name": None}, "watched pods in namespace default"),
        ({"verb": "update"}, "updated pod default/web"),
        ({"verb": "patch"}, "patched pod default/web"),
        ({"verb": "delete"}, "deleted pod default/web"),
        (
            {"verb": "deletecollection", "object_name": None},
            "deleted every pods in namespace default",
        ),
        (
            {
                "verb": "create",
                "object_subresource": "exec",
                "request_uri": "/api/v1/namespaces/default/pods/web/exec"
                "?command=cat&command=%2Fetc%2Fshadow&container=app&stdin=true",
            },
            "ran `cat /etc/shadow` in pod default/web (container app)",
        ),
        (
            {
                "verb": "get",
                "object_subresource": "exec",
                "request_uri": "/api/v1/namespaces/default/pods/web/exec?command=sh",
            },
            "ran `sh` in pod default/web",
        ),
        (
            {
                "object_subresource": "log",
                "request_uri": "/api/v1/namespaces/default/pods/web/log?container=app",
            },
            "read the logs of pod default/web (container app)",
        ),
        (
            {
                "verb": "create",
                "object_subresource": "portforward",
                "request_uri": "/api/v1/namespaces/default/pods/web/portforward?ports=5432",
            },
            "port-forwarded to pod default/web (ports 5432)",
        ),
        (
            {
                "object_resource": "nodes",
                "object_namespace": None,
                "object_name": "n1",
                "object_subresource": "proxy",
            },
            "proxied to node n1",
        ),
        (
            {
                "verb": "create",
                "object_resource": "serviceaccounts",
                "object_name": "ci",
                "object_subresource": "token",
            },
            "requested a token for service account default/ci",
        ),
        ({"verb": "create", "object_subresource": "eviction"}, "evicted pod default/web"),
        (
            {
                "verb": "patch",
                "object_subresource": "ephemeralcontainers",
                "request_object": json.dumps(
                    {
                        "spec": {
                            "ephemeralContainers": [
                                {"name": "dbg", "securityContext": {"privileged": True}}
                            ]
                        }
                    }
                ),
            },
            "added an ephemeral container to pod default/web [privileged]",
        ),
        (
            {
                "verb": "update",
                "object_resource": "certificatesigningrequests",
                "object_api_group": "certificates.k8s.io",
                "object_namespace": None,
                "object_name": "csr-1",
                "object_subresource": "approval",
                "request_object": json.dumps({"status": {"conditions": [{"type": "Approved"}]}}),
            },
            "approved certificate signing request csr-1",
        ),
        (
            {
                "verb": "update",
                "object_resource": "deployments",
                "object_api_group": "apps",
                "object_subresource": "scale",
                "request_object": json.dumps({"spec": {"replicas": 0}}),
            },
            "scaled deployment.apps default/web [to 0 replicas]",
        ),
        (
            {
                "verb": "update",
                "object_resource": "nodes",
                "object_namespace": None,
                "object_name": "n1",
                "object_subresource": "status",
            },
            "updated the status of node n1",
        ),
        (
            {"impersonated_name": "bob", "impersonated_groups": ["system:masters"]},
            "alice (dev) acting as bob (system:masters) read pod",
        ),
        ({"response_code": 403, "authz_decision": "forbid", "authz_reason": ""}, "— DENIED (403)"),
        (
            {"response_code": 401, "user_name": None, "user_groups": None, "authz_decision": None},
            "someone read pod default/web from 10.0.0.1 using kubectl/v1.30.0 "
            "— failed to authenticate (401)",
        ),
        (
            {"user_name": "system:anonymous", "user_groups": ["system:unauthenticated"]},
            "anonymous (system:anonymous) read pod",
        ),
        ({"response_code": 404, "response_reason": "NotFound"}, "— failed (404 NotFound)"),
        (
            {
                "object_resource": None,
                "object_namespace": None,
                "object_name": None,
                "request_uri": "/healthz?verbose",
            },
            "alice (dev) requested GET /healthz from",
        ),
        (
            {
                "user_name": "system:serviceaccount:ci:runner",
                "user_groups": [
                    "system:serviceaccounts",
                    "system:serviceaccounts:ci",
                    "system:authenticated",
                ],
            },
            "2026-11-26 10:15:00Z system:serviceaccount:ci:runner read pod",
        ),
        (
            {
                "verb": "create",
                "object_name": None,
                "response_object": json.dumps({"metadata": {"name": "web-abc12"}}),
            },
            "created pod default/web-abc12",
        ),
        (
            {
                "verb": "create",
                "object_name": None,
                "request_object": json.dumps({"metadata": {"generateName": "web-"}}),
            },
            "created pod default/web-…",
        ),
    ],
)
def test_sentence_parts(changes: dict[str, Any], expected: str) -> None:
    assert expected in sentence(row(**changes))


def test_pod_body_facts_in_every_controller_shape() -> None:
    pod = {
        "hostPID": True,
        "hostIPC": True,
        "containers": [
            {"name": "a", "securityContext": {"capabilities": {"add": ["SYS_ADMIN", "NET_RAW"]}}},
            {"name": "b", "ports": [{"containerPort": 80, "hostPort": 80}]},
        ],
        "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
    }
    expected = [
        "hostPID",
        "hostIPC",
        "adds capabilities NET_RAW,SYS_ADMIN",
        "hostPath /",
        "hostPort",
    ]
    shapes = {
        "pods": {"spec": pod},
        "deployments": {"spec": {"template": {"spec": pod}}},
        "daemonsets": {"spec": {"template": {"spec": pod}}},
        "jobs": {"spec": {"template": {"spec": pod}}},
        "cronjobs": {"spec": {"jobTemplate": {"spec": {"template": {"spec": pod}}}}},
    }
    for resource, body in shapes.items():
        facts = body_facts(
            row(verb="create", object_resource=resource, request_object=json.dumps(body))
        )
        assert facts == expected, resource


def test_reads_carry_no_body_facts_and_bad_bodies_are_ignored() -> None:
    privileged = json.dumps({"spec": {"containers": [{"securityContext": {"privileged": True}}]}})
    assert body_facts(row(verb="get", response_object=privileged)) == []
    assert body_facts(row(verb="create", request_object=privileged)) == ["privileged"]
    for junk in ("", "not json", "[]", '{"spec": 3}', '{"spec": {"containers": 5}}'):
        assert body_facts(row(verb="create", request_object=junk)) == []


def test_binding_subjects_and_roles() -> None:
    binding = {
        "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [
            {"kind": "Group", "name": "system:authenticated"},
            {"kind": "ServiceAccount", "namespace": "ci", "name": "runner"},
        ],
    }
    text = sentence(row(verb="create", object_resource="clusterrolebindings", object_namespace=None,
                        object_name="oops", request_object=json.dumps(binding)))  # fmt: skip
    assert (
        "[ClusterRole cluster-admin to Group system:authenticated, ServiceAccount ci/runner]"
        in text
    )


def test_singular() -> None:
    assert [singular(r) for r in ("pods", "networkpolicies", "ingresses", "endpoints", "leases",
            "storageclasses", "nodes", "secrets")] == ["pod", "networkpolicy", "ingress",
            "endpoints", "lease", "storageclass", "node", "secret"]  # fmt: skip
