"""The round-trip manifest editor: only what must change changes."""

from __future__ import annotations

import pytest

from kubetrail.deploy.manifest import Manifest
from kubetrail.errors import DeployError

from .conftest import STOCK


def stock() -> str:
    return STOCK.read_text()


def test_unchanged_manifest_round_trips_byte_for_byte() -> None:
    assert Manifest(stock()).dump() == stock()


def test_comments_order_and_other_indentation_survive() -> None:
    text = (
        "# managed by hand\n"
        "apiVersion: v1\n"
        "kind: Pod\n"
        "metadata:\n"
        "  name: kube-apiserver  # the name\n"
        "spec:\n"
        "  containers:\n"
        "    - name: kube-apiserver\n"
        "      command:\n"
        "        - kube-apiserver\n"
        "        - --secure-port=6443  # keep\n"
    )
    m = Manifest(text)
    assert m.dump() == text
    m.set_flag("audit-log-maxage", "30")
    out = m.dump()
    assert out.startswith("# managed by hand\n")
    assert "        - --secure-port=6443  # keep\n" in out
    assert "        - --audit-log-maxage=30\n" in out


def test_set_flag_updates_in_place_and_never_duplicates() -> None:
    m = Manifest(stock())
    m.set_flag("audit-log-maxage", "7")
    m.set_flag("audit-log-path", "/var/log/a.log")
    m.set_flag("audit-log-maxage", "30")
    assert m.flags()["audit-log-maxage"] == "30"
    command = list(m.command)
    assert sum(c.startswith("--audit-log-maxage") for c in command) == 1
    # Added after the last audit flag, in the order given.
    assert command[-2:] == ["--audit-log-maxage=30", "--audit-log-path=/var/log/a.log"]


def test_repeated_and_two_item_flags_are_collapsed() -> None:
    text = stock().replace(
        "    - --secure-port=6443\n",
        "    - --secure-port=6443\n"
        "    - --audit-log-maxage\n    - '5'\n    - --audit-log-maxage=6\n",
    )
    m = Manifest(text)
    assert m.flags()["audit-log-maxage"] == "6"  # the last one wins, as in Go's flag package
    m.set_flag("audit-log-maxage", "30")
    assert [c for c in m.command if "maxage" in c] == ["--audit-log-maxage=30"]
    assert "'5'" not in m.dump()


def test_host_mount_names_do_not_clash_and_existing_volume_is_reused() -> None:
    text = stock().replace("name: ca-certs\n", "name: audit-policy\n")  # a clash, on purpose
    m = Manifest(text)
    name = m.ensure_host_mount(
        "audit-policy", "/etc/kubernetes/audit", read_only=True, path_type="DirectoryOrCreate"
    )
    assert name == "audit-policy-2"
    again = m.ensure_host_mount(
        "audit-policy", "/etc/kubernetes/audit/", read_only=True, path_type="DirectoryOrCreate"
    )
    assert again == "audit-policy-2"
    assert [v["name"] for v in m.volumes()].count("audit-policy-2") == 1
    assert [x["name"] for x in m.mounts()].count("audit-policy-2") == 1


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("kind: Pod", "kind: Deployment"), "expected a static Pod"),
        (
            lambda t: t.replace(
                "  hostNetwork: true\n",
                "  - name: sidecar\n    image: busybox\n  hostNetwork: true\n",
            ),
            "2 containers",
        ),
        (
            lambda t: t.replace("  - command:\n    - kube-apiserver\n", "  - args:\n    - x\n"),
            "command is missing",
        ),
        (
            lambda t: t.replace(
                "    image: registry", "    args:\n    - --v=2\n    image: registry"
            ),
            "args holds flags",
        ),
        (lambda t: t.replace("    - kube-apiserver\n", "    - etcd\n", 1), "not kube-apiserver"),
        (lambda t: t + "---\nkind: Pod\n", "one YAML document"),
        (lambda t: "spec: [\n", "not valid YAML"),
    ],
    ids=[
        "not-a-pod",
        "two-containers",
        "no-command",
        "flags-in-args",
        "not-apiserver",
        "two-docs",
        "bad-yaml",
    ],
)
def test_shapes_refused_with_a_clear_error(edit: object, message: str) -> None:
    with pytest.raises(DeployError, match=message):
        Manifest(edit(stock()), "m.yaml")  # type: ignore[operator]
