"""Realistic, seeded audit traffic, as a log-everything capture records it.

Every request is logged at ``RequestResponse`` with no stage omitted: ``RequestReceived``
(metadata only), ``ResponseStarted`` for long-running requests (watch, and the exec, attach,
portforward, log and proxy subresources), then ``ResponseComplete`` with ``responseStatus``,
``requestObject`` (create/update/patch), ``responseObject`` (anything but a stream) and the
authorization annotations. Lines are compact JSON in kube-apiserver's key order, with Go's
HTML-safe escaping (``&`` is written ``\\u0026``), in ``stageTimestamp`` order.

**Calibration** (details and measured shares in ``docs/sample.md``). :data:`_MIX` is derived
from the capture ``hkerma-perfspec/audit-logs.csv`` (kubeadm, 3 nodes, Helm installing and
removing charts; 16,563 events in 244 s = 68 events/s): every row was resolved with
:func:`kubetrail.policy.requestinfo.resolve_request` and counted by (user, verb,
group/version/resource/subresource or path); kubelets were counted together and
``/apis/<g>/<v>`` discovery as one path; groups seen fewer than ~15 times were dropped or
merged into a neighbour (the two cert-manager identities into one). A row's weight is its
count in the capture. Departures: rows marked ``+`` are not in the capture and are small
(kube-proxy and CoreDNS watches, operator CRD list/watch, a human with kubectl: logs, exec,
port-forward, apply); and 2,850 of Helm's 5,764 discovery gets became Helm pod gets/lists
(``helm --wait``) so that ~10 % of events carry a 2–8 KB pod, as the benchmark mix of
``perf-engines.md`` §0 has it (the capture has few pod bodies). Kubelet, kube-proxy and flannel
rows scale with ``nodes / 3``; besides them every node renews its Lease and patches its
``nodes/status`` every 10 s. The rate is set so that 3 nodes give 68 events/s, the capture's
rate (a log-everything capture records 2–3 events per request where the capture, which omitted
``RequestReceived``, recorded one, so this is ~33 requests/s). Requests still open at the end
(mostly watches, which last 5–10 min) are cut, as in a real capture. One request every 40 s is
an attack, labelled ``kubetrail.io/sample-attack: <technique id>`` (:data:`ATTACK_ANNOTATION`).
"""

from __future__ import annotations

import bisect
import heapq
import random
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Final, NamedTuple

import msgspec
from msgspec import UNSET

from kubetrail.model.event import Event, ObjectReference, ResponseStatus, UserInfo
from kubetrail.policy.explain import is_long_running

__all__ = ["ATTACK_ANNOTATION", "CAPTURE_EVENTS_PER_SECOND", "generate"]

ATTACK_ANNOTATION: Final = "kubetrail.io/sample-attack"
CAPTURE_EVENTS_PER_SECOND: Final = 68.0
_CAPTURE_NODES: Final = 3
_ATTACK_EVERY_S: Final = 40.0
_PERIOD_S: Final = 10.0

_KV: Final = "v1.36.0"
_KUBE: Final = f"{_KV} (linux/amd64) kubernetes/0d2a8e4"
_CP_IP: Final = "10.0.0.2"

_Obj = dict[str, object]


class _Act(NamedTuple):
    weight: float  # rows in the capture (244 s, 3 nodes)
    actor: str
    verb: str
    target: str  # "group/version/resource" ("v1/..." for core) or a non-resource path
    sub: str = ""
    ns: str = ""  # "" cluster-scoped or all namespaces; "~" an app namespace; else literal
    name: str = ""  # "" none; "~" a pooled name; "@" the node's name; else literal


