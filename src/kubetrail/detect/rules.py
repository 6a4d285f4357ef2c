"""Sigma rule packs: parsed and validated by pySigma, compiled for in-process evaluation.

A pack is a directory of ``*.yml`` Sigma rules (or single files). Only rules for
``logsource: product: kubernetes, service: audit`` are taken; others are reported as skipped.
Tags name techniques of kubetrail's catalogue as ``kubetrail.<technique-id>`` beside the usual
``attack.tNNNN``. The bundled pack is ``kubetrail/data/rules``.

Errors are collected per file (a rule that does not parse, a condition that cannot be
compiled) and returned with the rules that loaded: one bad rule does not stop the others.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

import msgspec

from kubetrail.detect.match import Predicate, compile_condition, plain_leaf
from kubetrail.errors import InputError

__all__ = [
    "LEVELS",
    "Correlation",
    "Rule",
    "RuleProblem",
    "bundled_pack",
    "load_pack",
    "load_rules",
    "rule_files",
]

LEVELS: Final = ("informational", "low", "medium", "high", "critical")

#: Field names some published Kubernetes rules use (SigmaHQ's among them) that are not paths
#: of an audit event, mapped by a pySigma processing pipeline at load to the paths they mean:
#: a top-level ``apiGroup`` is the object's API group; ``hostPath`` and ``capabilities`` are
#: the pod spec's volumes and its containers' added capabilities.
FIELD_MAPPING: Final = {
    "apiGroup": "objectRef.apiGroup",
    "hostPath": "requestObject.spec.volumes.hostPath.path",
    "capabilities": "requestObject.spec.containers.securityContext.capabilities.add",
}


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str  # the file's stem: a stable, readable handle (``privileged-container``)
    title: str
    level: str
    description: str
    path: str
    techniques: tuple[str, ...]  # catalogue ids (tags kubetrail.<id>)
    attack: tuple[str, ...]  # ATT&CK ids (tags attack.tNNNN), upper case
    tags: tuple[str, ...]
    fields: tuple[str, ...]  # every event field the detection reads
    predicates: tuple[Predicate, ...] = ()  # one per condition; the rule fires if any is True
    # The objectRef.resource values the rule requires (None: any): events of other resources
    # are not evaluated at all.
    resources: frozenset[str] | None = None
    subresources: frozenset[str] | None = None  # likewise for objectRef.subresource
    verbs: frozenset[str] | None = None  # and for verb
    # Whether the rule requires user.extra to exist (a top-level `user.extra.…|exists: true`):
    # events without it are not evaluated (most callers but pod tokens have none).
    needs_extra: bool = False
    trees: tuple[Any, ...] = ()  # pySigma's resolved conditions (for analyses of the rule)

    def matches(self, event: Any) -> bool:
        return any(p(event) is True for p in self.predicates)


class RuleProblem(msgspec.Struct, frozen=True):
    path: str
    message: str


def bundled_pack() -> Path:
    return Path(str(importlib.resources.files("kubetrail") / "data" / "rules"))


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """The rule files of ``paths`` (directories searched for ``*.yml``/``*.yaml``)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml"))
        elif path.exists():
            out.append(path)
        else:
            raise InputError("no such rule file or directory", path=str(path))
    return out


def _fields(node: Any, out: list[str]) -> None:
    from sigma.conditions import ConditionFieldEqualsValueExpression

    if isinstance(node, ConditionFieldEqualsValueExpression):
        if node.field not in out:
            out.append(str(node.field))
        return
    for arg in getattr(node, "args", ()):
        _fields(arg, out)


def required(node: Any, field: str) -> frozenset[str] | None:
    """The plain values ``field`` must take for ``node`` to be true, if the condition says so
    in its top-level AND (``field: a`` or ``field: [a, b]``); None otherwise."""
    from sigma.conditions import ConditionAND, ConditionOR

    if isinstance(node, ConditionAND):
        for arg in node.args:
            found = required(arg, field)
            if found is not None:
                return found
        return None
    if isinstance(node, ConditionOR):
        plain = [plain_leaf(a) for a in node.args]
        if plain and all(p is not None and p[0] == field for p in plain):
            return frozenset(p[1] for p in plain if p is not None)
        return None
    single = plain_leaf(node)
    return frozenset({single[1]}) if single is not None and single[0] == field else None


