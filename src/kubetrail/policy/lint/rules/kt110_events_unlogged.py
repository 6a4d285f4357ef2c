"""KT110 events-unlogged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from kubetrail.model.diagnostic import Severity
from kubetrail.model.policy import Level
from kubetrail.policy.lint.base import Finding, LintContext, LintRule
from kubetrail.policy.lint.probes import HUMAN, probe_requests, verb_list
from kubetrail.policy.lint.rules.kt108_logs_nothing import key_location, logs_nothing

_EVENT_APIS: Final = (("", "`events`"), ("events.k8s.io", "`events.k8s.io` events"))
_DELETE_VERBS: Final = ("delete", "deletecollection")


class EventsUnlogged(LintRule):
    """## What it does
    Finds rules that give `level: None` to the deletion of events (`delete` and
    `deletecollection` of core `events` and of `events.k8s.io` events), judged by the
    decision the whole policy gives to a user's delete requests. Dropping the creation and
    update of events (kubelets and controllers write them constantly) is fine and not
    reported.

    ## Why is this bad?
    Events record what happened to pods and nodes (image pulls, exec-triggered restarts,
    failed mounts). Deleting them is a known way to hide tracks, and a detection for it
    needs the delete request in the audit log.

    ## Example
    ```yaml
    - level: None
      resources:
      - group: ""
        resources: [events]
    ```

    ## Fix
    Drop only the writes, or log deletions in a rule placed before the `None` rule.
    ```yaml
    - level: None
      verbs: [create, update, patch]
      resources:
      - group: ""
        resources: [events]
      - group: events.k8s.io
        resources: [events]
    ```
    """

    code = "KT110"
    name = "events-unlogged"
    severity = Severity.WARNING

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if logs_nothing(ctx.policy):
            return  # KT108 reports a policy that logs nothing at all
        dropped: dict[int | None, dict[str, set[str]]] = {}
        for group, label in _EVENT_APIS:
            for attrs in probe_requests(
                ctx.policy,
                group=group,
                resource="events",
                verbs=_DELETE_VERBS,
                identities=[HUMAN],
                listed_names=False,
            ):
                decision = ctx.evaluator.evaluate(attrs)
                if decision.level is Level.NONE:
                    dropped.setdefault(decision.rule, {}).setdefault(label, set()).add(attrs.verb)
        hint = (
            "limit the None rule to `verbs: [create, update, patch]`, or log event deletion "
            "in a rule before it"
        )
        for index, what in sorted(dropped.items(), key=lambda kv: -1 if kv[0] is None else kv[0]):
            text = " and ".join(f"{label} {verb_list(verbs)}" for label, verbs in what.items())
            if index is None:
                yield self.finding(
                    f"no rule matches {text}: deleting events to hide tracks goes unseen",
                    key_location(ctx, "rules"),
                    hint="add a catch-all `- level: Metadata` at the end",
                )
            else:
                yield self.at_rule(
                    ctx,
                    index,
                    f"{text} are not logged: deleting events to hide tracks goes unseen",
                    hint=hint,
                )
