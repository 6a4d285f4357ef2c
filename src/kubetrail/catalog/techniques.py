"""The attack-technique catalogue: the requests each technique makes and the level that shows it.

The data is ``kubetrail/data/techniques.yaml`` (its header explains the conventions). Every
:class:`Variant` is one concrete request as kube-apiserver's audit policy evaluator sees it, so
:meth:`Variant.attributes` turns it into :class:`~kubetrail.model.attributes.RequestAttributes`
for :class:`~kubetrail.policy.evaluate.Evaluator`.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Final, Literal

import msgspec
import yaml

from kubetrail.errors import InputError
from kubetrail.model.attributes import RequestAttributes
from kubetrail.model.policy import Level

# fmt: off
TACTICS: Final = (
    "initial-access", "execution", "persistence", "privilege-escalation", "defense-evasion",
    "credential-access", "discovery", "lateral-movement", "collection", "impact",
)
# fmt: on
RESOURCE_VERBS: Final = frozenset(
    {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
)
# Non-resource requests: the lower-cased HTTP method (requestinfo.go).
NON_RESOURCE_VERBS: Final = frozenset({"get", "head", "post", "put", "patch", "delete", "options"})
# The object name used in a URL when the technique does not depend on it.
PLACEHOLDER_NAME: Final = "x"
DEFAULT_NAMESPACE: Final = "default"
_ITEM_VERBS: Final = frozenset({"get", "create", "update", "patch", "delete"})
_VERSIONS: Final = {"cilium.io": "v2", "constraints.gatekeeper.sh": "v1beta1"}  # else v1
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_DNS_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_RESOURCE = re.compile(r"[a-z][a-z0-9]*")
_REFERENCE_ID: Final = {
    "mitre-attack": re.compile(r"T\d{4}(?:\.\d{3})?"),
    "ms-threat-matrix": re.compile(r"MS-TA\d{4}"),
    "kubenomicon": re.compile(r"[A-Z][a-z]+(?:_[a-z]+)*/[A-Za-z0-9][-A-Za-z0-9_]*"),
}
_DATA_FILE: Final = "data/techniques.yaml"


class Reference(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An entry of a threat framework: MITRE ATT&CK, Microsoft's matrix, or Kubenomicon."""

    framework: Literal["mitre-attack", "ms-threat-matrix", "kubenomicon"]
    id: str
    url: str = ""

    @property
    def canonical_url(self) -> str:
        """The URL derived from the id ("" for Microsoft's matrix, whose URLs use page titles)."""
        if self.framework == "mitre-attack":
            return "https://attack.mitre.org/techniques/" + self.id.replace(".", "/") + "/"
        if self.framework == "kubenomicon":
            return f"https://kubenomicon.com/{self.id}.html"
        return ""


