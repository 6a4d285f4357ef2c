"""detect and detections list from the outside."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetrail.cli import main
from tests.lake.conftest import event


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.log"
    exec_ref = {"resource": "pods", "subresource": "exec", "namespace": "prod", "name": "db"}
    path.write_bytes(
        b"\n".join(
            [
                event("e1", verb="get", objectRef=exec_ref, stage="ResponseStarted"),
                event("e1", verb="get", objectRef=exec_ref),
                event("ok", verb="get"),
                b"{not json",
            ]
        )
        + b"\n"
    )
    return path


def test_detect_files_sentences_and_json(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    code, out, err = run(capsys, "detect", str(log))
    assert code == 0
    assert out.splitlines() == [
        "MEDIUM   pod-exec: 2026-11-26 10:15:00Z alice ran a command in pod prod/db from "
        "10.0.0.1 using kubectl/v1.30.0 — allowed"
    ]
    assert "1 malformed" in err
    assert "1 finding(s) from 53 rule(s) and 4 correlation(s): 1 medium" in err
    code, out, _ = run(capsys, "detect", str(log), "-o", "json")
    (finding,) = json.loads(out)
    assert finding["rule"] == "pod-exec"
    assert finding["techniques"] == ["exec-into-container", "attach-to-container"]
    assert finding["audit_id"] == "e1"
    assert finding["source"] == f"{log}:1"  # the first stage fired: its file and line


def test_detect_sarif(capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "detect", str(log), "-o", "sarif")
    assert code == 0
    doc = json.loads(out)
    assert doc["version"] == "2.1.0"
    (run_,) = doc["runs"]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "kubetrail"
    assert len(driver["rules"]) == 57  # 53 rules and 4 correlations, each described
    (result,) = run_["results"]
    assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"] == "pod-exec"
    assert result["level"] == "warning"  # medium
    assert result["properties"]["sigma-level"] == "medium"
    assert result["message"]["text"].startswith("2026-11-26 10:15:00Z alice ran a command")
    (location,) = result["locations"]
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": str(log)},
        "region": {"startLine": 1},
    }
    assert location["logicalLocations"] == [{"name": "e1", "kind": "auditID"}]
    assert "T1609" in driver["rules"][result["ruleIndex"]]["properties"]["tags"]
    # From the lake: the same result, from the provenance the lake keeps.
    lake = str(tmp_path / "lake")
    assert main(["ingest", str(log), "--lake", lake]) == 0
    capsys.readouterr()
    _, out, _ = run(capsys, "detect", "--lake", lake, "-o", "sarif")
    (from_lake,) = json.loads(out)["runs"][0]["results"]
    assert from_lake["properties"].pop("cluster") == "default"  # the lake knows the cluster
    assert from_lake["partialFingerprints"] == {"auditID/v1": "default/e1"}
    for key in ("properties", "partialFingerprints"):
        del from_lake[key], result[key]
    assert from_lake == result


def test_detect_lake_and_fail_on(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path
) -> None:
    lake = str(tmp_path / "lake")
    assert main(["ingest", str(log), "--lake", lake]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "detect", "--lake", lake, "-o", "jsonl", "--fail-on", "medium")
    assert code == 1
    assert [json.loads(line)["rule"] for line in out.splitlines()] == ["pod-exec"]
    code, out, _ = run(capsys, "detect", "--lake", lake, "--min-level", "high")
    assert (code, out) == (0, "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give audit log files"),
        (["x.log", "--lake", "y"], "give audit log files"),
        (["x.log", "--since", "1h"], "--since goes with --lake"),
        (["x.log", "--engine", "spark"], "--engine and --spark-* go with --lake"),
    ],
)
def test_detect_usage_errors(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run(capsys, "detect", *args)
    assert code == 2
    assert message in err


def test_detections_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "detections", "list")
    assert code == 0
    assert out.splitlines()[1].split()[:2] == ["binding-to-public-groups", "critical"]
    assert "53 rules and 4 correlations covering 49 catalogue techniques" in err
    code, out, _ = run(capsys, "detections", "list", "-o", "json")
    names = {r["name"] for r in json.loads(out)}
    assert {"pod-exec", "privileged-container"} <= names
