"""Validation: upstream messages byte for byte (pkg/apis/audit/validation/validation.go,
apimachinery field/errors.go), every error at once, in upstream order, with lines."""

from __future__ import annotations

import textwrap

import pytest

from kubetrail.errors import PolicyError, UsageError
from kubetrail.model.diagnostic import Severity
from kubetrail.policy.load import parse_policy
from kubetrail.policy.validate import KubeVersion, aggregate, is_dns1123_subdomain

HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\n"
DNS = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    r"used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
STAGES = "allowed stages are RequestReceived,ResponseStarted,ResponseComplete,Panic"


def errors_of(body: str, **kw: object) -> list[str]:
    with pytest.raises(PolicyError) as info:
        parse_policy(HEAD + textwrap.dedent(body), source="p.yaml", **kw)  # type: ignore[arg-type]
    return [d.message for d in info.value.diagnostics if d.severity is Severity.ERROR]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("rules:\n- verbs: [get]\n", "rules[0].level: Required value"),
        ('rules:\n- level: ""\n', "rules[0].level: Required value"),
        (
            "rules:\n- level: metadata\n",
            'rules[0].level: Unsupported value: "metadata": supported values: "None", '
            '"Metadata", "Request", "RequestResponse"',
        ),
        (
            "rules:\n- level: None\n  nonResourceURLs: [healthz]\n",
            'rules[0].nonResourceURLs[0]: Invalid value: "healthz": non-resource URL rules must '
            "begin with a '/' character",
        ),
        (
            'rules:\n- level: None\n  nonResourceURLs: ["/a/*/b"]\n',
            'rules[0].nonResourceURLs[0]: Invalid value: "/a/*/b": non-resource URL wildcards '
            "'*' must be the final character of the rule",
        ),
        (
            "rules:\n- level: None\n  resources: [{group: Apps}]\n",
            f'rules[0].resources.group: Invalid value: "Apps": {DNS}',
        ),
        (
            "rules:\n- level: None\n  resources: [{group: rbac.authorization.k8s.io/v1}]\n",
            f'rules[0].resources.group: Invalid value: "rbac.authorization.k8s.io/v1": {DNS}',
        ),
        (
            "rules:\n- level: None\n  resources: [{resourceNames: [foo]}]\n",
            'rules[0].resources.resourceNames: Invalid value: ["foo"]: using resourceNames '
            "requires at least one resource",
        ),
        (
            "rules:\n- level: None\n  omitStages: [ResponseDone]\n",
            f'rules[0].omitStages[0]: Invalid value: "ResponseDone": {STAGES}',
        ),
        (
            "omitStages: [requestreceived]\nrules:\n- level: None\n",
            f'omitStages[0]: Invalid value: "requestreceived": {STAGES}',
        ),
        (
            'rules:\n- level: None\n  nonResourceURLs: ["/x"]\n  namespaces: [""]\n',
            'rules[0].nonResourceURLs: Invalid value: ["/x"]: rules cannot apply to both '
            "regular resources and non-resource URLs",
        ),
    ],
)
def test_single_error_message(body: str, expected: str) -> None:
    assert errors_of(body) == [expected]


def test_star_slash_healthz_fires_both_url_errors() -> None:
    assert errors_of('rules:\n- level: None\n  nonResourceURLs: ["*/healthz"]\n') == [
        'rules[0].nonResourceURLs[0]: Invalid value: "*/healthz": non-resource URL rules must '
        "begin with a '/' character",
        'rules[0].nonResourceURLs[0]: Invalid value: "*/healthz": non-resource URL wildcards '
        "'*' must be the final character of the rule",
    ]


def test_empty_url_only_gets_the_slash_error() -> None:
    assert errors_of('rules:\n- level: None\n  nonResourceURLs: [""]\n') == [
        'rules[0].nonResourceURLs[0]: Invalid value: "": non-resource URL rules must begin '
        "with a '/' character"
    ]


def test_every_error_at_once_in_upstream_order_with_lines() -> None:
    body = """\
    omitStages: [Bogus]
    rules:
    - level: None
      users: [a]
    - verbs: [get]
      nonResourceURLs: [x]
      resources:
      - group: Bad
      omitStages: [Nope]
    - level: Loud
    """
    with pytest.raises(PolicyError) as info:
        parse_policy(HEAD + textwrap.dedent(body), source="p.yaml")
    errs = [d for d in info.value.diagnostics if d.severity is Severity.ERROR]
    assert [d.location.field for d in errs] == [
        "omitStages[0]",
        "rules[1].level",
        "rules[1].nonResourceURLs[0]",
        "rules[1].resources.group",
        "rules[1].omitStages[0]",
        "rules[1].nonResourceURLs",
        "rules[2].level",
    ]
    # Lines (the document starts with two header lines).
    assert [d.location.line for d in errs] == [3, 7, 8, 10, 11, 8, 12]
    assert all(d.location.path == "p.yaml" for d in errs)
    # The upstream top-level message: the aggregate, then ": from file".
    message = info.value.message
    assert message.startswith('[omitStages[0]: Invalid value: "Bogus": allowed stages')
    assert message.endswith("]: from file p.yaml")


def test_required_level_points_at_the_rule() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(HEAD + "rules:\n- level: None\n- verbs: [get]\n", source="p.yaml")
    (diag,) = info.value.diagnostics
    assert diag.message == "rules[1].level: Required value"
    assert diag.location.line == 5


def test_zero_rules_after_validation() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(HEAD + "rules: []\n", source="p.yaml")
    assert info.value.message == "loaded illegal policy with 0 rules: from file p.yaml"
    # Validation errors are reported before (instead of) the zero-rule error.
    assert errors_of("omitStages: [x]\n") == [f'omitStages[0]: Invalid value: "x": {STAGES}']


def test_group_wildcard_is_valid_from_1_36_only() -> None:
    body = 'rules:\n- level: Metadata\n  resources: [{group: "*", resources: [secrets]}]\n'
    parse_policy(HEAD + body)  # newest: valid
    parse_policy(HEAD + body, kube_version=KubeVersion.parse("1.36"))
    assert errors_of(body, kube_version=KubeVersion.parse("1.35")) == [
        f'rules[0].resources.group: Invalid value: "*": {DNS}'
    ]


def test_not_validated_upstream_is_accepted() -> None:
    body = """\
    rules:
    - level: Metadata
      verbs: [GET]
      users: ["", ""]
      namespaces: [Not_A_Namespace]
      resources: [{resources: ["Pods", "*/*", "pods/"], resourceNames: [""]}]
    """
    loaded = parse_policy(HEAD + textwrap.dedent(body))
    assert loaded.policy.rules[0].verbs == ["GET"]


def test_kube_version_parsing() -> None:
    assert str(KubeVersion.parse("v1.30.2")) == "1.30"
    with pytest.raises(UsageError, match="not supported"):
        KubeVersion.parse("1.23")
    with pytest.raises(UsageError, match="not a Kubernetes version"):
        KubeVersion.parse("latest")


def test_dns_subdomain_length_and_pattern() -> None:
    assert is_dns1123_subdomain("apps") == []
    assert is_dns1123_subdomain("a" * 254) == ["must be no more than 253 characters"]
    assert len(is_dns1123_subdomain("A" * 254)) == 2


def test_aggregate_deduplicates() -> None:
    assert aggregate(["a"]) == "a"
    assert aggregate(["a", "b", "a"]) == "[a, b]"
    assert aggregate(["a", "a"]) == "a"
