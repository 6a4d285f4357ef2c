"""``kubetrail search``, ``timeline`` and ``top``: answers from the lake in words."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from kubetrail.cli.lake import LAKE_OPTION, engine_options, open_lake_engine

if TYPE_CHECKING:
    from kubetrail.query.search import Filters


def _filter_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The filters every query command takes (see kubetrail.query.search.Filters)."""
    options = [
        click.option(
            "--user",
            metavar="GLOB",
            help="The authenticated user or the impersonated one (glob: 'system:node:*').",
        ),
        click.option("--actor", metavar="GLOB", help="Only the authenticated user."),
        click.option("--as", "as_user", metavar="GLOB", help="Only the impersonated user."),
        click.option("--group", metavar="GLOB", help="A group of the user (or impersonated)."),
        click.option(
            "--verb", multiple=True, metavar="VERB", help="get, list, create ... (repeat or a,b)."
        ),
        click.option(
            "--resource",
            metavar="SPEC",
            help="pods (no subresource), pods/* (any), pods/exec, pods/** (both), "
            "deployments.apps (with its group), * (any resource).",
        ),
        click.option("--namespace", "-n", metavar="GLOB"),
        click.option("--name", metavar="GLOB", help="The object's name."),
        click.option("--since", metavar="WHEN", help="1h, 2d, 1w back from now, or RFC 3339."),
        click.option("--until", metavar="WHEN", help="Same forms as --since; exclusive."),
        click.option("--decision", type=click.Choice(["allow", "forbid"])),
        click.option("--code", metavar="CODE", help="Response code (403) or class (4xx)."),
        click.option("--source-ip", metavar="CIDR", help="10.0.0.0/8, 2001:db8::/32, 1.2.3.4."),
        click.option("--user-agent", metavar="TEXT", help="Substring, or a glob with * ? [."),
        click.option("--cluster", metavar="GLOB"),
        click.option("--text", metavar="TEXT", help="Substring of the request URI."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _filters(kw: dict[str, Any]) -> Filters:
    from kubetrail.query.search import Filters

    names = set(Filters.__struct_fields__)
    values = {k: v for k, v in kw.items() if k in names and v not in (None, ())}
    return Filters(**values)


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _engine(lake: str | None, kw: dict[str, Any]) -> Any:
    return open_lake_engine(lake, kw["engine"], kw["spark_master"], kw["spark_conf"])


def _none_found(filters: Filters, engine: Any, what: str = "events") -> None:
    import msgspec

    store = engine.lake
    if store is not None and not store.data_files() and not store.wal_files():
        click.echo(f"the lake at {store.root} holds no events yet (kubetrail ingest)", err=True)
        return

    given = {k: v for k, v in msgspec.structs.asdict(filters).items() if v not in (None, ())}
    said = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in given.items()) or "no filters"
    click.echo(f"no {what} match ({said})", err=True)


_Column = tuple[str, Callable[[dict[str, Any]], str]]
_TABLE: tuple[_Column, ...] = (
    ("time", lambda r: str(r.get("received_at") or "")[:19].replace("T", " ")),
    ("user", lambda r: str(r.get("user_name") or "")),
    ("as", lambda r: str(r.get("impersonated_name") or "")),
    ("verb", lambda r: str(r.get("verb") or "")),
    (
        "resource",
        lambda r: (
            str(r.get("object_resource") or "")
            + (f"/{r['object_subresource']}" if r.get("object_subresource") else "")
        ),
    ),
    (
        "object",
        lambda r: (
            "/".join(str(x) for x in (r.get("object_namespace"), r.get("object_name")) if x)
            or ("" if r.get("object_resource") else str(r.get("request_uri") or ""))
        ),
    ),
    ("code", lambda r: str(r.get("response_code") or "")),
    ("decision", lambda r: str(r.get("authz_decision") or "")),
    ("source", lambda r: str((r.get("source_ips") or [""])[0])),
    ("stage", lambda r: str(r.get("stage") or "")),
)


def _render_rows(rows: list[dict[str, Any]], fmt: str) -> None:
    out = sys.stdout
    if fmt == "json":
        out.write(json.dumps(rows, ensure_ascii=False) + "\n")
    elif fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "table":
        cells = [[get(r) for _, get in _TABLE] for r in rows]
        widths = [
            max([len(h)] + [min(48, len(c[i])) for c in cells]) for i, (h, _) in enumerate(_TABLE)
        ]
        out.write(
            "  ".join(h.upper().ljust(w) for (h, _), w in zip(_TABLE, widths, strict=True)).rstrip()
            + "\n"
        )
        for c in cells:
            line = "  ".join(
                (v if len(v) <= w else v[: w - 1] + "…").ljust(w)
                for v, w in zip(c, widths, strict=True)
            )
            out.write(line.rstrip() + "\n")
    else:
        from kubetrail.query.sentences import sentence

        for row in rows:
            out.write(sentence(row) + "\n")


_FORMAT = click.option(
    "--format",
    "-o",
    "fmt",
    type=click.Choice(["sentences", "table", "json", "jsonl"]),
    default="sentences",
    show_default=True,
    help="json/jsonl: the events as stored (secrets redacted), for jq.",
)


@click.command()
@LAKE_OPTION
@engine_options
@_filter_options
@click.option("--all-stages", is_flag=True, help="Every stage's event, not one line a request.")
@click.option(
    "--limit",
    type=click.IntRange(0),
    default=100,
    show_default=True,
    help="At most this many (newest first); 0 for all.",
)
@_FORMAT
def search(lake: str | None, all_stages: bool, limit: int, fmt: str, **kw: Any) -> int:
    """Find requests in the lake: who did what, when, where, from where.

    One line per request (its last stage), newest first, in plain sentences.
    There is no default time window: forensic data is often old.

    \b
    Examples:
      kubetrail search --user alice --since 24h
      kubetrail search --resource pods/exec --namespace prod -o table
      kubetrail search --resource secrets --verb get,list,watch --decision allow
      kubetrail search --code 403 --since 2026-11-26T00:00:00Z --until 2026-11-27
      kubetrail search --source-ip 203.0.113.0/24 -o jsonl | jq .request_uri
    """
    from kubetrail.query.search import search as run_search

    filters = _filters(kw)
    engine = _engine(lake, kw)
    try:
        rows = run_search(engine, filters, _now(), all_stages=all_stages, limit=limit or None)
    finally:
        engine.close()
    _render_rows(rows, fmt)
    if not rows:
        _none_found(filters, engine)
    elif limit and len(rows) == limit and fmt in ("sentences", "table"):
        click.echo(f"(the newest {limit:,}; --limit 0 for all)", err=True)
    return 0


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


@click.command()
@LAKE_OPTION
@click.option("--object", "obj", metavar="RESOURCE/[NAMESPACE/]NAME", help="pods/default/web.")
@_filter_options
@engine_options
@click.option(
    "--gap",
    default="10m",
    show_default=True,
    metavar="DURATION",
    help="Mark quiet spells at least this long.",
)
@click.option(
    "--limit", type=click.IntRange(1), default=10_000, show_default=True, help="At most this many."
)
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Every container log line (by default more than 3 a minute are counted).",
)
@_FORMAT
def timeline(
    lake: str | None, obj: str | None, gap: str, limit: int, verbose: bool, fmt: str, **kw: Any
) -> int:
    """The story of one identity or one object, oldest first, minute by minute.

    With the other layers in the lake (kubetrail ingest --layer), the object's
    Events, its containers' log lines and the component log lines that name it
    (pod="default/web-1") are merged in, each marked by its layer.

    \b
    Examples:
      kubetrail timeline --user alice --since 7d
      kubetrail timeline --object pods/default/priv-pod
      kubetrail timeline --user 'system:serviceaccount:ci:*' --gap 1h
    """
    from datetime import UTC, datetime

    from kubetrail.errors import UsageError
    from kubetrail.query.search import object_filters, parse_time
    from kubetrail.query.search import timeline as run_timeline

    filters = _filters(kw)
    if obj:
        filters = object_filters(obj, filters)
    if not (filters.user or filters.actor or filters.as_user or obj):
        raise UsageError("give --user NAME or --object RESOURCE/[NAMESPACE/]NAME")
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    quiet = epoch - parse_time(gap, epoch, flag="--gap")
    from kubetrail.layers.story import merge, other_layers

    now = _now()
    since = parse_time(filters.since, now) if filters.since else None
    until = parse_time(filters.until, now, flag="--until") if filters.until else None
    engine = _engine(lake, kw)
    try:
        minutes = run_timeline(engine, filters, now, gap=quiet, limit=limit)
        entries = other_layers(
            engine,
            obj=obj,
            user=None if obj else (filters.user or filters.actor),
            since=since,
            until=until,
            verbose=verbose,
            limit=limit,
        )
    finally:
        engine.close()
    # Without other layers the output is the audit timeline's, unchanged (stable JSON).
    _render_minutes(merge(minutes, entries, quiet) if entries else minutes, fmt)
    if not minutes and not entries:
        _none_found(filters, engine)
    return 0


