"""What the audit policy sees of a request: the authorizer attributes.

kube-apiserver evaluates the policy in the ``WithAudit`` filter, which runs after
authentication and before impersonation and authorization (``pkg/server/config.go``). The
attributes are therefore the *authenticated* user and the RequestInfo resolved from the URL
(``pkg/endpoints/request/requestinfo.go``), read through ``GetAuthorizerAttributes``
(``pkg/endpoints/filters/authorization.go``).
"""

from __future__ import annotations

import msgspec


class RequestAttributes(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The attributes a policy rule is matched against.

    ``user is None`` means the request has no user object at all (failed authentication, an
    unparseable ``?timeout=``): such a request never matches a rule with ``users`` or
    ``userGroups``. ``user == ""`` is a user object with an empty name.

    For a resource request, ``path`` is still the URL path; for a non-resource request the
    resource fields are empty and ``verb`` is the lower-cased HTTP method.
    """

    user: str | None = None
    groups: tuple[str, ...] = ()
    verb: str = ""
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""
    resource_request: bool = False

    @property
    def resource_path(self) -> str:
        """``pods`` or ``pods/exec``: the resource as policy rules name it."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    def describe(self) -> str:
        """``list secrets``, ``get apps/deployments/scale`` or ``get /healthz``, for people."""
        if not self.resource_request:
            return f"{self.verb} {self.path}"
        group = f"{self.api_group}/" if self.api_group else ""
        return f"{self.verb} {group}{self.resource_path}"

    def to_wire(self) -> dict[str, object]:
        """The stable JSON shape used by ``policy eval`` (``request`` key of an output line)."""
        return {
            "user": "" if self.user is None else self.user,
            "groups": list(self.groups),
            "verb": self.verb,
            "namespace": self.namespace,
            "apiGroup": self.api_group,
            "apiVersion": self.api_version,
            "resource": self.resource,
            "subresource": self.subresource,
            "name": self.name,
            "path": self.path,
            "resourceRequest": self.resource_request,
        }
