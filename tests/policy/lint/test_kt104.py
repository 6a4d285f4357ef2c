"""KT104 secret-reads-partial: get of secrets logged, list or watch logged less."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding
from kubetrail.policy.lint.rules.kt104_secret_reads_partial import SecretReadsPartial
from kubetrail.policy.lint.runner import lint_bytes

HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"


def lint(rules: str) -> list[Finding]:
    data = HEAD + textwrap.dedent(rules)
    return lint_bytes(data.encode(), source="p.yaml", rules=[SecretReadsPartial])


OK = {
    "all-reads-at-metadata": """\
        - level: Metadata
          resources: [{resources: [secrets]}]
        - level: None
        """,
    "get-list-watch-listed": """\
        - level: Metadata
          verbs: [get, list, watch]
          resources: [{resources: [secrets]}]
        - level: None
        """,
    "a-later-rule-logs-list-and-watch": """\
        - level: Metadata
          verbs: [get]
          resources: [{resources: [secrets]}]
        - level: Metadata
          verbs: [list, watch]
        - level: None
        """,
    "reads-carry-no-body-request-equals-metadata": """\
        - level: RequestResponse
          verbs: [get]
          resources: [{resources: [secrets]}]
        - level: Metadata
        """,
    "nothing-logged": "- level: None\n",
    "get-not-logged-either": """\
        - level: None
          resources: [{resources: [secrets]}]
        - level: Metadata
        """,
    "only-a-name-no-probe-uses": """\
        - level: Metadata
          verbs: [get]
          resources: [{resources: [secrets], resourceNames: [one]}]
        - level: None
        """,
}


@pytest.mark.parametrize("rules", OK.values(), ids=OK.keys())
def test_no_finding(rules: str) -> None:
    assert lint(rules) == []


ERRORS = {
    "get-only": (
        """\
        - level: None
          nonResourceURLs: ["/healthz*"]
        - level: Metadata
          verbs: [get]
          resources: [{resources: [secrets]}]
        - level: None
        """,
        "get of secrets is logged at Metadata (rules[1]) but list at None (rules[2]) and "
        "watch at None (rules[2]), e.g. for user alice in namespace default",
        (1, 6),
    ),
    "watch-dropped-by-an-earlier-rule": (
        """\
        - level: None
          verbs: [watch]
        - level: Request
          resources: [{group: "", resources: [secrets, configmaps]}]
        """,
        "get of secrets is logged at Request (rules[1]) but watch at None (rules[0])",
        (1, 6),
    ),
    "list-falls-through": (
        """\
        - level: Metadata
          userGroups: [system:authenticated]
          verbs: [get, watch]
        - level: Metadata
          verbs: [get]
          namespaces: [kube-system]
        """,
        "get of secrets is logged at Metadata (rules[0]) but list at None (no rule)",
        (0, 4),
    ),
}


@pytest.mark.parametrize("case", ERRORS.values(), ids=ERRORS.keys())
def test_finding(case: tuple[str, str, tuple[int, int]]) -> None:
    rules, message, (rule, line) = case
    (finding,) = lint(rules)
    assert finding.code == "KT104"
    assert finding.name == "secret-reads-partial"
    assert finding.severity is Severity.WARNING
    assert (finding.rule, finding.location.line) == (rule, line)
    assert message in finding.message
    assert finding.hint is not None
    assert "kubectl get secrets -o yaml" in finding.hint


def test_only_some_identities() -> None:
    """Service accounts' lists are dropped: the person's are fine, the finding still fires."""
    rules = """\
    - level: None
      userGroups: [system:serviceaccounts]
      verbs: [list, watch]
    - level: Metadata
    """
    (finding,) = lint(rules)
    assert finding.rule == 1
    assert "e.g. for user system:serviceaccount:app:default in namespace default" in (
        finding.message
    )


def test_one_finding_per_rule_deciding_get() -> None:
    rules = """\
    - level: Metadata
      verbs: [get]
      namespaces: [default]
    - level: Metadata
      verbs: [get]
      namespaces: [kube-system]
    - level: None
    """
    assert [f.rule for f in lint(rules)] == [0, 1]


def _blocks(title: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", SecretReadsPartial.section(title), re.S)


def test_documented_example_and_fix() -> None:
    (example,) = _blocks("Example")
    (fix,) = _blocks("Fix")
    assert [f.code for f in lint(example)] == ["KT104"]
    assert lint(fix) == []


def test_eks_as_v1_is_clean(corpus: Path) -> None:
    data = (corpus / "policies" / "eks-best-practices.yaml").read_bytes()
    data = data.replace(b"audit.k8s.io/v1beta1", b"audit.k8s.io/v1")
    assert lint_bytes(data, source="eks.yaml", rules=[SecretReadsPartial]) == []
