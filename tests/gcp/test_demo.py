"""The demo's GKE cluster (fixtures/demo: gke-data in project acme-data) shows the GCP findings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kubeiam_gcp.declarations import GCP

from kubeiam.pipeline.audit import audit, demo_dir, read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers
from kubeiam.vocabulary.model import LinkStatus


def test_demo_gke_findings() -> None:
    report = audit(Evidence(demo_dir()))
    got = {
        (f.rule_id, f.namespace, f.service_account, f.node, f.severity.value)
        for f in report.findings
        if f.rule_id.startswith("GCP-") and f.cluster == "gke-data"
    }
    assert got == {
        ("GCP-001", "analytics", "notebook", None, "critical"),
        ("GCP-007", "web", "frontend", None, "medium"),
        ("GCP-003", "batch", "exporter", None, "medium"),
        ("GCP-005", "batch", "exporter", None, "low"),
        ("GCP-008", "ops", "gcs-sync", None, "high"),
        ("GCP-010", None, None, "node-pool/batch-pool", "critical"),
        # Usage data (issue 14): Editor replaced by the recommender's two roles, a bucket grant of an
        # account idle for 202 days, a viewer role of which two permissions are used.
        ("GCP-011", "analytics", "notebook", None, "high"),
        ("GCP-011", "ops", "gcs-sync", None, "medium"),
        ("GCP-011", "batch", "exporter", None, "low"),
    }
    # bq-loader is the clean one: no rule about its identity fires. Its findings are who else can act as it
    # (issue 13): the analytics namespace's RBAC lets others run pods as it or exec into them.
    bq = [f for f in report.findings if f.service_account == "bq-loader"]
    assert bq and {f.rule_id for f in bq} == {"K8S-006"}
    assert "user:bq-loader@acme-data.iam.gserviceaccount.com" not in {f.evidence["subject"] for f in bq}


def test_demo_links_and_cluster_identity() -> None:
    inv = read_inventory(Evidence(demo_dir()), load_providers())
    links = {(lk.namespace, lk.service_account, lk.mechanism): lk.status for lk in inv.links if lk.cloud == GCP}
    assert links == {
        ("analytics", "bq-loader", "gke-workload-identity"): LinkStatus.RESOLVED,
        ("analytics", "notebook", "gke-workload-identity"): LinkStatus.RESOLVED,
        ("web", "frontend", "gke-workload-identity"): LinkStatus.UNTRUSTED,
        ("batch", "exporter", "gke-direct"): LinkStatus.RESOLVED,
        ("ops", "gcs-sync", "gke-workload-identity"): LinkStatus.RESOLVED,
    }
    cluster = inv.cluster("gke-data")
    assert cluster.stable_id == "//container.googleapis.com/projects/acme-data/locations/europe-west1/clusters/gke-data"
    assert not [e for e in inv.errors if e.source == "gcp"]


def test_demo_cli_json_shows_gcp(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    kubeiam = Path(sys.executable).with_name("kubeiam")
    done = subprocess.run(
        [str(kubeiam), "audit", "--demo", "--format", "json", "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(out.read_text())
    assert {f["rule_id"] for f in report["findings"] if f["cloud"] == "gcp"} >= {"GCP-001", "GCP-007", "GCP-010"}
    gke = next(c for c in report["coverage"]["clusters"] if c["name"] == "gke-data")
    assert gke["id"].startswith("//container.googleapis.com/")


def test_demo_exposed_node_lists_the_pods_that_get_the_node_token() -> None:
    (finding,) = [f for f in audit(Evidence(demo_dir())).findings if f.rule_id == "GCP-010"]
    # cdn-purger's misspelled annotation binds nothing: on this pool it runs as the default compute
    # account, which holds roles/editor.
    assert "web/cdn-purger" in finding.evidence["service_accounts_on_node"]
    assert finding.evidence["roles"] == ["roles/editor@projects/acme-data"]
    assert finding.evidence["nodes"] == ["gke-data-batch-pool-7c6d5e4f-2lm8"]
