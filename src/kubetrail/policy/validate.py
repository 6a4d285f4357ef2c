"""What kube-apiserver rejects in a Policy, with its exact messages.

A port of k8s.io/apiserver ``pkg/apis/audit/validation/validation.go`` (``ValidatePolicy``),
with the message formatting of apimachinery ``pkg/util/validation/field/errors.go`` and the
group check of ``pkg/api/validate/content`` (``IsDNS1123Subdomain``). Every error is
collected, in upstream order: policy ``omitStages``; then for each rule ``level``,
``nonResourceURLs``, ``resources``, ``omitStages``, and the resource/non-resource conflict.

Not validated upstream, so not here either: ``users``, ``userGroups``, ``verbs``,
``namespaces``, resource strings, ``resourceNames`` values, duplicates, ``omitManagedFields``.
(Those mistakes are for ``policy lint``.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import msgspec

from kubetrail.errors import UsageError
from kubetrail.gofmt import marshal, quote
from kubetrail.model.policy import ALL_LEVELS, ALL_STAGES, Policy, PolicyRule

Path = tuple[str | int, ...]

#: Oldest and newest kube-apiserver minor versions whose behaviour kubetrail reproduces.
#: 1.24 is the first release that accepts only audit.k8s.io/v1.
OLDEST: Final = (1, 24)
NEWEST: Final = (1, 36)

_DNS1123_LABEL: Final = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN: Final = _DNS1123_LABEL + "(\\." + _DNS1123_LABEL + ")*"
_DNS1123_SUBDOMAIN_RE: Final = re.compile(_DNS1123_SUBDOMAIN)
_DNS1123_SUBDOMAIN_MSG: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character"
)
_STAGES_DETAIL: Final = "allowed stages are " + ",".join(ALL_STAGES)


class KubeVersion(msgspec.Struct, frozen=True, order=True):
    """A kube-apiserver minor version, e.g. ``KubeVersion.parse("1.30")``."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> KubeVersion:
        """``1.30``, ``v1.30`` or ``1.30.2`` (the patch level does not matter)."""
        m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", text.strip())
        if not m:
            raise UsageError(f"not a Kubernetes version: {text!r} (expected e.g. 1.30)")
        version = cls(int(m.group(1)), int(m.group(2)))
        if not OLDEST <= (version.major, version.minor) <= NEWEST:
            raise UsageError(
                f"Kubernetes {version} is not supported: kubetrail reproduces "
                f"{KubeVersion(*OLDEST)} to {KubeVersion(*NEWEST)}"
            )
        return version

    def at_least(self, major: int, minor: int) -> bool:
        return (self.major, self.minor) >= (major, minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


LATEST: Final = KubeVersion(*NEWEST)


class FieldError(msgspec.Struct, frozen=True):
    """One validation error: the upstream message and where in the document it points.

    ``field`` is the upstream field path (``rules[3].resources.group``); ``at`` is the path of
    the YAML node to blame (for line numbers), which can be more precise than ``field``
    (upstream's group path has no index; ``at`` does).
    """

    field: str
    message: str
    at: Path


def field_path(path: Path) -> str:
    """``("rules", 3, "level")`` → ``rules[3].level`` (field.Path.String)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _invalid(path: Path, value: str | list[str], detail: str, at: Path | None = None) -> FieldError:
    shown = quote(value) if isinstance(value, str) else marshal(value)
    field = field_path(path)
    return FieldError(field, f"{field}: Invalid value: {shown}: {detail}", at or path)


def is_dns1123_subdomain(value: str) -> list[str]:
    """``IsDNS1123Subdomain``: the problems with ``value`` as a lowercase DNS subdomain."""
    errors = []
    if len(value) > 253:
        errors.append("must be no more than 253 characters")
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errors.append(
            f"{_DNS1123_SUBDOMAIN_MSG} (e.g. 'example.com', regex used for validation is "
            f"'{_DNS1123_SUBDOMAIN}')"
        )
    return errors


def _omit_stages(stages: Sequence[str], path: Path) -> list[FieldError]:
    return [
        _invalid((*path, i), stage, _STAGES_DETAIL)
        for i, stage in enumerate(stages)
        if stage not in ALL_STAGES
    ]


def _rule(rule: PolicyRule, path: Path, version: KubeVersion) -> list[FieldError]:
    errors: list[FieldError] = []
    # validateLevel
    level_path = (*path, "level")
    if rule.level == "":
        errors.append(
            FieldError(field_path(level_path), f"{field_path(level_path)}: Required value", path)
        )
    elif rule.level not in ALL_LEVELS:
        supported = ", ".join(quote(level) for level in ALL_LEVELS)
        errors.append(
            FieldError(
                field_path(level_path),
                f"{field_path(level_path)}: Unsupported value: {quote(rule.level)}: "
                f"supported values: {supported}",
                level_path,
            )
        )
    # validateNonResourceURLs
    for i, url in enumerate(rule.non_resource_urls):
        if url == "*":
            continue
        url_path = (*path, "nonResourceURLs", i)
        if not url.startswith("/"):
            errors.append(
                _invalid(url_path, url, "non-resource URL rules must begin with a '/' character")
            )
        if url and "*" in url[:-1]:
            errors.append(
                _invalid(
                    url_path,
                    url,
                    "non-resource URL wildcards '*' must be the final character of the rule",
                )
            )
    # validateResources: upstream's path for these has no index of the GroupResources entry.
    resources_path = (*path, "resources")
    for j, gr in enumerate(rule.resources):
        wildcard_ok = gr.group == "*" and version.at_least(1, 36)
        if gr.group and not wildcard_ok:
            problems = is_dns1123_subdomain(gr.group)
            if problems:
                errors.append(
                    _invalid(
                        (*resources_path, "group"),
                        gr.group,
                        ",".join(problems),
                        at=(*resources_path, j, "group"),
                    )
                )
        if gr.resource_names and not gr.resources:
            errors.append(
                _invalid(
                    (*resources_path, "resourceNames"),
                    gr.resource_names,
                    "using resourceNames requires at least one resource",
                    at=(*resources_path, j, "resourceNames"),
                )
            )
    errors.extend(_omit_stages(rule.omit_stages, (*path, "omitStages")))
    if rule.non_resource_urls and (rule.resources or rule.namespaces):
        errors.append(
            _invalid(
                (*path, "nonResourceURLs"),
                rule.non_resource_urls,
                "rules cannot apply to both regular resources and non-resource URLs",
            )
        )
    return errors


def validate_policy(policy: Policy, *, kube_version: KubeVersion = LATEST) -> list[FieldError]:
    """Every error ``ValidatePolicy`` reports for ``policy``, in upstream order."""
    errors = _omit_stages(policy.omit_stages, ("omitStages",))
    for i, rule in enumerate(policy.rules):
        errors.extend(_rule(rule, ("rules", i), kube_version))
    return errors


def aggregate(messages: Sequence[str]) -> str:
    """``utilerrors.NewAggregate(...).Error()``: one message, or ``[m1, m2]`` de-duplicated."""
    unique = list(dict.fromkeys(messages))
    if len(unique) == 1:
        return unique[0]
    return "[" + ", ".join(unique) + "]"
