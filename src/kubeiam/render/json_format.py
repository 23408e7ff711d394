"""`--format json`: the report of shared FINDINGS.md."""

from __future__ import annotations

import json

from kubeiam.report import Report


def render_json(report: Report, colour: bool = False) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"
