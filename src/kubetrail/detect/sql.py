"""Rules as SQL over the lake: which rows a rule *may* fire on, decided by the engine.

Each rule's resolved condition (pySigma's tree) is compiled into a SQL expression over the
lake's flat columns that is true on every row the rule can fire on — a sound bound, never
narrower than the rule. Leaves SQL decides exactly are plain-string and integer comparisons
on the columns below (verb, resource, user, groups, namespace, code, authorization decision…),
with wildcards as ``LIKE`` and ``exists`` as ``IS NULL``. A leaf on a JSON column (bodies,
annotations, ``user.extra``) is never certain in SQL, but *may* hold only where the key it
ends with is in the column's text (:func:`_json_may`). Other leaves (regular expressions,
CIDRs) are unknown to the bound. Through NOT, a node has two bounds: ``may`` (could be true)
and ``must`` (is certainly true); NOT swaps and negates them, AND and OR combine them
pairwise, and an unknown leaf is ``may = TRUE, must = FALSE``. For a leaf that reads a body,
"true" needs the body: the matcher's unknown (no body) can never make a rule fire.

The engine scans the lake once with the OR of every rule's ``may`` and hands only the rows it
selects to the in-process matcher (:mod:`kubetrail.detect.match`), which decides. The findings
are therefore those of the matcher over every row — exact duplicates of a row pass or fail the
bound together, and a row no rule may fire on yields no finding, no correlation step and no
"once per request" memory — while the lake's bodies are decompressed only for candidates.
``tests/detect/test_sql.py`` checks both halves: the bound holds on every fixture event that
must match, and the lake path gives the findings of the matcher over all rows.

Case: Sigma compares strings case-insensitively. SQL's ``lower`` and Python's agree on ASCII;
a value holding other characters (``strlen`` in bytes differs from ``length`` in characters)
is left to the matcher, so the bound stays sound for any Unicode case rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from kubetrail.detect.match import plain_alternatives
from kubetrail.detect.rules import Rule
from kubetrail.lake.schema import sql_str

__all__ = ["COLUMN_OF", "candidates_sql", "may_fire_sql"]

# Event field (Sigma) → (lake column, holds a list). The rows the lake rebuilds into events
# (engine.event_from_row) take these fields from exactly these columns.
COLUMN_OF: Final[dict[str, tuple[str, bool]]] = {
    "verb": ("verb", False),
    "stage": ("stage", False),
    "level": ("level", False),
    "auditID": ("audit_id", False),
    "requestURI": ("request_uri", False),
    "userAgent": ("user_agent", False),
    "user.username": ("user_name", False),
    "user.uid": ("user_uid", False),
    "user.groups": ("user_groups", True),
    "impersonatedUser.username": ("impersonated_name", False),
    "impersonatedUser.groups": ("impersonated_groups", True),
    "sourceIPs": ("source_ips", True),
    "objectRef.resource": ("object_resource", False),
    "objectRef.subresource": ("object_subresource", False),
    "objectRef.namespace": ("object_namespace", False),
    "objectRef.name": ("object_name", False),
    "objectRef.apiGroup": ("object_api_group", False),
    "objectRef.apiVersion": ("object_api_version", False),
    "responseStatus.code": ("response_code", False),
    "responseStatus.reason": ("response_reason", False),
    "annotations.authorization.k8s.io/decision": ("authz_decision", False),
    "annotations.authorization.k8s.io/reason": ("authz_reason", False),
}
_TRUE: Final = "TRUE"
_FALSE: Final = "FALSE"


def may_fire_sql(rule: Rule) -> str:
    """A SQL condition over the lake's columns, true on every row ``rule`` can fire on."""
    return _or([_bounds(tree)[0] for tree in rule.trees])


def candidates_sql(rules: Sequence[Rule]) -> str:
    """True on every row at least one of ``rules`` can fire on."""
    return _or([may_fire_sql(rule) for rule in rules])


def _bounds(node: Any) -> tuple[str, str]:
    """(may, must) of a condition node."""
    from sigma.conditions import (
        ConditionAND,
        ConditionFieldEqualsValueExpression,
        ConditionNOT,
        ConditionOR,
    )

    if isinstance(node, ConditionFieldEqualsValueExpression):
        exact = _leaf(str(node.field), node.value)
        if exact is not None:
            return exact, exact
        return _json_may(str(node.field), node.value), _FALSE
    if isinstance(node, ConditionNOT | ConditionAND | ConditionOR):
        args = [_bounds(a) for a in node.args]
    if isinstance(node, ConditionNOT):
        ((may, must),) = args
        return _not(must), _not(may)
    if isinstance(node, ConditionAND):
        return _and([a[0] for a in args]), _and([a[1] for a in args])
    if isinstance(node, ConditionOR):
        alternatives = plain_alternatives(node)  # field: [a, b, c] — one IN list
        if alternatives is not None and alternatives[0] in COLUMN_OF:
            exact = _member(*alternatives)
            if exact is not None:
                return exact, exact
        return _or([a[0] for a in args]), _or([a[1] for a in args])
    return _TRUE, _FALSE  # anything else: unknown to the bound, decided by the matcher