# fmt: off
_MIX: Final[tuple[_Act, ...]] = (
    # Helm (as kubernetes-admin) and controllers: API discovery dominates the capture.
    _Act(2914, "helm", "get", "/apis/G/V"),  # 5764 in the capture: see "Pods" below
    _Act(399, "helm", "get", "/api"), _Act(137, "helm", "get", "/api/v1"),
    _Act(20, "helm", "get", "/version"), _Act(9, "helm", "get", "/openapi/v2"),
    _Act(2598, "sa:cert-manager:my-cert-manager-cainjector", "get", "/apis/G/V"),
    _Act(170, "sa:cert-manager:my-cert-manager-cainjector", "get", "/api"),
    _Act(352, "ctrl:resourcequota-controller", "get", "/apis/G/V"),
    _Act(308, "ctrl:generic-garbage-collector", "get", "/apis/G/V"),
    _Act(88, "ctrl:namespace-controller", "get", "/apis/G/V"),
    _Act(230, "sa:gatekeeper-system:gatekeeper-admin", "get", "/apis/G/V"),
    _Act(180, "kcm", "get", "/apis/G/V"),
    _Act(44, "sa:argo-cd:argocd-applicationset-controller", "get", "/apis/G/V"),
    # Health checks.
    _Act(238, "anon", "get", "/readyz"), _Act(24, "anon", "get", "/livez"),
    _Act(12, "apiserver", "get", "/readyz"),
    # Operators.
    _Act(428, "sa:kube-prometheus-stack:my-kube-prometheus-stack-operator", "get", "v1/secrets", "", "kube-prometheus-stack", "~"),  # noqa: E501
    _Act(315, "sa:kube-prometheus-stack:my-kube-prometheus-stack-operator", "update", "v1/secrets", "", "kube-prometheus-stack", "~"),  # noqa: E501
    _Act(214, "sa:kube-prometheus-stack:my-kube-prometheus-stack-operator", "delete", "v1/secrets", "", "kube-prometheus-stack", "~"),  # noqa: E501
    _Act(109, "sa:kube-prometheus-stack:my-kube-prometheus-stack-operator", "get", "v1/services", "", "kube-prometheus-stack", "~"),  # noqa: E501
    _Act(107, "sa:kube-prometheus-stack:my-kube-prometheus-stack-operator", "update", "v1/services", "", "kube-prometheus-stack", "~"),  # noqa: E501
    _Act(47, "sa:kube-prometheus-stack:my-kube-prometheus-stack-operator", "update", "monitoring.coreos.com/v1/prometheuses", "status", "kube-prometheus-stack", "~"),  # noqa: E501
    _Act(92, "sa:kube-prometheus-stack:my-kube-prometheus-stack-operator", "list", "v1/configmaps", "", "kube-prometheus-stack"),  # noqa: E501
    _Act(46, "sa:kube-prometheus-stack:my-kube-prometheus-stack-operator", "list", "v1/pods", "", "kube-prometheus-stack"),  # noqa: E501
    _Act(18, "sa:gatekeeper-system:gatekeeper-admin", "list", "templates.gatekeeper.sh/v1beta1/constrainttemplates"),  # noqa: E501
    _Act(35, "sa:ingress-nginx:my-ingress-nginx", "update", "coordination.k8s.io/v1/leases", "", "ingress-nginx", "ingress-nginx-leader"),  # noqa: E501
    _Act(36, "sa:kube-prometheus-stack:my-kube-prometheus-stack-prometheus", "watch", "v1/endpoints", "", "~"),  # noqa: E501
    _Act(20, "sa:kube-prometheus-stack:my-kube-prometheus-stack-grafana", "watch", "v1/configmaps", "", "kube-prometheus-stack"),  # noqa: E501
    _Act(17, "sa:argo-cd:argocd-server", "watch", "v1/secrets", "", "argo-cd"),
    _Act(6, "sa:gatekeeper-system:gatekeeper-admin", "watch", "apiextensions.k8s.io/v1/customresourcedefinitions"),  # noqa: E501
    _Act(90, "ctrl:namespace-controller", "deletecollection", "v1/events", "", "~"),
    _Act(12, "sa:argo-cd:argocd-application-controller", "list", "apiextensions.k8s.io/v1/customresourcedefinitions"),  # + # noqa: E501
    _Act(8, "sa:argo-cd:argocd-application-controller", "watch", "argoproj.io/v1alpha1/applications", "", "argo-cd"),  # + # noqa: E501
    # kube-controller-manager and its controllers.
    _Act(117, "kcm", "get", "coordination.k8s.io/v1/leases", "", "kube-system", "kube-controller-manager"),  # noqa: E501
    _Act(111, "kcm", "update", "coordination.k8s.io/v1/leases", "", "kube-system", "kube-controller-manager"),  # noqa: E501
    _Act(88, "kcm", "get", "v1/serviceaccounts", "", "~", "~"),
    _Act(29, "kcm", "update", "v1/serviceaccounts", "", "~", "~"),
    _Act(29, "kcm", "create", "v1/secrets", "", "~"),
    _Act(16, "kcm", "create", "v1/serviceaccounts", "token", "kube-system", "~"),
    _Act(150, "ctrl:persistent-volume-binder", "get", "v1/persistentvolumes", "", "", "~"),
    _Act(22, "ctrl:persistent-volume-binder", "patch", "v1/events", "", "~", "~"),
    _Act(80, "ctrl:attachdetach-controller", "patch", "v1/nodes", "status", "", "@"),
    _Act(45, "ctrl:attachdetach-controller", "get", "v1/nodes", "", "", "@"),
    _Act(45, "ctrl:attachdetach-controller", "delete", "storage.k8s.io/v1/volumeattachments", "", "", "~"),  # noqa: E501
    _Act(100, "ctrl:deployment-controller", "update", "apps/v1/deployments", "status", "~", "~"),
    _Act(18, "ctrl:deployment-controller", "create", "apps/v1/replicasets", "", "~"),
    _Act(18, "ctrl:deployment-controller", "create", "v1/events", "", "~"),
    _Act(61, "ctrl:replicaset-controller", "update", "apps/v1/replicasets", "status", "~", "~"),
    _Act(34, "ctrl:replicaset-controller", "create", "v1/pods", "", "~"),
    _Act(34, "ctrl:replicaset-controller", "create", "v1/events", "", "~"),
    _Act(95, "ctrl:endpointslice-controller", "update", "discovery.k8s.io/v1/endpointslices", "", "~", "~"),  # noqa: E501
    _Act(35, "ctrl:endpointslice-controller", "create", "discovery.k8s.io/v1/endpointslices", "", "~"),  # noqa: E501
    _Act(40, "ctrl:endpoint-controller", "update", "v1/endpoints", "", "~", "~"),
    _Act(35, "ctrl:endpoint-controller", "create", "v1/endpoints", "", "~"),
    _Act(14, "ctrl:statefulset-controller", "update", "apps/v1/statefulsets", "status", "~", "~"),
    # Scheduler.
    _Act(116, "sched", "get", "coordination.k8s.io/v1/leases", "", "kube-system", "kube-scheduler"),
    _Act(111, "sched", "update", "coordination.k8s.io/v1/leases", "", "kube-system", "kube-scheduler"),  # noqa: E501
    _Act(37, "sched", "create", "v1/events", "", "~"),
    _Act(28, "sched", "create", "v1/pods", "binding", "~", "~"),
    _Act(17, "sched", "patch", "v1/events", "", "~", "~"),
    # kube-apiserver's own loops.
    _Act(72, "apiserver", "get", "flowcontrol.apiserver.k8s.io/v1/flowschemas", "", "", "~"),
    _Act(48, "apiserver", "get", "flowcontrol.apiserver.k8s.io/v1/prioritylevelconfigurations", "", "", "~"),  # noqa: E501
    _Act(110, "apiserver", "get", "rbac.authorization.k8s.io/v1/clusterroles", "", "", "~"),
    _Act(45, "apiserver", "update", "apiextensions.k8s.io/v1/customresourcedefinitions", "status", "", "~"),  # noqa: E501
    _Act(40, "apiserver", "get", "v1/namespaces", "", "", "default"),
    _Act(25, "apiserver", "get", "v1/endpoints", "", "default", "kubernetes"),
    _Act(25, "apiserver", "get", "discovery.k8s.io/v1/endpointslices", "", "default", "kubernetes"),
    _Act(25, "apiserver", "get", "v1/services", "", "default", "kubernetes"),
    _Act(35, "apiserver", "list", "v1/resourcequotas", "", "~"),
    # Kubelets (scaled with the number of nodes).
    _Act(119, "node", "create", "v1/events", "", "~"),
    _Act(24, "node", "patch", "v1/events", "", "~", "~"),
    _Act(95, "node", "get", "v1/pods", "", "~", "~"),
    _Act(92, "node", "patch", "v1/pods", "status", "~", "~"),
    _Act(74, "node", "watch", "v1/configmaps", "", "~", "~"),
    _Act(48, "node", "list", "v1/configmaps", "", "~", "~"),
    _Act(23, "node", "watch", "v1/secrets", "", "~", "~"),
    _Act(20, "node", "list", "v1/secrets", "", "~", "~"),
    _Act(72, "node", "get", "v1/nodes", "", "", "@"),
    _Act(27, "node", "create", "v1/serviceaccounts", "token", "~", "~"),
    _Act(9, "node", "watch", "v1/pods"), _Act(9, "node", "watch", "v1/services"),
    _Act(9, "node", "watch", "v1/nodes", "", "", "@"),
    _Act(9, "node", "watch", "storage.k8s.io/v1/csidrivers"),
    _Act(9, "node", "watch", "node.k8s.io/v1/runtimeclasses"),
    _Act(12, "kube-proxy", "watch", "discovery.k8s.io/v1/endpointslices"),  # +
    _Act(12, "kube-proxy", "watch", "v1/services"),  # +
    _Act(12, "flannel", "watch", "v1/nodes"),
    # CoreDNS (+).
    _Act(8, "coredns", "watch", "discovery.k8s.io/v1/endpointslices"),
    _Act(8, "coredns", "watch", "v1/services"), _Act(8, "coredns", "watch", "v1/namespaces"),
    # Helm installing charts (as kubernetes-admin).
    # Pods: the capture has few pod bodies; 2,850 of Helm's discovery gets are moved here
    # (helm --wait polling pods) so that ~10 % of events carry a pod, as real clusters' do.
    _Act(2350, "helm", "get", "v1/pods", "", "~", "~"),
    _Act(500, "helm", "list", "v1/pods", "", "~"),
    _Act(10, "helm", "watch", "batch/v1/jobs", "", "~"),
    _Act(52, "helm", "get", "v1/configmaps", "", "~", "~"),
    _Act(45, "helm", "create", "v1/configmaps", "", "~"),
    _Act(38, "helm", "get", "v1/services", "", "~", "~"),
    _Act(33, "helm", "create", "v1/services", "", "~"),
    _Act(30, "helm", "get", "v1/serviceaccounts", "", "~", "~"),
    _Act(29, "helm", "create", "v1/serviceaccounts", "", "~"),
    _Act(37, "helm", "update", "v1/secrets", "", "~", "~"),
    _Act(19, "helm", "create", "v1/secrets", "", "~"),
    _Act(18, "helm", "get", "v1/secrets", "", "~", "~"),
    _Act(42, "helm", "get", "monitoring.coreos.com/v1/prometheusrules", "", "kube-prometheus-stack", "~"),  # noqa: E501
    _Act(42, "helm", "create", "monitoring.coreos.com/v1/prometheusrules", "", "kube-prometheus-stack"),  # noqa: E501
    _Act(52, "helm", "get", "rbac.authorization.k8s.io/v1/clusterroles", "", "", "~"),
    _Act(54, "helm", "create", "rbac.authorization.k8s.io/v1/clusterrolebindings"),
    _Act(38, "helm", "get", "rbac.authorization.k8s.io/v1/rolebindings", "", "~", "~"),
    _Act(36, "helm", "create", "rbac.authorization.k8s.io/v1/roles", "", "~"),
    _Act(24, "helm", "get", "apps/v1/deployments", "", "~", "~"),
    _Act(18, "helm", "create", "apps/v1/deployments", "", "~"),
    _Act(12, "helm", "patch", "apps/v1/deployments", "", "~", "~"),
    _Act(17, "helm", "create", "apiextensions.k8s.io/v1/customresourcedefinitions"),
    # A human with kubectl (+): get/list pods, logs, exec (WebSocket get; rarely SPDY create),
    # apply (patch).
    _Act(30, "jane", "get", "/api"), _Act(30, "jane", "get", "/apis"),
    _Act(20, "jane", "list", "v1/pods", "", "~"),
    _Act(10, "jane", "get", "v1/pods", "", "~", "~"),
    _Act(6, "jane", "get", "v1/pods", "log", "~", "~"),
    _Act(3, "jane", "get", "v1/pods", "exec", "~", "~"),
    _Act(0.5, "jane", "create", "v1/pods", "exec", "~", "~"),
    _Act(1, "jane", "get", "v1/pods", "portforward", "~", "~"),
    _Act(12, "jane", "patch", "apps/v1/deployments", "", "~", "~"),
    _Act(2, "jane", "get", "v1/services", "proxy", "~", "~"),
)
# fmt: on

