"""The bundled rule pack: each rule's must-match and must-not-match events, the corpus's real
events with expected outcomes, no high alert on benign generated traffic, and the same
findings from files and from the lake."""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from kubetrail.catalog.techniques import load_techniques
from kubetrail.detect.engine import detect, file_events, lake_events
from kubetrail.detect.rules import Rule, load_rules
from kubetrail.ingest.read import ReadReport, expand_paths

RULES, PROBLEMS = load_rules()
BY_NAME = {r.name: r for r in RULES}


def ev(verb: str, resource: str, *, sub: str | None = None, user: str = "alice",
       ns: str | None = "default", name: str | None = "x", body: Any = None,
       **extra: Any) -> dict[str, Any]:  # fmt: skip
    ref: dict[str, Any] = {"resource": resource}
    if sub:
        ref["subresource"] = sub
    if ns:
        ref["namespace"] = ns
    if name:
        ref["name"] = name
    event: dict[str, Any] = {
        "auditID": "a",
        "stage": "ResponseComplete",
        "verb": verb,
        "requestURI": "/x",
        "user": {"username": user, "groups": ["system:authenticated"]},
        "objectRef": ref,
        "responseStatus": {"code": 200},
        "requestReceivedTimestamp": "2026-11-26T10:00:00.000000Z",
        "annotations": {"authorization.k8s.io/decision": "allow"},
    }
    if body is not None:
        event["requestObject"] = body
    event.update(extra)
    return event


def pod(**spec: Any) -> dict[str, Any]:
    return {"kind": "Pod", "spec": {"containers": [{"name": "c"}], **spec}}


def deployment(**spec: Any) -> dict[str, Any]:
    return {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{}], **spec}}}}


PRIVILEGED = [{"name": "c", "securityContext": {"privileged": True}}]


def minted_use(account: str = "ci:deployer") -> dict[str, Any]:
    """A request with a token of ``account`` that names no pod (kubectl create token)."""
    event = ev("list", "secrets", user=f"system:serviceaccount:{account}", name=None)
    event["user"]["extra"] = {"authentication.kubernetes.io/credential-id": ["JTI=m1"]}
    return event


def sa_token(source: str = "10.244.1.7", **extra: Any) -> dict[str, Any]:
    """A request with the bound token of pod ci/runner-1 (on node-1), from ``source``."""
    event = ev("get", "secrets", user="system:serviceaccount:ci:runner", **extra)
    event["user"]["extra"] = {
        "authentication.kubernetes.io/pod-name": ["runner-1"],
        "authentication.kubernetes.io/pod-uid": ["uid-1"],
        "authentication.kubernetes.io/node-name": ["node-1"],
        "authentication.kubernetes.io/credential-id": ["JTI=abc"],
    }
    event["sourceIPs"] = [source]
    event["userAgent"] = "runner/1.0"
    return event


