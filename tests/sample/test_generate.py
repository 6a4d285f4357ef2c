"""``kubetrail.sample.generate`` and ``kubetrail sample generate``."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner

from kubetrail.cli.sample import sample
from kubetrail.model.event import Event
from kubetrail.policy.resolve import from_event
from kubetrail.sample.generate import ATTACK_ANNOTATION, CAPTURE_EVENTS_PER_SECOND, generate

START = datetime(2026, 1, 1, tzinfo=UTC)
SECONDS = 200.0
LONG_SUBS = {"exec", "attach", "portforward", "log", "proxy"}


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    return list(generate(nodes=3, seconds=SECONDS, seed=7, start=START))


@pytest.fixture(scope="module")
def events(lines: list[bytes]) -> list[Event]:
    decoder = msgspec.json.Decoder(Event)
    return [decoder.decode(line) for line in lines]


def _long_running(ev: Event) -> bool:
    sub = ev.object_ref.subresource if ev.object_ref else ""
    return ev.verb in ("watch", "proxy") or sub in LONG_SUBS


def test_deterministic_for_a_seed(lines: list[bytes]) -> None:
    again = list(generate(nodes=3, seconds=SECONDS, seed=7, start=START))
    assert again == lines
    other = list(generate(nodes=3, seconds=20, seed=8, start=START))
    assert other[:50] != lines[:50]


def test_lines_are_compact_json_in_apiserver_key_order(lines: list[bytes]) -> None:
    for line in lines[:2000]:
        assert b"\n" not in line
        assert line.startswith(b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":')
        obj = json.loads(line)
        keys = [k for k in obj if k in _ORDER]
        assert keys == sorted(keys, key=_ORDER.index)
        if "responseStatus" in obj:
            assert next(iter(obj["responseStatus"])) == "metadata"
    assert any(b"\\u0026" in line for line in lines)
    assert not any(b"&" in line for line in lines)


_ORDER = [
    "kind",
    "apiVersion",
    "level",
    "auditID",
    "stage",
    "requestURI",
    "verb",
    "user",
    "sourceIPs",
    "userAgent",
    "objectRef",
    "responseStatus",
    "requestObject",
    "responseObject",
    "requestReceivedTimestamp",
    "stageTimestamp",
    "annotations",
]


def test_every_line_decodes_and_timestamps_are_ordered(events: list[Event]) -> None:
    stamps = [ev.stage_timestamp or "" for ev in events]
    assert stamps == sorted(stamps)
    assert stamps[0] >= "2026-01-01T00:00:00.000000Z"
    assert stamps[-1] < "2026-01-01T00:03:20.000000Z"
    for ev in events:
        assert ev.level == "RequestResponse"
        assert len(ev.stage_timestamp or "") == len("2006-01-02T15:04:05.000000Z")
        assert (ev.request_received_timestamp or "") <= (ev.stage_timestamp or "")


def test_stage_sequences(events: list[Event]) -> None:
    stages: dict[str, list[Event]] = defaultdict(list)
    for ev in events:
        stages[ev.audit_id].append(ev)
    complete = 0
    for seq in stages.values():
        names = [ev.stage for ev in seq]
        want = ["RequestReceived", "ResponseStarted", "ResponseComplete"]
        if not _long_running(seq[0]):
            want = ["RequestReceived", "ResponseComplete"]
        # A request still open at the end of the traffic is cut, as in a real capture.
        assert names == want[: len(names)], names
        if names[-1] == "ResponseComplete":
            complete += 1
        else:
            assert seq[0].request_received_timestamp is not None
            assert (
                _long_running(seq[0]) or seq[0].request_received_timestamp > "2026-01-01T00:03:19"
            )
        first = seq[0]
        assert first.response_status is None
        assert first.request_object is msgspec.UNSET
        assert first.response_object is msgspec.UNSET
    assert complete > 0.9 * len(stages)


def test_attacks_are_present_labelled_and_rare(events: list[Event]) -> None:
    attacks = [ev for ev in events if ATTACK_ANNOTATION in ev.annotations]
    found = {ev.annotations[ATTACK_ANNOTATION] for ev in attacks}
    assert found == {
        "read-secrets",
        "exec-into-container",
        "privileged-role-binding",
        "privileged-container",
    }
    assert len(attacks) <= 0.0012 * len(events)
    techniques = Path(__file__).parents[2] / "src/kubetrail/data/techniques.yaml"
    text = techniques.read_text(encoding="utf-8")
    for technique in found:
        assert f"- id: {technique}\n" in text
    by_technique = {ev.annotations[ATTACK_ANNOTATION]: ev for ev in attacks}
    assert by_technique["read-secrets"].request_uri.startswith("/api/v1/secrets?")
    exec_ev = by_technique["exec-into-container"]
    assert exec_ev.object_ref is not None
    assert exec_ev.object_ref.namespace == "kube-system"
    assert exec_ev.object_ref.subresource == "exec"
    crb = [
        ev
        for ev in attacks
        if ev.annotations[ATTACK_ANNOTATION] == "privileged-role-binding"
        and ev.stage == "ResponseComplete"
    ]
    assert crb
    assert b"cluster-admin" in bytes(crb[0].request_object)  # type: ignore[arg-type]
    pods = [
        ev
        for ev in attacks
        if ev.annotations[ATTACK_ANNOTATION] == "privileged-container"
        and ev.stage == "ResponseComplete"
    ]
    assert pods
    assert b'"privileged":true' in bytes(pods[0].request_object)  # type: ignore[arg-type]


def test_rate_and_size(lines: list[bytes]) -> None:
    rate = len(lines) / SECONDS
    assert 0.8 * CAPTURE_EVENTS_PER_SECOND <= rate <= 1.2 * CAPTURE_EVENTS_PER_SECOND
    mean = sum(len(line) for line in lines) / len(lines)
    assert 1500 <= mean <= 3000
    pods = sum(1 for line in lines if b'"restartPolicy"' in line)
    assert 0.05 <= pods / len(lines) <= 0.15


def test_rate_scales_with_nodes() -> None:
    small = sum(1 for _ in generate(nodes=3, seconds=60, seed=1, start=START))
    big = sum(1 for _ in generate(nodes=30, seconds=60, seed=1, start=START))
    assert big > 1.3 * small


def test_bodies(events: list[Event]) -> None:
    single = listed = patches = json_patches = statuses = 0
    for ev in events:
        if ev.stage != "ResponseComplete":
            continue
        if ev.verb in ("watch",) or (ev.object_ref and ev.object_ref.subresource in LONG_SUBS):
            assert ev.response_object is msgspec.UNSET
        if ev.object_ref is None:
            assert ev.request_object is msgspec.UNSET
            assert ev.response_object is msgspec.UNSET
            continue
        if ev.verb in ("create", "update", "patch"):
            assert ev.request_object is not msgspec.UNSET
        if ev.response_object is msgspec.UNSET:
            continue
        resp = msgspec.json.decode(bytes(ev.response_object))
        meta = resp.get("metadata", {})
        single += "managedFields" in meta
        items = resp.get("items") or []
        listed += any("managedFields" in item["metadata"] for item in items)
        statuses += resp.get("kind") == "Status" and ev.verb == "delete"
        if ev.verb == "patch":
            patches += 1
            req = msgspec.json.decode(bytes(ev.request_object))  # type: ignore[arg-type]
            json_patches += isinstance(req, list)
        if "managedFields" in meta:
            entry = meta["managedFields"][0]
            assert entry["fieldsType"] == "FieldsV1"
            assert entry["fieldsV1"]
    assert single > 100
    assert listed > 10
    assert patches > 20
    assert statuses > 5
    assert json_patches > 0


def test_resolver_agrees_with_object_ref(events: list[Event]) -> None:
    for ev in events:
        attrs = from_event(ev)
        ref = ev.object_ref
        if ref is None:
            assert not attrs.resource_request, ev.request_uri
            continue
        assert attrs.resource_request, ev.request_uri
        assert (attrs.resource, attrs.subresource) == (ref.resource, ref.subresource)
        assert attrs.namespace == ref.namespace, ev.request_uri
        assert attrs.api_group == ref.api_group
        assert attrs.verb == ev.verb
        if ev.verb != "create" or ref.subresource:
            assert attrs.name == ref.name, ev.request_uri


def test_mix_has_the_expected_actors(events: list[Event]) -> None:
    agents = {ev.user_agent.split("/", 1)[0] for ev in events}
    assert {"kubelet", "kube-controller-manager", "kube-scheduler", "Helm", "kubectl"} <= agents
    uris = {ev.request_uri.split("?", 1)[0] for ev in events}
    assert {"/api", "/readyz"} <= uris
    assert any("fieldSelector=metadata.name%3D" in ev.request_uri for ev in events)
    verbs = {(ev.verb, ev.object_ref.subresource if ev.object_ref else "") for ev in events}
    assert {("patch", "status"), ("create", "binding"), ("watch", "")} <= verbs


def test_cli_writes_gzip_and_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl.gz"
    result = CliRunner().invoke(
        sample, ["generate", "--nodes", "2", "--minutes", "0.5", "--seed", "3", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = gzip.decompress(out.read_bytes()).splitlines()
    assert data == list(generate(nodes=2, seconds=30, seed=3, start=START))
    assert f"{len(data):,} events" in result.output


def test_cli_stdout_and_start() -> None:
    result = CliRunner().invoke(
        sample, ["generate", "--minutes", "0.1", "--start", "2030-05-01T12:00:00Z"]
    )
    assert result.exit_code == 0, result.output
    first = json.loads(result.output.splitlines()[0])
    assert first["requestReceivedTimestamp"].startswith("2030-05-01T12:00:0")


def test_cli_needs_a_duration() -> None:
    result = CliRunner().invoke(sample, ["generate"])
    assert result.exit_code == 2