_MARKS = {"event": "Event", "container": "log", "component": "component"}


def _render_minutes(minutes: list[Any], fmt: str) -> None:
    """Timeline minutes (audit only, or merged with the other layers' entries)."""
    import msgspec

    from kubetrail.query.sentences import sentence

    if fmt in ("json", "jsonl"):
        docs = [msgspec.to_builtins(m) for m in minutes]
        if fmt == "json":
            sys.stdout.write(json.dumps(docs, ensure_ascii=False) + "\n")
        else:
            for doc in docs:
                sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
        return
    if fmt == "table":
        _render_rows([e for m in minutes for e in m.events], "table")
        return
    for minute in minutes:
        if minute.gap_before is not None:
            click.echo(f"   ⋮  {_duration(minute.gap_before)} quiet")
        click.echo(minute.start[:16].replace("T", " ") + "Z")
        lines = [(str(e.get("received_at")), "audit", sentence(e, with_time=False))
                 for e in minute.events]  # fmt: skip
        lines += [(e.time, e.layer, e.text) for e in getattr(minute, "layers", [])]
        for when, layer, text in sorted(lines, key=lambda x: x[0]):
            mark = "" if layer == "audit" else f"[{_MARKS[layer]}] "
            click.echo(f"  {when[11:19]}  {mark}{text}")


