"""Secret values never reach disk: redaction at decode, before any write (lake, WAL, quarantine).

What is secret (decided by ``objectRef`` and by the body's ``kind``):

* Secrets (``objectRef.resource == "secrets"``, or a body of ``kind: Secret`` / ``SecretList``):
  the values of ``data`` and ``stringData``, and the annotation
  ``kubectl.kubernetes.io/last-applied-configuration`` (it holds the whole Secret as applied);
  in lists (whose items carry no ``kind``) every item; in a ``Table`` every row's object;
* patch bodies sent to secrets: merge and strategic-merge patches (``data``/``stringData``
  values, the annotation), JSON Patch operations whose ``path`` is under ``/data`` or
  ``/stringData`` (or that replace the whole object or its metadata annotations), server-side
  apply bodies (an object like any other);
* ``serviceaccounts/token`` (TokenRequest): ``status.token``;
* ``tokenreviews``: ``spec.token``.

Each value is replaced by a marker ``kubetrail:redacted:<hmac>`` where ``hmac`` is the first
16 hex digits of HMAC-SHA256 under the lake's key: equal secrets give equal markers (useful to
see that a value changed, or was reused), and the value cannot be recovered or brute-forced
without the key. A body that is a secret's but cannot be parsed is replaced whole.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

import msgspec
from msgspec import UNSET

from kubetrail.model.event import Event

LAST_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"
MARKER: Final = "kubetrail:redacted:"
_SECRET_KINDS: Final = frozenset({"Secret", "SecretList"})


class Redactor:
    """Redacts events in place with one key (the lake's)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self.redacted = 0  # values replaced, over the redactor's life

    def marker(self, value: object) -> str:
        data = value.encode() if isinstance(value, str) else msgspec.json.encode(value)
        digest = hmac.new(self._key, data, hashlib.sha256).hexdigest()[:16]
        self.redacted += 1
        return MARKER + digest

    # -- objects -------------------------------------------------------------------------------

    def _secret_object(self, obj: dict[str, object]) -> None:
        for field in ("data", "stringData"):
            values = obj.get(field)
            if isinstance(values, dict):
                obj[field] = {k: self.marker(v) for k, v in values.items()}
            elif values is not None:
                obj[field] = self.marker(values)
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            annotations = meta.get("annotations")
            if isinstance(annotations, dict) and LAST_APPLIED in annotations:
                annotations[LAST_APPLIED] = self.marker(annotations[LAST_APPLIED])

    def _secret_body(self, body: object) -> object:
        """A Secret, a list of them, a Table of them, or a patch to one."""
        if isinstance(body, list):  # JSON Patch
            for op in body:
                if not isinstance(op, dict) or "value" not in op:
                    continue
                path = str(op.get("path", ""))
                if (
                    path in ("", "/", "/metadata", "/metadata/annotations")
                    or path.startswith(("/data", "/stringData"))
                    or path.startswith("/metadata/annotations/kubectl.kubernetes.io~1last-applied")
                ):
                    value = op["value"]
                    if isinstance(value, dict) and path in ("", "/"):
                        self._secret_object(value)
                    elif isinstance(value, dict) and path == "/metadata":
                        self._secret_object({"metadata": value})
                    elif isinstance(value, dict) and path == "/metadata/annotations":
                        self._secret_object({"metadata": {"annotations": value}})
                    elif isinstance(value, dict) and path in ("/data", "/stringData"):
                        op["value"] = {k: self.marker(v) for k, v in value.items()}
                    else:
                        op["value"] = self.marker(value)
            return body
        if not isinstance(body, dict):
            return self.marker(body)  # e.g. an apply patch kept as YAML text
        self._secret_object(body)
        items = body.get("items")
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    self._secret_object(item)
        rows = body.get("rows") if body.get("kind") == "Table" else None
        if isinstance(rows, list):
            for row in rows:
                inner = row.get("object") if isinstance(row, dict) else None
                if isinstance(inner, dict):
                    self._secret_object(inner)
        return body

    def _token_field(self, body: object, section: str) -> object:
        if isinstance(body, dict):
            part = body.get(section)
            if isinstance(part, dict) and part.get("token"):
                part["token"] = self.marker(part["token"])
            return body
        return self.marker(body)

    # -- events --------------------------------------------------------------------------------

    def _rewrite(self, raw: msgspec.Raw, what: str) -> msgspec.Raw:
        try:
            body = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            return msgspec.Raw(
                msgspec.json.encode(self.marker(bytes(raw).decode("utf-8", "replace")))
            )
        if what == "secret":
            body = self._secret_body(body)
        elif what == "tokenrequest":
            body = self._token_field(body, "status")
        elif what == "tokenreview":
            body = self._token_field(body, "spec")
        return msgspec.Raw(msgspec.json.encode(body))

    def event(self, event: Event) -> bool:
        """Redact ``event``'s bodies in place; True if anything was replaced."""
        before = self.redacted
        ref = event.object_ref
        resource = ref.resource if ref is not None else ""
        subresource = ref.subresource if ref is not None else ""
        for name in ("request_object", "response_object"):
            raw = getattr(event, name)
            if raw is UNSET:
                continue
            what = ""
            if resource == "secrets" and not subresource:
                what = "secret"
            elif resource == "serviceaccounts" and subresource == "token":
                what = "tokenrequest"
            elif resource == "tokenreviews":
                what = "tokenreview"
            elif b'"Secret' in bytes(raw) and _is_secret_kind(raw):
                what = "secret"
            if what:
                setattr(event, name, self._rewrite(raw, what))
        return self.redacted != before


class _Kind(msgspec.Struct):
    kind: str = ""


def _is_secret_kind(raw: msgspec.Raw) -> bool:
    try:
        return msgspec.json.decode(raw, type=_Kind).kind in _SECRET_KINDS
    except msgspec.DecodeError:
        return False
