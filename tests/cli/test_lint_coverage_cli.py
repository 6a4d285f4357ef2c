"""``kubetrail policy lint`` and ``kubetrail policy coverage`` as users run them, and
snapshots of both for every policy of the corpus."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from kubetrail.cli import main

SNAPSHOTS = Path(__file__).parent.parent / "policy" / "snapshots"
UPDATE = os.environ.get("KUBETRAIL_UPDATE_SNAPSHOTS") == "1"
POLICY = textwrap.dedent(
    """\
    apiVersion: audit.k8s.io/v1
    kind: Policy
    rules:
    - level: Metadata
      verbs: [get]
      resources: [{resources: [secrets]}]
    - level: None
      userGroups: [system:authenticated]
    """
)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(POLICY)
    return path


# -- lint ---------------------------------------------------------------------------------------


def test_lint_text_and_exit_code(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["policy", "lint", str(policy)], capsys)
    assert code == 1
    assert f"{policy}:4:3: KT104 [warning]" in out
    assert "(rules[0])" in out
    assert "findings in 1 file(s)" in out


def test_lint_fail_on_and_select(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["policy", "lint", "--fail-on", "error", str(policy)], capsys)[0] == 0
    code, out, _ = run(["policy", "lint", "--select", "KT2", str(policy)], capsys)
    assert "KT104" not in out
    assert "KT1" not in out.replace("KT1 ", "")
    code, out, _ = run(
        ["policy", "lint", "--ignore", "KT1", "--ignore", "KT2", str(policy)], capsys
    )
    assert code == 0
    assert "No findings" in out


def test_lint_unknown_selector_is_a_usage_error(
    policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["policy", "lint", "--select", "KT9", str(policy)], capsys)
    assert code == 2
    assert "KT9" in err


def test_lint_inline_ignore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        POLICY.replace("- level: Metadata\n", "- level: Metadata  # kubetrail: ignore[KT104]\n")
    )
    _, out, _ = run(["policy", "lint", str(path)], capsys)
    assert "KT104" not in out
    path.write_text("# kubetrail: ignore-file[KT104, KT107, KT109]\n" + POLICY)
    _, out, _ = run(["policy", "lint", str(path)], capsys)
    assert "KT104" not in out
    assert "KT107" not in out


def test_lint_json_sarif_github(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["policy", "lint", "-o", "json", str(policy)], capsys)
    doc = json.loads(out)
    assert doc["summary"]["warning"] >= 1
    first = doc["findings"][0]
    assert {"code", "name", "severity", "message", "location"} <= set(first)
    _, out, _ = run(["policy", "lint", "--format", "sarif", str(policy)], capsys)
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    run_ = sarif["runs"][0]
    assert {r["id"] for r in run_["tool"]["driver"]["rules"]} >= {"KT001", "KT104"}
    region = run_["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] >= 1
    _, out, _ = run(["policy", "lint", "--format", "github", str(policy)], capsys)
    assert out.startswith("::warning file=")
    assert "title=KT" in out


def test_lint_list_and_explain(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["policy", "lint", "--list-rules"], capsys)
    assert code == 0
    assert len(out.splitlines()) >= 15
    code, out, _ = run(["policy", "lint", "--explain", "kt005"], capsys)
    assert code == 0
    assert out.startswith("KT005 (shadowed-rule)")
    assert "## Why is this bad?" in out
    assert run(["policy", "lint", "--explain", "KT999"], capsys)[0] == 2


def test_lint_invalid_and_unreadable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: audit.k8s.io/v1\nrules:\n- level: Loud\n")
    code, out, _ = run(["policy", "lint", str(bad), str(tmp_path / "missing.yaml")], capsys)
    assert code == 1
    assert "KT001 [error]" in out
    assert 'rules[0].level: Unsupported value: "Loud"' in out


# -- coverage -----------------------------------------------------------------------------------


def test_coverage_json_shape(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["policy", "coverage", str(policy), "--format", "json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == ["policy", "summary", "techniques"]
    assert doc["policy"] == str(policy)
    assert set(doc["summary"]) == {"covered", "partial", "missed", "unsafe"}
    tech = doc["techniques"][0]
    assert list(tech) == ["id", "name", "status", "variants"]
    assert list(tech["variants"][0]) == [
        "verb",
        "apiGroup",
        "resource",
        "subresource",
        "user",
        "groups",
        "level",
        "omitStages",
        "needed",
        "logged",
        "sufficient",
    ]
    read = next(t for t in doc["techniques"] if t["id"] == "read-secrets")
    verbs = {(v["verb"], v["user"]): v for v in read["variants"] if v["resource"] == "secrets"}
    assert verbs[("get", "alice")]["level"] == "Metadata"
    assert verbs[("list", "alice")]["level"] == "None"  # kubectl get secrets is a list
    assert read["status"] == "partial"


def test_coverage_fail_under(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["policy", "coverage", str(policy), "--fail-under", "90"], capsys)[0] == 1
    assert run(["policy", "coverage", str(policy), "--fail-under", "0"], capsys)[0] == 0


@pytest.mark.parametrize(
    "profile",
    [
        "gke",
        "eks",
        "openshift-default",
        "openshift-writerequestbodies",
        "openshift-allrequestbodies",
        "aks-kube-audit",
        "aks-kube-audit-admin",
    ],
)
def test_coverage_profiles(profile: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["policy", "coverage", "--profile", profile, "-o", "json"], capsys)
    assert code == 0
    assert json.loads(out)["policy"] == f"profile:{profile}"


def test_aks_admin_misses_secret_reads(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(
        ["policy", "coverage", "--profile", "aks-kube-audit-admin", "-o", "json"], capsys
    )
    read = next(t for t in json.loads(out)["techniques"] if t["id"] == "read-secrets")
    assert read["status"] == "partial"  # watch is still there; get and list are not


def test_coverage_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["policy", "coverage", "--profile", "nope"], capsys)
    assert code == 1
    assert "known profiles: aks-kube-audit" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: audit.k8s.io/v1beta1\nrules:\n- level: None\n")
    code, _, err = run(["policy", "coverage", str(bad)], capsys)
    assert code == 1
    assert "v1beta1" in err
    assert "Traceback" not in err
    assert run(["policy", "coverage"], capsys)[0] == 2


# -- snapshots of the corpus -------------------------------------------------------------------


def _snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if UPDATE or not path.exists():
        path.write_text(text)
        if not UPDATE:
            pytest.fail(f"snapshot {name} was missing and has been written; review it")
    assert text == path.read_text(), f"{name} differs (KUBETRAIL_UPDATE_SNAPSHOTS=1 to accept)"


CORPUS_POLICIES = [
    "eks-best-practices",
    "falco-k8saudit",
    "gce-gke-configure-helper",
    "k8s-docs-example",
    "kubespray-default",
    "openshift-allrequestbodies",
    "openshift-default",
    "openshift-writerequestbodies",
    "rke2-default",
]


@pytest.mark.parametrize("name", CORPUS_POLICIES)
def test_corpus_snapshots(name: str, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(corpus / "policies" / f"{name}.yaml")
    _, lint_out, _ = run(["policy", "lint", path], capsys)
    _snapshot(f"{name}.lint.txt", lint_out.replace(str(corpus), "<corpus>"))
    code, cov_out, _ = run(["policy", "coverage", path], capsys)
    if name == "eks-best-practices":
        assert code == 1  # v1beta1: refused, with the validator's message
        return
    _snapshot(f"{name}.coverage.txt", cov_out.replace(str(corpus), "<corpus>"))
