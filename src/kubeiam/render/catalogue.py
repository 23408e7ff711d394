"""Rule metadata for formats that describe their rules (SARIF `tool.driver.rules`, OCSF `analytic`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeiam.pipeline.report import Report
from kubeiam.vocabulary.findings import Finding


def rule_info(finding: Finding, report: Report) -> Mapping[str, Any]:
    """The rule's metadata as the report carries it; what the finding itself says when the report has
    none for it (a report rebuilt from JSON, or a rule since removed)."""
    known = report.catalogue.get(finding.rule_id)
    if known:
        return known
    return {
        "id": finding.rule_id,
        "title": finding.title.split(": ", 1)[0],
        "category": str(finding.category),
        "severity": str(finding.severity),
        "cloud": finding.cloud,
        "rationale": "",
        "remediation": finding.remediation,
        "references": [],
    }
