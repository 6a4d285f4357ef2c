"""Which rules a policy blinds: pinned for real policies, and crafted cases for each part of
the analysis (level, stages, callers, broken rules)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetrail.detect.blinding import blinding
from kubetrail.detect.rules import Rule, load_rules
from kubetrail.policy.load import parse_policy, read_policy_bytes

ROOT = Path(__file__).resolve().parents[2]
RULES, _ = load_rules()
# The rules that read a request body (their files say requestObject).
REQUEST_RULES = {r.name for r in RULES if "requestObject" in Path(r.path).read_text()}
# Seen only in the body of a Secret: no policy that keeps secret values out of the log (all
# of these log secrets at Metadata) lets them fire.
SECRET_BODY_RULES = {"bootstrap-token-created": "blinded", "legacy-token-secret": "blinded"}


def sights(policy_text: str, rules: list[Rule] | None = None) -> dict[str, str]:
    policy = parse_policy(policy_text.encode(), source="test.yaml").policy
    return {s.rule.name: s.sight for s in blinding(policy, rules or RULES)}


def not_live(result: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in result.items() if v != "live"}


def test_the_bundled_baseline_blinds_only_what_needs_secret_values() -> None:
    text = (ROOT / "src/kubetrail/data/policies/baseline.yaml").read_text()
    assert not_live(sights(text)) == SECRET_BODY_RULES
    assert len(REQUEST_RULES) >= 15


def test_metadata_for_everything_blinds_exactly_the_body_rules() -> None:
    result = sights("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n")
    assert not_live(result) == dict.fromkeys(REQUEST_RULES, "blinded")


def test_none_blinds_everything() -> None:
    result = sights("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n")
    assert set(result.values()) == {"blinded"}


def test_a_none_rule_for_nodes_does_not_blind_rules_that_ignore_system_callers() -> None:
    policy = (
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"
        "- level: None\n  userGroups: [system:nodes]\n"
        "- level: RequestResponse\n"
    )
    result = sights(policy)
    assert result["wildcard-role"] == "live"  # it ignores system: callers anyway
    assert result["pod-exec"] == "partly blinded"  # a node's exec would go unseen


def test_omitted_stages(tmp_path: Path) -> None:
    path = tmp_path / "started.yml"
    path.write_text(
        "title: exec started\nid: 55555555-5555-5555-5555-555555555555\nstatus: test\n"
        "logsource: {product: kubernetes, service: audit}\nlevel: medium\n"
        "detection:\n  s: {stage: ResponseStarted, objectRef.resource: pods,"
        " objectRef.subresource: exec, verb: [create, get]}\n  condition: s\n"
    )
    rules, _ = load_rules([path])
    head = "apiVersion: audit.k8s.io/v1\nkind: Policy\n"
    assert sights(head + "rules:\n- level: Metadata\n", rules) == {"started": "live"}
    omitted = head + "omitStages: [ResponseStarted]\nrules:\n- level: Metadata\n"
    assert sights(omitted, rules) == {"started": "blinded"}
    # The bundled exec rule reads no stage: the outcome stage suffices.
    assert sights(omitted)["pod-exec"] == "live"


def test_a_rule_no_event_can_match_is_broken(tmp_path: Path) -> None:
    path = tmp_path / "replace.yml"
    path.write_text(  # SigmaHQ-style mistake: there is no verb "replace"
        "title: r\nid: 66666666-6666-6666-6666-666666666666\nstatus: test\n"
        "logsource: {product: kubernetes, service: audit}\nlevel: low\n"
        "detection:\n  s: {verb: replace, objectRef.resource: pods}\n"
        "  f: {verb: replace}\n  condition: s and not f\n"
    )
    rules, _ = load_rules([path])
    assert sights("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n",
                  rules) == {"replace": "broken"}  # fmt: skip


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("gce-gke-configure-helper.yaml", {"events-deleted": "blinded", **SECRET_BODY_RULES}),
        (
            "k8s-docs-example.yaml",
            {
                "binding-to-public-groups": "blinded",
                "cluster-admin-binding": "blinded",
                "clusterrole-aggregation": "blinded",
                "escalation-verbs-role": "blinded",
                "ingress-snippet-annotation": "blinded",
                "wildcard-role": "blinded",
                **SECRET_BODY_RULES,
                "host-namespaces": "partly blinded",
                "privileged-container": "partly blinded",
                "sensitive-hostpath": "partly blinded",
            },
        ),
        (
            # Falco's sample policy logs namespaced roles and bindings at its Metadata
            # catch-all: its own role rules miss Roles; ingresses too.
            "falco-k8saudit.yaml",
            {
                "ingress-snippet-annotation": "blinded",
                **SECRET_BODY_RULES,
                "binding-to-public-groups": "partly blinded",
                "cluster-admin-binding": "partly blinded",
                "escalation-verbs-role": "partly blinded",
                "wildcard-role": "partly blinded",
                "host-namespaces": "partly blinded",
                "privileged-container": "partly blinded",
                "sensitive-hostpath": "partly blinded",
            },
        ),
    ],
)
def test_corpus_policies(corpus: Path, policy: str, expected: dict[str, str]) -> None:
    path = corpus / "policies" / policy
    loaded = parse_policy(read_policy_bytes(str(path)), source=str(path))
    result = {s.rule.name: s.sight for s in blinding(loaded.policy, RULES)}
    assert not_live(result) == expected


def test_cli_coverage_rules(capsys: pytest.CaptureFixture[str], corpus: Path) -> None:
    from kubetrail.cli import main

    policy = str(corpus / "policies" / "gce-gke-configure-helper.yaml")
    assert main(["policy", "coverage", policy, "-o", "json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert "rules" not in plain  # the stable shape without --rules
    assert main(["policy", "coverage", policy, "--rules", "-o", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {k: v for k, v in doc.items() if k != "rules"} == plain
    blind = {r["rule"]: r for r in doc["rules"] if r["sight"] != "live"}
    assert set(blind) == {"events-deleted", *SECRET_BODY_RULES}
    events = blind["events-deleted"]
    assert events["rule"] == "events-deleted"
    assert events["gap"].startswith("delete events as user: None by rules[9] line 77")
    assert main(["policy", "coverage", policy, "--rules"]) == 0
    out = capsys.readouterr().out
    assert "your policy blinds 3 and partly blinds 0 of 53 rules" in out
