"""The CLI's live path end to end: `collect` then `audit --evidence` equals the live `audit`."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "fixtures" / "demo" / "kubernetes"
KARPENTER = REPO / "fixtures" / "kubernetes" / "live-eks-karpenter"


def test_collect_then_audit_evidence_equals_live_audit(kube_api, kubeiam_cli, tmp_path):
    from servers.kube_api import write_kubeconfig

    eks = kube_api(DEMO / "eks-prod", max_page=3)
    gke = kube_api(DEMO / "gke-data", max_page=3)
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig",
        {
            "eks": ("arn:aws:eks:eu-west-1:111122223333:cluster/eks-prod", eks.url),
            "gke": ("gke_p_europe-west1_gke-data", gke.url),
        },
    )
    live_args = ["--kubeconfig", str(kubeconfig), "--context", "eks", "--context", "gke"]

    collected = kubeiam_cli("collect", "--output", str(tmp_path / "ev"), *live_args)
    offline = kubeiam_cli("audit", "--evidence", str(tmp_path / "ev"), "--format", "json")
    live = kubeiam_cli("audit", *live_args, "--format", "json", "--keep-evidence", str(tmp_path / "kept"))

    assert collected.code == 0, collected.err
    assert offline.code == live.code == 1  # the demo clusters carry high findings
    assert offline.fingerprints() == live.fingerprints()
    assert len(live.fingerprints()) >= 5
    assert {f["rule_id"] for f in live.json()["findings"]} >= {"K8S-001", "K8S-002", "K8S-003", "K8S-004", "K8S-005"}
    assert (tmp_path / "kept/kubernetes/eks-prod/resources.json").is_file()  # a live audit keeps its evidence
    assert sorted(c["name"] for c in live.json()["coverage"]["clusters"]) == ["eks-prod", "gke-data"]


def test_live_check_narrows_to_one_service_account(kube_api, kubeiam_cli, tmp_path):
    api = kube_api(KARPENTER, max_page=2)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", cluster="arn:aws:eks:eu-west-1:1:cluster/prod")

    result = kubeiam_cli("check", "apps/web", "--kubeconfig", str(kubeconfig), "--format", "json", "--keep-evidence",
                         str(tmp_path / "ev"))  # fmt: skip

    assert result.code == 1, result.err
    report = result.json()
    assert {(f["namespace"], f["service_account"]) for f in report["findings"]} == {("apps", "web")}
    assert report["coverage"]["service_accounts"]["seen"] == 1
    assert "/api/v1/pods" not in api.paths()


def test_forbidden_lists_show_in_coverage_and_strict_fails(kube_api, kubeiam_cli, tmp_path):
    api = kube_api(KARPENTER, forbidden={"/api/v1/nodes"})
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", context="prod")

    result = kubeiam_cli("audit", "--kubeconfig", str(kubeconfig), "--format", "json", "--strict", "--fail-on",
                         "critical", "--keep-evidence", str(tmp_path / "ev"))  # fmt: skip

    errors = result.json()["coverage"]["errors"]
    assert [(e["source"], e["location"]) for e in errors] == [("kubernetes", "list /api/v1/nodes (context prod)")]
    assert result.code == 3
    assert "coverage incomplete" in result.err
    assert 'forbidden (403): forbidden: cannot get "/api/v1/nodes"' in result.err  # the 403 itself is said


def test_collected_evidence_matches_kubectl_shape(kube_api, kubeiam_cli, tmp_path):
    api = kube_api(KARPENTER)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", cluster="kind-dev")
    assert kubeiam_cli("collect", "-o", str(tmp_path / "ev"), "--kubeconfig", str(kubeconfig)).code == 0
    doc = json.loads((tmp_path / "ev/kubernetes/kind-dev/resources.json").read_text())
    assert list(doc) == ["apiVersion", "items", "kind", "metadata"]
    for item in doc["items"]:
        assert list(item)[:2] == ["apiVersion", "kind"]
        assert "managedFields" not in item["metadata"]
