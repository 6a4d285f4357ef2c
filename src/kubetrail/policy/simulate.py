"""What kube-apiserver would have written under a policy, byte for byte, from a recording.

Input: events recorded at a richer level (ideally everything at RequestResponse, no stages
omitted). For each event the policy is evaluated on the attributes the apiserver saw
(:func:`kubetrail.policy.resolve.from_event`), then, as ``pkg/audit/request.go`` and
``pkg/endpoints/filters/audit.go`` do:

* level ``None``: no event at all; a stage in the effective ``omitStages``: that event dropped;
* ``level`` rewritten; ``requestObject`` kept only at ``Request`` and above,
  ``responseObject`` only at ``RequestResponse``;
* with ``omitManagedFields`` (and level ≥ Request), ``metadata.managedFields`` removed from
  request and response objects — a single object, every item of a list, every row object of a
  ``Table`` — but never from a patch body (upstream logs the patch as sent);
* encoded as Go's ``encoding/json`` does through the audit codec: keys in the order of
  ``types.go``, compact, HTML-safe escaping of ``<``, ``>``, ``&`` and U+2028/U+2029 — so byte
  counts are real. Bodies that need no change are copied as raw bytes.

When the recording holds less than the policy would log (recorded at Metadata, policy asks
for Request), the output keeps what exists and the event is counted as ``lacking``.
"""

from __future__ import annotations

import re
from typing import Final

import msgspec
from msgspec import UNSET, UnsetType

from kubetrail.model.attributes import RequestAttributes
from kubetrail.model.event import Event, ObjectReference, UserInfo
from kubetrail.model.policy import Level
from kubetrail.policy.evaluate import Decision, Evaluator
from kubetrail.policy.resolve import RequestInfoCache, from_event


class _Status(msgspec.Struct, kw_only=True, omit_defaults=True):
    """metav1.Status as the audit codec writes it: ``metadata`` always, the rest omitempty."""

    metadata: dict[str, object]
    status: str = ""
    message: str = ""
    reason: str = ""
    details: msgspec.Raw | UnsetType = UNSET
    code: int = 0


