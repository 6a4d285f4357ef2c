"""Rules in the conventions of SigmaHQ's Kubernetes audit rules: they load through the field
mapping (top-level apiGroup, hostPath, capabilities), fire on real shapes of events, convert
for SIEMs, and the ones no event can match are reported broken — a pinned list."""

from __future__ import annotations

from pathlib import Path

from kubetrail.detect.blinding import blinding
from kubetrail.detect.engine import detect
from kubetrail.detect.export import export
from kubetrail.detect.rules import load_rules
from kubetrail.policy.load import parse_policy
from tests.detect.test_pack import ev

PACK = Path(__file__).parent / "data" / "sigmahq-style"
RULES, PROBLEMS = load_rules([PACK])
BY_NAME = {r.name: r for r in RULES}
EVERYTHING = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: RequestResponse\n"


def test_they_all_load_with_their_fields_mapped() -> None:
    assert PROBLEMS == []
    assert len(RULES) == 8
    assert "objectRef.apiGroup" in BY_NAME["rules-review"].fields
    assert "apiGroup" not in BY_NAME["rules-review"].fields
    assert BY_NAME["pod-with-hostpath"].fields[-1] == "requestObject.spec.volumes.hostPath.path"


def test_mapped_rules_fire_on_real_events() -> None:
    review = {**ev("create", "selfsubjectrulesreviews", ns=None, name=None),
              "objectRef": {"resource": "selfsubjectrulesreviews",
                            "apiGroup": "authorization.k8s.io"}}  # fmt: skip
    hostpath = ev("create", "pods", body={"spec": {"volumes": [{"hostPath": {"path": "/"}}]}})
    caps = ev("create", "pods", body={"spec": {"containers": [
        {"securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}]}})  # fmt: skip
    patched = {**ev("patch", "deployments"), "auditID": "d"}
    patched["objectRef"]["apiGroup"] = "apps"
    found = {
        f.rule
        for event in (review, hostpath, caps, patched)
        for f in detect(RULES, [({**event, "auditID": str(id(event))}, {})])
    }
    assert found == {"rules-review", "pod-with-hostpath", "pod-with-capabilities",
                     "deployment-patched"}  # fmt: skip


def test_the_broken_ones_are_pinned() -> None:
    """No audit event has verb "replace" or a string response code: those rules can never
    fire, whatever the policy. A rule that lists "replace" among real verbs is live."""
    policy = parse_policy(EVERYTHING.encode(), source="t.yaml").policy
    sight = {s.rule.name: s.sight for s in blinding(policy, RULES)}
    assert {name for name, s in sight.items() if s == "broken"} == {
        "enumeration-tools",
        "secret-replaced",
    }
    assert sight["webhook-config-changed"] == "live"
    assert set(sight.values()) == {"broken", "live"}


def test_they_convert_for_siems_with_the_mapping() -> None:
    for target in ("splunk", "elasticsearch", "esql"):
        results = {r.rule: r for r in export(target, [PACK])}
        assert all(r.error is None for r in results.values()), target
    (query,) = {r.rule: r for r in export("elasticsearch", [PACK])}["rules-review"].queries
    assert "kubernetes.audit.objectRef.apiGroup:authorization.k8s.io" in query
