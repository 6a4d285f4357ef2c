"""Read a policy file the way kube-apiserver's decoder reads it, keeping line numbers.

kube-apiserver decodes through apimachinery's universal decoder (``recognizer.go``): input whose
first non-space byte (within 2048 bytes, ``util/yaml/decoder.go`` ``GuessJSONStream``) is
``{`` goes to the *JSON* serializer; anything else goes to the YAML serializer
(``runtime/serializer/json/json.go``), which calls ``sigs.k8s.io/yaml.YAMLToJSON`` -- never with a
target type, so YAML bools/numbers are *not* turned into strings (``users: [yes]`` becomes JSON
``[true]``). In strict mode it additionally runs ``YAMLToJSONStrict`` only to find duplicate keys.
``yaml.go`` is ``yaml.Unmarshal`` into ``interface{}`` (go-yaml v2: ``sigs.k8s.io/yaml/goyaml.v2``)
then ``convertToJSONableObject`` then ``json.Marshal``. Mirrored here:

* ``goyaml.v2/resolve.go``: YAML 1.1 bools (``y yes on ...``), nulls, ints by Go's
  ``strconv.ParseInt(s, 0, 64)`` after dropping ``_`` (``0x 0o 0b``, leading ``0`` = octal),
  uint64, larger ints (``big.Int``), floats by ``yamlStyleFloat``; no sexagesimals. Timestamps
  stay strings (``decode.go``, ``interface{}`` case). Quoted scalars are strings; ``!!str !!int
  !!float !!bool !!null !!timestamp`` are checked ("cannot decode !!str `x` as a !!int");
  ``!!binary`` is base64-decoded; any other tag (``!``, ``!foo``) yields the string.
* ``decode.go``: ``<<`` merges (plain or ``!!merge``, into the same map, sequence items in reverse),
  the "excessive aliasing" ratio, "anchor ... contains itself"; ``yaml.go``: only the first
  document is parsed; ``scannerc.go`` (v2.4): nesting deeper than 10000 fails (here: 1000).
* ``yaml.go`` keys: int -> decimal, bool -> ``true``/``false``, float -> ``FormatFloat(f, 'g', -1,
  32)`` (``.inf``/``.nan``), null, uint64 and ``big.Int`` keys -> "unsupported map key".
* ``json.Marshal``: NaN/Inf values fail; integral floats print without a fraction, so they are
  returned as ints (as apimachinery's number decoder reads them back).

Duplicate keys: the value is last-wins (what lenient decoding keeps); every duplicate is listed,
including overrides of merged keys (go-yaml v2 strict reports those too) and keys that collide
only after conversion to strings (``1`` and ``"1"``; upstream the survivor is unspecified).
JSON input is checked as strict JSON (``json.loads``) and its value taken from there; positions
still come from the YAML parse. Parsing uses PyYAML's libyaml event stream (go-yaml v2 is a libyaml
port), never PyYAML's resolver.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
from collections.abc import Generator
from types import GeneratorType
from typing import Any, NamedTuple, NoReturn

import msgspec
import yaml

from kubetrail.errors import InputError

try:
    from yaml import CBaseLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import BaseLoader as _Loader  # type: ignore[assignment]

Path = tuple[str | int, ...]
_Task = Generator[Any, Any, Any]

# go-yaml v2.4 (scannerc.go max_flow_level, max_indents) allows 10000 levels, libyaml 0.2.5 1000:
# use libyaml's cap with either parser (PyYAML's Python scanner is quadratic in depth).
MAX_DEPTH = 1000
_P = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL, _TS, _BIN, _MERGE = (
    _P + t for t in ("str", "int", "float", "bool", "null", "timestamp", "binary", "merge")
)
_RESOLVABLE = frozenset({"", _STR, _BOOL, _INT, _FLOAT, _NULL, _TS})
_MAP: dict[str, tuple[str, object]] = {"": (_NULL, None)}
for _words, _tag, _val in (
    ("y Y yes Yes YES true True TRUE on On ON", _BOOL, True),
    ("n N no No NO false False FALSE off Off OFF", _BOOL, False),
    ("~ null Null NULL", _NULL, None),
    (".nan .NaN .NAN", _FLOAT, math.nan),
    (".inf .Inf .INF +.inf +.Inf +.INF", _FLOAT, math.inf),
    ("-.inf -.Inf -.INF", _FLOAT, -math.inf),
):
    _MAP.update(dict.fromkeys(_words.split(), (_tag, _val)))
_YAML_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9](?:_?[0-9])*(?:[eE][-+]?[0-9](?:_?[0-9])*)?")  # Go ParseFloat
_DIGITS = {2: re.compile("[01]*"), 8: re.compile("[0-7]*"), 10: re.compile("[0-9]*")}
_DIGITS[16] = re.compile("[0-9a-fA-F]*")
_TIME = r"[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:[.,][0-9]+)?"  # resolve.go allowedTimestampFormats
_TIMESTAMP = re.compile(
    rf"[0-9]{{4}}-[0-9]{{1,2}}-[0-9]{{1,2}}(?:[Tt]{_TIME}(?:Z|[-+][0-9]{{2}}:[0-9]{{2}})| {_TIME})?"
)
_BAD_CHAR = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SCALAR, _SEQ, _MAPPING, _ALIAS = range(4)


class Position(NamedTuple):
    line: int  # 1-based
    column: int  # 1-based


class DuplicateKey(msgspec.Struct, frozen=True):
    path: Path  # path of the mapping holding the key
    key: str
    positions: tuple[Position, ...]  # every occurrence, in document order


class YamlDocument(msgspec.Struct, frozen=True):
    value: object  # JSON-compatible
    keys: dict[Path, Position]  # position of the KEY (mapping entry) or the ITEM (sequence entry)
    values: dict[Path, Position]  # position of the VALUE node
    duplicates: tuple[DuplicateKey, ...]

    def nearest(self, path: Path, *, key: bool = False) -> Position | None:
        """Where ``path`` is (its value node, or its key with ``key``), else its nearest
        ancestor's; None only for an empty document."""
        table = self.keys if key else self.values
        probe = path
        while True:
            pos = table.get(probe) or self.keys.get(probe)
            if pos is not None or not probe:
                return pos
            probe = probe[:-1]


