"""deploy kubeadm: plan, backups, atomic writes, idempotence, refusals."""

from __future__ import annotations

import base64
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from kubetrail.deploy import kubeadm as kd
from kubetrail.deploy.check import check
from kubetrail.deploy.manifest import POLICY_HASH_ANNOTATION, Manifest
from kubetrail.errors import DeployError, PolicyError

from .conftest import BASELINE, STOCK, Node

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


def deploy(node: Node, policy: Path = BASELINE, **kw: object) -> kd.Plan:
    plan = kd.plan(str(node.manifest), str(policy), node.options(**kw))  # type: ignore[arg-type]
    kd.write(plan, NOW)
    return plan


def test_seed_case_stock_kubeadm_manifest_passes_check_after_deploy(node: Node) -> None:
    before = check([str(node.manifest)], lint=False)
    assert {c.id for c in before.failed} >= {"CIS 1.2.16", "CIS 1.2.17", "policy"}
    plan = deploy(node)
    after = check([str(node.manifest)])
    assert after.failed == [], [f"{c.id}: {c.detail}" for c in after.failed]
    # Only additions: nothing of the stock manifest was rewritten.
    removed = [
        line
        for line in plan.diff().splitlines()
        if line.startswith("-") and not line.startswith("---")
    ]
    assert removed == []
    doc = yaml.safe_load(node.manifest.read_text())
    command = doc["spec"]["containers"][0]["command"]
    assert f"--audit-policy-file={node.policy_path}" in command
    assert "--audit-log-maxbackup=10" in command
    mounts = {m["name"]: m for m in doc["spec"]["containers"][0]["volumeMounts"]}
    assert mounts["audit-policy"]["readOnly"] is True
    assert "readOnly" not in mounts["audit-log"]
    volumes = {v["name"]: v for v in doc["spec"]["volumes"]}
    assert volumes["audit-log"]["hostPath"]["type"] == "DirectoryOrCreate"
    assert node.policy_path.read_bytes() == BASELINE.read_bytes()
    assert stat.S_IMODE(node.policy_path.stat().st_mode) == 0o600


def test_backup_outside_manifests_dir_and_no_stray_files_left(node: Node) -> None:
    deploy(node)
    assert node.manifests_listing() == ["kube-apiserver.yaml"]  # no backup, no temp file
    backups = sorted(p.name for p in node.backup_dir.iterdir())
    assert backups == ["kube-apiserver.yaml.20261126T120000Z"]
    assert (node.backup_dir / backups[0]).read_text() == STOCK.read_text()


def test_second_run_changes_nothing(node: Node) -> None:
    deploy(node)
    text = node.manifest.read_text()
    plan = kd.plan(str(node.manifest), str(BASELINE), node.options())  # type: ignore[arg-type]
    assert not plan.changed
    assert plan.diff() == ""
    written = kd.write(plan, NOW)
    assert written.backups == []
    assert not written.manifest_written
    assert node.manifest.read_text() == text


def test_policy_only_change_changes_the_manifest(node: Node, tmp_path: Path) -> None:
    deploy(node)
    edited = tmp_path / "p2.yaml"
    edited.write_text(BASELINE.read_text() + "\n# tightened\n")
    plan = kd.plan(str(node.manifest), str(edited), node.options())  # type: ignore[arg-type]
    assert plan.manifest_changed  # the hash annotation: the kubelet will restart the pod
    diff = plan.diff()
    assert f"+    {POLICY_HASH_ANNOTATION}: {plan.policy_sha256}" in diff
    assert f"install {node.policy_path}" in diff


def test_invalid_policy_is_refused_and_nothing_touched(node: Node, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Loud\n")
    with pytest.raises(PolicyError) as info:
        kd.plan(str(node.manifest), str(bad), node.options())  # type: ignore[arg-type]
    assert any("rules[0].level" in d.render() for d in info.value.diagnostics)
    assert node.manifest.read_text() == STOCK.read_text()
    assert not node.policy_path.exists()


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"policy_path": "/etc/policy.yaml"}, "would mount /etc whole"),
        ({"log_path": "/var/log/audit.log"}, "would mount /var/log whole"),
        ({"log_path": "/audit.log"}, "would mount / whole"),
        ({"policy_path": "/root/p.yaml"}, "would mount /root whole"),
        ({"maxage": -1}, "maxage must be >= 0"),
        ({"log_format": "xml"}, "json or legacy"),
    ],
)
def test_unsafe_options_refused(node: Node, kw: dict[str, object], message: str) -> None:
    with pytest.raises(DeployError, match=message):
        kd.plan(str(node.manifest), str(BASELINE), node.options(**kw))  # type: ignore[arg-type]


def test_files_in_the_manifests_directory_refused(node: Node) -> None:
    with pytest.raises(DeployError, match="kubelet would try to run"):
        deploy(node, policy_path=str(node.manifests / "policy.yaml"))
    with pytest.raises(DeployError, match="second kube-apiserver"):
        deploy(node, backup_dir=str(node.manifests))
    assert node.manifests_listing() == ["kube-apiserver.yaml"]


def test_symlinked_manifest_refused(node: Node) -> None:
    real = node.root / "real.yaml"
    node.manifest.rename(real)
    node.manifest.symlink_to(real)
    with pytest.raises(DeployError, match="symlink"):
        deploy(node)
    assert real.read_text() == STOCK.read_text()


