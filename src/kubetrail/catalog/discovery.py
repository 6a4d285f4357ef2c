"""The built-in API resources of kube-apiserver, per Kubernetes minor version.

Answers the questions an audit-policy linter asks about a rule's ``resources``: is this
group built in (anything else is a CRD group and never judged), does it serve this
resource and subresource in version X, is it served by default there (alpha APIs never
are, and beta APIs introduced since 1.24 are not), and which groups do serve a resource
named under the wrong group (Falco lists ``deployments`` under the core group ``""``).

The facts live in ``kubetrail/data/discovery.json``; ``PROVENANCE.md`` names the upstream
files they were taken from. The audit policy matches on group and resource, not on API
version, so the data is per (group, resource) with the range of minor versions in which
some version of it can be served.
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Iterable
from types import MappingProxyType
from typing import Final

import msgspec

from kubetrail.policy.validate import NEWEST, OLDEST, KubeVersion

_DATA: Final = "discovery.json"
_RANGE_RE: Final = re.compile(r"(\d+)\.(\d+)(?:(\+)|-(\d+)\.(\d+))?")

Minor = tuple[int, int]


class ResourceInfo(msgspec.Struct, frozen=True):
    """One built-in resource as served by a given Kubernetes version."""

    group: str
    resource: str
    namespaced: bool
    subresources: frozenset[str]
    verbs: frozenset[str]
    served_by_default: bool  # in the version the Discovery was built for


class _Resource(msgspec.Struct, forbid_unknown_fields=True):
    ns: bool
    sub: list[str] = []
    verbs: str = "all"
    v: str = "1.24+"
    on: str | None = None
    default_off: bool = msgspec.field(default=False, name="defaultOff")
    gate: str | None = None


class _File(msgspec.Struct, forbid_unknown_fields=True):
    format: int
    about: str
    verbs: dict[str, list[str]]
    retired: dict[str, str]
    groups: dict[str, dict[str, _Resource]]


def _in_range(text: str, version: Minor) -> bool:
    """Whether ``version`` is in ``1.30``, ``1.30+`` or ``1.24-1.27``."""
    m = _RANGE_RE.fullmatch(text)
    if not m:
        raise ValueError(f"{_DATA}: bad version range {text!r}")
    low = (int(m[1]), int(m[2]))
    if m[3]:
        return low <= version
    high = (int(m[4]), int(m[5])) if m[4] else low
    return low <= version <= high


class Discovery:
    """Built-in groups and resources of one Kubernetes version; immutable."""

    __slots__ = ("_by_group", "_retired", "version")

    version: KubeVersion
    _by_group: MappingProxyType[str, MappingProxyType[str, ResourceInfo]]
    _retired: MappingProxyType[str, str]

    def __init__(
        self, version: KubeVersion, infos: Iterable[ResourceInfo], retired: dict[str, str]
    ) -> None:
        by_group: dict[str, dict[str, ResourceInfo]] = {}
        for info in infos:
            by_group.setdefault(info.group, {})[info.resource] = info
        frozen = {g: MappingProxyType(dict(sorted(r.items()))) for g, r in by_group.items()}
        object.__setattr__(self, "version", version)
        object.__setattr__(self, "_by_group", MappingProxyType(frozen))
        object.__setattr__(self, "_retired", MappingProxyType(dict(retired)))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Discovery is immutable (cannot set {name!r})")

    def __repr__(self) -> str:
        return f"Discovery({self.version}: {len(self._by_group)} groups)"

    def groups(self) -> frozenset[str]:
        """The built-in API groups of this version (``""`` is the core group)."""
        return frozenset(self._by_group)

    def is_builtin_group(self, group: str) -> bool:
        """Whether ``group`` is built in here; any other group belongs to a CRD or an APIService."""
        return group in self._by_group

    def lookup(self, group: str, resource: str) -> ResourceInfo | None:
        """The resource, or None; ``resource`` may be ``name`` or ``name/subresource``."""
        name = resource.partition("/")[0]
        by_name = self._by_group.get(group)
        return None if by_name is None else by_name.get(name)

    def has_subresource(self, group: str, resource: str, subresource: str) -> bool:
        """Whether ``group``'s ``resource`` has ``subresource`` (e.g. pods, exec) here."""
        info = self.lookup(group, resource)
        return info is not None and subresource in info.subresources

    def groups_serving(self, resource: str) -> list[str]:
        """The groups serving ``resource`` here, sorted (core ``""`` first)."""
        name = resource.partition("/")[0]
        return sorted(g for g, r in self._by_group.items() if name in r)

    def resources(self, group: str) -> list[ResourceInfo]:
        """The resources of ``group`` here, sorted by name (empty for a non-built-in group)."""
        return list(self._by_group.get(group, MappingProxyType({})).values())

    def retired_in(self, group: str) -> str | None:
        """For a group built in before 1.24 and no longer served, the release that dropped it."""
        return None if group in self._by_group else self._retired.get(group)


def _infos(data: _File, at: Minor) -> Iterable[ResourceInfo]:
    for group, entries in data.groups.items():
        for name, res in entries.items():
            if not _in_range(res.v, at):
                continue
            if res.verbs not in data.verbs:
                raise ValueError(f"{_DATA}: {group}/{name}: unknown verb set {res.verbs!r}")
            subs: set[str] = set()
            for spec in res.sub:
                sub, _, when = spec.partition("@")
                if not when or _in_range(when, at):
                    subs.add(sub)
            on = not res.default_off and _in_range(res.on or res.v, at)
            yield ResourceInfo(
                group=group,
                resource=name,
                namespaced=res.ns,
                subresources=frozenset(subs),
                verbs=frozenset(data.verbs[res.verbs]),
                served_by_default=on,
            )


def load_discovery(version: KubeVersion) -> Discovery:
    """The built-in resources of ``version`` (1.24 to 1.36), read from the package data."""
    at = (version.major, version.minor)
    if not OLDEST <= at <= NEWEST:
        raise ValueError(
            f"no discovery data for Kubernetes {version}: "
            f"kubetrail knows {KubeVersion(*OLDEST)} to {KubeVersion(*NEWEST)}"
        )
    raw = (importlib.resources.files("kubetrail") / "data" / _DATA).read_bytes()
    data = msgspec.json.decode(raw, type=_File)
    if data.format != 1:
        raise ValueError(f"{_DATA}: unsupported format {data.format}")
    return Discovery(version, _infos(data, at), data.retired)
