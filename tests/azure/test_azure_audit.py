"""Audits end to end: the demo's AKS cluster, both shapes, memoisation, the documented read-only role."""

from __future__ import annotations

import json
import re
from pathlib import Path

from azure_builder import Scenario, coverage_entries
from kubeiam_azure.judge.profile import judge_assignment

from kubeiam.pipeline.audit import audit, demo_dir
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.findings import Severity

DOCS = Path(__file__).resolve().parents[2] / "docs" / "azure.md"
CLIENT, PRINCIPAL = "10000000-0000-4000-8000-000000000001", "20000000-0000-4000-8000-000000000001"
KUBELET = ("30000000-0000-4000-8000-000000000003", "40000000-0000-4000-8000-000000000003")


def _aks_findings(report):
    return {
        (f.rule_id, f.namespace, f.service_account, f.node, f.severity.value)
        for f in report.findings
        if f.cluster == "aks-apps"
    }


def test_demo_aks_cluster_shows_the_azure_findings(providers):
    report = audit(Evidence(demo_dir()), providers=providers)
    found = _aks_findings(report)
    assert ("AZ-001", "platform", "deployer", None, "critical") in found  # Owner on the subscription
    assert ("AZ-008", "orders", "worker", None, "medium") in found  # federated credential for "workers"
    assert ("AZ-009", "orders", "worker", None, "medium") in found  # pods without the use label
    assert ("K8S-001", "legacy", "app", None, "high") in found  # static client secret (core rule)
    kubelet = {f for f in found if f[0] == "AZ-011"}
    # One finding per agent pool (a pool setting, stable across VMSS node names), not per node.
    assert {f[3] for f in kubelet} == {"agentpool/system", "agentpool/apps"}
    assert {f[4] for f in kubelet} == {"critical"}  # Contributor on rg-apps federates id-platform-deployer, an Owner
    # Usage data and Microsoft Graph (issues 14, 15): the Owner used 4 of its ~2,000 operations, and holds
    # RoleManagement.ReadWrite.Directory.
    assert ("AZ-012", "platform", "deployer", None, "high") in found
    assert ("AZ-013", "platform", "deployer", None, "critical") in found
    # orders/api is the clean one in Azure: no rule about its identity fires. Its one finding is who else
    # can act as it (issue 13): legacy/app may create its tokens.
    api = [f for f in report.findings if (f.cluster, f.namespace, f.service_account) == ("aks-apps", "orders", "api")]
    assert [(f.rule_id, f.evidence["subject"]) for f in api] == [("K8S-006", "serviceaccount:legacy/app")], api
    cluster = next(c for c in report.coverage["clusters"] if c["name"] == "aks-apps")
    assert cluster["id"].endswith(
        "/resourcegroups/rg-apps/providers/microsoft.containerservice/managedclusters/aks-apps"
    )
    assert report.coverage["identities"]["azure"] == {"resolved": 2, "missing": 0, "untrusted": 1, "unchecked": 0}


def test_demo_fingerprints_use_the_aks_resource_id(providers):
    report = audit(Evidence(demo_dir()), providers=providers)
    owner = next(f for f in report.findings if f.rule_id == "AZ-001")
    assert owner.cluster_id.startswith("/subscriptions/8f3c2d1e-4b5a-4c6d-9e8f-0a1b2c3d4e5f/")
    assert owner.principal.endswith("/userassignedidentities/id-platform-deployer")


def _rich() -> Scenario:
    s = Scenario().sa("orders", "app", CLIENT).sa("orders", "batch", CLIENT, pod_label=False)
    s.identity("id-app", CLIENT, PRINCIPAL).identity("aks-test-agentpool", *KUBELET)
    s.fic("id-app", "system:serviceaccount:orders:app").fic("id-app", "system:serviceaccount:orders:batch")
    s.managed_cluster(kubelet=KUBELET)
    s.custom_role("Storage Admin", ["Microsoft.Storage/*", "Microsoft.Authorization/*/write"])
    s.assign(PRINCIPAL, "Storage Admin", s.scope("rg"))
    s.assign(PRINCIPAL, "Storage Blob Data Owner", s.scope("subscription"))
    s.assign(PRINCIPAL, "Storage Blob Data Reader", s.scope("storage", "st1"))
    s.assign(KUBELET[1], "Contributor", s.scope("subscription"))
    return s


def test_flattened_and_rest_shapes_give_the_same_findings(audit_of):
    cli, rest = audit_of(_rich()), audit_of(_rich(), rest=True)
    key = [(f.fingerprint, f.rule_id, f.severity) for f in cli.findings]
    assert key == [(f.fingerprint, f.rule_id, f.severity) for f in rest.findings]
    assert {f.rule_id for f in cli.findings} >= {
        "AZ-002",
        "AZ-003",
        "AZ-004",
        "AZ-005",
        "AZ-006",
        "AZ-007",
        "AZ-009",
        "AZ-011",
    }