class WireEvent(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An audit.k8s.io/v1 Event as kube-apiserver encodes it (key order of types.go).

    Required fields are always written (Go writes them even when empty; timestamps as
    ``null`` when zero); the others are omitted when empty, like Go's ``omitempty``.
    """

    kind: str
    api_version: str = msgspec.field(name="apiVersion")
    level: str
    audit_id: str = msgspec.field(name="auditID")
    stage: str
    request_uri: str = msgspec.field(name="requestURI")
    verb: str
    user: UserInfo
    impersonated_user: UserInfo | None = msgspec.field(default=None, name="impersonatedUser")
    authentication_metadata: dict[str, object] | None = msgspec.field(
        default=None, name="authenticationMetadata"
    )
    source_ips: list[str] = msgspec.field(default_factory=list, name="sourceIPs")
    user_agent: str = msgspec.field(default="", name="userAgent")
    object_ref: ObjectReference | None = msgspec.field(default=None, name="objectRef")
    response_status: _Status | None = msgspec.field(default=None, name="responseStatus")
    request_object: msgspec.Raw | UnsetType = msgspec.field(default=UNSET, name="requestObject")
    response_object: msgspec.Raw | UnsetType = msgspec.field(default=UNSET, name="responseObject")
    request_received_timestamp: str | None = msgspec.field(name="requestReceivedTimestamp")
    stage_timestamp: str | None = msgspec.field(name="stageTimestamp")
    annotations: dict[str, str] = msgspec.field(default_factory=dict)


_encoder: Final = msgspec.json.Encoder()
# A line that begins exactly as the audit codec writes an event. Such a line is taken to be
# kube-apiserver's own output: the fields the policy reads are decoded, every other field is
# copied byte for byte (as bodies always are), which is what re-encoding it would produce.
_APISERVER_PREFIX: Final = b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"'
_NULL: Final = msgspec.Raw(b"null")


class _Recorded(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """An event line kube-apiserver wrote: what the policy reads decoded, the rest raw.

    The keys are :class:`WireEvent`'s, in its order, so the same object, with ``level`` and
    the bodies replaced, encodes to the output line.
    """

    kind: str
    api_version: str = msgspec.field(name="apiVersion")
    level: str
    audit_id: msgspec.Raw = msgspec.field(name="auditID")
    stage: str
    request_uri: str = msgspec.field(name="requestURI")
    verb: str
    user: msgspec.Raw
    impersonated_user: msgspec.Raw | UnsetType = msgspec.field(
        default=UNSET, name="impersonatedUser"
    )
    authentication_metadata: msgspec.Raw | UnsetType = msgspec.field(
        default=UNSET, name="authenticationMetadata"
    )
    source_ips: msgspec.Raw | UnsetType = msgspec.field(default=UNSET, name="sourceIPs")
    user_agent: msgspec.Raw | UnsetType = msgspec.field(default=UNSET, name="userAgent")
    object_ref: msgspec.Raw | UnsetType = msgspec.field(default=UNSET, name="objectRef")
    response_status: msgspec.Raw | UnsetType = msgspec.field(default=UNSET, name="responseStatus")
    request_object: msgspec.Raw | UnsetType = msgspec.field(default=UNSET, name="requestObject")
    response_object: msgspec.Raw | UnsetType = msgspec.field(default=UNSET, name="responseObject")
    # Both timestamps set (not null) means the pre-v1 fallbacks of Event.received_at() and
    # Event.stage_at() cannot apply; a null one sends the line to the general path.
    request_received_timestamp: msgspec.Raw = msgspec.field(name="requestReceivedTimestamp")
    stage_timestamp: msgspec.Raw = msgspec.field(name="stageTimestamp")
    annotations: msgspec.Raw | UnsetType = UNSET


_recorded_decoder: Final = msgspec.json.Decoder(_Recorded)
_user_decoder: Final = msgspec.json.Decoder(UserInfo)
# Verbs whose request body kube-apiserver logs at Request (deletes only when a body was sent).
_BODY_VERBS: Final = frozenset({"create", "update", "patch"})
_decoder: Final = msgspec.json.Decoder(Event)
_HTML: Final = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"))
_LINE_SEPARATORS: Final = (("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029"))
# msgspec writes \b and \f; Go writes \u0008 and \u000c. Only an unescaped backslash starts an
# escape, so match an even run of backslashes before it.
_SHORT_ESCAPES: Final = re.compile(rb"(?<!\\)((?:\\\\)*)\\([bf])")


def go_escape(line: bytes) -> bytes:
    """Apply Go's HTML-safe escaping to a compact JSON line.

    ``<``, ``>`` and ``&`` can only occur inside JSON strings, so replacing them across the
    whole line is exact; the same holds for U+2028/U+2029.
    """
    line = _html_escape(line)
    # Two-byte searches cost ~1.4 ns per byte (a memchr ~0.05), so one backslash test guards.
    if b"\\" in line and (b"\\b" in line or b"\\f" in line):
        line = _SHORT_ESCAPES.sub(
            lambda m: m.group(1) + (b"\\u0008" if m.group(2) == b"b" else b"\\u000c"), line
        )
    return line


def _html_escape(line: bytes) -> bytes:
    """``<``, ``>``, ``&`` and U+2028/U+2029 as Go writes them (the part of :func:`go_escape`
    that single-byte searches, at memchr speed, can rule out)."""
    for raw, escaped in _HTML:
        if raw in line:
            line = line.replace(raw, escaped)
    if not line.isascii():
        for raw, escaped in _LINE_SEPARATORS:
            line = line.replace(raw, escaped)
    return line


def _strip_object(obj: dict[str, object]) -> bool:
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        del meta["managedFields"]
        return True
    return False


def strip_managed_fields(raw: msgspec.Raw) -> msgspec.Raw:
    """``removeManagedFields`` of request.go: the object, list items or Table row objects."""
    data = bytes(raw)
    if b'"managedFields"' not in data:
        return raw
    obj = msgspec.json.decode(data)
    if not isinstance(obj, dict):
        return raw
    changed = _strip_object(obj)
    items = obj.get("items")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict):
                changed |= _strip_object(item)
    rows = obj.get("rows") if obj.get("kind") == "Table" else None
    if isinstance(rows, list):
        for row in rows:
            inner = row.get("object") if isinstance(row, dict) else None
            if isinstance(inner, dict):
                changed |= _strip_object(inner)
    return msgspec.Raw(_encoder.encode(obj)) if changed else raw


class Outcome(msgspec.Struct, gc=False):
    """What happened to one input event."""

    decision: Decision
    attributes: RequestAttributes
    line: bytes | None  # the encoded output event (no newline), or None if not written
    lacking: bool  # the policy wanted a body the recording does not have


def _bodies(
    verb: str,
    request_object: msgspec.Raw | UnsetType,
    response_object: msgspec.Raw | UnsetType,
    level: Level,
    strip: bool,
) -> tuple[msgspec.Raw | UnsetType, msgspec.Raw | UnsetType, bool]:
    """The bodies written at ``level``, and whether the recording lacked one the level logs."""
    lacking = False
    if level is not Level.REQUEST and level is not Level.REQUEST_RESPONSE:
        return UNSET, UNSET, False
    if request_object is UNSET:
        lacking = verb in _BODY_VERBS
    elif strip and verb != "patch":
        request_object = strip_managed_fields(request_object)
    if level is not Level.REQUEST_RESPONSE:
        response_object = UNSET
    elif response_object is UNSET:
        lacking = lacking or verb != "watch"  # watch streams are never recorded
    elif strip:
        response_object = strip_managed_fields(response_object)
    return request_object, response_object, lacking


def _wire(event: Event, level: Level, decision: Decision) -> tuple[WireEvent, bool]:
    """The event as written at ``level``, and whether the recording lacked a body for it."""
    request_object, response_object, lacking = _bodies(
        event.verb,
        event.request_object,
        event.response_object,
        level,
        decision.omit_managed_fields,
    )
    rs = event.response_status
    status = (
        None
        if rs is None
        else _Status(
            metadata={},
            status=rs.status,
            message=rs.message,
            reason=rs.reason,
            details=rs.details,
            code=rs.code,
        )
    )
    wire = WireEvent(
        kind="Event",
        api_version="audit.k8s.io/v1",
        level=level.value,
        audit_id=event.audit_id,
        stage=event.stage,
        request_uri=event.request_uri,
        verb=event.verb,
        user=event.user,
        impersonated_user=event.impersonated_user,
        authentication_metadata=event.authentication_metadata,
        source_ips=event.source_ips,
        user_agent=event.user_agent,
        object_ref=event.object_ref,
        response_status=status,
        request_object=request_object,
        response_object=response_object,
        request_received_timestamp=event.received_at(),
        stage_timestamp=event.stage_at(),
        annotations=event.annotations,
    )
    return wire, lacking


# What the policy saw and decided for one (verb, requestURI, user), with the level's name.
_Known = tuple[RequestAttributes, Decision, Level, str]


class Simulator:
    """Rewrites recorded events as ``policy`` would have written them."""

    def __init__(self, evaluator: Evaluator, memo_size: int = 1 << 16) -> None:
        self.evaluator = evaluator
        self.requests = RequestInfoCache()
        # (verb, requestURI, raw user) -> what the policy saw and decided. Real traffic
        # repeats the same requests from the same identities (leases, node status, watches).
        self._memo: dict[tuple[str, str, bytes], _Known] = {}
        self._memo_size = memo_size
        self.fast_lines = 0  # lines simulate_raw() took on the apiserver-output fast path

    def simulate(self, event: Event, attrs: RequestAttributes | None = None) -> Outcome:
        """The outcome for one event (``attrs``: its resolved attributes, if already known)."""
        attrs = from_event(event, self.requests) if attrs is None else attrs
        decision = self.evaluator.evaluate(attrs)
        level = decision.level
        if level is Level.NONE or event.stage in decision.omit_stages:
            return Outcome(decision, attrs, None, False)
        wire, lacking = _wire(event, level, decision)
        return Outcome(decision, attrs, go_escape(_encoder.encode(wire)), lacking)

    def simulate_raw(self, data: bytes) -> Outcome:
        """Decode one recorded line (raises msgspec.DecodeError on bad input) and simulate.

        A line kube-apiserver wrote (it begins as the audit codec writes) takes a fast path
        that decodes only what the policy reads and copies the other fields as raw bytes;
        its output is the same as the general path's (tested on real and generated events).
        """
        if data.startswith(_APISERVER_PREFIX):
            try:
                recorded = _recorded_decoder.decode(data)
            except msgspec.DecodeError:
                pass  # the general path decides, and names the error
            else:
                if (
                    recorded.request_uri
                    and recorded.request_received_timestamp != _NULL
                    and recorded.stage_timestamp != _NULL
                ):
                    self.fast_lines += 1
                    return self._simulate_recorded(recorded)
        return self.simulate(_decoder.decode(data))

    def _decide(self, recorded: _Recorded) -> _Known:
        key = (recorded.verb, recorded.request_uri, bytes(recorded.user))
        known = self._memo.get(key)
        if known is None:
            event = Event(
                verb=recorded.verb,
                request_uri=recorded.request_uri,
                user=_user_decoder.decode(key[2]),
            )
            attrs = from_event(event, self.requests)
            decision = self.evaluator.evaluate(attrs)
            known = (attrs, decision, decision.level, decision.level.value)
            if len(self._memo) >= self._memo_size:
                self._memo.clear()
            self._memo[key] = known
        return known

    def _simulate_recorded(self, recorded: _Recorded) -> Outcome:
        # The hot loop of `policy simulate`: attribute lookups hoisted, one call per event.
        known = self._memo.get((recorded.verb, recorded.request_uri, bytes(recorded.user)))
        attrs, decision, level, level_name = self._decide(recorded) if known is None else known
        if level is Level.NONE or recorded.stage in decision.omit_stages:
            return Outcome(decision, attrs, None, False)
        lacking = False
        if level is not Level.METADATA:
            recorded.request_object, recorded.response_object, lacking = _bodies(
                recorded.verb,
                recorded.request_object,
                recorded.response_object,
                level,
                decision.omit_managed_fields,
            )
        else:
            recorded.request_object = recorded.response_object = UNSET
        recorded.level = level_name
        line = _encoder.encode(recorded)
        # The raw fields are already escaped as Go escapes; the three decoded strings are
        # re-encoded by msgspec, which writes control characters as \b and \f where Go
        # writes \u0008 and \u000c, and <, >, & unescaped.
        if (recorded.request_uri + recorded.verb + recorded.stage).isprintable():
            return Outcome(decision, attrs, _html_escape(line), lacking)
        return Outcome(decision, attrs, go_escape(line), lacking)


def _rfc3339nano(timestamp: str | None) -> str:
    """Go's ``time.RFC3339Nano`` of an audit timestamp: trailing zeros of the fraction cut."""
    if not timestamp:
        return "0001-01-01T00:00:00Z"
    head, dot, rest = timestamp.partition(".")
    if not dot:
        return timestamp
    fraction = rest.rstrip("Z").rstrip("0")
    return f"{head}.{fraction}Z" if fraction else f"{head}Z"


def legacy_line(line: bytes) -> bytes:
    """The ``--audit-log-format=legacy`` line of an encoded event (``pkg/audit/format.go``)."""
    from kubetrail.gofmt import quote

    wire = msgspec.json.decode(line, type=Event)
    username, groups = "<none>", "<none>"
    if wire.user.username:
        username = wire.user.username
        if wire.user.groups:
            groups = ",".join(quote(g) for g in wire.user.groups)
    as_user, as_groups = "<self>", "<lookup>"
    if wire.impersonated_user is not None:
        as_user = wire.impersonated_user.username
        if wire.impersonated_user.groups:
            as_groups = ",".join(quote(g) for g in wire.impersonated_user.groups)
    ref = wire.object_ref
    namespace = ref.namespace if ref is not None and ref.namespace else "<none>"
    status = wire.response_status
    response = str(status.code) if status is not None else "<deferred>"
    ip = wire.source_ips[0] if wire.source_ips else "<unknown>"
    text = (
        f"{_rfc3339nano(wire.request_received_timestamp)} AUDIT: id={quote(wire.audit_id)} "
        f"stage={quote(wire.stage)} ip={quote(ip)} method={quote(wire.verb)} "
        f"user={quote(username)} groups={quote(groups)} as={quote(as_user)} "
        f"asgroups={quote(as_groups)} user-agent={quote(wire.user_agent)} "
        f'namespace={quote(namespace)} uri={quote(wire.request_uri)} response="{response}"'
    )
    return text.encode()
