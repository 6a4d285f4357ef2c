"""``kubetrail deploy check``: audit an existing control plane's audit configuration.

Failures (exit 1): the CIS Kubernetes Benchmark checks on audit-log flags, mounts, and the
policy's validity. Information: the policy's lint findings and coverage summary. With several
manifests (one per control-plane node of an HA cluster), the policy hashes must agree; with a
kubeadm config file, the manifest must agree with its ClusterConfiguration (else the next
``kubeadm upgrade`` silently undoes the audit settings).

The policy path in the manifest is a path *inside* the API server container: it is mapped
through the hostPath mount that holds it to the host file, which is what is read (deploy check
runs on the control-plane node, or on a copy of its files).
"""

from __future__ import annotations

import hashlib
import posixpath
from pathlib import Path
from typing import Final, Literal

import msgspec

from kubetrail.deploy.manifest import (
    FORBIDDEN_MOUNTS,
    POLICY_HASH_ANNOTATION,
    Manifest,
    normal_dir,
)
from kubetrail.errors import DeployError, KubetrailError
from kubetrail.policy.validate import LATEST, KubeVersion

CIS_BENCHMARK: Final = "CIS Kubernetes Benchmark v1.12"
Status = Literal["pass", "fail", "info"]

# (id, flag, minimum or None for "set", title) — CIS Kubernetes Benchmark v1.12, section 1.2.
CIS_CHECKS: Final = (
    ("1.2.16", "audit-log-path", None, "Ensure that the --audit-log-path argument is set"),
    ("1.2.17", "audit-log-maxage", 30, "Ensure --audit-log-maxage is set to 30 or as appropriate"),
    (
        "1.2.18",
        "audit-log-maxbackup",
        10,
        "Ensure --audit-log-maxbackup is set to 10 or as appropriate",
    ),
    (
        "1.2.19",
        "audit-log-maxsize",
        100,
        "Ensure --audit-log-maxsize is set to 100 or as appropriate",
    ),
)


class Check(msgspec.Struct, frozen=True, kw_only=True):
    """One result: ``id`` is a CIS number or a kubetrail check name."""

    id: str
    status: Status
    title: str
    detail: str = ""
    manifest: str = ""


class CheckReport(msgspec.Struct, kw_only=True):
    benchmark: str = CIS_BENCHMARK
    manifests: list[str]
    checks: list[Check]
    policy_sha256: dict[str, str | None]  # manifest -> hash of the policy it points to

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]


def _host_path(manifest: Manifest, container_path: str) -> tuple[str | None, str]:
    """Map a container path to the host through its hostPath mount: (host path, why not)."""
    found = manifest.mount_for(normal_dir(container_path))
    if found is None:
        return None, f"{container_path} is on no volume mount: the API server cannot see it"
    mount, volume = found
    host = (volume or {}).get("hostPath") if isinstance(volume, dict) else None
    if not isinstance(host, dict):
        return None, f"{container_path} is on volume {mount.get('name')!r}, not a hostPath"
    rel = posixpath.relpath(normal_dir(container_path), normal_dir(str(mount["mountPath"])))
    base = str(host.get("path", ""))
    return (base if rel == "." else posixpath.join(base, rel)), ""


