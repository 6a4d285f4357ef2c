"""Unwrap Kubernetes API-server audit events from the cloud envelopes they arrive in.

The contract is ``layers-spec.md`` §4. :func:`unwrap` takes one decoded JSON document and
returns the ``audit.k8s.io/v1`` Event(s) inside it as :class:`Unwrapped`, with the envelope's
metadata kept beside the event (never merged into it), or a :class:`Skipped` saying why a
document holds no audit event. It never raises and never prints.

Shapes recognised:

* **plain** audit Event (``kind: Event`` or any of ``auditID``/``stage``/``verb``) and
  ``EventList`` (one result per item): passed through untouched, ``envelope=""``.
* **GKE** Cloud Logging ``LogEntry`` whose ``protoPayload`` is a ``google.cloud.audit.AuditLog``
  (``@type`` or Panther's ``at_sign_type``; absent is accepted) with ``serviceName: k8s.io``:
  mapped to an Event by the §4.1 table. Fields the envelope does not carry (groups, uid,
  impersonation, query string) are never invented; fields that are reconstructed are listed
  in ``meta["inferred"]``.
* **AKS** diagnostic records (``category`` ``kube-audit``/``kube-audit-admin``, ``properties.log``
  as a JSON string or an object), Event Hub batches ``{"records": [...]}``, AzureDiagnostics rows
  (``Category`` + ``log_s``) and resource-specific ``AKSAudit``/``AKSAuditAdmin`` rows.
  Other categories are skipped. ``"skipped-too-big-size-object"`` bodies are dropped and named
  in ``meta["skipped_too_big"]``. ``dedup_key`` is ``"<auditID>/<stage>"`` because the admin
  category repeats events of the full one.
* **EKS** CloudWatch Logs: ``GetLogEvents``/``FilterLogEvents`` event objects (and whole
  responses with ``events``), subscription-filter ``DATA_MESSAGE`` payloads (already
  base64-decoded and gunzipped) and Logs Insights rows (``@message``, also in the API's
  ``[{"field","value"}]`` form). A message may hold an EventList. ``[Truncated...]`` messages
  are skipped with the ``auditID`` recovered by Falco's regex; ``CONTROL_MESSAGE`` is skipped.
  ``dedup_key`` is the CloudWatch ``eventId`` (``"<eventId>#<i>"`` for EventList items).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

import msgspec

__all__ = ["GRPC_TO_HTTP", "Skipped", "Unwrapped", "parse_resource_name", "unwrap"]


class Unwrapped(msgspec.Struct, frozen=True, kw_only=True):
    """One audit Event taken out of its envelope."""

    event: dict[str, object]
    """An ``audit.k8s.io/v1`` Event as a JSON-compatible dict."""
    envelope: str
    """``"gke"``, ``"aks"``, ``"eks"``, or ``""`` for a plain event."""
    meta: dict[str, object] = {}
    """Envelope metadata kept beside the event (cluster, ids, ingestion times, inferred fields)."""
    dedup_key: str | None = None
    """Envelope-level identity to de-duplicate on, when the spec says to."""


class Skipped(msgspec.Struct, frozen=True):
    """A document (or part of one) that holds no usable audit event, and why."""

    reason: str


Result = Unwrapped | Skipped

#: google.rpc.Code → HTTP status, from the "HTTP Mapping" comments of ``google/rpc/code.proto``.
GRPC_TO_HTTP: Final[Mapping[int, int]] = {
    0: 200,
    1: 499,
    2: 500,
    3: 400,
    4: 504,
    5: 404,
    6: 409,
    7: 403,
    8: 429,
    9: 400,
    10: 409,
    11: 400,
    12: 501,
    13: 500,
    14: 503,
    15: 500,
    16: 401,
}

_AUDITLOG_TYPE: Final = "type.googleapis.com/google.cloud.audit.AuditLog"
_STREAMING_SUBRESOURCES: Final = frozenset({"exec", "attach", "portforward"})
_NAMESPACE_SUBRESOURCES: Final = frozenset({"status", "finalize"})
_AKS_AUDIT_CATEGORIES: Final = frozenset({"kube-audit", "kube-audit-admin"})
_AKS_AUDIT_TABLES: Final = frozenset({"aksaudit", "aksauditadmin"})
_TOO_BIG: Final = "skipped-too-big-size-object"
_TRUNCATED: Final = "[Truncated...]"
_AUDIT_ID_RE: Final = re.compile(r'"auditID":[ a-z0-9-"]+')  # Falco k8sauditeks.go
_MAX_DEPTH: Final = 8
_decode: Final = msgspec.json.Decoder()

# Resource-specific Log Analytics columns (AKSAudit/AKSAuditAdmin) → audit Event fields.
_AKS_TABLE_COLUMNS: Final = (
    ("Level", "level"),
    ("AuditId", "auditID"),
    ("Stage", "stage"),
    ("RequestUri", "requestURI"),
    ("Verb", "verb"),
    ("User", "user"),
    ("ImpersonatedUser", "impersonatedUser"),
    ("SourceIps", "sourceIPs"),
    ("UserAgent", "userAgent"),
    ("ObjectRef", "objectRef"),
    ("ResponseStatus", "responseStatus"),
    ("RequestObject", "requestObject"),
    ("ResponseObject", "responseObject"),
    ("RequestReceivedTime", "requestReceivedTimestamp"),
    ("StageReceivedTime", "stageTimestamp"),
    ("Annotations", "annotations"),
)


def unwrap(doc: object) -> list[Unwrapped | Skipped]:
    """One decoded JSON document → the audit events inside it (see the module docstring).

    Never raises on odd input: anything unrecognised gives ``[Skipped("not an audit event: …")]``.
    """
    try:
        return _unwrap(doc, 0)
    except Exception as exc:  # a safety net: odd input must never stop an ingest
        return [Skipped(f"not an audit event: {type(exc).__name__} while unwrapping")]


# --------------------------------------------------------------------------------------------
# dispatch


def _unwrap(doc: object, depth: int) -> list[Result]:
    if depth > _MAX_DEPTH:
        return [Skipped("not an audit event: nested too deeply")]
    if isinstance(doc, list):
        row = _insights_field_list(doc)
        if row is not None:
            return _unwrap(row, depth + 1)
        if not doc:
            return [Skipped("not an audit event: empty array")]
        return [result for item in doc for result in _unwrap(item, depth + 1)]
    if not isinstance(doc, dict):
        return [Skipped(f"not an audit event: {_describe(doc)}")]
    if doc.get("kind") == "EventList" and isinstance(doc.get("items"), list):
        return _event_list(doc["items"], "", {}, None)
    if _is_event(doc):
        return [Unwrapped(event=doc, envelope="")]
    payload = doc.get("protoPayload")
    if isinstance(payload, dict):
        return _gke(doc, payload)
    records = doc.get("records")
    if isinstance(records, list):
        return [result for item in records for result in _unwrap(item, depth + 1)]
    if isinstance(doc.get("category"), str) or isinstance(doc.get("Category"), str):
        return _aks_record(doc)
    if _is_aks_table_row(doc):
        return _aks_table_row(doc)
    message_type = doc.get("messageType")
    if isinstance(message_type, str):
        return _cloudwatch_subscription(doc, message_type)
    if isinstance(doc.get("message"), str) and _has_any(
        doc, ("eventId", "logStreamName", "ingestionTime", "timestamp", "id")
    ):
        return _cloudwatch_event(doc, {})
    if isinstance(doc.get("@message"), str):
        return _insights_row(doc)
    events = doc.get("events")
    if isinstance(events, list) and _has_any(
        doc, ("nextForwardToken", "nextBackwardToken", "nextToken", "searchedLogStreams")
    ):
        return [result for item in events for result in _unwrap(item, depth + 1)]
    return [Skipped(f"not an audit event: {_describe(doc)}")]


def _is_event(doc: Mapping[str, object]) -> bool:
    if doc.get("kind") == "Event":
        return True
    return any(isinstance(doc.get(key), str) for key in ("auditID", "stage", "verb"))


def _has_any(doc: Mapping[str, object], keys: Iterable[str]) -> bool:
    return any(key in doc for key in keys)


def _describe(doc: object) -> str:
    if isinstance(doc, dict):
        keys = [str(key) for key in list(doc)[:6]]
        more = ", …" if len(doc) > 6 else ""
        return f"JSON object with keys {', '.join(keys)}{more}" if keys else "empty JSON object"
    if doc is None:
        return "null"
    return type(doc).__name__


def _event_list(
    items: list[object], envelope: str, meta: dict[str, object], dedup: str | None
) -> list[Result]:
    """The items of an EventList; ``dedup`` (an envelope id) gets ``#<index>`` per item."""
    if not items:
        return [Skipped("not an audit event: empty EventList")]
    out: list[Result] = []
    for index, item in enumerate(items):
        if isinstance(item, dict):
            key = None if dedup is None else f"{dedup}#{index}"
            out.append(Unwrapped(event=item, envelope=envelope, meta=meta, dedup_key=key))
        else:
            out.append(Skipped(f"not an audit event: EventList item {index} is {_describe(item)}"))
    return out


