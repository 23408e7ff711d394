"""`--format jsonl`: one finding per line (or one ServiceAccount per line with --group-by)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from kubeiam.pipeline.report import Report
from kubeiam.render.by_service_account import grouped_records
from kubeiam.render.finding_json import encoded_findings


def iter_jsonl(report: Report) -> Iterator[str]:
    for text in encoded_findings(report.findings):
        yield text + "\n"


def render_jsonl(report: Report, colour: bool = False) -> str:
    return "".join(iter_jsonl(report))


def render_jsonl_grouped(report: Report, colour: bool = False) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in grouped_records(report))
