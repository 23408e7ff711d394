"""The quarterly stages after analysis: owners, suppressions and the baseline (run by `pipeline.audit`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from kubeiam.pipeline.engine import AnalysisConfig
from kubeiam.pipeline.report import Report
from kubeiam.quarterly.baseline import Previous, compare, report_extra, scope_of
from kubeiam.quarterly.ownership import DEFAULT_OWNER_LABELS
from kubeiam.quarterly.suppressions import Suppression, annotation_suppressions, apply_suppressions
from kubeiam.vocabulary.model import Inventory


@dataclass(frozen=True)
class Stages:
    """What happens after analysis; every field has a neutral default."""

    now: datetime
    """The clock for `first_seen` and suppression expiry (passed in: testable, reproducible)."""
    owner_labels: tuple[str, ...] = DEFAULT_OWNER_LABELS
    suppressions: tuple[Suppression, ...] = ()
    baseline: Previous | None = None
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    rule_clouds: Mapping[str, str] = field(default_factory=dict)
    """Rule id -> the cloud whose evidence it reads (a rule's `cloud`): what the baseline must have
    re-read before it may call a previous finding resolved."""


def enrich(
    report: Report,
    inventory: Inventory,
    stages: Stages,
    *,
    namespace: str | None = None,
    service_account: str | None = None,
    cluster: str | None = None,
) -> Report:
    findings = report.findings  # owners were set by the engine (AnalysisConfig.owner_labels)
    from_annotations, invalid = annotation_suppressions(inventory, stages.owner_labels)
    outcome = apply_suppressions(findings, stages.suppressions + from_annotations, stages.now, invalid)
    findings = outcome.findings
    extra: dict = {"expired_suppressions": list(outcome.expired)}
    scope = scope_of(namespace, service_account, cluster)
    if scope is not None:
        # Recorded so that a later run picks a baseline of the same scope (report_dir.previous_findings).
        extra["scope"] = scope
    if outcome.unused:
        extra["unused_suppressions"] = list(outcome.unused)
    if outcome.invalid_annotations:
        extra["invalid_suppressions"] = list(outcome.invalid_annotations)
    if stages.baseline is not None:
        comparison = compare(
            findings,
            stages.baseline,
            stages.now,
            report.coverage,
            namespace=namespace,
            service_account=service_account,
            cluster=cluster,
            rule_clouds=stages.rule_clouds or {k: str(v.get("cloud")) for k, v in report.catalogue.items()},
        )
        findings = comparison.findings
        extra.update(report_extra(comparison))
    return replace(report, findings=findings, extra={**report.extra, **extra})