def _inner_events(
    value: object, envelope: str, meta: dict[str, object], dedup: str | None, what: str
) -> list[Result]:
    """A decoded inner payload (AKS log, EKS message) → Event(s)."""
    if isinstance(value, dict):
        if value.get("kind") == "EventList" and isinstance(value.get("items"), list):
            return _event_list(value["items"], envelope, meta, dedup)
        if _is_event(value):
            return [Unwrapped(event=value, envelope=envelope, meta=meta, dedup_key=dedup)]
    return [Skipped(f"not an audit event: {what} holds {_describe(value)}")]


def _decode_text(text: str) -> tuple[object, str | None]:
    """``(value, None)`` or ``(None, error)``."""
    try:
        return _decode.decode(text), None
    except (msgspec.DecodeError, UnicodeError) as exc:
        return None, str(exc)


# --------------------------------------------------------------------------------------------
# GKE (§4.1)


def parse_resource_name(resource_name: str) -> tuple[dict[str, object] | None, str]:
    """A GKE ``resourceName`` → ``(objectRef or None, requestURI)``.

    Grammar: ``<group|core>/<version>/`` then ``namespaces/<ns>/<resource>[/<name>[/<sub>…]]``
    or ``<resource>[/<name>[/<sub>…]]`` (cluster-scoped, including ``namespaces/<name>``).
    ``core`` is the empty group (``apiGroup`` omitted). ``namespaces/<ns>/status|finalize`` is
    the namespace's own subresource. The subresource is one segment; deeper segments stay only in
    the URI. A name that does not fit gives ``(None, "/" + name)``.
    """
    path = resource_name.strip("/")
    parts = path.split("/")
    if len(parts) < 3 or not all(parts):
        return None, "/" + path
    group, version, rest = parts[0], parts[1], parts[2:]
    prefix = f"/api/{version}" if group == "core" else f"/apis/{group}/{version}"
    uri = prefix + "/" + "/".join(rest)
    namespace = ""
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES)
    ):
        namespace, rest = rest[1], rest[2:]
    ref: dict[str, object] = {"resource": rest[0]}
    if namespace:
        ref["namespace"] = namespace
    if len(rest) > 1:
        ref["name"] = rest[1]
    if group != "core":
        ref["apiGroup"] = group
    ref["apiVersion"] = version
    if len(rest) > 2:
        ref["subresource"] = rest[2]
    return ref, uri


