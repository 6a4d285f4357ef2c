"""Findings as SARIF 2.1.0, for code-scanning dashboards and SIEMs that read it.

One run, tool ``kubetrail``; one reporting descriptor per loaded rule and correlation (its
name as ``id``, title, description, Sigma level, catalogue techniques and ATT&CK ids as
tags); one result per finding: the rule, the level mapped as ``critical``/``high`` → error,
``medium`` → warning, ``low``/``informational`` → note, the event's sentence as the message,
the audit ID as a logical location and a fingerprint, and — for events read from a file —
the file and line as a physical location. The Sigma level itself is kept in ``properties``
(SARIF's three levels lose it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from kubetrail.detect.engine import Finding
from kubetrail.detect.rules import Correlation, Rule

__all__ = ["SARIF_LEVEL", "sarif"]

SARIF_LEVEL: Final = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "note",
    "informational": "note",
}


def _descriptor(rule: Rule | Correlation) -> dict[str, Any]:
    description = rule.description if isinstance(rule, Rule) else f"{rule.type} correlation"
    return {
        "id": rule.name,
        "name": rule.name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": description or rule.title},
        "defaultConfiguration": {"level": SARIF_LEVEL[rule.level]},
        "properties": {
            "sigma-id": rule.id,
            "sigma-level": rule.level,
            "tags": [*rule.techniques, *rule.attack],
        },
    }


def _location(finding: Finding) -> dict[str, Any]:
    location: dict[str, Any] = {
        "logicalLocations": [{"name": finding.audit_id or "", "kind": "auditID"}]
    }
    source = finding.source
    if source:
        path, _, line = source.rpartition(":")
        physical: dict[str, Any] = {"artifactLocation": {"uri": source}}
        if path and line.isdigit():  # a file and line (events read from files)
            physical = {
                "artifactLocation": {"uri": path},
                "region": {"startLine": int(line)},
            }
        location["physicalLocation"] = physical
    return location


def sarif(
    findings: Iterable[Finding],
    rules: Sequence[Rule],
    correlations: Sequence[Correlation] = (),
    *,
    version: str,
) -> dict[str, Any]:
    """The SARIF log of ``findings`` (rules and correlations describe the tool's rules)."""
    described: list[Rule | Correlation] = [*rules, *correlations]
    index = {r.name: i for i, r in enumerate(described)}
    results = []
    for f in findings:
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "level": SARIF_LEVEL[f.level],
            "message": {"text": f.sentence},
            "locations": [_location(f)],
            "partialFingerprints": {"auditID/v1": f"{f.cluster or ''}/{f.audit_id or ''}"},
            "properties": {
                "sigma-level": f.level,
                "received": f.received_at,
                "cluster": f.cluster,
                "user": f.user,
                "techniques": list(f.techniques),
                "attack": list(f.attack),
            },
        }
        if f.rule in index:
            result["ruleIndex"] = index[f.rule]
        results.append(result)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "kubetrail",
                        "version": version,
                        "rules": [_descriptor(r) for r in described],
                    }
                },
                "results": results,
            }
        ],
    }
