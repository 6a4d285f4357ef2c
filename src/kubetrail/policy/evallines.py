"""``policy eval``: JSON Lines in, JSON Lines out, one output line per input line, in order.

An input line is one of three shapes, told apart by its keys:

* an audit Event (``requestURI``, ``auditID``, ``stage``, ``objectRef``, a ``user`` object or
  ``kind: Event``) — resolved with :func:`kubetrail.policy.resolve.from_event`;
* an HTTP request ``{"method", "url", "user", "groups"}``;
* request attributes ``{"user", "groups", "verb", "namespace", "apiGroup", "apiVersion",
  "resource", "subresource", "name", "path", "resourceRequest"}``.

Each output line is ``{"level", "omitStages", "omitManagedFields", "rule", "request"}``
(``omitStages`` sorted, ``rule`` the 0-based index of the matching rule or ``null``,
``request`` the resolved attributes). A line that cannot be used gives ``{"error": "..."}``
and processing continues. This shape is a stable interface: keep it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final

import msgspec

from kubetrail.errors import InputError
from kubetrail.model.attributes import RequestAttributes
from kubetrail.model.event import Event, ObjectReference, UserInfo
from kubetrail.policy.evaluate import Decision, Evaluator
from kubetrail.policy.resolve import (
    ATTRIBUTE_KEYS,
    HTTP_KEYS,
    from_event,
    from_http_mapping,
    from_mapping,
)


class _Line(msgspec.Struct, kw_only=True):
    """Every key any input shape can carry; one decode tells the shape."""

    user: str | UserInfo | None = None
    method: str | None = None
    url: str | None = None
    kind: str | None = None
    audit_id: str | None = msgspec.field(default=None, name="auditID")
    stage: str | None = None
    request_uri: str | None = msgspec.field(default=None, name="requestURI")
    object_ref: ObjectReference | None = msgspec.field(default=None, name="objectRef")
    stage_timestamp: str | None = msgspec.field(default=None, name="stageTimestamp")


class _AttrLine(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Request attributes, validated in one decode (the common, fast case)."""

    user: str | None = None
    groups: list[str] | None = None
    verb: str = ""
    namespace: str = ""
    api_group: str = msgspec.field(default="", name="apiGroup")
    api_version: str = msgspec.field(default="", name="apiVersion")
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""
    resource_request: bool | None = msgspec.field(default=None, name="resourceRequest")

    def attributes(self) -> RequestAttributes:
        rr = self.resource_request
        return RequestAttributes(
            user=self.user or None,  # "" means no user object
            groups=tuple(self.groups) if self.groups else (),
            verb=self.verb,
            namespace=self.namespace,
            api_group=self.api_group,
            api_version=self.api_version,
            resource=self.resource,
            subresource=self.subresource,
            name=self.name,
            path=self.path,
            resource_request=bool(self.resource) if rr is None else rr,
        )


class _Output(msgspec.Struct):
    level: str
    omitStages: list[str]
    omitManagedFields: bool
    rule: int | None
    request: dict[str, object]


class _Error(msgspec.Struct):
    error: str


_attr_decoder: Final = msgspec.json.Decoder(_AttrLine)
_EMPTY: Final = _AttrLine()
_line_decoder: Final = msgspec.json.Decoder(_Line)
_event_decoder: Final = msgspec.json.Decoder(Event)
_dict_decoder: Final = msgspec.json.Decoder(dict[str, object])
_encoder: Final = msgspec.json.Encoder()


_EVENT_KEYS: Final = frozenset(
    {"requestURI", "auditID", "stage", "objectRef", "stageTimestamp", "impersonatedUser"}
)


def _is_event(line: _Line) -> bool:
    return (
        isinstance(line.user, UserInfo)
        or line.request_uri is not None
        or line.audit_id is not None
        or line.stage is not None
        or line.object_ref is not None
        or line.stage_timestamp is not None
        or line.kind == "Event"
    )


def _event(raw: bytes | str) -> RequestAttributes:
    try:
        event = _event_decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise InputError(f"not a valid audit event: {exc}") from None
    return from_event(event)


def attributes_from_json(raw: bytes | str) -> RequestAttributes:
    """The request attributes of one input line, whichever of the three shapes it has."""
    try:
        attrs = _attr_decoder.decode(raw)
    except msgspec.DecodeError:
        pass  # another shape, or bad attributes: find out which below
    else:
        if attrs != _EMPTY:
            return attrs.attributes()
    try:
        if _is_event(_line_decoder.decode(raw)):
            return _event(raw)
    except msgspec.DecodeError:
        pass  # reported below, by the decoder of the shape the line resembles most
    try:
        obj = _dict_decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise InputError(f"not a JSON object: {exc}") from None
    if _EVENT_KEYS & obj.keys() or isinstance(obj.get("user"), dict) or obj.get("kind"):
        return _event(raw)
    if "method" in obj or "url" in obj:
        return from_http_mapping(obj)
    if not obj:
        raise InputError(
            "empty object: give request attributes ("
            + ", ".join(ATTRIBUTE_KEYS)
            + "), an HTTP request ("
            + ", ".join(HTTP_KEYS)
            + ") or an audit event"
        )
    return from_mapping(obj)


def output_for(decision: Decision, attrs: RequestAttributes) -> _Output:
    """The stable output object of one decided line."""
    return _Output(
        level=decision.level.value,
        omitStages=sorted(decision.omit_stages),
        omitManagedFields=decision.omit_managed_fields,
        rule=decision.rule,
        request=attrs.to_wire(),
    )


def eval_line(evaluator: Evaluator, raw: bytes | str) -> bytes:
    """One output line (without newline) for one input line. Never raises on bad input."""
    if not raw.strip():
        return _encoder.encode(_Error("empty line"))
    try:
        attrs = attributes_from_json(raw)
    except InputError as exc:
        return _encoder.encode(_Error(exc.message))
    return _encoder.encode(output_for(evaluator.evaluate(attrs), attrs))


def eval_lines(evaluator: Evaluator, lines: Iterable[bytes]) -> Iterator[bytes]:
    """Output lines (each ending in ``\\n``) for input lines, in order."""
    for raw in lines:
        yield eval_line(evaluator, raw) + b"\n"