def _gke(doc: dict[str, object], payload: dict[str, object]) -> list[Result]:
    type_url = payload.get("@type", payload.get("at_sign_type"))
    if type_url is not None and type_url != _AUDITLOG_TYPE:
        return [Skipped(f"not an audit event: GCP protoPayload type {type_url!r} is not AuditLog")]
    service = payload.get("serviceName")
    if service != "k8s.io":
        return [Skipped(f"GCP audit log for serviceName {service!r} is not Kubernetes audit")]

    inferred: list[str] = []
    event: dict[str, object] = {"kind": "Event", "apiVersion": "audit.k8s.io/v1"}

    request = _strip_type(payload.get("request"))
    response = _strip_type(payload.get("response"))
    if response is not None:
        event["level"] = "RequestResponse"
    elif request is not None:
        event["level"] = "Request"
    else:
        event["level"] = "Metadata"
    inferred.append("level")

    operation = _dict(doc.get("operation"))
    audit_id = _str(operation.get("id")) or _str(doc.get("insertId"))
    if audit_id:
        event["auditID"] = audit_id
    started = operation.get("first") is True and operation.get("last") is not True
    event["stage"] = "ResponseStarted" if started else "ResponseComplete"
    inferred.append("stage")

    method = _str(payload.get("methodName"))
    segments = method.split(".") if method else []
    verb = segments[-1] if segments else ""
    resource_name = _str(payload.get("resourceName"))
    object_ref: dict[str, object] | None = None
    uri = ""
    if resource_name:
        if len(segments) == 3:  # non-resource request: io.k8s.<verb>, resourceName is the path
            uri = "/" + resource_name.strip("/")
        else:
            object_ref, uri = parse_resource_name(resource_name)
    if uri:
        event["requestURI"] = uri
        inferred.append("requestURI")
    if verb:
        event["verb"] = verb

    authentication = _dict(payload.get("authenticationInfo"))
    principal = _str(authentication.get("principalEmail"))
    if principal:
        event["user"] = {"username": principal}
    metadata = _dict(payload.get("requestMetadata"))
    caller_ip = _str(metadata.get("callerIp")) or _str(metadata.get("callerIP"))
    if caller_ip:
        event["sourceIPs"] = [caller_ip]
    user_agent = _str(metadata.get("callerSuppliedUserAgent"))
    if user_agent:
        event["userAgent"] = user_agent
    if object_ref is not None:
        event["objectRef"] = object_ref

    subresource = _str((object_ref or {}).get("subresource"))
    if not subresource and len(segments) >= 6:
        subresource = segments[-2]  # io.k8s.core.v1.pods.exec.create
    status, from_grpc = _gke_status(payload, verb, subresource)
    if status is not None:
        event["responseStatus"] = status
        if from_grpc:
            inferred.append("responseStatus")
    if request is not None:
        event["requestObject"] = request
    if response is not None:
        event["responseObject"] = response

    timestamp = _str(doc.get("timestamp"))
    if timestamp:
        event["requestReceivedTimestamp"] = timestamp
        event["stageTimestamp"] = timestamp
    labels = _dict(doc.get("labels"))
    annotations = {key: value for key, value in labels.items() if isinstance(value, str)}
    if annotations:
        event["annotations"] = annotations

    meta: dict[str, object] = {}
    resource = _dict(doc.get("resource"))
    if isinstance(resource.get("type"), str):
        meta["resource_type"] = resource["type"]
    resource_labels = _dict(resource.get("labels"))
    for key in ("project_id", "location", "cluster_name"):
        if isinstance(resource_labels.get(key), str):
            meta[key] = resource_labels[key]
    log_name = _str(doc.get("logName"))
    if log_name:
        meta["logName"] = log_name
        meta["log_type"] = log_name.rpartition("%2F")[2].rpartition("/")[2]
    for key in ("insertId", "receiveTimestamp"):
        if isinstance(doc.get(key), str):
            meta[key] = doc[key]
    meta["inferred"] = inferred
    return [Unwrapped(event=event, envelope="gke", meta=meta)]


