"""``kubetrail policy coverage``: which attacks a policy logs, and which it misses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from kubetrail.cli.policy import echo_diagnostic, kube_version_option, parse_version

if TYPE_CHECKING:
    from kubetrail.policy.coverage import Coverage, TechniqueResult
    from kubetrail.policy.load import LoadedPolicy

STATUS_COLOR = {"missed": "red", "partial": "yellow", "unsafe": "magenta", "covered": "green"}


@click.command()
@click.argument("policy_file", metavar="[POLICY]", required=False, type=click.Path())
@click.option("--profile", metavar="NAME", help="Analyse a managed platform's fixed policy.")
@click.option("--list-profiles", is_flag=True, help="List the bundled platform profiles.")
@click.option(
    "--format",
    "-o",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
@click.option(
    "--fail-under",
    type=click.FloatRange(0, 100),
    metavar="PCT",
    help="Exit 1 when fewer than PCT%% of the techniques are covered.",
)
@click.option(
    "--rules",
    "rule_pack",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[PACK]",
    help="Also say which detection rules the policy blinds (the flag alone: the bundled pack).",
)
@kube_version_option
def coverage(
    policy_file: str | None,
    profile: str | None,
    list_profiles: bool,
    fmt: str,
    fail_under: float | None,
    rule_pack: str | None,
    kube_version: str | None,
) -> int:
    """Show which attack techniques POLICY logs, which it misses, and why.

    Every request of every technique in kubetrail's catalogue (exec as SPDY create
    and as WebSocket get, secret reads as get, list and watch, ...) is evaluated for
    several callers: a user, a service account in an app namespace and one in
    kube-system, a node, and an anonymous caller — first-match None rules often exempt
    exactly the identities attackers use.

    \b
    Status per technique:
      covered  every request is logged at the level that reveals it
      partial  some are
      missed   none is
      unsafe   it can only be seen by writing secret values into the log
    Coverage % = covered / (all - unsafe).

    \b
    Examples:
      kubetrail policy coverage audit-policy.yaml
      kubetrail policy coverage --profile eks
      kubetrail policy coverage policy.yaml --format json --fail-under 90
      kubetrail policy coverage policy.yaml --rules      # which bundled rules it blinds
    """
    import msgspec

    from kubetrail.catalog.techniques import load_techniques
    from kubetrail.errors import PolicyError, UsageError
    from kubetrail.policy.coverage import coverage as compute
    from kubetrail.policy.coverage import to_json
    from kubetrail.policy.load import parse_policy, read_policy_bytes
    from kubetrail.policy.profiles import PROFILES, get_profile, profile_bytes

    if list_profiles:
        for p in PROFILES.values():
            caveat = f" ({p.caveat})" if p.caveat else ""
            click.echo(f"{p.name:<30} {p.description}{caveat}")
        return 0
    if (policy_file is None) == (profile is None):
        raise UsageError("give a POLICY file or --profile NAME (one of them)")
    if profile is not None:
        chosen = get_profile(profile)
        data, source = profile_bytes(chosen), f"profile:{chosen.name}"
        if chosen.caveat and fmt == "text":
            click.echo(click.style(f"note: {chosen.caveat}", dim=True), err=True)
    else:
        assert policy_file is not None
        data, source = read_policy_bytes(policy_file), policy_file
    try:
        loaded = parse_policy(data, source=source, kube_version=parse_version(kube_version))
    except PolicyError as exc:
        for diag in exc.diagnostics:
            echo_diagnostic(diag)
        raise
    result = compute(loaded.policy, load_techniques(), source=source)
    sights = None
    if rule_pack is not None:
        from kubetrail.detect.blinding import blinding
        from kubetrail.detect.rules import load_rules

        rules, problems = load_rules([rule_pack] if rule_pack else None)
        for problem in problems:
            click.echo(f"{problem.path}: {problem.message}", err=True)
        sights = blinding(loaded.policy, rules)
    if fmt == "json":
        doc = to_json(result)
        if sights is not None:
            doc["rules"] = [_sight_json(s, loaded) for s in sights]
        click.echo(msgspec.json.encode(doc).decode())
    elif fmt == "markdown":
        _markdown(result, loaded)
    else:
        _text(result, loaded)
        if sights is not None:
            _rules_text(sights, loaded)
    if fail_under is not None and result.percent() < fail_under:
        if fmt == "text":
            click.echo(
                f"coverage {result.percent():.1f}% is below --fail-under {fail_under:g}%",
                err=True,
            )
        return 1
    return 0


def _gap(t: TechniqueResult, loaded: LoadedPolicy) -> str:
    gaps = t.gaps
    if t.status == "unsafe":
        return "seen only by logging secret values"
    if not gaps:
        return ""
    v = gaps[0]
    d = v.decision
    if d.rule is None:
        why = "no rule matches (None)"
    else:
        line = loaded.rule_line(d.rule)
        why = f"{d.level.value} by rules[{d.rule}]" + (f" line {line}" if line else "")
        if d.level.value != "None" and not v.logged:
            why += ", outcome stage omitted"
        elif v.needed != t.technique.min_level:
            why += f", needs {v.needed.value}"
    more = f" (+{len(gaps) - 1} more)" if len(gaps) > 1 else ""
    return f"{v.attributes.describe()} as {v.caller}: {why}{more}"


def _text(result: Coverage, loaded: LoadedPolicy) -> None:
    counts = result.summary()
    head = ", ".join(
        click.style(f"{n} {k}", fg=STATUS_COLOR[k], bold=True) for k, n in counts.items()
    )
    click.echo(f"{result.source}: {head} — {result.percent():.0f}% covered")
    click.echo()
    click.echo(f"{'STATUS':<8} {'TECHNIQUE':<34} {'TACTIC':<21} {'NEEDS':<9} GAP")
    for t in result.worst_first():
        status = click.style(f"{t.status:<8}", fg=STATUS_COLOR[t.status])
        tech = t.technique
        click.echo(
            f"{status} {tech.id:<34} {tech.tactic:<21} {tech.min_level.value:<9} {_gap(t, loaded)}"
        )


def _markdown(result: Coverage, loaded: LoadedPolicy) -> None:
    counts = result.summary()
    click.echo(f"### Audit coverage of `{result.source}`\n")
    click.echo(
        ", ".join(f"**{n}** {k}" for k, n in counts.items())
        + f" — {result.percent():.0f}% covered\n"
    )
    click.echo("| status | technique | tactic | needs | gap |")
    click.echo("| --- | --- | --- | --- | --- |")
    for t in result.worst_first():
        tech = t.technique
        gap = _gap(t, loaded).replace("|", "\\|")
        click.echo(
            f"| {t.status} | {tech.name} (`{tech.id}`) | {tech.tactic} | "
            f"{tech.min_level.value} | {gap} |"
        )


SIGHT_COLOR = {"broken": "magenta", "blinded": "red", "partly blinded": "yellow", "live": "green"}


def _sight_gap(sight: Any, loaded: LoadedPolicy) -> str:
    gaps = sight.gaps
    if sight.sight == "broken":
        return "no request can make it fire"
    if not gaps:
        return ""
    p = gaps[0]
    if p.rule is None:
        why = "no rule matches (None)"
    else:
        line = loaded.rule_line(p.rule)
        why = f"{p.level.value} by rules[{p.rule}]" + (f" line {line}" if line else "")
    more = f" (+{len(gaps) - 1} more)" if len(gaps) > 1 else ""
    return f"{p.attributes.describe()} as {p.caller}: {why}{more}"


def _sight_json(sight: Any, loaded: LoadedPolicy) -> dict[str, object]:
    return {
        "rule": sight.rule.name,
        "title": sight.rule.title,
        "level": sight.rule.level,
        "needs": sight.needs.value,
        "sight": sight.sight,
        "probes": len(sight.probes),
        "blind": len(sight.gaps),
        "gap": _sight_gap(sight, loaded),
    }


def _rules_text(sights: list[Any], loaded: LoadedPolicy) -> None:
    blind = [s for s in sights if s.sight != "live"]
    click.echo()
    click.echo(
        f"detection rules: your policy blinds {sum(s.sight == 'blinded' for s in sights)} and "
        f"partly blinds {sum(s.sight == 'partly blinded' for s in sights)} of {len(sights)} "
        f"rules ({sum(s.sight == 'broken' for s in sights)} can never fire)"
    )
    if not blind:
        return
    click.echo()
    click.echo(f"{'SIGHT':<15} {'RULE':<32} {'NEEDS':<9} GAP")
    for s in blind:
        status = click.style(f"{s.sight:<15}", fg=SIGHT_COLOR[s.sight])
        click.echo(f"{status} {s.rule.name:<32} {s.needs.value:<9} {_sight_gap(s, loaded)}")
