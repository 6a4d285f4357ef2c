"""kubetrail.policy.requestinfo against upstream's requestinfo_test.go tables, ported as data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubetrail.errors import InputError
from kubetrail.policy.requestinfo import RequestInfo, resolve_request

_DATA = json.loads(
    (Path(__file__).parent / "data" / "requestinfo_cases.json").read_text(encoding="utf-8")
)
_CASES: list[dict[str, Any]] = _DATA["cases"]
_FIELDS = set(RequestInfo.__struct_fields__)
_CASE_KEYS = {"id", "origin", "method", "url", "note"}


def test_data_file_is_well_formed() -> None:
    assert "requestinfo_test.go" in _DATA["source"]
    upstream = [case for case in _CASES if not case["origin"].startswith("kubetrail")]
    assert len(upstream) == _DATA["upstream_cases"] == 61
    assert len({case["id"] for case in _CASES}) == len(_CASES)
    for case in _CASES:
        assert set(case) <= _CASE_KEYS | _FIELDS, case["id"]
        assert set(case) & _FIELDS, case["id"]


@pytest.mark.parametrize("case", _CASES, ids=[case["id"] for case in _CASES])
def test_resolve_request_matches_table(case: dict[str, Any]) -> None:
    info = resolve_request(case["method"], case["url"])
    for field in sorted(_FIELDS & set(case)):
        expected = case[field]
        if field == "parts":
            expected = tuple(expected)
        assert getattr(info, field) == expected, field


@pytest.mark.parametrize(
    "url",
    [
        # NewRequestInfo returns an error for a bare special verb (kube-apiserver answers 500).
        "/api/v1/watch",
        "/api/v1/watch/",
        "/api/v1/proxy",
        "/apis/apps/v1/watch",
        "/apis/apps/v1/proxy?x=y",
        # url.ParseRequestURI errors.
        "/api/v1/pods%zz",
        "/api/v1/pods%",
        "/api/v1/pods%4",
        "/api/v1/namespaces/%g0/pods",
        "http://example.com/api/%zz",
        "api/v1/pods",
        "?watch=1",
        ":foo",
        "/api/v1/pods\n",
        "/api/v1/pods?watch=1\t",
        "/api\x7f/v1/pods",
        "/api/v1/pods\x00",
    ],
)
def test_unresolvable_requests_raise_input_error(url: str) -> None:
    with pytest.raises(InputError):
        resolve_request("GET", url)


def test_special_verb_error_names_the_url() -> None:
    with pytest.raises(InputError, match="unable to determine kind and namespace from url"):
        resolve_request("GET", "/api/v1/watch")


def test_query_errors_are_not_request_errors() -> None:
    # url.ParseQuery errors are dropped by req.URL.Query(); the pair is skipped.
    assert resolve_request("GET", "/api/v1/pods?watch=%zz").verb == "list"
    assert resolve_request("GET", "/api/v1/pods?%zz=1&watch=1").verb == "watch"


def test_query_parameter_limit() -> None:
    # Go 1.26 net/url: more than 10000 parameters and Query() is empty.
    at_limit = "/api/v1/pods?watch=1" + "&x" * 9999
    over_limit = "/api/v1/pods?watch=1" + "&x" * 10000
    assert resolve_request("GET", at_limit).verb == "watch"
    assert resolve_request("GET", over_limit).verb == "list"


def test_lone_surrogates_read_as_replacement_character() -> None:
    info = resolve_request("GET", "/api/v1/namespaces/ns/pods/\ud800")
    assert info.name == "\ufffd"
    assert resolve_request("G\udfffT", "/healthz").verb == "g\ufffdt"


def test_go_lower_case_of_method() -> None:
    # strings.ToLower maps U+0130 to "i"; Python's str.lower gives "i" + U+0307.
    assert resolve_request("\u0130", "/healthz").verb == "i"
    assert resolve_request("\u03a3\u03a3", "/healthz").verb == "\u03c3\u03c3"


def test_result_is_frozen_struct() -> None:
    info = resolve_request("GET", "/api/v1/pods")
    assert info == RequestInfo(
        is_resource_request=True,
        path="/api/v1/pods",
        verb="list",
        api_prefix="api",
        api_version="v1",
        resource="pods",
        parts=("pods",),
    )
    with pytest.raises(AttributeError):
        info.verb = "get"  # type: ignore[misc]


_URL_ALPHABET = st.sampled_from(
    [
        *"/?&=%,;!()<>+\\#: .-_aZ09\x00\x7f\u017f\u0130\ud800",
        *("api", "apis", "v1", "namespaces", "watch", "proxy", "status", "%2F", "%C5%BF", "%zz"),
        *("fieldSelector=", "labelSelector=", "metadata.name", "limit=", "timeoutSeconds="),
        " in ",
    ]
)


@given(
    method=st.one_of(st.sampled_from(["GET", "HEAD", "DELETE", "POST", "get", ""]), st.text()),
    url=st.one_of(
        st.text(),
        st.lists(_URL_ALPHABET, max_size=24).map("".join),
        st.lists(_URL_ALPHABET, max_size=24).map(lambda parts: "/" + "".join(parts)),
    ),
)
def test_resolve_request_only_raises_input_error(method: str, url: str) -> None:
    try:
        info = resolve_request(method, url)
    except InputError:
        return
    assert isinstance(info, RequestInfo)
    if info.is_resource_request:
        assert info.resource == info.parts[0]
    else:
        assert not info.parts
