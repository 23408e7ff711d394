"""`--format csv`: one row per finding (or per ServiceAccount with --group-by), for spreadsheets and ticket imports."""

from __future__ import annotations

import csv
import io
import json

from kubeiam.pipeline.report import Report
from kubeiam.render.by_service_account import grouped_records
from kubeiam.safety.text import csv_cell, escape_controls, json_block

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


# Every cell through csv_cell: a spreadsheet runs no formula from evidence (`=`, `+`, `-`, `@`, TAB, CR).
_cell = csv_cell


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
            "evidence": json_block(json.dumps(d["evidence"], sort_keys=True, ensure_ascii=False)),
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
            "titles": "\n".join(escape_controls(f["title"]) for f in items),  # one line per title
            "fingerprints": "; ".join(f["fingerprint"] for f in items),
        }
        writer.writerow([_cell(row.get(c)) for c in GROUP_COLUMNS])
    return buf.getvalue()
