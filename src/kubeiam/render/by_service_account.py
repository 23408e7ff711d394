"""`--group-by service-account`: one record per ServiceAccount (or node) with its findings: one ticket per workload."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kubeiam.pipeline.report import Report
from kubeiam.vocabulary.findings import Finding, Severity


def subject_key(f: Finding) -> tuple[str, str | None, str | None, str | None]:
    return (f.cluster, f.namespace, f.service_account, f.node)


def highest(findings: Sequence[Finding]) -> Severity:
    """The highest open severity; the highest overall when all are suppressed (the record still needs one)."""
    pool = [f for f in findings if f.status == "open"] or list(findings)
    return max((f.severity for f in pool), key=lambda s: s.rank)


def group_findings(findings: Sequence[Finding]) -> list[tuple[tuple, list[Finding]]]:
    groups: dict[tuple, list[Finding]] = {}
    for f in findings:
        groups.setdefault(subject_key(f), []).append(f)
    # Subjects with something open first (worst first), then those whose findings are all accepted risks.
    ordered = sorted(
        groups.items(),
        key=lambda kv: (
            not any(f.status == "open" for f in kv[1]),
            -highest(kv[1]).rank,
            tuple(str(x) for x in kv[0]),
        ),
    )
    return [(k, sorted(v, key=Finding.sort_key)) for k, v in ordered]


def grouped_records(report: Report) -> list[dict[str, Any]]:
    records = []
    for (cluster, namespace, sa, node), items in group_findings(report.findings):
        record: dict[str, Any] = {
            "cluster": cluster,
            "namespace": namespace,
            "service_account": sa,
            "owner": next((f.extra.get("owner") for f in items if f.extra.get("owner")), None),
            "severity": highest(items).value,
            "status": "open" if any(f.status == "open" for f in items) else "suppressed",
            "principals": sorted({f.principal for f in items if f.principal}),
            "findings": [f.to_dict() for f in items],
        }
        if node is not None:
            record["node"] = node
        records.append(record)
    return records
