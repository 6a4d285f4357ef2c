"""KT105 pod-subresources-missed: pods listed, exec and co. logged less."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding
from kubetrail.policy.lint.rules.kt105_pod_subresources_missed import PodSubresourcesMissed
from kubetrail.policy.lint.runner import lint_bytes

HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"


def lint(rules: str) -> list[Finding]:
    data = HEAD + textwrap.dedent(rules)
    return lint_bytes(data.encode(), source="p.yaml", rules=[PodSubresourcesMissed])


OK = {
    "pods-star": """\
        - level: RequestResponse
          resources: [{resources: ["pods/*"]}]
        - level: None
        """,
    "star": """\
        - level: Request
          resources: [{resources: ["*"]}]
        - level: None
        """,
    "listed": """\
        - level: Metadata
          resources:
          - resources: [pods, pods/exec, pods/attach, pods/portforward, pods/ephemeralcontainers]
        - level: None
        """,
    "star-subresources": """\
        - level: Metadata
          resources:
          - resources: [pods, "*/exec", "*/attach", "*/portforward", "*/ephemeralcontainers"]
        - level: None
        """,
    "a-later-rule-logs-them": """\
        - level: RequestResponse
          resources: [{resources: [pods]}]
        - level: Metadata
          resources: [{resources: [pods/exec, pods/attach, pods/portforward]}]
        - level: Request
          resources: [{resources: [pods/ephemeralcontainers]}]
        - level: None
        """,
    "catch-all-logs-them": """\
        - level: RequestResponse
          resources: [{resources: [pods]}]
        - level: Request
        """,
    "exec-logged-for-one-verb-is-kt106s": """\
        - level: Metadata
          resources: [{resources: [pods]}]
        - level: Metadata
          verbs: [create]
          resources: [{resources: [pods/exec, pods/attach, pods/portforward]}]
        - level: Metadata
          verbs: [patch]
          resources: [{resources: [pods/ephemeralcontainers]}]
        - level: None
        """,
    "pods-not-logged": """\
        - level: None
          resources: [{resources: [pods]}]
        """,
    "pods-in-another-group": """\
        - level: Metadata
          resources: [{group: example.com, resources: [pods]}]
        - level: None
        """,
    "rule-never-decides-pods": """\
        - level: None
          resources: [{resources: ["*"]}]
        - level: Metadata
          resources: [{resources: [pods]}]
        """,
}


@pytest.mark.parametrize("rules", OK.values(), ids=OK.keys())
def test_no_finding(rules: str) -> None:
    assert lint(rules) == []


ERRORS = {
    "nothing-after": (
        """\
        - level: None
          nonResourceURLs: ["/healthz*"]
        - level: RequestResponse
          resources: [{group: "", resources: [pods]}]
        - level: None
        """,
        "rules[1] logs pods at RequestResponse but pods/exec at None (rules[2]), pods/attach "
        "at None (rules[2]), pods/portforward at None (rules[2]), pods/ephemeralcontainers at "
        "None (rules[2]), e.g. for user alice in namespace default",
        "add pods/exec, pods/attach, pods/portforward, pods/ephemeralcontainers to its "
        "resources (or use pods/*)",
    ),
    "some-listed": (
        """\
        - level: None
          users: [a]
        - level: Metadata
          resources: [{resources: [pods, pods/exec, pods/attach]}]
        """,
        "rules[1] logs pods at Metadata but pods/portforward at None (no rule), "
        "pods/ephemeralcontainers at None (no rule)",
        "add pods/portforward, pods/ephemeralcontainers",
    ),
    "ephemeral-container-body-lost": (
        """\
        - level: None
          users: [a]
        - level: RequestResponse
          resources: [{resources: [pods, pods/exec, pods/attach, pods/portforward]}]
        - level: Metadata
        """,
        "rules[1] logs pods at RequestResponse but pods/ephemeralcontainers at Metadata (rules[2])",
        "add pods/ephemeralcontainers",
    ),
    "only-in-the-rules-namespace-and-for-its-users": (
        """\
        - level: None
          users: [a]
        - level: Metadata
          userGroups: [admins]
          namespaces: [prod]
          resources: [{resources: [pods, pods/ephemeralcontainers]}]
        - level: None
        """,
        "rules[1] logs pods at Metadata but pods/exec at None (rules[2]), pods/attach at None "
        "(rules[2]), pods/portforward at None (rules[2]), e.g. for user kubetrail-probe in "
        "namespace prod",
        "add pods/exec, pods/attach, pods/portforward",
    ),
}


@pytest.mark.parametrize("case", ERRORS.values(), ids=ERRORS.keys())
def test_finding(case: tuple[str, str, str]) -> None:
    rules, message, hint = case
    (finding,) = lint(rules)
    assert finding.code == "KT105"
    assert finding.name == "pod-subresources-missed"
    assert finding.severity is Severity.WARNING
    assert (finding.rule, finding.location.line) == (1, 6)
    assert message in finding.message
    assert finding.hint is not None
    assert hint in finding.hint


def test_exec_at_request_equals_metadata() -> None:
    """exec, attach and portforward carry no body: Request logs what Metadata logs."""
    rules = """\
    - level: RequestResponse
      resources: [{resources: [pods, pods/ephemeralcontainers]}]
    - level: Metadata
    """
    assert lint(rules) == []


def _blocks(title: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", PodSubresourcesMissed.section(title), re.S)


def test_documented_example_and_fix() -> None:
    (example,) = _blocks("Example")
    (fix,) = _blocks("Fix")
    assert [f.code for f in lint(example)] == ["KT105"]
    assert lint(fix) == []


def test_falco_without_its_core_rule(corpus: Path) -> None:
    """The probe is what keeps Falco clean: without its rule for the whole core group, exec
    still reaches the Metadata catch-all (enough: no body), ephemeral containers' specs not."""
    text = (corpus / "policies" / "falco-k8saudit.yaml").read_text()
    core = '    - group: "" # core API group\n    - group: "extensions"'
    cut = text.replace(core, "    - group: x")
    assert cut != text
    (finding,) = lint_bytes(cut.encode(), source="f.yaml", rules=[PodSubresourcesMissed])
    assert (finding.rule, finding.location.line) == (0, 9)
    assert finding.message == (
        "rules[0] logs pods at RequestResponse but pods/ephemeralcontainers at Metadata "
        "(rules[10]), e.g. for user alice in namespace default"
    )
