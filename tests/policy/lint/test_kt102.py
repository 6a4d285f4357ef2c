"""KT102 token-logged: TokenRequest responses and TokenReview requests."""

from __future__ import annotations

import textwrap

import pytest

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding
from kubetrail.policy.lint.rules.kt102_token_logged import TokenLogged
from kubetrail.policy.lint.runner import lint_bytes

HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"  # the first rule is on line 4


def lint(rules: str) -> list[Finding]:
    data = (HEAD + textwrap.dedent(rules)).encode()
    return lint_bytes(data, source="p.yaml", rules=[TokenLogged])


OK = {
    "metadata-before-request-response": """\
        - level: Metadata
          resources:
          - {group: "", resources: [serviceaccounts/token]}
          - {group: authentication.k8s.io, resources: [tokenreviews]}
        - level: RequestResponse
        """,
    "token-request-body-holds-no-token": """\
        - level: Request
          resources: [{group: "", resources: [serviceaccounts/token]}]
        - level: Metadata
        """,
    "serviceaccounts-without-subresources": """\
        - level: RequestResponse
          resources: [{group: "", resources: [serviceaccounts]}]
        - level: Metadata
        """,
    "token-reviews-at-metadata": """\
        - level: Metadata
          resources: [{group: authentication.k8s.io}]
        - level: Request
          resources: [{group: ""}]
        """,
    "reads-only": """\
        - level: RequestResponse
          verbs: [get, list, watch]
        - level: Metadata
        """,
}


@pytest.mark.parametrize("rules", OK.values(), ids=OK.keys())
def test_no_finding(rules: str) -> None:
    assert lint(rules) == []


def test_token_request_response_logged() -> None:
    (finding,) = lint(
        """\
        - level: Metadata
          resources: [{group: authentication.k8s.io}]
        - level: RequestResponse
          resources: [{group: "", resources: ["serviceaccounts/*"]}]
        - level: Metadata
        """
    )
    assert finding.code == "KT102"
    assert finding.name == "token-logged"
    assert finding.severity is Severity.ERROR
    assert (finding.rule, finding.location.line) == (1, 6)
    assert finding.message == (
        "`serviceaccounts/token` create logged at RequestResponse: "
        "bearer tokens are written to the log"
    )
    assert finding.hint is not None
    assert "tokenreviews" in finding.hint


def test_token_review_request_logged() -> None:
    (finding,) = lint(
        """\
        - level: Metadata
          resources: [{group: "", resources: [serviceaccounts/token]}]
        - level: Request
        """
    )
    assert (finding.rule, finding.location.line) == (1, 6)
    assert finding.message.startswith("`tokenreviews` create logged at Request:")


def test_both_in_one_rule_is_one_finding() -> None:
    (finding,) = lint("- level: RequestResponse\n")
    assert (finding.rule, finding.location.line) == (0, 4)
    assert finding.message.startswith(
        "`serviceaccounts/token` create and `tokenreviews` create logged at RequestResponse"
    )


def test_only_nodes_request_tokens_in_full() -> None:
    (finding,) = lint(
        """\
        - level: RequestResponse
          userGroups: ["system:nodes"]
          verbs: [create]
          resources: [{group: "", resources: ["*/token"]}]
        - level: Metadata
        """
    )
    assert (finding.rule, finding.location.line) == (0, 4)