def _gke_status(
    payload: Mapping[str, object], verb: str, subresource: str
) -> tuple[dict[str, object] | None, bool]:
    """``(responseStatus, came_from_grpc)``: a Status response wins over the gRPC code."""
    status: dict[str, object] = {"metadata": {}}
    response = payload.get("response")
    if isinstance(response, dict) and _is_status(response):
        for key in ("status", "message", "reason", "details"):
            if key in response and response[key] not in (None, ""):
                status[key] = response[key]
        code = response.get("code")
        if _is_int(code):
            status["code"] = code
            return status, False
    grpc = payload.get("status")
    if not isinstance(grpc, dict):
        return (status, False) if len(status) > 1 else (None, False)
    raw = grpc.get("code", 0)  # proto3 JSON omits a zero code: {} means OK
    code = raw if isinstance(raw, int) and not isinstance(raw, bool) else 2  # 2 is UNKNOWN
    if code == 0:
        if subresource in _STREAMING_SUBRESOURCES:
            http = 101
        elif verb == "create":
            http = 201
        else:
            http = 200
    else:
        http = GRPC_TO_HTTP.get(code, 500)
    if "message" not in status and _str(grpc.get("message")):
        status["message"] = grpc["message"]
    status["code"] = http
    return status, True


def _is_status(response: Mapping[str, object]) -> bool:
    if response.get("kind") == "Status":
        return True
    type_url = response.get("@type", response.get("at_sign_type"))
    return isinstance(type_url, str) and type_url.endswith(".Status")


