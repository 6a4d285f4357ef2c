"""Resolve an HTTP method and request URI into Kubernetes request attributes.

A port of ``RequestInfoFactory.NewRequestInfo`` (k8s.io/apiserver
``pkg/endpoints/request/requestinfo.go``, Kubernetes 1.36) with the prefixes kube-apiserver's
``NewRequestInfoResolver`` (``pkg/server/config.go``) gives it. The URI is read as Go's HTTP
server reads a request line (``url.ParseRequestURI``). Differences no real audit event can show:
"" is an empty path (upstream's tests use ``url.Parse``); the host of a full URL is ignored, not
validated; decoded bytes that are not UTF-8, and lone surrogates, read as U+FFFD.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

import msgspec

from kubetrail.errors import InputError

__all__ = ["RequestInfo", "resolve_request"]


class RequestInfo(msgspec.Struct, frozen=True, kw_only=True):
    """``request.RequestInfo`` without the selector fields (see ``_list_or_watch``)."""

    is_resource_request: bool
    path: str
    verb: str
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: tuple[str, ...] = ()


# requestinfo.go package variables, and the prefix sets NewRequestInfoResolver passes in.
_API_PREFIXES = frozenset({"api", "apis"})
_GROUPLESS_API_PREFIXES = frozenset({"api"})
_SPECIAL_VERBS = frozenset({"proxy", "watch"})
_SPECIAL_VERBS_NO_SUBRESOURCES = frozenset({"proxy"})
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
# The method switch in NewRequestInfo (Go compares the method case-sensitively).
_VERB_BY_METHOD = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update"}
_VERB_BY_METHOD |= {"PATCH": "patch", "DELETE": "delete"}

_CONTROL_CHAR = re.compile(r"[\x00-\x1f\x7f]")
_SCHEME = re.compile(r"[A-Za-z][-+.A-Za-z0-9]*:")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# net/url parseQuery: over 10000 "&"-separated pairs and Query() is empty (the urlmaxqueryparams
# limit of current Go releases, on for the go1.25+ godebug default Kubernetes builds with).
_MAX_QUERY_PARAMS = 10000
_LIST_OPTIONS = frozenset({"watch", "fieldSelector", "labelSelector", "limit", "timeoutSeconds"})


class _ParseError(Exception):
    """An escape or a list option that net/url or apimachinery would reject."""


def resolve_request(method: str, url: str) -> RequestInfo:
    """`url` is a request URI as in an audit event's requestURI: path plus optional ?query (no
    scheme/host; but also accept a full http(s)://host/... URL by ignoring scheme and host)."""
    # NewRequestInfo: a non-resource request until proven otherwise; splitPath.
    verb = method.lower()
    if not method.isascii():
        method = _LONE_SURROGATE.sub("\ufffd", method)
        # strings.ToLower maps rune by rune; Python lowers U+0130 to two characters.
        verb = "".join("i" if c == "\u0130" else c.lower() for c in method)
    if not url.isascii():
        url = _LONE_SURROGATE.sub("\ufffd", url)
    path, raw_query = _parse_request_uri(url)
    parts = trimmed.split("/") if (trimmed := path.strip("/")) else []
    if len(parts) < 3 or parts[0] not in _API_PREFIXES:
        return RequestInfo(is_resource_request=False, path=path, verb=verb)
    api_prefix, api_group, rest = parts[0], "", parts[1:]
    if api_prefix not in _GROUPLESS_API_PREFIXES:
        if len(rest) < 3:  # upstream has recorded the prefix already when it gives up here
            return RequestInfo(is_resource_request=False, path=path, verb=verb, api_prefix=parts[0])
        api_group, rest = rest[0], rest[1:]
    api_version, rest = rest[0], rest[1:]
    # The deprecated /{watch,proxy}/... prefix sets the verb; otherwise the HTTP method does.
    if rest[0] in _SPECIAL_VERBS:
        if len(rest) < 2:
            raise InputError(f"unable to determine kind and namespace from url, {url}")
        verb, rest = rest[0], rest[1:]
    else:
        verb = _VERB_BY_METHOD.get(method, "")
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    # parts: resource/name/subresource/...; a proxy verb never has a subresource.
    name = rest[1] if len(rest) >= 2 else ""
    no_subresource = len(rest) < 3 or verb in _SPECIAL_VERBS_NO_SUBRESOURCES
    if not name and verb == "get":
        verb, name = _list_or_watch(raw_query)
    if not name and verb == "delete":
        verb = "deletecollection"
    return RequestInfo(
        is_resource_request=True,
        path=path,
        verb=verb,
        api_prefix=api_prefix,
        api_group=api_group,
        api_version=api_version,
        namespace=namespace,
        resource=rest[0],
        subresource="" if no_subresource else rest[2],
        name=name,
        parts=tuple(rest),
    )