_PER_NODE: Final = frozenset({"node", "kube-proxy", "flannel"})

_CLUSTER_SCOPED: Final = frozenset(
    {
        "nodes",
        "namespaces",
        "persistentvolumes",
        "clusterroles",
        "clusterrolebindings",
        "customresourcedefinitions",
        "constrainttemplates",
        "csidrivers",
        "runtimeclasses",
        "volumeattachments",
        "flowschemas",
        "prioritylevelconfigurations",
    }
)

_APP_NAMESPACES: Final = (
    "kube-prometheus-stack",
    "argo-cd",
    "cert-manager",
    "ingress-nginx",
    "kube-system",
    "default",
    "redis",
    "gatekeeper-system",
)
_APPS: Final = (
    "prometheus-operator",
    "argocd-server",
    "cert-manager-webhook",
    "ingress-nginx-controller",
    "redis-master",
    "grafana",
    "kube-state-metrics",
    "gatekeeper-audit",
)
_DISCOVERY: Final = (
    "apps/v1",
    "batch/v1",
    "rbac.authorization.k8s.io/v1",
    "networking.k8s.io/v1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "apiextensions.k8s.io/v1",
    "admissionregistration.k8s.io/v1",
    "storage.k8s.io/v1",
    "policy/v1",
    "autoscaling/v2",
    "cert-manager.io/v1",
    "monitoring.coreos.com/v1",
    "argoproj.io/v1alpha1",
    "templates.gatekeeper.sh/v1",
)

_SA_AGENTS: Final = {
    "my-kube-prometheus-stack-operator": "PrometheusOperator/0.79.2",
    "my-cert-manager-cainjector": "cainjector/v1.16.2 (linux/amd64) cert-manager/a3c0e5",
    "gatekeeper-admin": "gatekeeper/v3.18.0 (linux/amd64) 9c1f2e/2024-12-04T18:05:21Z",
    "argocd-applicationset-controller": "argocd-applicationset-controller/v2.13.1",
    "argocd-application-controller": "argocd-application-controller/v2.13.1",
    "argocd-server": "argocd-server/v2.13.1",
    "my-kube-prometheus-stack-prometheus": "Prometheus/3.1.0",
    "my-kube-prometheus-stack-grafana": "k8s-sidecar/1.28.0",
    "my-ingress-nginx": "nginx-ingress-controller/v1.12.0 (linux/amd64) ingress-nginx/5b1b8f",
    "coredns": "coredns/1.12.0 (linux/amd64) kubernetes/0d2a8e4",
    "kube-proxy": f"kube-proxy/{_KUBE}",
    "flannel": "flanneld/v0.26.1 (linux/amd64) kubernetes/0d2a8e4",
}

# Kinds of the resources the mix uses; anything else gets a capitalised singular.
_KINDS: Final = {
    "pods": "Pod",
    "nodes": "Node",
    "leases": "Lease",
    "configmaps": "ConfigMap",
    "secrets": "Secret",
    "services": "Service",
    "events": "Event",
    "deployments": "Deployment",
    "replicasets": "ReplicaSet",
    "statefulsets": "StatefulSet",
    "endpointslices": "EndpointSlice",
    "endpoints": "Endpoints",
    "serviceaccounts": "ServiceAccount",
    "persistentvolumes": "PersistentVolume",
    "flowschemas": "FlowSchema",
    "prioritylevelconfigurations": "PriorityLevelConfiguration",
    "clusterroles": "ClusterRole",
    "clusterrolebindings": "ClusterRoleBinding",
    "roles": "Role",
    "rolebindings": "RoleBinding",
    "customresourcedefinitions": "CustomResourceDefinition",
    "volumeattachments": "VolumeAttachment",
    "namespaces": "Namespace",
    "prometheuses": "Prometheus",
    "prometheusrules": "PrometheusRule",
    "constrainttemplates": "ConstraintTemplate",
    "resourcequotas": "ResourceQuota",
    "applications": "Application",
    "csidrivers": "CSIDriver",
    "runtimeclasses": "RuntimeClass",
}


