"""`--format json`: the report of shared FINDINGS.md."""

from __future__ import annotations

import json

from kubeiam.grouping import grouped_records
from kubeiam.report import Report


def render_json(report: Report, colour: bool = False) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def render_json_grouped(report: Report, colour: bool = False) -> str:
    """The report with `service_accounts` (one record per ServiceAccount) in place of the flat list."""
    doc = report.to_dict()
    doc.pop("findings")
    doc["service_accounts"] = grouped_records(report)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
