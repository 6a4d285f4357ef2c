"""The deploy commands from the outside: dry run, idempotence, refusals, other distributions."""

from __future__ import annotations

import yaml
from click.testing import CliRunner

from kubetrail.cli import cli, main

from .conftest import BASELINE, STOCK, Node


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_dry_run_prints_the_diff_and_changes_nothing(node: Node) -> None:
    code, out, err = run(
        "deploy", "kubeadm", *node.cli_args(), "--policy", str(BASELINE), "--dry-run"
    )
    assert code == 0
    assert out.startswith(f"--- {node.manifest}\n+++ {node.manifest}\n")
    assert "+    - --audit-log-maxage=30\n" in out
    assert "dry run: nothing written" in err
    assert node.manifest.read_text() == STOCK.read_text()
    assert not node.policy_path.exists()
    assert not node.backup_dir.exists()


def test_deploy_twice_second_time_nothing_to_change(node: Node) -> None:
    args = ["deploy", "kubeadm", *node.cli_args(), "--policy", str(BASELINE)]
    code, out, err = run(*args)
    assert code == 0
    assert "backup: " in err
    assert "apiServer:" in err  # the kubeadm ClusterConfiguration patch
    code, out, err = run(*args)
    assert (code, out) == (0, "")
    assert "nothing to change" in err


def test_invalid_policy_exit_1_with_field_path(node: Node, tmp_path: object) -> None:
    from pathlib import Path

    bad = Path(str(tmp_path)) / "bad.yaml"
    bad.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- verbs: [get]\n")
    status = main(["deploy", "kubeadm", *node.cli_args(), "--policy", str(bad)])
    assert status == 1
    assert node.manifest.read_text() == STOCK.read_text()


def test_not_a_pod_exit_1(node: Node) -> None:
    node.manifest.write_text("kind: ConfigMap\n")
    assert main(["deploy", "kubeadm", *node.cli_args(), "--policy", str(BASELINE)]) == 1
    assert node.manifest.read_text() == "kind: ConfigMap\n"


def test_kubeadm_config_file_written(node: Node, tmp_path: object) -> None:
    from pathlib import Path

    config = Path(str(tmp_path)) / "kubeadm-config.yaml"
    code, _, err = run(
        "deploy",
        "kubeadm",
        *node.cli_args(),
        "--policy",
        str(BASELINE),
        "--kubeadm-config",
        str(config),
    )
    assert code == 0, err
    doc = yaml.safe_load(config.read_text())
    assert doc["kind"] == "ClusterConfiguration"
    args = {a["name"]: a["value"] for a in doc["apiServer"]["extraArgs"]}
    assert args["audit-log-maxbackup"] == "10"
    code, out, _ = run(
        "deploy",
        "check",
        "--manifest",
        str(node.manifest),
        "--kubeadm-config",
        str(config),
        "--no-lint",
    )
    assert code == 0, out


def test_k3s_rke2_kind_minikube() -> None:
    code, out, _ = run("deploy", "k3s")
    assert code == 0
    args = yaml.safe_load(out)["kube-apiserver-arg"]
    assert "audit-policy-file=/var/lib/rancher/k3s/server/audit-policy.yaml" in args
    assert "audit-log-path=/var/lib/rancher/k3s/server/logs/audit.log" in args
    assert "audit-log-maxage=30" in args
    code, out, _ = run("deploy", "rke2", "--policy-path", "/etc/rancher/rke2/audit-policy.yaml")
    doc = yaml.safe_load(out)
    assert doc["audit-policy-file"] == "/etc/rancher/rke2/audit-policy.yaml"
    assert not any(a.startswith("audit-policy-file") for a in doc["kube-apiserver-arg"])
    code, out, _ = run("deploy", "kind", "--policy-host-path", "/home/me/policy.yaml")
    cluster = yaml.safe_load(out)
    node = cluster["nodes"][0]
    assert node["extraMounts"][0] == {
        "hostPath": "/home/me/policy.yaml",
        "containerPath": "/etc/kubernetes/audit/policy.yaml",
        "readOnly": True,
    }
    patch = yaml.safe_load(node["kubeadmConfigPatches"][0])
    assert patch["apiServer"]["extraArgs"]["audit-log-maxsize"] == "100"
    code, out, _ = run("deploy", "minikube")
    assert "--extra-config=apiserver.audit-policy-file=/etc/ssl/certs/audit-policy.yaml" in out
    assert "--extra-config=apiserver.audit-log-path=-" in out


def test_managed_providers_point_to_coverage_profiles() -> None:
    for provider in ("eks", "gke", "aks"):
        code, out, _ = run("deploy", provider)
        assert code == 0
        assert f"kubetrail policy coverage --profile {provider}" in out


def test_unsafe_mount_via_cli_exit_1(node: Node) -> None:
    status = main(
        [
            "deploy",
            "kubeadm",
            "--manifest",
            str(node.manifest),
            "--policy",
            str(BASELINE),
            "--log-path",
            "/var/log/audit.log",
            "--policy-path",
            str(node.policy_path),
            "--backup-dir",
            str(node.backup_dir),
        ]
    )
    assert status == 1
