"""Component logs through the system's log: journald's JSON export and syslog-style text —
``layers-spec.md`` §2.5-2.6 — each with its klog message parsed.

journald (``journalctl -u kubelet -o json``) becomes::

    {"time": RFC 3339 µs UTC, "host", "ident", "pid", "unit", "priority", "transport",
     "boot_id", "stream_id", "cursor", "message", "message_truncated"?, "klog": {…}|null}

and a syslog line ``{"time", "year_inferred", "host", "ident", "pid", "message", "klog"}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Final

from kubetrail.layers.container import Rejected
from kubetrail.layers.klog import CONTINUATION, is_header, parse_text


def _text(value: Any) -> Any:
    """A journal JSON value: a string; bytes as an array of numbers (decoded as UTF-8 with
    U+FFFD); a repeated field as an array of values (each decoded)."""
    if isinstance(value, list):
        if value and all(isinstance(v, int) for v in value):
            return bytes(v & 0xFF for v in value).decode("utf-8", errors="replace")
        return [_text(v) for v in value]
    return value


def _micros_iso(value: Any) -> str | None:
    try:
        us = int(str(value))
    except (TypeError, ValueError):
        return None
    moment = datetime.fromtimestamp(us // 1_000_000, UTC).replace(microsecond=us % 1_000_000)
    return f"{moment:%Y-%m-%dT%H:%M:%S.%f}Z"


def _klog(message: Any) -> dict[str, Any] | None:
    if not isinstance(message, str) or not is_header(message):
        return None
    try:
        return parse_text(message)
    except Rejected:
        return None


def journal(entry: Mapping[str, Any]) -> dict[str, Any]:
    """One ``journalctl -o json`` entry, normalised."""
    if not isinstance(entry, Mapping) or "__REALTIME_TIMESTAMP" not in entry:
        raise Rejected("not a journal entry (no __REALTIME_TIMESTAMP)")
    fields = {k: _text(v) for k, v in entry.items()}
    # journalctl prefers the source's time; captured stdio lines only have the receive time.
    time = _micros_iso(fields.get("_SOURCE_REALTIME_TIMESTAMP")) or _micros_iso(
        fields["__REALTIME_TIMESTAMP"]
    )
    if time is None:
        raise Rejected("unreadable __REALTIME_TIMESTAMP")
    message = fields.get("MESSAGE")
    pid = fields.get("_PID") or fields.get("SYSLOG_PID")
    priority = fields.get("PRIORITY")
    out: dict[str, Any] = {
        "time": time,
        "host": fields.get("_HOSTNAME"),
        "ident": fields.get("SYSLOG_IDENTIFIER") or fields.get("_COMM"),
        "pid": int(pid) if isinstance(pid, str) and pid.isdigit() else None,
        "unit": fields.get("_SYSTEMD_UNIT"),
        "priority": int(priority) if isinstance(priority, str) and priority.isdigit() else None,
        "transport": fields.get("_TRANSPORT"),
        "boot_id": fields.get("_BOOT_ID"),
        "stream_id": fields.get("_STREAM_ID"),
        "cursor": fields.get("__CURSOR"),
        "message": message,
    }
    if message is None:  # over journalctl's 4096-byte threshold without --all
        out["message_truncated"] = True
    out["klog"] = _klog(message)
    return out


_MONTHS: Final = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_BSD: Final = re.compile(
    r"(?:<(?P<pri>\d{1,3})>)?(?P<mon>[A-Z][a-z]{2}) (?P<day>[ 0-9]\d) "
    r"(?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)(?:\.(?P<frac>\d{1,6}))? (?P<rest>.*)",
    re.DOTALL,
)
_ISO: Final = re.compile(
    r"(?:<(?P<pri>\d{1,3})>)?(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?"
    r"(?:Z|[+-]\d\d:\d\d)) (?P<rest>.*)",
    re.DOTALL,
)
_TAG: Final = re.compile(r"(?P<ident>[^\s\[\]:]+)(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)", re.DOTALL)


def syslog(line: str, *, reference: datetime, zone: tzinfo = UTC) -> dict[str, Any]:
    """One syslog-style line: RFC 3164 (``Jun  2``/``Jun 02``, optional ``<PRI>``, host
    optional) or journalctl's ``short-iso``. Without a year, the reference time's year is
    taken, or the one before when that puts the line more than two days after the reference
    (``year_inferred``); without a zone, ``zone``."""
    iso = _ISO.fullmatch(line)
    if iso is not None:
        moment = datetime.fromisoformat(iso["ts"].replace("Z", "+00:00"))
        rest, pri, inferred = iso["rest"], iso["pri"], False
    else:
        bsd = _BSD.fullmatch(line)
        if bsd is None or bsd["mon"] not in _MONTHS:
            raise Rejected("not a syslog line (no timestamp)")
        frac = (bsd["frac"] or "").ljust(6, "0")
        try:
            moment = datetime(
                reference.year,
                _MONTHS[bsd["mon"]],
                int(bsd["day"]),
                int(bsd["h"]),
                int(bsd["m"]),
                int(bsd["s"]),
                int(frac),
                tzinfo=zone,
            )
        except ValueError:
            raise Rejected("not a syslog line (bad timestamp)") from None
        if moment - reference > timedelta(days=2):
            moment = moment.replace(year=reference.year - 1)
        rest, pri, inferred = bsd["rest"], bsd["pri"], True
    host: str | None = None
    tag = _TAG.fullmatch(rest)
    if tag is None:  # "host ident[pid]: message": the first word is the host
        host, _, rest = rest.partition(" ")
        tag = _TAG.fullmatch(rest)
    if tag is None:
        raise Rejected("not a syslog line (no ident)")
    out: dict[str, Any] = {
        "time": f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}Z",
        "year_inferred": inferred,
        "host": host,
        "ident": tag["ident"],
        "pid": int(tag["pid"]) if tag["pid"] else None,
        "message": tag["msg"],
    }
    if pri is not None:
        out["facility"], out["severity"] = int(pri) >> 3, int(pri) & 7
    out["klog"] = _klog(tag["msg"])
    return out


def join_continuations(
    items: Iterable[tuple[int, dict[str, Any] | Rejected]],
) -> Iterator[tuple[int, dict[str, Any] | Rejected]]:
    """Multi-line klog records arrive one physical line per entry: an entry whose message is a
    continuation (a TAB, or `` >``) joins the record before it from the same source (pid and
    stream, or ident), whose klog field is then parsed again."""
    held: tuple[int, dict[str, Any]] | None = None
    for number, item in items:
        if isinstance(item, Rejected):
            yield number, item
            continue
        message = item.get("message")
        if (
            held is not None
            and isinstance(message, str)
            and CONTINUATION.fullmatch(message)
            and _source(held[1]) == _source(item)
        ):
            record = held[1]
            record["message"] = f"{record['message']}\n{message}"
            record["klog"] = _klog(record["message"])
            continue
        if held is not None:
            yield held
        held = (number, item)
    if held is not None:
        yield held


def _source(record: Mapping[str, Any]) -> tuple[Any, ...]:
    return (record.get("host"), record.get("pid"), record.get("stream_id"), record.get("ident"))