CR = "clusterrolebindings"
# rule name -> (events that must fire it, events that must not)
CASES: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
    "pod-exec": (
        [
            ev("create", "pods", sub="exec"),
            ev("get", "pods", sub="exec"),
            ev("create", "pods", sub="attach"),
        ],
        [ev("get", "pods"), ev("get", "pods", sub="log")],
    ),
    "privileged-container": (
        [
            ev("create", "pods", body=pod(containers=PRIVILEGED)),
            ev("create", "pods", body=pod(initContainers=PRIVILEGED)),
            ev("patch", "pods", body={"spec": {"ephemeralContainers": PRIVILEGED}}),
            ev("create", "daemonsets", body=deployment(containers=PRIVILEGED)),
            ev(
                "create",
                "cronjobs",
                body={
                    "spec": {
                        "jobTemplate": {"spec": {"template": {"spec": {"containers": PRIVILEGED}}}}
                    }
                },
            ),
        ],
        [
            ev("create", "pods", body=pod()),
            ev("create", "pods"),  # Metadata: no body
            ev("create", "pods", body=pod(containers=[{"securityContext": {"privileged": False}}])),
        ],
    ),
    "host-namespaces": (
        [
            ev("create", "pods", body=pod(hostNetwork=True)),
            ev("create", "deployments", body=deployment(hostPID=True)),
            ev("update", "statefulsets", body=deployment(hostIPC=True)),
        ],
        [
            ev("create", "pods", body=pod(hostNetwork=False)),
            ev("get", "pods", body=pod(hostPID=True)),
        ],
    ),
    "sensitive-hostpath": (
        [
            ev("create", "pods", body=pod(volumes=[{"hostPath": {"path": "/"}}])),
            ev(
                "create",
                "jobs",
                body=deployment(volumes=[{"hostPath": {"path": "/etc/kubernetes/pki"}}]),
            ),
            ev(
                "create", "pods", body=pod(volumes=[{"hostPath": {"path": "/var/run/docker.sock"}}])
            ),
        ],
        [
            ev("create", "pods", body=pod(volumes=[{"hostPath": {"path": "/data"}}])),
            ev("create", "pods", body=pod(volumes=[{"emptyDir": {}}])),
        ],
    ),
    "cluster-admin-binding": (
        [
            ev("create", CR, ns=None, body={"roleRef": {"name": "cluster-admin"}}),
            ev("patch", "rolebindings", body={"roleRef": {"name": "cluster-admin"}}),
        ],
        [ev("create", CR, ns=None, body={"roleRef": {"name": "view"}}), ev("create", CR, ns=None)],
    ),
    "binding-to-public-groups": (
        [
            ev(
                "create",
                CR,
                ns=None,
                body={
                    "roleRef": {"name": "edit"},
                    "subjects": [{"kind": "Group", "name": "system:authenticated"}],
                },
            ),
            ev(
                "create",
                "rolebindings",
                body={
                    "roleRef": {"name": "x"},
                    "subjects": [{"kind": "User", "name": "system:anonymous"}],
                },
            ),
        ],
        [
            ev(
                "create",
                CR,
                ns=None,
                body={
                    "roleRef": {"name": "system:public-info-viewer"},
                    "subjects": [{"kind": "Group", "name": "system:unauthenticated"}],
                },
            ),
            ev(
                "create",
                CR,
                ns=None,
                body={"roleRef": {"name": "edit"}, "subjects": [{"kind": "Group", "name": "devs"}]},
            ),
        ],
    ),
    "wildcard-role": (
        [
            ev(
                "create",
                "clusterroles",
                ns=None,
                body={"rules": [{"verbs": ["*"], "resources": ["pods"]}]},
            ),
            ev("update", "roles", body={"rules": [{"verbs": ["get"], "resources": ["*"]}]}),
        ],
        [
            ev(
                "create",
                "clusterroles",
                ns=None,
                body={"rules": [{"verbs": ["get"], "resources": ["pods"]}]},
            ),
            ev(
                "create",
                "clusterroles",
                ns=None,
                user="system:kube-controller-manager",
                body={"rules": [{"verbs": ["*"]}]},
            ),
        ],
    ),
    "escalation-verbs-role": (
        [
            ev("create", "clusterroles", ns=None, body={"rules": [{"verbs": ["impersonate"]}]}),
            ev("patch", "roles", body={"rules": [{"verbs": ["get", "bind"]}]}),
        ],
        [ev("create", "roles", body={"rules": [{"verbs": ["get", "list"]}]})],
    ),
    "secrets-listed-cluster-wide": (
        [
            ev("list", "secrets", ns=None, name=None),
            ev("watch", "secrets", ns=None, name=None, user="system:serviceaccount:ci:runner"),
        ],
        [
            ev("list", "secrets", name=None),
            ev("list", "secrets", ns=None, name=None, user="system:node:n1"),
            ev("list", "configmaps", ns=None, name=None),
        ],
    ),
    "anonymous-allowed": (
        [
            ev("create", "namespaces", user="system:anonymous", ns=None),
            ev("get", "secrets", user="system:anonymous"),
        ],
        [
            ev(
                "get",
                "pods",
                user="system:anonymous",
                annotations={"authorization.k8s.io/decision": "forbid"},
            ),
            {**ev("get", "pods", user="system:anonymous"), "requestURI": "/healthz"},
        ],
    ),
    "events-deleted": (
        [ev("delete", "events"), ev("deletecollection", "events", name=None)],
        [ev("delete", "pods"), ev("delete", "events", user="system:serviceaccount:kube-system:x")],
    ),
    "service-exposed": (
        [
            ev("create", "services", body={"spec": {"type": "NodePort"}}),
            ev("patch", "services", body={"spec": {"type": "LoadBalancer"}}),
        ],
        [ev("create", "services", body={"spec": {"type": "ClusterIP"}}), ev("create", "services")],
    ),
    "token-requested-by-user": (
        [ev("create", "serviceaccounts", sub="token")],
        [
            ev("create", "serviceaccounts", sub="token", user="system:node:n1"),
            ev("create", "serviceaccounts"),
        ],
    ),
    "impersonation": (
        [ev("get", "pods", impersonatedUser={"username": "bob"})],
        [ev("get", "pods")],
    ),
    "ephemeral-container": (
        [ev("patch", "pods", sub="ephemeralcontainers")],
        [ev("patch", "pods"), ev("get", "pods", sub="ephemeralcontainers")],
    ),
    "nodes-proxy": (
        [
            {
                **ev("get", "nodes", sub="proxy", ns=None),
                "requestURI": "/api/v1/nodes/n1/proxy/run/x",
            }
        ],
        [
            {
                **ev("get", "nodes", sub="proxy", ns=None),
                "requestURI": "/api/v1/nodes/n1/proxy/metrics",
            },
            ev("get", "nodes", ns=None),
        ],
    ),
    "csr-approved-by-user": (
        [ev("update", "certificatesigningrequests", sub="approval", ns=None)],
        [
            ev(
                "update",
                "certificatesigningrequests",
                sub="approval",
                ns=None,
                user="system:serviceaccount:kube-system:certificate-controller",
            )
        ],
    ),
    "admission-webhook-changed": (
        [
            ev("create", "mutatingwebhookconfigurations", ns=None),
            ev("delete", "validatingwebhookconfigurations", ns=None),
        ],
        [ev("get", "mutatingwebhookconfigurations", ns=None)],
    ),
    "port-forward": (
        [ev("create", "pods", sub="portforward"), ev("get", "pods", sub="portforward")],
        [ev("create", "pods")],
    ),
    "pod-in-system-namespace-by-user": (
        [ev("create", "pods", ns="kube-system")],
        [
            ev("create", "pods"),
            ev(
                "create",
                "pods",
                ns="kube-system",
                user="system:serviceaccount:kube-system:daemon-set-controller",
            ),
        ],
    ),
    "secret-read-by-user": (
        [ev("get", "secrets")],
        [ev("get", "secrets", user="system:serviceaccount:a:b"), ev("list", "secrets", name=None)],
    ),
}


