"""The bundled attack-technique catalogue: it loads, is well formed, and says what it must."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from kubetrail.catalog.techniques import (
    NON_RESOURCE_VERBS,
    RESOURCE_VERBS,
    TACTICS,
    Catalogue,
    Identity,
    Technique,
    Variant,
    check,
    load_techniques,
    parse_techniques,
)
from kubetrail.errors import InputError
from kubetrail.model.policy import Level, Policy, PolicyRule
from kubetrail.policy.evaluate import Evaluator
from kubetrail.policy.requestinfo import resolve_request

CATALOGUE = load_techniques()
BY_ID = {t.id: t for t in CATALOGUE.techniques}
IDS = sorted(BY_ID)
ALICE = Identity(user="alice", groups=("system:authenticated",))
_METHOD = {"get": "GET", "list": "GET", "watch": "GET", "create": "POST", "update": "PUT"}
_METHOD |= {"patch": "PATCH", "delete": "DELETE", "deletecollection": "DELETE"}


def _raw() -> dict[str, Any]:
    """The catalogue as plain data with its wire names, ready to be tampered with."""
    data = msgspec.json.decode(msgspec.json.encode(CATALOGUE))  # lists, not tuples
    assert isinstance(data, dict)
    return data


def _request_uri(v: Variant, path: str) -> tuple[str, str]:
    """The HTTP method and request URI a client sends for ``v``."""
    if not v.resource:
        return v.verb.upper(), path
    query = []
    if v.verb == "watch":
        query.append("watch=true")
    if v.verb in {"list", "watch"} and v.name:
        query.append(f"fieldSelector=metadata.name%3D{v.name}")
    return _METHOD[v.verb], path + ("?" + "&".join(query) if query else "")


# --- loading -----------------------------------------------------------------------------------


def test_catalogue_loads_with_enough_unique_techniques() -> None:
    assert CATALOGUE.version == 1
    assert len(CATALOGUE.techniques) >= 50
    assert len(IDS) == len(CATALOGUE.techniques)
    assert {t.tactic for t in CATALOGUE.techniques} == set(TACTICS)


def test_every_load_is_fresh_and_equal() -> None:
    again = load_techniques()
    assert again == CATALOGUE
    assert again is not CATALOGUE


def test_round_trip_through_plain_data() -> None:
    assert parse_techniques(_raw()) == CATALOGUE


# --- per technique -----------------------------------------------------------------------------


@pytest.mark.parametrize("tid", IDS)
def test_references_well_formed(tid: str) -> None:
    t = BY_ID[tid]
    assert t.references
    patterns = {
        "mitre-attack": r"T\d{4}(\.\d{3})?",
        "ms-threat-matrix": r"MS-TA9\d{3}",
        "kubenomicon": r"[A-Z][a-z]+(_[a-z]+)*/\S+",
    }
    for r in t.references:
        assert re.fullmatch(patterns[r.framework], r.id), r
        if r.framework == "mitre-attack":
            sub = f"{r.id[6:]}/" if "." in r.id else ""
            assert r.url == f"https://attack.mitre.org/techniques/{r.id[:5]}/{sub}"
        if r.framework == "kubenomicon":
            assert r.url == f"https://kubenomicon.com/{r.id}.html"


@pytest.mark.parametrize("tid", IDS)
def test_variants_well_formed(tid: str) -> None:
    t = BY_ID[tid]
    assert t.variants
    assert t.name
    assert t.description
    assert t.tactic in TACTICS
    assert t.min_level is not Level.NONE
    for v in t.variants:
        if v.resource:
            assert v.verb in RESOURCE_VERBS
            assert not v.path
        else:
            assert v.verb in NON_RESOURCE_VERBS
            assert v.path.startswith("/")
            assert not (v.api_group)
            assert not (v.subresource)
            assert not (v.namespaced)
        assert v.api_group == "" or re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", v.api_group)


@pytest.mark.parametrize("tid", IDS)
def test_variants_are_what_the_api_server_resolves(tid: str) -> None:
    """The attributes of each variant equal what requestinfo.go makes of its URL."""
    for v, attrs in BY_ID[tid].requests(ALICE):
        method, uri = _request_uri(v, attrs.path)
        info = resolve_request(method, uri)
        got = (info.is_resource_request, info.verb, info.api_group, info.resource)
        assert got == (attrs.resource_request, attrs.verb, attrs.api_group, attrs.resource), uri
        assert (info.subresource, info.namespace, info.name, info.path) == (
            attrs.subresource,
            attrs.namespace,
            attrs.name,
            attrs.path,
        ), uri
        if v.resource:
            assert info.api_version == attrs.api_version


@pytest.mark.parametrize("tid", IDS)
def test_catch_all_policy_logs_every_variant_at_metadata(tid: str) -> None:
    evaluator = Evaluator(Policy(rules=[PolicyRule(level="Metadata")]))
    for _, attrs in BY_ID[tid].requests(ALICE):
        assert evaluator.evaluate(attrs).level is Level.METADATA


# --- the facts the catalogue exists to carry ----------------------------------------------------


def _verbs(t: Technique, resource: str, subresource: str = "") -> set[str]:
    return {
        v.verb
        for v in t.variants
        if (v.api_group, v.resource, v.subresource) == ("", resource, subresource)
    }


@pytest.mark.parametrize(
    ("tid", "subresource"),
    [
        ("exec-into-container", "exec"),
        ("attach-to-container", "attach"),
        ("copy-from-container", "exec"),
        ("port-forward", "portforward"),
    ],
)
def test_streaming_subresources_have_spdy_and_websocket_verbs(tid: str, subresource: str) -> None:
    assert _verbs(BY_ID[tid], "pods", subresource) == {"create", "get"}


def test_every_streaming_variant_comes_with_both_verbs() -> None:
    for t in CATALOGUE.techniques:
        for sub in ("exec", "attach", "portforward"):
            assert _verbs(t, "pods", sub) in (set(), {"create", "get"}), t.id


def test_secret_reading_has_get_list_and_watch() -> None:
    t = BY_ID["read-secrets"]
    assert _verbs(t, "secrets") == {"get", "list", "watch"}
    assert t.min_level is Level.METADATA
    assert not t.secret_material
    cluster_wide = [a for v, a in t.requests(ALICE) if not v.namespaced]
    assert cluster_wide
    assert all(a.path == "/api/v1/secrets" for a in cluster_wide)


def test_privileged_pod_needs_the_request_body() -> None:
    t = BY_ID["privileged-container"]
    assert t.min_level is Level.REQUEST
    assert "spec.containers[].securityContext.privileged" in t.tells
    assert "create" in _verbs(t, "pods")


def test_patch_variants_of_body_techniques_need_the_response_unless_stated() -> None:
    """A patch body is only the patch: a body tell needs RequestResponse, unless the variant
    says otherwise (kubectl debug, cordon and scale patches carry the whole field)."""
    at_request: set[tuple[str, str]] = set()
    for t in CATALOGUE.techniques:
        for v in t.variants:
            if t.min_level is Level.REQUEST and v.verb == "patch":
                assert v.min_level is not None, (t.id, v)
                if v.min_level is Level.REQUEST:
                    at_request.add((t.id, f"{v.resource}/{v.subresource}"))
    assert at_request == {
        ("privileged-container", "pods/ephemeralcontainers"),
        ("denial-of-service", "nodes/"),
        ("denial-of-service", "deployments/scale"),
        ("denial-of-service", "statefulsets/scale"),
        ("resource-hijacking", "deployments/scale"),
        ("resource-hijacking", "statefulsets/scale"),
        ("resource-hijacking", "replicasets/scale"),
    }
    # An update carries the whole new object (Request shows it); a patch only the change.
    for tid in ("sidecar-injection", "container-image-swap", "pod-security-disabled"):
        technique = BY_ID[tid]
        assert technique.min_level is Level.REQUEST
        levels = {v.verb: technique.level_for(v) for v in technique.variants}
        assert levels["update"] is Level.REQUEST
        assert levels["patch"] is Level.REQUEST_RESPONSE


def test_secret_material_only_above_metadata() -> None:
    flagged = {t.id for t in CATALOGUE.techniques if t.secret_material}
    assert flagged == {"legacy-token-secret", "credentials-in-configmap"}
    assert all(BY_ID[i].min_level.at_least(Level.REQUEST) for i in flagged)


def test_identity_restrictions() -> None:
    anon = BY_ID["anonymous-access"]
    assert anon.identity == Identity(user="system:anonymous", groups=("system:unauthenticated",))
    assert all(a.user == "system:anonymous" for _, a in anon.requests(ALICE))
    node = BY_ID["node-credential-abuse"]
    assert node.identity is not None
    assert node.identity.user.startswith("system:node:")
    assert all("system:nodes" in a.groups for _, a in node.requests(ALICE))
    joined = BY_ID["untrusted-node-joined"]
    users = {a.user for _, a in joined.requests(ALICE)}
    assert users == {"system:node:worker-1", "system:bootstrap:abcdef"}
    assert {a.user for _, a in BY_ID["exec-into-container"].requests(ALICE)} == {"alice"}


def test_attributes_examples() -> None:
    exec_get = Variant(verb="get", resource="pods", subresource="exec")
    a = exec_get.attributes(ALICE)
    assert a.path == "/api/v1/namespaces/default/pods/x/exec"
    assert (a.namespace, a.name, a.resource_request) == ("default", "x", True)
    crb = Variant(
        verb="create", api_group="rbac.authorization.k8s.io", resource="clusterrolebindings"
    )
    a = msgspec.structs.replace(crb, namespaced=False).attributes(ALICE)
    assert a.path == "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
    assert (a.namespace, a.name) == ("", "")
    ns = Variant(verb="patch", resource="namespaces", namespaced=False, name="prod")
    assert ns.attributes(ALICE).namespace == "prod"  # a namespace object is its own namespace
    cm = BY_ID["aws-auth-modified"].variants[0]
    a = cm.attributes(ALICE)
    assert a.path == "/api/v1/namespaces/kube-system/configmaps/aws-auth"
    api = Variant(verb="get", path="/api", namespaced=False).attributes(ALICE)
    assert (api.resource_request, api.path, api.verb) == (False, "/api", "get")


# --- rejection ---------------------------------------------------------------------------------


def _technique(data: dict[str, Any], tid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(t for t in data["techniques"] if t["id"] == tid)
    return found


@pytest.mark.parametrize(
    "where",
    [
        lambda d: d,
        lambda d: _technique(d, "read-secrets"),
        lambda d: _technique(d, "read-secrets")["variants"][0],
        lambda d: _technique(d, "read-secrets")["references"][0],
        lambda d: _technique(d, "anonymous-access")["identity"],
    ],
)
def test_unknown_keys_are_rejected(where: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    data = _raw()
    where(data)["surprise"] = 1
    with pytest.raises(msgspec.ValidationError, match="surprise"):
        msgspec.convert(data, Catalogue)
    with pytest.raises(InputError, match="surprise"):
        parse_techniques(data)


def test_wrong_types_are_rejected() -> None:
    data = _raw()
    _technique(data, "read-secrets")["minLevel"] = "Everything"
    with pytest.raises(InputError, match="minLevel"):
        parse_techniques(data)


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    """Set ``technique.key`` or ``technique.variants.N.key`` of a technique in raw data."""

    def mutate(data: dict[str, Any]) -> None:
        tid, *keys = path.split(".")
        node: Any = _technique(data, tid)
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node[key]
        last = keys[-1]
        node[int(last) if last.isdigit() else last] = value

    return mutate


def _duplicate_id(data: dict[str, Any]) -> None:
    data["techniques"].append(copy.deepcopy(data["techniques"][0]))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_duplicate_id, "duplicate id"),
        (_set("read-secrets.id", "Read Secrets"), "slug"),
        (_set("read-secrets.tactic", "exfiltration"), "unknown tactic"),
        (_set("read-secrets.variants", []), "no variants"),
        (_set("read-secrets.references", []), "no references"),
        (_set("read-secrets.minLevel", "None"), "reveals nothing"),
        (_set("read-secrets.secretMaterial", True), "no secret material"),
        (_set("read-secrets.variants.0.verb", "impersonate"), "is not one of"),
        (_set("read-secrets.variants.0.verb", "GET"), "is not one of"),
        (_set("read-secrets.variants.0.path", "/api/v1/secrets"), "has no path"),
        (_set("read-secrets.variants.0.apiGroup", "Apps"), "DNS subdomain"),
        (_set("read-secrets.variants.0.resource", "Secrets"), "lowercase resource"),
        (_set("read-secrets.variants.0.namespace", "kube_system"), "DNS label"),
        (_set("read-secrets.variants.2.subresource", "status"), "collection verb"),
        (_set("read-secrets.variants.1", {"verb": "get", "resource": "secrets"}), "duplicate"),
        (_set("create-pod.variants.0.name", "evil"), "no object name"),
        (_set("aws-auth-modified.variants.0.name", "a/b"), "not a path segment"),
        (_set("cluster-enumeration.variants.1.verb", "get"), "duplicate variant"),
        (_set("anonymous-access.variants.0.verb", "list"), "HTTP method"),
        (_set("anonymous-access.variants.0.namespaced", True), "only verb and path"),
        (_set("anonymous-access.variants.0.path", "api"), "starting with '/'"),
        (_set("anonymous-access.variants.0.apiGroup", "apps"), "only verb and path"),
        (_set("anonymous-access.identity.user", ""), "identity has no user"),
        (_set("read-secrets.references.0.id", "MS-9025"), "malformed ms-threat-matrix"),
        (_set("read-secrets.references.2.id", "T15527"), "malformed mitre-attack"),
        (_set("read-secrets.references.2.url", "https://example.com/"), "url should be"),
        (_set("read-secrets.references.3.id", "secrets"), "malformed kubenomicon"),
        (_set("read-secrets.references.0.url", "http://x"), "not https"),
    ],
)
def test_check_rejects(mutate: Callable[[dict[str, Any]], None], message: str) -> None:
    data = _raw()
    mutate(data)
    with pytest.raises(InputError, match=re.escape(message)):
        parse_techniques(data)


def test_check_reports_every_problem_and_passes_the_bundled_catalogue() -> None:
    assert check(CATALOGUE) is CATALOGUE
    data = _raw()
    _set("read-secrets.tactic", "exfiltration")(data)
    _set("exec-into-container.variants.0.verb", "exec")(data)
    with pytest.raises(InputError) as info:
        parse_techniques(data)
    assert "read-secrets" in str(info.value)
    assert "exec-into-container" in str(info.value)
