"""deploy check: CIS 1.2.16–1.2.19, mounts, policy validity and freshness, HA agreement."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kubetrail.cli import main
from kubetrail.deploy import kubeadm as kd
from kubetrail.deploy.check import check

from .conftest import BASELINE, Node

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


def deployed(node: Node, **kw: object) -> Node:
    kd.write(kd.plan(str(node.manifest), str(BASELINE), node.options(**kw)), NOW)  # type: ignore[arg-type]
    return node


def failed_ids(node: Node) -> list[str]:
    return [c.id for c in check([str(node.manifest)], lint=False).failed]


@pytest.mark.parametrize(
    ("flag", "value", "cis"),
    [
        ("audit-log-maxage", "29", "CIS 1.2.17"),
        ("audit-log-maxbackup", "9", "CIS 1.2.18"),
        ("audit-log-maxsize", "99", "CIS 1.2.19"),
        ("audit-log-maxsize", "big", "CIS 1.2.19"),
    ],
)
def test_cis_minimums(node: Node, flag: str, value: str, cis: str) -> None:
    deployed(node)
    text = node.manifest.read_text()
    old = next(line for line in text.splitlines() if f"--{flag}=" in line)
    node.manifest.write_text(text.replace(old, f"    - --{flag}={value}"))
    assert failed_ids(node) == [cis]


def test_policy_changed_on_disk_after_deploy_is_reported(node: Node) -> None:
    deployed(node)
    node.policy_path.write_text(BASELINE.read_text() + "\n# edited by hand\n")
    report = check([str(node.manifest)], lint=False)
    assert [c.id for c in report.failed] == ["policy-hash"]
    assert "still runs the old one" in report.failed[0].detail


def test_invalid_policy_on_disk_fails(node: Node) -> None:
    deployed(node)
    node.policy_path.write_text(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Loud\n"
    )
    report = check([str(node.manifest)], lint=False)
    bad = {c.id: c.detail for c in report.failed}
    assert "policy" in bad
    assert "rules[0].level" in bad["policy"]


def test_policy_outside_any_mount_and_missing_file(node: Node) -> None:
    deployed(node)
    text = node.manifest.read_text()
    node.manifest.write_text(
        text.replace(
            f"--audit-policy-file={node.policy_path}", "--audit-policy-file=/nowhere/p.yaml"
        )
    )
    report = check([str(node.manifest)], lint=False)
    assert [(c.id, "on no volume mount" in c.detail) for c in report.failed] == [("policy", True)]
    node.manifest.write_text(text)
    node.policy_path.unlink()
    assert failed_ids(node) == ["policy"]


def test_read_only_log_mount_and_broad_mount_fail(node: Node) -> None:
    deployed(node)
    text = node.manifest.read_text()
    log_dir = str(node.log_path.parent)
    text = text.replace(
        f"    - mountPath: {log_dir}\n      name: audit-log\n",
        f"    - mountPath: {log_dir}\n      name: audit-log\n      readOnly: true\n",
    )
    text = text.replace("      path: /etc/ssl/certs\n", "      path: /etc\n")
    node.manifest.write_text(text)
    assert sorted(failed_ids(node)) == ["log-dir", "mounts"]


def test_ha_nodes_must_agree(tmp_path: Path) -> None:
    a, b = Node(tmp_path / "a"), Node(tmp_path / "b")
    deployed(a)
    deployed(b)
    assert check([str(a.manifest), str(b.manifest)], lint=False).failed == []
    b.policy_path.write_text(BASELINE.read_text() + "\n# drift\n")
    ids = [c.id for c in check([str(a.manifest), str(b.manifest)], lint=False).failed]
    assert "ha-policy" in ids


def test_cli_check_text_json_and_exit_codes(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", "check", "--manifest", str(node.manifest), "--no-lint"]) == 1
    out = capsys.readouterr().out
    assert "CIS Kubernetes Benchmark v1.12" in out
    assert "FAIL CIS 1.2.16" in out
    deployed(node)
    assert main(["deploy", "check", "--manifest", str(node.manifest), "-o", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["benchmark"] == "CIS Kubernetes Benchmark v1.12"
    assert doc["failed"] == 0
    statuses = {c["id"]: c["status"] for c in doc["checks"]}
    assert statuses["CIS 1.2.19"] == "pass"
    assert statuses["coverage"] == "info"


def test_cli_fail_on_lint(node: Node, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loose = tmp_path / "loose.yaml"
    loose.write_text(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: RequestResponse\n"
    )
    kd.write(kd.plan(str(node.manifest), str(loose), node.options()), NOW)  # type: ignore[arg-type]
    args = ["deploy", "check", "--manifest", str(node.manifest)]
    assert main(args) == 0
    assert "INFO KT" in capsys.readouterr().out  # secrets at RequestResponse: shown as info
    assert main([*args, "--fail-on-lint"]) == 1
