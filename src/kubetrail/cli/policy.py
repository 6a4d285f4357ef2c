"""``kubetrail policy ...``: validate, eval, explain."""

from __future__ import annotations

import sys
from typing import IO, TYPE_CHECKING

import click

if TYPE_CHECKING:
    from kubetrail.model.diagnostic import Diagnostic
    from kubetrail.policy.explain import Explanation
    from kubetrail.policy.load import LoadedPolicy
    from kubetrail.policy.validate import KubeVersion

FORMAT_OPTION = click.option(
    "--format",
    "-o",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for machines.",
)


def kube_version_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--kube-version",
        metavar="1.N",
        default=None,
        help="Reproduce this kube-apiserver version (1.24 to 1.36; default: the newest, 1.36).",
    )(func)


def parse_version(text: str | None) -> KubeVersion:
    from kubetrail.policy.validate import LATEST, KubeVersion

    return LATEST if text is None else KubeVersion.parse(text)


def echo_diagnostic(diag: Diagnostic) -> None:
    color = "red" if diag.severity.value == "error" else "yellow"
    loc = click.style(str(diag.location), bold=True)
    sev = click.style(diag.severity.value, fg=color, bold=True)
    hint = f" ({diag.hint})" if diag.hint else ""
    click.echo(f"{loc}: {sev}: {diag.message}{hint}", err=True)


def load_or_report(
    path: str, kube_version: str | None, *, data: bytes | None = None
) -> LoadedPolicy:
    """Load a policy for eval/explain (from ``data`` when the file was read already); on
    failure show every diagnostic, then fail."""
    from kubetrail.errors import PolicyError
    from kubetrail.policy.load import load_policy, parse_policy

    try:
        version = parse_version(kube_version)
        if data is None:
            loaded = load_policy(path, kube_version=version)
        else:
            loaded = parse_policy(data, source=path, kube_version=version)
    except PolicyError as exc:
        for diag in exc.diagnostics:
            echo_diagnostic(diag)
        raise
    for diag in loaded.warnings:
        echo_diagnostic(diag)
    return loaded


@click.group()
def policy() -> None:
    """Audit policies: validate them, evaluate requests, explain decisions.

    An audit policy (audit.k8s.io/v1 Policy) decides, request by request, what
    kube-apiserver writes to its audit log. kubetrail reproduces kube-apiserver's
    loading, validation and rule matching exactly, so you can test a policy
    before a bad one stops your API server from starting.
    """


@policy.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=True))
@kube_version_option
@FORMAT_OPTION
def validate(files: tuple[str, ...], kube_version: str | None, fmt: str) -> int:
    """Check policy FILES exactly as kube-apiserver would load them.

    Reports every problem at once, with the upstream message and field path
    (rules[3].level: Required value) and the file:line it comes from. Unknown
    or mis-cased keys (resource: instead of resources:) are warnings: kube-apiserver
    ignores them, which silently changes what the rule matches.

    \b
    Exit status: 0 every file valid (warnings go to stderr), 1 some file invalid
    or unreadable.

    \b
    Examples:
      kubetrail policy validate /etc/kubernetes/audit-policy.yaml
      kubetrail policy validate --kube-version 1.30 policy.yaml
      kubetrail policy validate -o json policies/*.yaml
    """
    import msgspec

    from kubetrail.errors import InputError, PolicyError
    from kubetrail.policy.load import load_policy

    version = parse_version(kube_version)
    results: list[dict[str, object]] = []
    ok = True
    for path in files:
        entry: dict[str, object] = {"path": path}
        diagnostics: list[Diagnostic] = []
        try:
            loaded = load_policy(path, kube_version=version)
        except PolicyError as exc:
            ok = False
            diagnostics = exc.diagnostics
            entry.update(valid=False, error=f"loading audit policy file: {exc.message}")
        except InputError as exc:
            ok = False
            entry.update(valid=False, error=str(exc))
        else:
            diagnostics = list(loaded.warnings)
            entry.update(valid=True, rules=len(loaded.policy.rules))
        entry["diagnostics"] = msgspec.to_builtins(diagnostics)
        results.append(entry)
        if fmt == "text":
            _echo_validation(path, entry, diagnostics, str(version))
    if fmt == "json":
        out = {"kubeVersion": str(version), "valid": ok, "files": results}
        click.echo(msgspec.json.encode(out).decode())
    return 0 if ok else 1


