"""policy diff: coverage changes first, then the sample."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from kubetrail.catalog.techniques import load_techniques
from kubetrail.cli import main
from kubetrail.model.event import Event
from kubetrail.policy.diff import diff
from kubetrail.policy.load import parse_policy

OLD = "apiVersion: audit.k8s.io/v1\nrules:\n- level: Metadata\n"
NEW = (
    "apiVersion: audit.k8s.io/v1\nrules:\n"
    "- level: None\n  userGroups: [system:serviceaccounts]\n  verbs: [list]\n"
    "  resources: [{resources: [secrets]}]\n"
    "- level: Metadata\n"
)


def test_narrowing_a_policy_shows_what_it_stops_logging() -> None:
    old, new = parse_policy(OLD).policy, parse_policy(NEW).policy
    result = diff(old, new, load_techniques())
    assert result.new_percent < result.old_percent
    read = next(t for t in result.techniques if t.id == "read-secrets")
    assert read.worse
    assert result.techniques[0].worse  # worse first
    lost = {(v.request, v.caller) for v in read.variants}
    assert ("list secrets", "app-serviceaccount") in lost
    assert ("list secrets", "user") not in lost  # alice is no service account
    assert all(v.new_level == "None" for v in read.variants)


def test_identical_policies_have_no_changes() -> None:
    policy = parse_policy(OLD).policy
    result = diff(policy, policy, load_techniques())
    assert result.techniques == ()
    assert result.old_percent == result.new_percent


def test_sample_changes_are_grouped_with_bytes() -> None:
    events = [
        msgspec.json.decode(
            json.dumps(
                {
                    "level": "Metadata",
                    "stage": "ResponseComplete",
                    "verb": "list",
                    "requestURI": "/api/v1/secrets",
                    "user": {
                        "username": "system:serviceaccount:a:b",
                        "groups": ["system:serviceaccounts"],
                    },
                }
            ).encode(),
            type=Event,
        )
    ] * 3
    result = diff(parse_policy(OLD).policy, parse_policy(NEW).policy, load_techniques(), events)
    assert result.sample_events == 3
    assert result.sample_changed == 3
    (change,) = result.sample
    assert (change.old_level, change.new_level, change.verb, change.resource) == (
        "Metadata",
        "None",
        "list",
        "secrets",
    )
    assert change.events == 3
    assert change.new_bytes == 0
    assert result.new_bytes == 0 < result.old_bytes


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "old.yaml").write_text(OLD)
    (tmp_path / "new.yaml").write_text(NEW)
    assert main(["policy", "diff", str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("coverage: ")
    assert (
        "NEW stops logging `list secrets` by app-serviceaccount, kube-system-serviceaccount" in out
    )
    assert (
        main(
            ["policy", "diff", str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml"), "-o", "json"]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["techniques"][0]["variants"][0]["new_level"] == "None"