class _Node:
    __slots__ = ("children", "kind", "plain", "pos", "tag", "target", "value")

    def __init__(self, kind: int, tag: str | None, value: str, plain: bool, pos: Position) -> None:
        self.kind, self.tag, self.value, self.plain, self.pos = kind, tag, value, plain, pos
        self.children: list[_Node] = []
        self.target: _Node | None = None


def read_yaml(
    data: bytes | str,
    *,
    source: str = "<input>",
    max_bytes: int = 16 * 1024 * 1024,
    max_nodes: int = 1_000_000,
) -> YamlDocument:
    """Decode the first YAML document of ``data`` into JSON values, with positions."""
    text, maybe_json = _text(data, source, max_bytes)
    if not (maybe_json and text[:2048].lstrip().startswith("{")):
        return _read(text, source, max_nodes)
    try:  # positions (and the size limits) come from the YAML parse of the JSON text
        doc = _read(text, source, max_nodes)
    except InputError as exc:
        if not exc.message.startswith("YAML syntax"):
            raise
        # kube-apiserver reads it as JSON: report the JSON error, or keep valid JSON that the
        # YAML parser refuses (without positions)
        doc = YamlDocument(value=None, keys={}, values={}, duplicates=())
    return msgspec.structs.replace(doc, value=_json(text, source))


def _json(text: str, source: str) -> object:
    try:
        return json.loads(text, parse_float=_finite, parse_constant=_finite)
    except json.JSONDecodeError as exc:
        msg = f"input starts with '{{', so kube-apiserver decodes it as JSON: {exc.msg}"
        raise _err(msg, source, Position(exc.lineno, exc.colno)) from None
    except (ValueError, RecursionError) as exc:
        raise _err(f"invalid JSON: {exc}", source) from None


