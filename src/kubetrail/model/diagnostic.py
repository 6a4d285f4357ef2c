"""Diagnostics: problems found in an input, as data with a location."""

from __future__ import annotations

import enum

import msgspec


class Severity(enum.StrEnum):
    """How bad a diagnostic is. ``error`` makes the input unusable; ``warning`` does not."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Location(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Where a diagnostic points: a file, a 1-based line and column, an upstream field path."""

    path: str | None = None
    line: int | None = None
    column: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        out = self.path or "<input>"
        if self.line is not None:
            out += f":{self.line}"
            if self.column is not None:
                out += f":{self.column}"
        return out


class Diagnostic(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One problem: ``message`` is the upstream text where kubetrail mirrors upstream."""

    severity: Severity
    message: str
    location: Location = Location()
    code: str | None = None
    hint: str | None = None

    def render(self) -> str:
        """``file:line: severity: message (hint)`` for people."""
        text = f"{self.location}: {self.severity.value}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text