def check_manifest(
    path: str,
    *,
    kube_version: KubeVersion = LATEST,
    lint: bool = True,
) -> tuple[list[Check], str | None]:
    """The checks of one manifest, and the SHA-256 of the policy file it points to."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DeployError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    manifest = Manifest(text, path)
    flags = manifest.flags()
    checks: list[Check] = []

    def add(id_: str, status: Status, title: str, detail: str = "") -> None:
        checks.append(Check(id=id_, status=status, title=title, detail=detail, manifest=path))

    for cis_id, flag, minimum, title in CIS_CHECKS:
        value = flags.get(flag)
        if value is None:
            add(f"CIS {cis_id}", "fail", title, f"--{flag} is not set")
        elif minimum is None:
            ok = bool(value)
            add(f"CIS {cis_id}", "pass" if ok else "fail", title, f"--{flag}={value}")
        else:
            try:
                number = int(value)
            except ValueError:
                add(f"CIS {cis_id}", "fail", title, f"--{flag}={value} is not a number")
                continue
            ok = number >= minimum
            detail = f"--{flag}={value}" + ("" if ok else f" (< {minimum})")
            add(f"CIS {cis_id}", "pass" if ok else "fail", title, detail)

    # Mounts: nothing audit-related mounted too broadly.
    for volume in manifest.volumes():
        host = volume.get("hostPath") if isinstance(volume, dict) else None
        if isinstance(host, dict) and normal_dir(str(host.get("path", ""))) in FORBIDDEN_MOUNTS:
            add(
                "mounts",
                "fail",
                "No host directory mounted whole that exposes the node",
                f"volume {volume.get('name')!r} mounts {host.get('path')} (use a subdirectory)",
            )

    # The log directory survives pod restarts: on a writable hostPath.
    log_path = flags.get("audit-log-path")
    if log_path and log_path != "-":
        host, why = _host_path(manifest, posixpath.dirname(log_path))
        found = manifest.mount_for(normal_dir(posixpath.dirname(log_path)))
        if host is None:
            add("log-dir", "fail", "The audit log is on a hostPath (it survives restarts)", why)
        elif found is not None and found[0].get("readOnly"):
            add(
                "log-dir",
                "fail",
                "The audit log is on a hostPath (it survives restarts)",
                f"the mount of {posixpath.dirname(log_path)} is read-only",
            )
        else:
            add("log-dir", "pass", "The audit log is on a hostPath (it survives restarts)", host)
    elif log_path == "-":
        add("log-dir", "info", "The audit log goes to stdout (--audit-log-path=-)", "")

    # The policy: set, visible inside the pod, valid.
    policy_digest: str | None = None
    policy_flag = flags.get("audit-policy-file")
    if not policy_flag:
        add("policy", "fail", "An audit policy is configured", "--audit-policy-file is not set")
        return checks, None
    host, why = _host_path(manifest, policy_flag)
    if host is None:
        add("policy", "fail", "The policy file is inside a mounted volume", why)
        return checks, None
    add("policy-mount", "pass", "The policy file is inside a mounted volume", host)
    try:
        data = Path(host).read_bytes()
    except OSError as exc:
        add("policy", "fail", "The policy file exists and is valid", f"{host}: {exc.strerror}")
        return checks, None
    policy_digest = hashlib.sha256(data).hexdigest()
    annotated = manifest.annotation(POLICY_HASH_ANNOTATION)
    if annotated is not None and annotated != policy_digest:
        add(
            "policy-hash",
            "fail",
            "The running API server loaded the policy on disk",
            f"{POLICY_HASH_ANNOTATION} is {annotated[:12]}… but {host} hashes to "
            f"{policy_digest[:12]}…: the policy changed after the last restart, and the "
            "API server still runs the old one (run `kubetrail deploy kubeadm` again)",
        )
    from kubetrail.policy.load import parse_policy

    try:
        loaded = parse_policy(data, source=host, kube_version=kube_version)
    except KubetrailError as exc:
        diags = getattr(exc, "diagnostics", [])
        detail = "; ".join(d.render() for d in diags if d.severity == "error") or str(exc)
        add("policy", "fail", "The policy file exists and is valid", detail)
        return checks, policy_digest
    add("policy", "pass", "The policy file exists and is valid", f"{host} ({len(data):,} bytes)")
    if lint:
        from kubetrail.catalog.techniques import load_techniques
        from kubetrail.policy.coverage import coverage
        from kubetrail.policy.lint.registry import RULES
        from kubetrail.policy.lint.runner import lint_bytes

        findings = lint_bytes(data, source=host, rules=RULES, kube_version=kube_version)
        by_severity: dict[str, int] = {}
        for finding in findings:
            by_severity[finding.severity] = by_severity.get(finding.severity, 0) + 1
        summary = ", ".join(f"{n} {sev}" for sev, n in sorted(by_severity.items())) or "none"
        add("lint", "info", "Lint findings (kubetrail policy lint)", summary)
        for finding in findings:
            add(
                finding.code,
                "info",
                finding.message,
                f"{host}:{finding.location.line or '?'} ({finding.severity})",
            )
        result = coverage(loaded.policy, load_techniques(), source=host)
        counts = result.summary()
        add(
            "coverage",
            "info",
            "Technique coverage (kubetrail policy coverage)",
            f"{result.percent():.0f}% covered — "
            + ", ".join(f"{n} {status}" for status, n in counts.items()),
        )
    return checks, policy_digest


def check(
    manifests: list[str],
    *,
    kubeadm_config: str | None = None,
    kube_version: KubeVersion = LATEST,
    lint: bool = True,
) -> CheckReport:
    """Check one or more manifests (HA: one per control-plane node)."""
    from kubetrail.deploy.kubeadm import cluster_configuration_args

    checks: list[Check] = []
    hashes: dict[str, str | None] = {}
    for path in manifests:
        found, digest = check_manifest(path, kube_version=kube_version, lint=lint)
        checks.extend(found)
        hashes[path] = digest
    if len(manifests) > 1:
        distinct = set(hashes.values())
        same = len(distinct) == 1 and None not in distinct
        detail = ", ".join(f"{p}: {(h or 'unreadable')[:12]}" for p, h in hashes.items())
        checks.append(
            Check(
                id="ha-policy",
                status="pass" if same else "fail",
                title="Every control-plane node runs the same policy",
                detail=detail,
            )
        )
    if kubeadm_config is not None:
        try:
            text = Path(kubeadm_config).read_text(encoding="utf-8")
        except OSError as exc:
            raise DeployError(f"{kubeadm_config}: cannot read: {exc.strerror}") from exc
        wanted = cluster_configuration_args(text, kubeadm_config)
        for path in manifests:
            flags = Manifest(Path(path).read_text(encoding="utf-8"), path).flags()
            audit = {k: v for k, v in flags.items() if k.startswith("audit-")}
            if wanted is None:
                checks.append(
                    Check(
                        id="kubeadm-drift",
                        status="fail",
                        title="The ClusterConfiguration keeps the audit settings",
                        detail=f"{kubeadm_config} has no ClusterConfiguration",
                        manifest=path,
                    )
                )
                continue
            configured = {k: v for k, v in wanted.items() if k.startswith("audit-")}
            drift = sorted(
                f"--{k}: manifest {audit.get(k, '(unset)')}, kubeadm {configured.get(k, '(unset)')}"
                for k in set(audit) | set(configured)
                if audit.get(k) != configured.get(k)
            )
            checks.append(
                Check(
                    id="kubeadm-drift",
                    status="fail" if drift else "pass",
                    title="The ClusterConfiguration keeps the audit settings (kubeadm upgrade)",
                    detail="; ".join(drift) if drift else "the audit flags agree",
                    manifest=path,
                )
            )
    return CheckReport(manifests=list(manifests), checks=checks, policy_sha256=hashes)
