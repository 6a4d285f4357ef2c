"""Load an audit Policy file the way kube-apiserver does, and say where each problem is.

Mirrors k8s.io/apiserver ``pkg/audit/policy/reader.go`` (``LoadPolicyFromFile``,
``LoadPolicyFromBytes``):

1. YAML (or JSON) → JSON values as ``sigs.k8s.io/yaml`` does (:mod:`kubetrail.policy.yamlio`).
2. Decode *strictly*. If the only problems are strictness problems (unknown or mis-cased keys,
   duplicate keys), kube-apiserver logs a warning and decodes again *leniently*: unknown keys
   are dropped and the last duplicate wins. Each such problem becomes a warning here, with
   ``file:line`` and a did-you-mean. Type errors (``level: 5``, ``users: tim``) are fatal.
3. Only ``audit.k8s.io/v1`` is accepted; a missing ``apiVersion`` is fatal, a missing ``kind``
   is not.
4. Validate (:mod:`kubetrail.policy.validate`): all errors at once, upstream messages.
5. Zero rules is fatal — checked after validation, as upstream does.
"""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Mapping
from typing import Final

import msgspec

from kubetrail.errors import InputError, PolicyError
from kubetrail.model.diagnostic import Diagnostic, Location, Severity
from kubetrail.model.policy import Policy
from kubetrail.policy.validate import (
    LATEST,
    KubeVersion,
    aggregate,
    field_path,
    validate_policy,
)
from kubetrail.policy.yamlio import YamlDocument, read_yaml

Path = tuple[str | int, ...]

API_VERSION: Final = "audit.k8s.io/v1"
MAX_POLICY_BYTES: Final = 16 * 1024 * 1024
_REMOVED_VERSIONS: Final = ("audit.k8s.io/v1beta1", "audit.k8s.io/v1alpha1")

# Field name → expected JSON type, per object kind (pkg/apis/audit/v1/types.go).
_STR, _BOOL, _STRS, _OBJ = "string", "boolean", "list of strings", "object"
_RULES, _GROUP_RESOURCES = "list of rules", "list of resource groups"
_POLICY_FIELDS: Final = {
    "apiVersion": _STR,
    "kind": _STR,
    "metadata": _OBJ,
    "rules": _RULES,
    "omitStages": _STRS,
    "omitManagedFields": _BOOL,
}
_RULE_FIELDS: Final = {
    "level": _STR,
    "users": _STRS,
    "userGroups": _STRS,
    "verbs": _STRS,
    "resources": _GROUP_RESOURCES,
    "namespaces": _STRS,
    "nonResourceURLs": _STRS,
    "omitStages": _STRS,
    "omitManagedFields": _BOOL,
}
_GROUP_RESOURCE_FIELDS: Final = {"group": _STR, "resources": _STRS, "resourceNames": _STRS}
# metav1.ObjectMeta, decoded strictly too (unknown keys there are strictness errors as well).
_META_FIELDS: Final = {
    "name": _STR,
    "generateName": _STR,
    "namespace": _STR,
    "selfLink": _STR,
    "uid": _STR,
    "resourceVersion": _STR,
    "generation": "any",
    "creationTimestamp": "any",
    "deletionTimestamp": "any",
    "deletionGracePeriodSeconds": "any",
    "labels": "any",
    "annotations": "any",
    "ownerReferences": "any",
    "finalizers": "any",
    "managedFields": "any",
}


