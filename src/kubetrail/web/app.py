"""``kubetrail ui``: a small read-only web app on the lake, for analysts.

Server-rendered HTML from the standard library's threading HTTP server (no framework, no
JavaScript): the same answers as the commands, because each page calls the same library
function — :func:`kubetrail.query.search.search` (with the filters of ``kubetrail search``),
``timeline``, ``top``, :func:`kubetrail.detect.engine.detect` over the lake, and the coverage
matrix of :mod:`kubetrail.report.html` for the policies the server was given.

Safety: the lake is only read (the engine runs read-only SQL, every filter a bound parameter);
only GET and HEAD are served; the server binds to loopback unless told otherwise, and then a
token is required (``Authorization: Bearer``, or ``?token=`` once, which sets a cookie);
tokens are compared in constant time; every response carries a Content-Security-Policy that
allows nothing but its own inline styles, and ``nosniff``, ``DENY`` framing, ``no-referrer``
and ``no-store``. Policies are chosen among those given at start, never by path.
"""

from __future__ import annotations

import functools
import hmac
import http.server
import json
import logging
import threading
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any, Final

import msgspec

from kubetrail.errors import KubetrailError, UsageError
from kubetrail.lake.engine import DuckDBEngine
from kubetrail.lake.store import Lake

log = logging.getLogger("kubetrail.ui")

FILTERS: Final = (
    ("user", "user or impersonated (glob)"),
    ("actor", "authenticated user only"),
    ("group", "group (glob)"),
    ("verb", "verbs: get,list,watch"),
    ("resource", "pods, pods/exec, deployments.apps"),
    ("namespace", "namespace (glob)"),
    ("name", "object name (glob)"),
    ("since", "24h, 7d or RFC 3339"),
    ("until", "same forms; exclusive"),
    ("decision", "allow or forbid"),
    ("code", "403 or 4xx"),
    ("source_ip", "CIDR"),
    ("user_agent", "substring or glob"),
    ("cluster", "cluster (glob)"),
    ("text", "substring of the URI"),
)
HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}
_COOKIE: Final = "kubetrail_ui"
_STYLE: Final = (
    "body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1rem;"
    "color:#1b1b1b}nav a{margin-right:1rem}form.filters{display:grid;grid-template-columns:"
    "repeat(auto-fill,minmax(14rem,1fr));gap:.4rem .8rem;margin:1rem 0}label{display:block;"
    "font-size:.85rem}input,select{width:100%;box-sizing:border-box}ol.rows li{margin:.3rem 0}"
    "pre{background:#f4f4f4;padding:.5rem;overflow:auto;font-size:.8rem}.bar{display:inline-"
    "block;height:.8rem;background:#1d4f91;vertical-align:middle}td,th{padding:.2rem .5rem;"
    "text-align:left;border-bottom:1px solid #ccc}table{border-collapse:collapse}"
    ".error{color:#8a0000;font-weight:600}:focus-visible{outline:3px solid #0b57d0}"
)


class Page(msgspec.Struct, frozen=True):
    status: int
    body: str