SYS = "system:serviceaccount:kube-system:generic"
EXEC_URI = "/api/v1/namespaces/default/pods/x/exec?command="
CASES.update(
    {
        "cronjob-created-by-user": (
            [ev("create", "cronjobs"), ev("patch", "cronjobs")],
            [ev("get", "cronjobs"), ev("create", "cronjobs", user=SYS)],
        ),
        "serviceaccount-in-system-namespace": (
            [ev("create", "serviceaccounts", ns="kube-system")],
            [ev("create", "serviceaccounts"), ev("create", "serviceaccounts", ns="kube-system",
                user=SYS)],
        ),
        "legacy-token-secret": (
            [ev("create", "secrets", body={"type": "kubernetes.io/service-account-token"})],
            [ev("create", "secrets", body={"type": "Opaque"}), ev("create", "secrets")],
        ),
        "bootstrap-token-created": (
            [ev("create", "secrets", ns="kube-system",
                body={"type": "bootstrap.kubernetes.io/token"})],
            [ev("create", "secrets", ns="kube-system", body={"type": "Opaque"})],
        ),
        "aws-auth-modified": (
            [ev("patch", "configmaps", ns="kube-system", name="aws-auth")],
            [ev("patch", "configmaps", ns="kube-system", name="other"),
             ev("get", "configmaps", ns="kube-system", name="aws-auth")],
        ),
        "apiservice-changed": (
            [ev("create", "apiservices", ns=None)],
            [ev("get", "apiservices", ns=None), ev("update", "apiservices", ns=None,
                user="system:kube-controller-manager")],
        ),
        "clusterrole-aggregation": (
            [ev("create", "clusterroles", ns=None, body={"aggregationRule": {"x": 1}})],
            [ev("create", "clusterroles", ns=None, body={"rules": []})],
        ),
        "builtin-role-tampering": (
            [ev("patch", "clusterroles", ns=None, name="system:node"),
             ev("delete", "clusterrolebindings", ns=None, name="system:kube-dns")],
            [ev("patch", "clusterroles", ns=None, name="my-role"),
             ev("update", "clusterroles", ns=None, name="system:node", user="system:apiserver")],
        ),
        "workload-identity-annotation": (
            [ev("patch", "serviceaccounts", body={"metadata": {"annotations": {
                "iam.gke.io/gcp-service-account": "admin@p.iam.gserviceaccount.com"}}}),
             ev("create", "serviceaccounts", body={"metadata": {"annotations": {
                 "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/admin"}}})],
            [ev("create", "serviceaccounts", body={"metadata": {"annotations": {"a": "b"}}})],
        ),
        "pod-pinned-to-node": (
            [ev("create", "pods", body=pod(nodeName="control-plane-1"))],
            [ev("create", "pods", body=pod())],
        ),
        "persistentvolume-hostpath": (
            [ev("create", "persistentvolumes", ns=None,
                body={"spec": {"hostPath": {"path": "/"}}})],
            [ev("create", "persistentvolumes", ns=None, body={"spec": {"nfs": {}}})],
        ),
        "pod-security-disabled": (
            [ev("patch", "namespaces", ns=None, body={"metadata": {"labels": {
                "pod-security.kubernetes.io/enforce": "privileged"}}})],
            [ev("patch", "namespaces", ns=None, body={"metadata": {"labels": {
                "pod-security.kubernetes.io/enforce": "restricted"}}})],
        ),
        "networkpolicy-deleted": (
            [ev("delete", "networkpolicies")],
            [ev("create", "networkpolicies"), ev("delete", "networkpolicies", user=SYS)],
        ),
        "tokenreview-by-workload": (
            [ev("create", "tokenreviews", ns=None, user="system:serviceaccount:shop:web")],
            [ev("create", "tokenreviews", ns=None, user="system:kube-controller-manager")],
        ),
        "permission-self-discovery": (
            [ev("create", "selfsubjectrulesreviews", ns=None, user="system:serviceaccount:a:b")],
            [ev("create", "selfsubjectrulesreviews", ns=None)],
        ),
        "api-proxy-to-workload": (
            [ev("get", "services", sub="proxy"), ev("get", "pods", sub="proxy")],
            [ev("get", "services"), ev("get", "services", sub="proxy", user=SYS)],
        ),
        "copy-from-container": (
            [{**ev("create", "pods", sub="exec"), "requestURI": EXEC_URI + "tar&command=cf"}],
            [{**ev("create", "pods", sub="exec"), "requestURI": EXEC_URI + "sh"}],
        ),
        "sa-token-read-via-exec": (
            [{**ev("get", "pods", sub="exec"), "requestURI": EXEC_URI
              + "cat&command=%2Fvar%2Frun%2Fsecrets%2Fkubernetes.io%2Fserviceaccount%2Ftoken"}],
            [{**ev("get", "pods", sub="exec"), "requestURI": EXEC_URI + "cat&command=%2Fetc"}],
        ),
        "imds-via-exec": (
            [{**ev("create", "pods", sub="exec"),
              "requestURI": EXEC_URI + "curl&command=http%3A%2F%2F169.254.169.254%2Flatest"}],
            [{**ev("create", "pods", sub="exec"), "requestURI": EXEC_URI + "curl"}],
        ),
        "container-logs-read-by-user": (
            [ev("get", "pods", sub="log")],
            [ev("get", "pods", sub="log", user=SYS)],
        ),
        "mass-deletion": (
            [ev("deletecollection", "pods", name=None), ev("delete", "namespaces", ns=None)],
            [ev("delete", "pods"), ev("delete", "namespaces", ns=None, user=SYS)],
        ),
        "node-credential-with-kubectl": (
            [ev("get", "secrets", user="system:node:n1", userAgent="kubectl/v1.30.0")],
            [ev("get", "secrets", user="system:node:n1", userAgent="kubelet/v1.30.0")],
        ),
        "ingress-snippet-annotation": (
            [ev("create", "ingresses", body={"metadata": {"annotations": {
                "nginx.ingress.kubernetes.io/configuration-snippet": "lua..."}}})],
            [ev("create", "ingresses", body={"metadata": {"annotations": {
                "nginx.ingress.kubernetes.io/rewrite-target": "/"}}}), ev("create", "ingresses")],
        ),
        "coredns-config-changed": (
            [ev("update", "configmaps", ns="kube-system", name="coredns")],
            [ev("update", "configmaps", ns="kube-system", name="kube-proxy")],
        ),
        "endpoints-written-by-user": (
            [ev("create", "endpoints"), ev("patch", "endpointslices")],
            [ev("update", "endpoints", user="system:kube-controller-manager")],
        ),
        "node-cordoned-by-user": (
            [ev("patch", "nodes", ns=None, body={"spec": {"unschedulable": True}}),
             ev("patch", "nodes", ns=None, body={"spec": {"taints": [{"key": "x"}]}})],
            [ev("patch", "nodes", ns=None, body={"metadata": {"labels": {"a": "b"}}}),
             ev("patch", "nodes", ns=None, user="system:node:n1",
                body={"spec": {"unschedulable": True}})],
        ),
        "resource-listed-by-user": (
            [ev("list", "pods", name=None)],
            [ev("get", "pods"), ev("list", "pods", name=None, user="system:node:n1")],
        ),
        "pod-created-by-user": (
            [ev("create", "pods", name=None)],
            [ev("create", "pods", sub="eviction"), ev("create", "pods", user=SYS)],
        ),
        "serviceaccount-token-outside-pod": (
            [{**sa_token(), "kubetrail": {"pod": "ci/runner-1", "sourceInPod": False}}],
            [{**sa_token(), "kubetrail": {"pod": "ci/runner-1", "sourceInPod": True}},
             {**sa_token(), "kubetrail": {"pod": "ci/runner-1"}},  # the pod's address unknown
             ev("get", "secrets")],
        ),
        "serviceaccount-token-with-kubectl": (
            [{**sa_token(), "userAgent": "kubectl/v1.31.0 (linux/amd64)"}],
            [sa_token(), {**ev("get", "secrets", user="system:serviceaccount:ci:runner"),
                          "userAgent": "kubectl/v1.31.0"}],  # a legacy token: no pod
        ),
        "minted-token-used": (
            [minted_use()],
            [sa_token(), {**minted_use(), "user": {"username": "alice", "extra": {
                "authentication.kubernetes.io/credential-id": ["JTI=x"]}}}],
        ),
        "secret-mounted-by-user": (
            [ev("create", "pods", body=pod(volumes=[{"secret": {"secretName": "db"}}]))],
            [ev("create", "pods", body=pod(volumes=[{"configMap": {"name": "c"}}]))],
        ),
    }
)  # fmt: skip