class LoadedPolicy(msgspec.Struct, frozen=True):
    """A policy kube-apiserver would accept, with its warnings and where each rule starts."""

    policy: Policy
    source: str
    warnings: tuple[Diagnostic, ...]
    document: YamlDocument

    def rule_line(self, index: int) -> int | None:
        """The line where ``rules[index]`` starts in the source, if known."""
        pos = self.document.keys.get(("rules", index))
        return pos.line if pos else None


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class _Reader:
    """One pass over the decoded YAML: strictness warnings, type errors, a clean value."""

    def __init__(self, doc: YamlDocument, source: str, kube_version: KubeVersion) -> None:
        self.doc = doc
        self.source = source
        # Before 1.26 kube-apiserver decoded leniently only: same result, but no warning.
        self.warns = kube_version.at_least(1, 26)
        self.version = kube_version
        self.warnings: list[Diagnostic] = []
        self.errors: list[Diagnostic] = []

    def location(self, path: Path, *, key: bool = False) -> Location:
        """Where ``path`` is: its value node (or its key), else the nearest ancestor's."""
        pos = self.doc.nearest(path, key=key)
        field = field_path(path) or None
        if pos is None:
            return Location(path=self.source, field=field)
        return Location(path=self.source, line=pos.line, column=pos.column, field=field)

    def _type_error(self, path: Path, expected: str, value: object) -> None:
        self.errors.append(
            Diagnostic(
                severity=Severity.ERROR,
                message=(
                    f"failed decoding: {field_path(path)}: cannot decode a JSON "
                    f"{_json_type(value)} into a {expected}"
                ),
                location=self.location(path),
                code="decode",
            )
        )

    def _unknown(self, path: Path, key: str, known: Mapping[str, str]) -> None:
        field = field_path((*path, key))
        lowered = {k.lower(): k for k in known}
        guess = lowered.get(key.lower()) or next(
            iter(difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)), None
        )
        self.warnings.append(
            Diagnostic(
                severity=Severity.WARNING,
                message=(
                    f'unknown field "{field}": kube-apiserver warns, decodes the policy '
                    "leniently and ignores the field"
                    if self.warns
                    else f'unknown field "{field}": kube-apiserver {self.version} ignores it '
                    "without a warning"
                ),
                location=self.location((*path, key), key=True),
                code="unknown-field",
                hint=f'did you mean "{guess}"?' if guess else None,
            )
        )

    def mapping(self, value: object, path: Path, fields: Mapping[str, str]) -> dict[str, object]:
        """Check one JSON object against ``fields``; returns it without unknown/null keys."""
        if not isinstance(value, dict):
            raise _TypeMismatch(path, "object", value)
        out: dict[str, object] = {}
        for key, item in value.items():
            expected = fields.get(key)
            if expected is None:
                self._unknown(path, key, fields)
                continue
            if item is None:  # JSON null leaves a Go field at its zero value
                continue
            checked = self.value(item, (*path, key), expected)
            if checked is not _INVALID:
                out[key] = checked
        return out

    def value(self, item: object, path: Path, expected: str) -> object:
        if expected == "any":
            return item
        if expected == _STR and not isinstance(item, str):
            self._type_error(path, "string", item)
            return _INVALID
        if expected == _BOOL and not isinstance(item, bool):
            self._type_error(path, "boolean", item)
            return _INVALID
        if expected in (_STRS, _RULES, _GROUP_RESOURCES):
            if not isinstance(item, list):
                self._type_error(path, expected, item)
                return _INVALID
            return [self.element(el, (*path, i), expected) for i, el in enumerate(item)]
        if expected == _OBJ:
            try:
                return self.mapping(item, path, _META_FIELDS)
            except _TypeMismatch:
                self._type_error(path, "object", item)
                return _INVALID
        return item

    def element(self, el: object, path: Path, expected: str) -> object:
        if expected == _STRS:
            if el is None:
                return ""  # null in a []string decodes to ""
            if not isinstance(el, str):
                self._type_error(path, "string", el)
            return el
        if el is None:
            return {}
        fields = _RULE_FIELDS if expected == _RULES else _GROUP_RESOURCE_FIELDS
        try:
            return self.mapping(el, path, fields)
        except _TypeMismatch:
            self._type_error(path, "object", el)
            return {}

    def duplicates(self) -> None:
        for dup in self.doc.duplicates:
            last = dup.positions[-1]
            first = dup.positions[0]
            field = field_path((*dup.path, dup.key))
            self.warnings.append(
                Diagnostic(
                    severity=Severity.WARNING,
                    message=(
                        f'duplicate field "{field}": kube-apiserver '
                        + ("warns and" if self.warns else f"{self.version} silently")
                        + f" keeps the last value (first at line {first.line})"
                    ),
                    location=Location(
                        path=self.source, line=last.line, column=last.column, field=field
                    ),
                    code="duplicate-field",
                )
            )


_INVALID: Final = object()


class _TypeMismatch(Exception):
    def __init__(self, path: Path, expected: str, value: object) -> None:
        super().__init__(path, expected, value)
        self.path, self.expected, self.value = path, expected, value


def _error(
    message: str, location: Location, hint: str | None = None, code: str | None = None
) -> Diagnostic:
    return Diagnostic(
        severity=Severity.ERROR, message=message, location=location, hint=hint, code=code
    )


def _check_version(reader: _Reader, raw: Mapping[str, object]) -> Diagnostic | None:
    """reader.go's group/version check and the scheme's kind lookup."""
    api_version = raw.get("apiVersion")
    kind = raw.get("kind") or "Policy"
    where = reader.location(("apiVersion",))
    if not api_version:
        return _error(
            "unknown group version field audit.k8s.io/__internal, Kind=Policy in policy",
            reader.location(()),
            hint="add `apiVersion: audit.k8s.io/v1`",
            code="api-version",
        )
    if api_version in _REMOVED_VERSIONS:
        return _error(
            f'failed decoding: no kind "{kind}" is registered for version "{api_version}"',
            where,
            hint=(
                f"{api_version} was removed in Kubernetes 1.24; change apiVersion to "
                f"{API_VERSION} (the Policy fields are the same)"
            ),
            code="removed-api-version",
        )
    if api_version != API_VERSION:
        return _error(
            f'failed decoding: no kind "{kind}" is registered for version "{api_version}"',
            where,
            hint=f"an audit policy has `apiVersion: {API_VERSION}`",
            code="api-version",
        )
    if kind != "Policy":
        return _error(
            f'failed decoding: kind "{kind}" of {API_VERSION} cannot be converted to Policy',
            reader.location(("kind",)),
            hint="an audit policy has `kind: Policy`",
            code="api-version",
        )
    return None