class _Identity(NamedTuple):
    user: UserInfo
    agent: str
    ip: str
    reason: str  # authorization.k8s.io/reason
    manager: str  # field manager name


def _sa(ns: str, name: str, agent: str, ip: str, role: str = "") -> _Identity:
    user = UserInfo(
        username=f"system:serviceaccount:{ns}:{name}",
        uid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"sa/{ns}/{name}")),
        groups=["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"],
    )
    binding = role or name
    reason = (
        f'RBAC: allowed by ClusterRoleBinding "{binding}" of ClusterRole "{binding}" '
        f'to ServiceAccount "{name}/{ns}"'
    )
    return _Identity(user, agent, ip, reason, agent.split("/", 1)[0])


def _identity(actor: str, node: str, node_ip: str) -> _Identity:
    admin = 'RBAC: allowed by ClusterRoleBinding "kubeadm:cluster-admins" of ClusterRole '
    admin += '"cluster-admin" to Group "kubeadm:cluster-admins"'
    if actor == "node":
        user = UserInfo(
            username=f"system:node:{node}", groups=["system:nodes", "system:authenticated"]
        )
        return _Identity(user, f"kubelet/{_KUBE}", node_ip, "", "kubelet")
    if actor in ("kube-proxy", "flannel"):
        ns = "kube-system" if actor == "kube-proxy" else "kube-flannel"
        agent = _SA_AGENTS[actor]
        return _sa(
            ns, actor, agent, node_ip, "system:node-proxier" if actor == "kube-proxy" else ""
        )
    if actor == "coredns":
        return _sa("kube-system", "coredns", _SA_AGENTS["coredns"], "10.244.0.3", "system:coredns")
    if actor.startswith("ctrl:"):
        name = actor[5:]
        agent = f"kube-controller-manager/{_KUBE}/system:serviceaccount:kube-system:{name}"
        ident = _sa("kube-system", name, agent, _CP_IP, f"system:controller:{name}")
        return ident._replace(manager="kube-controller-manager")
    if actor.startswith("sa:"):
        _, ns, name = actor.split(":")
        return _sa(ns, name, _SA_AGENTS.get(name, f"{name}/v1.0.0"), "10.244.1.17")
    if actor == "attacker":
        ident = _sa("ci", "build-runner", f"kubectl/{_KUBE}", "203.0.113.45", "ci-deployer")
        return ident._replace(manager="kubectl-client-side-apply")
    fixed: dict[str, tuple[str, list[str], str, str, str, str]] = {
        "kcm": (
            "system:kube-controller-manager",
            ["system:authenticated"],
            f"kube-controller-manager/{_KUBE}/leader-election",
            _CP_IP,
            'RBAC: allowed by ClusterRoleBinding "system:kube-controller-manager" of ClusterRole '
            '"system:kube-controller-manager" to User "system:kube-controller-manager"',
            "kube-controller-manager",
        ),
        "sched": (
            "system:kube-scheduler",
            ["system:authenticated"],
            f"kube-scheduler/{_KUBE}/scheduler",
            _CP_IP,
            'RBAC: allowed by ClusterRoleBinding "system:kube-scheduler" of ClusterRole '
            '"system:kube-scheduler" to User "system:kube-scheduler"',
            "kube-scheduler",
        ),
        "apiserver": (
            "system:apiserver",
            ["system:authenticated", "system:masters"],
            f"kube-apiserver/{_KUBE}",
            "::1",
            "",
            "kube-apiserver",
        ),
        "anon": (
            "system:anonymous",
            ["system:unauthenticated"],
            "kube-probe/1.36",
            _CP_IP,
            'RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole '
            '"system:public-info-viewer" to Group "system:unauthenticated"',
            "",
        ),
        "helm": (
            "kubernetes-admin",
            ["kubeadm:cluster-admins", "system:authenticated"],
            "Helm/3.17.0",
            "192.168.1.20",
            admin,
            "helm",
        ),
        "jane": (
            "jane@example.com",
            ["developers", "system:authenticated"],
            f"kubectl/{_KUBE}",
            "192.168.1.31",
            'RBAC: allowed by ClusterRoleBinding "developers" of ClusterRole "edit" to Group '
            '"developers"',
            "kubectl-client-side-apply",
        ),
    }
    username, groups, agent, ip, reason, manager = fixed[actor]
    uid = "" if actor in ("anon", "helm") else str(uuid.uuid5(uuid.NAMESPACE_URL, username))
    return _Identity(
        UserInfo(username=username, uid=uid, groups=groups), agent, ip, reason, manager
    )


def _fields(obj: _Obj, depth: int = 2) -> _Obj:
    """A FieldsV1 set for the keys of ``obj`` (``k:{"name":...}`` for named list items)."""
    out: _Obj = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            out[f"f:{key}"] = _fields(value, depth - 1) if depth > 0 and value else {}
        elif isinstance(value, list) and depth > 0 and value and isinstance(value[0], dict):
            sub: _Obj = {".": {}}
            for item in value:
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    sub[f'k:{{"name":"{item["name"]}"}}'] = {".": {}, **_fields(item, 0)}
            out[f"f:{key}"] = sub
        else:
            out[f"f:{key}"] = {}
    return out