def test_the_pack_loads_whole_and_every_rule_has_cases() -> None:
    assert PROBLEMS == []
    assert sorted(BY_NAME) == sorted(CASES)
    assert len({r.id for r in RULES}) == len(RULES)


def test_every_tag_names_a_catalogue_technique() -> None:
    known = {t.id for t in load_techniques().techniques}
    for rule in RULES:
        assert rule.techniques, rule.name
        assert set(rule.techniques) <= known, rule.name
        assert rule.description, rule.name


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_cases(name: str) -> None:
    rule: Rule = BY_NAME[name]
    must, must_not = CASES[name]
    for i, event in enumerate(must):
        assert rule.matches(copy.deepcopy(event)), f"{name}: must match #{i}"
    for i, event in enumerate(must_not):
        assert not rule.matches(copy.deepcopy(event)), f"{name}: must not match #{i}"


def test_one_finding_per_request_and_rule() -> None:
    stages = [
        {**ev("create", "pods", sub="exec"), "stage": s}
        for s in ("RequestReceived", "ResponseStarted", "ResponseComplete")
    ]
    found = list(detect(RULES, [(e, {}) for e in stages]))
    assert [f.rule for f in found] == ["pod-exec"]


# What the bundled pack finds in Falco's recorded events (file -> rules), read by hand.
FALCO = {
    "anonymous_creates_namespace_foo.json": {"anonymous-allowed"},
    "attach_cluster_admin_role.json": {"cluster-admin-binding"},
    "attach_pod.json": {"pod-exec"},
    "create_cluster_role_wildcard_resources.json": {"wildcard-role"},
    "create_cluster_role_wildcard_verbs.json": {"wildcard-role"},
    "create_nginx_pod_hostnetwork.json": {"host-namespaces"},
    "create_nginx_pod_privileged.json": {"privileged-container"},
    "create_nginx_pod_privileged_2nd_container.json": {"privileged-container"},
    "create_nginx_pod_no_secctx_1st_container_privileged_2nd_container.json": {
        "privileged-container"
    },
    "create_nginx_pod_sensitive_mount.json": {"sensitive-hostpath"},
    "create_nginx_pod_sensitive_mount_2nd_container.json": {"sensitive-hostpath"},
    "create_nginx_service_nodeport.json": {"service-exposed"},
    "exec_pod.json": {"pod-exec"},
    "create_serviceaccount_kube_public_namespace.json": {"serviceaccount-in-system-namespace"},
    "create_serviceaccount_kube_system_namespace.json": {"serviceaccount-in-system-namespace"},
    "delete_cluster_role_kube_aggregator.json": {"builtin-role-tampering"},
    "modify_cluster_role_node_problem_detector.json": {"builtin-role-tampering"},
    "delete_namespace_foo.json": {"mass-deletion"},
}