def test_judged_once_per_assignment_not_per_service_account(audit_of):
    judge_assignment.cache_clear()
    audit_of(_rich())
    # 4 assignments; two ServiceAccounts and 11 rules ask about them many times over.
    assert judge_assignment.cache_info().misses == 4
    judge_assignment.cache_clear()
    many = _rich()
    for i in range(30):
        many.sa("orders", f"extra{i}", CLIENT).fic("id-app", f"system:serviceaccount:orders:extra{i}")
    audit_of(many)
    info = judge_assignment.cache_info()
    # Thirty more ServiceAccounts on the same identity: still one judgement per assignment, and
    # no more look-ups (verdicts are memoised per identity, not per ServiceAccount).
    assert (info.misses, info.hits) == (4, 0)


def test_fingerprints_ignore_file_order(tmp_path, providers):
    first = _rich()
    second = _rich()
    second.assignments.reverse()
    for creds in second.federated.values():
        creds.reverse()
    a = audit(Evidence(first.write(tmp_path / "a")), providers=providers)
    b = audit(Evidence(second.write(tmp_path / "b")), providers=providers)
    assert len([f for f in a.findings if f.cloud == "azure"]) >= 8  # not trivially equal
    assert [f.fingerprint for f in a.findings] == [f.fingerprint for f in b.findings]


def _documented_role() -> dict:
    text = DOCS.read_text()
    block = re.search(r"<!-- minimal-role -->\s*```json\n(.*?)```", text, re.S)
    assert block, "docs/azure.md must hold the minimal role as a ```json block after <!-- minimal-role -->"
    return json.loads(block.group(1))


def test_minimal_read_only_role_audits_at_most_low(audit_of):
    role = _documented_role()
    assert role["Actions"] and all(a.endswith("/read") for a in role["Actions"]), (
        "the collection role must be read-only"
    )
    assert not role["DataActions"]
    s = Scenario().sa("kubeiam", "collector", CLIENT).identity("id-kubeiam", CLIENT, PRINCIPAL)
    s.fic("id-kubeiam", "system:serviceaccount:kubeiam:collector").managed_cluster()
    s.custom_role(role["Name"], role["Actions"], not_actions=role["NotActions"], data_actions=role["DataActions"])
    s.assign(PRINCIPAL, role["Name"], s.scope("subscription"))
    report = audit_of(s)
    assert report.coverage["identities"]["azure"]["resolved"] == 1
    assert coverage_entries(report.coverage) == s.optional_notes()
    worst = [f for f in report.findings if f.severity.rank > Severity.LOW.rank]
    assert worst == [], [f.title for f in worst]


def test_docs_rule_table_matches_the_rules():
    from kubeiam_azure.rules import RULES

    text = DOCS.read_text()
    for r in RULES:
        assert re.search(rf"^\| {r.id} \| {r.category} \| {r.severity}", text, re.M), r.id


def test_kubelet_exposure_is_one_finding_per_agent_pool_stable_across_node_names(tmp_path, providers):
    def scenario(nodes: tuple[str, ...]) -> Scenario:
        s = Scenario(nodes=nodes).sa("orders", "app", CLIENT).identity("aks-test-agentpool", *KUBELET)
        s.managed_cluster(kubelet=KUBELET).assign(KUBELET[1], "Contributor", s.scope("rg"))
        return s

    first = audit(
        Evidence(scenario(("aks-apps-1-vmss000000", "aks-apps-1-vmss000001")).write(tmp_path / "a")),
        providers=providers,
    )
    (one,) = [f for f in first.findings if f.rule_id == "AZ-011"]
    assert one.node == "agentpool/apps" and one.evidence["node_count"] == 2
    # An upgrade replaces the VMSS instances: new node names, same problem, same ticket.
    second = audit(Evidence(scenario(("aks-apps-2-vmss000005",)).write(tmp_path / "b")), providers=providers)
    (two,) = [f for f in second.findings if f.rule_id == "AZ-011"]
    assert two.fingerprint == one.fingerprint


def test_shared_identity_is_one_match_for_all_its_service_accounts(inventory_of, audit_of):
    from kubeiam_azure.rules import RULES

    s = Scenario().identity("id-app", CLIENT, PRINCIPAL).managed_cluster(kubelet=KUBELET)
    for i in range(6):
        s.sa("orders", f"app{i}", CLIENT).fic("id-app", f"system:serviceaccount:orders:app{i}")
    s.assign(PRINCIPAL, "Owner", s.scope("subscription"))
    inv = inventory_of(s)
    rules = {r.id: r for r in RULES}
    (shared,) = rules["AZ-007"].check(inv)
    assert shared.severity is Severity.CRITICAL and len(shared.subjects) == 6
    # Grant findings quote which federated credential admitted each ServiceAccount: one Match each.
    admin = list(rules["AZ-001"].check(inv))
    assert [len(m.subjects) for m in admin] == [1] * 6
    assert len({m.evidence["binding"] for m in admin}) == 6
    report = audit_of(s)
    assert len({f.fingerprint for f in report.findings if f.rule_id in ("AZ-001", "AZ-007")}) == 12
