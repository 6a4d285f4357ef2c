"""Run lint rules over a policy file: selection, inline suppressions, stable order."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

from kubetrail.catalog.discovery import load_discovery
from kubetrail.errors import UsageError
from kubetrail.model.diagnostic import Severity
from kubetrail.policy.lint.base import Finding, LintContext, LintRule
from kubetrail.policy.load import decode_policy, read_policy_bytes
from kubetrail.policy.validate import LATEST, KubeVersion

# ``# kubetrail: ignore[KT003, KT101]`` (or ``ignore`` for every code); ``ignore-file[...]``
# applies to the whole file.
_SUPPRESS: Final = re.compile(r"#\s*kubetrail:\s*(ignore-file|ignore)(?:\[([A-Z0-9,\s]*)\])?")
SEVERITY_ORDER: Final = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


def _codes(text: str | None) -> frozenset[str] | None:
    """``None`` means every code."""
    if text is None:
        return None
    return frozenset(c.strip() for c in text.split(",") if c.strip())


class _Suppressions:
    def __init__(self, text: str) -> None:
        self.by_line: dict[int, frozenset[str] | None] = {}
        self.file: list[frozenset[str] | None] = []
        for number, line in enumerate(text.splitlines(), start=1):
            for match in _SUPPRESS.finditer(line):
                codes = _codes(match.group(2))
                if match.group(1) == "ignore-file":
                    self.file.append(codes)
                else:
                    self.by_line[number] = codes

    @staticmethod
    def _hit(codes: frozenset[str] | None, code: str) -> bool:
        return codes is None or code in codes

    def suppressed(self, finding: Finding, lines: Iterable[int]) -> bool:
        if any(self._hit(codes, finding.code) for codes in self.file):
            return True
        return any(
            line in self.by_line and self._hit(self.by_line[line], finding.code) for line in lines
        )


def _matches(code: str, prefixes: Sequence[str]) -> bool:
    return any(code.startswith(p) for p in prefixes)


def select_rules(
    rules: Sequence[type[LintRule]],
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
) -> list[type[LintRule]]:
    """The rules chosen by ``--select``/``--ignore`` code prefixes (``KT1`` = every KT1xx)."""
    known = [r.code for r in rules]
    for prefix in (*select, *ignore):
        if not any(code.startswith(prefix) for code in known):
            raise UsageError(f"no lint rule has a code starting with {prefix!r}")
    chosen = [r for r in rules if not select or _matches(r.code, select)]
    return [r for r in chosen if not _matches(r.code, ignore)]


def lint_bytes(
    data: bytes,
    *,
    source: str,
    rules: Sequence[type[LintRule]],
    kube_version: KubeVersion = LATEST,
) -> list[Finding]:
    """Every finding of ``rules`` on one policy document, in file order."""
    decoded = decode_policy(data, source=source, kube_version=kube_version)
    ctx = LintContext(decoded, load_discovery(kube_version), kube_version)
    findings: list[Finding] = []
    for rule_class in rules:
        rule = rule_class()
        if rule.needs_valid_policy and not ctx.valid:
            continue
        findings.extend(rule.check(ctx))
    text = data.decode("utf-8", errors="replace")
    suppressions = _Suppressions(text)
    starts = [
        pos.line
        for i in range(len(decoded.policy.rules) if decoded.policy else 0)
        if (pos := decoded.document.keys.get(("rules", i))) is not None
    ]

    def lines_of(finding: Finding) -> list[int]:
        lines = [finding.location.line] if finding.location.line else []
        if finding.rule is not None and finding.rule < len(starts):
            start = starts[finding.rule]
            end = starts[finding.rule + 1] if finding.rule + 1 < len(starts) else start + 10_000
            lines += range(start - 1, end)
        return lines

    kept = [f for f in findings if not suppressions.suppressed(f, lines_of(f))]
    return sorted(
        kept, key=lambda f: (f.location.line or 0, f.location.column or 0, f.code, f.message)
    )


def lint_file(
    path: str,
    *,
    rules: Sequence[type[LintRule]],
    kube_version: KubeVersion = LATEST,
) -> list[Finding]:
    """Lint the policy file at ``path``; unreadable files raise ``InputError``."""
    return lint_bytes(read_policy_bytes(path), source=path, rules=rules, kube_version=kube_version)


def at_or_above(findings: Iterable[Finding], threshold: Severity) -> list[Finding]:
    """The findings whose severity reaches ``threshold`` (for ``--fail-on``)."""
    bar = SEVERITY_ORDER[threshold]
    return [f for f in findings if SEVERITY_ORDER[f.severity] >= bar]
