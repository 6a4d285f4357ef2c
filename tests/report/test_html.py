"""kubetrail report: one HTML file, checked as text and rendered in headless Chromium
(Debian's chromium, driven by Playwright): no console errors, no network request, the
coverage matrix in the colours of each technique's status for the GKE policy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kubetrail.catalog.techniques import load_techniques
from kubetrail.cli import main
from kubetrail.policy.coverage import CALLERS, coverage
from kubetrail.policy.load import load_policy
from kubetrail.report.html import COLOURS, PolicyReport, _caller_status, render, sha256

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
# As the machine's notes say: without the background-networking flags Chromium tries to reach
# Google's hosts at start, which would count as network requests.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _rgb(colour: str) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


@pytest.fixture(scope="module")
def gke(corpus: Path) -> Path:
    return corpus / "policies" / "gce-gke-configure-helper.yaml"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kubetrail.sample.generate import generate

    path = tmp_path_factory.mktemp("sample") / "audit.log"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with open(path, "wb") as fh:
        for line in generate(nodes=2, seconds=120, seed=4, start=start):
            fh.write(line + b"\n")
    return path


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A policy that logs everything but anonymous requests: callers make a difference."""
    path = tmp_path_factory.mktemp("quiet") / "quiet-anonymous.yaml"
    path.write_text(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"
        "- level: None\n  users: [system:anonymous]\n- level: RequestResponse\n"
    )
    return path


@pytest.fixture(scope="module")
def report(gke: Path, quiet: Path, sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    args = ["report", str(gke), str(quiet), "--sample", str(sample), "-o", str(out)]
    assert main(args) == 0
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def test_the_file_is_self_contained_and_names_what_it_reports(report: Path, gke: Path) -> None:
    html = report.read_text()
    assert sha256(gke.read_bytes()) in html
    assert "kubetrail</dt><dd>0.1.0" in html
    assert re.search(r"<time datetime='\d{4}-\d\d-\d\dT", html)
    # Nothing to fetch: no external stylesheet, script, image or frame; links are anchors.
    assert not re.search(r"<(link|img|iframe|object|embed)\b", html)
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', html))
    assert "default-src 'none'" in html
    for section in ("coverage", "lint", "volume", "detections"):
        assert f'id="{section}"' in html


def test_policy_text_is_escaped(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "# </script><script>alert(1)</script>\napiVersion: audit.k8s.io/v1\n"
        "rules:\n- level: Metadata\n"
    )
    loaded = load_policy(str(policy))
    html = render(
        [
            PolicyReport(
                source=str(policy),
                data=policy.read_bytes(),
                coverage=coverage(loaded.policy, load_techniques(), source=str(policy)),
                lint=[],
            )
        ],
        now=datetime(2026, 12, 3, tzinfo=UTC),
        version="0.1.0",
    )
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_rendered_in_chromium(browser: Any, report: Path, gke: Path, quiet: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-gke.png"), full_page=True)
    assert errors == []
    assert requests == [report.as_uri()]  # the file itself, nothing else

    # The matrix: every technique once, in the colours of the library's verdicts.
    result = coverage(load_policy(str(gke)).policy, load_techniques(), source=str(gke))
    expected = {t.technique.id: t.status for t in result.techniques}
    first = page.locator("#m0")
    shown = first.locator(".cell").evaluate_all(
        "cells => cells.map(c => [c.dataset.technique, c.dataset.status, "
        "getComputedStyle(c).backgroundColor, c.querySelector('.badge').textContent])"
    )
    assert {tid: status for tid, status, _, _ in shown} == expected
    for _, status, background, badge in shown:
        assert background == _rgb(COLOURS[status][0])
        assert badge == status  # the word, not only the colour
    assert {"covered", "partial", "unsafe"} <= set(expected.values())

    # The identity toggle, on the second policy: anonymous callers only.
    quiet_result = coverage(load_policy(str(quiet)).policy, load_techniques(), source="q")
    overall = {t.technique.id: t.status for t in quiet_result.techniques}
    second = page.locator("#m1")
    page.select_option("#caller-1", "anonymous")
    chosen = dict(
        second.locator(".cell").evaluate_all(
            "cells => cells.map(c => [c.dataset.technique, c.dataset.status])"
        )
    )
    assert chosen == {
        t.technique.id: _caller_status(t, "anonymous") for t in quiet_result.techniques
    }
    # Techniques partial overall (logged for every caller but the anonymous one) are missed.
    assert any(overall[t] == "partial" and chosen[t] == "missed" for t in overall)
    counts = page.locator("#coverage .legend").nth(1).locator(".count").all_text_contents()
    assert [int(c) for c in counts] == [
        list(chosen.values()).count(s) for s in ("covered", "partial", "missed", "unsafe")
    ]

    # Keyboard: a cell opens with Enter and shows its requests.
    cell = first.locator(".cell summary").first
    cell.focus()
    page.keyboard.press("Enter")
    assert first.locator(".cell details").first.get_attribute("open") is not None
    assert first.locator(".cell .variants").first.is_visible()

    # It prints: the print styles hide the toggle, and Chromium lays it out as PDF pages.
    page.emulate_media(media="print")
    assert not page.locator("#caller-0").is_visible()
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")
    assert pdf.count(b"/Type /Page") > 3
    page.emulate_media(media="screen")

    # Volume and detections are drawn, with text alternatives.
    assert page.locator("#volume svg[role=img]").first.get_attribute("aria-label")
    assert page.locator("#detections ol.findings li").count() > 0
    page.close()


def test_callers_of_the_toggle_are_the_coverage_callers() -> None:
    assert [c.name for c in CALLERS] == [
        "user",
        "app-serviceaccount",
        "kube-system-serviceaccount",
        "node",
        "anonymous",
    ]


def test_from_the_lake_the_bytes_are_labelled_estimates(
    gke: Path, sample: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    assert main(["ingest", str(sample), "--lake", str(lake)]) == 0
    out = tmp_path / "r.html"
    assert main(["report", str(gke), "--lake", str(lake), "-o", str(out)]) == 0
    html = out.read_text()
    assert "Bytes are estimates" in html
    assert "findings (level low and above)" in html
    assert main(["report", str(gke), "--lake", str(lake), "--sample", str(sample)]) == 2