def _err(msg: str, source: str, pos: Position | None = None) -> InputError:
    return InputError(msg, path=source, line=pos and pos.line, column=pos and pos.column)


def _finite(s: str) -> float:
    f = float(s)  # NaN/Infinity literals and 1e999: jsoniter refuses them too
    if not math.isfinite(f):
        raise ValueError(f"number {s} is not a finite float64")
    return f


def _text(data: bytes | str, source: str, max_bytes: int) -> tuple[str, bool]:
    """Size check, decode, reject binary; returns (text, may be JSON: no byte-order mark)."""
    too_big = _err(f"input is larger than the limit of {max_bytes} bytes", source)
    if len(data) > max_bytes:  # a str has at most as many characters as UTF-8 bytes
        raise too_big
    utf16 = isinstance(data, bytes) and data[:2] in (b"\xff\xfe", b"\xfe\xff")
    try:  # go-yaml's reader honours UTF-16 byte-order marks; anything else is UTF-8
        if isinstance(data, str):
            text, size = data, len(data.encode("utf-8"))
        else:
            text, size = data.decode("utf-16" if utf16 else "utf-8"), len(data)
    except (UnicodeDecodeError, UnicodeEncodeError) as exc:
        at = exc.start if isinstance(exc, UnicodeDecodeError) and not utf16 else 0
        head = data[:at] if isinstance(data, bytes) else b""
        pos = Position(head.count(b"\n") + 1, len(head.rpartition(b"\n")[2].decode()) + 1)
        enc = "UTF-16" if utf16 else "UTF-8"
        raise _err(f"input is not {enc} text (binary file?): {exc.reason}", source, pos) from None
    if size > max_bytes:
        raise too_big
    bom = utf16 or text.startswith("\ufeff")
    text = text.removeprefix("\ufeff")
    if bad := _BAD_CHAR.search(text):
        i, ch = bad.start(), bad.group()
        what = "a NUL character (binary file?)" if ch == "\0" else f"U+{ord(ch):04X}"
        pos = Position(text.count("\n", 0, i) + 1, i - text.rfind("\n", 0, i))
        raise _err(f"input contains {what}: control characters are not allowed", source, pos)
    return text, not bom


def _read(text: str, source: str, max_nodes: int) -> YamlDocument:
    root = _compose(text, source, max_nodes)
    dec = _Decoder(source, max_nodes)
    value: object = None
    if root is not None:
        dec.values[()] = root.pos
        value = dec.drive(dec.child(root, ()))
    if dec.stale:  # overwritten duplicates left positions of paths that no longer exist
        dec.keys = {p: v for p, v in dec.keys.items() if _live(value, p)}
        dec.values = {p: v for p, v in dec.values.items() if _live(value, p)}
    dups = [DuplicateKey(p, k, tuple(sorted(ps))) for (p, k), ps in dec.dups.items()]
    dups.sort(key=lambda d: d.positions[0])
    return YamlDocument(value=value, keys=dec.keys, values=dec.values, duplicates=tuple(dups))


