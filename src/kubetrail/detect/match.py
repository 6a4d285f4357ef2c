"""Sigma detections evaluated in-process over audit events (no released pySigma has a matcher).

pySigma parses a rule and resolves its condition (selections, ``1 of``, ``all of``, modifiers
such as ``contains``/``startswith``/``endswith``/``re``/``cidr``/``exists``) into a tree of
AND/OR/NOT over ``field = value`` leaves. :func:`compile_condition` turns that tree into
closures once; :func:`Predicate.__call__` evaluates one event (the audit.k8s.io/v1 wire form,
as a dict) in three-valued logic:

* ``True`` / ``False`` as usual;
* ``None`` (unknown) when a leaf reads a body field (``requestObject.…``, ``responseObject.…``)
  and the event carries no such body — it was logged at Metadata, or the stage has none. An
  unknown leaf stays unknown through NOT (Kleene logic), so "no TLS" cannot fire on an event
  that never showed the spec. A rule fires only on ``True``.

Field paths are dotted; a key that itself holds dots (``annotations.authorization.k8s.io/
decision``) is found by trying the longest key first. Where the path crosses a list (every
container of a pod), the leaf is true if any element matches. Strings compare
case-insensitively, as Sigma specifies, unless the rule uses the ``cased`` modifier.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from kubetrail.errors import InputError

__all__ = ["BODIES", "OPEN_WORLD", "Predicate", "compile_condition", "lookup", "plain_leaf"]

BODIES: Final = frozenset({"requestObject", "responseObject"})
#: A key an analysis sets on a made-up event: fields it does not hold are unknown, not absent
#: (the blinding analysis fixes only user, verb, resource and stage).
OPEN_WORLD: Final = "\x00open-world"
_MISSING: Final = object()
# Maps whose keys hold dots (``authorization.k8s.io/decision``, ``app.kubernetes.io/name``,
# ``authentication.kubernetes.io/pod-name``): below them a missing part may be part of a key.
_DOTTED_KEYS: Final = frozenset({"annotations", "labels", "extra"})

Predicate = Callable[[Mapping[str, Any]], bool | None]


def lookup(event: Mapping[str, Any], path: str) -> list[Any] | None:
    """Every value at ``path`` (several where the path crosses lists); ``[]`` if absent; None if
    the path reads a body the event does not carry."""
    return _getter(path)(event)


def _getter(path: str) -> Callable[[Mapping[str, Any]], list[Any] | None]:
    """:func:`lookup` for one path, prepared once: plain nested dicts are walked directly;
    lists and keys holding dots take the general walk."""
    parts = path.split(".")
    body = parts[0] in BODIES

    def get(event: Mapping[str, Any]) -> list[Any] | None:
        if body and event.get(parts[0]) is None:
            return None
        node: Any = event
        parent = ""
        for part in parts:
            if not isinstance(node, dict):
                break
            child = node.get(part, _MISSING)
            if child is _MISSING:
                if parent in _DOTTED_KEYS:
                    break  # perhaps a key with dots: the general walk decides
                return None if OPEN_WORLD in event else []
            node = child
            parent = part
        else:
            if isinstance(node, list):
                return node
            return [node]
        found: list[Any] = []
        _walk(event, parts, found)
        if not found and OPEN_WORLD in event:
            return None
        return found

    return get


def _walk(node: Any, parts: list[str], out: list[Any]) -> None:
    if not parts:
        if isinstance(node, list):
            out.extend(node)
        else:
            out.append(node)
        return
    if isinstance(node, list):
        for item in node:
            _walk(item, parts, out)
        return
    if not isinstance(node, Mapping):
        return
    # The longest key first: annotation keys hold dots.
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in node:
            _walk(node[key], parts[n:], out)
            return


def _leaf(field: str, value: Any) -> Predicate:
    get = _getter(field)
    return _leaf_with(field, value, get)


def _leaf_with(
    field: str, value: Any, get: Callable[[Mapping[str, Any]], list[Any] | None]
) -> Predicate:
    from sigma.types import (
        SigmaBool,
        SigmaCIDRExpression,
        SigmaExists,
        SigmaNull,
        SigmaNumber,
        SigmaRegularExpression,
        SigmaString,
    )

    test: Callable[[Any], bool]
    if isinstance(value, SigmaExists):
        wanted = bool(value.exists)

        def exists(event: Mapping[str, Any]) -> bool | None:
            values = get(event)
            if values is None:
                return None
            return any(v is not None for v in values) == wanted

        return exists
    if isinstance(value, SigmaNull):

        def is_null(event: Mapping[str, Any]) -> bool | None:
            values = get(event)
            if values is None:
                return None
            return not values or any(v is None for v in values)

        return is_null
    if isinstance(value, SigmaString):
        cased = type(value).__name__ == "SigmaCasedString"
        affix = _affix(value) if not cased else None
        if affix is not None:  # `startswith`, `endswith`, `contains`: str methods, not a regex
            where, part = affix

            def test(v: Any) -> bool:
                if isinstance(v, bool) or not isinstance(v, str | int | float):
                    return False
                text = _text(v).lower()
                if where == "prefix":
                    return text.startswith(part)
                return text.endswith(part) if where == "suffix" else part in text

        elif value.contains_special():
            pattern = re.compile(
                str(value.to_regex().regexp) + r"\Z", re.DOTALL | (0 if cased else re.IGNORECASE)
            )

            def test(v: Any) -> bool:
                return isinstance(v, str | int | float) and bool(pattern.match(_text(v)))

        else:
            plain = "".join(str(part) for part in value.s)  # unescaped (to_plain() escapes)
            plain_cmp = plain if cased else plain.lower()

            def test(v: Any) -> bool:
                if isinstance(v, bool) or not isinstance(v, str | int | float):
                    return False
                text = _text(v)
                return (text if cased else text.lower()) == plain_cmp

    elif isinstance(value, SigmaBool):
        wanted_bool = bool(value.boolean)

        def test(v: Any) -> bool:
            return v is wanted_bool or (
                isinstance(v, str) and v.lower() == str(wanted_bool).lower()
            )

    elif isinstance(value, SigmaNumber):
        number = value.number

        def test(v: Any) -> bool:
            if isinstance(v, bool):
                return False
            if isinstance(v, int | float):
                return bool(v == number)
            return isinstance(v, str) and v.strip() == str(number)

    elif isinstance(value, SigmaRegularExpression):
        flags = 0
        for flag in value.flags:
            flags |= value.sigma_to_python_flags[flag]
        regex = re.compile(str(value.regexp), flags)

        def test(v: Any) -> bool:
            return isinstance(v, str | int | float) and regex.search(_text(v)) is not None

    elif isinstance(value, SigmaCIDRExpression):
        network = value.network

        def test(v: Any) -> bool:
            try:
                return isinstance(v, str) and ipaddress.ip_address(v) in network
            except ValueError:
                return False

    else:
        raise InputError(f"field {field!r}: a {type(value).__name__} value is not supported")

    def match(event: Mapping[str, Any]) -> bool | None:
        values = get(event)
        if values is None:
            return None
        return any(test(v) for v in values)

    return match


def _affix(value: Any) -> tuple[str, str] | None:
    """``abc*``, ``*abc`` or ``*abc*`` (ASCII text, one ``*`` wildcard at either end or both)
    as ("prefix" | "suffix" | "contains", lower-case text); None for any other pattern."""
    from sigma.types import SpecialChars

    parts = list(value.s)
    star = SpecialChars.WILDCARD_MULTI
    lead = bool(parts) and parts[0] == star
    trail = len(parts) > 1 and parts[-1] == star
    middle = parts[int(lead) : len(parts) - int(trail)]
    if len(middle) != 1 or not isinstance(middle[0], str) or not (lead or trail):
        return None
    text = middle[0]
    if not text or not text.isascii():
        return None
    where = "contains" if lead and trail else "suffix" if lead else "prefix"
    return where, text.lower()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def compile_condition(node: Any) -> Predicate:
    """One pySigma condition tree (``SigmaCondition.parsed``) as a three-valued predicate."""
    from sigma.conditions import (
        ConditionAND,
        ConditionFieldEqualsValueExpression,
        ConditionNOT,
        ConditionOR,
        ConditionValueExpression,
    )

    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _leaf(str(node.field), node.value)
    if isinstance(node, ConditionValueExpression):
        raise InputError("keyword detections (values without a field) are not supported")
    args = [compile_condition(a) for a in node.args]
    if isinstance(node, ConditionNOT):
        (inner,) = args

        def negate(event: Mapping[str, Any]) -> bool | None:
            result = inner(event)
            return None if result is None else not result

        return negate
    if isinstance(node, ConditionAND):
        return _kleene(args, decisive=False)
    if isinstance(node, ConditionOR):
        return _kleene(_merge_plain_alternatives(node.args) or args, decisive=True)
    raise InputError(f"unsupported condition element {type(node).__name__}")


def _kleene(args: list[Predicate], *, decisive: bool) -> Predicate:
    """AND (``decisive=False``: one false decides) or OR (one true decides) in Kleene logic:
    otherwise unknown if any argument is unknown."""

    def combine(event: Mapping[str, Any]) -> bool | None:
        unknown = False
        for arg in args:
            result = arg(event)
            if result is decisive:
                return decisive
            unknown = unknown or result is None
        return None if unknown else not decisive

    return combine


def plain_leaf(node: Any) -> tuple[str, str] | None:
    """(field, lower-case text) of a ``field = plain string`` leaf (no wildcard, not cased)."""
    from sigma.conditions import ConditionFieldEqualsValueExpression
    from sigma.types import SigmaString

    if not isinstance(node, ConditionFieldEqualsValueExpression):
        return None
    value = node.value
    if type(value) is not SigmaString or value.contains_special():
        return None
    return str(node.field), "".join(str(part) for part in value.s).lower()


def _merge_plain_alternatives(nodes: Any) -> list[Predicate] | None:
    """``verb: [create, update, patch]`` is an OR of three leaves on one field: one lookup and
    a set test instead (the same answer, three-valued included)."""
    plain = [plain_leaf(n) for n in nodes]
    fields = {p[0] for p in plain if p is not None}
    if not any(sum(1 for p in plain if p and p[0] == f) > 1 for f in fields):
        return None
    merged: list[Predicate] = []
    done: set[str] = set()
    for node, info in zip(nodes, plain, strict=True):
        if info is None:
            merged.append(compile_condition(node))
            continue
        field = info[0]
        if field in done:
            continue
        done.add(field)
        wanted = frozenset(p[1] for p in plain if p is not None and p[0] == field)
        merged.append(_member(field, wanted))
    return merged


def _member(field: str, wanted: frozenset[str]) -> Predicate:
    get = _getter(field)

    def member(event: Mapping[str, Any]) -> bool | None:
        values = get(event)
        if values is None:
            return None
        return any(
            isinstance(v, str | int | float)
            and not isinstance(v, bool)
            and _text(v).lower() in wanted
            for v in values
        )

    return member


def patch_as_object(ops: list[Any]) -> dict[str, Any]:
    """A JSON Patch (RFC 6902: ``[{"op": "add", "path": "/spec/...", "value": ...}]``) as the
    partial object it writes, so that rules read ``requestObject.spec…`` on it as on a merge
    or strategic-merge patch (which already are partial objects). ``add``, ``replace`` and
    ``copy``'s target take the value; ``remove``, ``move`` and ``test`` write nothing a rule
    reads. Array indices and ``-`` become list elements."""
    root: dict[str, Any] = {}
    for op in ops:
        if not isinstance(op, dict) or op.get("op") not in ("add", "replace"):
            continue
        path = op.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            continue
        parts = [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt = parts[i + 1] if not last else None
            fresh: Any = [] if nxt is not None and (nxt == "-" or nxt.isdigit()) else {}
            if isinstance(node, list):
                if last:
                    node.append(op.get("value"))
                    break
                node.append(fresh)
                node = node[-1]
            elif isinstance(node, dict):
                if last:
                    node[part] = op.get("value")
                    break
                if not isinstance(node.get(part), dict | list):
                    node[part] = fresh
                node = node[part]
    return root


def plain_alternatives(node: Any) -> tuple[str, frozenset[str]] | None:
    """``field: a`` or ``field: [a, b]`` (plain strings, one field) as (field, values)."""
    from sigma.conditions import ConditionOR

    single = plain_leaf(node)
    if single is not None:
        return single[0], frozenset({single[1]})
    if isinstance(node, ConditionOR) and node.args:
        leaves = [plain_leaf(a) for a in node.args]
        fields = {leaf[0] for leaf in leaves if leaf is not None}
        if None not in leaves and len(fields) == 1:
            return fields.pop(), frozenset(leaf[1] for leaf in leaves if leaf is not None)
    return None
