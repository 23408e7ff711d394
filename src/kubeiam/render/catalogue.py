"""Rule metadata for formats that describe their rules (SARIF `tool.driver.rules`, OCSF `analytic`)."""

from __future__ import annotations

from functools import cache
from typing import Any

from kubeiam.findings import Finding


@cache
def _catalogue() -> dict[str, dict[str, Any]]:
    # Renderers only see the report; the catalogue is the same metadata `kubeiam rules` prints.
    from kubeiam.providers import load_providers
    from kubeiam.rules import all_rules

    return {r.id: r.metadata() for r in all_rules(load_providers())}


def rule_info(finding: Finding) -> dict[str, Any]:
    known = _catalogue().get(finding.rule_id)
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