class Identity(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The authenticated caller: user name and groups, as the audit policy sees them."""

    user: str
    groups: tuple[str, ...] = ()


class Variant(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """One concrete request a technique makes (one verb, group, resource and subresource).

    ``namespaced`` False means the URL names no namespace (a cluster-scoped resource, or a
    list/watch across all namespaces); ``namespace`` "" then means :data:`DEFAULT_NAMESPACE`.
    """

    verb: str
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespaced: bool = True
    namespace: str = ""
    path: str = ""
    name: str = ""
    via: str = ""
    min_level: Level | None = None
    identity: Identity | None = None

    @property
    def name_in_url(self) -> bool:
        """True if the URL addresses one object (``.../<resource>/<name>[/<subresource>]``)."""
        return bool(self.resource) and (
            bool(self.subresource) or self.verb in {"get", "update", "patch", "delete"}
        )

    def attributes(self, identity: Identity) -> RequestAttributes:
        """The request as ``identity`` makes it (restrictions are the caller's business:
        see :meth:`Technique.requests`)."""
        user, groups = identity.user, identity.groups
        if not self.resource:
            return RequestAttributes(user=user, groups=groups, verb=self.verb, path=self.path)
        version = _VERSIONS.get(self.api_group, "v1")
        parts = [f"/apis/{self.api_group}/{version}" if self.api_group else "/api/v1"]
        namespace = (self.namespace or DEFAULT_NAMESPACE) if self.namespaced else ""
        if namespace:
            parts += ["namespaces", namespace]
        parts.append(self.resource)
        name = ""
        if self.name_in_url:
            name = self.name or PLACEHOLDER_NAME
            parts += [name, self.subresource] if self.subresource else [name]
            if not self.api_group and self.resource == "namespaces":
                namespace = name  # requestinfo.go: a namespace object is its own namespace
        elif self.verb in {"list", "watch"}:
            name = self.name  # from a metadata.name field selector (kubectl get <kind> <name> -w)
        return RequestAttributes(
            user=user,
            groups=groups,
            verb=self.verb,
            namespace=namespace,
            api_group=self.api_group,
            api_version=version,
            resource=self.resource,
            subresource=self.subresource,
            name=name,
            path="/".join(parts),
            resource_request=True,
        )


class Technique(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """An attack technique, the requests it makes and the audit level that reveals it."""

    id: str
    name: str
    tactic: str
    description: str
    references: tuple[Reference, ...]
    variants: tuple[Variant, ...]
    min_level: Level
    secret_material: bool
    tells: tuple[str, ...] = ()
    identity: Identity | None = None

    def level_for(self, variant: Variant) -> Level:
        """The lowest level at which ``variant`` reveals the technique."""
        return self.min_level if variant.min_level is None else variant.min_level

    def identity_for(self, variant: Variant) -> Identity | None:
        """The only caller that makes ``variant``, or None if anybody can."""
        return self.identity if variant.identity is None else variant.identity

    def requests(self, default: Identity) -> tuple[tuple[Variant, RequestAttributes], ...]:
        """Every variant with its attributes, made by its restricted caller or ``default``."""
        return tuple((v, v.attributes(self.identity_for(v) or default)) for v in self.variants)


class Catalogue(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The technique catalogue."""

    version: int
    techniques: tuple[Technique, ...]


def _variant_problems(v: Variant) -> list[str]:
    out: list[str] = []
    if v.min_level is Level.NONE:
        out.append("minLevel None reveals nothing")
    if v.identity is not None and not v.identity.user:
        out.append("identity has no user")
    if not v.resource:
        if v.verb not in NON_RESOURCE_VERBS:
            out.append(f"non-resource verb {v.verb!r} is not a lower-case HTTP method")
        if not v.path.startswith("/"):
            out.append("a non-resource request needs a path starting with '/'")
        if v.api_group or v.subresource or v.name or v.namespace or v.namespaced:
            out.append("a non-resource request has only verb and path (and namespaced: false)")
        return out
    if v.verb not in RESOURCE_VERBS:
        out.append(f"verb {v.verb!r} is not one of {sorted(RESOURCE_VERBS)}")
    if v.path:
        out.append("a resource request has no path (it is derived)")
    if v.api_group and not (len(v.api_group) <= 253 and _DNS_SUBDOMAIN.fullmatch(v.api_group)):
        out.append(f"apiGroup {v.api_group!r} is not a lowercase DNS subdomain")
    out.extend(
        f"{what!r} is not a lowercase resource name"
        for what in (v.resource, v.subresource)
        if what and not _RESOURCE.fullmatch(what)
    )
    if v.subresource and v.verb not in _ITEM_VERBS:
        out.append(f"subresource {v.subresource!r} with collection verb {v.verb!r}")
    if v.name and not v.name_in_url and v.verb not in {"list", "watch"}:
        out.append(f"{v.verb} {v.resource} carries no object name in its URL; drop name")
    if "/" in v.name or v.name in {".", ".."}:
        out.append(f"name {v.name!r} is not a path segment")
    if v.namespace and not (v.namespaced and _DNS_LABEL.fullmatch(v.namespace)):
        out.append(f"namespace {v.namespace!r} needs namespaced: true and a DNS label")
    return out


def check(catalogue: Catalogue) -> Catalogue:
    """Validate what the schema cannot express; raise :class:`InputError` listing every problem."""
    problems: list[str] = []
    if catalogue.version != 1:
        problems.append(f"unsupported catalogue version {catalogue.version}")
    seen: set[str] = set()
    for t in catalogue.techniques:
        where = f"technique {t.id!r}"
        if not _SLUG.fullmatch(t.id):
            problems.append(f"{where}: id is not a lowercase slug")
        if t.id in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(t.id)
        if t.tactic not in TACTICS:
            problems.append(f"{where}: unknown tactic {t.tactic!r} (known: {', '.join(TACTICS)})")
        if not t.name.strip() or not t.description.strip():
            problems.append(f"{where}: name and description must not be empty")
        if t.min_level is Level.NONE:
            problems.append(f"{where}: minLevel None reveals nothing")
        if t.secret_material and not t.min_level.at_least(Level.REQUEST):
            problems.append(f"{where}: a Metadata event holds no secret material")
        if t.identity is not None and not t.identity.user:
            problems.append(f"{where}: identity has no user")
        if not t.references:
            problems.append(f"{where}: no references")
        for r in t.references:
            if not _REFERENCE_ID[r.framework].fullmatch(r.id):
                problems.append(f"{where}: malformed {r.framework} reference id {r.id!r}")
            elif r.url and r.url != (r.canonical_url or r.url):
                problems.append(f"{where}: {r.id} url should be {r.canonical_url!r}")
            elif r.url and not r.url.startswith("https://"):
                problems.append(f"{where}: {r.id} url {r.url!r} is not https")
        if len(set(t.references)) != len(t.references):
            problems.append(f"{where}: duplicate reference")
        if not t.variants:
            problems.append(f"{where}: no variants")
        if len({msgspec.structs.replace(v, via="") for v in t.variants}) != len(t.variants):
            problems.append(f"{where}: duplicate variant (the same request twice)")
        for i, v in enumerate(t.variants):
            problems.extend(
                f"{where}: variant {i} ({v.verb} {v.resource or v.path}): {p}"
                for p in _variant_problems(v)
            )
    if problems:
        raise InputError("invalid technique catalogue:\n  " + "\n  ".join(problems))
    return catalogue


def parse_techniques(data: object) -> Catalogue:
    """Convert decoded YAML/JSON into a checked :class:`Catalogue` (unknown keys rejected)."""
    try:
        catalogue = msgspec.convert(data, Catalogue, strict=True)
    except msgspec.ValidationError as exc:
        raise InputError(f"invalid technique catalogue: {exc}") from None
    return check(catalogue)


def load_techniques() -> Catalogue:
    """The bundled catalogue (read afresh on every call; callers keep the result)."""
    text = resources.files("kubetrail").joinpath(_DATA_FILE).read_text(encoding="utf-8")
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it
        return parse_techniques(yaml.load(text, Loader=loader))
    except InputError as exc:
        raise InputError(exc.message, path=f"kubetrail/{_DATA_FILE}") from None
