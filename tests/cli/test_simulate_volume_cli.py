"""``policy simulate`` and ``policy volume`` end to end: one code path for the bytes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from kubetrail.cli import main

MF = [{"manager": "kubelet", "operation": "Update", "fieldsV1": {"f:status": {}}}]


def event(i: int, stage: str, **fields: object) -> str:
    base = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse",
        "auditID": f"id-{i}",
        "stage": stage,
        "requestReceivedTimestamp": f"2026-01-01T00:00:{i:02d}.000000Z",
        "stageTimestamp": f"2026-01-01T00:00:{i:02d}.000100Z",
    }
    return json.dumps({**base, **fields}, separators=(",", ":"))


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    lease = {
        "verb": "update",
        "user": {"username": "system:node:n1", "groups": ["system:nodes"]},
        "requestURI": "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1",
        "objectRef": {
            "resource": "leases",
            "namespace": "kube-node-lease",
            "name": "n1",
            "apiGroup": "coordination.k8s.io",
            "apiVersion": "v1",
        },
        "requestObject": {"kind": "Lease", "metadata": {"name": "n1", "managedFields": MF}},
        "responseObject": {"kind": "Lease", "metadata": {"name": "n1", "managedFields": MF}},
        "responseStatus": {"metadata": {}, "code": 200},
    }
    secrets = {
        "verb": "list",
        "requestURI": "/api/v1/secrets",
        "user": {"username": "alice"},
        "objectRef": {"resource": "secrets", "apiVersion": "v1"},
        "responseObject": {"kind": "SecretList", "items": [{"data": {"k": "<&>"}}]},
        "responseStatus": {"metadata": {}, "code": 200},
    }
    lines = []
    for i in range(20):
        fields = lease if i % 2 else secrets
        lines.append(
            event(
                i,
                "RequestReceived",
                **{
                    k: v for k, v in fields.items() if k not in ("responseObject", "responseStatus")
                },
            )
        )
        lines.append(event(i, "ResponseComplete", **fields))
    path = tmp_path / "sample.log.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n{broken\n")
    return path


@pytest.fixture
def policies(tmp_path: Path) -> tuple[Path, Path]:
    everything = tmp_path / "everything.yaml"
    everything.write_text("apiVersion: audit.k8s.io/v1\nrules:\n- level: RequestResponse\n")
    lean = tmp_path / "lean.yaml"
    lean.write_text(
        "apiVersion: audit.k8s.io/v1\nomitStages: [RequestReceived]\nomitManagedFields: true\n"
        "rules:\n- level: None\n  resources: [{group: coordination.k8s.io, resources: [leases]}]\n"
        "- level: Metadata\n  resources: [{resources: [secrets]}]\n- level: Request\n"
    )
    return everything, lean


def test_simulate_and_volume_agree(
    sample: Path, policies: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    everything, lean = policies
    sizes = {}
    for policy in (everything, lean):
        out = tmp_path / f"{policy.stem}.out"
        assert main(["policy", "simulate", str(policy), str(sample), "-o", str(out)]) == 0
        sizes[policy.name] = out.stat().st_size
        err = capsys.readouterr().err
        assert "1 malformed line" in err
        assert ":41:" in err  # the bad line's number
    assert (
        main(
            ["policy", "volume", str(everything), str(lean), "--sample", str(sample), "-o", "json"]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["sample"]["events"] == 40
    assert doc["sample"]["seconds"] == pytest.approx(19.0, abs=0.01)
    by_path = {p["path"]: p for p in doc["policies"]}
    for policy in (everything, lean):
        assert by_path[str(policy)]["bytes"] == sizes[policy.name]
    assert by_path[str(everything)]["events"] == 40
    assert by_path[str(lean)]["events"] == 10  # leases dropped, RequestReceived omitted
    assert [r["events"] for r in by_path[str(lean)]["rules"]] == [0, 10, 0]
    assert by_path[str(lean)]["bytes_per_day"] > 0
    assert by_path[str(lean)]["gzip_bytes"] > 0


def test_simulate_output_content(
    sample: Path, policies: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, lean = policies
    assert main(["policy", "simulate", str(lean), str(sample)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 10
    first = json.loads(out[0])
    assert first["level"] == "Metadata"
    assert "responseObject" not in first
    assert '"stage":"ResponseComplete"' in out[0]


def test_simulate_legacy_format(
    sample: Path, policies: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, lean = policies
    assert main(["policy", "simulate", str(lean), str(sample), "--format", "legacy"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    # RFC3339Nano drops a zero fraction entirely (and trailing zeros of any other).
    assert first == (
        '2026-01-01T00:00:00Z AUDIT: id="id-0" stage="ResponseComplete" ip="<unknown>" '
        'method="list" user="alice" groups="<none>" as="<self>" asgroups="<lookup>" '
        'user-agent="" namespace="<none>" uri="/api/v1/secrets" response="200"'
    )


def test_rfc3339nano() -> None:
    from kubetrail.policy.simulate import _rfc3339nano

    assert _rfc3339nano("2026-01-01T00:00:00.000100Z") == "2026-01-01T00:00:00.0001Z"
    assert _rfc3339nano("2026-01-01T00:00:00.000000Z") == "2026-01-01T00:00:00Z"
    assert _rfc3339nano(None) == "0001-01-01T00:00:00Z"


def test_empty_input_is_a_clear_error(
    tmp_path: Path, policies: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.log"
    empty.write_text("")
    assert main(["policy", "simulate", str(policies[0]), str(empty)]) == 1
    assert "no audit events" in capsys.readouterr().err
    assert main(["policy", "volume", str(policies[0]), "--sample", str(empty)]) == 1


def test_volume_from_the_lake_is_labelled_an_estimate(
    sample: Path, policies: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    everything, lean = policies
    lake = str(tmp_path / "lake")
    assert main(["ingest", str(sample), "--lake", lake]) == 0
    capsys.readouterr()
    args = ["policy", "volume", str(everything), str(lean), "--lake", lake]
    assert main([*args, "-o", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["estimated"] is True
    assert doc["sample"]["events"] == 40
    by_path = {p["path"]: p for p in doc["policies"]}
    assert by_path[str(lean)]["events"] == 10  # the same decisions as from the file
    # Secret values are redacted in the lake: the estimate is not the recording's size.
    assert by_path[str(everything)]["bytes"] > 0
    assert main(args) == 0
    assert "bytes are estimates" in capsys.readouterr().out
    window = [
        *args,
        "-o",
        "json",
        "--since",
        "2026-01-01T00:00:10Z",
        "--until",
        "2026-01-01T00:00:15Z",
    ]
    assert main(window) == 0
    assert json.loads(capsys.readouterr().out)["sample"]["events"] == 10
    assert main(["policy", "volume", str(lean), "--sample", str(sample), "--lake", lake]) == 2
    assert main(["policy", "volume", str(lean), "--sample", str(sample), "--since", "1h"]) == 2
