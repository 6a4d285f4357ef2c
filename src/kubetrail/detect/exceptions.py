"""Exceptions: silence a rule for known behaviour without editing the rule.

An exception is a Sigma filter (``filter: {rules: [...], selection: ..., condition: ...}``, the
Sigma filters format that pySigma reads) with three more keys kubetrail requires, so that no
silence is anonymous or forever::

    title: The platform team debugs in dev
    id: 0d6f…
    logsource: {product: kubernetes, service: audit}
    owner: platform-team@example.com
    reason: on-call debugging in the dev namespace (TICKET-123)
    expires: 2027-01-31
    filter:
      rules: [pod-exec]              # rule names (file stems) or ids
      selection:
        user.groups: platform
        objectRef.namespace: dev
      condition: not selection

As in Sigma, the filter's condition is ANDed to the rule's: a finding stays when it is true,
and is silenced when it is false. When it is unknown (it reads a body the event lacks) the
finding stays: an exception never hides what it cannot see. From ``expires`` on (a date, UTC)
the exception is ignored and reported as expired.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import msgspec

from kubetrail.detect.match import Predicate, compile_condition
from kubetrail.detect.rules import RuleProblem

__all__ = ["Silence", "load_exceptions"]


class Silence(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    title: str
    path: str
    rules: frozenset[str]  # names or ids
    owner: str
    reason: str
    expires: date
    predicates: tuple[Predicate, ...] = ()

    def applies(self, rule_name: str, rule_id: str, today: date) -> bool:
        return today < self.expires and bool({rule_name, rule_id} & self.rules)

    def silences(self, event: Mapping[str, Any]) -> bool:
        """True when the filter's condition is false for the event (unknown keeps it)."""
        return any(p(event) is False for p in self.predicates)


def _files(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        out += sorted(path.rglob("*.y*ml")) if path.is_dir() else [path]
    return out


def load_exceptions(paths: Sequence[str | Path]) -> tuple[list[Silence], list[RuleProblem]]:
    import yaml
    from sigma.exceptions import SigmaError
    from sigma.filters import SigmaFilter

    silences: list[Silence] = []
    problems: list[RuleProblem] = []
    for file in _files(paths):
        where = str(file)
        try:
            parsed = SigmaFilter.from_yaml(file.read_text(encoding="utf-8"))
            trees = [c.parsed for c in parsed.filter.parsed_condition]
            predicates = tuple(compile_condition(t) for t in trees)
        except OSError as exc:
            problems.append(RuleProblem(where, f"cannot read: {exc.strerror}"))
            continue
        except (SigmaError, ValueError, yaml.YAMLError, AttributeError) as exc:
            problems.append(RuleProblem(where, f"not a valid Sigma filter: {exc}"))
            continue
        extra = parsed.custom_attributes
        missing = [k for k in ("owner", "reason", "expires") if not extra.get(k)]
        if missing:
            problems.append(
                RuleProblem(where, f"an exception needs {', '.join(missing)} (who, why, until)")
            )
            continue
        expires = extra["expires"]
        if not isinstance(expires, date):
            try:
                expires = date.fromisoformat(str(expires))
            except ValueError:
                problems.append(RuleProblem(where, f"expires: {expires!r} is not YYYY-MM-DD"))
                continue
        silences.append(
            Silence(
                id=str(parsed.id or file.stem),
                title=parsed.title,
                path=where,
                rules=frozenset(str(getattr(r, "reference", r)) for r in parsed.filter.rules),
                owner=str(extra["owner"]),
                reason=str(extra["reason"]),
                expires=expires,
                predicates=predicates,
            )
        )
    return silences, problems