@click.command()
@LAKE_OPTION
@click.option(
    "--by",
    type=click.Choice(
        ["user", "verb", "resource", "namespace", "user-agent", "source-ip", "code", "cluster"]
    ),
    default="user",
    show_default=True,
)
@_filter_options
@engine_options
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@click.option(
    "--format", "-o", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def top(lake: str | None, by: str, limit: int, fmt: str, **kw: Any) -> int:
    """Who and what is busiest: requests and log bytes by one dimension.

    Counts requests (each once, valued as its last stage), largest first, over
    the filters given (e.g. a time window). Bytes are the size of each request's
    last event as stored (redacted).

    \b
    Examples:
      kubetrail top --by user --since 24h
      kubetrail top --by resource --user 'system:serviceaccount:*'
      kubetrail top --by code --since 1h -o json
    """
    import msgspec

    from kubetrail.query.search import top as run_top
    from kubetrail.text import human_bytes

    filters = _filters(kw)
    engine = _engine(lake, kw)
    try:
        result = run_top(engine, by, filters, _now(), limit=limit)
    finally:
        engine.close()
    rows, total = result.rows, result.events
    if fmt == "json":
        sys.stdout.write(json.dumps(msgspec.to_builtins(result), ensure_ascii=False) + "\n")
        return 0
    if not rows:
        _none_found(filters, engine, "requests")
        return 0
    none = "(non-resource)" if by == "resource" else "(none)"
    label = min(60, max([len(by)] + [len(none if r.value is None else r.value) for r in rows]))
    width = 30
    peak = rows[0].events
    click.echo(f"{by.upper():<{label}}  {'REQUESTS':>10}  {'SHARE':>6}  {'':<{width}}  BYTES")
    for row in rows:
        value = none if row.value is None else str(row.value)
        value = value if len(value) <= label else value[: label - 1] + "…"
        bar = "█" * max(1, round(width * row.events / peak))
        share = 100 * row.events / total if total else 0
        click.echo(
            f"{value:<{label}}  {row.events:>10,}  {share:>5.1f}%  {bar:<{width}}  "
            f"{human_bytes(row.bytes)}"
        )
    shown = sum(r.events for r in rows)
    rest = f", {total - shown:,} in {by} values not shown" if total > shown else ""
    unsized = (
        f"; {result.unsized:,} stored before kubetrail recorded sizes count 0 B"
        if result.unsized
        else ""
    )
    click.echo(f"{total:,} requests, {human_bytes(result.bytes)} logged{rest}{unsized}", err=True)
    return 0