class _World:
    """Per-run state: the RNG, resource versions, name pools. Nothing is module-global."""

    def __init__(self, rng: random.Random, nodes: list[str]) -> None:
        self.rng = rng
        self.nodes = nodes
        self.rv = 4_200_000 + rng.randrange(100_000)
        self.names: dict[tuple[str, str], list[str]] = {}
        self.objects: dict[tuple[str, str, str], _Obj] = {}
        self.sec_cache: dict[int, str] = {}
        self.enc = msgspec.json.Encoder()

    def ts(self, us: int) -> str:
        sec, frac = divmod(us, 1_000_000)
        prefix = self.sec_cache.get(sec)
        if prefix is None:
            if len(self.sec_cache) > 4096:
                self.sec_cache.clear()
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
            self.sec_cache[sec] = prefix
        return f"{prefix}.{frac:06d}Z"

    def sec(self, us: int) -> str:
        return self.ts(us)[:19] + "Z"

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def next_rv(self) -> str:
        self.rv += 1 + self.rng.randrange(7)
        return str(self.rv)

    def name(self, resource: str, ns: str) -> str:
        pool = self.names.get((resource, ns))
        if pool is None:
            rng = self.rng
            pool = []
            for app in _APPS:
                suffix = "".join(rng.choices("bcdfghjklmnpqrstvwxz2456789", k=5))
                if resource == "pods":
                    pool.append(f"{app}-{rng.getrandbits(36):09x}-{suffix}")
                elif resource in ("secrets", "configmaps"):
                    pool.append(f"{app}-{resource[:-1]}-{suffix}")
                else:
                    pool.append(
                        f"{app}-{suffix}"
                        if resource != "replicasets"
                        else f"{app}-{rng.getrandbits(36):09x}"
                    )
            self.names[(resource, ns)] = pool
        return self.rng.choice(pool)

    # ------------------------------------------------------------------------------ objects

    def meta(self, ns: str, name: str, now_us: int, manager: str, labels: bool = True) -> _Obj:
        rng = self.rng
        created = now_us - rng.randrange(3_600, 30 * 86_400) * 1_000_000
        meta: _Obj = {"name": name}
        if ns:
            meta["namespace"] = ns
        meta["uid"] = self.uid()
        meta["resourceVersion"] = str(self.rv - rng.randrange(5_000))
        meta["creationTimestamp"] = self.sec(created)
        if labels:
            app = name.split("-")[0]
            meta["labels"] = {
                "app.kubernetes.io/name": app,
                "app.kubernetes.io/instance": f"my-{app}",
                "app.kubernetes.io/managed-by": "Helm",
            }
        meta["_manager"] = manager
        meta["_time"] = self.sec(created + rng.randrange(1, 600) * 1_000_000)
        return meta

    def finish(self, obj: _Obj, api_version: str) -> _Obj:
        """Add managedFields (fieldsV1) for the spec/data manager and the status writer."""
        meta = obj["metadata"]
        assert isinstance(meta, dict)
        manager = meta.pop("_manager")
        when = meta.pop("_time")
        body = {
            k: v for k, v in obj.items() if k not in ("kind", "apiVersion", "metadata", "status")
        }
        fields: _Obj = {
            "f:metadata": {"f:labels": {".": {}, **_fields(meta.get("labels") or {}, 0)}}
        }
        fields.update(_fields(body))
        entries: list[_Obj] = [
            {
                "manager": manager or "kube-controller-manager",
                "operation": "Update",
                "apiVersion": api_version,
                "time": when,
                "fieldsType": "FieldsV1",
                "fieldsV1": fields,
            }
        ]
        status = obj.get("status")
        if isinstance(status, dict) and status:
            entries.append(
                {
                    "manager": "kubelet" if obj.get("kind") in ("Pod", "Node") else manager,
                    "operation": "Update",
                    "apiVersion": api_version,
                    "time": when,
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:status": _fields(status, 1)},
                    "subresource": "status",
                }
            )
        meta["managedFields"] = entries
        return obj

    def pod(self, ns: str, name: str, now_us: int, manager: str, privileged: bool = False) -> _Obj:
        rng = self.rng
        node = rng.choice(self.nodes)
        app = name.split("-")[0]
        meta = self.meta(ns, name, now_us, manager)
        meta["generateName"] = name[: name.rfind("-") + 1]
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": name[: name.rfind("-")],
                "uid": self.uid(),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        containers: list[_Obj] = []
        for c in range(1 + (rng.random() < 0.3)):
            cname = app if c == 0 else "config-reloader"
            env = [
                {"name": f"{cname.upper().replace('-', '_')}_OPT_{i}", "value": f"value-{i}-{ns}"}
                for i in range(rng.randrange(0, 28))
            ]
            containers.append(
                {
                    "name": cname,
                    "image": f"registry.k8s.io/{cname}:v1.{rng.randrange(30)}.{rng.randrange(9)}",
                    "args": ["--log-level=info", f"--namespace={ns}", "--metrics-port=8080"],
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                    "env": env,
                    "resources": {
                        "limits": {"cpu": "500m", "memory": "256Mi"},
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                    },
                    "volumeMounts": [
                        {"name": "config", "mountPath": "/etc/config", "readOnly": True},
                        {
                            "name": "kube-api-access",
                            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                            "readOnly": True,
                        },
                    ],
                    "livenessProbe": {
                        "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                        "periodSeconds": 10,
                        "timeoutSeconds": 1,
                        "failureThreshold": 3,
                    },
                    "terminationMessagePath": "/dev/termination-log",
                    "imagePullPolicy": "IfNotPresent",
                    "securityContext": (
                        {"privileged": True}
                        if privileged
                        else {"allowPrivilegeEscalation": False, "runAsNonRoot": True}
                    ),
                }
            )
        spec: _Obj = {
            "volumes": [
                {"name": "config", "configMap": {"name": f"{app}-config", "defaultMode": 420}},
                {
                    "name": "kube-api-access",
                    "projected": {
                        "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {"configMap": {"name": "kube-root-ca.crt"}},
                        ],
                        "defaultMode": 420,
                    },
                },
            ],
            "containers": containers,
            "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": app,
            "nodeName": node,
            "schedulerName": "default-scheduler",
        }
        if privileged:
            spec["hostPID"] = True
        ip = f"10.244.{rng.randrange(1, 4)}.{rng.randrange(2, 250)}"
        status: _Obj = {
            "phase": "Running",
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": meta["creationTimestamp"]}
                for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")
            ],
            "hostIP": f"10.0.0.{10 + self.nodes.index(node)}",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": meta["creationTimestamp"],
            "containerStatuses": [
                {
                    "name": c["name"],
                    "state": {"running": {"startedAt": meta["creationTimestamp"]}},
                    "ready": True,
                    "restartCount": 0,
                    "image": c["image"],
                    "containerID": f"containerd://{rng.getrandbits(256):064x}",
                    "started": True,
                }
                for c in containers
            ],
            "qosClass": "Burstable",
        }
        return self.finish(
            {"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": spec, "status": status},
            "v1",
        )

    def obj(self, resource: str, gv: str, ns: str, name: str, now_us: int, manager: str) -> _Obj:
        """The object ``ns/name``: built once per run, then a copy with a current version."""
        key = (resource, ns, name)
        cached = self.objects.get(key)
        if cached is None or resource in ("leases", "events"):
            cached = self.build(resource, gv, ns, name, now_us, manager)
            self.objects[key] = cached
        obj = dict(cached)
        meta = cached["metadata"]
        assert isinstance(meta, dict)
        obj["metadata"] = {**meta, "resourceVersion": str(self.rv - self.rng.randrange(50))}
        return obj

    def build(self, resource: str, gv: str, ns: str, name: str, now_us: int, manager: str) -> _Obj:
        if resource == "pods":
            return self.pod(ns, name, now_us, manager)
        rng = self.rng
        kind = _KINDS.get(resource) or resource[:-1].capitalize()
        meta = self.meta(ns, name, now_us, manager, labels=resource not in ("leases", "events"))
        out: _Obj = {"kind": kind, "apiVersion": gv, "metadata": meta}
        if resource == "leases":
            holder = name if ns == "kube-node-lease" else f"{name}_{self.uid()}"
            out["spec"] = {
                "holderIdentity": holder,
                "leaseDurationSeconds": 40 if ns == "kube-node-lease" else 15,
                "renewTime": self.ts(now_us),
            }
        elif resource == "configmaps":
            out["data"] = {
                f"{k}.yaml": "# generated\n" + "key: value\n" * rng.randrange(20, 300)
                for k in ("config", "rules")[: 1 + rng.randrange(2)]
            }
        elif resource == "secrets":
            out["data"] = {
                k: "c2FtcGxlLXNlY3JldC12YWx1ZQ==" * rng.randrange(40, 260)
                for k in ("tls.crt", "tls.key", "ca.crt")[: 1 + rng.randrange(3)]
            }
            out["type"] = "Opaque"
        elif resource == "nodes":
            out["spec"] = {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]}
            out["status"] = {
                "conditions": [
                    {
                        "type": t,
                        "status": "True" if t == "Ready" else "False",
                        "lastHeartbeatTime": self.sec(now_us),
                        "lastTransitionTime": meta["creationTimestamp"],
                        "reason": f"Kubelet{t}",
                        "message": f"kubelet reports {t}",
                    }
                    for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")
                ],
                "addresses": [{"type": "InternalIP", "address": "10.0.0.10"}],
                "nodeInfo": {
                    "kubeletVersion": _KV,
                    "containerRuntimeVersion": "containerd://2.0.2",
                },
            }
        elif resource == "services":
            out["spec"] = {
                "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}],
                "selector": {"app.kubernetes.io/name": name.split("-")[0]},
                "clusterIP": f"10.96.{rng.randrange(256)}.{rng.randrange(256)}",
                "type": "ClusterIP",
            }
        elif resource == "events":
            out["involvedObject"] = {"kind": "Pod", "namespace": ns, "name": name}
            out["reason"] = rng.choice(("Pulled", "Created", "Started", "Scheduled", "Killing"))
            out["message"] = f"Successfully processed pod {ns}/{name}"
            out["source"] = {"component": manager}
            out["count"] = 1 + rng.randrange(5)
            out["type"] = "Normal"
        elif resource in ("deployments", "replicasets", "statefulsets"):
            out["spec"] = {
                "replicas": 1 + rng.randrange(3),
                "selector": {"matchLabels": {"app.kubernetes.io/name": name.split("-")[0]}},
                "template": {
                    "spec": {
                        "containers": [
                            {"name": name.split("-")[0], "image": "registry.k8s.io/app:v1.0"}
                        ]
                    }
                },
            }
            out["status"] = {"replicas": 1, "readyReplicas": 1, "observedGeneration": 3}
        elif resource in ("endpointslices", "endpoints"):
            out["endpoints"] = [
                {"addresses": [f"10.244.{rng.randrange(1, 4)}.{rng.randrange(2, 250)}"]}
                for _ in range(1 + rng.randrange(3))
            ]
            out["ports"] = [{"name": "http", "port": 8080, "protocol": "TCP"}]
        elif resource in ("clusterroles", "roles"):
            out["rules"] = [
                {"apiGroups": [""], "resources": ["pods", "services"], "verbs": ["get", "list"]}
            ]
        elif resource in ("clusterrolebindings", "rolebindings"):
            out["roleRef"] = {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": name,
            }
            out["subjects"] = [
                {"kind": "ServiceAccount", "name": name, "namespace": ns or "default"}
            ]
        else:
            out["spec"] = {"version": "v1", "settings": {"enabled": True}}
            if resource != "serviceaccounts":
                out["status"] = {"observedGeneration": 1}
        return self.finish(out, gv)


