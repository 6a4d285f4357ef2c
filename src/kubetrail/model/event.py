"""audit.k8s.io/v1 Event (k8s.io/apiserver ``pkg/apis/audit/v1/types.go``).

Events are read tolerantly: unknown fields are ignored, and the older shapes still found in
the wild decode too — ``audit.k8s.io/v1beta1``, events with no ``kind``/``apiVersion``, and
pre-v1 timestamps. Timestamps stay strings as written (``2006-01-02T15:04:05.000000Z``); the
one documented fallback chain for events without the v1 timestamps is in
:meth:`Event.received_at` and :meth:`Event.stage_at`.

Wire names are explicit (``requestURI``, ``auditID``, ``sourceIPs``, ...), never derived.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType


class UserInfo(msgspec.Struct, kw_only=True, omit_defaults=True):
    """authentication/v1 UserInfo. Every field is omitted on the wire when empty."""

    username: str = ""
    uid: str = ""
    groups: list[str] = msgspec.field(default_factory=list)
    extra: dict[str, list[str]] = msgspec.field(default_factory=dict)

    def is_empty(self) -> bool:
        """True for ``{}``: the event of a request that had no user (failed authentication)."""
        return not (self.username or self.uid or self.groups or self.extra)


class ObjectReference(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What the request was about. Filled partly from the URL, partly from the request body."""

    resource: str = ""
    namespace: str = ""
    name: str = ""
    uid: str = ""
    api_group: str = msgspec.field(default="", name="apiGroup")
    api_version: str = msgspec.field(default="", name="apiVersion")
    resource_version: str = msgspec.field(default="", name="resourceVersion")
    subresource: str = ""


class ResponseStatus(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A metav1.Status as recorded in ``responseStatus``."""

    metadata: dict[str, object] = msgspec.field(default_factory=dict)
    status: str = ""
    message: str = ""
    reason: str = ""
    details: msgspec.Raw | UnsetType = UNSET
    code: int = 0


class Event(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One audit event, in the key order kube-apiserver writes it."""

    kind: str = "Event"
    api_version: str = msgspec.field(default="audit.k8s.io/v1", name="apiVersion")
    level: str = ""
    audit_id: str = msgspec.field(default="", name="auditID")
    stage: str = ""
    request_uri: str = msgspec.field(default="", name="requestURI")
    verb: str = ""
    user: UserInfo = msgspec.field(default_factory=UserInfo)
    impersonated_user: UserInfo | None = msgspec.field(default=None, name="impersonatedUser")
    authentication_metadata: dict[str, object] | None = msgspec.field(
        default=None, name="authenticationMetadata"
    )
    source_ips: list[str] = msgspec.field(default_factory=list, name="sourceIPs")
    user_agent: str = msgspec.field(default="", name="userAgent")
    object_ref: ObjectReference | None = msgspec.field(default=None, name="objectRef")
    response_status: ResponseStatus | None = msgspec.field(default=None, name="responseStatus")
    # Bodies stay raw JSON until something needs them; UNSET means "not recorded".
    request_object: msgspec.Raw | UnsetType = msgspec.field(default=UNSET, name="requestObject")
    response_object: msgspec.Raw | UnsetType = msgspec.field(default=UNSET, name="responseObject")
    request_received_timestamp: str | None = msgspec.field(
        default=None, name="requestReceivedTimestamp"
    )
    stage_timestamp: str | None = msgspec.field(default=None, name="stageTimestamp")
    annotations: dict[str, str] = msgspec.field(default_factory=dict)
    # Pre-v1 shapes (audit.k8s.io/v1alpha1 and early v1beta1): a single ``timestamp`` and an
    # ObjectMeta whose ``creationTimestamp`` was the event time.
    timestamp: str | None = None
    metadata: dict[str, object] | None = None

    def _legacy_time(self) -> str | None:
        if self.timestamp:
            return self.timestamp
        created = (self.metadata or {}).get("creationTimestamp")
        return created if isinstance(created, str) and created else None

    def received_at(self) -> str | None:
        """When the request arrived.

        Fallback chain: ``requestReceivedTimestamp`` → ``timestamp`` →
        ``metadata.creationTimestamp`` → ``stageTimestamp``.
        """
        return self.request_received_timestamp or self._legacy_time() or self.stage_timestamp

    def stage_at(self) -> str | None:
        """When this stage was reached.

        Fallback chain: ``stageTimestamp`` → ``timestamp`` → ``metadata.creationTimestamp`` →
        ``requestReceivedTimestamp``.
        """
        return self.stage_timestamp or self._legacy_time() or self.request_received_timestamp


class EventList(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A batch of events, as the webhook backend POSTs it. Items carry no kind/apiVersion."""

    kind: str = "EventList"
    api_version: str = msgspec.field(default="audit.k8s.io/v1", name="apiVersion")
    metadata: dict[str, object] = msgspec.field(default_factory=dict)
    items: list[Event] = msgspec.field(default_factory=list)