def _list_or_watch(raw_query: str) -> tuple[str, str]:
    """NewRequestInfo for a get without a name: ``(verb, name)``.

    Upstream decodes the query into ListOptions (DecodeParameters); on an error it logs, keeps
    only ``?watch`` (lower-cased, anything but false/0 is true) and sets no name. The
    AuthorizeWithSelectors block (on by default in 1.36) only fills RequestInfo.FieldSelector
    and LabelSelector, which this port does not carry: it changes neither verb nor name.
    """
    query: dict[str, str] = {}  # req.URL.Query() (net/url parseQuery), first values only
    for pair in raw_query.split("&") if raw_query.count("&") < _MAX_QUERY_PARAMS else ():
        key, _, value = pair.partition("=")
        try:  # parseQuery skips empty pairs, pairs with ";" and pairs that do not unescape
            if pair and ";" not in pair and (key := _unescape(key, query=True)) in _LIST_OPTIONS:
                query.setdefault(key, _unescape(value, query=True))
        except _ParseError:
            continue
    watch = query.get("watch")
    try:  # url.Values -> v1.ListOptions -> internal ListOptions: the conversions that can fail
        if not all(_is_go_int64(query[k]) for k in ("limit", "timeoutSeconds") if k in query):
            raise _ParseError("limit or timeoutSeconds is not an int64")
        _check_label_selector(query.get("labelSelector", ""))
        name = _field_selector_name(query.get("fieldSelector", ""))
    except _ParseError:
        return ("list" if watch is None or watch.lower() in ("false", "0") else "watch"), ""
    # runtime.Convert_Slice_string_To_bool: "0", or "false" under strings.EqualFold (where the
    # long s, U+017F, folds to "s"), is false.
    if watch is not None and len(watch) == 5:
        watch = watch.lower().replace("\u017f", "s")
    verb = "list" if watch is None or watch in ("false", "0") else "watch"
    # path.IsValidPathSegmentName decides whether a metadata.name selector becomes the name.
    if name in (".", "..") or "/" in name or "%" in name:
        name = ""
    return verb, name


def _parse_request_uri(url: str) -> tuple[str, str]:
    """net/url ``ParseRequestURI``: ``(decoded path, raw query)``; raises InputError."""
    if not url:
        return "", ""
    if _CONTROL_CHAR.search(url):
        raise InputError(f"net/url: invalid control character in URL: {url!r}")
    if url == "*":
        return "*", ""
    if url[0] == ":":
        raise InputError(f"missing protocol scheme: {url!r}")
    # getScheme: a letter, then letters, digits, "+", "-" or ".", then ":".
    scheme = _SCHEME.match(url) if url[0] != "/" else None
    rest, _, raw_query = url[scheme.end() if scheme else 0 :].partition("?")
    if not rest.startswith("/"):
        if scheme:
            return "", raw_query  # an opaque URL such as "mailto:x": URL.Path is empty
        raise InputError(f"invalid URI for request: {url!r}")
    if scheme and rest.startswith("//"):  # the authority
        rest = rest[rest.find("/", 2) :] if rest.find("/", 2) >= 0 else ""
    try:
        return _unescape(rest, query=False), raw_query
    except _ParseError as err:
        raise InputError(f"invalid URL escape {err} in {url!r}") from None


def _unescape(text: str, *, query: bool) -> str:
    """net/url unescape, path or query-component ("+" is a space) mode."""
    if query:
        text = text.replace("+", " ")
    if "%" not in text:
        return text
    if bad := _BAD_ESCAPE.search(text):
        raise _ParseError(f'"{text[bad.start() : bad.start() + 3]}"')
    return unquote_to_bytes(text).decode("utf-8", "replace")


def _is_go_int64(text: str) -> bool:
    # strconv.ParseInt(text, 10, 64): optional sign, ASCII digits, in range.
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits.isascii() or not digits.isdigit():
        return False
    digits, limit = digits.lstrip("0"), 2**63 if text[:1] == "-" else 2**63 - 1
    return len(digits) < 19 or (len(digits) == 19 and int(digits) <= limit)


_FIELD_VALUE = re.compile(r"(?:[^\\,=]|\\[\\,=])*")
_FIELD_ESCAPE = re.compile(r"\\([\\,=])")


