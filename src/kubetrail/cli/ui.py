"""``kubetrail ui``: the read-only web UI on the lake."""

from __future__ import annotations

import click

from kubetrail.cli.lake import LAKE_OPTION, resolve_lake


@click.command()
@LAKE_OPTION
@click.option(
    "--listen",
    default="127.0.0.1:8080",
    show_default=True,
    metavar="HOST:PORT",
    help="Where to serve; beyond loopback a token is required.",
)
@click.option("--token-file", metavar="FILE", help="A file holding the token.")
@click.option(
    "--token",
    envvar="KUBETRAIL_UI_TOKEN",
    metavar="TOKEN",
    help="Require this token (Authorization: Bearer, or ?token= once; also "
    "$KUBETRAIL_UI_TOKEN). Prefer --token-file: a command line is visible to other users.",
)
@click.option(
    "--policy",
    "policies",
    multiple=True,
    metavar="FILE",
    help="Policies whose coverage the UI shows (repeat); no other file is ever read.",
)
def ui(
    lake: str | None,
    listen: str,
    token_file: str | None,
    token: str | None,
    policies: tuple[str, ...],
) -> int:
    """Serve a small read-only web UI on the lake, for analysts.

    Search with the filters of `kubetrail search` (results as sentences, the raw
    event one click away), the timeline of a user or object, top charts, the
    detections of the last day, and the coverage of the policies given with
    --policy. Binds to 127.0.0.1 by default; anywhere else needs --token.

    \b
    Examples:
      kubetrail ui --lake ./lake
      kubetrail ui --lake ./lake --listen 0.0.0.0:8080 --token-file ui.token \\
          --policy /etc/kubernetes/audit-policy.yaml
    """
    from kubetrail.ingest.serve import parse_listen, read_token
    from kubetrail.policy.load import load_policy
    from kubetrail.web.app import UI, make_server

    if token_file:
        token = (read_token(token_file) or b"").decode()
    for path in policies:
        load_policy(path)  # a bad policy is said now, not on the page
    host, port = parse_listen(listen)
    server = make_server(UI(resolve_lake(lake), policies=policies), host, port, token=token)
    shown = f"[{host}]" if ":" in host else host
    click.echo(
        f"kubetrail ui on http://{shown}:{server.server_address[1]}/ (Ctrl-C stops)", err=True
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
