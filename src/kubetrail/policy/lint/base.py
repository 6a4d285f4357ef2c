"""What a lint rule is: a class with a stable code, a four-part docstring, and ``check``.

Conventions (as ruff's rules): the code (``KT001``) is never reused; the name is kebab-case
and stable; the docstring has the sections ``## What it does``, ``## Why is this bad?``,
``## Example`` and ``## Fix``; messages are one short sentence with the specifics.
Codes are grouped by hundreds: ``KT0xx`` correctness, ``KT1xx`` security (what the log
misses or leaks), ``KT2xx`` volume and cost.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from typing import ClassVar

import msgspec

from kubetrail.catalog.discovery import Discovery
from kubetrail.model.diagnostic import Location, Severity
from kubetrail.model.policy import Policy
from kubetrail.policy.evaluate import Evaluator
from kubetrail.policy.load import DecodedPolicy
from kubetrail.policy.validate import KubeVersion

SECTIONS = ("What it does", "Why is this bad?", "Example", "Fix")


class Finding(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One problem a lint rule found, with where it is."""

    code: str
    name: str
    severity: Severity
    message: str
    location: Location
    rule: int | None = None  # index of the policy rule concerned, if any
    hint: str | None = None


class LintContext:
    """What a lint rule may look at. Built once per policy file by the runner."""

    def __init__(
        self, decoded: DecodedPolicy, discovery: Discovery, kube_version: KubeVersion
    ) -> None:
        self.decoded = decoded
        self.discovery = discovery
        self.kube_version = kube_version
        self.source = decoded.source
        self._evaluator: Evaluator | None = None

    @property
    def policy(self) -> Policy:
        """The decoded policy (rules that need one only run when it exists)."""
        assert self.decoded.policy is not None
        return self.decoded.policy

    @property
    def valid(self) -> bool:
        """True when kube-apiserver would load the policy (so it can be evaluated)."""
        return self.decoded.policy is not None and not any(
            d.code in ("validation", "api-version") for d in self.decoded.errors
        )

    @property
    def evaluator(self) -> Evaluator:
        if self._evaluator is None:
            self._evaluator = Evaluator(self.policy)
        return self._evaluator

    def location(self, *path: str | int) -> Location:
        """Where ``path`` (e.g. ``"rules", 3, "verbs"``) is in the file, or its nearest parent."""
        pos = self.decoded.document.nearest(tuple(path))
        if pos is None:
            return Location(path=self.source)
        return Location(path=self.source, line=pos.line, column=pos.column)

    def rule_location(self, index: int) -> Location:
        """Where ``rules[index]`` starts."""
        doc = self.decoded.document
        pos = doc.keys.get(("rules", index))
        if pos is None:
            return self.location("rules", index)
        return Location(path=self.source, line=pos.line, column=pos.column)


class LintRule:
    """Base class of lint rules. Subclasses set the class variables and implement ``check``."""

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]
    needs_valid_policy: ClassVar[bool] = True  # skip when the policy cannot be evaluated

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        raise NotImplementedError

    def finding(
        self,
        message: str,
        location: Location,
        *,
        rule: int | None = None,
        hint: str | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        """A finding of this rule."""
        return Finding(
            code=self.code,
            name=self.name,
            severity=severity or self.severity,
            message=message,
            location=location,
            rule=rule,
            hint=hint,
        )

    def at_rule(
        self, ctx: LintContext, index: int, message: str, *, hint: str | None = None
    ) -> Finding:
        """A finding about ``rules[index]``, located where the rule starts."""
        return self.finding(message, ctx.rule_location(index), rule=index, hint=hint)

    @classmethod
    def summary(cls) -> str:
        """The first sentence of "What it does"."""
        text = cls.section("What it does")
        return text.split(". ")[0].rstrip(".") + "."

    @classmethod
    def section(cls, title: str) -> str:
        """One section of the docstring, without its heading."""
        doc = inspect.getdoc(cls) or ""
        match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", doc, re.S | re.M)
        return match.group(1).strip() if match else ""

    @classmethod
    def documentation(cls) -> str:
        """The full text shown by ``kubetrail policy lint --explain CODE``."""
        head = f"{cls.code} ({cls.name}) — default severity: {cls.severity.value}"
        return head + "\n\n" + (inspect.getdoc(cls) or "")
