"""Read the JSON report tickets are filed from: a file, or the latest full run of a `--report-dir`.

Only what ticketing needs is checked, and each problem is one InputError line naming the file and
the field, never a traceback: a damaged report must not close tickets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubeiam.errors import InputError
from kubeiam_tickets.model import SEVERITIES

FINDINGS_FILE = "findings.json"
# The label `kubeiam:<fingerprint>` must fit GitHub's 50 characters; kubeiam's are `v1:` + 32 hex.
FINGERPRINT = re.compile(r"^v[0-9]+:[0-9a-f]{16,38}$")


@dataclass(frozen=True)
class ReportView:
    """The parts of a report that drive tickets."""

    path: Path
    generated_at: str
    findings: tuple[Mapping[str, Any], ...]
    """Open and suppressed findings of this run."""
    resolved: tuple[Mapping[str, Any], ...]
    """Findings of the previous run that the evidence now shows fixed."""
    not_rechecked: tuple[Mapping[str, Any], ...]
    """Findings of the previous run that this run could not look at again: neither fixed nor confirmed."""


def latest_run(report_dir: Path) -> Path:
    """`findings.json` of the latest complete, full-scope run in a report folder.

    A folder without findings.json is an interrupted run (ignored, as the audit does); a narrowed run
    (`check`, `--namespace`) records `scope` and would make every other ServiceAccount look absent.
    """
    if not report_dir.is_dir():
        raise InputError(f"--report-dir {report_dir}: not a directory")
    runs = sorted((p for p in report_dir.iterdir() if p.is_dir() and (p / FINDINGS_FILE).is_file()), reverse=True)
    for run in runs:
        doc = _read(run / FINDINGS_FILE)
        if isinstance(doc, dict) and doc.get("scope") is None:
            return run / FINDINGS_FILE
    raise InputError(f"--report-dir {report_dir}: no completed full-scope run (a folder with {FINDINGS_FILE})")


def load_report(path: Path) -> ReportView:
    return view_of(_read(path), path)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read report: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: report is not valid JSON ({exc})") from None


def view_of(doc: Any, path: Path) -> ReportView:
    if not isinstance(doc, dict):
        raise InputError(f"{path}: not a kubeiam JSON report (not an object)")
    findings = _findings(doc, path)
    generated = doc.get("generated_at")
    if not isinstance(generated, str) or not generated:
        raise InputError(f"{path}: not a kubeiam JSON report (no 'generated_at')")
    seen: set[str] = set()
    for i, f in enumerate(findings):
        where = f"{path}: findings[{i}]"
        fp = _fingerprint(f, where)
        if fp in seen:
            raise InputError(f"{where}: fingerprint {fp} appears twice")
        seen.add(fp)
        if f.get("severity") not in SEVERITIES:
            raise InputError(f"{where} ({fp}): 'severity' is not one of {', '.join(SEVERITIES)}")
        if f.get("status", "open") not in ("open", "suppressed"):
            raise InputError(f"{where} ({fp}): 'status' is not open or suppressed")
        if not isinstance(f.get("title"), str):
            raise InputError(f"{where} ({fp}): no 'title'")
    previous = {name: _previous(doc, name, path) for name in ("resolved", "not_rechecked")}
    return ReportView(path, generated, tuple(findings), previous["resolved"], previous["not_rechecked"])


def _findings(doc: Mapping[str, Any], path: Path) -> list[Mapping[str, Any]]:
    items: list[Any]
    if isinstance(doc.get("findings"), list):
        items = doc["findings"]
    elif isinstance(doc.get("service_accounts"), list):
        # `--group-by service-account` JSON: the same findings, nested per ServiceAccount.
        items = [f for r in doc["service_accounts"] if isinstance(r, dict) for f in r.get("findings") or []]
    else:
        raise InputError(f"{path}: not a kubeiam JSON report (no 'findings' list)")
    for i, f in enumerate(items):
        if not isinstance(f, dict):
            raise InputError(f"{path}: findings[{i}] is not an object")
    return [dict(f) for f in items]


def _previous(doc: Mapping[str, Any], name: str, path: Path) -> tuple[Mapping[str, Any], ...]:
    items = doc.get(name, [])
    if not isinstance(items, list):
        raise InputError(f"{path}: '{name}' is not a list")
    for i, f in enumerate(items):
        if not isinstance(f, dict):
            raise InputError(f"{path}: {name}[{i}] is not an object")
        _fingerprint(f, f"{path}: {name}[{i}]")
    return tuple(items)


def _fingerprint(f: Mapping[str, Any], where: str) -> str:
    fp = f.get("fingerprint")
    if not isinstance(fp, str) or not FINGERPRINT.match(fp):
        raise InputError(f"{where}: 'fingerprint' is not a kubeiam fingerprint (v1:<hex>): {str(fp)[:60]!r}")
    return fp