class Correlation(msgspec.Struct, frozen=True, kw_only=True):
    """A Sigma correlation rule: event_count, value_count or temporal over other rules."""

    id: str
    name: str
    title: str
    level: str
    path: str
    type: str  # event_count | value_count | temporal
    rules: tuple[str, ...]  # referenced rule names or ids
    group_by: tuple[str, ...]
    seconds: float
    op: str  # gte, gt, lte, lt, eq
    count: int
    field: str | None  # value_count: the field whose distinct values count
    generate: bool  # whether the referenced rules also report on their own
    techniques: tuple[str, ...]
    attack: tuple[str, ...]
    # Sigma's field aliases: a group-by name -> (referenced rule -> the field it means there).
    aliases: dict[str, dict[str, str]] = msgspec.field(default_factory=dict)

    def field_of(self, name: str, rule_name: str, rule_id: str) -> str:
        """The event field a group-by name means in a finding of the given rule."""
        mapping = self.aliases.get(name)
        if not mapping:
            return name
        return mapping.get(rule_name) or mapping.get(rule_id) or name

    def fields(self) -> list[str]:
        """Every event field the correlation reads (group-by, aliases, value_count field)."""
        found = [*self.group_by, *(f for m in self.aliases.values() for f in m.values())]
        return found + ([self.field] if self.field else [])


def load_rules(paths: Sequence[str | Path] | None = None) -> tuple[list[Rule], list[RuleProblem]]:
    """The Kubernetes audit rules in ``paths`` (default: the bundled pack), and the problems.
    Correlation rules are left to :func:`load_pack`."""
    rules, _, problems = load_pack(paths)
    return rules, problems


def _correlation(text: str, where: str, stem: str) -> Correlation:
    from sigma.correlations import SigmaCorrelationRule

    sigma = SigmaCorrelationRule.from_yaml(text)
    kind = str(getattr(sigma.type, "name", sigma.type)).lower()
    if kind not in ("event_count", "value_count", "temporal"):
        raise ValueError(f"correlation type {kind!r} is not supported")
    tags = tuple(f"{t.namespace}.{t.name}" for t in sigma.tags)
    condition: Any = sigma.condition  # simple conditions only (op, count, fieldref)
    if condition is not None and not hasattr(condition, "op"):
        raise ValueError("only simple correlation conditions (gte, gt, lte, lt, eq) are supported")
    references = list(sigma.rules or [])
    op = str(getattr(condition.op, "name", condition.op)).lower() if condition else "gte"
    return Correlation(
        id=str(sigma.id or stem),
        name=stem,
        title=sigma.title,
        level=sigma.level.name.lower() if sigma.level is not None else "medium",
        path=where,
        type=kind,
        rules=tuple(str(getattr(r, "reference", r)) for r in references),
        group_by=tuple(sigma.group_by or ()),
        seconds=float(sigma.timespan.seconds),
        op=op,
        count=int(condition.count) if condition else len(references),
        field=str(condition.fieldref) if condition and condition.fieldref else None,
        generate=bool(sigma.generate),
        techniques=tuple(t.split(".", 1)[1] for t in tags if t.startswith("kubetrail.")),
        attack=tuple(t.split(".", 1)[1].upper() for t in tags if t.startswith("attack.t")),
        aliases={
            alias: {str(getattr(r, "reference", r)): str(f) for r, f in a.mapping.items()}
            for alias, a in (sigma.aliases.aliases if sigma.aliases else {}).items()
        },
    )


