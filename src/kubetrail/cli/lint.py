"""``kubetrail policy lint``: the mistakes real audit policies make."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from kubetrail.cli.policy import kube_version_option, parse_version

if TYPE_CHECKING:
    from kubetrail.policy.lint.base import Finding, LintRule

SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


@click.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=True))
@click.option("--select", multiple=True, metavar="CODE", help="Only these rules (prefix: KT1).")
@click.option("--ignore", multiple=True, metavar="CODE", help="Skip these rules (prefix: KT2).")
@click.option(
    "--format",
    "-o",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "github"]),
    default="text",
    show_default=True,
    help="text for people; json; sarif for code scanning; github for Actions annotations.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "info", "never"]),
    default="warning",
    show_default=True,
    help="Exit 1 when a finding reaches this severity.",
)
@click.option("--explain", "explain_code", metavar="CODE", help="Show what a rule checks and why.")
@click.option("--list-rules", is_flag=True, help="List every rule with its code and severity.")
@kube_version_option
def lint(
    files: tuple[str, ...],
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    fmt: str,
    fail_on: str,
    explain_code: str | None,
    list_rules: bool,
    kube_version: str | None,
) -> int:
    """Find the mistakes real audit policies make, before they are deployed.

    Rules have stable codes: KT0xx correctness (shadowed rules, rules that never
    match, resources under the wrong API group), KT1xx security (secret values in the
    log, exec over WebSocket missed, no catch-all), KT2xx volume. Each finding names
    file:line and the rule index.

    \b
    Silence one finding with a comment on the policy rule (or the line above it):
      - level: None   # kubetrail: ignore[KT109]
    or a whole file with  # kubetrail: ignore-file[KT201]

    \b
    Examples:
      kubetrail policy lint audit-policy.yaml
      kubetrail policy lint --select KT1 --format sarif policies/*.yaml > lint.sarif
      kubetrail policy lint --explain KT005
    """
    import msgspec

    from kubetrail.errors import InputError, UsageError
    from kubetrail.model.diagnostic import Severity
    from kubetrail.policy.lint.registry import RULES, get_rule
    from kubetrail.policy.lint.runner import at_or_above, lint_file, select_rules

    if list_rules:
        for rule in RULES:
            click.echo(f"{rule.code}  {rule.name:<30} {rule.severity.value:<8} {rule.summary()}")
        return 0
    if explain_code:
        try:
            click.echo(get_rule(explain_code).documentation())
        except KeyError:
            raise UsageError(f"no lint rule {explain_code!r}; see --list-rules") from None
        return 0
    if not files:
        raise UsageError("give one or more policy files (or --list-rules, --explain CODE)")
    version = parse_version(kube_version)
    chosen = select_rules(RULES, select, ignore)
    findings: list[Finding] = []
    unreadable = False
    for path in files:
        try:
            findings += lint_file(path, rules=chosen, kube_version=version)
        except InputError as exc:
            unreadable = True
            click.echo(f"kubetrail: {exc}", err=True)
    if fmt == "text":
        _text(findings, len(files))
    elif fmt == "json":
        out = {
            "findings": msgspec.to_builtins(findings),
            "summary": _counts(findings),
        }
        click.echo(msgspec.json.encode(out).decode())
    elif fmt == "sarif":
        click.echo(msgspec.json.encode(_sarif(findings, chosen)).decode())
    else:
        for f in findings:
            level = {"error": "error", "warning": "warning", "info": "notice"}[f.severity.value]
            where = f"file={f.location.path},line={f.location.line or 1}"
            if f.location.column:
                where += f",col={f.location.column}"
            click.echo(f"::{level} {where},title={f.code} {f.name}::{f.message}")
    failed = fail_on != "never" and bool(at_or_above(findings, Severity(fail_on)))
    return 1 if failed or unreadable else 0


def _counts(findings: list[Finding]) -> dict[str, int]:
    counts = {"error": 0, "warning": 0, "info": 0}
    for f in findings:
        counts[f.severity.value] += 1
    return counts


def _text(findings: list[Finding], files: int) -> None:
    colors = {"error": "red", "warning": "yellow", "info": "cyan"}
    for f in findings:
        loc = click.style(str(f.location), bold=True)
        code = click.style(f.code, fg=colors[f.severity.value], bold=True)
        rule = f" (rules[{f.rule}])" if f.rule is not None else ""
        click.echo(f"{loc}: {code} [{f.severity.value}] {f.message}{rule}")
        if f.hint:
            click.echo(click.style(f"    hint: {f.hint}", dim=True))
    counts = _counts(findings)
    if findings:
        parts = [f"{n} {k}{'s' if n != 1 else ''}" for k, n in counts.items() if n]
        noun = "finding" if len(findings) == 1 else "findings"
        click.echo(f"{len(findings)} {noun} in {files} file(s): " + ", ".join(parts))
    else:
        click.echo(f"No findings in {files} file(s).")


def _sarif(findings: list[Finding], rules: list[type[LintRule]]) -> dict[str, object]:
    from kubetrail import __version__

    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "kubetrail",
                        "version": __version__,
                        "rules": [
                            {
                                "id": r.code,
                                "name": r.name,
                                "shortDescription": {"text": r.summary()},
                                "fullDescription": {"text": r.section("Why is this bad?")},
                                "help": {"text": r.documentation()},
                                "defaultConfiguration": {"level": SARIF_LEVEL[r.severity.value]},
                            }
                            for r in rules
                        ],
                    }
                },
                "results": [
                    {
                        "ruleId": f.code,
                        "level": SARIF_LEVEL[f.severity.value],
                        "message": {"text": f.message + (f" ({f.hint})" if f.hint else "")},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": f.location.path or ""},
                                    "region": {
                                        "startLine": f.location.line or 1,
                                        "startColumn": f.location.column or 1,
                                    },
                                }
                            }
                        ],
                    }
                    for f in findings
                ],
            }
        ],
    }
