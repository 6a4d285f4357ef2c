"""The same audit configuration for other distributions, as the file or flags each one reads.

* k3s: the API server runs inside the k3s process, so no mounts: ``kube-apiserver-arg`` in
  ``/etc/rancher/k3s/config.yaml`` (or ``--kube-apiserver-arg`` flags);
* RKE2: ``audit-policy-file`` and ``kube-apiserver-arg`` in ``/etc/rancher/rke2/config.yaml``
  (RKE2 mounts the policy and log directories into its static pod itself);
* kind: a cluster config with ``kubeadmConfigPatches`` (apiServer extraArgs/extraVolumes) and
  the node's ``extraMounts`` that bring the policy from the host into the node container;
* minikube: ``--extra-config=apiserver.…`` flags, the policy synced into the VM through
  ``~/.minikube/files``.

Managed control planes (EKS, GKE, AKS) run a policy the provider chose; it cannot be changed.
"""

from __future__ import annotations

import io
from typing import Final

from kubetrail.deploy.kubeadm import Options
from kubetrail.errors import UsageError

# Where each distribution keeps these files by convention (policy, log), used unless given.
DEFAULT_PATHS: Final = {
    "k3s": (
        "/var/lib/rancher/k3s/server/audit-policy.yaml",
        "/var/lib/rancher/k3s/server/logs/audit.log",
    ),
    "rke2": ("/etc/rancher/rke2/audit-policy.yaml", "/var/lib/rancher/rke2/server/logs/audit.log"),
}

MANAGED: Final = {
    "eks": (
        "Amazon EKS runs its own audit policy; it cannot be changed. Enable the 'audit' log "
        "type of the cluster's control-plane logging to receive it in CloudWatch Logs. "
        "See what that policy logs and misses with:\n"
        "  kubetrail policy coverage --profile eks"
    ),
    "gke": (
        "Google GKE runs its own audit policy (Cloud Audit Logs: Admin Activity always, Data "
        "Access when enabled); it cannot be changed. See what it logs and misses with:\n"
        "  kubetrail policy coverage --profile gke"
    ),
    "aks": (
        "Azure AKS runs its own audit policy; it cannot be changed. Send the 'kube-audit' (or "
        "'kube-audit-admin') diagnostic category to Log Analytics or storage. See what it "
        "logs and misses with:\n"
        "  kubetrail policy coverage --profile aks"
    ),
}


def _dump(doc: object) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def _args(options: Options, *, skip_policy: bool = False) -> list[str]:
    flags = options.audit_flags()
    if skip_policy:
        flags.pop("audit-policy-file")
    return [f"{k}={v}" for k, v in flags.items()]


def k3s(options: Options) -> str:
    body = _dump({"kube-apiserver-arg": _args(options)})
    return (
        "# /etc/rancher/k3s/config.yaml (merge with what is there), then on each server:\n"
        f"#   install -D -m 0600 POLICY {options.policy_path}\n"
        "#   systemctl restart k3s\n"
        "# The API server runs inside the k3s process: no mounts are needed.\n" + body
    )


def rke2(options: Options) -> str:
    body = _dump(
        {
            "audit-policy-file": options.policy_path,
            "kube-apiserver-arg": _args(options, skip_policy=True),
        }
    )
    return (
        "# /etc/rancher/rke2/config.yaml (merge with what is there), then on each server:\n"
        f"#   install -D -m 0600 POLICY {options.policy_path}\n"
        "#   systemctl restart rke2-server\n"
        "# RKE2 mounts the policy file and the log directory into its kube-apiserver pod.\n" + body
    )


def kind(options: Options, policy_host_path: str) -> str:
    import posixpath

    policy_dir = posixpath.dirname(options.policy_path)
    log_dir = posixpath.dirname(options.log_path)
    flags = options.audit_flags()
    patch = _dump(
        {
            "kind": "ClusterConfiguration",
            "apiServer": {
                "extraArgs": flags,
                "extraVolumes": [
                    {
                        "name": "audit-policy",
                        "hostPath": policy_dir,
                        "mountPath": policy_dir,
                        "readOnly": True,
                        "pathType": "DirectoryOrCreate",
                    },
                    {
                        "name": "audit-log",
                        "hostPath": log_dir,
                        "mountPath": log_dir,
                        "readOnly": False,
                        "pathType": "DirectoryOrCreate",
                    },
                ],
            },
        }
    )
    doc = {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "nodes": [
            {
                "role": "control-plane",
                "kubeadmConfigPatches": [patch],
                "extraMounts": [
                    {
                        "hostPath": policy_host_path,
                        "containerPath": options.policy_path,
                        "readOnly": True,
                    }
                ],
            }
        ],
    }
    return (
        "# kind create cluster --config THIS_FILE\n"
        "# kind's config uses kubeadm v1beta3 (extraArgs as a map). The policy is copied from\n"
        "# the host into the node container by extraMounts, then mounted into the API server.\n"
        + _dump(doc)
    )


def minikube(options: Options) -> str:
    # minikube syncs ~/.minikube/files/<path> to <path> in the VM at start; /etc/ssl/certs is
    # already mounted into its kube-apiserver pod, so the policy needs no extra mount there.
    policy = "/etc/ssl/certs/audit-policy.yaml"
    lines = [
        "# Copy the policy where minikube syncs it into the node:",
        "mkdir -p ~/.minikube/files/etc/ssl/certs",
        "cp POLICY ~/.minikube/files/etc/ssl/certs/audit-policy.yaml",
        "minikube start \\",
        f"  --extra-config=apiserver.audit-policy-file={policy} \\",
    ]
    flags = options.audit_flags()
    flags.pop("audit-policy-file")
    # The log goes to the API server's stdout: minikube mounts no writable log directory.
    flags["audit-log-path"] = "-"
    for key in ("audit-log-maxage", "audit-log-maxbackup", "audit-log-maxsize"):
        flags.pop(key, None)
    items = list(flags.items())
    for i, (k, v) in enumerate(items):
        lines.append(f"  --extra-config=apiserver.{k}={v}" + (" \\" if i < len(items) - 1 else ""))
    lines.append("# Read the log with: kubectl logs -n kube-system kube-apiserver-minikube")
    return "\n".join(lines) + "\n"


def render(distro: str, options: Options, *, policy_host_path: str = "./audit-policy.yaml") -> str:
    """The configuration text for ``distro`` (or the explanation for a managed one)."""
    if distro in MANAGED:
        return MANAGED[distro] + "\n"
    if distro == "k3s":
        return k3s(options)
    if distro == "rke2":
        return rke2(options)
    if distro == "kind":
        return kind(options, policy_host_path)
    if distro == "minikube":
        return minikube(options)
    raise UsageError(f"unknown distribution {distro!r}")
