"""What the gcloud commands and the REST API really print: pages (a first page never passes for the
whole list) and gcloud's `projects get-ancestors-iam-policy` list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gcp_builder import CLUSTER, PROJECT, Case, binding, gsa, policy

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.report import Report

API = gsa("api")
BASE = f"gcp/{PROJECT}"
GRANT_RULES = ["GCP-001", "GCP-002", "GCP-003", "GCP-004", "GCP-005", "GCP-006", "GCP-011"]


def _token_creator(target: str, member: str = API) -> dict[str, Any]:
    return {
        "resource": f"//iam.googleapis.com/projects/{PROJECT}/serviceAccounts/{gsa(target)}",
        "assetType": "iam.googleapis.com/ServiceAccount",
        "project": "projects/100000000001",
        "policy": policy(binding("roles/iam.serviceAccountTokenCreator", f"serviceAccount:{member}")),
    }


def _case(**kw: Any) -> Case:
    kw.setdefault("ancestors", {"folders/200000000002": [], "organizations/300000000003": []})
    kw.setdefault("assets", [])
    return Case(**kw)


def _write(root: Path, file: str, value: Any) -> None:
    (root / BASE / file).write_text(json.dumps(value))


def _errors(report: Report) -> list[dict[str, Any]]:
    return [e for e in report.coverage["errors"] if e["source"] == "gcp"]


def _rules(report: Report, sa: str = "api") -> set[str]:
    return {f.rule_id for f in report.findings if f.service_account == sa and f.cloud == "gcp"}


# --- pages ----------------------------------------------------------------------------------------------


def test_one_page_of_the_asset_search_is_coverage_naming_the_missing_pages(tmp_path: Path) -> None:
    root = _case().write(tmp_path)
    _write(root, "asset-iam-policies.json", {"results": [_token_creator("one")], "nextPageToken": "CgZwYWdlLTI"})
    report = audit(Evidence(root))
    assert "GCP-002" in _rules(report)  # the page read is audited
    (error,) = _errors(report)
    assert error["location"] == f"{BASE}/asset-iam-policies.json"
    assert "nextPageToken 'CgZwYWdlLTI'" in error["reason"] and "pages after it are missing" in error["reason"]
    assert (error["subject"], error["rules"]) == (CLUSTER, GRANT_RULES)
    assert report.incomplete


def test_pages_merged_with_jq_are_read_whole(tmp_path: Path) -> None:
    root = _case().write(tmp_path)
    pages = [
        {"results": [_token_creator("one")], "nextPageToken": "CgZwYWdlLTI"},
        {"results": [_token_creator("two")], "nextPageToken": ""},
    ]
    _write(root, "asset-iam-policies.json", pages)
    report = audit(Evidence(root))
    assert _errors(report) == []
    reach = {f.evidence["reach"] for f in report.findings if f.rule_id == "GCP-002"}
    assert reach == {f"service account {gsa('one')}", f"service account {gsa('two')}"}


def test_one_page_of_service_accounts_is_not_does_not_exist(tmp_path: Path) -> None:
    """An account not on the page read may be on the next: unchecked, never "missing" (GCP-007)."""
    ghost = gsa("ghost")
    root = _case(ksas=[("app", "api", API), ("app", "ghost", ghost)]).write(tmp_path)
    accounts = json.loads((root / BASE / "service-accounts.json").read_text())
    _write(root, "service-accounts.json", {"accounts": accounts, "nextPageToken": "NEXT"})
    report = audit(Evidence(root))
    assert not [f for f in report.findings if f.rule_id == "GCP-007"]
    (entry,) = [u for u in report.coverage["unchecked"] if u["service_account"] == "ghost"]
    assert "service-accounts.json: nextPageToken" in entry["reason"]
    (error,) = _errors(report)
    assert error["location"] == f"{BASE}/service-accounts.json" and error["subject"] == CLUSTER
    # The last page (no token): the same account is missing, and says so.
    _write(root, "service-accounts.json", {"accounts": accounts})
    assert [f.service_account for f in audit(Evidence(root)).findings if f.rule_id == "GCP-007"] == ["ghost"]


def test_one_page_of_custom_roles_leaves_a_role_not_found_unknown(tmp_path: Path) -> None:
    role = f"projects/{PROJECT}/roles/r2"
    root = _case(project_policy=[binding(role, f"serviceAccount:{API}")]).write(tmp_path)
    _write(root, "custom-roles.json", {"roles": [{"name": f"projects/{PROJECT}/roles/r1"}], "nextPageToken": "T"})
    report = audit(Evidence(root))
    (entry,) = report.coverage["unchecked"]
    assert "custom-roles.json: nextPageToken" in entry["items"][0]["reason"]
    error, unknown = sorted(_errors(report), key=lambda e: e["location"])
    assert error["location"] == f"{BASE}/custom-roles.json" and "pages after it are missing" in error["reason"]
    # Whether the unknown role carries container.* permissions is unknown too: who may act in the cluster
    # through the account's grants (K8S-006) is unchecked, never "nobody".
    assert unknown["location"] == f"{BASE}/project-iam-policy.json: {role}@projects/{PROJECT}"
    assert unknown["rules"] == ["K8S-006"] and "unknown" in unknown["reason"]


def test_one_page_of_node_pools_is_coverage_for_the_cluster(tmp_path: Path) -> None:
    root = _case().write(tmp_path)
    gke = root / BASE / "gke" / "us-central1" / CLUSTER
    pools = json.loads((gke / "node-pools.json").read_text())
    (gke / "node-pools.json").write_text(json.dumps({"nodePools": pools, "nextPageToken": "P2"}))
    (error,) = _errors(audit(Evidence(root)))
    assert error["location"].endswith("node-pools.json") and "pages after it are missing" in error["reason"]
    assert (error["subject"], error["rules"]) == (CLUSTER, ["GCP-010"])


# --- gcloud projects get-ancestors-iam-policy -----------------------------------------------------------


def _ancestors_list(project_bindings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What `gcloud projects get-ancestors-iam-policy fx-proj --include-deny --format=json` prints."""
    return [
        {"id": PROJECT, "policy": policy(*project_bindings), "type": "project"},
        {
            "id": PROJECT,
            "policy": {
                "name": "policies/cloudresourcemanager.googleapis.com%2Fprojects%2Ffx-proj/denypolicies/d1",
                "rules": [{"denyRule": {"deniedPrincipals": ["principalSet://goog/public:all"]}}],
            },
            "type": "project",
        },
        {
            "id": "200000000002",
            "policy": policy(binding("roles/pubsub.admin", f"serviceAccount:{API}")),
            "type": "folder",
        },
        {
            "id": "300000000003",
            "policy": policy(binding("roles/browser", "domain:example.com")),
            "type": "organization",
        },
    ]


def test_the_ancestors_list_gcloud_prints_is_read(tmp_path: Path) -> None:
    root = _case(ancestors=None).write(tmp_path)
    _write(root, "ancestors-iam-policies.json", _ancestors_list([binding("roles/editor", f"serviceAccount:{API}")]))
    report = audit(Evidence(root))
    assert _errors(report) == []
    broad = [f for f in report.findings if f.rule_id == "GCP-004"]
    assert [f.evidence["binding"]["scope"] for f in broad] == ["folders/200000000002"]
    # It names the parent chain and holds the project's own policy: neither project.json nor
    # project-iam-policy.json is needed for them.
    (root / BASE / "project.json").unlink()
    (root / BASE / "project-iam-policy.json").unlink()
    report = audit(Evidence(root))
    assert _errors(report) == []
    assert {"GCP-001", "GCP-004"} <= _rules(report)


def test_the_documented_ancestors_object_is_still_read(tmp_path: Path) -> None:
    folder = {
        "folders/200000000002": [binding("roles/pubsub.admin", f"serviceAccount:{API}")],
        "organizations/300000000003": [],
    }
    report = audit(Evidence(_case(ancestors=folder).write(tmp_path)))
    assert _errors(report) == [] and "GCP-004" in _rules(report)
