"""`--format sarif`: a SARIF 2.1.0 log (validated in the tests against the bundled OASIS schema).

The controls a rule evidences (CIS sections, ATT&CK techniques) are its tags, `CIS-EKS-1.8.0:5.2.1` and
`ATT&CK:T1552.005` (what GitHub code scanning shows and filters on); each result carries its own.
"""

from __future__ import annotations

import json
from typing import Any

from kubeiam import __version__
from kubeiam.pipeline.report import Report
from kubeiam.render.by_control import control_order, ordered_tags
from kubeiam.render.catalogue import rule_info
from kubeiam.vocabulary.findings import Finding, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning reads `security-severity` (0.0-10.0) on the rule to rank alerts.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def render_sarif(report: Report, colour: bool = False) -> str:
    rules: dict[str, dict[str, Any]] = {}
    controls: dict[str, dict[tuple, Any]] = {}
    for f in report.findings:
        if f.rule_id not in rules:
            rules[f.rule_id] = _rule(f, report)
            controls[f.rule_id] = {}
        # The rule's controls as they apply to this report's findings: CIS EKS only when an EKS cluster has one.
        seen = controls[f.rule_id]
        for c in f.compliance:
            seen.setdefault((c.get("framework"), c.get("version"), c.get("id")), c)
    for rule_id, rule in rules.items():
        found = sorted(controls[rule_id].values(), key=control_order)
        if found:
            rule["properties"]["tags"] += ordered_tags(found)
            rule["properties"]["compliance"] = [dict(c) for c in found]
    index = {rid: i for i, rid in enumerate(rules)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "kubeiam",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": list(rules.values()),
            }
        },
        "invocations": [_invocation(report)],
        "originalUriBaseIds": {"EVIDENCE": {"description": {"text": "The audited evidence directory."}}},
        "results": [_result(f, index[f.rule_id]) for f in report.findings],
        "properties": {"summary": report.summary(), "generated_at": _time(report)},
    }
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _time(report: Report) -> str:
    return report.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _rule(f: Finding, report: Report) -> dict[str, Any]:
    meta = rule_info(f, report)
    sev = Severity(meta["severity"])
    rule: dict[str, Any] = {
        "id": meta["id"],
        "name": meta["id"].replace("-", ""),
        "shortDescription": {"text": meta["title"]},
        "fullDescription": {"text": meta["rationale"] or meta["title"]},
        "help": {"text": meta["remediation"] or f.remediation},
        "defaultConfiguration": {"level": LEVEL[sev]},
        "properties": {
            "category": meta["category"],
            "severity": meta["severity"],
            "security-severity": SECURITY_SEVERITY[sev],
            "tags": ["security", meta["category"], meta["cloud"]],
        },
    }
    if meta["references"]:
        rule["helpUri"] = meta["references"][0]
    return rule


def _result(f: Finding, rule_index: int) -> dict[str, Any]:
    extra = dict(f.extra)
    subject = f.subject
    logical: dict[str, Any] = {
        "name": f.service_account or f.node or f.cluster,
        "fullyQualifiedName": subject,
        "kind": "serviceAccount" if f.service_account else ("node" if f.node else "cluster"),
    }
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": LEVEL[f.severity],
        "kind": "fail",
        "message": {"text": f.title},
        "locations": [
            {
                # The Kubernetes objects of the subject come from this evidence file (EVIDENCE.md).
                "physicalLocation": {
                    "artifactLocation": {"uri": f"kubernetes/{f.cluster}/resources.json", "uriBaseId": "EVIDENCE"}
                },
                "logicalLocations": [logical],
            }
        ],
        "partialFingerprints": {"kubeiam/v1": f.fingerprint},
        "properties": {
            "fingerprint": f.fingerprint,
            "severity": str(f.severity),
            "category": str(f.category),
            "cluster": f.cluster,
            "cluster_id": f.cluster_id or f.cluster,
            "namespace": f.namespace,
            "service_account": f.service_account,
            "node": f.node,
            "cloud": f.cloud,
            "principal": f.principal,
            "owner": extra.get("owner"),
            "first_seen": extra.get("first_seen"),
            "evidence": dict(f.evidence),
            "remediation": f.remediation,
        },
    }
    if f.compliance:
        result["properties"]["tags"] = ordered_tags(f.compliance)
    if extra.get("baseline") in ("new", "unchanged"):
        result["baselineState"] = extra["baseline"]
    sup = extra.get("suppression")
    if f.status == "suppressed" and sup:
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": sup.get("reason", ""),
                "properties": {"owner": sup.get("owner"), "expires": sup.get("expires"), "source": sup.get("source")},
            }
        ]
    return result


def _invocation(report: Report) -> dict[str, Any]:
    notes = [
        {"level": "warning", "message": {"text": f"{e['source']}: {e['location']}: {e['reason']}"}}
        for e in report.coverage.get("errors", [])
    ]
    notes += [
        {
            "level": "warning",
            "message": {
                "text": f"not checked: {u['cluster']}/{u['namespace']}/{u['service_account']} -> "
                f"{u.get('principal')}: {u['reason']}"
            },
        }
        for u in report.coverage.get("unchecked", [])
    ]
    inv: dict[str, Any] = {"executionSuccessful": True, "endTimeUtc": _time(report)}
    if notes:
        inv["toolExecutionNotifications"] = notes
    return inv