def test_falco_recordings(corpus: Path) -> None:
    folder = corpus / "upstream" / "falco"
    for path in sorted(folder.glob("*.json")):
        events = file_events([str(path)], ReadReport())
        fired = {f.rule for f in detect(RULES, events, min_level="informational")}
        fired.discard("secret-read-by-user")  # low: a person reading a secret
        assert fired == FALCO.get(path.name, set()), path.name


def _sample(tmp_path: Path, minutes: float = 8) -> Path:
    from datetime import UTC, datetime

    from kubetrail.sample.generate import generate

    out = tmp_path / "sample.log"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with open(out, "wb") as fh:
        for line in generate(nodes=3, seconds=minutes * 60, seed=3, start=start):
            fh.write(line + b"\n")
    return out


def test_benign_generated_traffic_raises_no_high_alert(tmp_path: Path) -> None:
    """Every high or critical finding on generated traffic is one of its labelled attacks."""
    sample = _sample(tmp_path)
    findings = list(detect(RULES, file_events([str(sample)], ReadReport())))
    labelled = set()
    for line in sample.read_bytes().splitlines():
        event = json.loads(line)
        if "kubetrail.io/sample-attack" in (event.get("annotations") or {}):
            labelled.add(event["auditID"])
    high = [f for f in findings if f.level in ("high", "critical")]
    assert high, "the generated attacks raise high alerts"
    assert {f.audit_id for f in high} <= labelled
    # The lower ones on benign traffic, listed (docs/detections.md explains them).
    benign = {f.rule for f in findings if f.audit_id not in labelled}
    assert benign <= {
        "secret-read-by-user",
        "pod-exec",
        "port-forward",
        "secrets-listed-cluster-wide",
        "serviceaccount-in-system-namespace",
        "api-proxy-to-workload",
        "container-logs-read-by-user",
        "resource-listed-by-user",
        "pod-created-by-user",
    }


