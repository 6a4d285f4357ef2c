"""Rule packs converted for the user's SIEM with pySigma backends.

Targets: ``splunk`` (SPL over audit events indexed as JSON, fields named as in the event),
``elasticsearch`` (Lucene), ``eql`` and ``esql`` over Elastic's Kubernetes integration, which
keeps the raw event under ``kubernetes.audit.*`` and writes the dots of annotation keys as
``_`` (``kubernetes.audit.annotations.authorization_k8s_io/decision``). Correlation rules are
converted with the rules they reference, where the backend supports them.

A SIEM evaluates a query in two-valued logic: a condition on a body the event does not carry
is false there, so ``not`` over it is true — the exported queries do not keep kubetrail's
"unknown" for missing bodies (docs/detections.md).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import msgspec

from kubetrail.errors import UsageError

__all__ = ["TARGETS", "Exported", "export"]

TARGETS: Final = ("splunk", "elasticsearch", "eql", "esql")
_ELASTIC_PREFIX: Final = "kubernetes.audit."


class Exported(msgspec.Struct, frozen=True, kw_only=True):
    rule: str  # file stem
    id: str
    title: str
    level: str
    queries: tuple[str, ...] = ()
    error: str | None = None  # why the backend could not convert it


def _backend(target: str, fields: set[str]) -> Any:
    from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
    from sigma.processing.transformations import (
        AddFieldnamePrefixTransformation,
        FieldMappingTransformation,
    )

    from kubetrail.detect.rules import FIELD_MAPPING

    # Field names that are not event paths (a top-level apiGroup...) mean the paths they map to.
    paths = ProcessingItem(FieldMappingTransformation(dict(FIELD_MAPPING)))  # type: ignore[arg-type]
    if target == "splunk":
        from sigma.backends.splunk.splunk import SplunkBackend

        return SplunkBackend(
            ProcessingPipeline(name="kubetrail: audit event fields", items=[paths])
        )
    if target not in TARGETS:
        raise UsageError(f"unknown target {target!r} (choose {', '.join(TARGETS)})")
    annotations = {
        f: "annotations." + f.removeprefix("annotations.").replace(".", "_")
        for f in fields
        if f.startswith("annotations.")
    }
    pipeline = ProcessingPipeline(
        name="kubetrail: Elastic Kubernetes integration (kubernetes.audit.*)",
        items=[
            paths,
            ProcessingItem(FieldMappingTransformation(annotations)),  # type: ignore[arg-type]
            ProcessingItem(AddFieldnamePrefixTransformation(_ELASTIC_PREFIX)),
        ],
    )
    from sigma.backends.elasticsearch.elasticsearch_eql import EqlBackend
    from sigma.backends.elasticsearch.elasticsearch_esql import ESQLBackend
    from sigma.backends.elasticsearch.elasticsearch_lucene import LuceneBackend

    backend: Any = {"elasticsearch": LuceneBackend, "eql": EqlBackend, "esql": ESQLBackend}[target]
    return backend(pipeline)


def export(target: str, paths: Sequence[str | Path]) -> list[Exported]:
    """Every rule and correlation rule of ``paths`` converted for ``target``, in file order;
    rules a backend cannot convert carry the reason in ``error``."""
    from sigma.collection import SigmaCollection
    from sigma.exceptions import SigmaError

    from kubetrail.detect.rules import bundled_pack, load_pack, rule_files

    rules, _, _ = load_pack(paths)  # the fields the pack reads (for the mapping)
    fields = {f for r in rules for f in r.fields}
    documents = []
    for file in rule_files(paths or [bundled_pack()]):
        try:
            text = file.read_text(encoding="utf-8")
            doc = SigmaCollection.from_yaml(text, resolve_references=False)
        except (OSError, SigmaError, ValueError) as exc:
            raise UsageError(f"{file}: not a Sigma rule: {exc}") from exc
        for rule in doc.rules:
            rule.name = rule.name or file.stem  # kubetrail names a rule by its file
        documents.append((file, doc))
    # Correlations name rules of other files: resolved across the whole pack, in order.
    merged = SigmaCollection.merge(
        [copy.deepcopy(c) for _, c in documents], resolve_references=True
    )  # (resolving marks the rules in place: the files' own rules stay unmarked)
    resolved: dict[str, Any] = {str(rule.name): rule for rule in merged.rules}
    out: list[Exported] = []
    for file, doc in documents:
        for rule in doc.rules:
            level = rule.level.name.lower() if rule.level is not None else "medium"
            info: dict[str, Any] = {
                "rule": file.stem,
                "id": str(rule.id or file.stem),
                "title": rule.title,
            }
            try:
                queries = _convert(_backend(target, fields), rule, resolved)
            except (SigmaError, NotImplementedError, ValueError, KeyError) as exc:
                out.append(Exported(**info, level=level, error=f"{type(exc).__name__}: {exc}"))
                continue
            out.append(Exported(**info, level=level, queries=tuple(str(q) for q in queries)))
    return out


def _convert(backend: Any, rule: Any, resolved: dict[str, Any]) -> list[Any]:
    """One rule's queries. A rule is converted from its own file (in the pack, the rules a
    correlation names are marked as its parts, and backends then leave out their preamble);
    a correlation with the rules it names before it, its query being the last. Backends
    transform the rules they convert in place: each conversion gets copies."""
    from sigma.collection import SigmaCollection
    from sigma.correlations import SigmaCorrelationRule

    if isinstance(rule, SigmaCorrelationRule):
        whole = copy.deepcopy(resolved[str(rule.name)])
        named = [ref.rule for ref in whole.rules]
        return list(backend.convert(SigmaCollection([*named, whole], resolve_references=False)))[
            -1:
        ]
    return list(backend.convert(SigmaCollection([copy.deepcopy(rule)], resolve_references=False)))
