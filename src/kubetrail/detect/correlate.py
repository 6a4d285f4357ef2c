"""Sigma correlation rules over the stream of findings: bursts, distinct values, sequences.

* ``event_count``: at least N findings of the referenced rules for one group (``group-by``
  fields of the events) within the timespan — a burst of secret reads by one identity;
* ``value_count``: at least N distinct values of a field among them — one user listing many
  kinds of resources (enumeration);
* ``temporal``: every referenced rule fired for one group within the timespan, in any order —
  a pod created, then exec'd into, by the same identity.

Times are the events' received times (a replayed old log correlates as it happened). When a
correlation fires, its window for that group starts again, so a burst alerts once. Only the
conditions a stream can decide as events arrive are accepted (``gte``, ``gt``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from kubetrail.detect.match import lookup
from kubetrail.detect.rules import Correlation

__all__ = ["Correlator"]


def _seconds(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _span(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


class Correlator:
    def __init__(self, correlations: Sequence[Correlation]) -> None:
        for c in correlations:
            if c.op not in ("gte", "gt"):
                raise ValueError(f"{c.path}: only gte and gt conditions can be decided live")
        self.correlations = list(correlations)
        self._by_rule: dict[str, list[Correlation]] = {}
        for c in correlations:
            for ref in c.rules:
                self._by_rule.setdefault(ref, []).append(c)
        self._windows: dict[tuple[str, tuple[str, ...]], deque[tuple[float, str]]] = {}

    @property
    def referenced(self) -> frozenset[str]:
        return frozenset(self._by_rule)

    def silent(self) -> frozenset[str]:
        """Rules whose own findings are not reported (referenced with ``generate: false``)."""
        loud = {r for c in self.correlations if c.generate for r in c.rules}
        return frozenset(r for c in self.correlations if not c.generate for r in c.rules) - loud

    def feed(
        self, rule_name: str, rule_id: str, received: str | None, event: Mapping[str, Any]
    ) -> list[tuple[Correlation, str, int]]:
        """The correlations this finding completes: (correlation, group text, count)."""
        when = _seconds(received)
        if when is None:
            return []
        out = []
        for corr in {id(c): c for c in [*self._by_rule.get(rule_name, []),
                                       *self._by_rule.get(rule_id, [])]}.values():  # fmt: skip
            group = tuple(
                str((lookup(event, corr.field_of(f, rule_name, rule_id)) or [None])[0])
                for f in corr.group_by
            )  # the first value of each group-by field (through the aliases)
            window = self._windows.setdefault((corr.id, group), deque())
            if corr.type == "value_count":
                values = lookup(event, corr.field or "") or []
                item = str(values[0]) if values else ""
            elif corr.type == "temporal":
                item = rule_name if rule_name in corr.rules else rule_id
            else:
                item = ""
            window.append((when, item))
            while window and window[0][0] < when - corr.seconds:
                window.popleft()
            if corr.type == "event_count":
                measure = len(window)
            elif corr.type == "value_count":
                measure = len({i for _, i in window if i})
            else:
                measure = len({i for _, i in window})
            threshold = corr.count if corr.type != "temporal" else len(set(corr.rules))
            met = measure > threshold if corr.op == "gt" else measure >= threshold
            if met:
                window.clear()
                shown = ", ".join(f"{f}={v}" for f, v in zip(corr.group_by, group, strict=True))
                out.append((corr, shown, measure))
        return out

    @staticmethod
    def describe(corr: Correlation, group: str, measure: int) -> str:
        what = {
            "event_count": f"{measure} events",
            "value_count": f"{measure} distinct {corr.field}",
            "temporal": f"{' then '.join(corr.rules)}",
        }[corr.type]
        return f"{what} within {_span(corr.seconds)}" + (f" for {group}" if group else "")
