"""kubetrail sidecar: a native streaming sidecar (tail -n+1 -F) sharing an emptyDir, cat loops
removed, comments kept, idempotent (layers-spec.md §5.2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from kubetrail.cli import main
from kubetrail.errors import InputError, UsageError
from kubetrail.layers.sidecar import add_sidecar

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web   # the web server
spec:
  containers:
  - name: nginx
    image: nginx:1.27
  - name: log-shipper
    image: busybox
    command: ["sh", "-c", "while true; do cat /var/log/nginx/access.log; sleep 30; done"]
"""


def load(text: str) -> dict[str, object]:
    return YAML(typ="safe").load(text)  # type: ignore[no-any-return]


def test_the_sidecar_and_its_volume() -> None:
    out, said = add_sidecar(POD, "/var/log/nginx/access.log")
    spec = load(out)["spec"]
    assert isinstance(spec, dict)
    (side,) = spec["initContainers"]
    assert side["restartPolicy"] == "Always"  # native: starts first, streams to the end
    assert side["command"] == ["tail", "-n+1", "-F", "/var/log/nginx/access.log"]
    assert side["volumeMounts"] == [
        {"name": "kubetrail-logs", "mountPath": "/var/log/nginx", "readOnly": True}
    ]
    assert spec["volumes"] == [{"name": "kubetrail-logs", "emptyDir": {"sizeLimit": "1Gi"}}]
    assert [c["name"] for c in spec["containers"]] == ["nginx"]  # the cat loop is gone
    assert spec["containers"][0]["volumeMounts"] == [
        {"name": "kubetrail-logs", "mountPath": "/var/log/nginx"}
    ]
    assert "# the web server" in out
    assert any("cat loop" in s for s in said)
    again, said_again = add_sidecar(out, "/var/log/nginx/access.log")
    assert again == out
    assert any("already there" in s for s in said_again)


def test_a_workload_and_an_existing_volume() -> None:
    deployment = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  template:
    spec:
      containers:
      - name: app
        image: app:1
        volumeMounts: [{name: logs, mountPath: /logs}]
      - name: other
        image: other:1
      volumes: [{name: logs, emptyDir: {}}]
"""
    out, _ = add_sidecar(deployment, "/logs/app.log", container="app")
    spec = load(out)["spec"]["template"]["spec"]  # type: ignore[index]
    assert spec["volumes"] == [{"name": "logs", "emptyDir": {}}]  # the app's own volume
    assert spec["initContainers"][0]["volumeMounts"][0]["name"] == "logs"
    with pytest.raises(UsageError, match="--container"):
        add_sidecar(deployment, "/logs/app.log", container="nope")
    with pytest.raises(UsageError, match="absolute"):
        add_sidecar(deployment, "app.log")
    with pytest.raises(InputError, match="no pod spec"):
        add_sidecar("kind: ConfigMap\n", "/logs/app.log")


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pod = tmp_path / "pod.yaml"
    pod.write_text(POD)
    out = tmp_path / "out.yaml"
    args = ["sidecar", "--pod", str(pod), "--log-file", "/var/log/nginx/access.log"]
    assert main([*args, "-o", str(out)]) == 0
    assert "tail" in out.read_text()
    assert "added the native sidecar" in capsys.readouterr().err
