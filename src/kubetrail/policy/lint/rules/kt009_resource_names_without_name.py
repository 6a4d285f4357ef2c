"""KT009 resource-names-without-name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from kubetrail.model.diagnostic import Severity
from kubetrail.model.policy import GroupResources
from kubetrail.policy.lint.base import Finding, LintContext, LintRule

# Resource verbs of requests on a collection (no name in the URL). ``list`` and ``watch``
# carry a name only with a ``fieldSelector=metadata.name=...`` (requestinfo.go).
_NAMELESS: Final = ("create", "deletecollection")
_SELECTOR: Final = ("list", "watch")
_ALL_VERBS: Final = (
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
)


def _top_level(pattern: str) -> bool:
    """Whether the pattern matches requests on the resource itself (not a subresource)."""
    return pattern == "*" or "/" not in pattern or pattern.endswith("/*")


def _subresource(pattern: str) -> bool:
    """Whether the pattern matches requests on a subresource (whose URL names the object)."""
    return pattern == "*" or "/" in pattern


def _never(verbs: list[str], entry: GroupResources) -> bool:
    """No verb of the rule carries a name on the patterns of ``entry`` (never matches)."""
    if not verbs or any(v not in _NAMELESS for v in verbs):
        return False
    # POST on a subresource of a named object (pods/NAME/exec, .../eviction) has the name.
    return not ("create" in verbs and any(_subresource(p) for p in entry.resources))


def _or(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


class ResourceNamesWithoutName(LintRule):
    """## What it does
    Finds `resourceNames` on rules whose verbs include requests that carry no object name:
    `create` and `deletecollection` of a resource never have one, `list` and `watch` only
    with a `fieldSelector=metadata.name=...`. Where every verb of the rule is of that kind
    (`verbs: [create]` on top-level resources), the entry can never match and the finding
    is a warning; otherwise it is a note.

    ## Why is this bad?
    kube-apiserver matches `resourceNames` against the name in the request URL, and only
    `get`, `update`, `patch` and `delete` of a named object (and any verb on a subresource
    of one, such as `pods/NAME/exec`) have it. A rule meant to log the creation of the
    `aws-auth` ConfigMap by name never logs it; a rule meant to drop requests for a
    ConfigMap by name still lets its creation and every list and watch through.

    ## Example
    ```yaml
    - level: RequestResponse
      verbs: ["create", "update", "patch"]
      resources:
      - group: ""
        resources: ["configmaps"]
        resourceNames: ["aws-auth"]
    ```

    ## Fix
    Match the collection requests without `resourceNames` (narrowed by namespace), and
    keep `resourceNames` for the verbs that carry a name.
    ```yaml
    - level: RequestResponse
      verbs: ["update", "patch"]
      resources:
      - group: ""
        resources: ["configmaps"]
        resourceNames: ["aws-auth"]
    - level: RequestResponse
      verbs: ["create"]
      namespaces: ["kube-system"]
      resources:
      - group: ""
        resources: ["configmaps"]
    ```
    """

    code = "KT009"
    name = "resource-names-without-name"
    severity = Severity.INFO
    needs_valid_policy = False

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.decoded.policy is None:
            return
        for i, rule in enumerate(ctx.policy.rules):
            verbs = list(dict.fromkeys(rule.verbs))
            for j, entry in enumerate(rule.resources):
                names = entry.resource_names
                if not names or "" in names or not entry.resources:
                    continue  # "" matches nameless requests; no resources is KT001
                where = ctx.location("rules", i, "resources", j, "resourceNames")
                shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
                top = [p for p in entry.resources if _top_level(p)]
                if _never(verbs, entry):
                    yield self.finding(
                        f"resourceNames [{shown}] never match: {_or(verbs)} requests for "
                        f"{', '.join(entry.resources)} carry no name",
                        where,
                        rule=i,
                        hint="match these requests without resourceNames (narrow them with "
                        "namespaces instead)",
                        severity=Severity.WARNING,
                    )
                    continue
                if not top:
                    continue  # every subresource request names its object
                effective = verbs or list(_ALL_VERBS)
                nameless = [v for v in effective if v in _NAMELESS]
                selector = [v for v in effective if v in _SELECTOR]
                if not nameless and not selector:
                    continue
                res = ", ".join(top)
                if nameless and selector:
                    message = (
                        f"do not match {_or(nameless)} of {res} (no name in the request), "
                        f"nor {_or(selector)} without a metadata.name field selector"
                    )
                elif nameless:
                    message = f"do not match {_or(nameless)} of {res}: no name in the request"
                else:
                    message = (
                        f"match {_or(selector)} of {res} only with a metadata.name field selector"
                    )
                yield self.finding(
                    f"resourceNames [{shown}] {message}",
                    where,
                    rule=i,
                    hint="these requests go to a later rule; match them in a rule without "
                    "resourceNames if they matter",
                )
