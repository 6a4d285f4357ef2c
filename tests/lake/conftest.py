"""Lake fixtures: events as apiserver lines, a lake in tmp, a fixed clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kubetrail.ingest.pipeline import Ingestor
from kubetrail.lake.engine import DuckDBEngine
from kubetrail.lake.store import Lake

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


def event(
    audit_id: str,
    *,
    stage: str = "ResponseComplete",
    verb: str = "get",
    uri: str = "/api/v1/namespaces/default/pods/p",
    user: str = "alice",
    received: str = "2026-11-26T10:15:00.000000Z",
    stage_at: str | None = None,
    resource: str = "pods",
    namespace: str = "default",
    name: str = "p",
    **extra: object,
) -> bytes:
    doc: dict[str, object] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse",
        "auditID": audit_id,
        "stage": stage,
        "requestURI": uri,
        "verb": verb,
        "user": {"username": user, "groups": ["system:authenticated"]},
        "sourceIPs": ["10.0.0.1"],
        "userAgent": "kubectl/v1.30.0",
        "objectRef": {
            "resource": resource,
            "namespace": namespace,
            "name": name,
            "apiVersion": "v1",
        },
        "responseStatus": {"metadata": {}, "code": 200},
        "requestReceivedTimestamp": received,
        "stageTimestamp": stage_at or received,
        "annotations": {
            "authorization.k8s.io/decision": "allow",
            "authorization.k8s.io/reason": "",
        },
    }
    doc.update(extra)
    return json.dumps(doc, separators=(",", ":")).encode()


def ingest(
    lake: Lake, lines: list[bytes], cluster: str = "test", *, tolerant: bool = False, **kw: object
) -> Ingestor:
    """Ingest ``lines``; with ``tolerant``, lines that do not decode are skipped."""
    import msgspec

    ing = Ingestor(lake, cluster, clock=lambda: NOW, **kw)  # type: ignore[arg-type]
    for i, line in enumerate(lines):
        try:
            ing.add(line, f"test:{i}")
        except msgspec.DecodeError:
            if not tolerant:
                raise
    ing.close()
    return ing


def count(lake: Lake, sql: str = "SELECT count(*) FROM events") -> int:
    eng = DuckDBEngine(lake)
    try:
        return int(eng.query(sql).rows[0][0])
    finally:
        eng.close()


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(tmp_path / "lake", create=True)
