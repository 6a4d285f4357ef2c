"""Kubernetes Events (core/v1 and events.k8s.io/v1) as one normalised record per occurrence —
``layers-spec.md`` §3.1.

Both API versions serve the same stored objects (``pkg/apis/events/v1/conversion.go``), so one
record shape serves both::

    {"occurrence_key": "<uid>:<count>", "uid", "namespace", "name", "resource_version",
     "type", "reason", "message", "action", "object": {kind, namespace, name, uid,
     apiVersion, fieldPath}, "related", "reporting_controller", "reporting_instance",
     "first_time", "last_time", "count", "aggregated"}

The occurrence key makes replays idempotent: the legacy recorder PATCHes one object with
``count+1`` for every repeat, the new one grows ``series.count``; each count is stored once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from kubetrail.layers.container import Rejected

AGGREGATED_PREFIX: Final = "(combined from similar events): "  # client-go events_cache.go
_OBJECT_FIELDS: Final = ("kind", "namespace", "name", "uid", "apiVersion", "fieldPath")


def _first(*values: Any) -> Any:
    return next((v for v in values if v not in (None, "")), None)


def normalise(event: Mapping[str, Any]) -> dict[str, Any]:
    """One Event object (either API version) as the record above; Rejected if it is none."""
    kind = event.get("kind")
    meta = event.get("metadata")
    if kind not in (None, "Event") or not isinstance(meta, Mapping) or not meta.get("uid"):
        raise Rejected("not an Event (kind Event with metadata.uid)")
    regarding = event.get("regarding") or event.get("involvedObject") or {}
    source = event.get("deprecatedSource") or event.get("source") or {}
    series = event.get("series") or {}
    message = _first(event.get("note"), event.get("message")) or ""
    count = _first(series.get("count"), event.get("count"), event.get("deprecatedCount")) or 1
    uid = str(meta["uid"])
    return {
        "occurrence_key": f"{uid}:{int(count)}",
        "uid": uid,
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "resource_version": meta.get("resourceVersion"),
        "type": event.get("type"),
        "reason": event.get("reason"),
        "message": message,
        "action": event.get("action"),
        "object": {k: regarding.get(k) for k in _OBJECT_FIELDS if regarding.get(k) is not None},
        "related": event.get("related"),
        # The Go field ReportingController is serialised as reportingComponent in core/v1.
        "reporting_controller": _first(
            event.get("reportingController"),
            event.get("reportingComponent"),
            source.get("component"),
        ),
        "reporting_instance": _first(event.get("reportingInstance"), source.get("host")),
        "first_time": _first(
            event.get("firstTimestamp"),
            event.get("deprecatedFirstTimestamp"),
            event.get("eventTime"),
        ),
        "last_time": _first(
            series.get("lastObservedTime"),
            event.get("lastTimestamp"),
            event.get("deprecatedLastTimestamp"),
            event.get("eventTime"),
        ),
        "count": int(count),
        "aggregated": message.startswith(AGGREGATED_PREFIX),
    }


def objects(doc: Any) -> Iterator[Mapping[str, Any]]:
    """The Event objects in one JSON document: an Event, a List (``kubectl get events -o
    json``: EventList or List), or a watch event (``{"type": "ADDED", "object": …}``);
    BOOKMARK and ERROR watch events hold none."""
    if doc is None:
        raise Rejected("not JSON")
    if not isinstance(doc, Mapping):
        raise Rejected("not a JSON object")
    if isinstance(doc.get("items"), list):
        for item in doc["items"]:
            if isinstance(item, Mapping):
                yield item
        return
    if isinstance(doc.get("object"), Mapping) and doc.get("type") in (
        "ADDED",
        "MODIFIED",
        "DELETED",
        "BOOKMARK",
        "ERROR",
    ):
        if doc["type"] in ("ADDED", "MODIFIED", "DELETED"):
            yield doc["object"]
        return
    yield doc


class Occurrences:
    """Each occurrence once: replays, relists and both API versions of one object fold."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self.repeats = 0

    def new(self, record: Mapping[str, Any]) -> bool:
        key = str(record["occurrence_key"])
        if key in self._seen:
            self.repeats += 1
            return False
        self._seen.add(key)
        return True