def _compose(text: str, source: str, max_nodes: int) -> _Node | None:
    """Node tree of the first document, from libyaml events, without recursion."""
    loader = _Loader(text)
    anchors: dict[str, _Node] = {}
    stack: list[_Node] = []
    root: _Node | None = None
    try:
        while not isinstance(ev := loader.get_event(), yaml.DocumentEndEvent | yaml.StreamEndEvent):
            if isinstance(ev, yaml.CollectionEndEvent):
                stack.pop()
            if not isinstance(ev, yaml.NodeEvent):
                continue
            assert ev.start_mark is not None
            pos = Position(ev.start_mark.line + 1, ev.start_mark.column + 1)
            max_nodes -= 1
            if max_nodes < 0:
                raise _err("document has too many nodes", source, pos)
            if isinstance(ev, yaml.ScalarEvent):
                node = _Node(_SCALAR, ev.tag, ev.value, ev.implicit[0], pos)
            elif isinstance(ev, yaml.AliasEvent):
                node = _Node(_ALIAS, None, ev.anchor or "", False, pos)
                if (target := anchors.get(node.value)) is None:
                    raise _err(f"unknown anchor '{ev.anchor}' referenced", source, pos)
                node.target = target
            else:
                kind = _SEQ if isinstance(ev, yaml.SequenceStartEvent) else _MAPPING
                node = _Node(kind, None, "", False, pos)
            if ev.anchor is not None and node.kind != _ALIAS:
                anchors[ev.anchor] = node
            if stack:
                stack[-1].children.append(node)
            else:
                root = node
            if node.kind in (_SEQ, _MAPPING):
                stack.append(node)
                if len(stack) > MAX_DEPTH:
                    raise _err(f"exceeded max depth of {MAX_DEPTH}", source, pos)
        return root
    except yaml.MarkedYAMLError as exc:
        msg, mark, ctx = exc.problem or "invalid YAML", exc.problem_mark, exc.context_mark
        if exc.context and ctx is not None:
            msg += f" ({exc.context} at line {ctx.line + 1}, column {ctx.column + 1})"
        at = None if mark is None else Position(mark.line + 1, mark.column + 1)
        raise _err(f"YAML syntax error: {msg}", source, at) from None
    except yaml.YAMLError as exc:
        raise _err(f"YAML error: {exc}", source) from None
    finally:
        loader.dispose()


