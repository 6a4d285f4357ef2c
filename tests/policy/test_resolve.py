"""Resolving the attributes a policy saw: from attributes, HTTP requests and audit events.

Event vectors: the user is the authenticated one, never ``impersonatedUser``; the name and
namespace come from ``requestURI``, never from ``objectRef`` (filled from the body after the
policy ran), which is only the fallback when there is no ``requestURI``."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from kubetrail.errors import InputError
from kubetrail.model.attributes import RequestAttributes
from kubetrail.model.event import Event
from kubetrail.policy.resolve import from_event, from_http, from_mapping, method_for_verb

decode = msgspec.json.Decoder(Event).decode

# (name, event JSON, expected attributes) — the event-input vectors.
EVENT_VECTORS: list[tuple[str, dict[str, object], dict[str, object]]] = [
    (
        "create-name-comes-from-the-body-not-the-url",
        {
            "verb": "create",
            "requestURI": "/api/v1/namespaces/default/secrets",
            "user": {"username": "alice", "groups": ["dev"]},
            "objectRef": {"resource": "secrets", "namespace": "default", "name": "db-pass"},
        },
        {
            "user": "alice",
            "groups": ("dev",),
            "verb": "create",
            "namespace": "default",
            "resource": "secrets",
            "name": "",
            "api_version": "v1",
            "resource_request": True,
            "path": "/api/v1/namespaces/default/secrets",
        },
    ),
    (
        "impersonation-evaluates-the-impersonator",
        {
            "verb": "list",
            "requestURI": "/api/v1/namespaces/default/pods",
            "user": {"username": "system:admin", "groups": ["system:masters"]},
            "impersonatedUser": {"username": "bob", "groups": ["system:authenticated"]},
        },
        {
            "user": "system:admin",
            "groups": ("system:masters",),
            "verb": "list",
            "namespace": "default",
            "resource": "pods",
            "api_version": "v1",
            "resource_request": True,
            "path": "/api/v1/namespaces/default/pods",
        },
    ),
    (
        "websocket-exec-is-a-get",
        {
            "verb": "get",
            "requestURI": "/api/v1/namespaces/prod/pods/web-0/exec?command=sh&stdin=true",
            "user": {"username": "mallory"},
        },
        {
            "user": "mallory",
            "verb": "get",
            "namespace": "prod",
            "resource": "pods",
            "subresource": "exec",
            "name": "web-0",
            "api_version": "v1",
            "resource_request": True,
            "path": "/api/v1/namespaces/prod/pods/web-0/exec",
        },
    ),
    (
        "failed-authentication-has-no-user-object",
        {"verb": "get", "requestURI": "/api/v1/nodes", "user": {}, "stage": "ResponseStarted"},
        {
            "user": None,
            "verb": "get",
            "resource": "nodes",
            "api_version": "v1",
            "resource_request": True,
            "path": "/api/v1/nodes",
        },
    ),
    (
        "namespace-object-is-its-own-namespace",
        {"verb": "delete", "requestURI": "/api/v1/namespaces/foo", "user": {"username": "u"}},
        {
            "user": "u",
            "verb": "delete",
            "namespace": "foo",
            "resource": "namespaces",
            "name": "foo",
            "api_version": "v1",
            "resource_request": True,
            "path": "/api/v1/namespaces/foo",
        },
    ),
    (
        "watch-with-field-selector-carries-the-name",
        {
            "verb": "watch",
            "requestURI": "/api/v1/namespaces/kube-system/configmaps"
            "?fieldSelector=metadata.name%3Dkubeadm-config&watch=true",
            "user": {"username": "system:node:n1", "groups": ["system:nodes"]},
        },
        {
            "user": "system:node:n1",
            "groups": ("system:nodes",),
            "verb": "watch",
            "namespace": "kube-system",
            "resource": "configmaps",
            "name": "kubeadm-config",
            "api_version": "v1",
            "resource_request": True,
            "path": "/api/v1/namespaces/kube-system/configmaps",
        },
    ),
    (
        "non-resource-head",
        {"verb": "head", "requestURI": "/healthz?verbose", "user": {"username": "lb"}},
        {"user": "lb", "verb": "head", "path": "/healthz", "resource_request": False},
    ),
    (
        "group-version-discovery-is-non-resource",
        {"verb": "get", "requestURI": "/apis/apps/v1", "user": {"username": "kubectl"}},
        {"user": "kubectl", "verb": "get", "path": "/apis/apps/v1", "resource_request": False},
    ),
    (
        "scale-subresource-in-a-group",
        {
            "verb": "patch",
            "requestURI": "/apis/apps/v1/namespaces/ns/deployments/web/scale",
            "user": {"username": "hpa"},
        },
        {
            "user": "hpa",
            "verb": "patch",
            "namespace": "ns",
            "api_group": "apps",
            "api_version": "v1",
            "resource": "deployments",
            "subresource": "scale",
            "name": "web",
            "resource_request": True,
            "path": "/apis/apps/v1/namespaces/ns/deployments/web/scale",
        },
    ),
    (
        "no-request-uri-falls-back-to-object-ref",
        {
            "verb": "update",
            "user": {"username": "u"},
            "objectRef": {
                "resource": "leases",
                "namespace": "kube-system",
                "name": "l",
                "apiGroup": "coordination.k8s.io",
                "apiVersion": "v1",
            },
        },
        {
            "user": "u",
            "verb": "update",
            "namespace": "kube-system",
            "resource": "leases",
            "name": "l",
            "api_group": "coordination.k8s.io",
            "api_version": "v1",
            "resource_request": True,
        },
    ),
    (
        "recorded-verb-wins-over-an-inconsistent-uri",
        # From Elastic's pipeline test data: a get on a collection URI (real events say list).
        {"verb": "get", "requestURI": "/api/v1/namespaces/default/pods", "user": {"username": "u"}},
        {
            "user": "u",
            "verb": "get",
            "namespace": "default",
            "resource": "pods",
            "api_version": "v1",
            "resource_request": True,
            "path": "/api/v1/namespaces/default/pods",
        },
    ),
]


@pytest.mark.parametrize(
    ("event", "expected"), [v[1:] for v in EVENT_VECTORS], ids=[v[0] for v in EVENT_VECTORS]
)
def test_event_vectors(event: dict[str, object], expected: dict[str, object]) -> None:
    attrs = from_event(decode(json.dumps(event).encode()))
    assert attrs == RequestAttributes(**expected)  # type: ignore[arg-type]


def corpus_events(corpus: Path) -> list[Event]:
    """Every decodable event: Falco files hold one (maybe pretty-printed) event or JSON lines;
    audit2rbac's log is JSON lines. fal_01_003.json is malformed on purpose and skipped."""
    docs: list[bytes] = []
    for path in sorted((corpus / "upstream" / "falco").glob("*.json")):
        data = path.read_bytes()
        try:
            msgspec.json.decode(data)
            docs.append(data)
        except msgspec.DecodeError:
            docs += [line for line in data.splitlines() if line.strip()]
    docs += (corpus / "upstream" / "audit2rbac" / "demo.log").read_bytes().splitlines()
    events = []
    for doc in docs:
        try:
            events.append(decode(doc))
        except msgspec.ValidationError:
            continue
    return events


