"""KT110 events-unlogged: deletion of events at None (writes may be dropped)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding
from kubetrail.policy.lint.rules.kt110_events_unlogged import EventsUnlogged
from kubetrail.policy.lint.runner import lint_bytes, lint_file

HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"  # the first rule is on line 4
BASELINE = Path(__file__).resolve().parents[3] / "src/kubetrail/data/policies/baseline.yaml"


def lint(rules: str) -> list[Finding]:
    data = (HEAD + textwrap.dedent(rules)).encode()
    return lint_bytes(data, source="p.yaml", rules=[EventsUnlogged])


OK = {
    "writes-dropped-deletes-logged": """\
        - level: None
          verbs: [create, update, patch, get, list, watch]
          resources:
          - {group: "", resources: [events]}
          - {group: events.k8s.io, resources: [events]}
        - level: Metadata
        """,
    "deletes-logged-before-the-none-rule": """\
        - level: Metadata
          verbs: [delete, deletecollection]
          resources: [{group: "", resources: [events]}, {group: events.k8s.io}]
        - level: None
          resources: [{group: "", resources: [events]}, {group: events.k8s.io}]
        - level: Metadata
        """,
    "only-nodes-dropped": """\
        - level: None
          userGroups: ["system:nodes"]
          resources: [{group: "", resources: [events]}]
        - level: Metadata
        """,
    "logs-nothing-is-kt108": "- level: None\n",
}


@pytest.mark.parametrize("rules", OK.values(), ids=OK.keys())
def test_no_finding(rules: str) -> None:
    assert lint(rules) == []


def test_core_events_dropped() -> None:
    (finding,) = lint(
        """\
        - level: None
          resources:
          - group: ""
            resources: [events]
        - level: Metadata
        """
    )
    assert finding.code == "KT110"
    assert finding.name == "events-unlogged"
    assert finding.severity is Severity.WARNING
    assert (finding.rule, finding.location.line) == (0, 4)
    assert finding.message == (
        "`events` delete, deletecollection are not logged: "
        "deleting events to hide tracks goes unseen"
    )
    assert finding.hint is not None
    assert "verbs: [create, update, patch]" in finding.hint


def test_both_apis_in_one_finding() -> None:
    (finding,) = lint(
        """\
        - level: Metadata
          verbs: [delete]
          resources: [{group: "", resources: [events]}]
        - level: None
          userGroups: ["system:authenticated"]
          resources: [{group: "", resources: [events]}, {group: events.k8s.io}]
        - level: Metadata
        """
    )
    assert (finding.rule, finding.location.line) == (1, 7)
    assert finding.message.startswith(
        "`events` deletecollection and `events.k8s.io` events delete, deletecollection are "
        "not logged"
    )


def test_kube_system_events_dropped() -> None:
    (finding,) = lint(
        """\
        - level: None
          namespaces: [kube-system]
          verbs: [delete]
        - level: Metadata
        """
    )
    assert finding.rule == 0
    assert "`events` delete and `events.k8s.io` events delete are not logged" in finding.message


def test_no_rule_matches() -> None:
    (finding,) = lint(
        """\
        - level: Metadata
          resources: [{group: ""}]
        """
    )
    assert finding.rule is None
    assert finding.location.line == 3  # the `rules:` key
    assert finding.message == (
        "no rule matches `events.k8s.io` events delete, deletecollection: "
        "deleting events to hide tracks goes unseen"
    )


def test_baseline_keeps_event_deletion() -> None:
    # The baseline drops event writes (create/update/patch) but logs their deletion.
    assert lint_file(str(BASELINE), rules=[EventsUnlogged]) == []
