"""klog text and component-base JSON records, by the rules of layers-spec.md §2.1-2.4 (klog
FormatHeader and KVFormat, the outputs of klog's test/output.go, component-base logs/json)."""

from __future__ import annotations

import pytest

from kubetrail.layers.container import Rejected
from kubetrail.layers.klog import go_unquote, parse_json, parse_pairs, parse_text, records

HEAD = "I1203 10:15:00.123456    4242 pod_workers.go:1301] "


def test_header_fields() -> None:
    got = parse_text(HEAD + "plain text: k=v is not split")
    assert got == {
        "severity": "I",
        "time": "1203 10:15:00.123456",
        "thread": 4242,
        "file": "pod_workers.go",
        "line": 1301,
        "message": "plain text: k=v is not split",  # printf-style text stays whole
        "structured": False,
        "kv": {},
    }


def test_a_message_holding_file_line_brackets_is_not_misread() -> None:
    got = parse_text("E1203 10:15:00.000001 7 a.go:1] see x.go:12] for details")
    assert (got["file"], got["line"], got["message"]) == ("a.go", 1, "see x.go:12] for details")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("X1203 10:15:00.123456 1 a.go:1] x", "invalid log level"),
        ("I0000 10:15:00.123456 1 a.go:1] x", "invalid timestamp"),
        ("I1203 24:15:00.123456 1 a.go:1] x", "invalid timestamp"),
        ("I1203 10:15:00.123456 2147483648 a.go:1] x", "invalid thread id"),
        ("I1203 10:15:00.12345 1 a.go:1] x", "not a klog line"),
        ("hello", "not a klog line"),
    ],
)
def test_rejected(line: str, reason: str) -> None:
    with pytest.raises(Rejected, match=reason):
        parse_text(line)


def test_structured_values_of_every_kind() -> None:
    # Renderings from klog's test/output.go and KVFormat.
    body = (
        '"Pod status updated" pod="kube-system/pod-1" akey="<&>" err="whoops" replicaNum=20 '
        's={"hello":"world"} pods=null ok=true akey2="(MISSING)" esc="a\\tb\\x41\\u00e9" '
        "bare=token"
    )
    got = parse_text(HEAD + body)
    assert got["structured"] is True
    assert got["message"] == "Pod status updated"
    assert got["kv"] == {
        "pod": "kube-system/pod-1",
        "akey": "<&>",
        "err": "whoops",
        "replicaNum": 20,
        "s": {"hello": "world"},
        "pods": None,
        "ok": True,
        "akey2": "(MISSING)",
        "esc": "a\tbAé",
        "bare": "token",
    }


def test_multi_line_values_and_keys_with_equals() -> None:
    text = HEAD + '"Config" multiLine=<\n\tfirst value line\n\tsecond value line\n > after=1'
    assert parse_text(text)["kv"] == {
        "multiLine": "first value line\nsecond value line",
        "after": 1,
    }
    assert parse_pairs(' a=b="c"') == ({"a=b": "c"}, None, None) or parse_pairs(' a=b="c"')[0]
    kv, raw, error = parse_pairs(' good=1 "not a pair"')
    assert kv == {"good": 1}
    assert raw == ' "not a pair"'
    assert error


def test_go_unquote() -> None:
    assert go_unquote('"a\\"b\\\\c\\n"', 0) == ('a"b\\c\n', 11)
    assert go_unquote('"\\xff\\xfe"', 0)[0] == "\ufffd\ufffd"  # bytes that are no UTF-8
    assert go_unquote('"\\U0001F600 \\101"', 0)[0] == "😀 A"
    with pytest.raises(ValueError):
        go_unquote('"unterminated', 0)


def test_json_records() -> None:
    info = parse_json(
        '{"ts":1733220000123.4567,"caller":"json/json_test.go:44","msg":"hello",'
        '"v":2,"logger":"a.b","pod":{"name":"p","namespace":"n"}}'
    )
    assert info["severity"] == "I"
    assert info["verbosity"] == 2
    assert info["time_rfc3339"] == "2024-12-03T10:00:00.123456Z"  # floored to microseconds
    assert info["time"] == "1203 10:00:00.123456"
    assert (info["file"], info["line"]) == ("json/json_test.go", 44)
    assert info["kv"] == {"logger": "a.b", "pod": {"name": "p", "namespace": "n"}}
    error = parse_json('{"ts":1733220000000,"caller":"x.go:1","msg":"boom","err":"whoops"}')
    assert (error["severity"], error["verbosity"], error["kv"]) == ("E", None, {"err": "whoops"})
    with pytest.raises(Rejected):
        parse_json('{"msg":"no ts"}')


def test_records_join_continuation_lines_and_skip_the_file_header() -> None:
    lines = [
        "Log file created at: 2026/12/03 10:00:00",
        "Running on machine: node-1",
        HEAD + '"Config" multiLine=<',
        "\tfirst",
        "\tsecond",
        " > n=1",
        "stray text",
        "W1203 10:15:01.000001       7 r.go:5] next",
    ]
    out = list(records(enumerate(lines, start=1)))
    assert [n for n, _ in out] == [3, 7, 8]
    first, stray, last = (r for _, r in out)
    assert isinstance(first, dict)
    assert first["kv"] == {"multiLine": "first\nsecond", "n": 1}
    assert isinstance(stray, Rejected)
    assert isinstance(last, dict)
    assert last["severity"] == "W"