class UI:
    """The pages, independent of HTTP: ``handle(path, query)`` → Page."""

    def __init__(
        self,
        lake: Lake,
        *,
        policies: Sequence[str] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.lake = lake
        self.policies = list(policies)
        self.clock = clock

    def handle(self, path: str, query: Mapping[str, str]) -> Page:
        routes: dict[str, Callable[[Mapping[str, str]], str]] = {
            "/": self.search,
            "/timeline": self.timeline,
            "/top": self.top,
            "/detections": self.detections,
            "/coverage": self.coverage,
        }
        route = routes.get(path)
        if route is None:
            return Page(404, _layout("Not found", "<p>No such page.</p>"))
        try:
            return Page(200, route(query))
        except KubetrailError as exc:  # a bad filter: said on the page, with the form
            return Page(400, _layout("Error", f"<p class='error'>{escape(str(exc))}</p>"))

    def _engine(self) -> DuckDBEngine:
        return DuckDBEngine(self.lake, threads=1)

    def search(self, query: Mapping[str, str]) -> str:
        from kubetrail.query.search import search

        filters = _filters(query)
        rows: list[dict[str, object]] = []
        asked = bool(filters)
        if asked:
            engine = self._engine()
            try:
                rows = search(engine, _struct(filters), self.clock(), limit=200)
            finally:
                engine.close()
        body = _form("/", query) + (_rows(rows) if asked else "<p>Give a filter.</p>")
        return _layout("Search", body)

    def timeline(self, query: Mapping[str, str]) -> str:
        from kubetrail.query.search import object_filters, timeline

        filters = _struct(_filters(query))
        if query.get("object"):
            filters = object_filters(query["object"], filters)
        if not (query.get("object") or query.get("user")):
            raise UsageError("give ?user=NAME or ?object=pods/NAMESPACE/NAME")
        engine = self._engine()
        try:
            minutes = timeline(engine, filters, self.clock(), gap=timedelta(minutes=10))
        finally:
            engine.close()
        parts = []
        for minute in minutes:
            quiet = (
                f" <em>(quiet for {minute.gap_before / 60:.0f} min before)</em>"
                if minute.gap_before
                else ""
            )
            parts.append(f"<h3>{escape(minute.start)}{quiet}</h3>{_rows(minute.events)}")
        form = (
            "<form method=get action='/timeline'><label>user <input name=user value='"
            f"{escape(query.get('user', ''), quote=True)}'></label><label>object "
            f"<input name=object value='{escape(query.get('object', ''), quote=True)}'>"
            "</label><button>Show</button></form>"
        )
        return _layout("Timeline", form + ("".join(parts) or "<p>Nothing.</p>"))

    def top(self, query: Mapping[str, str]) -> str:
        from kubetrail.query.search import TOP_DIMENSIONS, top

        by = query.get("by", "user")
        engine = self._engine()
        try:
            result = top(engine, by, _struct(_filters(query)), self.clock(), limit=30)
        finally:
            engine.close()
        widest = max((r.events for r in result.rows), default=1)
        rows = "".join(
            f"<tr><td>{escape(str(r.value))}</td><td>{r.events:,}</td><td>"
            f"<span class=bar style='width:{200 * r.events / widest:.0f}px'></span></td>"
            f"<td>{r.bytes:,}</td></tr>"
            for r in result.rows
        )
        links = " ".join(f"<a href='/top?by={d}'>{d}</a>" for d in TOP_DIMENSIONS)
        return _layout(
            f"Top by {by}",
            f"<p>By: {links}</p><table><thead><tr><th>{escape(by)}</th><th>requests</th>"
            f"<th></th><th>bytes</th></tr></thead><tbody>{rows}</tbody></table>"
            f"<p>{result.events:,} requests in all.</p>",
        )

    @functools.cached_property
    def _pack(self) -> tuple[Any, Any]:
        """The bundled rules and correlations, loaded once for the server's life."""
        from kubetrail.detect.rules import load_pack

        rules, correlations, _ = load_pack()
        return rules, correlations

    def detections(self, query: Mapping[str, str]) -> str:
        from kubetrail.detect.engine import detect, lake_events
        from kubetrail.query.search import parse_time

        since = parse_time(query.get("since") or "24h", self.clock())
        rules, correlations = self._pack
        engine = self._engine()
        try:
            found = list(
                detect(
                    rules,
                    lake_events(engine, since, rules=rules),
                    correlations=correlations,
                    min_level=query.get("level", "low"),
                )
            )
        finally:
            engine.close()
        items = "".join(
            f"<li><strong>{escape(f.level.upper())}</strong> {escape(f.rule)}: "
            f"{escape(f.sentence)}</li>"
            for f in found
        )
        form = (
            "<form method=get action='/detections'><label>since <input name=since value='"
            f"{escape(query.get('since', '24h'), quote=True)}'></label><button>Run</button></form>"
        )
        return _layout(
            "Detections", form + f"<p>{len(found):,} findings.</p><ol class=rows>{items}</ol>"
        )

    def coverage(self, query: Mapping[str, str]) -> str:
        from kubetrail.catalog.techniques import load_techniques
        from kubetrail.policy.coverage import coverage
        from kubetrail.policy.load import load_policy
        from kubetrail.report.html import matrix_section

        if not self.policies:
            return _layout("Coverage", "<p>Start the UI with --policy FILE to see one.</p>")
        try:
            chosen = self.policies[int(query.get("policy", "0"))]
        except (ValueError, IndexError):
            raise UsageError("no such policy") from None
        loaded = load_policy(chosen)
        result = coverage(loaded.policy, load_techniques(), source=chosen)
        links = " ".join(
            f"<a href='/coverage?policy={i}'>{escape(p)}</a>" for i, p in enumerate(self.policies)
        )
        return _layout("Coverage", f"<p>{links}</p>{matrix_section(result)}")


def _filters(query: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, _ in FILTERS:
        value = query.get(key, "").strip()
        if value:
            out[key] = (value,) if key == "verb" else value
    return out


def _struct(values: Mapping[str, Any]) -> Any:
    from kubetrail.query.search import Filters

    return Filters(**values)


def _form(action: str, query: Mapping[str, str]) -> str:
    fields = "".join(
        f"<label>{escape(key.replace('_', '-'))} <input name='{key}' "
        f"value='{escape(query.get(key, ''), quote=True)}' placeholder='{escape(hint)}'>"
        "</label>"
        for key, hint in FILTERS
    )
    return (
        f"<form class=filters method=get action='{action}' role=search>{fields}"
        "<div><button>Search</button></div></form>"
    )


def _rows(rows: Sequence[Mapping[str, object]]) -> str:
    from kubetrail.query.sentences import sentence

    if not rows:
        return "<p>No events match.</p>"
    items = "".join(
        f"<li><details><summary>{escape(sentence(row))}</summary>"
        f"<pre>{escape(json.dumps(row, indent=2, ensure_ascii=False, default=str))}</pre>"
        "</details></li>"
        for row in rows
    )
    return f"<ol class=rows>{items}</ol>"


def _layout(title: str, body: str) -> str:
    nav = (
        "<nav aria-label='Pages'><a href='/'>Search</a><a href='/timeline'>Timeline</a>"
        "<a href='/top'>Top</a><a href='/detections'>Detections</a>"
        "<a href='/coverage'>Coverage</a></nav>"
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<title>kubetrail: {escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><header>{nav}<h1>{escape(title)}</h1></header><main>{body}</main></body></html>"
    )


# ---------------------------------------------------------------------------------------------
# HTTP


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    server_version = "kubetrail-ui"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: str, extra: Mapping[str, str] | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in {**HEADERS, **(extra or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _authorized(self, query: Mapping[str, str]) -> tuple[bool, dict[str, str]]:
        token = self.server.token
        if token is None:
            return True, {}
        given = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        cookie = self.headers.get("Cookie", "")
        for part in cookie.split(";"):
            name, _, value = part.strip().partition("=")
            if name == _COOKIE and value:
                given = given or value
        if hmac.compare_digest(given.encode(), token.encode()):
            return True, {}
        offered = query.get("token", "")
        if offered and hmac.compare_digest(offered.encode(), token.encode()):
            cookie_value = f"{_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
            return True, {"Set-Cookie": cookie_value}
        return False, {}

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        ok, extra = self._authorized(query)
        if not ok:
            self._send(401, _layout("Token required", "<p>Give the UI's token.</p>"),
                       {"WWW-Authenticate": "Bearer"})  # fmt: skip
            return
        try:
            page = self.server.ui.handle(url.path, query)
        except Exception:  # a bug: logged, a 500 with no detail for the browser
            log.exception("GET %s", url.path)
            page = Page(500, _layout("Error", "<p>Internal error (see the server's log).</p>"))
        self._send(page.status, page.body, extra)

    do_HEAD = do_GET

    def _refuse(self) -> None:
        self._send(405, _layout("Read-only", "<p>This UI only reads.</p>"), {"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], ui: UI, token: str | None, family: int):
        self.address_family = family
        self.ui = ui
        self.token = token
        super().__init__(address, _Handler)


def check_binding(host: str, token: str | None) -> None:
    """A UI bound beyond loopback must require a token."""
    from kubetrail.ingest.serve import is_loopback

    if not is_loopback(host) and not token:
        raise UsageError(
            f"--listen {host or '0.0.0.0'}: the UI is bound beyond this machine; give --token "
            "(or --token-file) so that only those who have it can read the lake"
        )


def make_server(ui: UI, host: str, port: int, *, token: str | None = None) -> _Server:
    import socket

    check_binding(host, token)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return _Server((host, port), ui, token, family)


def serve_in_thread(server: _Server) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="kubetrail-ui", daemon=True)
    thread.start()
    return thread