def test_every_corpus_event_resolves_like_its_record(corpus: Path) -> None:
    """For real events, URI resolution agrees with what the URL determines in the record:
    resource, subresource, and the name except for creates on a collection (whose name is
    from the body; a create on a subresource such as pods/x/exec names it in the URL)."""
    events = corpus_events(corpus)
    assert len(events) >= 80
    for event in events:
        attrs = from_event(event)
        assert attrs.user == event.user.username
        assert attrs.verb == event.verb
        ref = event.object_ref
        if ref is not None and event.request_uri:
            assert attrs.resource == ref.resource
            assert attrs.subresource == ref.subresource
            on_collection = event.verb == "create" and not ref.subresource
            assert attrs.name == ("" if on_collection else ref.name)


def test_http_resolution() -> None:
    assert from_http("GET", "/api/v1/namespaces/default/secrets").verb == "list"
    assert from_http("GET", "/api/v1/namespaces/default/secrets/x").verb == "get"
    assert from_http("GET", "/api/v1/secrets?watch=1").verb == "watch"
    assert from_http("GET", "/healthz", user="").user is None
    assert from_http("DELETE", "/apis/apps/v1/namespaces/n/deployments").verb == "deletecollection"


def test_mapping_defaults_and_errors() -> None:
    attrs = from_mapping({"verb": "get", "resource": "pods"})
    assert attrs.resource_request is True
    assert attrs.user is None
    assert from_mapping({"verb": "get", "path": "/metrics"}).resource_request is False
    with pytest.raises(InputError, match="unknown key 'apigroup'"):
        from_mapping({"verb": "get", "apigroup": "apps"})
    with pytest.raises(InputError, match="'groups' must be a list of strings"):
        from_mapping({"groups": "dev"})
    with pytest.raises(InputError, match="'resourceRequest' must be a boolean"):
        from_mapping({"resourceRequest": "yes"})


@pytest.mark.parametrize(
    ("verb", "method"),
    [
        ("create", "POST"),
        ("list", "GET"),
        ("watch", "GET"),
        ("deletecollection", "DELETE"),
        ("patch", "PATCH"),
        ("post", "POST"),
        ("head", "HEAD"),
        ("options", "OPTIONS"),
    ],
)
def test_method_for_verb(verb: str, method: str) -> None:
    assert method_for_verb(verb) == method
