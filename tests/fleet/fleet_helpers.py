"""Helpers for the fleet tests: real per-cluster runs of the demo, and small hand-made reports."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kubeiam.quarterly.stores import ReportStore

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "fixtures" / "demo"
# The demo's three clusters, each with the one cloud folder its identities live in.
DEMO_CLUSTERS = {"eks-prod": "aws", "gke-data": "gcp", "aks-apps": "azure"}


def audit_into(evidence: Path, report_dir: Path, *extra: str) -> Path:
    """`kubeiam audit --evidence DIR --report-dir ...` in-process, as the CronJob runs it: the run folder."""
    from kubeiam import cli

    before = set(report_dir.iterdir()) if report_dir.is_dir() else set()
    out = report_dir.parent / f"{report_dir.name}-stdout.json"
    code = cli.main(
        [
            "audit",
            "--evidence",
            str(evidence),
            "--report-dir",
            str(report_dir),
            "-q",
            "--format",
            "json",
            "-o",
            str(out),
            *extra,
        ]
    )
    assert code in (0, 1), f"audit exited {code}"
    (run,) = set(report_dir.iterdir()) - before
    return run


def cluster_evidence(root: Path, cluster: str) -> Path:
    """A copy of the demo that holds only `cluster` and its cloud's folder."""
    target = root / cluster
    (target / "kubernetes").mkdir(parents=True)
    shutil.copytree(DEMO / "kubernetes" / cluster, target / "kubernetes" / cluster)
    shutil.copytree(DEMO / DEMO_CLUSTERS[cluster], target / DEMO_CLUSTERS[cluster])
    return target


@pytest.fixture(scope="session")
def cluster_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """cluster -> a run folder of a one-cluster audit of the demo (what one cluster's CronJob writes)."""
    root = tmp_path_factory.mktemp("cluster-runs")
    return {c: audit_into(cluster_evidence(root / "evidence", c), root / "reports" / c) for c in DEMO_CLUSTERS}


def finding(cluster: str, ns: str | None, sa: str | None, rule: str = "AWS-001", **over: Any) -> dict[str, Any]:
    """A finding of the report's shape (docs/report.md), with what the fleet reads."""
    doc = {
        "fingerprint": f"v1:{abs(hash((cluster, ns, sa, rule, over.get('principal')))):032x}"[:35],
        "rule_id": rule,
        "category": "admin-access",
        "severity": "high",
        "title": f"{rule} on {sa}",
        "cluster": cluster,
        "cluster_id": f"id:{cluster}",
        "namespace": ns,
        "service_account": sa,
        "node": None,
        "cloud": "aws",
        "principal": None,
        "evidence": {"file": "x.json"},
        "remediation": "fix it",
        "status": "open",
        "owner": None,
    }
    doc.update(over)
    return doc


def report(
    clusters: list[str],
    findings: list[dict[str, Any]],
    generated_at: str = "2026-11-01T10:00:00Z",
    scope: dict[str, Any] | None = None,
    **coverage: Any,
) -> dict[str, Any]:
    """A JSON report of that shape: summary computed from the findings."""
    sev = ("critical", "high", "medium", "low", "info")
    open_ = [f for f in findings if f["status"] == "open"]
    doc: dict[str, Any] = {
        "schema_version": "1.0",
        "tool": {"name": "kubeiam", "version": "test"},
        "generated_at": generated_at,
        "mode": "audit",
        "findings": findings,
        "coverage": {
            "clusters": [{"name": c, "id": f"id:{c}", "cloud": "aws", "service_accounts": 10} for c in clusters],
            "unchecked": [],
            "errors": [],
            "unreadable": [],
            **coverage,
        },
        "summary": {
            "total": len(findings),
            "open": len(open_),
            "suppressed": len(findings) - len(open_),
            "by_severity": {s: sum(f["severity"] == s for f in open_) for s in sev},
        },
    }
    if scope is not None:
        doc["scope"] = scope
    return doc


def publish(store: ReportStore, doc: dict[str, Any], tmp: Path, now: datetime | None = None) -> str:
    """Write a run folder holding `doc` as findings.json and publish it into `store`."""
    stamp = now or datetime.fromisoformat(doc["generated_at"].replace("Z", "+00:00"))
    folder = tmp / f"staging-{len(list(tmp.glob('staging-*')))}" / "run"
    folder.mkdir(parents=True)
    (folder / "findings.json").write_text(json.dumps(doc), encoding="utf-8")
    (folder / "summary.md").write_text("# summary\n", encoding="utf-8")
    return store.publish(folder, stamp.astimezone(UTC))


def read_json_output(raw: bytes) -> dict[str, Any]:
    doc = json.loads(raw)
    assert isinstance(doc, dict)
    return doc


@dataclass(frozen=True)
class Pattern:
    cloud: str
    kind: str
    pattern: re.Pattern[str]


# What the providers are to declare (docs/fleet.md): the account a principal or cluster id names.
ACCOUNTS = (
    Pattern("aws", "account", re.compile(r"^arn:aws[\w-]*:[\w-]+:[\w-]*:(\d{12}):")),
    Pattern("gcp", "project", re.compile(r"workloadIdentityPools/([a-z][-a-z0-9]{4,28}[a-z0-9])\.svc\.id\.goog")),
    Pattern(
        "gcp", "project", re.compile(r"@([a-z][-a-z0-9]{4,28}[a-z0-9](?:\.[a-z0-9-]+)*)\.iam\.gserviceaccount\.com$")
    ),
    Pattern("gcp", "project", re.compile(r"^//container\.googleapis\.com/projects/([a-z][-a-z0-9]{4,28}[a-z0-9])/")),
    Pattern("azure", "subscription", re.compile(r"^/subscriptions/([0-9a-fA-F-]{36})(?:/|$)", re.IGNORECASE)),
)
