"""audit.k8s.io/v1 Policy (k8s.io/apiserver ``pkg/apis/audit/v1/types.go``).

String-typed fields keep whatever the document said (``level: Metadta`` is representable) so
that validation can report it with the upstream message; :class:`Level` and :class:`Stage` are
the valid values, with the upstream ordering (``pkg/apis/audit/helpers.go``).
"""

from __future__ import annotations

import enum
from typing import Final

import msgspec


class Level(enum.StrEnum):
    """How much of a request is logged. Ordered: None < Metadata < Request < RequestResponse."""

    NONE = "None"
    METADATA = "Metadata"
    REQUEST = "Request"
    REQUEST_RESPONSE = "RequestResponse"

    @property
    def order(self) -> int:
        """``ordLevel`` of helpers.go: None (and anything unknown) is 0."""
        return _LEVEL_ORDER[self]

    def less(self, other: Level) -> bool:
        """True if this level logs strictly less than ``other``."""
        return self.order < other.order

    def at_least(self, other: Level) -> bool:
        """True if this level logs at least as much as ``other`` (``GreaterOrEqual``)."""
        return self.order >= other.order


_LEVEL_ORDER: Final = {
    Level.NONE: 0,
    Level.METADATA: 1,
    Level.REQUEST: 2,
    Level.REQUEST_RESPONSE: 3,
}


class Stage(enum.StrEnum):
    """The stages at which an event is written, in the order they happen."""

    REQUEST_RECEIVED = "RequestReceived"
    RESPONSE_STARTED = "ResponseStarted"
    RESPONSE_COMPLETE = "ResponseComplete"
    PANIC = "Panic"


ALL_LEVELS: Final = tuple(Level)
ALL_STAGES: Final = tuple(Stage)


class GroupResources(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """A set of resources of one API group. ``group`` "" is the core group; "*" any (1.36+)."""

    group: str = ""
    resources: list[str] = msgspec.field(default_factory=list)
    resource_names: list[str] = msgspec.field(default_factory=list, name="resourceNames")


class PolicyRule(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """One rule. Empty or absent lists never constrain; ``level`` is required."""

    level: str = ""
    users: list[str] = msgspec.field(default_factory=list)
    user_groups: list[str] = msgspec.field(default_factory=list, name="userGroups")
    verbs: list[str] = msgspec.field(default_factory=list)
    resources: list[GroupResources] = msgspec.field(default_factory=list)
    namespaces: list[str] = msgspec.field(default_factory=list)
    non_resource_urls: list[str] = msgspec.field(default_factory=list, name="nonResourceURLs")
    omit_stages: list[str] = msgspec.field(default_factory=list, name="omitStages")
    # Tri-state: None (unset) inherits the policy's value; False overrides a policy-wide True.
    omit_managed_fields: bool | None = msgspec.field(default=None, name="omitManagedFields")


class Policy(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """An audit Policy document."""

    api_version: str = msgspec.field(default="audit.k8s.io/v1", name="apiVersion")
    kind: str = "Policy"
    metadata: dict[str, object] | None = None
    rules: list[PolicyRule] = msgspec.field(default_factory=list)
    omit_stages: list[str] = msgspec.field(default_factory=list, name="omitStages")
    omit_managed_fields: bool = msgspec.field(default=False, name="omitManagedFields")
