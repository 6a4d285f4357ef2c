"""KT007 wrong-api-group: a resource under a group that does not serve it."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding
from kubetrail.policy.lint.rules.kt007_wrong_api_group import WrongApiGroup
from kubetrail.policy.lint.runner import lint_bytes
from kubetrail.policy.validate import KubeVersion

HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"


def lint(rules: str, version: str = "1.36") -> list[Finding]:
    data = HEAD + textwrap.dedent(rules)
    return lint_bytes(
        data.encode(),
        source="p.yaml",
        rules=[WrongApiGroup],
        kube_version=KubeVersion.parse(version),
    )


M = "- level: Metadata\n  resources: "
OK = {
    "apps-deployments": M + '[{group: apps, resources: ["deployments"]}]\n',
    "core-star": M + '[{group: "", resources: ["*"]}]\n',
    "star-scale-in-apps": M + '[{group: apps, resources: ["*/scale"]}]\n',
    "pods-star": '- level: Metadata\n  resources: [{resources: ["pods/*", "pods/exec"]}]\n',
    "any-group": '- level: Metadata\n  resources: [{group: "*", resources: [deployments]}]\n',
    "crd-group": "- level: Metadata\n  resources: [{group: example.com, resources: [pods]}]\n",
    "events-in-both": "- level: None\n  resources: [{resources: [events]}, "
    "{group: events.k8s.io, resources: [events]}]\n",
    "extensions-without-resources": "- level: Request\n  resources: [{group: extensions}]\n",
    # Malformed patterns are KT006's; unknown names KT008's.
    "malformed": '- level: Metadata\n  resources: [{group: extensions, resources: ["*/*", ""]}]\n',
    "unknown": "- level: Metadata\n  resources: [{resources: [replicacontrollers]}]\n",
}


@pytest.mark.parametrize("rules", OK.values(), ids=OK.keys())
def test_no_finding(rules: str) -> None:
    assert lint(rules) == []


# (rules, line, message part, hint part); every finding is about rules[1].
ERRORS = {
    "deployments-in-core": (
        """\
        - level: None
          users: [system:kube-proxy]
        - level: RequestResponse
          resources:
          - group: ""
            resources: ["pods", "deployments"]
        """,
        9,
        '"deployments" is in group "apps", not in the core group "": it never matches here',
        'list "deployments" under group: "apps"',
    ),
    "parent-of-subresource": (
        """\
        - level: None
          users: [a]
        - level: Metadata
          resources: [{group: "", resources: ["deployments/scale"]}]
        """,
        7,
        '"deployments/scale" never matches here',
        'group: "apps"',
    ),
    "parent-wildcard": (
        """\
        - level: None
          users: [a]
        - level: Metadata
          resources: [{group: apps, resources: ["pods/*"]}]
        """,
        7,
        '"pods" is in the core group "", not in group "apps"',
        'list "pods/*" under group: ""',
    ),
    "star-subresource": (
        """\
        - level: None
          users: [a]
        - level: Metadata
          resources:
          - group: apps
            resources:
            - "*/exec"
        """,
        10,
        'no resource of group "apps" has subresource "exec" (the core group "" has)',
        'group: ""',
    ),
    "extensions-deployments": (
        """\
        - level: None
          users: [a]
        - level: Metadata
          resources:
          - group: extensions
            resources: [deployments]
        """,
        9,
        'group "extensions" was removed in Kubernetes 1.22: "deployments" under it never '
        'matches (deployments are now in group "apps")',
        'list "deployments" under group: "apps"',
    ),
    "extensions-star": (
        """\
        - level: None
          users: [a]
        - level: Metadata
          resources: [{group: extensions, resources: ["*"]}]
        """,
        7,
        'group "extensions" was removed in Kubernetes 1.22: "*" under it never matches',
        None,
    ),
}


@pytest.mark.parametrize("case", ERRORS.values(), ids=ERRORS.keys())
def test_finding(case: tuple[str, int, str, str | None]) -> None:
    rules, line, message, hint = case
    (finding,) = lint(rules)
    assert finding.code == "KT007"
    assert finding.name == "wrong-api-group"
    assert finding.severity is Severity.WARNING
    assert finding.rule == 1
    assert finding.location.line == line
    assert message in finding.message
    if hint is None:
        assert finding.hint is None
    else:
        assert finding.hint is not None
        assert hint in finding.hint


def test_each_wrong_pattern_is_reported_where_it_is() -> None:
    findings = lint(
        """\
        - level: Metadata
          resources:
          - group: ""
            resources: [pods, deployments, statefulsets, secrets]
        """
    )
    assert [(f.location.line, f.location.column) for f in findings] == [(7, 23), (7, 36)]


@pytest.mark.parametrize("version", ["1.24", "1.30", "1.36"])
def test_extensions_is_retired_in_every_supported_version(version: str) -> None:
    rules = "- level: Metadata\n  resources: [{group: extensions, resources: [ingresses]}]\n"
    (finding,) = lint(rules, version)
    assert 'ingresses are now in group "networking.k8s.io"' in finding.message


def test_runs_on_a_policy_kube_apiserver_refuses() -> None:
    data = HEAD.replace("v1", "v1beta1") + "- level: Metadata\n  resources: [{resources: [jobs]}]\n"
    (finding,) = lint_bytes(data.encode(), source="p.yaml", rules=[WrongApiGroup])
    assert '"jobs" is in group "batch"' in finding.message


def _blocks(title: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", WrongApiGroup.section(title), re.S)


def test_documented_example_and_fix() -> None:
    (example,) = _blocks("Example")
    (fix,) = _blocks("Fix")
    assert [f.code for f in lint(example)] == ["KT007"]
    assert lint(fix) == []


def test_falco_deployments_under_core(corpus: Path) -> None:
    path = corpus / "policies" / "falco-k8saudit.yaml"
    (finding,) = lint_bytes(path.read_bytes(), source="falco.yaml", rules=[WrongApiGroup])
    assert finding.rule == 0
    assert (finding.location.line, finding.location.column) == (14, 27)
    assert finding.message.startswith('"deployments" is in group "apps"')
