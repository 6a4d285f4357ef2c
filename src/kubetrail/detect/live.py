"""Live alerts: detection on events as a follower or receiver takes them in.

:class:`LiveAlerts` is given every event after redaction (an :class:`Ingestor` observer), so
an alert never holds a secret value the lake would not. Each finding becomes one alert (the
finding, plus ``alert_time``) handed to every sink (:mod:`kubetrail.detect.sinks`: stdout,
webhooks, syslog); a rule raises at most ``per_minute`` alerts a minute, and the ones held
back are counted and reported with the next alert of that rule and in :meth:`summary`. Safe
to call from several threads (the webhook receiver's handlers).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from kubetrail.detect.engine import Detector
from kubetrail.detect.sinks import Sink
from kubetrail.model.event import Event

__all__ = ["LiveAlerts"]

_encoder = msgspec.json.Encoder()


class LiveAlerts:
    def __init__(
        self,
        detector: Detector,
        sinks: Sequence[Callable[[dict[str, Any]], None]],
        *,
        clock: Callable[[], float],
        per_minute: int = 10,
    ) -> None:
        self.detector = detector
        self.sinks = list(sinks)
        self.clock = clock
        self.per_minute = per_minute
        self.alerts = 0
        self.held_back: dict[str, int] = {}  # rule -> alerts not written (rate limit)
        self._window: dict[str, tuple[float, int]] = {}  # rule -> (window start, count)
        self._pending: dict[str, int] = {}  # held back since the rule's last written alert
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        doc = msgspec.json.decode(_encoder.encode(event))
        with self._lock:
            for finding in self.detector.feed(doc):
                now = self.clock()
                start, count = self._window.get(finding.rule, (now, 0))
                if now - start >= 60:
                    start, count = now, 0
                if count >= self.per_minute:
                    self.held_back[finding.rule] = self.held_back.get(finding.rule, 0) + 1
                    self._pending[finding.rule] = self._pending.get(finding.rule, 0) + 1
                    self._window[finding.rule] = (start, count)
                    continue
                self._window[finding.rule] = (start, count + 1)
                alert = msgspec.to_builtins(finding)
                alert["alert_time"] = datetime.fromtimestamp(now, UTC).isoformat()
                held = self._pending.pop(finding.rule, 0)
                if held:
                    alert["held_back_before"] = held
                self.alerts += 1
                for sink in self.sinks:
                    sink(alert)

    def close(self) -> None:
        """Deliver the alerts network sinks still hold."""
        for sink in self.sinks:
            if isinstance(sink, Sink):
                sink.close()

    def summary(self) -> str:
        held = sum(self.held_back.values())
        text = f"{self.alerts} alert(s)"
        if held:
            worst = ", ".join(
                f"{rule} {n}" for rule, n in sorted(self.held_back.items(), key=lambda x: -x[1])
            )
            text += f", {held} held back by the rate limit ({worst})"
        delivered = [s.summary() for s in self.sinks if isinstance(s, Sink) and s.name != "stdout"]
        return "; ".join([text, *delivered])