def _strip_type(body: object) -> dict[str, object] | None:
    """A request/response body without its ``@type`` (``at_sign_type``); None when absent."""
    if not isinstance(body, dict):
        return None
    return {key: value for key, value in body.items() if key not in ("@type", "at_sign_type")}


# --------------------------------------------------------------------------------------------
# AKS (§4.2)


def _aks_record(doc: dict[str, object]) -> list[Result]:
    category = _str(doc.get("category")) or _str(doc.get("Category"))
    if category.lower() not in _AKS_AUDIT_CATEGORIES:
        return [Skipped(f"AKS category {category} is not audit")]
    properties = _dict(doc.get("properties"))
    log = properties.get("log") if "log" in properties else doc.get("log_s")
    meta: dict[str, object] = {"category": category}
    for key in ("time", "TimeGenerated", "resourceId", "ResourceId"):
        if isinstance(doc.get(key), str):
            meta[key] = doc[key]
    cluster = _aks_cluster(_str(doc.get("resourceId")) or _str(doc.get("ResourceId")))
    if cluster:
        meta["cluster_name"] = cluster
    for key in ("pod", "containerID"):
        if isinstance(properties.get(key), str):
            meta[key] = properties[key]
    if isinstance(log, str):
        value, error = _decode_text(log)
        if error is not None:
            return [Skipped(f"AKS {category} log is not JSON: {error}")]
    elif isinstance(log, dict):
        value = log
    else:
        return [Skipped(f"not an audit event: AKS {category} record has no properties.log")]
    return [_aks_finish(item) for item in _inner_events(value, "aks", meta, None, "AKS log")]


def _is_aks_table_row(doc: Mapping[str, object]) -> bool:
    table = _str(doc.get("Type"))
    if table.lower() in _AKS_AUDIT_TABLES:
        return True
    return isinstance(doc.get("AuditId"), str) and isinstance(doc.get("Verb"), str)


def _aks_table_row(doc: dict[str, object]) -> list[Result]:
    """A resource-specific ``AKSAudit``/``AKSAuditAdmin`` row (dynamic columns may be text)."""
    event: dict[str, object] = {"kind": "Event", "apiVersion": "audit.k8s.io/v1"}
    for column, field in _AKS_TABLE_COLUMNS:
        value = doc.get(column)
        if value is None or value == "":
            continue
        if isinstance(value, str) and value[:1] in ("{", "[") and field != "requestURI":
            decoded, error = _decode_text(value)
            if error is None:
                value = decoded
        event[field] = value
    meta: dict[str, object] = {"category": _str(doc.get("Type")) or "AKSAudit"}
    for key in ("TimeGenerated", "PodName", "_ResourceId"):
        if isinstance(doc.get(key), str):
            meta[key] = doc[key]
    cluster = _aks_cluster(_str(doc.get("_ResourceId")))
    if cluster:
        meta["cluster_name"] = cluster
    if not _is_event(event):
        return [Skipped("not an audit event: AKSAudit row without AuditId, Stage or Verb")]
    return [_aks_finish(Unwrapped(event=event, envelope="aks", meta=meta))]


