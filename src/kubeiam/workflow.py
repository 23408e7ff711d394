"""The quarterly audit: the pipeline's audit plus owners, suppressions and the baseline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from kubeiam.baseline import Previous, compare, report_extra, scope_of
from kubeiam.engine import AnalysisConfig
from kubeiam.evidence import Evidence
from kubeiam.model import Inventory
from kubeiam.ownership import DEFAULT_OWNER_LABELS
from kubeiam.pipeline import audit_with_inventory
from kubeiam.providers import Provider
from kubeiam.report import Report
from kubeiam.suppressions import Suppression, annotation_suppressions, apply_suppressions


@dataclass(frozen=True)
class Stages:
    """What happens after analysis; every field has a neutral default."""

    now: datetime
    """The clock for `first_seen` and suppression expiry (passed in: testable, reproducible)."""
    owner_labels: tuple[str, ...] = DEFAULT_OWNER_LABELS
    suppressions: tuple[Suppression, ...] = ()
    baseline: Previous | None = None
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)


def run_audit(
    evidence: Evidence,
    providers: Sequence[Provider],
    stages: Stages,
    *,
    namespace: str | None = None,
    service_account: str | None = None,
    mode: str = "audit",
) -> Report:
    report, inventory = audit_with_inventory(
        evidence,
        namespace=namespace,
        service_account=service_account,
        mode=mode,
        providers=providers,
        config=replace(stages.analysis, owner_labels=stages.owner_labels),
        now=stages.now,
    )
    return enrich(report, inventory, stages, namespace=namespace, service_account=service_account)


def enrich(
    report: Report,
    inventory: Inventory,
    stages: Stages,
    *,
    namespace: str | None = None,
    service_account: str | None = None,
) -> Report:
    findings = report.findings  # owners were set by the engine (AnalysisConfig.owner_labels)
    from_annotations, invalid = annotation_suppressions(inventory, stages.owner_labels)
    outcome = apply_suppressions(findings, stages.suppressions + from_annotations, stages.now, invalid)
    findings = outcome.findings
    extra: dict = {"expired_suppressions": list(outcome.expired)}
    scope = scope_of(namespace, service_account)
    if scope is not None:
        # Recorded so that a later run picks a baseline of the same scope (report_dir.previous_findings).
        extra["scope"] = scope
    if outcome.unused:
        extra["unused_suppressions"] = list(outcome.unused)
    if outcome.invalid_annotations:
        extra["invalid_suppressions"] = list(outcome.invalid_annotations)
    if stages.baseline is not None:
        comparison = compare(
            findings, stages.baseline, stages.now, report.coverage, namespace=namespace, service_account=service_account
        )
        findings = comparison.findings
        extra.update(report_extra(comparison))
    return replace(report, findings=findings, extra={**report.extra, **extra})
