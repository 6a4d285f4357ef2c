"""Exceptions: Sigma filters with owner, reason and expiry that silence rules."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kubetrail.detect.engine import DetectStats, detect
from kubetrail.detect.exceptions import Silence, load_exceptions
from kubetrail.detect.rules import load_rules
from tests.detect.test_pack import ev

RULES, _ = load_rules()
TODAY = date(2026, 12, 2)


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.yml"
    path.write_text(
        f"title: {name}\nid: 88888888-8888-8888-8888-88888888888{len(name) % 10}\n"
        "logsource: {product: kubernetes, service: audit}\n" + body
    )
    return path


JANE_IN_DEV = (
    "owner: platform-team\nreason: on-call debugging\nexpires: 2027-01-31\n"
    "filter:\n  rules: [pod-exec]\n  selection:\n    user.username: jane\n"
    "    objectRef.namespace: dev\n  condition: not selection\n"
)


def rules_fired(
    events: list[dict[str, Any]], silences: list[Silence], stats: DetectStats | None = None
) -> list[str]:
    found = detect(RULES, [(e, {}) for e in events], exceptions=silences, today=TODAY,
                   stats=stats, min_level="low")  # fmt: skip
    return sorted(f.rule for f in found)


def test_an_exception_silences_only_what_it_names(tmp_path: Path) -> None:
    silences, problems = load_exceptions([write(tmp_path, "jane", JANE_IN_DEV)])
    assert problems == []
    stats = DetectStats()
    events = [
        ev("create", "pods", sub="exec", user="jane", ns="dev"),  # silenced
        {**ev("create", "pods", sub="exec", user="jane", ns="prod"), "auditID": "b"},
        {**ev("create", "pods", sub="exec", user="bob", ns="dev"), "auditID": "c"},
        {**ev("create", "pods", sub="portforward", user="jane", ns="dev"), "auditID": "d"},
    ]
    assert rules_fired(events, silences, stats) == ["pod-exec", "pod-exec", "port-forward"]
    assert stats.silenced == {silences[0].id: 1}


def test_an_expired_exception_silences_nothing(tmp_path: Path) -> None:
    old = JANE_IN_DEV.replace("2027-01-31", "2026-12-01")
    silences, _ = load_exceptions([write(tmp_path, "old", old)])
    assert rules_fired([ev("create", "pods", sub="exec", user="jane", ns="dev")], silences) == [
        "pod-exec"
    ]


def test_an_unknown_filter_never_silences(tmp_path: Path) -> None:
    """A filter that reads a body the event lacks is unknown: the finding stays."""
    body = (
        "owner: o\nreason: r\nexpires: 2027-01-31\nfilter:\n  rules: [privileged-container]\n"
        "  selection:\n    requestObject.metadata.labels.app: node-agent\n"
        "  condition: not selection\n"
    )
    silences, _ = load_exceptions([write(tmp_path, "agent", body)])
    privileged = {"spec": {"containers": [{"securityContext": {"privileged": True}}]}}
    agent = ev("create", "pods", body={**privileged, "metadata": {"labels": {"app": "node-agent"}}})
    other = {**ev("create", "pods", body=privileged), "auditID": "b"}
    assert rules_fired([agent, other], silences) == ["privileged-container"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (JANE_IN_DEV.replace("owner: platform-team\n", ""), "needs owner"),
        (JANE_IN_DEV.replace("expires: 2027-01-31\n", ""), "needs expires"),
        (JANE_IN_DEV.replace("2027-01-31", "soon"), "is not YYYY-MM-DD"),
        ("owner: o\nreason: r\nexpires: 2027-01-31\nfilter: [1\n", "not a valid Sigma filter"),
    ],
)
def test_bad_exceptions_are_reported(tmp_path: Path, body: str, message: str) -> None:
    silences, problems = load_exceptions([write(tmp_path, "bad", body)])
    assert silences == []
    assert message in problems[0].message


def test_cli_reports_silenced_and_expired(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from kubetrail.cli import main

    log = tmp_path / "audit.log"
    log.write_text(json.dumps(ev("create", "pods", sub="exec", user="jane", ns="dev")) + "\n")
    folder = tmp_path / "exceptions"
    folder.mkdir()
    write(folder, "jane", JANE_IN_DEV.replace("2027-01-31", "2099-12-31"))  # the real clock
    write(folder, "stale", JANE_IN_DEV.replace("2027-01-31", "2020-01-01"))
    assert main(["detect", str(log), "--exceptions", str(folder)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "1 silenced by 'jane' (platform-team, until 2099-12-31)" in err
    assert "stale.yml: exception expired on 2020-01-01 (owner platform-team); ignored" in err
