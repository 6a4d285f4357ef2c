"""kubetrail ui: a real HTTP server on loopback, driven by headless Chromium (Playwright) and
by plain requests: the search page shows the library's sentences for corpus events, the token
is enforced, the headers are set, and the UI only reads."""

from __future__ import annotations

import contextlib
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kubetrail.errors import UsageError
from kubetrail.ingest.pipeline import Ingestor
from kubetrail.ingest.read import ReadReport, expand_paths, read_lines
from kubetrail.lake.engine import DuckDBEngine
from kubetrail.lake.store import Lake
from kubetrail.query.search import Filters, search
from kubetrail.query.sentences import sentence
from kubetrail.web.app import HEADERS, UI, check_binding, make_server, serve_in_thread
from tests.report.test_html import CHROMIUM, FLAGS

NOW = datetime(2026, 12, 3, tzinfo=UTC)
TOKEN = "s3cret-token-for-tests"


@pytest.fixture(scope="module")
def lake(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    store = Lake(tmp_path_factory.mktemp("ui") / "lake", create=True)
    ing = Ingestor(store, "corpus")
    paths = [str(corpus / "upstream" / "falco"), str(corpus / "upstream" / "audit2rbac")]
    for line in read_lines(expand_paths(paths), ReadReport()):
        with contextlib.suppress(ValueError):  # LICENSE files
            ing.add(line.data, f"{line.source}:{line.number}")
    ing.close()
    return store


@pytest.fixture(scope="module")
def servers(lake: Lake, corpus: Path) -> Iterator[tuple[str, str]]:
    """(open base URL, token-protected base URL), both on loopback."""
    gke = str(corpus / "policies" / "gce-gke-configure-helper.yaml")
    ui = UI(lake, policies=[gke], clock=lambda: NOW)
    open_server = make_server(ui, "127.0.0.1", 0)
    locked = make_server(ui, "127.0.0.1", 0, token=TOKEN)
    for server in (open_server, locked):
        serve_in_thread(server)
    yield (
        f"http://127.0.0.1:{open_server.server_address[1]}",
        f"http://127.0.0.1:{locked.server_address[1]}",
    )
    for server in (open_server, locked):
        server.shutdown()
        server.server_close()


def fetch(url: str, *, method: str = "GET", headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read().decode()


def test_search_in_chromium_shows_the_librarys_sentences(
    lake: Lake, servers: tuple[str, str]
) -> None:
    from playwright.sync_api import sync_playwright

    engine = DuckDBEngine(lake)
    try:
        expected = [
            sentence(r) for r in search(engine, Filters(user="minikube-user"), NOW, limit=200)
        ]
    finally:
        engine.close()
    assert len(expected) > 5
    _, locked = servers
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{locked}/?token={TOKEN}")  # sets the cookie; then plain navigation
        page.fill("input[name=user]", "minikube-user")
        page.click("button")
        page.wait_for_load_state("load")
        assert "user=minikube-user" in page.url
        shown = page.locator("ol.rows > li > details > summary").all_text_contents()
        assert shown == expected
        page.locator("ol.rows summary").first.click()  # the raw event, one click away
        raw = page.locator("ol.rows pre").first.text_content() or ""
        assert '"audit_id"' in raw
        page.goto(f"{locked}/top?by=verb")
        assert page.locator("table tbody tr").count() > 2
        page.goto(f"{locked}/coverage")
        assert page.locator(".cell").count() > 50
        assert errors == []
        browser.close()


def test_a_token_is_required_when_set(servers: tuple[str, str]) -> None:
    _, locked = servers
    status, headers, _ = fetch(f"{locked}/?user=x")
    assert status == 401
    assert headers["WWW-Authenticate"] == "Bearer"
    assert fetch(f"{locked}/?user=x", headers={"Authorization": "Bearer nope"})[0] == 401
    assert fetch(f"{locked}/?user=x", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200
    status, headers, _ = fetch(f"{locked}/?token={TOKEN}")
    assert status == 200
    assert "HttpOnly" in headers["Set-Cookie"]
    cookie = headers["Set-Cookie"].split(";")[0]
    assert fetch(f"{locked}/", headers={"Cookie": cookie})[0] == 200


def test_headers_read_only_and_bound_parameters(servers: tuple[str, str]) -> None:
    base, _ = servers
    status, headers, body = fetch(f"{base}/?user=" + urllib.request.quote("o'brien' OR 1=1 --"))
    assert status == 200
    assert "No events match" in body
    for key, value in HEADERS.items():
        assert headers[key] == value
    assert fetch(f"{base}/", method="POST")[0] == 405
    assert fetch(f"{base}/", method="DELETE")[0] == 405
    assert fetch(f"{base}/nothing")[0] == 404
    status, _, body = fetch(f"{base}/?code=99x")
    assert status == 400
    assert "--code" in body
    status, _, body = fetch(f"{base}/timeline?user=minikube-user")
    assert status == 200
    assert "minikube-user" in body
    status, _, body = fetch(f"{base}/detections?since=3000d")
    assert status == 200
    assert "findings" in body
    assert fetch(f"{base}/coverage?policy=../../etc/passwd")[0] == 400


def test_beyond_loopback_a_token_is_required() -> None:
    check_binding("127.0.0.1", None)
    check_binding("::1", None)
    with pytest.raises(UsageError, match="--token"):
        check_binding("0.0.0.0", None)
    check_binding("0.0.0.0", "t")