class _Decoder:
    """go-yaml v2 ``decoder`` into ``interface{}`` plus ``convertToJSONableObject``."""

    def __init__(self, source: str, max_nodes: int) -> None:
        self.source, self.max_nodes = source, max_nodes
        self.keys: dict[Path, Position] = {}
        self.values: dict[Path, Position] = {}
        self.dups: dict[tuple[Path, str], list[Position]] = {}
        self.count = self.alias_count = self.alias_depth = 0
        self.active: set[int] = set()
        self.stale = False

    def fail(self, message: str, node: _Node) -> NoReturn:
        raise _err(message, self.source, node.pos)

    def visit(self, node: _Node) -> None:  # decode.go unmarshal(): the alias-ratio check
        self.count += 1
        self.alias_count += self.alias_depth > 0
        if self.count > self.max_nodes:
            self.fail(f"document expands to more than {self.max_nodes} nodes", node)
        c = self.count  # allowedAliasRatio(): 99% up to 400k decodes, down to 10% at 4M
        ratio = 0.99 if c <= 400_000 else max(0.10, 0.99 - 0.89 * (c - 400_000) / 3_600_000)
        if self.alias_count > 100 and c > 1000 and self.alias_count / c > ratio:
            self.fail("document contains excessive aliasing", node)

    def drive(self, task: object) -> object:
        """Run a task (or return a plain value) with an explicit stack instead of recursion."""
        if not isinstance(task, GeneratorType):
            return task
        stack: list[_Task] = [task]
        val = None
        while stack:
            try:
                sub = stack[-1].send(val)
            except StopIteration as stop:
                stack.pop()
                val = stop.value
                continue
            stack.append(sub)
            val = None
            if len(stack) > 4 * MAX_DEPTH:
                raise _err(f"exceeded max depth of {MAX_DEPTH}", self.source)
        return val

    def child(self, node: _Node, path: Path) -> object:
        """The value of ``node``, or a task computing it."""
        self.visit(node)
        if node.kind == _SCALAR:
            return self.scalar(node)
        if node.kind == _SEQ:
            return self.sequence(node, path)
        if node.kind == _MAPPING:
            return self.mapping(node, path, {})
        return self.alias(node, path, None)

    def alias(self, node: _Node, path: Path, into: dict[str, object] | None) -> _Task:
        if id(node) in self.active:
            self.fail(f"anchor '{node.value}' value contains itself", node)
        self.active.add(id(node))
        self.alias_depth += 1
        assert node.target is not None
        if into is None:
            val = self.child(node.target, path)
        else:
            self.visit(node.target)
            val = self.mapping(node.target, path, into)
        if isinstance(val, GeneratorType):
            val = yield val
        self.alias_depth -= 1
        self.active.discard(id(node))
        return val

    def sequence(self, node: _Node, path: Path) -> _Task:
        out: list[object] = []
        for i, item in enumerate(node.children):
            p = (*path, i)
            self.keys[p] = self.values[p] = item.pos
            val = self.child(item, p)
            out.append((yield val) if isinstance(val, GeneratorType) else val)
        return out

    def mapping(self, node: _Node, path: Path, out: dict[str, object]) -> _Task:
        ch = node.children
        for i in range(0, len(ch), 2):
            knode, vnode = ch[i], ch[i + 1]
            if (
                knode.kind == _SCALAR
                and knode.value == "<<"
                and ((knode.plain and knode.tag in (None, "!")) or knode.tag == _MERGE)
            ):
                yield self.merge(vnode, path, out)
                continue
            key = self.key(knode)
            p = (*path, key)
            val = self.child(vnode, p)
            if isinstance(val, GeneratorType):
                val = yield val
            if key in out:
                self.stale = True
                self.dups.setdefault((path, key), [self.keys[p]]).append(knode.pos)
            out[key] = val
            self.keys[p], self.values[p] = knode.pos, vnode.pos
        return out

    def merge(self, node: _Node, path: Path, out: dict[str, object]) -> _Task:
        items = reversed(node.children) if node.kind == _SEQ else [node]
        for item in items:  # earlier maps of a sequence take precedence: merged last
            target = item.target if item.kind == _ALIAS else item
            if target is None or target.kind != _MAPPING:
                self.fail("map merge requires map or sequence of maps as the value", item)
            self.visit(item)
            yield (
                self.alias(item, path, out)
                if item.kind == _ALIAS
                else self.mapping(item, path, out)
            )

    def key(self, knode: _Node) -> str:
        self.visit(knode)
        node = knode
        if node.target is not None:
            self.alias_depth += 1
            self.visit(node.target)
            self.alias_depth -= 1
            node = node.target
        if node.kind != _SCALAR:
            self.fail("invalid map key: a mapping or sequence cannot be a key", knode)
        _, k = self.resolve(node)
        if isinstance(k, str):
            return k
        if isinstance(k, bool):
            return str(k).lower()
        if isinstance(k, int) and -(2**63) <= k < 2**63:
            return str(k)
        if isinstance(k, float):
            return _format_float32(k)
        kind = (
            "<nil>" if k is None else "uint64" if isinstance(k, int) and k < 2**64 else "*big.Int"
        )
        self.fail(f"unsupported map key of type: {kind}, key: {node.value!r}", knode)

    def resolve(self, node: _Node) -> tuple[str, object]:
        """decode.go ``scalar()``: the resolved tag and Go value of a scalar node."""
        tag = node.tag or ""
        if not tag and not node.plain:
            return _STR, node.value
        try:
            rtag, val = _resolve(tag, node.value)
        except ValueError as exc:
            self.fail(str(exc), node)
        if rtag == _BIN:
            try:
                raw = base64.b64decode(
                    node.value.replace("\r", "").replace("\n", ""), validate=True
                )
            except binascii.Error:
                self.fail("!!binary value contains invalid base64 data", node)
            return rtag, raw.decode("utf-8", "replace")  # json.Marshal coerces to valid UTF-8
        return rtag, node.value if rtag == _TS else val

    def scalar(self, node: _Node) -> object:
        _, val = self.resolve(node)
        if isinstance(val, float):
            if not math.isfinite(val):
                spelled = "NaN" if math.isnan(val) else "+Inf" if val > 0 else "-Inf"
                self.fail(f"json: unsupported value: {spelled}", node)
            if val.is_integer() and -(2**63) <= val < 2**63:
                return int(val)  # json.Marshal writes 1e3 as 1000, read back as an int
        return val


