"""Component logs: klog text and component-base JSON — ``layers-spec.md`` §2.1-2.4.

Text records (``I1203 10:15:00.123456    4242 pod_workers.go:1301] "msg" k="v"``) become::

    {"severity": "I"|"W"|"E"|"F", "time": "MMDD HH:MM:SS.uuuuuu", "thread": int,
     "file": str, "line": int, "message": str, "structured": bool, "kv": {key: value}}

plus ``kv_raw``/``kv_error`` when the pairs could not all be read. The JSON format
(``--logging-format=json``: ``ts`` in epoch milliseconds, ``caller``, ``msg``, ``v`` on info
lines only) gives the same shape plus ``verbosity`` and ``time_rfc3339``; its severity is I
when ``v`` is present, else E (JSON mode loses warnings: component-base ``logs/json``).

Upstream: klog ``internal/buffer/buffer.go`` (FormatHeader), ``internal/serialize``
(KVFormat), ``klog.go`` (printS); component-base ``logs/json/json.go``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Final

from kubetrail.layers.container import Rejected

_HEADER: Final = re.compile(
    r"([A-Z])(\d{2})(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{6})\s+(\d+) ([^\s:\]]+):(\d+)\] ?",
    re.DOTALL,
)
_MAX_THREAD: Final = 2**31 - 1
_ESCAPES: Final = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
}
_json: Final = json.JSONDecoder()
_WIDTH: Final = {"u": 4, "U": 8}
_PLAIN_QUOTED: Final = re.compile(r'"([^"\\\n]*)"')
# The common pair, read by one regex (the general grammar below reads every other one).
_SIMPLE_PAIR: Final = re.compile(
    r' ([^\s="]+)=(?:"([^"\\\n]*)"|(-?(?:0|[1-9]\d{0,17})|true|false|null))(?= |\Z)'
)
_SCALARS: Final = {"true": True, "false": False, "null": None}
_HEX: Final = {e: re.compile(f"[0-9a-fA-F]{{{n}}}") for e, n in _WIDTH.items()}


def is_header(line: str) -> bool:
    return _HEADER.match(line.strip()) is not None


def go_unquote(text: str, start: int) -> tuple[str, int]:
    """The Go-quoted string (``strconv.Quote``) that starts at ``text[start]`` (a ``"``), and
    the index after it; ``\\xNN`` and octal escapes are bytes, decoded as UTF-8 with U+FFFD.
    ValueError if it is not one."""
    if text[start : start + 1] != '"':
        raise ValueError("not a quoted string")
    plain = _PLAIN_QUOTED.match(text, start)
    if plain is not None:  # no escape: the common case, taken as it is
        return plain[1], plain.end()
    out = bytearray()
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == '"':
            return out.decode("utf-8", errors="replace"), i + 1
        if c == "\n":
            raise ValueError("newline in a quoted string")
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        e = text[i + 1 : i + 2]
        if e in _ESCAPES:
            out += _ESCAPES[e].encode()
            i += 2
        elif e == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", text[i + 2 : i + 4]):
            out.append(int(text[i + 2 : i + 4], 16))
            i += 4
        elif e in ("u", "U") and _HEX[e].fullmatch(text, i + 2, i + 2 + _WIDTH[e]):
            out += chr(int(text[i + 2 : i + 2 + _WIDTH[e]], 16)).encode("utf-8", "surrogatepass")
            i += 2 + _WIDTH[e]
        elif re.fullmatch(r"[0-7]{3}", text[i + 1 : i + 4]):
            out.append(int(text[i + 1 : i + 4], 8) & 0xFF)
            i += 4
        else:
            raise ValueError(f"bad escape at {i}")
    raise ValueError("unterminated quoted string")


def _value(text: str, at: int) -> tuple[Any, int]:
    """A strict value at ``text[at]``: a Go-quoted string, a ``<`` multi-line block, or a JSON
    value followed by a space or the end. ValueError otherwise."""
    if text.startswith('"', at):
        value, end = go_unquote(text, at)
    elif text.startswith("<\n", at):
        # Lines prefixed with a TAB, closed by "\n >" (klog's multi-line values).
        close = text.find("\n >", at + 1)
        if close == -1:
            raise ValueError("unterminated multi-line value")
        block = text[at + 2 : close]
        lines = block.split("\n")
        if not all(line.startswith("\t") for line in lines):
            raise ValueError("a multi-line value's lines start with a TAB")
        value, end = "\n".join(line[1:] for line in lines), close + 3
    else:
        value, end = _json.raw_decode(text, at)
    if end < len(text) and text[end] != " ":
        raise ValueError("a value runs into the next")
    return value, end


def parse_pairs(text: str) -> tuple[dict[str, Any], str | None, str | None]:
    """`` key=value`` pairs (one space before each): (kv, unparsed rest, error)."""
    kv: dict[str, Any] = {}
    i = 0
    while i < len(text):
        fast = _SIMPLE_PAIR.match(text, i)
        if fast is not None:  # key="plain" or key=<integer|true|false|null>: most pairs
            key, quoted, scalar = fast.groups()
            kv.pop(key, None)
            if quoted is not None:
                kv[key] = quoted
            else:
                kv[key] = _SCALARS[scalar] if scalar in _SCALARS else int(scalar)
            i = fast.end()
            continue
        if text[i] != " ":
            return kv, text[i:], f"expected a space at {i}"
        token_end = text.find(" ", i + 1)
        token_end = len(text) if token_end == -1 else token_end
        found = None
        eq = text.find("=", i + 1, token_end)
        while eq != -1:
            key = text[i + 1 : eq]
            if key:
                try:
                    found = key, *_value(text, eq + 1)
                    break
                except ValueError:
                    pass
            eq = text.find("=", eq + 1, token_end)
        if found is None:  # the bare-token fallback: key=rest-of-token
            token = text[i + 1 : token_end]
            key, eq_sign, bare = token.partition("=")
            if not eq_sign or not key:
                return kv, text[i:], f"no key=value at {i}"
            found = key, bare, token_end
        key, value, end = found
        kv.pop(key, None)  # a repeated key: the last value wins
        kv[key] = value
        i = end
    return kv, None, None


def parse_text(record: str) -> dict[str, Any]:
    """One klog text record (its continuation lines joined with ``\\n``)."""
    text = record.strip()
    match = _HEADER.match(text)
    if match is None:
        raise Rejected("not a klog line")
    sev, month, day, hour, minute, second = match.groups()[:6]
    if sev not in "IWEF":
        raise Rejected("invalid log level")
    if not (
        1 <= int(month) <= 12
        and 1 <= int(day) <= 31
        and int(hour) <= 23
        and int(minute) <= 59
        and int(second) <= 60
    ):
        raise Rejected("invalid timestamp")
    thread = int(match[8])
    if thread > _MAX_THREAD:
        raise Rejected("invalid thread id")
    out: dict[str, Any] = {
        "severity": sev,
        "time": f"{month}{day} {hour}:{minute}:{second}.{match[7]}",
        "thread": thread,
        "file": match[9],
        "line": int(match[10]),
    }
    body = text[match.end() :]
    if body.startswith('"'):
        try:
            message, end = go_unquote(body, 0)
        except ValueError:
            message, end = None, 0
        if message is not None:
            kv, raw, error = parse_pairs(body[end:])
            out |= {"message": message, "structured": True, "kv": kv}
            if raw is not None:
                out |= {"kv_raw": raw, "kv_error": error}
            return out
    return out | {"message": body, "structured": False, "kv": {}}


def parse_json(line: str) -> dict[str, Any]:
    """One component-base JSON line."""
    try:
        doc = json.loads(line)
    except ValueError as exc:
        raise Rejected(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("ts"), int | float):
        raise Rejected("not a component-base JSON record (no numeric ts)")
    micros = int(doc["ts"] * 1000)  # milliseconds, floored to microseconds
    moment = datetime.fromtimestamp(micros // 1_000_000, UTC).replace(
        microsecond=micros % 1_000_000
    )
    caller = str(doc.get("caller") or "")
    file, _, line_no = caller.rpartition(":")
    verbosity = doc.get("v")
    kv = {k: v for k, v in doc.items() if k not in ("ts", "caller", "msg", "v")}
    return {
        "severity": "I" if "v" in doc else "E",
        "time": f"{moment:%m%d %H:%M:%S.%f}",
        "thread": None,
        "file": file or None,
        "line": int(line_no) if line_no.isdigit() else None,
        "message": doc.get("msg"),
        "structured": True,
        "kv": kv,
        "verbosity": verbosity,
        "time_rfc3339": f"{moment:%Y-%m-%dT%H:%M:%S.%f}Z",
    }


CONTINUATION: Final = re.compile(r"\t.*| >( .*)?", re.DOTALL)
# The four lines a klog file starts with (klog_file.go).
_FILE_HEADER: Final = re.compile(
    r"(Log file created at: |Running on machine: |Binary: |Log line format: ).*"
)


def records(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, dict[str, Any] | Rejected]]:
    """(line number, record or Rejected) for numbered lines of one source: text records with
    their continuation lines joined, JSON lines as they are; klog's file header skipped."""
    held_number = 0
    held: list[str] | None = None
    for number, line in lines:
        if (
            held is not None
            and (line[:1] == "\t" or line[:2] == " >")
            and CONTINUATION.fullmatch(line)
            and not _HEADER.match(line.strip())
        ):
            held.append(line)
            continue
        stripped = line.strip()
        header = _HEADER.match(stripped)
        if held is not None:  # the record before is complete
            try:
                yield held_number, parse_text(held[0] if len(held) == 1 else "\n".join(held))
            except Rejected as exc:
                yield held_number, exc
            held = None
        if header is not None:
            held_number, held = number, [stripped]
        elif not stripped or _FILE_HEADER.fullmatch(line):
            continue
        elif stripped.startswith("{"):
            try:
                yield number, parse_json(line)
            except Rejected as exc:
                yield number, exc
        else:
            yield number, Rejected("not a klog line")
    if held is not None:
        try:
            yield held_number, parse_text(held[0] if len(held) == 1 else "\n".join(held))
        except Rejected as exc:
            yield held_number, exc
