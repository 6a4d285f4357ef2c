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

__all__ = ["BODIES", "Predicate", "compile_condition", "lookup"]

BODIES: Final = frozenset({"requestObject", "responseObject"})
_MISSING: Final = object()

Predicate = Callable[[Mapping[str, Any]], bool | None]


def lookup(event: Mapping[str, Any], path: str) -> list[Any] | None:
    """Every value at ``path`` (several where the path crosses lists); ``[]`` if absent; None if
    the path reads a body the event does not carry."""
    parts = path.split(".")
    if parts[0] in BODIES and event.get(parts[0]) is None:
        return None
    found: list[Any] = []
    _walk(event, parts, found)
    return found


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
            values = lookup(event, field)
            if values is None:
                return None
            return any(v is not None for v in values) == wanted

        return exists
    if isinstance(value, SigmaNull):

        def is_null(event: Mapping[str, Any]) -> bool | None:
            values = lookup(event, field)
            if values is None:
                return None
            return not values or any(v is None for v in values)

        return is_null
    if isinstance(value, SigmaString):
        cased = type(value).__name__ == "SigmaCasedString"
        if value.contains_special():
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
        values = lookup(event, field)
        if values is None:
            return None
        return any(test(v) for v in values)

    return match


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

        def conjunction(event: Mapping[str, Any]) -> bool | None:
            unknown = False
            for arg in args:
                result = arg(event)
                if result is False:
                    return False
                unknown = unknown or result is None
            return None if unknown else True

        return conjunction
    if isinstance(node, ConditionOR):

        def disjunction(event: Mapping[str, Any]) -> bool | None:
            unknown = False
            for arg in args:
                result = arg(event)
                if result is True:
                    return True
                unknown = unknown or result is None
            return None if unknown else False

        return disjunction
    raise InputError(f"unsupported condition element {type(node).__name__}")