def _go_uint(s: str, base: int = 0) -> int | None:
    """strconv.ParseUint syntax (any size; the caller checks the range)."""
    if not s:
        return None
    if base == 0:
        base = 10
        if s[0] == "0":
            if len(s) >= 3 and s[1] in "bBoOxX":
                base, s = {"b": 2, "o": 8, "x": 16}[s[1].lower()], s[2:]
            else:
                base, s = 8, s[1:]
    return (int(s, base) if s else 0) if _DIGITS[base].fullmatch(s) else None


def _go_int(s: str, base: int = 0) -> int | None:
    """strconv.ParseInt(s, base, 64)."""
    neg = s.startswith("-")
    v = _go_uint(s[1:] if s[:1] in ("-", "+") and s else s, base)
    if v is None:
        return None
    v = -v if neg else v
    return v if -(2**63) <= v < 2**63 else None


def _resolve(tag: str, s: str) -> tuple[str, object]:
    """resolve.go ``resolve()`` including its deferred tag check."""
    if tag not in _RESOLVABLE:
        return tag, s
    rtag, out = _resolve_plain(tag, s)
    if tag in ("", rtag, _STR):
        return rtag, out
    if tag == _FLOAT and rtag == _INT and isinstance(out, int) and -(2**63) <= out < 2**63:
        return _FLOAT, float(out)
    raise ValueError(f"cannot decode {rtag.replace(_P, '!!')} `{s}` as a {tag.replace(_P, '!!')}")


def _resolve_plain(tag: str, s: str) -> tuple[str, object]:
    if tag == _STR:
        return _STR, s
    if s in _MAP:
        return _MAP[s]
    if s[0] == "." and _DOT_FLOAT.fullmatch(s):
        f = float(s.replace("_", ""))
        if not math.isinf(f):
            return _FLOAT, f
    elif s[0] in "+-0123456789":
        if tag == _TS and _TIMESTAMP.fullmatch(s):  # untagged timestamps end up as strings anyway
            return _TS, s
        plain = s.replace("_", "")
        n = _go_int(plain)
        if n is None:
            u = _go_uint(plain)
            n = u if u is not None and u < 2**64 else None
        if n is not None:
            return _INT, n
        if _YAML_FLOAT.fullmatch(plain) and not math.isinf(f := float(plain)):
            return _FLOAT, f
        # resolve.go's own 0b branch adds only "0b-101" == -5 (ParseInt(plain[2:], 2))
        if plain.startswith("0b") and (n := _go_int(plain[2:], 2)) is not None:
            return _INT, n
        if (n := _go_uint(plain)) is not None:  # a ParseUint range error -> big.Int
            return _INT, n
    return _STR, s


def _format_float32(x: float) -> str:
    """strconv.FormatFloat(x, 'g', -1, 32) with go-yaml's .inf/.nan spellings."""
    if math.isnan(x):
        return ".nan"
    try:
        f: float = struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        f = math.copysign(math.inf, x)
    if math.isinf(f):
        return ".inf" if f > 0 else "-.inf"
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    for prec in range(9):  # the shortest decimal that reads back as the same float32
        short = f"{f:.{prec}e}"
        if struct.unpack("<f", struct.pack("<f", float(short)))[0] == f:
            break
    exp = int(short.partition("e")[2])  # Go uses %e when exp < -4 || exp >= 6
    return short if exp < -4 or exp >= 6 else f"{float(short):.{max(prec - exp, 0)}f}"


def _live(value: object, path: Path) -> bool:
    for part in path:
        if isinstance(value, list) and isinstance(part, int) and part < len(value):
            value = value[part]
        elif isinstance(value, dict) and isinstance(part, str) and part in value:
            value = value.get(part)
        else:
            return False
    return True
