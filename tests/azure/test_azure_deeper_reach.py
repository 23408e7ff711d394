"""Issue 15, item 4: reach through other identities, to any depth, cycles handled, the path hop by hop.

Before: a federated-credential write was escalation whatever identity it aimed at, and nothing followed it
further (an identity that can federate one that can federate an Owner was as "high" as one aimed at a
reader); run command on an AKS node pool, or the AKS admin credential, led nowhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from azure_builder import RG, SUB, Scenario
from azure_deeper_support import (
    APPLICATION_RW,
    app_role,
    assign,
    graph_for,
    group,
    identity,
    ids,
    mi_scope,
    page,
    workload,
    write_graph,
)

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.findings import Severity

FIC_WRITER = "Managed Identity Federated Identity Credential Contributor"
KUBELET = ("30000000-0000-4000-8000-000000000003", "40000000-0000-4000-8000-000000000003")
NODE_RG = "MC_rg-test_aks-test_westeurope"


def _run(tmp_path: Path, providers, s: Scenario, *, graph: tuple | None = None, name: str = "e"):
    root = s.write(tmp_path / name)
    if graph is not None:
        write_graph(root, *graph)
    return audit(Evidence(root), providers=providers)


def _az002(report, sa: str = "sa1"):
    return [f for f in report.findings if f.rule_id == "AZ-002" and f.service_account == sa]


def _chain(depth: int) -> Scenario:
    """apps/sa1 -> id-1 may federate id-2, which may federate id-3 ... id-<depth+1> is Owner."""
    s = workload(Scenario(), 1).managed_cluster()
    for n in range(2, depth + 2):
        identity(s, n)
    for n in range(1, depth + 1):
        assign(s, ids(n)[1], FIC_WRITER, mi_scope(s, n + 1))
    return assign(s, ids(depth + 1)[1], "Owner", s.scope("subscription"))


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_a_chain_to_an_owner_is_critical_with_every_hop(tmp_path, providers, depth):
    (finding,) = _az002(_run(tmp_path, providers, _chain(depth)))
    assert finding.severity is Severity.CRITICAL
    reach = finding.evidence["reaches"]
    assert reach["level"] == "admin" and reach["identity"].endswith(f"/id-{depth + 1}")
    path = reach["path"]
    assert [h["identity"].rsplit("/", 1)[-1] for h in path] == [f"id-{n}" for n in range(2, depth + 2)]
    assert {h["via"] for h in path} == {
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write"
    }
    assert all(h["role_assignment"] and h["scope"] for h in path)


def test_a_chain_to_a_reader_stays_high_and_a_cycle_ends(tmp_path, providers):
    s = workload(Scenario(), 1).managed_cluster()
    identity(s, 2)
    identity(s, 3)
    assign(s, ids(1)[1], FIC_WRITER, mi_scope(s, 2))
    assign(s, ids(2)[1], FIC_WRITER, mi_scope(s, 3))
    assign(s, ids(3)[1], FIC_WRITER, mi_scope(s, 2))  # 2 -> 3 -> 2: a cycle
    assign(s, ids(3)[1], "DNS Zone Contributor", s.scope("rg"))
    (finding,) = _az002(_run(tmp_path, providers, s))
    assert finding.severity is Severity.HIGH
    assert finding.evidence["reaches"]["level"] == "power"
    # The cycle closes on an Owner: critical, and the path does not loop.
    assign(s, ids(2)[1], "Owner", s.scope("subscription"))
    (finding,) = _az002(_run(tmp_path, providers, s, name="owner"))
    assert finding.severity is Severity.CRITICAL
    assert [h["identity"].rsplit("/", 1)[-1] for h in finding.evidence["reaches"]["path"]] == ["id-2"]


def test_a_path_back_through_the_holder_is_no_gain(tmp_path, providers):
    # id-1 may federate id-2, and id-2 may federate id-1 (an Owner): id-1's way up goes through itself.
    s = workload(Scenario(), 1).managed_cluster()
    identity(s, 2)
    assign(s, ids(1)[1], FIC_WRITER, mi_scope(s, 2))
    assign(s, ids(2)[1], FIC_WRITER, s.mi_id("id-1"))
    assign(s, ids(1)[1], "Owner", s.scope("storage", "st1"))
    report = _run(tmp_path, providers, s)
    (finding,) = [f for f in _az002(report) if f.evidence["scope"].endswith("/id-2")]
    assert "reaches" not in finding.evidence or finding.evidence["reaches"]["identity"] != s.mi_id("id-1").lower()


def test_a_write_aimed_at_one_reader_identity_is_not_escalation_when_all_is_known(tmp_path, providers):
    s = workload(Scenario(), 1).managed_cluster()
    identity(s, 2)
    assign(s, ids(1)[1], FIC_WRITER, mi_scope(s, 2))
    assign(s, ids(2)[1], "Reader", s.scope("subscription"))
    # Without Microsoft Graph evidence id-2 may hold app roles: unknown is not safe, still reported.
    assert _az002(_run(tmp_path, providers, s))
    known = graph_for(ids(1)[1], ids(2)[1])
    assert _az002(_run(tmp_path, providers, s, graph=known, name="known")) == []
    # Known, but an app role makes it more than a reader: reported again.
    memberships, roles = graph_for(ids(1)[1], ids(2)[1])
    roles[ids(2)[1]] = page([app_role(ids(2)[1], APPLICATION_RW)])
    (finding,) = _az002(_run(tmp_path, providers, s, graph=(memberships, roles), name="approle"))
    assert finding.evidence["reaches"]["level"] == "power"


def test_a_write_aimed_at_an_identity_not_in_the_evidence_is_reported(tmp_path, providers):
    s = workload(Scenario(), 1).managed_cluster()
    assign(s, ids(1)[1], FIC_WRITER, mi_scope(s, 9))  # id-9 is in no identities.json
    known = graph_for(ids(1)[1])
    (finding,) = _az002(_run(tmp_path, providers, s, graph=known))
    assert finding.severity is Severity.HIGH and "reaches" not in finding.evidence


def test_a_resource_group_wide_write_stays_escalation_even_over_readers(tmp_path, providers):
    s = workload(Scenario(), 1).managed_cluster()
    identity(s, 2)
    assign(s, ids(1)[1], FIC_WRITER, s.scope("rg"))
    known = graph_for(ids(1)[1], ids(2)[1])
    assert _az002(_run(tmp_path, providers, s, graph=known))


def _node_pool(kubelet_role: str) -> Scenario:
    s = workload(Scenario(), 1).managed_cluster(kubelet=KUBELET)
    s.identity("aks-test-agentpool", *KUBELET, rg=NODE_RG)
    return assign(s, KUBELET[1], kubelet_role, s.scope("subscription"))


def test_run_command_on_the_node_pool_reaches_the_kubelet_identity(tmp_path, providers):
    s = _node_pool("Owner")
    assign(s, ids(1)[1], "Virtual Machine Contributor", f"/subscriptions/{SUB}/resourceGroups/{NODE_RG}")
    (finding,) = _az002(_run(tmp_path, providers, s))
    assert finding.severity is Severity.CRITICAL
    (hop,) = finding.evidence["reaches"]["path"]
    assert hop["identity"].endswith("/aks-test-agentpool") and hop["cluster"] == "aks-test"
    assert hop["method"] == "vmss-runcommand-extensions" and "kubelet" in hop["how"]


def test_run_command_on_the_node_pool_reaches_the_pods_workload_identities(tmp_path, providers):
    s = _node_pool("AcrPull")
    workload(s, 2)  # apps/sa2 runs on the node, federated to id-2, an Owner
    assign(s, ids(2)[1], "Owner", s.scope("subscription"))
    assign(s, ids(1)[1], "Virtual Machine Contributor", f"/subscriptions/{SUB}/resourceGroups/{NODE_RG}")
    (finding,) = _az002(_run(tmp_path, providers, s))
    assert finding.severity is Severity.CRITICAL
    (hop,) = finding.evidence["reaches"]["path"]
    assert hop["identity"].endswith("/id-2") and "pod" in hop["how"]


def test_the_aks_admin_credential_reaches_every_identity_federated_to_the_cluster(tmp_path, providers):
    s = workload(Scenario(), 1).managed_cluster()
    identity(s, 2)
    s.fic("id-2", "system:serviceaccount:ops:deployer")  # no such ServiceAccount yet: cluster-admin makes one
    assign(s, ids(2)[1], "Owner", s.scope("subscription"))
    aks_id = f"/subscriptions/{SUB}/resourcegroups/{RG}/providers/Microsoft.ContainerService/managedClusters/aks-test"
    assign(s, ids(1)[1], "Azure Kubernetes Service Cluster Admin Role", aks_id)
    (finding,) = _az002(_run(tmp_path, providers, s))
    assert finding.severity is Severity.CRITICAL
    (hop,) = finding.evidence["reaches"]["path"]
    assert hop["identity"].endswith("/id-2") and hop["method"] == "aks-list-cluster-admin-credential"
    s.aks["disableLocalAccounts"] = True  # type: ignore[index]
    (finding,) = _az002(_run(tmp_path, providers, s, name="disabled"))
    # The admin credential is gone; the role's run command is still counted (its Entra-token path is not modelled).
    assert finding.evidence["methods"] == ["aks-runcommand"]


def test_group_inherited_methods_reach_too(tmp_path, providers):
    group_id = "99999999-0000-4000-8000-000000000001"
    s = _chain(1)
    s.assignments = [a for a in s.assignments if a["principalId"] != ids(1)[1]]
    assign(s, group_id, FIC_WRITER, mi_scope(s, 2), principal_type="Group")
    memberships, roles = graph_for(ids(1)[1], ids(2)[1])
    memberships[ids(1)[1]] = page([group(group_id, "platform-operators")])
    (finding,) = _az002(_run(tmp_path, providers, s, graph=(memberships, roles)))
    assert finding.severity is Severity.CRITICAL
    assert finding.evidence["inherited_from_group"] == {"id": group_id, "name": "platform-operators"}


def test_check_of_one_service_account_reports_the_reach_as_audit_does(tmp_path, providers):
    s = _chain(3)
    workload(s, 7)  # another ServiceAccount, outside the check
    root = s.write(tmp_path / "e")
    whole = [f for f in audit(Evidence(root), providers=providers).findings if f.rule_id == "AZ-002"]
    one = audit(Evidence(root), providers=providers, namespace="apps", service_account="sa1")
    scoped = [f for f in one.findings if f.rule_id == "AZ-002"]
    assert [(f.fingerprint, f.severity, f.evidence) for f in scoped] == [
        (f.fingerprint, f.severity, f.evidence) for f in whole if f.service_account == "sa1"
    ]
