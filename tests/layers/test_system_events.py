"""journald entries, syslog lines and Kubernetes Events, by layers-spec.md §2.5, §2.6, §3.1."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from kubetrail.layers.container import Rejected
from kubetrail.layers.events import Occurrences, normalise, objects
from kubetrail.layers.system import join_continuations, journal, syslog

KLOG = 'I1203 10:00:00.123000     812 kubelet.go:1] "Config" multi=<'


def entry(message: object, **fields: str) -> dict[str, object]:
    base = {"__REALTIME_TIMESTAMP": "1733220000123456", "_PID": "812", "_STREAM_ID": "ab"}
    return {**base, "MESSAGE": message, **fields}


def test_journal_entries() -> None:
    got = journal(entry("plain", SYSLOG_IDENTIFIER="kubelet", _COMM="kubelet", PRIORITY="6"))
    assert got["time"] == "2024-12-03T10:00:00.123456Z"
    assert (got["ident"], got["pid"], got["priority"], got["klog"]) == ("kubelet", 812, 6, None)
    # The source's time wins over the receive time; bytes arrays decode with U+FFFD.
    raw = journal(entry([104, 105, 255], _SOURCE_REALTIME_TIMESTAMP="1733220000000001"))
    assert (raw["time"], raw["message"]) == ("2024-12-03T10:00:00.000001Z", "hi\ufffd")
    assert journal(entry(None))["message_truncated"] is True  # over the 4096-byte threshold
    assert journal(entry("x", _COMM="containerd"))["ident"] == "containerd"
    with pytest.raises(Rejected):
        journal({"MESSAGE": "no time"})


def test_multi_line_klog_across_journal_entries() -> None:
    items = [
        (1, journal(entry(KLOG))),
        (2, journal(entry("\tline one"))),
        (3, journal(entry("\tline two"))),
        (4, journal(entry(" > n=1"))),
        (5, journal(entry("\tfrom another stream", _STREAM_ID="cd"))),
    ]
    out = list(join_continuations(items))
    assert [n for n, _ in out] == [1, 5]
    first = out[0][1]
    assert isinstance(first, dict)
    assert first["klog"]["kv"] == {"multi": "line one\nline two", "n": 1}


@pytest.mark.parametrize(
    ("line", "time", "host", "ident", "pid"),
    [
        ("Jun  2 10:00:00 node-1 kubelet[812]: hi", "2026-06-02T10:00:00.000000Z", "node-1",
         "kubelet", 812),
        ("Jun 02 10:00:00 node-1 kubelet[812]: hi", "2026-06-02T10:00:00.000000Z", "node-1",
         "kubelet", 812),  # journalctl -o short pads with a zero
        ("Jun 13 16:33:35 haproxy[73411]: hi", "2026-06-13T16:33:35.000000Z", None, "haproxy",
         73411),  # no host
        ("Jun  2 10:00:00.250000 node-1 sshd: hi", "2026-06-02T10:00:00.250000Z", "node-1",
         "sshd", None),  # short-precise
        ("2026-06-02T12:00:00+02:00 node-1 kubelet[9]: hi", "2026-06-02T10:00:00.000000Z",
         "node-1", "kubelet", 9),  # short-iso
    ],
)  # fmt: skip
def test_syslog_lines(line: str, time: str, host: str | None, ident: str, pid: int | None) -> None:
    got = syslog(line, reference=datetime(2026, 12, 3, tzinfo=UTC))
    assert (got["time"], got["host"], got["ident"], got["pid"], got["message"]) == (
        time,
        host,
        ident,
        pid,
        "hi",
    )


def test_syslog_year_zone_and_priority() -> None:
    january = datetime(2027, 1, 1, 0, 0, 30, tzinfo=UTC)
    got = syslog("<30>Dec 31 23:59:59 node-1 kubelet: x", reference=january)
    assert got["time"] == "2026-12-31T23:59:59.000000Z"  # the year before: not in the future
    assert (got["year_inferred"], got["facility"], got["severity"]) == (True, 3, 6)
    paris = syslog("Jun  2 12:00:00 h kubelet: x", reference=january, zone=ZoneInfo("Europe/Paris"))
    assert paris["time"] == "2026-06-02T10:00:00.000000Z"
    with pytest.raises(Rejected):
        syslog("no time here", reference=january)


CORE = {
    "kind": "Event",
    "metadata": {"name": "web-1.17e", "namespace": "default", "uid": "u1"},
    "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-1"},
    "reason": "BackOff",
    "message": "Back-off restarting failed container",
    "source": {"component": "kubelet", "host": "node-1"},
    "firstTimestamp": "2026-12-03T10:00:00Z",
    "lastTimestamp": "2026-12-03T10:05:00Z",
    "count": 5,
    "type": "Warning",
}
NEW = {  # the same stored object read through events.k8s.io/v1
    "kind": "Event",
    "metadata": {"name": "web-1.17e", "namespace": "default", "uid": "u1"},
    "regarding": {"kind": "Pod", "namespace": "default", "name": "web-1"},
    "note": "Back-off restarting failed container",
    "reason": "BackOff",
    "deprecatedSource": {"component": "kubelet", "host": "node-1"},
    "deprecatedFirstTimestamp": "2026-12-03T10:00:00Z",
    "deprecatedLastTimestamp": "2026-12-03T10:05:00Z",
    "deprecatedCount": 5,
    "type": "Warning",
}


def test_both_api_versions_give_one_record() -> None:
    assert normalise(CORE) == normalise(NEW)
    got = normalise(CORE)
    assert got["occurrence_key"] == "u1:5"
    assert (got["reporting_controller"], got["reporting_instance"]) == ("kubelet", "node-1")
    assert got["object"] == {"kind": "Pod", "namespace": "default", "name": "web-1"}


def test_series_events_and_the_reporting_component_key() -> None:
    event = {
        "kind": "Event",
        "metadata": {"uid": "u2", "name": "x", "namespace": "default"},
        "eventTime": "2026-12-03T10:00:00.000001Z",
        "series": {"count": 3, "lastObservedTime": "2026-12-03T10:09:00.000000Z"},
        "reportingComponent": "default-scheduler",  # core/v1's key for ReportingController
        "message": "(combined from similar events): 0/3 nodes are available",
    }
    got = normalise(event)
    assert (got["first_time"], got["last_time"]) == (
        "2026-12-03T10:00:00.000001Z",
        "2026-12-03T10:09:00.000000Z",
    )
    assert (got["count"], got["occurrence_key"]) == (3, "u2:3")
    assert got["reporting_controller"] == "default-scheduler"
    assert got["aggregated"] is True


def test_lists_watch_events_and_replays() -> None:
    watch = [
        {"type": "ADDED", "object": CORE},
        {"type": "BOOKMARK", "object": {"kind": "Event", "metadata": {"resourceVersion": "9"}}},
        {"type": "MODIFIED", "object": {**CORE, "count": 6}},
        {"type": "MODIFIED", "object": NEW},  # a replay of count 5 through the other API
    ]
    seen = Occurrences()
    kept = [r["count"] for doc in watch for o in objects(doc) if seen.new(r := normalise(o))]
    assert kept == [5, 6]
    assert seen.repeats == 1
    assert [normalise(o)["uid"] for o in objects({"kind": "EventList", "items": [CORE]})] == ["u1"]
    with pytest.raises(Rejected):
        normalise({"kind": "Pod", "metadata": {"uid": "x"}})
