"""KT009 resource-names-without-name: resourceNames on requests that carry no name."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from kubetrail.model.attributes import RequestAttributes
from kubetrail.model.diagnostic import Severity
from kubetrail.policy.evaluate import reference_decide
from kubetrail.policy.lint.base import Finding
from kubetrail.policy.lint.rules.kt009_resource_names_without_name import (
    ResourceNamesWithoutName,
)
from kubetrail.policy.lint.runner import lint_bytes
from kubetrail.policy.load import parse_policy
from kubetrail.policy.resolve import from_http

HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"


def lint(rules: str) -> list[Finding]:
    data = HEAD + textwrap.dedent(rules)
    return lint_bytes(data.encode(), source="p.yaml", rules=[ResourceNamesWithoutName])


def named(verbs: str, resources: str, names: str = "[aws-auth]") -> str:
    """rules[1] with verbs, one core entry with resources and resourceNames (line 8)."""
    return (
        "- level: None\n  users: [a]\n- level: RequestResponse\n"
        f"  verbs: {verbs}\n"
        "  resources:\n"
        f"  - resources: {resources}\n"
        f"    resourceNames: {names}\n"
    )


OK = {
    "named-verbs": named("[get, update, patch, delete]", "[configmaps]"),
    "subresources-always-name-the-object": named("[]", "[pods/exec, pods/log]"),
    "create-on-subresource": named("[create]", "[pods/exec, pods/eviction]"),
    "empty-name-matches-nameless": named("[create]", "[configmaps]", '[aws-auth, ""]'),
    "no-resource-names": named("[create]", "[configmaps]", "[]"),
}


@pytest.mark.parametrize("rules", OK.values(), ids=OK.keys())
def test_no_finding(rules: str) -> None:
    assert lint(rules) == []


NEVER = {
    "create": (
        named("[create]", "[configmaps]"),
        "resourceNames [aws-auth] never match: create requests for configmaps carry no name",
    ),
    "create-and-deletecollection": (
        named("[create, deletecollection]", "[configmaps, secrets]", "[a, b, c, d]"),
        "resourceNames [a, b, c, ...] never match: create or deletecollection requests for "
        "configmaps, secrets carry no name",
    ),
    "deletecollection-even-with-star": (
        named("[deletecollection]", '["*"]'),
        "never match: deletecollection requests for * carry no name",
    ),
}


@pytest.mark.parametrize("case", NEVER.values(), ids=NEVER.keys())
def test_never_matches_is_a_warning(case: tuple[str, str]) -> None:
    rules, message = case
    (finding,) = lint(rules)
    assert finding.code == "KT009"
    assert finding.name == "resource-names-without-name"
    assert finding.severity is Severity.WARNING
    assert (finding.rule, finding.location.line) == (1, 10)
    assert message in finding.message
    assert finding.hint is not None


NOTES = {
    "no-verbs": (
        named("[]", "[configmaps]"),
        "resourceNames [aws-auth] do not match create or deletecollection of configmaps (no "
        "name in the request), nor list or watch without a metadata.name field selector",
    ),
    "create-among-named-verbs": (
        named("[create, update, patch]", "[configmaps]"),
        "resourceNames [aws-auth] do not match create of configmaps: no name in the request",
    ),
    "list-watch": (
        named("[list, watch]", "[configmaps]"),
        "resourceNames [aws-auth] match list or watch of configmaps only with a "
        "metadata.name field selector",
    ),
    "pods-star-covers-pods-too": (
        named("[create]", '["pods/*"]'),
        "do not match create of pods/*: no name in the request",
    ),
}


@pytest.mark.parametrize("case", NOTES.values(), ids=NOTES.keys())
def test_partly_nameless_is_a_note(case: tuple[str, str]) -> None:
    rules, message = case
    (finding,) = lint(rules)
    assert finding.code == "KT009"
    assert finding.severity is Severity.INFO
    assert (finding.rule, finding.location.line) == (1, 10)
    assert message in finding.message


def _decide(rules: str, method: str, url: str) -> int | None:
    policy = parse_policy(HEAD + rules).policy
    attrs: RequestAttributes = from_http(method, url, user="alice", groups=["system:authenticated"])
    return reference_decide(policy, attrs).rule


def test_the_claims_hold_for_the_evaluator() -> None:
    """What the messages say, checked against checker.go's semantics."""
    rules = named("[]", "[configmaps]")
    base = "/api/v1/namespaces/kube-system/configmaps"
    assert _decide(rules, "GET", f"{base}/aws-auth") == 1
    assert _decide(rules, "POST", base) is None  # create: no name
    assert _decide(rules, "DELETE", base) is None  # deletecollection
    assert _decide(rules, "GET", base) is None  # list
    assert _decide(rules, "GET", f"{base}?fieldSelector=metadata.name%3Daws-auth") == 1
    assert _decide(rules, "GET", f"{base}?watch=1&fieldSelector=metadata.name%3Daws-auth") == 1
    sub = named("[create]", "[pods/exec]")
    assert _decide(sub, "POST", "/api/v1/namespaces/a/pods/aws-auth/exec") == 1


def test_runs_on_a_policy_kube_apiserver_refuses() -> None:
    data = HEAD.replace("v1", "v1beta1") + named("[create]", "[configmaps]")
    (finding,) = lint_bytes(data.encode(), source="p.yaml", rules=[ResourceNamesWithoutName])
    assert finding.severity is Severity.WARNING


def _blocks(title: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", ResourceNamesWithoutName.section(title), re.S)


def test_documented_example_and_fix() -> None:
    (example,) = _blocks("Example")
    (fix,) = _blocks("Fix")
    assert [(f.code, f.severity) for f in lint(example)] == [("KT009", Severity.INFO)]
    assert lint(fix) == []


@pytest.mark.parametrize(
    ("name", "rule", "line"), [("falco-k8saudit.yaml", 3, 34), ("k8s-docs-example.yaml", 2, 25)]
)
def test_controller_leader(corpus: Path, name: str, rule: int, line: int) -> None:
    """'Don't log requests to a configmap called controller-leader': its creation, and
    lists and watches of configmaps, still reach the later rules."""
    path = corpus / "policies" / name
    (finding,) = lint_bytes(path.read_bytes(), source=name, rules=[ResourceNamesWithoutName])
    assert (finding.rule, finding.location.line, finding.severity) == (rule, line, Severity.INFO)
    assert finding.message.startswith("resourceNames [controller-leader] do not match create")
