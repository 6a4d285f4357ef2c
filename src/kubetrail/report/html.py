"""``kubetrail report``: one self-contained HTML file about one or more policies.

The file makes no request of its own (inline CSS, SVG and a few lines of JavaScript; a
Content-Security-Policy forbids anything else), so it works offline and attached to an email
or a change request. It holds:

* a header: each policy's SHA-256, kubetrail's version, the time of the run;
* the coverage matrix: techniques as cells in columns by tactic (the ATT&CK layout), coloured
  covered / partial / missed / unsafe and labelled in words (colour is never the only
  signal); each cell expands to its variants; a toggle shows one kind of caller;
* lint findings with their ``file:line``, and the policy itself with findings marked in the
  margin;
* volume (with events): bytes per day per rule as bars (an SVG with a text alternative and
  the numbers in a table), top users, the rotation forecast, policies side by side;
* detections (with events): a timeline of findings and each finding's sentence.

Every value from a policy, an event or a finding is escaped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import Final

import msgspec

from kubetrail.catalog.techniques import TACTICS
from kubetrail.policy.coverage import CALLERS, Coverage, TechniqueResult
from kubetrail.policy.lint.base import Finding as LintFinding
from kubetrail.policy.volume import PolicyResult, SampleInfo
from kubetrail.text import human_bytes

STATUSES: Final = ("covered", "partial", "missed", "unsafe")
# Background and text colours of each status: text contrast at least 7:1 (WCAG AAA) on its
# background, and distinct for the common colour-vision deficiencies (plus the word itself).
COLOURS: Final = {
    "covered": ("#d1f0d9", "#0b3d1b"),
    "partial": ("#fde8b0", "#4a3200"),
    "missed": ("#f9d0d0", "#5c0a0a"),
    "unsafe": ("#e4dcf7", "#2e1a5e"),
}
_LEVEL_COLOURS: Final = {
    "critical": "#7a0019",
    "high": "#b3261e",
    "medium": "#8a5a00",
    "low": "#1d4f91",
    "informational": "#4a4a4a",
}


class PolicyReport(msgspec.Struct, frozen=True, kw_only=True):
    """What the report shows of one policy."""

    source: str
    data: bytes  # the file as read: its hash and its lines
    coverage: Coverage
    lint: Sequence[LintFinding]
    volume: PolicyResult | None = None


class DetectionRow(msgspec.Struct, frozen=True, kw_only=True):
    """One finding, as the report shows it."""

    rule: str
    title: str
    level: str
    received_at: str | None
    sentence: str


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _caller_status(result: TechniqueResult, caller: str) -> str:
    """A technique's status for one kind of caller (variants only the technique's own
    caller makes count for every kind)."""
    if result.technique.secret_material:
        return "unsafe"
    mine = [v for v in result.variants if v.caller in (caller, "as-described")]
    if not mine:
        return result.status
    if all(v.sufficient for v in mine):
        return "covered"
    return "partial" if any(v.sufficient for v in mine) else "missed"


def _cell(result: TechniqueResult) -> str:
    t = result.technique
    per_caller = " ".join(f'data-s-{c.name}="{_caller_status(result, c.name)}"' for c in CALLERS)
    rows = "".join(
        "<tr>"
        f"<td>{escape(v.caller)}</td>"
        f"<td><code>{escape(v.attributes.verb)} "
        f"{escape(v.attributes.resource_path or v.attributes.path or '')}</code></td>"
        f"<td>{escape(v.decision.level.value)}</td><td>{escape(v.needed.value)}</td>"
        f"<td>{'yes' if v.sufficient else 'no'}</td>"
        "</tr>"
        for v in result.variants
    )
    gaps = len(result.gaps)
    title = f"{t.id} {t.name}: {result.status}" + (f", {gaps} gap(s)" if gaps else "")
    return (
        f'<li class="cell" data-status="{result.status}" data-all="{result.status}" '
        f'data-technique="{escape(t.id)}" {per_caller}>'
        f'<details><summary title="{escape(title)}"><span class="tname">{escape(t.name)}</span>'
        f'<span class="badge">{result.status}</span></summary>'
        f'<p class="tid"><code>{escape(t.id)}</code></p><p>{escape(t.description)}</p>'
        '<table class="variants"><caption>Requests tried, and how the policy logs them'
        "</caption><thead><tr><th scope=col>caller</th><th scope=col>request</th>"
        "<th scope=col>logged at</th><th scope=col>needs</th><th scope=col>enough</th>"
        f"</tr></thead><tbody>{rows}</tbody></table></details></li>"
    )


def matrix_section(coverage: Coverage) -> str:
    """The coverage matrix alone, with its styles, for a page that runs no script (the UI):
    every cell still opens to its requests; there is no caller toggle."""
    return f"<style>{_style()}</style>{_matrix(0, coverage, toggle=False)}"


def _matrix(index: int, coverage: Coverage, *, toggle: bool = True) -> str:
    counts = coverage.summary()
    legend = "".join(
        f'<li><span class="swatch" data-status="{s}"></span>{s} '
        f'<span class="count" data-count="{s}">{counts[s]}</span></li>'
        for s in STATUSES
    )
    options = '<option value="all">every kind of caller</option>' + "".join(
        f'<option value="{c.name}">{c.name} only</option>' for c in CALLERS
    )
    columns = []
    for tactic in TACTICS:
        cells = [t for t in coverage.techniques if t.technique.tactic == tactic]
        if not cells:
            continue
        items = "".join(_cell(t) for t in sorted(cells, key=lambda t: t.technique.name))
        columns.append(
            f'<div class="tactic" role="group" aria-labelledby="t{index}-{tactic}">'
            f'<h4 id="t{index}-{tactic}">{escape(tactic.replace("-", " "))}</h4>'
            f"<ul>{items}</ul></div>"
        )
    return (
        f"<p>{coverage.percent():.1f}% of the techniques that can be logged safely are covered "
        f"for every kind of caller.</p>"
        f'<ul class="legend" aria-label="Legend">{legend}</ul>'
        + (
            f'<p><label for="caller-{index}">Show for </label><select id="caller-{index}" '
            f'class="caller" data-matrix="m{index}">{options}</select></p>'
            if toggle
            else ""
        )
        + f'<div class="matrix" id="m{index}">{"".join(columns)}</div>'
    )


def _lint(index: int, report: PolicyReport) -> str:
    by_line: dict[int, list[LintFinding]] = {}
    for f in report.lint:
        if f.location.line:
            by_line.setdefault(f.location.line, []).append(f)
    if report.lint:
        rows = "".join(
            f'<tr id="f{index}-{n}"><td><code>{escape(f.code)}</code></td>'
            f"<td>{escape(str(f.severity))}</td><td>{escape(f.message)}"
            + (f'<br><span class="hint">{escape(f.hint)}</span>' if f.hint else "")
            + f"</td><td><code>{escape(str(f.location))}</code></td></tr>"
            for n, f in enumerate(report.lint)
        )
        table = (
            "<table><caption>Lint findings (kubetrail policy lint --explain CODE)</caption>"
            "<thead><tr><th scope=col>code</th><th scope=col>severity</th>"
            "<th scope=col>finding</th><th scope=col>where</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    else:
        table = "<p>No lint findings.</p>"
    position = {id(f): n for n, f in enumerate(report.lint)}
    lines = []
    text = report.data.decode("utf-8", errors="replace").splitlines()
    for number, line in enumerate(text, start=1):
        marks = by_line.get(number, [])
        margin = " ".join(
            f'<a href="#f{index}-{position[id(f)]}" class="mark" '
            f'title="{escape(f.code)}: {escape(f.message)}">{escape(f.code)}</a>'
            for f in marks
        )
        cls = ' class="flagged"' if marks else ""
        lines.append(
            f'<tr{cls}><td class="margin">{margin}</td><td class="ln">{number}</td>'
            f"<td><code>{escape(line) or ' '}</code></td></tr>"
        )
    return (
        f"{table}<details><summary>The policy, findings in the margin</summary>"
        f'<table class="source"><caption>{escape(report.source)}</caption>'
        f"<tbody>{''.join(lines)}</tbody></table></details>"
    )


def _bars(result: PolicyResult) -> str:
    """Bytes per day per rule: an SVG bar chart, with its numbers in a table."""
    per_byte = result.bytes_per_day / result.bytes if result.bytes else 0.0
    rules = [r for r in sorted(result.rules, key=lambda r: -r.bytes) if r.bytes][:12]
    if not rules:
        return "<p>This policy writes nothing for these events.</p>"
    widest = max(r.bytes for r in rules)
    height = 22 * len(rules) + 8
    bars = []
    rows = []
    for i, r in enumerate(rules):
        per_day = r.bytes * per_byte
        label = f"rules[{r.index}]" + (f" (line {r.line})" if r.line else "") + f" {r.level}"
        width = max(1.0, 360 * r.bytes / widest)
        y = 4 + 22 * i
        bars.append(
            f"<g><title>{escape(label)}: {human_bytes(per_day)} a day</title>"
            f'<text x="0" y="{y + 14}" class="bl">{escape(label)}</text>'
            f'<rect x="230" y="{y}" width="{width:.1f}" height="16" class="bar"></rect>'
            f'<text x="{236 + width:.1f}" y="{y + 13}" class="bv">{human_bytes(per_day)}</text>'
            "</g>"
        )
        rows.append(
            f"<tr><td>{escape(label)}</td><td>{r.events:,}</td><td>{human_bytes(per_day)}</td></tr>"
        )
    summary = ", ".join(f"rules[{r.index}] {human_bytes(r.bytes * per_byte)}" for r in rules[:3])
    return (
        f'<svg class="chart" viewBox="0 0 700 {height}" role="img" '
        f'aria-label="Bytes per day by rule; largest: {escape(summary)}">'
        f"{''.join(bars)}</svg>"
        "<details><summary>The numbers</summary><table><thead><tr><th scope=col>rule</th>"
        "<th scope=col>events</th><th scope=col>bytes a day</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></details>"
    )


def _volume(reports: Sequence[PolicyReport], sample: SampleInfo, estimated: bool) -> str:
    results = [r.volume for r in reports if r.volume is not None]
    if not results:
        return ""
    head = "".join(f"<th scope=col><code>{escape(r.path)}</code></th>" for r in results)

    def row(label: str, values: list[str]) -> str:
        return f"<tr><th scope=row>{label}</th>" + "".join(f"<td>{v}</td>" for v in values)

    hours = ["unlimited" if r.hours_kept is None else f"{r.hours_kept:,.1f} h" for r in results]
    table = (
        "<table><caption>What each policy would write</caption>"
        f"<thead><tr><td></td>{head}</tr></thead><tbody>"
        + row("events", [f"{r.events:,}" for r in results])
        + row("bytes", [human_bytes(r.bytes) for r in results])
        + row("gzip", [human_bytes(r.gzip_bytes) for r in results])
        + row("per day", [human_bytes(r.bytes_per_day) for r in results])
        + row("history the rotation keeps", hours)
        + "</tbody></table>"
    )
    note = (
        " Bytes are estimates: the events come from the lake (stored canonical, secrets redacted)."
        if estimated
        else ""
    )
    per_policy = "".join(
        f"<h3><code>{escape(r.path)}</code></h3>{_bars(r)}"
        + "<p>Top users by bytes: "
        + (
            ", ".join(f"{escape(t.name)} {human_bytes(t.bytes)}" for t in r.top["users"][:5])
            or "none"
        )
        + "</p>"
        for r in results
    )
    span = sample.seconds / 3600
    return (
        '<section id="volume" aria-labelledby="volume-h"><h2 id="volume-h">Volume</h2>'
        f"<p>From {sample.events:,} events ({human_bytes(sample.bytes)}, {span:.2f} h of "
        f"traffic), extrapolated to a day.{note}</p>{table}{per_policy}</section>"
    )


def _timeline(rows: Sequence[DetectionRow]) -> str:
    times: list[datetime | None] = []
    for r in rows:
        try:
            times.append(datetime.fromisoformat(str(r.received_at).replace("Z", "+00:00")))
        except ValueError:
            times.append(None)
    known = [t for t in times if t is not None]
    if not known:
        return ""
    start, end = min(known), max(known)
    span = max((end - start).total_seconds(), 1.0)
    levels = list(_LEVEL_COLOURS)
    dots = []
    for r, t in zip(rows, times, strict=True):
        if t is None:
            continue
        x = 20 + 660 * (t - start).total_seconds() / span
        y = 20 + 24 * (levels.index(r.level) if r.level in levels else len(levels) - 1)
        colour = _LEVEL_COLOURS.get(r.level, "#4a4a4a")
        dots.append(
            f'<circle cx="{x:.1f}" cy="{y}" r="6" fill="{colour}">'
            f"<title>{escape(r.level)} {escape(r.rule)}: {escape(r.sentence)}</title></circle>"
        )
    lanes = "".join(
        f'<text x="0" y="{24 + 24 * i}" class="lane">{lvl}</text>' for i, lvl in enumerate(levels)
    )
    label = (
        f"{len(known)} findings from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC, "
        "by level; each is listed below"
    )
    return (
        f'<svg class="chart timeline" viewBox="-90 0 790 {24 * len(levels) + 16}" role="img" '
        f'aria-label="{escape(label)}">{lanes}{"".join(dots)}</svg>'
    )


def _detections(rows: Sequence[DetectionRow] | None) -> str:
    if rows is None:
        return ""
    ordered = sorted(rows, key=lambda r: (str(r.received_at or ""), r.rule))
    items = "".join(
        f'<li data-level="{escape(r.level)}"><span class="lvl lvl-{escape(r.level)}">'
        f"{escape(r.level)}</span> <strong>{escape(r.rule)}</strong>: {escape(r.sentence)}</li>"
        for r in ordered
    )
    body = f"{_timeline(ordered)}<ol class='findings'>{items}</ol>" if rows else "<p>None.</p>"
    return (
        '<section id="detections" aria-labelledby="det-h"><h2 id="det-h">Detections</h2>'
        f"<p>{len(rows):,} findings (level low and above) of the bundled rules in these "
        f"events.</p>{body}</section>"
    )


_SCRIPT: Final = """
document.querySelectorAll('select.caller').forEach(function (select) {
  select.addEventListener('change', function () {
    var matrix = document.getElementById(select.dataset.matrix);
    var key = select.value === 'all' ? 'all' : 's-' + select.value;
    var counts = {};
    matrix.querySelectorAll('.cell').forEach(function (cell) {
      var status = cell.getAttribute('data-' + key);
      cell.dataset.status = status;
      cell.querySelector('.badge').textContent = status;
      counts[status] = (counts[status] || 0) + 1;
    });
    matrix.parentNode.querySelectorAll('.legend .count').forEach(function (c) {
      c.textContent = counts[c.dataset.count] || 0;
    });
  });
});
"""


def _style() -> str:
    status = "".join(
        f'[data-status="{s}"]{{background:{bg};color:{fg};border-color:{fg}}}'
        for s, (bg, fg) in COLOURS.items()
    )
    return (
        "body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1400px;padding:1rem;"
        "color:#1b1b1b;background:#fff}"
        "h1{font-size:1.5rem}h2{border-bottom:2px solid #333;margin-top:2rem}"
        "header dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}"
        "header dt{font-weight:600}code{font-family:ui-monospace,monospace;font-size:.92em}"
        "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #999;"
        "padding:.2rem .4rem;text-align:left;vertical-align:top}caption{text-align:left;"
        "font-weight:600}.matrix{display:grid;grid-template-columns:repeat(auto-fill,"
        "minmax(12rem,1fr));gap:.5rem;align-items:start}.tactic h4{margin:.2rem 0;"
        "text-transform:capitalize}.tactic ul,.legend{list-style:none;margin:0;padding:0}"
        ".cell{border:1px solid;border-radius:4px;margin:0 0 .3rem}.cell summary{cursor:pointer;"
        "padding:.3rem;display:flex;justify-content:space-between;gap:.3rem}"
        ".cell[open] summary,.cell details[open] summary{font-weight:600}"
        ".tname{min-width:0;overflow-wrap:anywhere}.badge{font-size:.75rem;flex-shrink:0;"
        "text-transform:uppercase;letter-spacing:.03em;align-self:start}"
        ".cell details>*:not(summary){margin:.3rem;background:#fff;color:#1b1b1b}"
        ".variants{font-size:.8rem}.legend{display:flex;gap:1rem;flex-wrap:wrap}"
        ".swatch{display:inline-block;width:1rem;height:1rem;border:1px solid;"
        "vertical-align:middle;margin-right:.3rem}"
        ":focus-visible{outline:3px solid #0b57d0;outline-offset:2px}"
        ".source td{border:0;padding:0 .4rem}.source .ln{color:#555;text-align:right}"
        ".source .flagged{background:#fff4ce}.mark{color:#5c0a0a;font-weight:600}"
        ".chart{width:100%;max-width:900px}.bar{fill:#1d4f91}.bl,.bv,.lane{font-size:12px;"
        "fill:#1b1b1b}.hint{color:#444}.lvl{font-weight:700;text-transform:uppercase;"
        "font-size:.8rem}"
        + "".join(f".lvl-{k}{{color:{v}}}" for k, v in _LEVEL_COLOURS.items())
        + status
        + "@media print{body{max-width:none;font-size:11px}select,label[for^=caller]{display:"
        "none}.cell,.tactic,tr{break-inside:avoid}a{color:inherit;text-decoration:none}}"
    )


def render(
    reports: Sequence[PolicyReport],
    *,
    now: datetime,
    version: str,
    sample: SampleInfo | None = None,
    estimated: bool = False,
    detections: Sequence[DetectionRow] | None = None,
) -> str:
    """The report, as one HTML document."""
    names = ", ".join(r.source for r in reports)
    header = "".join(
        f"<dt>policy</dt><dd><code>{escape(r.source)}</code></dd>"
        f"<dt>SHA-256</dt><dd><code class='sha'>{sha256(r.data)}</code></dd>"
        for r in reports
    )
    header += (
        f"<dt>kubetrail</dt><dd>{escape(version)}</dd>"
        f"<dt>generated</dt><dd><time datetime='{now.isoformat()}'>"
        f"{now:%Y-%m-%d %H:%M:%S} UTC</time></dd>"
    )
    coverage = "".join(
        (f"<h3><code>{escape(r.source)}</code></h3>" if len(reports) > 1 else "")
        + _matrix(i, r.coverage)
        for i, r in enumerate(reports)
    )
    lint = "".join(
        (f"<h3><code>{escape(r.source)}</code></h3>" if len(reports) > 1 else "") + _lint(i, r)
        for i, r in enumerate(reports)
    )
    volume = _volume(reports, sample, estimated) if sample is not None else ""
    sections = [("coverage", "Coverage"), ("lint", "Lint")]
    if volume:
        sections.append(("volume", "Volume"))
    if detections is not None:
        sections.append(("detections", "Detections"))
    toc = "".join(f'<li><a href="#{k}">{v}</a></li>' for k, v in sections)
    csp = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
    # Machine-readable facts for tools that open the file; "<" escaped: no "</script>" inside.
    data = json.dumps(
        {
            "policies": [{"source": r.source, "sha256": sha256(r.data)} for r in reports],
            "version": version,
            "generated": now.isoformat(),
        }
    ).replace("<", "\\u003c")
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{csp}\">"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>kubetrail report: {escape(names)}</title><style>{_style()}</style></head>"
        f"<body><header><h1>Audit policy report</h1><dl>{header}</dl>"
        f"<nav aria-label='Sections'><ul>{toc}</ul></nav></header><main>"
        '<section id="coverage" aria-labelledby="cov-h"><h2 id="cov-h">Coverage</h2>'
        "<p>Which attack techniques visible to the API server the policy logs at the level "
        "that reveals them, tried for five kinds of caller. Open a cell for its requests.</p>"
        f"{coverage}</section>"
        f'<section id="lint" aria-labelledby="lint-h"><h2 id="lint-h">Lint</h2>{lint}</section>'
        f"{volume}{_detections(detections)}</main>"
        f"<script type='application/json' id='kubetrail-report'>{data}</script>"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
