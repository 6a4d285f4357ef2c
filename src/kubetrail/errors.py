"""The one exception hierarchy of kubetrail.

Every error the library raises on purpose derives from :class:`KubetrailError`. The CLI maps
``exit_code`` to the process exit status in exactly one place (``kubetrail.cli.main``).
Diagnostics (warnings, validation errors of a document that could be read) are data, not
exceptions: see :mod:`kubetrail.model.diagnostic`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from kubetrail.model.diagnostic import Diagnostic


class KubetrailError(Exception):
    """Base class of every error kubetrail raises deliberately."""

    exit_code: ClassVar[int] = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(KubetrailError):
    """The caller asked for something that cannot be done as asked (bad flag combination...)."""

    exit_code = 2


class InputError(KubetrailError):
    """An input could not be read: missing file, directory, binary junk, too large, bad YAML."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
        self.column = column

    def __str__(self) -> str:
        where = self.path or ""
        if where and self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}" if where else self.message


class PolicyError(InputError):
    """A policy was read but kube-apiserver would refuse it.

    ``diagnostics`` holds every problem found (all of them, not the first), each with its
    upstream message, field path and source line.
    """

    exit_code = 1

    def __init__(self, message: str, diagnostics: Sequence[Diagnostic] = (), **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.diagnostics = list(diagnostics)


class DeployError(KubetrailError):
    """A deployment was refused or failed; what is on disk is as it was (or restored)."""

    exit_code = 1