def _aks_finish(item: Result) -> Result:
    """Drop ``skipped-too-big-size-object`` bodies (flagged in meta); set the dedup key."""
    if isinstance(item, Skipped):
        return item
    event, meta = item.event, dict(item.meta)
    too_big = [key for key in ("requestObject", "responseObject") if event.get(key) == _TOO_BIG]
    if too_big:
        event = {key: value for key, value in event.items() if key not in too_big}
        meta["skipped_too_big"] = too_big
    audit_id = _str(event.get("auditID"))
    dedup = f"{audit_id}/{_str(event.get('stage'))}" if audit_id else None
    return Unwrapped(event=event, envelope="aks", meta=meta, dedup_key=dedup)


def _aks_cluster(resource_id: str) -> str:
    head, found, tail = resource_id.upper().rpartition("/MANAGEDCLUSTERS/")
    if not found:
        return ""
    start = len(head) + len(found)
    return resource_id[start : start + len(tail.split("/")[0])]


# --------------------------------------------------------------------------------------------
# EKS (§4.3)


def _cloudwatch_subscription(doc: dict[str, object], message_type: str) -> list[Result]:
    if message_type == "CONTROL_MESSAGE":
        return [Skipped("CloudWatch CONTROL_MESSAGE")]
    if message_type != "DATA_MESSAGE":
        return [Skipped(f"not an audit event: CloudWatch messageType {message_type}")]
    meta: dict[str, object] = {}
    for key in ("owner", "logGroup", "logStream"):
        if isinstance(doc.get(key), str):
            meta[key] = doc[key]
    events = doc.get("logEvents")
    if not isinstance(events, list) or not events:
        return [Skipped("not an audit event: CloudWatch DATA_MESSAGE without logEvents")]
    out: list[Result] = []
    for item in events:
        if isinstance(item, dict):
            out.extend(_cloudwatch_event(item, meta))
        else:
            out.append(Skipped(f"not an audit event: CloudWatch log event is {_describe(item)}"))
    return out


def _cloudwatch_event(item: Mapping[str, object], base: Mapping[str, object]) -> list[Result]:
    """A GetLogEvents/FilterLogEvents event or a subscription ``logEvents`` entry."""
    meta = dict(base)
    stream = _str(item.get("logStreamName"))
    if stream:
        meta["logStream"] = stream
    event_id = _str(item.get("eventId")) or _str(item.get("id"))
    if event_id:
        meta["eventId"] = event_id
    for key in ("timestamp", "ingestionTime"):
        if _is_int(item.get(key)):
            meta[key] = item[key]
    return _eks_message(_str(item.get("message")), meta, event_id or None)


def _insights_row(row: Mapping[str, object]) -> list[Result]:
    meta: dict[str, object] = {}
    for key, name in (("@logStream", "logStream"), ("@log", "log"), ("@timestamp", "timestamp")):
        value = row.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            meta[name] = value
    return _eks_message(_str(row.get("@message")), meta, None)


def _insights_field_list(doc: list[object]) -> dict[str, object] | None:
    """Logs Insights ``GetQueryResults`` row ``[{"field": "@message", "value": "…"}, …]``."""
    if not doc or not all(isinstance(cell, dict) and "field" in cell for cell in doc):
        return None
    row: dict[str, object] = {}
    for cell in doc:
        if isinstance(cell, dict) and isinstance(cell["field"], str):
            row[cell["field"]] = cell.get("value")
    return row if isinstance(row.get("@message"), str) else None


def _eks_message(message: str, meta: dict[str, object], dedup: str | None) -> list[Result]:
    where = f" (log stream {meta['logStream']})" if "logStream" in meta else ""
    if message.rstrip().endswith(_TRUNCATED):
        found = _AUDIT_ID_RE.search(message)
        audit_id = found.group(0)[len('"auditID":') :].strip(' "') if found else ""
        return [Skipped(f"EKS message truncated ([Truncated...]) auditID={audit_id or '?'}")]
    value, error = _decode_text(message)
    if error is not None:
        return [Skipped(f"not an audit event: EKS message is not JSON{where}")]
    return _inner_events(value, "eks", meta, dedup, f"EKS message{where}")


# --------------------------------------------------------------------------------------------
# small typed accessors


def _dict(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