class DecodedPolicy(msgspec.Struct, frozen=True):
    """Everything known about a policy document, whether kube-apiserver accepts it or not.

    ``policy`` is ``None`` only when the document does not decode at all (YAML that is not a
    Policy-shaped object, type errors). ``errors`` say why kube-apiserver refuses it, in
    upstream order; ``message`` is then the top-level error kube-apiserver logs.
    """

    source: str
    document: YamlDocument
    policy: Policy | None
    errors: tuple[Diagnostic, ...]
    warnings: tuple[Diagnostic, ...]
    message: str | None


def decode_policy(
    data: bytes | str, *, source: str = "<input>", kube_version: KubeVersion = LATEST
) -> DecodedPolicy:
    """Decode and check a policy document, collecting every problem instead of raising.

    Only unreadable input (bad YAML, too large, binary) raises :class:`InputError`.
    """
    doc = read_yaml(data, source=source, max_bytes=MAX_POLICY_BYTES)
    reader = _Reader(doc, source, kube_version)
    reader.duplicates()

    def result(
        policy: Policy | None, errors: list[Diagnostic], message: str | None = None
    ) -> DecodedPolicy:
        text = None
        if errors:
            text = message or aggregate([d.message for d in errors])
            text = f"{text}: from file {source}"
        return DecodedPolicy(source, doc, policy, tuple(errors), tuple(reader.warnings), text)

    if doc.value is None:
        return result(
            None,
            [
                _error(
                    "unknown group version field audit.k8s.io/__internal, Kind=Policy in policy",
                    Location(path=source, line=1),
                    hint="the document is empty",
                    code="api-version",
                )
            ],
        )
    try:
        clean = reader.mapping(doc.value, (), _POLICY_FIELDS)
    except _TypeMismatch as exc:
        diag = _error(
            f"failed decoding: cannot decode a JSON {_json_type(exc.value)} into a Policy "
            "(expected an object with apiVersion, kind and rules)",
            Location(path=source, line=1),
            code="decode",
        )
        return result(None, [diag])
    if reader.errors:
        return result(None, reader.errors)
    policy = msgspec.convert(clean, Policy)
    version_error = _check_version(reader, clean)
    if version_error is not None and version_error.code != "removed-api-version":
        return result(policy, [version_error])
    errors = [
        _error(
            e.message,
            msgspec.structs.replace(reader.location(e.at), field=e.field),
            code="validation",
        )
        for e in validate_policy(policy, kube_version=kube_version)
    ]
    if version_error is not None:
        # kube-apiserver stops at the removed version (its message says only that); the
        # fields are still worth checking, as v1beta1 has the same ones (lint does).
        return result(policy, [version_error, *errors], version_error.message)
    if errors:
        return result(policy, errors)
    if not policy.rules:
        diag = _error(
            "loaded illegal policy with 0 rules",
            reader.location(("rules",)),
            hint="kube-apiserver refuses to start with a policy that has no rules",
            code="no-rules",
        )
        return result(policy, [diag], "loaded illegal policy with 0 rules")
    return result(policy, [])


def parse_policy(
    data: bytes | str, *, source: str = "<input>", kube_version: KubeVersion = LATEST
) -> LoadedPolicy:
    """Decode, check and validate a policy document; raise :class:`PolicyError` if refused.

    The error carries every diagnostic (warnings included) with its line.
    """
    decoded = decode_policy(data, source=source, kube_version=kube_version)
    if decoded.errors or decoded.policy is None:
        raise PolicyError(decoded.message or "", [*decoded.errors, *decoded.warnings])
    return LoadedPolicy(
        policy=decoded.policy,
        source=source,
        warnings=decoded.warnings,
        document=decoded.document,
    )


def read_policy_bytes(path: str, *, max_bytes: int = MAX_POLICY_BYTES) -> bytes:
    """Read a policy file, refusing directories, special files and oversized files early."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path=path) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError("is a directory, not a policy file", path=path)
    if stat.S_ISREG(st.st_mode) and st.st_size > max_bytes:
        raise InputError(
            f"file is {st.st_size:,} bytes; a policy larger than {max_bytes:,} bytes is refused",
            path=path,
        )
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path=path) from None
    if len(data) > max_bytes:
        raise InputError(f"more than {max_bytes:,} bytes; refused", path=path)
    return data


def load_policy(path: str, *, kube_version: KubeVersion = LATEST) -> LoadedPolicy:
    """Load and validate the policy file at ``path`` (``-`` is not special here)."""
    return parse_policy(read_policy_bytes(path), source=path, kube_version=kube_version)
