"""GKE IAM grants with container.* permissions as Kubernetes RBAC for K8S-006, and `gcp_power`."""

from __future__ import annotations

import sys
from pathlib import Path

from gcp_builder import CLUSTER, PROJECT, Case, binding, gsa
from kubeiam_gcp.evidence.kubernetes_rbac import rules_of
from kubeiam_gcp.judge.catalogue import load_catalogue
from kubeiam_gcp.judge.power import gcp_power

from kubeiam.pipeline.audit import audit, read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.findings import Finding

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kubernetes"))
import takeover_evidence as te

from kubeiam.pipeline.providers import load_providers


def _case(root: Path, *grants: dict[str, object], rbac: list[dict[str, object]] | None = None) -> Path:
    Case(
        ksas=[("app", "api", gsa("api"))],
        project_policy=[binding("roles/storage.admin", f"serviceAccount:{gsa('api')}"), *grants],
    ).write(root)
    te.write_rbac(root / "kubernetes" / CLUSTER, rbac or [])
    return root


def _k006(root: Path) -> list[Finding]:
    return [f for f in audit(Evidence(root), providers=load_providers()).findings if f.rule_id == "K8S-006"]


def test_gke_permissions_translate_to_the_rbac_requests_they_allow() -> None:
    developer = load_catalogue().permissions_of("roles/container.developer")
    assert developer is not None
    rules = {(r["apiGroups"][0], r["resources"][0]): set(r["verbs"]) for r in rules_of(developer)}
    assert {"create", "update", "patch"} <= rules[("", "pods")]
    assert rules[("", "pods/exec")] >= {"create"} and rules[("", "serviceaccounts/token")] == {"create"}
    assert {"create", "update", "patch"} <= rules[("apps", "deployments")]
    editor = load_catalogue().permissions_of("roles/editor")
    assert editor is not None
    editor_rules = {(r["apiGroups"][0], r["resources"][0]) for r in rules_of(editor)}
    assert ("", "pods") in editor_rules and ("", "serviceaccounts/token") not in editor_rules  # corpus note
    viewer = load_catalogue().permissions_of("roles/container.viewer")
    assert viewer is not None and not [r for r in rules_of(viewer) if set(r["verbs"]) - {"get", "list", "watch"}]


def test_a_project_developer_can_become_every_service_account_of_the_cluster(tmp_path: Path) -> None:
    _case(tmp_path, binding("roles/container.developer", "user:dev@example.com", "group:devs@example.com"))
    found = {f.evidence["subject"]: f for f in _k006(tmp_path)}
    assert set(found) == {"user:dev@example.com", "group:devs@example.com"}
    dev = found["user:dev@example.com"]
    assert {"create-pods", "create-token", "exec"} <= set(dev.evidence["techniques"])
    assert dev.evidence["cloud_principals"][0]["principal"] == "user:dev@example.com"
    assert dev.evidence["path"][0].startswith("user:dev@example.com -> ")
    # storage.admin on the project: setIamPolicy on every bucket
    assert dev.evidence["power"] == "escalation" and dev.severity.value == "high"
    assert "roles/container.developer" in dev.remediation and f"projects/{PROJECT}" in dev.remediation


def test_all_authenticated_users_is_broad(tmp_path: Path) -> None:
    _case(tmp_path, binding("roles/container.developer", "allAuthenticatedUsers"))
    found = {f.evidence["subject"]: f for f in _k006(tmp_path)}
    group = found.pop("group:system:authenticated")
    assert group.evidence["broad"] is True and group.severity.value == "critical"  # escalation, raised
    # Controllers that read every Secret by design may now also create one for any ServiceAccount: real, named.
    assert {f.evidence["techniques"][0] for f in found.values()} <= {"create-token-secret"}


def test_a_viewer_and_googles_service_agents_are_no_findings(tmp_path: Path) -> None:
    agent = "serviceAccount:service-100000000001@container-engine-robot.iam.gserviceaccount.com"
    _case(
        tmp_path,
        binding("roles/container.viewer", "user:v@example.com"),
        binding("roles/container.serviceAgent", agent),
    )
    assert _k006(tmp_path) == []


def test_a_conditional_grant_is_named_not_guessed(tmp_path: Path) -> None:
    cond = {"expression": "resource.name.endsWith('/clusters/other')", "title": "other cluster only"}
    _case(tmp_path, binding("roles/container.developer", "user:dev@example.com", condition=cond))
    inv = read_inventory(Evidence(tmp_path), load_providers())
    assert not [e for e in inv.external_rbac if "user:dev@example.com" in e.principals]
    (err,) = [e for e in inv.errors if "conditional grant" in e.reason]
    assert err.subject == CLUSTER and err.rules == ("K8S-006",) and "other cluster only" in err.location


def test_gcp_power_levels(tmp_path: Path) -> None:
    Case(ksas=[("app", "api", gsa("api")), ("app", "reader", gsa("reader"))], gsas=[gsa("api"), gsa("reader")],
         project_policy=[binding("roles/editor", f"serviceAccount:{gsa('api')}"),
                         binding("roles/browser", f"serviceAccount:{gsa('reader')}")]).write(tmp_path)  # fmt: skip
    inv = read_inventory(Evidence(tmp_path), load_providers())
    levels = {lk.service_account: gcp_power(inv, lk.identity).level for lk in inv.links if lk.identity}
    assert levels == {"api": "admin", "reader": "read"}
