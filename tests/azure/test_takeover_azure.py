"""AKS Azure RBAC data actions and the local admin kubeconfig as Kubernetes RBAC for K8S-006, and `azure_power`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import azure_builder
import pytest
from azure_builder import Scenario
from kubeiam_azure.evidence.kubernetes_rbac import rules_of
from kubeiam_azure.judge.catalogue import role_definition
from kubeiam_azure.judge.power import azure_power

from kubeiam.pipeline.audit import audit, read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.findings import Finding

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kubernetes"))
import takeover_evidence as te

from kubeiam.pipeline.providers import load_providers

CLIENT, PRINCIPAL = "11111111-2222-4333-8444-555555555555", "3a1f0c2e-5d4b-4e6a-9c8b-7f6e5d4c3b2a"
DEV = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
WRITER = "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb"  # Azure Kubernetes Service RBAC Writer
READER = "7f6c6a51-bcf8-42ba-9220-52d62157d7db"  # Azure Kubernetes Service RBAC Reader


def _scenario(*, azure_rbac: bool = True, local: bool = False) -> Scenario:
    s = Scenario().sa("orders", "api", CLIENT).sa("payments", "api", CLIENT)
    s.identity("id-app", CLIENT, PRINCIPAL)
    s.fic("id-app", "system:serviceaccount:orders:api").fic("id-app", "system:serviceaccount:payments:api")
    s.managed_cluster()
    assert s.aks is not None
    s.aks["aadProfile"] = {"enableAzureRbac": azure_rbac, "managed": True}
    s.aks["disableLocalAccounts"] = not local
    s.custom_role(
        "Blob reader", [], data_actions=["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"]
    )
    s.assign(PRINCIPAL, "Blob reader", s.scope("subscription"))
    return s


def _cluster_scope(s: Scenario, namespace: str | None = None) -> str:
    assert s.aks is not None
    base = str(s.aks["id"])
    return f"{base}/namespaces/{namespace}" if namespace else base


def _write(s: Scenario, root: Path) -> Path:
    s.write(root)
    te.write_rbac(root / "kubernetes" / s.cluster, [])
    return root


def _k006(root: Path) -> list[Finding]:
    return [f for f in audit(Evidence(root), providers=load_providers()).findings if f.rule_id == "K8S-006"]


def test_data_actions_translate_to_the_requests_they_allow() -> None:
    writer = role_definition({}, WRITER)
    assert writer is not None
    rules = {(r["apiGroups"][0], r["resources"][0]): set(r["verbs"]) for r in rules_of(writer)}
    assert {"create", "update", "patch"} <= rules[("", "pods")]
    assert rules[("", "pods/exec")] == {"create", "get"} and rules[("", "serviceaccounts")] == {"impersonate"}
    assert ("rbac.authorization.k8s.io", "rolebindings") not in rules  # the Writer has no RBAC writes
    reader = role_definition({}, READER)
    assert reader is not None
    assert all(set(r["verbs"]) <= {"get", "list", "watch"} for r in rules_of(reader))
    assert ("", "secrets") not in {(r["apiGroups"][0], r["resources"][0]) for r in rules_of(reader)}


def test_a_namespace_scoped_writer_can_become_that_namespaces_service_accounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(azure_builder.BUILTIN, "Azure Kubernetes Service RBAC Writer", WRITER)
    s = _scenario()
    s.assign(DEV, "Azure Kubernetes Service RBAC Writer", _cluster_scope(s, "orders"))
    found = _k006(_write(s, tmp_path))
    assert [(f.namespace, f.evidence["subject"]) for f in found] == [("orders", f"user:{DEV}")]
    (f,) = found
    assert {"create-pods", "impersonate", "exec"} <= set(f.evidence["techniques"])
    assert f.evidence["cloud_principals"][0]["principal"] == DEV
    assert f.remediation.startswith("Remove the assignment of Azure Kubernetes Service RBAC Writer")
    assert f.evidence["power"] == "data"  # blob read on the subscription


def test_without_azure_rbac_data_actions_grant_nothing_in_the_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(azure_builder.BUILTIN, "Azure Kubernetes Service RBAC Writer", WRITER)
    s = _scenario(azure_rbac=False)
    s.assign(DEV, "Azure Kubernetes Service RBAC Writer", _cluster_scope(s))
    assert _k006(_write(s, tmp_path)) == []


@pytest.mark.parametrize("local", [True, False])
def test_contributors_hold_the_local_admin_kubeconfig_unless_local_accounts_are_disabled(
    tmp_path: Path, local: bool
) -> None:
    s = _scenario(local=local)
    s.assign(DEV, "Contributor", s.scope("rg"))
    found = _k006(_write(s, tmp_path))
    if not local:
        assert found == []
        return
    assert {(f.namespace, f.evidence["subject"]) for f in found} == {
        ("orders", "group:system:masters"),
        ("payments", "group:system:masters"),
    }
    f = found[0]
    assert (
        f.evidence["cloud_principals"][0]["principal"] == DEV
        and "listClusterAdminCredential" in f.evidence["cloud_principals"][0]["note"]
    )
    assert "expected_by_default" in f.evidence


def test_an_unreadable_flag_is_coverage_and_read_as_exposed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(azure_builder.BUILTIN, "Azure Kubernetes Service RBAC Writer", WRITER)
    s = _scenario()
    assert s.aks is not None
    s.aks["aadProfile"]["enableAzureRbac"] = "yes"
    s.assign(DEV, "Azure Kubernetes Service RBAC Writer", _cluster_scope(s))
    inv = read_inventory(Evidence(_write(s, tmp_path)), load_providers())
    (err,) = [e for e in inv.errors if "enableAzureRbac" in e.location]
    assert err.rules == ("K8S-006",) and err.subject == "aks-test"
    assert [e for e in inv.external_rbac if f"user:{DEV}" in e.principals]


def test_azure_power_levels(tmp_path: Path) -> None:
    s = _scenario()
    inv = read_inventory(Evidence(_write(s, tmp_path)), load_providers())
    identity: Any = next(lk.identity for lk in inv.links if lk.identity is not None)
    assert azure_power(inv, identity).level == "data"
