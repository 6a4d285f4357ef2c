"""Every lint rule on every corpus policy, and on the bundled baseline.

One table for all rules: for each rule, the (rule index, line) of every finding it reports on
each of the nine real policies (absent = none). Each entry was checked by reading the policy;
the notes say what was found. Rule-specific behaviour is tested in ``test_ktNNN.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetrail.policy.lint.registry import BY_CODE, RULES
from kubetrail.policy.lint.runner import lint_bytes, lint_file
from kubetrail.policy.validate import KubeVersion

BASELINE = Path(__file__).resolve().parents[3] / "src/kubetrail/data/policies/baseline.yaml"
POLICIES = (
    "eks-best-practices.yaml",
    "falco-k8saudit.yaml",
    "gce-gke-configure-helper.yaml",
    "k8s-docs-example.yaml",
    "kubespray-default.yaml",
    "openshift-allrequestbodies.yaml",
    "openshift-default.yaml",
    "openshift-writerequestbodies.yaml",
    "rke2-default.yaml",
)
Found = list[tuple[int | None, int]]

EXPECTED: dict[str, dict[str, Found]] = {
    # EKS's policy is v1beta1: refused at load (KT004), still linted as v1.
    "KT001": {},
    # OpenShift's `resource: [machineconfig, controllerconfig]` under a group (line 38).
    "KT002": {
        "openshift-allrequestbodies.yaml": [(None, 38)],
        "openshift-writerequestbodies.yaml": [(None, 38)],
    },
    "KT003": {},
    "KT004": {"eks-best-practices.yaml": [(None, 4)]},
    "KT005": {},
    "KT006": {},
    # Falco lists `deployments` under the core group "" (they are in apps).
    "KT007": {"falco-k8saudit.yaml": [(0, 14)]},
    # Both OpenShift body profiles list `tokenrequests` under authentication.k8s.io: not a
    # resource (the TokenRequest API is serviceaccounts/token). Same on 1.24, 1.30, 1.36.
    "KT008": {
        "openshift-allrequestbodies.yaml": [(2, 34)],
        "openshift-writerequestbodies.yaml": [(2, 34)],
    },
    # The `controller-leader` config map rule of Falco and the docs example: its create,
    # deletecollection, list and watch carry no name, so they reach later rules (a note).
    "KT009": {"falco-k8saudit.yaml": [(3, 34)], "k8s-docs-example.yaml": [(2, 25)]},
    # None logs secrets above Metadata: the docs example, Falco, GKE, kubespray, EKS and
    # OpenShift all put secrets in a Metadata rule before any Request rule; RKE2 logs nothing.
    "KT101": {},
    # GKE, kubespray, EKS and both OpenShift body profiles log serviceaccounts/token and
    # tokenreviews at Metadata first; EKS's later Request rule for serviceaccounts/token does
    # not log the response. The docs example and Falco log serviceaccounts/token at Request
    # (core group) and tokenreviews at Metadata (catch-all).
    "KT102": {},
    # Docs example rules[5] (line 43) and Falco rules[6] (line 52): kube-system config maps at
    # Request; Falco rules[7] (line 61): other config maps at RequestResponse; OpenShift
    # AllRequestBodies rules[3] (line 40): the RequestResponse catch-all; WriteRequestBodies
    # rules[3] (line 40): writes at RequestResponse. EKS logs only `aws-auth` in full (named:
    # not reported); GKE, kubespray and OpenShift Default log config maps at Metadata.
    "KT103": {
        "falco-k8saudit.yaml": [(6, 52), (7, 61)],
        "k8s-docs-example.yaml": [(5, 43)],
        "openshift-allrequestbodies.yaml": [(3, 40)],
        "openshift-writerequestbodies.yaml": [(3, 40)],
    },
    # Every policy logs secret get, list and watch alike (compared up to what a read records).
    "KT104": {},
    # Where pods are listed, their subresources reach a rule logging them as much as a read
    # or exec can record.
    "KT105": {},
    # Exec/attach/port-forward `get` is logged like `create` (neither has a body).
    "KT106": {},
    # All end with a bare `- level: Metadata` (OpenShift AllRequestBodies: RequestResponse);
    # RKE2's only rule is `- level: None`, which logs nothing (KT108, not KT107).
    "KT107": {},
    # Only RKE2's default (`- level: None`) logs nothing; its `rules:` key is on line 10.
    "KT108": {"rke2-default.yaml": [(None, 10)]},
    # Their None rules are narrow (kube-proxy watches, node and kubelet gets of nodes,
    # control-plane users on endpoints/leases/metrics, events for everyone, health/discovery
    # URLs — OpenShift's system:authenticated/unauthenticated rule only covers non-resource
    # URLs). RKE2's bare `- level: None` is KT108's.
    "KT109": {},
    # GKE (rules[9], line 77), kubespray (rules[8], line 65) and EKS (rules[8], line 70) drop
    # core `events` for every verb; their events.k8s.io events reach the Metadata catch-all.
    # The docs example and Falco log core events at Request, OpenShift at Metadata or above.
    "KT110": {
        "eks-best-practices.yaml": [(8, 70)],
        "gce-gke-configure-helper.yaml": [(9, 77)],
        "kubespray-default.yaml": [(8, 65)],
    },
    # EKS sets omitStages on every logging rule except rules[13] (serviceaccounts/token at
    # Request, line 108) and has no policy-level omitStages, so the finding is at its
    # `rules:` key (line 6). GKE and kubespray set it on every logging rule; the others at the
    # policy level.
    "KT201": {"eks-best-practices.yaml": [(None, 6)]},
    # None sets omitManagedFields except OpenShift (policy level). EKS: rules[0], [9], [10],
    # [13], [15] log objects; Falco: rules[0], [1], [6], [7], [9]; GKE: rules[10], [11], [15];
    # docs example: rules[0], [5], [7]; kubespray: rules[11]. Reported once, at the first.
    "KT202": {
        "eks-best-practices.yaml": [(0, 8)],
        "falco-k8saudit.yaml": [(0, 9)],
        "gce-gke-configure-helper.yaml": [(10, 83)],
        "k8s-docs-example.yaml": [(0, 8)],
        "kubespray-default.yaml": [(11, 103)],
    },
}


def test_every_rule_and_policy_is_in_the_table(corpus: Path) -> None:
    assert sorted(EXPECTED) == sorted(rule.code for rule in RULES)
    assert sorted(p.name for p in (corpus / "policies").glob("*.yaml")) == sorted(POLICIES)
    assert all(set(row) <= set(POLICIES) for row in EXPECTED.values())


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_corpus_findings(corpus: Path, code: str, policy: str) -> None:
    findings = lint_file(str(corpus / "policies" / policy), rules=[BY_CODE[code]])
    assert all(f.code == code for f in findings)
    assert [(f.rule, f.location.line) for f in findings] == EXPECTED[code].get(policy, [])


@pytest.mark.parametrize("version", ["1.24", "1.30", "1.36"])
@pytest.mark.parametrize("code", ["KT007", "KT008", "KT009"])
def test_discovery_rules_agree_across_versions(corpus: Path, code: str, version: str) -> None:
    for policy in POLICIES:
        path = corpus / "policies" / policy
        findings = lint_bytes(
            path.read_bytes(),
            source=policy,
            rules=[BY_CODE[code]],
            kube_version=KubeVersion.parse(version),
        )
        assert [(f.rule, f.location.line) for f in findings] == EXPECTED[code].get(policy, [])


@pytest.mark.parametrize("version", ["1.24", "1.30", "1.36"])
def test_baseline_has_no_findings(version: str) -> None:
    assert lint_file(str(BASELINE), rules=RULES, kube_version=KubeVersion.parse(version)) == []
