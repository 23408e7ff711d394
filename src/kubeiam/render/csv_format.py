"""`--format csv`: one row per finding (or per ServiceAccount with --group-by), for spreadsheets and ticket imports."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from kubeiam.pipeline.report import Report
from kubeiam.render.by_service_account import grouped_records

COLUMNS = (
    "fingerprint",
    "severity",
    "category",
    "rule_id",
    "status",
    "cluster",
    "namespace",
    "service_account",
    "node",
    "cloud",
    "principal",
    "owner",
    "title",
    "remediation",
    "baseline",
    "first_seen",
    "suppression_reason",
    "suppression_owner",
    "suppression_expires",
    "evidence",
)
GROUP_COLUMNS = (
    "cluster",
    "namespace",
    "service_account",
    "node",
    "owner",
    "severity",
    "status",
    "principals",
    "count",
    "rule_ids",
    "titles",
    "fingerprints",
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    # Spreadsheet formula injection: a cell starting with = + - @ would run as a formula.
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


def render_csv(report: Report, colour: bool = False) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for f in report.findings:
        d = f.to_dict()
        sup = d.get("suppression") or {}
        row = {
            **d,
            "suppression_reason": sup.get("reason"),
            "suppression_owner": sup.get("owner"),
            "suppression_expires": sup.get("expires"),
            "evidence": json.dumps(d["evidence"], sort_keys=True, ensure_ascii=False),
        }
        writer.writerow([_cell(row.get(c)) for c in COLUMNS])
    return buf.getvalue()


def render_csv_grouped(report: Report, colour: bool = False) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(GROUP_COLUMNS)
    for r in grouped_records(report):
        items = r["findings"]
        row = {
            **r,
            "principals": "; ".join(r["principals"]),
            "count": len(items),
            "rule_ids": "; ".join(sorted({f["rule_id"] for f in items})),
            "titles": "\n".join(f["title"] for f in items),
            "fingerprints": "; ".join(f["fingerprint"] for f in items),
        }
        writer.writerow([_cell(row.get(c)) for c in GROUP_COLUMNS])
    return buf.getvalue()
