"""KT101 secret-values-logged: judged by the effective decision, aware of verb and level."""

from __future__ import annotations

import textwrap

import pytest

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding
from kubetrail.policy.lint.rules.kt101_secret_values_logged import SecretValuesLogged
from kubetrail.policy.lint.runner import lint_bytes

HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"  # the first rule is on line 4


def lint(rules: str) -> list[Finding]:
    data = (HEAD + textwrap.dedent(rules)).encode()
    return lint_bytes(data, source="p.yaml", rules=[SecretValuesLogged])


OK = {
    "metadata-before-request-response": """\
        - level: Metadata
          resources: [{group: "", resources: [secrets]}]
        - level: RequestResponse
        """,
    "reads-at-request-have-no-body": """\
        - level: Request
          verbs: [get, list, watch]
        - level: Metadata
        """,
    "watch-responses-are-not-logged": """\
        - level: RequestResponse
          verbs: [watch]
        - level: Metadata
        """,
    "delete-bodies-are-delete-options": """\
        - level: Request
          verbs: [delete, deletecollection]
        - level: Metadata
        """,
    "secrets-of-another-group": """\
        - level: RequestResponse
          resources: [{group: example.com, resources: [secrets]}]
        - level: Metadata
        """,
    "only-non-resource-urls": """\
        - level: RequestResponse
          nonResourceURLs: ["*"]
        - level: Metadata
        """,
    "secrets-dropped": """\
        - level: None
          resources: [{resources: [secrets]}]
        - level: RequestResponse
        """,
}


@pytest.mark.parametrize("rules", OK.values(), ids=OK.keys())
def test_no_finding(rules: str) -> None:
    assert lint(rules) == []


def test_request_catch_all_logs_write_bodies() -> None:
    (finding,) = lint("- level: Request\n")
    assert finding.code == "KT101"
    assert finding.name == "secret-values-logged"
    assert finding.severity is Severity.ERROR
    assert finding.rule == 0
    assert finding.location.line == 4
    assert finding.message == (
        "`secrets` create, update, patch logged at Request: secret values are written to the log"
    )
    assert finding.hint is not None
    assert "level: Metadata" in finding.hint


def test_request_response_logs_every_verb_but_watch() -> None:
    (finding,) = lint(
        """\
        - level: Metadata
          resources: [{group: apps}]
        - level: RequestResponse
          resources: [{group: ""}]
        """
    )
    assert finding.rule == 1
    assert finding.location.line == 6
    assert "`secrets` get, list, create, update, patch, delete logged at RequestResponse" in (
        finding.message
    )


def test_metadata_rule_after_the_leaking_rule_does_not_help() -> None:
    (finding,) = lint(
        """\
        - level: RequestResponse
          verbs: [get]
        - level: Metadata
          resources: [{resources: [secrets]}]
        """
    )
    assert (finding.rule, finding.location.line) == (0, 4)
    assert "`secrets` get logged at RequestResponse" in finding.message


def test_namespace_limited_metadata_rule_leaves_other_namespaces() -> None:
    (finding,) = lint(
        """\
        - level: Metadata
          namespaces: [app]
          resources: [{resources: [secrets]}]
        - level: Request
          verbs: [create, update, patch]
        """
    )
    assert (finding.rule, finding.location.line) == (1, 7)


def test_named_secret_logged_in_full() -> None:
    (finding,) = lint(
        """\
        - level: RequestResponse
          resources: [{resources: [secrets], resourceNames: [db-password]}]
        - level: Metadata
        """
    )
    assert finding.rule == 0
    assert "`secrets` get, update, patch, delete logged at RequestResponse" in finding.message


def test_only_nodes_leak() -> None:
    (finding,) = lint(
        """\
        - level: RequestResponse
          userGroups: ["system:nodes"]
          verbs: [get]
        - level: Metadata
        """
    )
    assert (finding.rule, finding.location.line) == (0, 4)


def test_once_per_deciding_rule() -> None:
    findings = lint(
        """\
        - level: RequestResponse
          namespaces: [kube-system]
        - level: Request
        """
    )
    assert [(f.rule, f.location.line) for f in findings] == [(0, 4), (1, 6)]
    assert "get, list, create, update, patch, delete" in findings[0].message
    assert "create, update, patch logged at Request" in findings[1].message


def test_suppressed_inline() -> None:
    assert lint("- level: Request  # kubetrail: ignore[KT101]\n") == []