def test_concurrent_edit_detected_and_policy_restored(node: Node) -> None:
    plan = kd.plan(str(node.manifest), str(BASELINE), node.options())  # type: ignore[arg-type]
    node.manifest.write_text(STOCK.read_text() + "# someone else\n")
    with pytest.raises(DeployError, match="changed on disk"):
        kd.write(plan, NOW)
    assert node.manifest.read_text().endswith("# someone else\n")
    assert not node.policy_path.exists()  # installed, then taken back
    assert node.manifests_listing() == ["kube-apiserver.yaml"]


def test_unwritable_manifests_dir_leaves_everything_as_it_was(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = kd.plan(str(node.manifest), str(BASELINE), node.options())  # type: ignore[arg-type]
    if os.geteuid() != 0:
        node.manifests.chmod(0o500)
    else:  # root writes anywhere: make the rename into the manifests dir fail as EACCES would
        real_replace = os.replace

        def replace(src: str, dst: str) -> None:
            if os.path.dirname(dst) == str(node.manifests):
                raise PermissionError(13, "Permission denied")
            real_replace(src, dst)

        monkeypatch.setattr(kd.os, "replace", replace)
    try:
        with pytest.raises(DeployError, match="cannot write"):
            kd.write(plan, NOW)
    finally:
        node.manifests.chmod(0o755)
    assert node.manifest.read_text() == STOCK.read_text()
    assert node.manifests_listing() == ["kube-apiserver.yaml"]
    assert not node.policy_path.exists()


def test_existing_audit_flags_updated_not_duplicated(node: Node) -> None:
    node.manifest.write_text(
        STOCK.read_text().replace(
            "    - --secure-port=6443\n",
            "    - --secure-port=6443\n"
            "    - --audit-log-maxage=3\n"
            "    - --audit-log-path=/x/a.log\n",
        )
    )
    deploy(node)
    command = list(Manifest(node.manifest.read_text()).command)
    assert [c for c in command if c.startswith("--audit-log-maxage")] == ["--audit-log-maxage=30"]
    assert [c for c in command if c.startswith("--audit-log-path")] == [
        f"--audit-log-path={node.log_path}"
    ]


def test_webhook_backend(node: Node, tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    hook = kd.WebhookOptions(
        url="https://audit.example:8443/v1/audit",
        ca_file=str(ca),
        token_file=str(token),
        max_batch_bytes=4 * 1024 * 1024,
    )
    deploy(node, webhook=hook)
    flags = Manifest(node.manifest.read_text()).flags()
    config_path = node.policy_path.parent / "webhook.kubeconfig"
    assert flags["audit-webhook-config-file"] == str(config_path)
    assert flags["audit-webhook-mode"] == "batch"
    assert flags["audit-webhook-truncate-enabled"] == "true"
    assert flags["audit-webhook-truncate-max-batch-size"] == str(4 * 1024 * 1024)
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
    config = yaml.safe_load(config_path.read_text())
    cluster = config["clusters"][0]["cluster"]
    assert cluster["server"] == "https://audit.example:8443/v1/audit"
    assert base64.b64decode(cluster["certificate-authority-data"]) == ca.read_bytes()
    assert config["users"][0]["user"]["token"] == "s3cret"
    ctx = {c["name"]: c["context"] for c in config["contexts"]}[config["current-context"]]
    assert ctx == {"cluster": "kubetrail", "user": "kube-apiserver"}
    # Without the webhook again: its flags go away.
    deploy(node)
    assert not any(
        k.startswith("audit-webhook") for k in Manifest(node.manifest.read_text()).flags()
    )


@pytest.mark.parametrize(
    ("hook", "message"),
    [
        ({"url": "http://x/"}, "must be https"),
        ({"url": "https://x/", "max_batch_bytes": 10, "max_event_bytes": 100}, "max batch bytes"),
        ({"url": "https://x/", "client_cert_file": "c"}, "go together"),
    ],
)
def test_webhook_options_refused(node: Node, hook: dict[str, object], message: str) -> None:
    with pytest.raises(DeployError, match=message):
        deploy(node, webhook=kd.WebhookOptions(**hook))  # type: ignore[arg-type]


@pytest.mark.parametrize("api", ["kubeadm.k8s.io/v1beta3", "kubeadm.k8s.io/v1beta4"])
def test_kubeadm_config_merge_removes_drift(node: Node, tmp_path: Path, api: str) -> None:
    deploy(node)
    config = tmp_path / "kubeadm.yaml"
    extra = (
        "  extraArgs:\n    authorization-mode: Node,RBAC\n"
        if api.endswith("v1beta3")
        else "  extraArgs:\n  - name: authorization-mode\n    value: Node,RBAC\n"
    )
    config.write_text(
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n---\n"
        f"# cluster settings\napiVersion: {api}\nkind: ClusterConfiguration\napiServer:\n{extra}"
    )
    drift = check([str(node.manifest)], kubeadm_config=str(config), lint=False)
    assert [c.id for c in drift.failed] == ["kubeadm-drift"]
    merged = kd.merge_cluster_configuration(config.read_text(), str(config), node.options())  # type: ignore[arg-type]
    config.write_text(merged)
    assert "# cluster settings" in merged
    assert "authorization-mode" in merged
    assert check([str(node.manifest)], kubeadm_config=str(config), lint=False).failed == []
