"""detections export: the pack converted by pySigma's SIEM backends."""

from __future__ import annotations

import json

import pytest

from kubetrail.cli import main
from kubetrail.detect.export import export


def by_rule(target: str) -> dict[str, object]:
    return {r.rule: r for r in export(target, [])}


def test_splunk_converts_the_whole_pack_correlations_included() -> None:
    results = by_rule("splunk")
    assert len(results) == 57
    assert all(r.error is None for r in results.values())  # type: ignore[attr-defined]
    assert results["pod-exec"].queries == (  # type: ignore[attr-defined]
        'objectRef.resource="pods" objectRef.subresource IN ("exec", "attach") '
        'verb IN ("create", "get")',
    )
    (burst,) = results["create-then-exec"].queries  # type: ignore[attr-defined]
    assert burst.startswith("| multisearch")
    assert "stats dc(event_type) as event_type_count by _time user.username" in burst


def test_elastic_fields_are_those_of_the_kubernetes_integration() -> None:
    results = by_rule("elasticsearch")
    (query,) = results["pod-exec"].queries  # type: ignore[attr-defined]
    assert query == (
        "kubernetes.audit.objectRef.resource:pods AND "
        "(kubernetes.audit.objectRef.subresource:(exec OR attach)) AND "
        "(kubernetes.audit.verb:(create OR get))"
    )
    (anonymous,) = results["anonymous-allowed"].queries  # type: ignore[attr-defined]
    # Annotation keys are written with "_" for "." by Elastic's integration.
    assert "kubernetes.audit.annotations.authorization_k8s_io/decision:allow" in anonymous
    # Lucene has no correlations: reported, not dropped.
    assert results["create-then-exec"].error == (  # type: ignore[attr-defined]
        "NotImplementedError: Backend does not support correlation rules."
    )


def test_esql_and_eql() -> None:
    esql = by_rule("esql")
    failed = {n: r.error for n, r in esql.items() if r.error}  # type: ignore[attr-defined]
    # ES|QL cannot join a correlation's groups through field aliases.
    assert failed == {"token-minted-then-used": "NotImplementedError: Correlation field "
                      "normalization is not supported by backend."}  # fmt: skip
    assert esql["pod-exec"].queries[0].startswith("from * metadata")  # type: ignore[attr-defined]
    failed = {r.rule: r.error for r in export("eql", []) if r.error}
    # EQL has no `exists`: the rules that use it are reported, each with the reason.
    assert sorted(failed) == [
        "clusterrole-aggregation", "impersonation", "ingress-snippet-annotation",
        "minted-token-used", "node-cordoned-by-user", "persistentvolume-hostpath",
        "pod-pinned-to-node",
        "secret-mounted-by-user", "serviceaccount-token-outside-pod",
        "serviceaccount-token-with-kubectl", "token-minted-then-used",
        "workload-identity-annotation",
    ]  # fmt: skip
    assert all("Field exists expressions are not supported" in str(e) for e in failed.values())


def test_cli_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["detections", "export", "--target", "elasticsearch"]) == 0
    out, err = capsys.readouterr()
    assert "# pod-exec (medium): " in out
    assert "53 of 57 rules converted for elasticsearch" in err
    assert "create-then-exec: not converted: NotImplementedError" in err
    assert main(["detections", "export", "--target", "splunk", "-o", "json"]) == 0
    out, _ = capsys.readouterr()
    docs = json.loads(out)
    assert {d["rule"] for d in docs} >= {"pod-exec", "create-then-exec"}
    assert set(docs[0]) == {"rule", "id", "title", "level", "queries", "error"}
