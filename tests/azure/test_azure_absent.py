"""Absent is not empty: an Azure file whose absence hides findings, while other evidence refers to what
it would hold, is a coverage entry naming its subject and the rules it hides; and fingerprints never
depend on an optional file (an AKS cluster's stable id comes from its nodes when its file is absent)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from azure_builder import SUB, Scenario
from kubeiam_azure.evidence.cluster_id import cluster_id_from_nodes, split_node_resource_group

from kubeiam.pipeline.audit import demo_dir, read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import LinkStatus, Node

CLIENT, PRINCIPAL = "10000000-0000-4000-8000-000000000001", "20000000-0000-4000-8000-000000000001"
DEMO_SUB = "8f3c2d1e-4b5a-4c6d-9e8f-0a1b2c3d4e5f"
DEMO_AKS_ID = (
    f"/subscriptions/{DEMO_SUB}/resourcegroups/rg-apps/providers/microsoft.containerservice/managedclusters/aks-apps"
)


def bound() -> Scenario:
    s = Scenario().sa("orders", "app", CLIENT).identity("id-app", CLIENT, PRINCIPAL)
    return s.fic("id-app", "system:serviceaccount:orders:app").managed_cluster()


def azure_errors(inv, fragment: str) -> list:
    return [e for e in inv.errors if e.source == "azure" and fragment in e.location]


def test_federated_credentials_file_absent_is_coverage_naming_the_identity(tmp_path, providers):
    s = bound()
    s.write_federated = False
    inv = read_inventory(Evidence(s.write(tmp_path)), providers)
    (link,) = [lk for lk in inv.links if lk.cloud == "azure"]
    assert link.status is LinkStatus.UNCHECKED
    (error,) = azure_errors(inv, "federated-credentials.json")
    assert error.location == f"azure/{SUB}/federated-credentials.json" and "not in the evidence" in error.reason
    assert error.subject == s.mi_id("id-app").lower() == link.principal
    assert error.rules == ("AZ-007", "AZ-008")


def test_an_identity_missing_from_its_federated_credentials_file_is_coverage(tmp_path, providers):
    s = bound()
    s.federated.clear()
    s.fic("id-other", "system:serviceaccount:orders:other")  # the file exists, without id-app
    inv = read_inventory(Evidence(s.write(tmp_path)), providers)
    (error,) = azure_errors(inv, "federated-credentials.json")
    assert error.subject == s.mi_id("id-app").lower() and "no entry for id-app" in error.reason


def test_aks_file_absent_is_coverage_with_the_rules_it_decides(tmp_path, providers):
    s = bound()
    s.aks = None
    inv = read_inventory(Evidence(s.write(tmp_path)), providers)
    (error,) = azure_errors(inv, "/aks/")
    assert (error.subject, error.rules) == ("aks-test", ("AZ-010", "AZ-011"))


def test_identities_absent_in_one_subscription_is_named_not_an_app_registration(tmp_path, providers):
    s = Scenario().sa("orders", "app", CLIENT).managed_cluster()
    root = s.write(tmp_path)
    other = root / "azure" / "0f0e0d0c-0b0a-4909-8807-060504030201"
    other.mkdir()
    (other / "role-assignments.json").write_text("[]")
    (root / "azure" / SUB / "identities.json").write_text(json.dumps([]))
    (link,) = [lk for lk in read_inventory(Evidence(root), providers).links if lk.cloud == "azure"]
    assert link.status is LinkStatus.UNCHECKED
    assert "not in the evidence: azure/0f0e0d0c-0b0a-4909-8807-060504030201/identities.json" in link.reason


# --- the AKS cluster's stable id without its file ---------------------------------------------


def node(provider_id: str | None, **labels: str) -> Node:
    return Node("c", "aks-apps-1-vmss000000", provider_id, labels)


@pytest.mark.parametrize(
    ("group", "cluster", "expected"),
    [
        ("MC_rg-apps_aks-apps_westeurope", "aks-apps", ("rg-apps", "aks-apps")),
        ("mc_rg_with_underscores_aks_1_eastus2", "aks_1", ("rg_with_underscores", "aks_1")),
        ("mc_rg-a_aks-a_westeurope", "another-name", ("rg-a", "aks-a")),  # one way to split: unambiguous
        ("mc_rg_x_aks_y_westeurope", "another-name", None),  # several ways and no hint: unknown, never a guess
        ("my-custom-node-rg", "aks-apps", None),  # --node-resource-group: not derivable
    ],
)
def test_node_resource_group_split(group, cluster, expected):
    assert split_node_resource_group(group, cluster) == expected


def test_cluster_id_from_nodes_needs_every_node_to_agree():
    pid = "azure:///subscriptions/S1/resourceGroups/MC_rg_aks_westeurope/providers/Microsoft.Compute/x/0"
    assert cluster_id_from_nodes("aks", [node(pid), node(None)]) == (
        "/subscriptions/s1/resourcegroups/rg/providers/microsoft.containerservice/managedclusters/aks"
    )
    other = pid.replace("MC_rg_aks_", "MC_rg_other_")
    assert cluster_id_from_nodes("aks", [node(pid), node(other)]) is None
    assert cluster_id_from_nodes("aks", []) is None


def _demo_copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(demo_dir(), target)
    return target


def _audit(run_cli, evidence: Path, *extra: str | Path) -> dict:
    code, out, err = run_cli("audit", "--evidence", evidence, "--format", "json", "--quiet", *extra)
    assert code in (0, 1, 3), err
    return json.loads(out)


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    from kubeiam import cli

    out = tmp_path_factory.mktemp("demo") / "report.json"
    assert cli.main(["audit", "--evidence", str(demo_dir()), "--format", "json", "--output", str(out), "--quiet"]) in (
        0,
        1,
    )
    return out


def _aks_apps(report: dict) -> dict[str, str]:
    return {f["fingerprint"]: f["rule_id"] for f in report["findings"] if f["cluster"] == "aks-apps"}


def test_demo_stable_id_is_the_aks_resource_id_with_or_without_the_aks_file(tmp_path, providers):
    full = read_inventory(Evidence(demo_dir()), providers)
    copy = _demo_copy(tmp_path, "no-aks")
    shutil.rmtree(copy / "azure" / DEMO_SUB / "aks")
    without = read_inventory(Evidence(copy), providers)
    ids = [{c.name: c.stable_id for c in inv.clusters}["aks-apps"] for inv in (full, without)]
    assert ids == [DEMO_AKS_ID, DEMO_AKS_ID]


@pytest.mark.parametrize("remove", [f"azure/{DEMO_SUB}/aks", "azure"], ids=["aks-file", "azure-folder"])
def test_demo_without_optional_azure_files_keeps_fingerprints_and_resolves_nothing(
    tmp_path, run_cli, demo_report, remove
):
    """Removing the AKS file (or every Azure file) changes no fingerprint of what is still found (K8S-001
    and K8S-002 of aks-apps among them), and what can no longer be checked is not_rechecked, never
    resolved."""
    copy = _demo_copy(tmp_path, "copy")
    shutil.rmtree(copy / remove)
    before = _aks_apps(json.loads(demo_report.read_text()))
    assert {"K8S-001", "K8S-002", "AZ-011"} <= set(before.values())
    report = _audit(run_cli, copy, "--baseline", demo_report)
    after = _aks_apps(report)
    assert set(after) <= set(before), {after[f] for f in set(after) - set(before)}
    assert {"K8S-001", "K8S-002"} <= set(after.values())
    assert [r for r in report.get("resolved", []) if r["cluster"] == "aks-apps"] == []
    gone = {before[f] for f in set(before) - set(after)}
    not_rechecked = {r["rule_id"] for r in report.get("not_rechecked", []) if r["cluster"] == "aks-apps"}
    assert gone == not_rechecked and "AZ-011" in gone
