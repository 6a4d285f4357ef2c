"""Identity enrichment: a service-account token tied to its pod, node and pod addresses.

Since Kubernetes 1.30 a bound service-account token says whose it is: the authenticator puts
``authentication.kubernetes.io/pod-name``, ``pod-uid``, ``node-name``, ``node-uid`` and
``credential-id`` (the token's JTI) into ``user.extra`` of every request made with it. The
pods' addresses are in the audit log too: the kubelet writes ``status.podIPs`` with its
``pods/status`` updates, and any write of a pod that carries its status shows them, when
logged at Request level or above.

:class:`Identities` learns the addresses of pods from the events it sees, in stream order,
and adds to events a ``kubetrail`` object rules can read: ``kubetrail.serviceAccount``
(``namespace/name``) on a request by a service account, ``kubetrail.tokenFor`` on a
TokenRequest (the account a token is minted for: correlations join the two), and on a request
made with a pod-bound token ``kubetrail.pod`` (``namespace/name``), ``kubetrail.podUID``,
``kubetrail.node``, ``kubetrail.credentialID``, ``kubetrail.podIPs`` (when known), and
``kubetrail.sourceInPod``: true when the request came from one of the pod's addresses,
false when it came from elsewhere, absent when the pod's addresses are not known (not
logged, or not seen yet) — so a rule on ``kubetrail.sourceInPod: false`` never fires on a
guess. A pod's addresses are forgotten when it is deleted or gets a new UID.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, Final

__all__ = ["ENRICHED", "POD_TOKEN_SQL", "TEACHING_SQL", "Identities", "reads_enrichment"]

ENRICHED: Final = "kubetrail"
_PREFIX: Final = "authentication.kubernetes.io/"
_WRITES: Final = frozenset({"create", "update", "patch"})
#: The lake rows :meth:`Identities.observe` learns from (kept in sync with ``teaches``).
TEACHING_SQL: Final = (
    "(object_resource = 'pods' AND coalesce(object_subresource, '') IN ('', 'status') "
    "AND verb IN ('create', 'update', 'patch', 'delete'))"
)

#: Lake rows that may be requests made with a pod-bound token (a backslash keeps a row whose
#: text escapes characters: it may spell the key differently).
POD_TOKEN_SQL: Final = (
    "(contains(user_extra, 'authentication.kubernetes.io/pod-name') OR contains(user_extra, '\\'))"
)


def reads_enrichment(fields: Iterable[str]) -> bool:
    """Whether a rule (or filter, or correlation) reads the fields :meth:`enrich` adds."""
    return any(f.split(".", 1)[0] == ENRICHED for f in fields)


def _one(extra: Mapping[str, Any], key: str) -> str | None:
    value = extra.get(_PREFIX + key)
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return value if isinstance(value, str) else None


class Identities:
    """Pod addresses learned from the stream, and the enrichment of token-bound requests."""

    def __init__(self, limit: int = 500_000) -> None:
        self._ips: dict[tuple[str, str], tuple[str | None, frozenset[str]]] = {}  # -> uid, IPs
        self._limit = limit

    @staticmethod
    def teaches(event: Mapping[str, Any]) -> bool:
        """Whether the event can carry pod addresses (a pod's write, read, or deletion)."""
        ref = event.get("objectRef")
        return (
            isinstance(ref, dict)
            and ref.get("resource") == "pods"
            and ref.get("subresource") in (None, "", "status")
            and event.get("verb") in (*_WRITES, "delete")
        )

    def observe(self, event: Mapping[str, Any]) -> None:
        """Learn (or forget) a pod's addresses from a successful pod event."""
        if not self.teaches(event):
            return
        ref = event["objectRef"]
        code = (event.get("responseStatus") or {}).get("code")
        if isinstance(code, int) and code >= 300:
            return
        namespace, name = str(ref.get("namespace") or ""), str(ref.get("name") or "")
        if event.get("verb") == "delete":
            if event.get("stage") in (None, "ResponseComplete"):
                self._ips.pop((namespace, name), None)
            return
        for body in (event.get("responseObject"), event.get("requestObject")):
            if not isinstance(body, dict):
                continue
            found = body.get("metadata")
            meta: dict[str, Any] = found if isinstance(found, dict) else {}
            name = name or str(meta.get("name") or "")
            status = body.get("status")
            if not name or not isinstance(status, dict):
                continue
            ips = {
                str(p["ip"])
                for p in status.get("podIPs") or ()
                if isinstance(p, dict) and p.get("ip")
            }
            if status.get("podIP"):
                ips.add(str(status["podIP"]))
            if ips:
                uid = meta.get("uid") or ref.get("uid")
                self._remember((namespace, name), str(uid) if uid else None, frozenset(ips))
                return

    def _remember(self, key: tuple[str, str], uid: str | None, ips: frozenset[str]) -> None:
        self._ips.pop(key, None)
        self._ips[key] = (uid, ips)
        if len(self._ips) > self._limit:
            del self._ips[next(iter(self._ips))]

    def enrich(self, event: MutableMapping[str, Any]) -> None:
        """Add :data:`ENRICHED` to an event by a service account, or minting a token for one
        (and drop one the event brought along: only kubetrail says these things)."""
        if ENRICHED in event:
            del event[ENRICHED]
        user = event.get("user")
        username = user.get("username") if isinstance(user, dict) else None
        by_account = isinstance(username, str) and username.startswith("system:serviceaccount:")
        ref = event.get("objectRef")
        minting = isinstance(ref, dict) and ref.get("subresource") == "token"
        if not by_account and not minting:
            return  # most events: nothing to say (checked first, it is on every event's path)
        facts: dict[str, Any] = {}
        parts = str(username).split(":")
        namespace = ""
        if by_account and len(parts) == 4:
            namespace = parts[2]
            facts["serviceAccount"] = f"{parts[2]}/{parts[3]}"
        if (
            minting
            and isinstance(ref, dict)
            and ref.get("resource") == "serviceaccounts"
            and event.get("verb") == "create"
        ):
            facts["tokenFor"] = f"{ref.get('namespace') or ''}/{ref.get('name') or ''}"
        extra = user.get("extra") if isinstance(user, dict) else None
        pod = _one(extra, "pod-name") if isinstance(extra, dict) else None
        if isinstance(extra, dict) and pod is not None:
            self._pod_facts(event, extra, namespace, pod, facts)
        if facts:
            event[ENRICHED] = facts

    def _pod_facts(
        self,
        event: Mapping[str, Any],
        extra: Mapping[str, Any],
        namespace: str,
        pod: str,
        facts: dict[str, Any],
    ) -> None:
        uid = _one(extra, "pod-uid")
        facts["pod"] = f"{namespace}/{pod}" if namespace else pod
        for key, field in (
            ("pod-uid", "podUID"),
            ("node-name", "node"),
            ("credential-id", "credentialID"),
        ):
            value = _one(extra, key)
            if value is not None:
                facts[field] = value
        known = self._ips.get((namespace, pod))
        if known is not None and (uid is None or known[0] is None or known[0] == uid):
            facts["podIPs"] = sorted(known[1])
            sources = event.get("sourceIPs")
            if isinstance(sources, list) and sources:
                facts["sourceInPod"] = str(sources[0]) in known[1]