def _leaf(field: str, value: Any) -> str | None:
    """The exact SQL of ``field = value`` (never NULL), or None where SQL does not decide."""
    from sigma.types import SigmaExists, SigmaNumber, SigmaString

    mapped = COLUMN_OF.get(field)
    if mapped is None:
        return None
    column, is_list = mapped
    code = field == "responseStatus.code"
    if isinstance(value, SigmaExists) and not is_list:
        # The rebuilt event holds a field exactly when its column is not null.
        return f"({column} IS {'NOT ' if value.exists else ''}NULL)"
    if type(value) is SigmaString:
        pattern = _like(value)
        if pattern is None or (code and value.contains_special()):
            return None
        if not value.contains_special():
            test = f"= {sql_str(_plain(value))}"
        else:
            test = f"LIKE {sql_str(pattern)} ESCAPE '\\'"
    elif code and isinstance(value, SigmaNumber) and isinstance(value.number, int):
        test = f"= {sql_str(str(value.number))}"  # elsewhere the matcher reads " 5" as 5
    else:
        return None
    if code:  # an integer column: its text is what the matcher compares
        return f"coalesce(CAST({column} AS VARCHAR) {test}, FALSE)"
    if is_list:
        return _any(column, f"lower(x) {test} OR {_NON_ASCII.format('x')}")
    return f"coalesce(lower({column}) {test} OR {_NON_ASCII.format(column)}, FALSE)"


# Fields read from JSON text columns: (prefix, column, a body — absent means unknown).
_JSON_COLUMNS: Final = (
    ("requestObject.", "request_object", True),
    ("responseObject.", "response_object", True),
    ("annotations.", "annotations", False),
    ("user.extra.", "user_extra", False),
)


def _json_may(field: str, value: Any) -> str:
    """When a leaf on a JSON column may be true (it is never certain in SQL).

    A leaf that matches a value holds only if the path exists, so the key it ends with is in
    the column's text — unless the text escapes characters (a backslash anywhere keeps the
    row: ``\\u0070rivileged`` is the same key). A body leaf is never true without the body.
    ``exists: false`` and ``null`` hold when the key is absent: only the body is required.
    """
    from sigma.types import SigmaExists, SigmaNull

    for prefix, column, body in _JSON_COLUMNS:
        if not field.startswith(prefix):
            continue
        present = f"({column} IS NOT NULL)" if body else _TRUE
        absent_ok = isinstance(value, SigmaNull) or (
            isinstance(value, SigmaExists) and not value.exists
        )
        key = field[len(prefix) :].rsplit(".", 1)[-1]
        # A JSON Patch writes a key holding "/" or "~" as "~1" / "~0" in its path.
        patch_path = column == "request_object" and ("/" in key or "~" in key)
        if absent_ok or not key or not key.isascii() or patch_path:
            return present
        escaped = f"contains({column}, '\\')"
        return f"({column} IS NOT NULL AND (contains({column}, {sql_str(key)}) OR {escaped}))"
    return _TRUE


def _member(field: str, wanted: frozenset[str]) -> str | None:
    """``field`` is one of the plain (lower-case) strings ``wanted``, exactly."""
    column, is_list = COLUMN_OF[field]
    if field == "responseStatus.code" or not all(w.isascii() for w in wanted):
        return None
    values = ", ".join(sql_str(w) for w in sorted(wanted))
    if is_list:
        return _any(column, f"lower(x) IN ({values}) OR {_NON_ASCII.format('x')}")
    return f"coalesce(lower({column}) IN ({values}) OR {_NON_ASCII.format(column)}, FALSE)"


# Text outside ASCII (more bytes than characters), where SQL's lower() and Sigma's case
# folding may differ: such rows are always kept. (strlen is DuckDB's; the transpiler writes
# Spark's octet_length for it, see kubetrail.lake.spark.)
_NON_ASCII: Final = "strlen({0}) <> length({0})"


def _any(column: str, test: str) -> str:
    """Some element ``x`` of a list column passes ``test`` (false for NULL or empty lists)."""
    return f"coalesce(array_length(list_filter({column}, lambda x: {test})) > 0, FALSE)"


def _plain(value: Any) -> str:
    return "".join(str(part) for part in value.s).lower()


def _like(value: Any) -> str | None:
    """A Sigma string (``*`` and ``?`` wildcards) as a lower-case LIKE pattern (escape ``\\``);
    None if it holds anything else or characters outside ASCII."""
    from sigma.types import SpecialChars

    out = []
    for part in value.s:
        if isinstance(part, str):
            if not part.isascii():
                return None
            out.append(part.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))
        elif part == SpecialChars.WILDCARD_MULTI:
            out.append("%")
        elif part == SpecialChars.WILDCARD_SINGLE:
            out.append("_")
        else:
            return None
    return "".join(out)


def _not(expr: str) -> str:
    if expr == _TRUE:
        return _FALSE
    if expr == _FALSE:
        return _TRUE
    return f"(NOT {expr})"


def _and(exprs: list[str]) -> str:
    return _join(exprs, "AND", absorbing=_FALSE, neutral=_TRUE)


def _or(exprs: list[str]) -> str:
    return _join(exprs, "OR", absorbing=_TRUE, neutral=_FALSE)


def _join(exprs: list[str], op: str, *, absorbing: str, neutral: str) -> str:
    """AND or OR of SQL conditions, folding the constants (and repeated conditions)."""
    if absorbing in exprs:
        return absorbing
    kept = list(dict.fromkeys(e for e in exprs if e != neutral))
    if not kept:
        return neutral
    return kept[0] if len(kept) == 1 else "(" + f" {op} ".join(kept) + ")"