def sample_and_falco_lake(tmp_path: Path, corpus: Path) -> tuple[list[str], Any]:
    """Four minutes of generated traffic and Falco's recordings: their paths, and a lake of
    them (a DuckDBEngine; the caller closes it)."""
    from kubetrail.ingest.pipeline import Ingestor
    from kubetrail.ingest.read import read_lines
    from kubetrail.lake.engine import DuckDBEngine
    from kubetrail.lake.store import Lake

    paths = expand_paths([str(_sample(tmp_path, 4)), str(corpus / "upstream" / "falco")])
    lake = Lake(tmp_path / "lake", create=True)
    ing = Ingestor(lake, "c")
    for line in read_lines(paths, ReadReport()):
        with contextlib.suppress(ValueError):  # LICENSE files
            ing.add(line.data, line.source)
    ing.close()
    return paths, DuckDBEngine(lake)


def test_files_and_lake_give_the_same_findings(tmp_path: Path, corpus: Path) -> None:
    paths, engine = sample_and_falco_lake(tmp_path, corpus)
    from_files = {(f.rule, f.audit_id) for f in detect(RULES, file_events(paths, ReadReport()))}
    try:
        from_lake = {(f.rule, f.audit_id) for f in detect(RULES, lake_events(engine))}
    finally:
        engine.close()
    assert len(from_files) > 20
    assert from_lake == from_files


