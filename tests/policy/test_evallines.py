"""``policy eval`` line handling: one output line per input line, never an exception."""

from __future__ import annotations

import json

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from kubetrail.policy.evallines import eval_line, eval_lines
from kubetrail.policy.evaluate import Evaluator
from kubetrail.policy.load import parse_policy

POLICY = parse_policy(
    "apiVersion: audit.k8s.io/v1\nrules:\n"
    "- level: None\n  nonResourceURLs: ['/healthz*']\n"
    "- level: Metadata\n  resources: [{resources: [secrets]}]\n"
    "- level: Request\n"
).policy
EVALUATOR = Evaluator(POLICY)
KEYS = [
    *[
        "user",
        "groups",
        "verb",
        "namespace",
        "apiGroup",
        "apiVersion",
        "resource",
        "subresource",
        "name",
        "path",
    ],
    "resourceRequest",
    "method",
    "url",
    "kind",
    "auditID",
    "stage",
    "requestURI",
    "objectRef",
    "stageTimestamp",
    "impersonatedUser",
    "level",
    "bogus",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def check(out: bytes) -> dict[str, object]:
    assert b"\n" not in out
    doc = msgspec.json.decode(out)
    assert isinstance(doc, dict)
    assert set(doc) in ({"error"}, {"level", "omitStages", "omitManagedFields", "rule", "request"})
    return doc


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6))
def test_any_object_of_known_keys_gives_one_json_line(obj: dict[str, object]) -> None:
    check(eval_line(EVALUATOR, json.dumps(obj).encode()))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_give_one_json_line(raw: bytes) -> None:
    check(eval_line(EVALUATOR, raw))


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "get", "OPTIONS", ""]),
    st.text(max_size=60),
)
def test_any_http_request_gives_one_json_line(method: str, url: str) -> None:
    check(eval_line(EVALUATOR, json.dumps({"method": method, "url": url}).encode()))


def test_order_and_count_are_kept() -> None:
    lines = [
        b'{"verb":"get","resource":"secrets"}',
        b"",
        b'{"method":"GET","url":"/healthz"}',
        b"garbage",
        b'{"verb":"get","requestURI":"/api/v1/namespaces/a/pods","user":{"username":"u"}}',
    ]
    out = [check(line) for line in b"".join(eval_lines(EVALUATOR, lines)).splitlines()]
    assert [o.get("rule", "err") for o in out] == [1, "err", 0, "err", 2]


def test_attribute_errors_name_the_problem() -> None:
    assert "apigroup" in check(eval_line(EVALUATOR, b'{"verb":"get","apigroup":"apps"}'))["error"]
    assert "groups" in check(eval_line(EVALUATOR, b'{"groups":"dev"}'))["error"]
    out = check(eval_line(EVALUATOR, b"{}"))
    assert str(out["error"]).startswith("empty object")
    assert (
        "event" in check(eval_line(EVALUATOR, b'{"kind":"Event","user":{"username":5}}'))["error"]
    )