def load_pack(
    paths: Sequence[str | Path] | None = None,
) -> tuple[list[Rule], list[Correlation], list[RuleProblem]]:
    """Rules and correlation rules of ``paths`` (default: the bundled pack), and problems."""
    import yaml
    from sigma.exceptions import SigmaError
    from sigma.rule import SigmaRule

    rules: list[Rule] = []
    correlations: list[Correlation] = []
    problems: list[RuleProblem] = []
    seen: dict[str, str] = {}
    for file in rule_files(paths or [bundled_pack()]):
        where = str(file)
        try:
            text = file.read_text(encoding="utf-8")
            doc = yaml.safe_load(text)
            if isinstance(doc, dict) and "correlation" in doc:
                correlations.append(_correlation(text, where, file.stem))
                continue
            sigma = SigmaRule.from_yaml(text)
            _mapping().apply(sigma)
        except (SigmaError, ValueError, yaml.YAMLError, AttributeError) as exc:
            problems.append(RuleProblem(where, f"not a valid Sigma rule: {exc}"))
            continue
        source = sigma.logsource
        if (source.product, source.service) != ("kubernetes", "audit"):
            problems.append(
                RuleProblem(where, "skipped: logsource is not product kubernetes, service audit")
            )
            continue
        try:
            trees = [c.parsed for c in sigma.detection.parsed_condition]
            predicates = tuple(compile_condition(t) for t in trees)
        except (SigmaError, InputError) as exc:
            problems.append(RuleProblem(where, f"cannot evaluate: {exc}"))
            continue
        rule_id = str(sigma.id or file.stem)
        if rule_id in seen:
            problems.append(RuleProblem(where, f"duplicate id {rule_id} (also {seen[rule_id]})"))
            continue
        seen[rule_id] = where
        tags = tuple(f"{t.namespace}.{t.name}" for t in sigma.tags)
        fields: list[str] = []
        for tree in trees:
            _fields(tree, fields)
        level = sigma.level.name.lower() if sigma.level is not None else "medium"
        rules.append(
            Rule(
                id=rule_id,
                name=file.stem,
                title=sigma.title,
                level=level,
                description=(sigma.description or "").strip(),
                path=where,
                techniques=tuple(t.split(".", 1)[1] for t in tags if t.startswith("kubetrail.")),
                attack=tuple(
                    t.split(".", 1)[1].upper()
                    for t in tags
                    if t.startswith("attack.t") and t[8:9].isdigit()
                ),
                tags=tags,
                fields=tuple(fields),
                predicates=predicates,
                resources=_union([required(t, "objectRef.resource") for t in trees]),
                subresources=_union([required(t, "objectRef.subresource") for t in trees]),
                verbs=_union([required(t, "verb") for t in trees]),
                needs_extra=all(_needs_extra(t) for t in trees),
                trees=tuple(trees),
            )
        )
    names = {r.name for r in rules} | {r.id for r in rules}
    for corr in correlations:
        unknown = [r for r in corr.rules if r not in names]
        if unknown:
            problems.append(
                RuleProblem(corr.path, f"correlation names unknown rules: {', '.join(unknown)}")
            )
    known = [c for c in correlations if all(r in names for r in c.rules)]
    return rules, known, problems


def _needs_extra(node: Any) -> bool:
    """Whether the condition's top-level AND holds ``user.extra.…|exists: true``."""
    from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression
    from sigma.types import SigmaExists

    if isinstance(node, ConditionAND):
        return any(_needs_extra(a) for a in node.args)
    return (
        isinstance(node, ConditionFieldEqualsValueExpression)
        and str(node.field).startswith("user.extra.")
        and isinstance(node.value, SigmaExists)
        and bool(node.value.exists)
    )


def _mapping() -> Any:
    """The pySigma pipeline of :data:`FIELD_MAPPING`."""
    from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
    from sigma.processing.transformations import FieldMappingTransformation

    return ProcessingPipeline(
        name="kubetrail: audit event paths",
        items=[ProcessingItem(FieldMappingTransformation(dict(FIELD_MAPPING)))],  # type: ignore[arg-type]
    )


def _union(sets: list[frozenset[str] | None]) -> frozenset[str] | None:
    if not sets or any(s is None for s in sets):
        return None
    return frozenset().union(*(s for s in sets if s is not None))
