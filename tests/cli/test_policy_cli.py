"""The ``kubetrail policy`` commands, run as a user runs them (in-process and as a process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kubetrail.cli import main

POLICY = textwrap.dedent(
    """\
    apiVersion: audit.k8s.io/v1
    kind: Policy
    omitStages: [RequestReceived]
    rules:
    - level: None
      users: ["system:kube-proxy"]
    - level: RequestResponse
      resources:
      - group: ""
        resources: ["pods/exec", "pods/attach"]
    - level: Metadata
      verbs: [get]
      resources:
      - group: ""
        resources: [secrets]
    - level: Request
      omitManagedFields: true
      resources:
      - group: ""
        resources: [configmaps]
    """
)


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def run(
    args: list[str], capsys: pytest.CaptureFixture[str], stdin: str | None = None
) -> tuple[int, str, str]:
    if stdin is not None:
        import io

        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()))
    try:
        code = main(args)
    finally:
        sys.stdin = sys.__stdin__
    out, err = capsys.readouterr()
    return code, out, err


def kubetrail(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "kubetrail"
    return subprocess.run(
        [str(exe), *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


# -- policy eval: the stable interface ----------------------------------------------------------


def test_eval_three_input_shapes_one_line_each(policy_file: Path) -> None:
    lines = [
        {"user": "alice", "groups": ["dev"], "verb": "get", "resource": "secrets", "name": "x"},
        {"method": "GET", "url": "/api/v1/namespaces/default/secrets", "user": "alice"},
        {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "verb": "create",
            "requestURI": "/api/v1/namespaces/default/pods/web/exec?command=sh",
            "user": {"username": "mallory", "groups": ["system:authenticated"]},
            "objectRef": {"resource": "pods", "namespace": "default", "name": "web"},
        },
        "not json",
        {"user": "system:kube-proxy", "verb": "watch", "resource": "endpoints"},
    ]
    stdin = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    proc = kubetrail("policy", "eval", str(policy_file), stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 5
    assert list(out[0]) == ["level", "omitStages", "omitManagedFields", "rule", "request"]
    assert out[0]["level"] == "Metadata"
    assert out[0]["rule"] == 2
    assert out[0]["omitStages"] == ["RequestReceived"]
    assert out[0]["request"] == {
        "user": "alice",
        "groups": ["dev"],
        "verb": "get",
        "namespace": "",
        "apiGroup": "",
        "apiVersion": "",
        "resource": "secrets",
        "subresource": "",
        "name": "x",
        "path": "",
        "resourceRequest": True,
    }
    # kubectl get secrets is a list: the get-only rule misses it.
    assert out[1]["level"] == "None"
    assert out[1]["rule"] is None
    assert out[1]["request"]["verb"] == "list"
    assert out[1]["request"]["path"] == "/api/v1/namespaces/default/secrets"
    assert out[2]["level"] == "RequestResponse"
    assert out[2]["request"]["subresource"] == "exec"
    assert out[2]["request"]["name"] == "web"
    assert set(out[3]) == {"error"}
    assert out[4] == {**out[4], "level": "None", "rule": 0}


def test_eval_input_file_and_error_lines(policy_file: Path, tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text('{"verb":"get","resource":"configmaps"}\n\n{"bogus": 1}\n[1,2]\n')
    proc = kubetrail("policy", "eval", str(policy_file), str(data))
    assert proc.returncode == 0
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 4
    assert out[0]["level"] == "Request"
    assert out[0]["omitManagedFields"] is True
    assert out[1] == {"error": "empty line"}
    assert "bogus" in out[2]["error"]
    assert "error" in out[3]


def test_eval_no_user_object(policy_file: Path) -> None:
    proc = kubetrail(
        "policy", "eval", str(policy_file), stdin='{"user":"","verb":"get","path":"/healthz"}\n'
    )
    out = json.loads(proc.stdout)
    assert out["request"]["user"] == ""
    assert out["level"] == "None"


def test_eval_with_invalid_policy_fails_before_reading(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: audit.k8s.io/v1\nrules:\n- verbs: [get]\n")
    proc = kubetrail("policy", "eval", str(bad), stdin="{}\n")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert f"{bad}:3:3: error: rules[0].level: Required value" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- policy validate ------------------------------------------------------------------------


def test_validate_valid_with_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("apiVersion: audit.k8s.io/v1\nrules:\n- level: None\n  resource: [pods]\n")
    code, out, err = run(["policy", "validate", str(path)], capsys)
    assert code == 0
    assert "valid" in out
    assert f"{path}:4:3: warning:" in err
    assert 'did you mean "resources"?' in err


def test_validate_reports_every_error_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("apiVersion: audit.k8s.io/v1\nrules:\n- level: Loud\n- verbs: [get]\n")
    code, out, err = run(["policy", "validate", str(path)], capsys)
    assert code == 1
    assert f'{path}:3:10: error: rules[0].level: Unsupported value: "Loud"' in err
    assert f"{path}:4:3: error: rules[1].level: Required value" in err
    assert "invalid" in out
    assert "loading audit policy file: [rules[0].level" in out


@pytest.mark.parametrize(
    "make",
    [
        lambda d: str(d / "missing.yaml"),
        lambda d: str(d),
        lambda d: (d / "junk").write_bytes(os.urandom(2000)) and str(d / "junk"),
    ],
    ids=["missing", "directory", "binary"],
)
def test_validate_never_tracebacks(tmp_path: Path, make: object) -> None:
    target = make(tmp_path)  # type: ignore[operator]
    proc = kubetrail("policy", "validate", target)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "invalid" in proc.stdout


def test_validate_json_and_kube_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        'apiVersion: audit.k8s.io/v1\nrules:\n- level: None\n  resources: [{group: "*"}]\n'
    )
    code, out, _ = run(["policy", "validate", "-o", "json", str(path)], capsys)
    assert code == 0
    assert json.loads(out)["valid"] is True
    code, out, err = run(
        ["policy", "validate", "--format", "json", "--kube-version", "1.35", str(path)], capsys
    )
    assert code == 1
    doc = json.loads(out)
    assert doc["kubeVersion"] == "1.35"
    (entry,) = doc["files"]
    assert entry["valid"] is False
    assert entry["diagnostics"][0]["location"]["field"] == "rules[0].resources.group"
    assert err == ""


def test_validate_corpus(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(str(p) for p in (corpus / "policies").glob("*.yaml"))
    code, out, _ = run(["policy", "validate", *files], capsys)
    assert code == 1  # EKS's v1beta1 policy is refused
    assert out.count(": valid:") == 8
    assert out.count(": invalid:") == 1


def test_usage_error_exit_2(policy_file: Path) -> None:
    proc = kubetrail("policy", "validate", "--kube-version", "1.2", str(policy_file))
    assert proc.returncode == 2
    assert "not a Kubernetes version" in proc.stderr or "not supported" in proc.stderr


# -- policy explain -----------------------------------------------------------------------------


def test_explain_http_request(policy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        [
            "policy",
            "explain",
            str(policy_file),
            "--request",
            "GET /api/v1/namespaces/default/secrets",
            "--user",
            "alice",
            "--group",
            "dev",
        ],
        capsys,
    )
    assert code == 0
    assert 'verb "list" is not in verbs ["get"]' in out
    assert "no rule matched" in out


def test_explain_websocket_exec(policy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        [
            "policy",
            "explain",
            str(policy_file),
            "-r",
            "GET /api/v1/namespaces/prod/pods/web-0/exec?command=sh&stdin=true",
            "-u",
            "mallory",
        ],
        capsys,
    )
    assert code == 0
    assert "RequestResponse" in out
    assert f"{policy_file}:7" in out  # the winning rule's line
    assert "WebSocket" in out
    assert "ResponseStarted, ResponseComplete" in out


def test_explain_attributes_json(policy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        [
            "policy",
            "explain",
            str(policy_file),
            "--verb",
            "create",
            "--resource",
            "configmaps",
            "--namespace",
            "default",
            "-o",
            "json",
        ],
        capsys,
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["decision"]["level"] == "Request"
    assert doc["decision"]["rule"] == 3
    assert doc["requestBody"] is True
    assert [v["matched"] for v in doc["rules"]] == [False, False, False, True]
    assert doc["rules"][0]["reason"].startswith("the request has no user")
    assert doc["decision"]["line"] == 16
    assert doc["decision"]["omitStages"] == ["RequestReceived"]
    assert doc["request"]["namespace"] == "default"


def test_explain_needs_a_request(policy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["policy", "explain", str(policy_file)], capsys)
    assert code == 2
    assert "--request" in err


# -- start-up ----------------------------------------------------------------------------------


def test_help_is_fast_and_imports_nothing_heavy() -> None:
    code = (
        "import sys, time; t = time.perf_counter()\n"
        "from kubetrail.cli import main\n"
        "try:\n"
        "    main(['policy', 'eval', '--help'])\n"
        "finally:\n"
        "    heavy = {'duckdb', 'pyarrow', 'pyspark', 'playwright', 'rich', 'yaml'}\n"
        "    print(sorted(heavy & set(sys.modules)), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr.strip() == "[]"
    assert "JSON" in proc.stdout
    exe = str(Path(sys.executable).parent / "kubetrail")
    runs = [_timed([exe, "policy", "eval", "--help"]) for _ in range(5)]
    # CPU time (user + sys) of the process is what start-up costs; wall time on a loaded CI
    # machine (tests run two at a time on two cores) also measures the neighbours.
    cpu = min(c for c, _ in runs)
    wall = min(w for _, w in runs)
    assert cpu < 0.2, f"kubetrail policy eval --help used {cpu:.3f}s of CPU"
    assert wall < 1.0, f"kubetrail policy eval --help took {wall:.3f}s"


def _timed(cmd: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of running ``cmd``."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall
