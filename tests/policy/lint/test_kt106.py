"""KT106 exec-create-only: exec/attach/portforward logged for create but not for get."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.evaluate import reference_decide
from kubetrail.policy.lint.base import Finding
from kubetrail.policy.lint.rules.kt106_exec_create_only import ExecCreateOnly
from kubetrail.policy.lint.runner import lint_bytes
from kubetrail.policy.load import parse_policy
from kubetrail.policy.resolve import from_http

HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"
SUBS = "[pods/exec, pods/attach, pods/portforward]"


def lint(rules: str) -> list[Finding]:
    data = HEAD + textwrap.dedent(rules)
    return lint_bytes(data.encode(), source="p.yaml", rules=[ExecCreateOnly])


OK = {
    "no-verbs": f"- level: Metadata\n  resources: [{{resources: {SUBS}}}]\n- level: None\n",
    "both-verbs": "- level: Metadata\n  verbs: [create, get]\n"
    f"  resources: [{{resources: {SUBS}}}]\n- level: None\n",
    "get-logged-by-a-later-rule": f"- level: Request\n  verbs: [create]\n"
    f"  resources: [{{resources: {SUBS}}}]\n- level: Metadata\n",
    "writes-at-request-reads-at-metadata": "- level: RequestResponse\n"
    "  verbs: [create, update, patch, delete]\n- level: Metadata\n",
    "exec-not-logged-at-all": "- level: None\n",
    "other-subresources": "- level: Metadata\n  verbs: [create]\n"
    "  resources: [{resources: [pods/eviction, serviceaccounts/token]}]\n- level: None\n",
}


@pytest.mark.parametrize("rules", OK.values(), ids=OK.keys())
def test_no_finding(rules: str) -> None:
    assert lint(rules) == []


ERRORS = {
    "all-three": (
        f"""\
        - level: None
          users: [a]
        - level: Metadata
          verbs: [create]
          resources: [{{resources: {SUBS}}}]
        - level: None
        """,
        "pods/exec, pods/attach, pods/portforward are logged at Metadata for create but at "
        "None (rules[2]) for get, which kubectl >= 1.30 uses (WebSocket), e.g. for user alice "
        "in namespace default",
    ),
    "port-forward-only": (
        """\
        - level: None
          users: [a]
        - level: Metadata
          verbs: [create]
          resources: [{resources: [pods/portforward]}]
        """,
        "pods/portforward is logged at Metadata for create but at None (no rule) for get, "
        "which kubectl >= 1.31 uses (WebSocket)",
    ),
    "writes-only-policy": (
        """\
        - level: None
          nonResourceURLs: ["*"]
        - level: Request
          verbs: [create, update, patch, delete]
        """,
        "pods/exec, pods/attach, pods/portforward are logged at Request for create but at "
        "None (no rule) for get",
    ),
}


@pytest.mark.parametrize("case", ERRORS.values(), ids=ERRORS.keys())
def test_finding(case: tuple[str, str]) -> None:
    rules, message = case
    (finding,) = lint(rules)
    assert finding.code == "KT106"
    assert finding.name == "exec-create-only"
    assert finding.severity is Severity.WARNING
    assert (finding.rule, finding.location.line) == (1, 6)
    assert message in finding.message
    assert finding.hint == 'add "get" to the verbs of rules[1] (or drop its verbs)'


def test_reported_at_each_rule_deciding_create() -> None:
    rules = """\
    - level: Metadata
      verbs: [create]
      resources: [{resources: [pods/exec]}]
    - level: Metadata
      verbs: [create]
      resources: [{resources: [pods/attach]}]
    - level: None
    """
    assert [(f.rule, f.message.split(" is ")[0]) for f in lint(rules)] == [
        (0, "pods/exec"),
        (1, "pods/attach"),
    ]


def test_websocket_exec_is_a_get_of_pods_exec() -> None:
    """What the rule assumes: the WebSocket upgrade is a GET, resolved to verb get."""
    attrs = from_http("GET", "/api/v1/namespaces/default/pods/web/exec?command=sh&stdin=true")
    assert (attrs.verb, attrs.resource, attrs.subresource, attrs.name) == (
        "get",
        "pods",
        "exec",
        "web",
    )
    policy = parse_policy(HEAD + textwrap.dedent(ERRORS["all-three"][0])).policy
    assert reference_decide(policy, attrs).rule == 2


def _blocks(title: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", ExecCreateOnly.section(title), re.S)


def test_documented_example_and_fix() -> None:
    (example,) = _blocks("Example")
    (fix,) = _blocks("Fix")
    assert [f.code for f in lint(example)] == ["KT106"]
    assert lint(fix) == []


def test_eks_as_v1_is_clean(corpus: Path) -> None:
    data = (corpus / "policies" / "eks-best-practices.yaml").read_bytes()
    data = data.replace(b"audit.k8s.io/v1beta1", b"audit.k8s.io/v1")
    assert lint_bytes(data, source="eks.yaml", rules=[ExecCreateOnly]) == []
