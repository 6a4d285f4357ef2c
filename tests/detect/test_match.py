"""The in-process Sigma matcher: values, modifiers, paths, and unknown bodies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubetrail.detect.rules import Rule, load_rules


def make_rule(tmp_path: Path, detection: str, name: str = "r") -> Rule:
    path = tmp_path / f"{name}.yml"
    path.write_text(
        "title: t\nid: 11111111-1111-1111-1111-111111111111\nstatus: test\n"
        "logsource: {product: kubernetes, service: audit}\nlevel: high\n"
        "detection:\n" + detection
    )
    rules, problems = load_rules([path])
    assert problems == []
    return rules[0]


EVENT: dict[str, Any] = {
    "verb": "create",
    "user": {"username": "Alice", "groups": ["dev", "system:authenticated"]},
    "sourceIPs": ["10.1.2.3"],
    "objectRef": {"resource": "pods", "namespace": "prod"},
    "annotations": {"authorization.k8s.io/decision": "allow"},
    "requestObject": {
        "spec": {
            "containers": [{"name": "a"}, {"name": "b", "securityContext": {"privileged": True}}],
            "volumes": [{"hostPath": {"path": "/etc"}}],
        }
    },
}


@pytest.mark.parametrize(
    ("detection", "expected"),
    [
        ("  s: {verb: create}\n  condition: s\n", True),
        ("  s: {verb: CREATE}\n  condition: s\n", True),  # case-insensitive
        ("  s: {verb|cased: CREATE}\n  condition: s\n", False),
        ("  s: {user.username|startswith: al}\n  condition: s\n", True),
        ("  s: {user.groups: dev}\n  condition: s\n", True),  # any element of a list
        ("  s: {user.groups|contains|all: [de, authenticated]}\n  condition: s\n", True),
        ("  s: {requestObject.spec.containers.securityContext.privileged: true}\n"
         "  condition: s\n", True),  # across a list of containers
        ("  s: {requestObject.spec.volumes.hostPath.path: /etc}\n  condition: s\n", True),
        ("  s: {annotations.authorization.k8s.io/decision: allow}\n  condition: s\n", True),
        ("  s: {sourceIPs|cidr: 10.0.0.0/8}\n  condition: s\n", True),
        ("  s: {sourceIPs|cidr: 192.168.0.0/16}\n  condition: s\n", False),
        ("  s: {objectRef.namespace|re: '^pr.d$'}\n  condition: s\n", True),
        ("  s: {objectRef.name: null}\n  condition: s\n", True),  # absent is null
        ("  s: {objectRef.namespace: null}\n  condition: s\n", False),
        ("  s: {impersonatedUser.username|exists: true}\n  condition: s\n", False),
        ("  s: {user.username|exists: true}\n  condition: s\n", True),
        ("  s: {verb: create}\n  f: {objectRef.namespace: prod}\n  condition: s and not f\n",
         False),
        ("  s1: {verb: get}\n  s2: {verb: create}\n  condition: 1 of s*\n", True),
        ("  s1: {verb: get}\n  s2: {verb: create}\n  condition: all of s*\n", False),
        ("  s: {verb: '*'}\n  condition: s\n", True),  # a wildcard
        ("  s: {verb: '\\*'}\n  condition: s\n", False),  # a literal star
    ],
)  # fmt: skip
def test_values_and_modifiers(tmp_path: Path, detection: str, expected: bool) -> None:
    assert make_rule(tmp_path, detection).matches(EVENT) is expected


def test_a_body_the_event_lacks_is_unknown_even_under_not(tmp_path: Path) -> None:
    """Falco's "Ingress without TLS" fires on every ingress logged at Metadata; here it
    cannot: the missing body is unknown, and NOT unknown is unknown."""
    no_tls = make_rule(
        tmp_path,
        "  s: {verb: create, objectRef.resource: ingresses}\n"
        "  tls: {requestObject.spec.tls|exists: true}\n"
        "  condition: s and not tls\n",
    )
    metadata_level = {"verb": "create", "objectRef": {"resource": "ingresses"}}
    assert no_tls.predicates[0](metadata_level) is None
    assert not no_tls.matches(metadata_level)
    with_body = {**metadata_level, "requestObject": {"spec": {"rules": []}}}
    assert no_tls.matches(with_body)
    assert not no_tls.matches({**metadata_level, "requestObject": {"spec": {"tls": [{}]}}})
    # OR with a known true side is true whatever the unknown side is.
    either = make_rule(
        tmp_path,
        "  a: {verb: create}\n  b: {requestObject.spec.x: 1}\n  condition: a or b\n",
        "either",
    )
    assert either.matches(metadata_level)


def test_problems_are_collected_per_file(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text(
        "title: g\nid: 22222222-2222-2222-2222-222222222222\nstatus: test\n"
        "logsource: {product: kubernetes, service: audit}\n"
        "detection: {s: {verb: get}, condition: s}\nlevel: low\n"
    )
    (tmp_path / "broken.yml").write_text("title: b\ndetection: [1, 2\n")
    (tmp_path / "windows.yml").write_text(
        "title: w\nid: 33333333-3333-3333-3333-333333333333\nstatus: test\n"
        "logsource: {product: windows}\ndetection: {s: {EventID: 1}, condition: s}\n"
    )
    (tmp_path / "keywords.yml").write_text(
        "title: k\nid: 44444444-4444-4444-4444-444444444444\nstatus: test\n"
        "logsource: {product: kubernetes, service: audit}\n"
        "detection: {keywords: [evil], condition: keywords}\n"
    )
    rules, problems = load_rules([tmp_path])
    assert [r.name for r in rules] == ["good"]
    said = {Path(p.path).name: p.message for p in problems}
    assert said["broken.yml"].startswith("not a valid Sigma rule")
    assert said["windows.yml"].startswith("skipped: logsource")
    assert "keyword detections" in said["keywords.yml"]


@pytest.mark.parametrize("modifier", ["startswith", "endswith", "contains"])
def test_affix_tests_agree_with_the_regular_expression(tmp_path: Path, modifier: str) -> None:
    """startswith/endswith/contains run as str methods; a regex (`re`, the general path)
    gives the same answers."""
    import re

    needle = "Kube-Sys"
    rule = make_rule(tmp_path, f"  s:\n    userAgent|{modifier}: '{needle}'\n  condition: s\n")
    pattern = {"startswith": r"\Akube-sys", "endswith": r"kube-sys\Z", "contains": "kube-sys"}
    for agent in ["kube-system", "KUBE-SYS", "x kube-sys", "kube-sy", "a\nkube-sys", "", 42,
                  "kube-sys\n", "\u212aube-sys"]:  # fmt: skip
        expected = bool(re.search(pattern[modifier], str(agent), re.IGNORECASE))
        event = {"userAgent": agent, "verb": "get"}
        assert rule.matches(event) is expected, agent
