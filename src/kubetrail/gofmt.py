"""Go's text formatting where kubetrail must reproduce upstream messages byte for byte.

* :func:`quote` is ``strconv.Quote`` (what ``%q`` prints for a string);
* :func:`marshal` is ``encoding/json.Marshal`` for JSON-like values (HTML-safe escaping of
  ``<``, ``>``, ``&`` and U+2028/U+2029, compact separators).
"""

from __future__ import annotations

import json
from typing import Final

_SIMPLE_ESCAPES: Final = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def quote(text: str) -> str:
    """``strconv.Quote``: printable runes as is, the rest escaped as Go does."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        escaped = _SIMPLE_ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")  # a lone surrogate is no valid rune: Go prints U+FFFD
        elif ch.isprintable():  # unicode.IsPrint: letters, marks, numbers, punct, symbols, " "
            out.append(ch)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def marshal(value: object) -> str:
    """``json.Marshal`` of a JSON-like value, with Go's HTML-safe escaping."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