def _field_selector_name(selector: str) -> str:
    """fields.ParseSelector, then RequiresExactMatch("metadata.name") ("" if none)."""
    terms: list[str] = []
    start, in_slash = 0, False
    for i, char in enumerate(selector):  # splitTerms: a backslash protects the next character
        if in_slash or char == "\\":
            in_slash = not in_slash
        elif char == ",":
            terms.append(selector[start:i])
            start = i + 1
    terms.append(selector[start:])
    name: str | None = None
    for term in sorted(terms):  # parseSelector sorts the terms; the first match wins
        if not term:
            continue
        i = term.find("=")  # splitTerm: the first "!=", "==" or "=" splits the term
        if i < 0:
            raise _ParseError(f"invalid selector: {selector!r}")
        negated = i > 0 and term[i - 1] == "!"
        field = term[: i - 1] if negated else term[:i]
        value = term[i + (2 if term.startswith("==", i) and not negated else 1) :]
        # UnescapeValue: only \\, \, and \= are escapes; a bare "," or "=" is an error.
        if not _FIELD_VALUE.fullmatch(value):
            raise _ParseError(f"invalid field selector value: {value!r}")
        if not negated and name is None and field == "metadata.name":
            name = _FIELD_ESCAPE.sub(r"\1", value)
    return name or ""


# labels.Parse (apimachinery pkg/labels/selector.go). A token's kind is one character: "x" an
# identifier, "i" in, "n" notin, "d" ==, "e" !=, any other operator itself.
_LABEL_KINDS = {"in": "i", "notin": "n", "==": "d", "!=": "e"}
_SPECIAL = frozenset("=!(),><")
_BLANK = frozenset(" \t\r\n")
_NOT_IDENT = _SPECIAL | _BLANK | {"\0"}
# Parser.parse: where a key or value is read (the Values context) "in" and "notin" are
# identifiers; parseOperator reads them as operators. parseIdentifiersList eats ",," whole, so
# "(a,,b)" and "(,,,)" parse but "(a,,)" and "(,,)" do not.
_V = "[xin]"
_LIST = rf"(?:,*{_V}(?:,+{_V})*(?:,(?:,,)*)?|,(?:,,)*)?"
_REQUIREMENT = rf"(?:!{_V}|{_V}(?:[in]\({_LIST}\)|[=de<>]{_V}?)?)"
_LABEL_SYNTAX = re.compile(rf"(?:{_REQUIREMENT}(?:,{_REQUIREMENT})*)?")
# validation.IsQualifiedName, IsValidLabelValue and IsDNS1123Subdomain.
_QUALIFIED_NAME = re.compile(r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = re.compile(rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})*")


def _lex_labels(text: str) -> list[tuple[str, str]]:
    """labels.Lexer.Lex until EndOfStringToken: ``(kind, literal)`` pairs. A NUL ends the text
    where a token starts and is swallowed right after one; scanSpecialSymbol matches at most two
    symbols, as "==" and "!=" are the only two-symbol operators."""
    tokens: list[tuple[str, str]] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in _BLANK:
            pos += 1
        if pos >= end or text[pos] == "\0":
            return tokens
        start = pos
        if text[pos] in _SPECIAL:
            pos += 2 if text[pos : pos + 2] in ("==", "!=") else 1
        else:
            while pos < end and text[pos] not in _NOT_IDENT:
                pos += 1
        literal = text[start:pos]
        kind = literal if text[start] in _SPECIAL else "x"
        tokens.append((_LABEL_KINDS.get(literal, kind), literal))
        pos += pos < end and text[pos] == "\0"


def _check_label_selector(selector: str) -> None:
    """Parser.parse with NewRequirement's checks (key, values, Gt/Lt integer); raises."""
    tokens = _lex_labels(selector)
    if not _LABEL_SYNTAX.fullmatch("".join(kind for kind, _ in tokens)):
        raise _ParseError(f"unable to parse label selector {selector!r}")
    in_list, previous = False, ","
    for i, (kind, literal) in enumerate(tokens):
        in_list = kind == "(" or (in_list and kind != ")")
        if kind in "<>" and (i + 1 == len(tokens) or not _is_go_int64(tokens[i + 1][1])):
            raise _ParseError("for 'Gt', 'Lt' operators, the value must be an integer")
        is_key = kind in "xin" and not in_list and previous in ",!"
        is_value = kind in "xin" and (in_list or previous in "=de<>")
        if (is_key and not _is_qualified_name(literal)) or (
            is_value and (len(literal) > 63 or not _QUALIFIED_NAME.fullmatch(literal))
        ):
            raise _ParseError(f"invalid label key or value {literal!r}")
        previous = kind


def _is_qualified_name(key: str) -> bool:
    # validation.IsQualifiedName: [DNS-1123 subdomain "/"] name, name at most 63 characters.
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix)):
        return False
    return len(name) <= 63 and _QUALIFIED_NAME.fullmatch(name) is not None
