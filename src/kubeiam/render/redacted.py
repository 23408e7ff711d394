"""The report as every format writes it: credential-shaped values blanked in every string it carries.

Rules name variables, never their values, but a finding's title, evidence or a coverage reason quotes
evidence (an annotation, a subject, an error body), and evidence may hold a password in a URL, a key id
in a variable with an innocent name, `password=...` in free text. Every renderer, and the report
folder, takes the report through here first, so no format can forget.

Fast at 100,000 findings: a role's findings share one evidence mapping and titles repeat, so each
distinct mapping and string is looked at once, and a finding with nothing to blank is kept as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from operator import attrgetter
from typing import Any

from kubeiam.pipeline.report import Report
from kubeiam.safety.redaction import Redactor
from kubeiam.vocabulary.findings import Finding

# Names stay as they are (Kubernetes and cloud names hold no credential, and fingerprints rest on them);
# the rest is anyone's text. A principal is a name too, but one read from an annotation anyone can write.
_TEXT_FIELDS = ("title", "remediation", "principal")


_last: tuple[Report, Report] | None = None
"""The last report blanked and what came of it: a run with --report-dir writes four files from one report."""


def redacted_report(report: Report) -> Report:
    """`report` with secret values blanked; the same object when there was nothing to blank."""
    global _last
    if _last is not None and (report is _last[0] or report is _last[1]):  # identity: == compares every finding
        return _last[1]
    _last = (report, _blanked(report))
    return _last[1]


def _blanked(report: Report) -> Report:
    redactor = Redactor()
    findings = report.findings
    # Each field's distinct values first (a set is built at C speed): most reports have nothing to blank,
    # and then no finding is looked at one by one.
    texts = {}
    for name in _TEXT_FIELDS:
        distinct = set(map(attrgetter(name), findings))
        texts[name] = {v: new for v in distinct if v and (new := redactor.text(v)) is not v}
    changed_mappings: dict[int, Any] = {}
    for name in ("evidence", "extra"):
        # By id: a role's findings share one evidence mapping, and the findings are alive while this runs.
        for key, value in {id(m): m for m in map(attrgetter(name), findings)}.items():
            new = redactor.value(value)
            if new is not value:
                changed_mappings[key] = new
    if any(texts.values()) or changed_mappings:
        findings = tuple(_finding(f, texts, changed_mappings) for f in findings)
    coverage, extra = redactor.value(report.coverage), redactor.value(report.extra)
    if findings is report.findings and coverage is report.coverage and extra is report.extra:
        return report
    return replace(report, findings=findings, coverage=coverage, extra=extra)


def _finding(f: Finding, texts: Mapping[str, Mapping[str, str]], mappings: Mapping[int, Any]) -> Finding:
    changes: dict[str, Any] = {}
    for name, blanked in texts.items():
        if blanked:
            old = getattr(f, name)
            if old in blanked:
                changes[name] = blanked[old]
    for name in ("evidence", "extra"):
        new = mappings.get(id(getattr(f, name)))
        if new is not None:
            changes[name] = new
    return replace(f, **changes) if changes else f