def _plural(count: object, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _echo_validation(
    path: str, entry: dict[str, object], diagnostics: list[Diagnostic], version: str
) -> None:
    """Diagnostics in line order on stderr, then one verdict line on stdout."""
    for diag in sorted(diagnostics, key=lambda d: (d.location.line or 0, d.location.column or 0)):
        echo_diagnostic(diag)
    if entry["valid"]:
        warned = f" ({_plural(len(diagnostics), 'warning')})" if diagnostics else ""
        valid = click.style("valid", fg="green", bold=True)
        click.echo(
            f"{path}: {valid}: {_plural(entry['rules'], 'rule')}; "
            f"kube-apiserver {version} would load it{warned}"
        )
        return
    errors = sum(1 for d in diagnostics if d.severity.value == "error")
    count = f"{_plural(errors, 'error')}; " if errors else ""
    click.echo(
        f"{path}: {click.style('invalid', fg='red', bold=True)}: {count}"
        f"kube-apiserver {version} would refuse to start"
    )
    click.echo(click.style(f"  kube-apiserver says: {entry['error']}", dim=True))


@policy.command(name="eval")
@click.argument("policy_file", metavar="POLICY", type=click.Path(dir_okay=False))
@click.argument("input_file", metavar="[INPUT|-]", default="-", type=click.File("rb"))
@kube_version_option
def eval_(policy_file: str, input_file: IO[bytes], kube_version: str | None) -> int:
    """Decide requests read as JSON Lines; write one JSON line per input line.

    \b
    Each input line is one of:
      request attributes  {"user","groups","verb","namespace","apiGroup","apiVersion",
                           "resource","subresource","name","path","resourceRequest"}
                          (user "" = no user object, as for failed authentication)
      an HTTP request     {"method": "GET", "url": "/api/v1/...", "user": "...", "groups": [...]}
      an audit Event      as written by kube-apiserver's log backend

    \b
    Each output line, in input order:
      {"level", "omitStages", "omitManagedFields", "rule", "request"}
    where rule is the 0-based index of the matching rule (null: none matched) and
    request holds the resolved attributes. A bad line gives {"error": "..."} and
    processing continues.

    \b
    Examples:
      echo '{"method":"GET","url":"/api/v1/namespaces/default/secrets","user":"alice"}' \\
        | kubetrail policy eval policy.yaml
      kubetrail policy eval policy.yaml /var/log/kubernetes/audit/audit.log
    """
    from kubetrail.policy.evallines import eval_lines
    from kubetrail.policy.evaluate import Evaluator

    evaluator = Evaluator(load_or_report(policy_file, kube_version).policy)
    out = sys.stdout.buffer
    write = out.write
    for line in eval_lines(evaluator, input_file):
        write(line)
    out.flush()
    return 0


def _request_from_flags(
    request: str | None,
    user: str | None,
    groups: tuple[str, ...],
    fields: dict[str, str | None],
    resource_request: bool | None,
) -> object:
    from kubetrail.errors import UsageError
    from kubetrail.policy.resolve import from_http, from_mapping

    given = {k: v for k, v in fields.items() if v is not None}
    if request is not None:
        if given:
            raise UsageError(
                "--request and --" + "/--".join(sorted(given)) + " cannot be combined: "
                "--request already says verb, resource, namespace and name"
            )
        method, _, url = request.strip().partition(" ")
        if not url.strip():
            raise UsageError("--request takes 'METHOD URL', e.g. 'GET /api/v1/pods'")
        return from_http(method, url.strip(), user=user or "", groups=groups)
    if not given:
        raise UsageError("say which request: --request 'METHOD URL', or --verb/--resource/...")
    obj: dict[str, object] = {**given, "user": user or "", "groups": list(groups)}
    if resource_request is not None:
        obj["resourceRequest"] = resource_request
    return from_mapping(obj)


@policy.command()
@click.argument("policy_file", metavar="POLICY", type=click.Path(dir_okay=False))
@click.option("--request", "-r", metavar="'METHOD URL'", help="An HTTP request to resolve.")
@click.option("--user", "-u", help="The authenticated user (omit for no user).")
@click.option("--group", "-g", "groups", multiple=True, help="A group of the user (repeatable).")
@click.option("--verb", help="Kubernetes verb (get, list, watch, create, ...).")
@click.option("--resource", help="Resource, e.g. pods.")
@click.option("--subresource", help="Subresource, e.g. exec.")
@click.option("--namespace", "-n", help="Namespace (empty: cluster-scoped).")
@click.option("--api-group", help='API group ("" is core).')
@click.option("--name", help="Object name.")
@click.option("--path", help="URL path (for non-resource requests).")
@click.option(
    "--resource-request/--non-resource-request",
    default=None,
    help="Whether it is a resource request (default: if --resource is given).",
)
@kube_version_option
@FORMAT_OPTION
def explain(
    policy_file: str,
    request: str | None,
    user: str | None,
    groups: tuple[str, ...],
    verb: str | None,
    resource: str | None,
    subresource: str | None,
    namespace: str | None,
    api_group: str | None,
    name: str | None,
    path: str | None,
    resource_request: bool | None,
    kube_version: str | None,
    fmt: str,
) -> int:
    """Show, rule by rule, why POLICY logs a request the way it does.

    \b
    Examples:
      kubetrail policy explain policy.yaml \\
          --request 'GET /api/v1/namespaces/default/secrets' --user alice --group dev
      kubetrail policy explain policy.yaml --verb get --resource pods \\
          --subresource exec --namespace prod --name web-0 --user mallory
    """
    import msgspec

    from kubetrail.model.attributes import RequestAttributes
    from kubetrail.policy.explain import explain as build

    attrs = _request_from_flags(
        request,
        user,
        groups,
        {
            "verb": verb,
            "resource": resource,
            "subresource": subresource,
            "namespace": namespace,
            "apiGroup": api_group,
            "name": name,
            "path": path,
        },
        resource_request,
    )
    assert isinstance(attrs, RequestAttributes)
    loaded = load_or_report(policy_file, kube_version)
    result = build(loaded, attrs)
    if fmt == "json":
        click.echo(msgspec.json.encode(_explanation_json(result)).decode())
    else:
        _render_explanation(loaded.source, result)
    return 0


def _explanation_json(ex: Explanation) -> dict[str, object]:
    d = ex.decision
    return {
        "request": ex.request.to_wire(),
        "rules": [
            {
                "index": v.index,
                "line": v.line,
                "level": v.level,
                "matched": v.matched,
                "reason": v.reason,
            }
            for v in ex.verdicts
        ],
        "decision": {
            "level": d.level.value,
            "omitStages": sorted(d.omit_stages),
            "omitManagedFields": d.omit_managed_fields,
            "rule": d.rule,
            "line": ex.rule_line,
        },
        "stages": list(ex.stages),
        "requestBody": ex.request_body,
        "responseBody": ex.response_body,
        "notes": list(ex.notes),
    }


def _render_explanation(source: str, ex: Explanation) -> None:
    a = ex.request
    dim = {"dim": True}
    click.echo(click.style("Request", bold=True))
    user = "(none: no user object)" if a.user is None else (a.user or '""')
    rows = [("user", user + (f"  groups: {', '.join(a.groups)}" if a.groups else ""))]
    rows.append(("verb", a.verb or '""'))
    if a.resource_request:
        group = a.api_group or "core"
        rows.append(
            ("resource", f"{a.resource_path}  (group {group}, version {a.api_version or '?'})")
        )
        rows.append(("namespace", a.namespace or '"" (cluster-scoped or all namespaces)'))
        rows.append(("name", a.name or '"" (none at policy time)'))
    else:
        rows.append(("kind", "non-resource request"))
    if a.path:
        rows.append(("path", a.path))
    for key, value in rows:
        click.echo(f"  {key:<10} {value}")
    click.echo()
    click.echo(click.style("Rules", bold=True) + click.style("  (first match wins)", **dim))
    winner = ex.decision.rule
    for v in ex.verdicts:
        where = f"line {v.line}" if v.line else ""
        label = f"rules[{v.index}]"
        after = winner is not None and v.index > winner
        if v.matched and v.index == winner:
            mark, style = click.style("✓", fg="green", bold=True), {"bold": True}
        elif v.matched:
            mark, style = click.style("✓", fg="green"), dim
        else:
            mark, style = click.style("✗", fg="red"), {} if not after else dim
        text = f"  {mark} {label:<10} {v.level:<16} {v.reason}"
        suffix = "  ← wins" if v.index == winner else ("  (not reached)" if after else "")
        tail = click.style(f"  [{where}]", **dim) if where else ""
        click.echo(click.style(text + suffix, **style) + tail)
    click.echo()
    click.echo(click.style("Result", bold=True))
    d = ex.decision
    level_color = "red" if d.level.value == "None" else "green"
    origin = (
        f"rules[{d.rule}] at {source}:{ex.rule_line}"
        if d.rule is not None and ex.rule_line
        else (f"rules[{d.rule}]" if d.rule is not None else "no rule matched")
    )
    click.echo(
        f"  {'level':<14} {click.style(d.level.value, fg=level_color, bold=True)}  ({origin})"
    )
    if d.level.value != "None":
        omitted = ", ".join(sorted(d.omit_stages)) or "none"
        stages = ", ".join(ex.stages) or "none"
        click.echo(f"  {'stages':<14} {stages}  (omitted: {omitted})")
        click.echo(f"  {'request body':<14} {'logged' if ex.request_body else 'not logged'}")
        click.echo(f"  {'response body':<14} {'logged' if ex.response_body else 'not logged'}")
        click.echo(f"  {'managedFields':<14} {'omitted' if d.omit_managed_fields else 'kept'}")
    for note in ex.notes:
        click.echo(click.style(f"  note: {note}", fg="yellow"))
