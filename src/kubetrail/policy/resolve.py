"""Turn what a user has — attributes, an HTTP request, a recorded event — into the attributes
the policy is evaluated on.

Three sources, one result (:class:`~kubetrail.model.attributes.RequestAttributes`):

* explicit attributes (``{"user", "groups", "verb", "namespace", ...}``);
* an HTTP method and URL, resolved exactly like kube-apiserver's RequestInfo resolver
  (:mod:`kubetrail.policy.requestinfo`, a port of ``requestinfo.go``);
* a recorded audit :class:`~kubetrail.model.event.Event`. Its ``verb`` is the policy's verb
  (``audit.NewEventFromRequest`` copies it from the same attributes); namespace, resource,
  subresource and name come from ``requestURI``. The policy saw the *authenticated*
  user (``event.user``, never ``impersonatedUser``: the audit filter runs before impersonation,
  ``pkg/server/config.go``), and the request as resolved from its URL. ``objectRef`` is *not*
  what the policy saw: kube-apiserver fills its name and namespace from the request body after
  the policy was evaluated (``pkg/audit/request.go`` ``LogRequestObject``), so a create's
  ``objectRef.name`` is set although the policy saw no name. ``objectRef`` is used only when
  the event has no ``requestURI``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import msgspec

from kubetrail.errors import InputError
from kubetrail.model.attributes import RequestAttributes
from kubetrail.model.event import Event
from kubetrail.policy.requestinfo import RequestInfo, resolve_request

ATTRIBUTE_KEYS: Final = (
    "user",
    "groups",
    "verb",
    "namespace",
    "apiGroup",
    "apiVersion",
    "resource",
    "subresource",
    "name",
    "path",
    "resourceRequest",
)
HTTP_KEYS: Final = ("method", "url", "user", "groups")

# The HTTP method that produces each Kubernetes verb (inverse of requestinfo.go's mapping).
_METHOD_FOR_VERB: Final = {
    "create": "POST",
    "get": "GET",
    "list": "GET",
    "watch": "GET",
    "proxy": "GET",
    "update": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
    "deletecollection": "DELETE",
}


def _user(user: str | None) -> str | None:
    """``""`` (and absent) mean: no user object, as for a request that failed authentication."""
    return user or None


def from_request_info(
    info: RequestInfo, *, user: str | None, groups: Sequence[str] = ()
) -> RequestAttributes:
    """Combine a resolved RequestInfo with a user (``GetAuthorizerAttributes``).

    ``user`` is ``None`` for a request without a user object.
    """
    return RequestAttributes(
        user=user,
        groups=tuple(groups),
        verb=info.verb,
        namespace=info.namespace,
        api_group=info.api_group,
        api_version=info.api_version,
        resource=info.resource,
        subresource=info.subresource,
        name=info.name,
        path=info.path,
        resource_request=info.is_resource_request,
    )


def from_http(
    method: str, url: str, *, user: str | None = None, groups: Sequence[str] = ()
) -> RequestAttributes:
    """Attributes of an HTTP request, e.g. ``from_http("GET", "/api/v1/secrets")`` (a list)."""
    return from_request_info(resolve_request(method, url), user=_user(user), groups=groups)


def method_for_verb(verb: str) -> str:
    """The HTTP method behind a recorded verb.

    Non-resource requests record the lower-cased method (``get``, ``post``, ``head``), so any
    verb that is not a Kubernetes resource verb maps back to its upper-cased self.
    """
    return _METHOD_FOR_VERB.get(verb, verb.upper())


class RequestInfoCache:
    """A bounded memo of :func:`resolve_request` for one run (URIs repeat in real traffic:
    the same lease, node status and watch paths again and again). Cleared when full."""

    def __init__(self, size: int = 1 << 16) -> None:
        self._size = size
        self._cache: dict[tuple[str, str], RequestInfo] = {}

    def resolve(self, method: str, uri: str) -> RequestInfo:
        key = (method, uri)
        info = self._cache.get(key)
        if info is None:
            info = resolve_request(method, uri)
            if len(self._cache) >= self._size:
                self._cache.clear()
            self._cache[key] = info
        return info


def from_event(event: Event, cache: RequestInfoCache | None = None) -> RequestAttributes:
    """The attributes the policy saw when kube-apiserver recorded ``event``.

    ``cache`` (optional) memoises URI resolution across many events.
    """
    # ``user: {}`` is what kube-apiserver writes for a request without a user object.
    user = None if event.user.is_empty() else event.user.username
    groups = () if user is None else tuple(event.user.groups)
    if event.request_uri:
        method = method_for_verb(event.verb)
        info = (
            resolve_request(method, event.request_uri)
            if cache is None
            else cache.resolve(method, event.request_uri)
        )
        if event.verb and event.verb != info.verb:
            # The recorded verb is the policy's verb: audit.NewEventFromRequest copies it from
            # the same attributes. Real events always agree with the URI; edited ones may not.
            info = msgspec.structs.replace(info, verb=event.verb)
        return from_request_info(info, user=user, groups=groups)
    ref = event.object_ref
    if ref is None:
        return RequestAttributes(user=user, groups=groups, verb=event.verb)
    return RequestAttributes(
        user=user,
        groups=groups,
        verb=event.verb,
        namespace=ref.namespace,
        api_group=ref.api_group,
        api_version=ref.api_version,
        resource=ref.resource,
        subresource=ref.subresource,
        name=ref.name,
        resource_request=True,
    )


def _str(obj: Mapping[str, object], key: str) -> str:
    value = obj.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{key!r} must be a string, got {type(value).__name__}")
    return value


def _groups(obj: Mapping[str, object]) -> tuple[str, ...]:
    value = obj.get("groups") or []
    if not isinstance(value, list) or not all(isinstance(g, str) for g in value):
        raise InputError("'groups' must be a list of strings")
    return tuple(value)


def _check_keys(obj: Mapping[str, object], allowed: Sequence[str], what: str) -> None:
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise InputError(
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"in {what} (allowed: {', '.join(allowed)})"
        )


def from_mapping(obj: Mapping[str, object]) -> RequestAttributes:
    """Explicit attributes, as in a ``policy eval`` input line.

    ``resourceRequest`` defaults to whether ``resource`` is set. ``user`` ``""`` or absent
    means no user object.
    """
    _check_keys(obj, ATTRIBUTE_KEYS, "request attributes")
    resource_request = obj.get("resourceRequest")
    if resource_request is None:
        resource_request = bool(obj.get("resource"))
    if not isinstance(resource_request, bool):
        raise InputError("'resourceRequest' must be a boolean")
    return RequestAttributes(
        user=_user(_str(obj, "user")),
        groups=_groups(obj),
        verb=_str(obj, "verb"),
        namespace=_str(obj, "namespace"),
        api_group=_str(obj, "apiGroup"),
        api_version=_str(obj, "apiVersion"),
        resource=_str(obj, "resource"),
        subresource=_str(obj, "subresource"),
        name=_str(obj, "name"),
        path=_str(obj, "path"),
        resource_request=resource_request,
    )


def from_http_mapping(obj: Mapping[str, object]) -> RequestAttributes:
    """``{"method": "GET", "url": "/api/v1/...", "user": "...", "groups": [...]}``."""
    _check_keys(obj, HTTP_KEYS, "an HTTP request")
    method, url = _str(obj, "method"), _str(obj, "url")
    if not method or not url:
        raise InputError("an HTTP request needs both 'method' and 'url'")
    return from_http(method, url, user=_str(obj, "user"), groups=_groups(obj))