def test_the_resource_index_changes_no_finding(tmp_path: Path, corpus: Path) -> None:
    """detect() evaluates only the rules an event's resource allows; evaluating every rule on
    every event gives the same findings."""
    paths = expand_paths([str(_sample(tmp_path, 3)), str(corpus / "upstream" / "falco")])
    events = [e for e, _ in file_events(paths, ReadReport())]
    indexed = {(f.rule, f.audit_id) for f in detect(RULES, [(e, {}) for e in events])}
    brute = {(r.name, e.get("auditID")) for e in events for r in RULES if r.matches(e)}
    assert len(indexed) > 20
    assert indexed == brute
    assert all(BY_NAME[n].resources for n in ("pod-exec", "privileged-container"))


def test_patch_bodies_of_every_kind() -> None:
    """kubectl patch --type=json|merge|strategic turning a deployment privileged."""
    json_patch = [
        {"op": "test", "path": "/spec/replicas", "value": 1},
        {"op": "add", "path": "/spec/template/spec/containers/0/securityContext",
         "value": {"privileged": True}},
    ]  # fmt: skip
    merge = {"spec": {"template": {"spec": {"containers": PRIVILEGED}}}}
    harmless = [{"op": "replace", "path": "/spec/replicas", "value": 3}]
    for body, fires in ((json_patch, True), (merge, True), (harmless, False)):
        event = ev("patch", "deployments", body=body)
        found = {f.rule for f in detect(RULES, [(event, {})])}
        assert ("privileged-container" in found) is fires, body


def test_patch_as_object() -> None:
    from kubetrail.detect.match import patch_as_object

    ops = [
        {"op": "add", "path": "/spec/volumes/-", "value": {"hostPath": {"path": "/"}}},
        {"op": "replace", "path": "/metadata/annotations/a~1b", "value": "x"},
        {"op": "remove", "path": "/spec/hostNetwork"},
        "junk",
    ]
    assert patch_as_object(ops) == {
        "spec": {"volumes": [{"hostPath": {"path": "/"}}]},
        "metadata": {"annotations": {"a/b": "x"}},
    }
