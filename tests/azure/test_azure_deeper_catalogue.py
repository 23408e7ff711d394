"""Issue 15, item 3: the Azure escalation catalogue (AZ-002) from the public corpus (azure-privesc).

Before: three actions (role assignment and definition writes, federated-credential writes); run command,
extensions, identity assignment with compute, App Service, Logic Apps, Automation, the AKS admin
credential and Key Vault access policies were not escalation.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azure_builder import RG, SUB, Scenario
from azure_deeper_support import assign, ids, workload
from kubeiam_azure.judge.catalogue import load
from kubeiam_azure.judge.escalation import catalogue, not_modelled
from kubeiam_azure.judge.profile import judge_assignment
from kubeiam_azure.view import RoleAssignment

from kubeiam.vocabulary.findings import Severity

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "azure" / "corpus" / "azure_privesc_methods.json"
AKS_ID = f"/subscriptions/{SUB}/resourcegroups/{RG}/providers/Microsoft.ContainerService/managedClusters/aks-test"


def _az002(report):
    return [f for f in report.findings if f.rule_id == "AZ-002"]


def _methods(finding) -> set[str]:
    return set(finding.evidence["methods"])


def _one_role(actions: list[str], *, data: bool = False, scope: str | None = None, **aks: object) -> Scenario:
    s = workload(Scenario(), 1).managed_cluster()
    if aks:
        s.aks.update(aks)  # type: ignore[union-attr]
    if data:
        s.custom_role("probe", [], data_actions=actions)
    else:
        s.custom_role("probe", actions)
    return assign(s, ids(1)[1], "probe", scope or s.scope("rg"))


def test_every_corpus_method_is_modelled_or_listed_as_deliberately_not():
    corpus = {m["id"] for m in json.loads(CORPUS.read_text())["methods"]}
    modelled = {m.corpus for m in catalogue()}
    skipped = {n["corpus"] for n in not_modelled()}
    assert len(corpus) == 17
    assert modelled | skipped == corpus, corpus - modelled - skipped
    assert not modelled & skipped
    assert all(n["why"] for n in not_modelled())
    # The corpus's required actions are all in the catalogue (alternatives may add more).
    for m in json.loads(CORPUS.read_text())["methods"]:
        if m["id"] in skipped or m["id"] == "keyvault-secrets-keys":
            continue
        ours = {a for c in catalogue() if c.corpus == m["id"] for g in c.groups for a in g}
        assert set(m["required_actions"]) <= ours, m["id"]


@pytest.mark.parametrize("method", catalogue(), ids=lambda m: m.id)
def test_each_method_alone_is_escalation(audit_of, method):
    actions = [group[0] for group in method.groups]
    report = audit_of(_one_role(actions, data=method.plane == "dataActions"))
    (finding,) = _az002(report)
    assert method.id in _methods(finding)
    assert finding.severity.rank >= Severity.HIGH.rank
    assert set(actions) <= set(finding.evidence["escalation_actions"])


@pytest.mark.parametrize(
    ("role", "method"),
    [
        ("Virtual Machine Contributor", "vm-runcommand"),
        ("Virtual Machine Contributor", "vmss-runcommand-extensions"),
        ("Virtual Machine Administrator Login", "vm-login-aad"),
        ("Azure Kubernetes Service Cluster Admin Role", "aks-list-cluster-admin-credential"),
        ("Azure Kubernetes Service Contributor Role", "aks-runcommand"),
        ("Website Contributor", "webapp-function-write"),
        ("Logic App Contributor", "logicapp-write"),
        ("Automation Contributor", "automation-runbook"),
        ("Key Vault Contributor", "keyvault-access-policy-write"),
        ("Managed Identity Contributor", "mi-federated-credential-write"),
    ],
)
def test_built_in_roles_holding_a_method_escalate_at_resource_group(audit_of, role, method):
    s = workload(Scenario(), 1).managed_cluster()
    report = audit_of(assign(s, ids(1)[1], role, s.scope("rg")))
    (finding,) = _az002(report)
    assert method in _methods(finding) and finding.severity is Severity.HIGH


def test_a_method_applies_only_where_its_resources_can_be(audit_of):
    # Run command on a storage account's scope runs nothing: no VM lives there.
    s = _one_role(["Microsoft.Compute/virtualMachines/runCommand/action"], scope=Scenario().scope("storage", "st1"))
    assert _az002(audit_of(s)) == []
    s = _one_role(
        ["Microsoft.Compute/virtualMachines/runCommand/action"],
        scope=Scenario().scope("rg") + "/providers/Microsoft.Compute/virtualMachines/vm1",
    )
    assert {"vm-runcommand"} == _methods(_az002(audit_of(s))[0])


def test_identity_assignment_needs_compute_to_be_escalation(audit_of):
    s = workload(Scenario(), 1).managed_cluster()
    assign(s, ids(1)[1], "Managed Identity Operator", s.scope("rg"))
    assert _az002(audit_of(s)) == [], "assign/action alone runs no code: Azure's PassRole needs compute"
    # With a VM it may create elsewhere (another assignment, another scope), it is.
    assign(s, ids(1)[1], "Virtual Machine Contributor", f"/subscriptions/{SUB}/resourceGroups/rg-compute")
    found = {f.evidence["role"]: f for f in _az002(audit_of(s))}
    mio = found["Managed Identity Operator"]
    assert _methods(mio) == {"mi-assign-plus-compute"}
    assert "Microsoft.Compute/virtualMachines/write" in mio.evidence["escalation_actions"]
    vm = found["Virtual Machine Contributor"].evidence["role_assignment"]
    assert mio.evidence["combined_with"] == {"mi-assign-plus-compute": [vm]}


def test_aks_admin_credential_is_not_escalation_when_local_accounts_are_disabled(audit_of):
    action = "Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action"
    assert _az002(audit_of(_one_role([action], scope=AKS_ID)))
    assert _az002(audit_of(_one_role([action], scope=AKS_ID, disableLocalAccounts=True))) == []
    # Run command is still counted there (conservative: its Entra-token path is not modelled).
    run = "Microsoft.ContainerService/managedClusters/runCommand/action"
    assert _az002(audit_of(_one_role([run], scope=AKS_ID, disableLocalAccounts=True)))


def test_an_unreadable_local_accounts_flag_is_named_and_counts_as_enabled(audit_of):
    action = "Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action"
    report = audit_of(_one_role([action], scope=AKS_ID, disableLocalAccounts="yes"))
    assert _az002(report)
    (error,) = [e for e in report.coverage["errors"] if e.get("rules") == ["AZ-002"]]
    assert error["reason"].startswith("disableLocalAccounts") and error["subject"] == "aks-test"


@pytest.mark.parametrize("level", ["subscription", "resource-group"])
def test_readers_hold_no_method(level):
    scope = f"/subscriptions/{SUB}" + ("/resourceGroups/rg" if level == "resource-group" else "")
    for role in load().roles.values():
        if role.name.endswith("Reader"):
            v = judge_assignment(RoleAssignment(f"a/{role.id}", "p", role.id, scope), role)
            assert not v.methods and not v.parts, role.name


def test_the_title_names_the_methods_and_the_old_fingerprint_holds(audit_of):
    s = workload(Scenario(), 1).managed_cluster()
    report = audit_of(assign(s, ids(1)[1], "Contributor", s.scope("rg")))
    (finding,) = _az002(report)
    assert "federatedIdentityCredentials/write" in finding.title and "more" in finding.title
    # Item and source as before (role definition, assignment): a baseline keeps the finding unchanged.
    assert finding.evidence["role_assignment"] == s.assignments[0]["id"].lower()
