"""Issue 15, items 8, 9 and 12 (GCP): network policy only blocks where the cluster enforces it, node OAuth
scopes decide what a node's token reaches, hostNetwork pods bypass the GKE metadata server (GCP-012),
and the other Google credential variables in a pod's environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gcp_builder import CLUSTER, PROJECT, Case, binding, pool
from gcp_deeper_cases import NODES, host_network

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.findings import Severity

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
GKE_DEFAULT_SCOPES = [
    "https://www.googleapis.com/auth/devstorage.read_only",
    "https://www.googleapis.com/auth/logging.write",
    "https://www.googleapis.com/auth/monitoring",
    "https://www.googleapis.com/auth/service.management.readonly",
    "https://www.googleapis.com/auth/servicecontrol",
    "https://www.googleapis.com/auth/trace.append",
]
DENY_ALL_EGRESS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "deny-egress", "namespace": "app"},
    "spec": {"podSelector": {}, "policyTypes": ["Egress"]},
}


def _exposed_pool(scopes: list[str] | None = None, role: str = "roles/editor") -> Case:
    p = pool("batch-pool", NODES, "GCE_METADATA")
    if scopes is not None:
        p["config"]["oauthScopes"] = scopes
    else:
        del p["config"]["oauthScopes"]
    return Case(pools=[p], project_policy=[binding(role, f"serviceAccount:{NODES}")])


def _gcp010(root: Path) -> Any:
    (finding,) = [f for f in audit(Evidence(root)).findings if f.rule_id == "GCP-010"]
    return finding


@pytest.mark.parametrize(
    ("scopes", "severity", "reach"),
    [
        ([CLOUD_PLATFORM], Severity.CRITICAL, "admin"),
        (None, Severity.CRITICAL, "admin"),  # not in the evidence: the wider reading
        (["https://www.googleapis.com/auth/some-new-scope"], Severity.CRITICAL, "admin"),  # unknown: the same
        (GKE_DEFAULT_SCOPES, Severity.MEDIUM, "limited"),  # Editor cut to storage metadata reads and logs
        (["https://www.googleapis.com/auth/logging.write"], Severity.MEDIUM, "limited"),
    ],
    ids=["cloud-platform", "absent", "unknown", "gke-default", "logging-only"],
)
def test_node_oauth_scopes_decide_what_the_node_token_reaches(
    tmp_path: Path, scopes: list[str] | None, severity: Severity, reach: str
) -> None:
    finding = _gcp010(_exposed_pool(scopes).write(tmp_path))
    assert finding.severity is severity
    assert finding.evidence["node_account_reach"] == reach


@pytest.mark.parametrize(
    ("scopes", "severity", "reach"),
    [([CLOUD_PLATFORM], Severity.HIGH, "escalation"), (GKE_DEFAULT_SCOPES, Severity.MEDIUM, "data")],
)
def test_read_only_storage_scope_keeps_object_reads_not_policy_writes(
    tmp_path: Path, scopes: list[str], severity: Severity, reach: str
) -> None:
    finding = _gcp010(_exposed_pool(scopes, "roles/storage.admin").write(tmp_path))
    assert finding.severity is severity
    assert finding.evidence["node_account_reach"] == reach


def test_scopes_do_not_change_the_fingerprint(tmp_path: Path) -> None:
    a = _gcp010(_exposed_pool([CLOUD_PLATFORM]).write(tmp_path / "a"))
    b = _gcp010(_exposed_pool(GKE_DEFAULT_SCOPES).write(tmp_path / "b"))
    assert a.fingerprint == b.fingerprint


def _with_policy(root: Path, cluster_fields: dict[str, Any]) -> Path:
    resources = root / "kubernetes" / CLUSTER / "resources.json"
    doc = json.loads(resources.read_text())
    doc["items"].append(DENY_ALL_EGRESS)
    resources.write_text(json.dumps(doc))
    cluster_file = root / "gcp" / PROJECT / "gke" / "us-central1" / CLUSTER / "cluster.json"
    cluster = json.loads(cluster_file.read_text())
    cluster.update(cluster_fields)
    cluster_file.write_text(json.dumps(cluster))
    return root


@pytest.mark.parametrize(
    "fields",
    [
        {"networkConfig": {"datapathProvider": "ADVANCED_DATAPATH"}},
        {"networkPolicy": {"provider": "CALICO", "enabled": True}},
    ],
    ids=["dataplane-v2", "calico"],
)
def test_an_enforced_egress_policy_keeps_pods_from_the_node_token(tmp_path: Path, fields: dict[str, Any]) -> None:
    finding = _gcp010(_with_policy(_exposed_pool([CLOUD_PLATFORM]).write(tmp_path), fields))
    assert finding.evidence["service_accounts_on_node"] == []
    assert finding.evidence["mitigations"] == ["NetworkPolicy app/deny-egress"]
    assert finding.severity is Severity.MEDIUM  # the pool still hands the token to any new pod


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {
            "networkPolicy": {"provider": "CALICO", "enabled": False},
            "addonsConfig": {"networkPolicyConfig": {"disabled": True}},
        },
    ],
    ids=["unset", "disabled"],
)
def test_an_unenforced_policy_is_no_block(tmp_path: Path, fields: dict[str, Any]) -> None:
    finding = _gcp010(_with_policy(_exposed_pool([CLOUD_PLATFORM]).write(tmp_path), fields))
    assert finding.evidence["service_accounts_on_node"] == ["app/api"]
    assert finding.evidence["network_policies_not_enforced"] == ["NetworkPolicy app/deny-egress"]
    assert finding.severity is Severity.CRITICAL


def _protected(role: str, scopes: list[str] | None = None) -> Case:
    p = pool("default-pool", NODES, "GKE_METADATA")
    if scopes is not None:
        p["config"]["oauthScopes"] = scopes
    return Case(pools=[p], project_policy=[binding(role, f"serviceAccount:{NODES}")])


def _gcp012(root: Path) -> list:
    return [f for f in audit(Evidence(root)).findings if f.rule_id == "GCP-012"]


def test_host_network_pod_on_a_gke_metadata_pool_takes_the_node_account(tmp_path: Path) -> None:
    assert _gcp012(_protected("roles/editor").write(tmp_path / "pod-network")) == []
    (finding,) = _gcp012(host_network(_protected("roles/editor").write(tmp_path / "host")))
    assert (finding.namespace, finding.service_account, finding.principal) == ("app", "api", NODES)
    assert finding.severity is Severity.HIGH
    assert finding.evidence["node_account_grants"] == [f"roles/editor@projects/{PROJECT}"]


def test_host_network_pod_is_not_blocked_by_network_policy(tmp_path: Path) -> None:
    root = _with_policy(
        host_network(_protected("roles/editor").write(tmp_path)),
        {"networkConfig": {"datapathProvider": "ADVANCED_DATAPATH"}},
    )
    assert len(_gcp012(root)) == 1


@pytest.mark.parametrize(
    ("role", "scopes", "count"),
    [
        ("roles/container.defaultNodeServiceAccount", None, 0),  # the recommended node account: nothing to take
        ("roles/editor", ["https://www.googleapis.com/auth/logging.write"], 0),  # scopes leave nothing
        ("roles/secretmanager.secretAccessor", None, 1),  # data: medium
    ],
)
def test_host_network_finding_follows_what_the_node_token_reaches(
    tmp_path: Path, role: str, scopes: list[str] | None, count: int
) -> None:
    found = _gcp012(host_network(_protected(role, scopes).write(tmp_path)))
    assert len(found) == count
    assert all(f.severity is Severity.MEDIUM for f in found)


@pytest.mark.parametrize(
    "variable",
    ["GOOGLE_CREDENTIALS", "GOOGLE_OAUTH_ACCESS_TOKEN", "CLOUDSDK_AUTH_ACCESS_TOKEN", "GOOGLE_CLOUD_KEYFILE_JSON"],
)
def test_other_google_credential_variables_are_static_credentials(tmp_path: Path, variable: str) -> None:
    root = Case().write(tmp_path)
    resources = root / "kubernetes" / CLUSTER / "resources.json"
    doc = json.loads(resources.read_text())
    pod = next(i for i in doc["items"] if i["kind"] == "Pod")
    pod["spec"]["containers"][0]["env"] = [
        {"name": variable, "valueFrom": {"secretKeyRef": {"name": "deploy-creds", "key": "value"}}}
    ]
    resources.write_text(json.dumps(doc))
    (finding,) = [f for f in audit(Evidence(root)).findings if f.rule_id == "K8S-001"]
    assert finding.cloud == "gcp" and variable in finding.title + json.dumps(finding.evidence)
