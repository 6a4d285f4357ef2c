"""Fixtures for deploy: a node's directories in a temporary tree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
STOCK = DATA / "kube-apiserver-v1.30.yaml"
ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "src" / "kubetrail" / "data" / "policies" / "baseline.yaml"


class Node:
    """/etc/kubernetes/manifests, the policy and log directories, backups — under tmp."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifests = root / "etc/kubernetes/manifests"
        self.manifests.mkdir(parents=True)
        self.manifest = self.manifests / "kube-apiserver.yaml"
        shutil.copy(STOCK, self.manifest)
        self.policy_path = root / "etc/kubernetes/audit/policy.yaml"
        self.log_path = root / "var/log/kubernetes/audit/audit.log"
        self.backup_dir = root / "etc/kubernetes/kubetrail-backups"

    def options(self, **kw: object) -> object:
        from kubetrail.deploy.kubeadm import Options

        base: dict[str, object] = {
            "policy_path": str(self.policy_path),
            "log_path": str(self.log_path),
            "backup_dir": str(self.backup_dir),
        }
        base.update(kw)
        return Options(**base)  # type: ignore[arg-type]

    def cli_args(self) -> list[str]:
        return [
            "--manifest",
            str(self.manifest),
            "--policy-path",
            str(self.policy_path),
            "--log-path",
            str(self.log_path),
            "--backup-dir",
            str(self.backup_dir),
        ]

    def manifests_listing(self) -> list[str]:
        return sorted(p.name for p in self.manifests.iterdir())


@pytest.fixture
def node(tmp_path: Path) -> Node:
    return Node(tmp_path)