_Builder = Callable[[], tuple[bytes, ...]]


def _split(target: str) -> tuple[str, str, str]:
    """``"apps/v1/deployments"`` → (``"apps"``, ``"v1"``, ``"deployments"``)."""
    parts = target.split("/")
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return parts[0], parts[1], parts[2]


def _status(code: int, reason: str = "", message: str = "") -> ResponseStatus:
    if code < 400:
        return ResponseStatus(code=code)
    return ResponseStatus(status="Failure", message=message, reason=reason, code=code)


def generate(*, nodes: int, seconds: float, seed: int, start: datetime) -> Iterator[bytes]:
    """Compact JSON lines (no newline), in timestamp order.

    Deterministic for (nodes, seconds, seed, start). No global state; ``start`` is passed in
    (a naive datetime is taken as UTC).
    """
    if nodes < 1:
        raise ValueError("nodes must be at least 1")
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    rng = random.Random(seed)
    node_names = [f"k8s-node-{i + 1}" for i in range(nodes)]
    world = _World(rng, node_names)
    start_us = (start - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    end_us = start_us + int(seconds * 1_000_000)

    # Request rates: 3 nodes give CAPTURE_EVENTS_PER_SECOND events/s.
    def events_per_request(act: _Act) -> int:
        return 3 if is_long_running(act.verb, act.sub) else 2

    periodic_events_3 = _CAPTURE_NODES * 2 * 2 / _PERIOD_S
    total_w = sum(a.weight for a in _MIX)
    mean_ev = sum(a.weight * events_per_request(a) for a in _MIX) / total_w
    req_rate3 = (CAPTURE_EVENTS_PER_SECOND - periodic_events_3) / mean_ev
    rates = [
        req_rate3 * a.weight / total_w * (nodes / _CAPTURE_NODES if a.actor in _PER_NODE else 1.0)
        for a in _MIX
    ]
    cum: list[float] = []
    acc = 0.0
    for r in rates:
        acc += r
        cum.append(acc)
    total_rate = acc

    identities: dict[tuple[str, int], _Identity] = {}

    def ident(actor: str, node_i: int) -> _Identity:
        key = (actor, node_i if actor in _PER_NODE else -1)
        got = identities.get(key)
        if got is None:
            got = _identity(actor, node_names[node_i], f"10.0.0.{10 + node_i}")
            identities[key] = got
        return got

    out: list[tuple[int, int, bytes]] = []
    seq = 0
    enc = world.enc

    def emit(t_us: int, ev: Event) -> None:
        nonlocal seq
        # Event omits its defaults, but kube-apiserver always writes kind, apiVersion and a
        # Status's "metadata":{}.
        line = b'{"kind":"Event","apiVersion":"audit.k8s.io/v1",' + enc.encode(ev)[1:]
        if ev.response_status is not None:
            line = line.replace(b'"responseStatus":{', b'"responseStatus":{"metadata":{},', 1)
        if b"&" in line:
            line = line.replace(b"&", b"\\u0026")
        if b"<" in line or b">" in line:
            line = line.replace(b"<", b"\\u003c").replace(b">", b"\\u003e")
        seq += 1
        heapq.heappush(out, (t_us, seq, line))

    def request(t_us: int, act: _Act, node_i: int, attack: str = "") -> None:
        who = ident(act.actor, node_i)
        verb, sub = act.verb, act.sub
        node = node_names[node_i]
        ref: ObjectReference | None = None
        req_obj: object = None
        resp_obj: object = None
        code = 200
        extra: dict[str, str] = {}
        if act.target.startswith("/"):
            path = act.target
            if path == "/apis/G/V":
                path = "/apis/" + rng.choice(_DISCOVERY)
            uri = path
            if path in ("/readyz", "/livez"):
                uri += "?verbose" if rng.random() < 0.1 else ""
        else:
            group, version, resource = _split(act.target)
            gv = f"{group}/{version}" if group else version
            ns = act.ns
            if ns == "~":
                ns = rng.choice(_APP_NAMESPACES)
            if resource == "leases" and act.actor == "node":
                ns = "kube-node-lease"
            if act.name == "@":
                name = node
            elif act.name == "~":
                name = world.name(resource, ns)
            else:
                name = act.name
            if verb == "create" and not sub:
                name = world.name(resource, ns)
            base = f"/apis/{gv}" if group else "/api/v1"
            path = base + (f"/namespaces/{ns}" if ns else "") + f"/{resource}"
            if verb not in ("list", "watch", "deletecollection", "create") or sub:
                path += f"/{name}"
            if sub:
                path += f"/{sub}"
            query = ""
            if verb in ("list", "watch"):
                q = []
                if verb == "watch":
                    q.append("allowWatchBookmarks=true")
                if name:
                    q.append(f"fieldSelector=metadata.name%3D{name}")
                if verb == "list" and act.actor == "helm":
                    app = rng.choice(_APPS).split("-")[0]
                    q.append(f"labelSelector=app.kubernetes.io%2Finstance%3Dmy-{app}")
                if verb == "list":
                    q.append("limit=500")
                q.append(
                    f"resourceVersion={0 if verb == 'list' else world.rv - rng.randrange(500)}"
                )
                if verb == "watch":
                    timeout = rng.randrange(300, 600)
                    q.append(f"timeout={timeout // 60}m{timeout % 60}s&timeoutSeconds={timeout}")
                    q.append("watch=true")
                query = "&".join(q)
            elif sub == "exec":
                query = "command=sh&container=app&stdin=true&stdout=true&tty=true"
            elif sub == "log":
                query = "container=app&follow=true&tailLines=100"
            elif verb in ("update", "patch") and act.actor in ("node", "jane"):
                query = "timeout=10s" if act.actor == "node" else "fieldManager=kubectl-edit"
            elif verb == "get" and resource == "nodes" and act.actor == "node":
                query = "resourceVersion=0&timeout=10s"
            uri = path + ("?" + query if query else "")
            ref = ObjectReference(
                resource=resource,
                # RequestInfo gives a namespace object's own name as its namespace.
                namespace=name if resource == "namespaces" and not ns else ns,
                name=name,
                api_group=group,
                api_version=version,
                subresource=sub,
            )
            who_mgr = who.manager
            if is_long_running(verb, sub):
                code = 101 if sub in ("exec", "attach", "portforward") else 200
            elif verb in ("list", "deletecollection"):
                n = 1 + rng.randrange(2 if resource == "pods" else 4)
                items: list[_Obj] = []
                for _ in range(n):
                    item_ns = ns
                    if not ns and resource not in _CLUSTER_SCOPED:
                        item_ns = rng.choice(_APP_NAMESPACES)
                    item_name = world.name(resource, item_ns)
                    o = world.obj(resource, gv, item_ns, item_name, t_us, "helm")
                    o.pop("kind", None)
                    o.pop("apiVersion", None)
                    items.append(o)
                resp_obj = {
                    "kind": (_KINDS.get(resource) or "Object") + "List",
                    "apiVersion": gv,
                    "metadata": {"resourceVersion": str(world.rv)},
                    "items": items,
                }
            elif verb == "get":
                if act.actor == "helm" and resource != "pods" and rng.random() < 0.3:
                    code = 404
                    msg = f'{resource}{"." + group if group else ""} "{name}" not found'
                    resp_obj = {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "metadata": {},
                        "status": "Failure",
                        "message": msg,
                        "reason": "NotFound",
                        "details": {"name": name, "kind": resource},
                        "code": 404,
                    }
                    extra["message"] = msg
                else:
                    resp_obj = world.obj(resource, gv, ns, name, t_us, "helm")
            elif verb == "delete":
                resp_obj = {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": {"name": name, "kind": resource, "uid": world.uid()},
                }
                world.next_rv()
            elif sub == "binding":
                code = 201
                req_obj = {
                    "kind": "Binding",
                    "apiVersion": "v1",
                    "metadata": {"name": name, "namespace": ns, "uid": world.uid()},
                    "target": {"kind": "Node", "name": rng.choice(node_names)},
                }
                resp_obj = {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "code": 201,
                }
            elif sub == "token":
                code = 201
                spec = {
                    "audiences": ["https://kubernetes.default.svc.cluster.local"],
                    "expirationSeconds": 3607,
                }
                req_obj = {
                    "kind": "TokenRequest",
                    "apiVersion": "authentication.k8s.io/v1",
                    "metadata": {"creationTimestamp": None},
                    "spec": spec,
                    "status": {"token": "", "expirationTimestamp": None},
                }
                resp_obj = {
                    "kind": "TokenRequest",
                    "apiVersion": "authentication.k8s.io/v1",
                    "metadata": {
                        "name": name,
                        "namespace": ns,
                        "creationTimestamp": world.sec(t_us),
                    },
                    "spec": spec,
                    "status": {
                        "token": "eyJhbGciOiJSUzI1NiIsImtpZCI6InNhbXBsZSJ9.REDACTED",
                        "expirationTimestamp": world.sec(t_us + 3607 * 1_000_000),
                    },
                }
            elif verb in ("create", "update"):
                obj = world.obj(resource, gv, ns, name, t_us, who_mgr or "kubectl")
                if attack == "privileged-container":
                    obj = world.pod(ns, name, t_us, who_mgr, privileged=True)
                    extra["pod-security.kubernetes.io/enforce-policy"] = "privileged:latest"
                if attack == "privileged-role-binding":
                    obj["roleRef"] = {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": "cluster-admin",
                    }
                    obj["subjects"] = [
                        {"kind": "ServiceAccount", "name": "build-runner", "namespace": "ci"}
                    ]
                meta = obj["metadata"]
                assert isinstance(meta, dict)
                if verb == "create":
                    code = 201
                    req = {k: v for k, v in obj.items() if k not in ("status", "metadata")}
                    req_meta = {k: meta[k] for k in ("name", "namespace", "labels") if k in meta}
                    req_obj = {
                        "kind": obj["kind"],
                        "apiVersion": gv,
                        "metadata": req_meta,
                        **{k: v for k, v in req.items() if k not in ("kind", "apiVersion")},
                    }
                    meta["creationTimestamp"] = world.sec(t_us)
                else:
                    req_obj = obj
                meta["resourceVersion"] = world.next_rv()
                resp_obj = obj
            elif verb == "patch":
                obj = world.obj(resource, gv, ns, name, t_us, who_mgr)
                if resource == "pods":
                    req_obj = {
                        "metadata": {"uid": world.uid()},
                        "status": {
                            "$setElementOrder/conditions": [
                                {"type": "PodReadyToStartContainers"},
                                {"type": "Initialized"},
                                {"type": "Ready"},
                                {"type": "ContainersReady"},
                            ],
                            "conditions": [
                                {
                                    "lastTransitionTime": world.sec(t_us),
                                    "status": "True",
                                    "type": "Ready",
                                }
                            ],
                        },
                    }
                elif resource == "nodes":
                    req_obj = {
                        "status": {
                            "$setElementOrder/conditions": [
                                {"type": "MemoryPressure"},
                                {"type": "DiskPressure"},
                                {"type": "PIDPressure"},
                                {"type": "Ready"},
                            ],
                            "conditions": [
                                {"lastHeartbeatTime": world.sec(t_us), "type": t}
                                for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")
                            ],
                        }
                    }
                elif resource == "events":
                    req_obj = {"count": 2 + rng.randrange(20), "lastTimestamp": world.sec(t_us)}
                elif act.actor == "jane":
                    req_obj = [
                        {"op": "replace", "path": "/spec/replicas", "value": 1 + rng.randrange(4)}
                    ]
                else:
                    applied = {
                        "apiVersion": gv,
                        "kind": obj["kind"],
                        "metadata": {"name": name, "namespace": ns},
                        "spec": obj.get("spec", {}),
                    }
                    last = msgspec.json.encode(applied).decode() + "\n"
                    req_obj = {
                        "metadata": {
                            "annotations": {
                                "kubectl.kubernetes.io/last-applied-configuration": last
                            }
                        },
                        "spec": {"replicas": 2},
                    }
                meta = obj["metadata"]
                assert isinstance(meta, dict)
                meta["resourceVersion"] = world.next_rv()
                resp_obj = obj
        annotations = {
            "authorization.k8s.io/decision": "allow",
            "authorization.k8s.io/reason": who.reason,
        }
        msg = extra.pop("message", "")
        annotations.update(extra)
        if attack:
            annotations[ATTACK_ANNOTATION] = attack
        received = world.ts(t_us)
        aid = world.uid()
        first = Event(
            level="RequestResponse",
            audit_id=aid,
            stage="RequestReceived",
            request_uri=uri,
            verb=verb,
            user=who.user,
            source_ips=[who.ip],
            user_agent=who.agent,
            object_ref=ref,
            request_received_timestamp=received,
            stage_timestamp=received,
            annotations={ATTACK_ANNOTATION: attack} if attack else {},
        )
        emit(t_us, first)
        status = _status(code, "NotFound" if code == 404 else "", msg)
        if ref is not None and code == 404:
            status = msgspec.structs.replace(
                status, details=msgspec.Raw(enc.encode({"name": ref.name, "kind": ref.resource}))
            )
        if is_long_running(verb, sub):
            t1 = t_us + 300 + int(rng.expovariate(1 / 2000))
            started = msgspec.structs.replace(
                first,
                stage="ResponseStarted",
                response_status=status,
                stage_timestamp=world.ts(t1),
                annotations=annotations,
            )
            emit(t1, started)
            if verb == "watch":
                dur = int(uri.rsplit("timeoutSeconds=", 1)[1].split("&", 1)[0]) * 1_000_000
            elif sub == "log":
                dur = int(rng.uniform(0.5, 120) * 1_000_000)
            else:
                dur = int(rng.uniform(5, 600) * 1_000_000)
            t2 = t1 + dur
        else:
            lat = 2_000 if verb == "get" else 8_000 if verb != "list" else 20_000
            t2 = t_us + 200 + int(rng.expovariate(1 / lat))
        done = msgspec.structs.replace(
            first,
            stage="ResponseComplete",
            response_status=status,
            request_object=UNSET if req_obj is None else msgspec.Raw(enc.encode(req_obj)),
            response_object=UNSET if resp_obj is None else msgspec.Raw(enc.encode(resp_obj)),
            stage_timestamp=world.ts(t2),
            annotations=annotations,
        )
        emit(t2, done)

    # Arrival sources: (time, order, kind, index, node).
    arrivals: list[tuple[int, int, int, int, int]] = []
    order = 0

    def schedule(t_us: int, kind: int, index: int, node_i: int) -> None:
        nonlocal order
        order += 1
        heapq.heappush(arrivals, (t_us, order, kind, index, node_i))

    period = int(_PERIOD_S * 1_000_000)
    for i in range(nodes):
        for k in range(len(_PERIODIC)):
            schedule(start_us + rng.randrange(period), 1, k, i)
    schedule(start_us + int(rng.expovariate(total_rate) * 1_000_000), 0, 0, 0)
    schedule(start_us + int(_ATTACK_EVERY_S / 3 * 1_000_000), 2, 0, 0)

    while arrivals:
        t_us, _, kind, index, node_i = heapq.heappop(arrivals)
        if t_us >= end_us:
            break
        while out and out[0][0] <= t_us:
            yield heapq.heappop(out)[2]
        if kind == 0:
            i = bisect.bisect_right(cum, rng.random() * total_rate)
            act = _MIX[min(i, len(_MIX) - 1)]
            request(t_us, act, rng.randrange(nodes))
            schedule(t_us + 1 + int(rng.expovariate(total_rate) * 1_000_000), 0, 0, 0)
        elif kind == 1:
            request(t_us, _PERIODIC[index], node_i)
            schedule(t_us + period + rng.randrange(-50_000, 50_000), 1, index, node_i)
        else:
            technique, act = _ATTACKS[index % len(_ATTACKS)]
            request(t_us, act, 0, technique)
            schedule(t_us + int(_ATTACK_EVERY_S * 1_000_000), 2, index + 1, 0)
    while out and out[0][0] < end_us:
        yield heapq.heappop(out)[2]


_PERIODIC: Final = (
    _Act(0, "node", "update", "coordination.k8s.io/v1/leases", "", "kube-node-lease", "@"),
    _Act(0, "node", "patch", "v1/nodes", "status", "", "@"),
)

_ATTACKS: Final = (
    ("read-secrets", _Act(0, "attacker", "list", "v1/secrets")),
    ("exec-into-container", _Act(0, "attacker", "get", "v1/pods", "exec", "kube-system", "~")),
    (
        "privileged-role-binding",
        _Act(0, "attacker", "create", "rbac.authorization.k8s.io/v1/clusterrolebindings"),
    ),
    ("privileged-container", _Act(0, "attacker", "create", "v1/pods", "", "default")),
)
