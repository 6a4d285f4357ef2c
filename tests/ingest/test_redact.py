"""No secret value from the inputs reaches any file: one test per path of the issue."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from kubetrail.ingest.pipeline import Ingestor
from kubetrail.ingest.redact import MARKER
from kubetrail.lake.store import Lake

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
V1, V2, V3 = "c3VwZXItc2VjcmV0LTE=", "plain-secret-two", "eyJhbGciOiJSUzI1NiJ9.secret-three"


def line(verb: str, resource: str, req: object = None, resp: object = None, **ref: str) -> bytes:
    doc: dict[str, object] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse",
        "auditID": f"{verb}-{resource}-{ref.get('subresource', '')}",
        "stage": "ResponseComplete",
        "requestURI": f"/api/v1/namespaces/d/{resource}",
        "verb": verb,
        "user": {"username": "alice"},
        "requestReceivedTimestamp": "2026-11-26T10:00:00.000000Z",
        "stageTimestamp": "2026-11-26T10:00:00.100000Z",
    }
    if resource:
        doc["objectRef"] = {"resource": resource, "namespace": "d", "name": "s", **ref}
    if req is not None:
        doc["requestObject"] = req
    if resp is not None:
        doc["responseObject"] = resp
    return json.dumps(doc).encode()


SECRET = {
    "kind": "Secret",
    "apiVersion": "v1",
    "metadata": {
        "name": "s",
        "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": json.dumps(
                {"kind": "Secret", "stringData": {"b": V2}}
            )
        },
    },
    "data": {"a": V1},
    "stringData": {"b": V2},
}
ITEM = {k: v for k, v in SECRET.items() if k not in ("kind", "apiVersion")}  # list items: no kind

CASES = {
    "create-data-stringData-last-applied": line("create", "secrets", SECRET, SECRET),
    "list-items-without-kind": line(
        "list", "secrets", None, {"kind": "SecretList", "items": [ITEM, ITEM]}
    ),
    "table-rows": line(
        "list",
        "secrets",
        None,
        {"kind": "Table", "rows": [{"cells": ["s"], "object": SECRET}]},
    ),
    "merge-patch": line("patch", "secrets", {"data": {"a": V1}, "stringData": {"b": V2}}, SECRET),
    "json-patch": line(
        "patch",
        "secrets",
        [
            {"op": "replace", "path": "/data/a", "value": V1},
            {"op": "add", "path": "/stringData", "value": {"b": V2}},
            {"op": "add", "path": "", "value": SECRET},
        ],
        SECRET,
    ),
    "apply-patch-yaml-text": line(
        "patch", "secrets", f"kind: Secret\nstringData:\n  b: {V2}\n", SECRET
    ),
    "token-request": line(
        "create",
        "serviceaccounts",
        {"kind": "TokenRequest", "spec": {"audiences": ["api"]}},
        {"kind": "TokenRequest", "status": {"token": V3}},
        subresource="token",
    ),
    "token-review": line(
        "create",
        "tokenreviews",
        {"kind": "TokenReview", "spec": {"token": V3}},
        {"kind": "TokenReview", "spec": {"token": V3}, "status": {"authenticated": True}},
    ),
    "secret-body-without-objectref": line("get", "", None, SECRET),
}


def all_text(lake: Lake) -> str:
    """Every byte of every file under the lake, and every value of every Parquet file."""
    parts = []
    for path in lake.root.rglob("*"):
        if not path.is_file() or path.name == "key":
            continue
        parts.append(path.read_bytes().decode("utf-8", "replace"))
        if path.suffix == ".parquet":
            rows = duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetchall()
            parts.append(repr(rows))
    return "\n".join(parts)


def run(lake: Lake, data: bytes, *, keep_secrets: bool = False) -> Ingestor:
    ing = Ingestor(lake, "c", clock=lambda: NOW, keep_secrets=keep_secrets)
    ing.add(data, "t")
    rows = ing.take_rows()
    wal = lake.root / "_wal" / "w"
    wal.mkdir(exist_ok=True)
    (wal / "1.jsonl").write_bytes(b"\n".join(rows.json_rows()) + b"\n")
    ing.commit(rows)
    return ing


@pytest.mark.parametrize("name", list(CASES))
def test_no_secret_value_in_any_file(tmp_path: Path, name: str) -> None:
    lake = Lake(tmp_path / "lake", create=True)
    ing = run(lake, CASES[name])
    assert ing.stats.redacted_events == 1
    text = all_text(lake)
    for value in (V1, V2, V3):
        assert value not in text, f"{name}: {value} reached disk"
    assert MARKER in text


@pytest.mark.parametrize("name", ["create-data-stringData-last-applied", "token-review"])
def test_keep_secrets_stores_them_so_the_check_can_fail(tmp_path: Path, name: str) -> None:
    lake = Lake(tmp_path / "lake", create=True)
    run(lake, CASES[name], keep_secrets=True)
    text = all_text(lake)
    assert V1 in text or V3 in text


def test_markers_are_keyed_and_stable(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake", create=True)
    ing = Ingestor(lake, "c", clock=lambda: NOW)
    ing.add(CASES["create-data-stringData-last-applied"], "t")
    (one,) = ing.take_rows().lines
    doc = json.loads(one)
    a = doc["requestObject"]["data"]["a"]
    assert a.startswith(MARKER)
    assert a == doc["responseObject"]["data"]["a"]  # same value, same marker
    other = Lake(tmp_path / "other", create=True)  # another key: another marker
    ing2 = Ingestor(other, "c", clock=lambda: NOW)
    ing2.add(CASES["create-data-stringData-last-applied"], "t")
    assert json.loads(ing2.take_rows().lines[0])["requestObject"]["data"]["a"] != a


def test_non_secret_bodies_untouched(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake", create=True)
    cm = {"kind": "ConfigMap", "data": {"a": V2}}
    ing = Ingestor(lake, "c", clock=lambda: NOW)
    ing.add(line("create", "configmaps", cm, cm), "t")
    assert ing.stats.redacted_events == 0
    assert V2 in ing.take_rows().lines[0].decode()


def test_json_patch_keeps_its_shape(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake", create=True)
    ing = Ingestor(lake, "c", clock=lambda: NOW)
    ing.add(CASES["json-patch"], "t")
    ops = json.loads(ing.take_rows().lines[0])["requestObject"]
    assert [(op["op"], op["path"]) for op in ops] == [
        ("replace", "/data/a"),
        ("add", "/stringData"),
        ("add", ""),
    ]
    assert ops[0]["value"].startswith(MARKER)
    assert ops[1]["value"]["b"].startswith(MARKER)
    assert ops[2]["value"]["kind"] == "Secret"
