"""`--format ocsf`: a JSON array of OCSF Detection Finding events (class_uid 2004).

Shape checked in the tests against `schema/ocsf-detection-finding.schema.json` (derived from the
OCSF schema's detection_finding / finding / base_event / finding_info definitions).

The controls a finding evidences: ATT&CK techniques in `finding_info.attacks` (OCSF's `attack` object, with
`technique` and `sub_technique`); CIS sections as OCSF `compliance` objects (standards, control,
requirements, status Fail) in `unmapped.compliance`, because the Detection Finding class defines no
`compliance` attribute (only Compliance Finding, 2003, does; OCSF 1.3.0 to 1.8.0) and a strict OCSF
validator rejects an attribute its class does not define.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kubeiam import __version__
from kubeiam.pipeline.report import Report
from kubeiam.render.by_control import control_order, is_attack
from kubeiam.render.catalogue import rule_info
from kubeiam.vocabulary.findings import Finding, Severity

OCSF_VERSION = "1.3.0"
CLASS_UID, CATEGORY_UID = 2004, 2
SEVERITY_ID = {
    Severity.INFO: (1, "Informational"),
    Severity.LOW: (2, "Low"),
    Severity.MEDIUM: (3, "Medium"),
    Severity.HIGH: (4, "High"),
    Severity.CRITICAL: (5, "Critical"),
}


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _parse(text: Any) -> int | None:
    if not isinstance(text, str):
        return None
    try:
        return _ms(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def render_ocsf(report: Report, colour: bool = False) -> str:
    events = [detection_finding(f, report) for f in report.findings]
    return json.dumps(events, indent=2, ensure_ascii=False) + "\n"


def detection_finding(f: Finding, report: Report) -> dict[str, Any]:
    meta = rule_info(f, report)
    extra = dict(f.extra)
    # Create for a finding first seen now, Update for one a baseline already knew.
    activity_id, activity = (2, "Update") if extra.get("baseline") == "unchanged" else (1, "Create")
    status_id, status = (3, "Suppressed") if f.status == "suppressed" else (1, "New")
    severity_id, severity = SEVERITY_ID[f.severity]
    now = _ms(report.generated_at)
    resources: list[dict[str, Any]] = []
    if f.service_account is not None:
        sa: dict[str, Any] = {
            "uid": f"{f.cluster_id or f.cluster}/{f.namespace}/{f.service_account}",
            "name": f.service_account,
            "type": "Kubernetes ServiceAccount",
            "namespace": f.namespace,
            "labels": [f"cluster:{f.cluster}"],
        }
        if extra.get("owner"):
            sa["owner"] = {"name": extra["owner"]}
        resources.append(sa)
    elif f.node is not None:
        resources.append({"uid": f"{f.cluster}/node/{f.node}", "name": f.node, "type": "Kubernetes Node"})
    if f.principal:
        resources.append({"uid": f.principal, "name": f.principal.rsplit("/", 1)[-1], "type": f"{f.cloud} identity"})
    info: dict[str, Any] = {
        "uid": f.fingerprint,
        "title": f.title,
        "desc": meta.get("rationale") or f.title,
        "types": [str(f.category)],
        "analytic": {"uid": f.rule_id, "name": meta["title"], "type_id": 1, "type": "Rule"},
        "created_time": now,
        "last_seen_time": now,
    }
    first_seen = _parse(extra.get("first_seen"))
    if first_seen is not None:
        info["first_seen_time"] = first_seen
    controls = sorted(f.compliance, key=control_order)
    attacks = [attack(c) for c in controls if is_attack(c)]
    if attacks:
        info["attacks"] = attacks
    event: dict[str, Any] = {
        "activity_id": activity_id,
        "activity_name": activity,
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "type_uid": CLASS_UID * 100 + activity_id,
        "type_name": f"Detection Finding: {activity}",
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "time": now,
        "message": f.title,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "kubeiam", "vendor_name": "kubeiam", "version": __version__},
        },
        "finding_info": info,
        "resources": resources,
        "remediation": {"desc": f.remediation, "references": list(meta.get("references") or [])},
        "evidences": [{"data": dict(f.evidence)}],
        "unmapped": {
            "cluster": f.cluster,
            "cluster_id": f.cluster_id or f.cluster,
            "owner": extra.get("owner"),
            "baseline": extra.get("baseline"),
            "suppression": extra.get("suppression"),
        },
    }
    standards = [compliance(c) for c in controls if not is_attack(c)]
    if standards:
        event["unmapped"]["compliance"] = standards
    if f.cloud in report.cloud_titles:
        event["cloud"] = {"provider": report.cloud_titles[f.cloud]}
    if not event["remediation"]["references"]:
        del event["remediation"]["references"]
    return event


def attack(control: Mapping[str, Any]) -> dict[str, Any]:
    """OCSF `attack`: `T1552.005` "Unsecured Credentials: Cloud Instance Metadata API" is the sub-technique
    of technique `T1552` "Unsecured Credentials"."""
    cid, title = str(control.get("id", "")), str(control.get("title", ""))
    out: dict[str, Any] = {"version": str(control.get("version", ""))}
    if "." in cid:
        parent, _, name = title.partition(": ")
        out["technique"] = {"uid": cid.split(".", 1)[0], **({"name": parent} if name else {})}
        out["sub_technique"] = {"uid": cid, "name": name or title}
    else:
        out["technique"] = {"uid": cid, "name": title}
    return out


def compliance(control: Mapping[str, Any]) -> dict[str, Any]:
    """OCSF `compliance`: the benchmark (name and version), its section as the control, the section's
    recommendation as the requirement, and the check failed here."""
    cid = str(control.get("id", ""))
    return {
        "standards": [f"{control.get('framework')} {control.get('version')}"],
        "control": cid,
        "requirements": [f"{cid} {control.get('title', '')}".strip()],
        "status_id": 3,
        "status": "Fail",
    }
