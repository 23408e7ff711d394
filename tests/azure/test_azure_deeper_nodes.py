"""Issue 15, item 10: add-on identities on the node scale sets are reachable from pods like the kubelet's.

Before: AZ-011 judged the kubelet identity only; an add-on identity (omsagent, azurepolicy, Key Vault secrets
provider, application gateway ingress) with Contributor was not reported.
"""

from __future__ import annotations

from azure_builder import Scenario
from azure_deeper_support import assign, workload

from kubeiam.vocabulary.findings import Severity

KUBELET = ("30000000-0000-4000-8000-000000000003", "40000000-0000-4000-8000-000000000003")
ADDON = ("50000000-0000-4000-8000-000000000005", "60000000-0000-4000-8000-000000000005")
NODE_RG = "MC_rg-test_aks-test_westeurope"


def _cluster(addon_role: str | None, kubelet_role: str = "AcrPull", *, object_id: bool = True) -> Scenario:
    s = workload(Scenario(), 1).managed_cluster(kubelet=KUBELET)
    rid = s.mi_id("azurekeyvaultsecretsprovider-aks-test", NODE_RG)
    identity = {"clientId": ADDON[0], "resourceId": rid, **({"objectId": ADDON[1]} if object_id else {})}
    s.aks["addonProfiles"] = {  # type: ignore[index]
        "azureKeyvaultSecretsProvider": {
            "enabled": True,
            "config": {"enableSecretRotation": "false"},
            "identity": identity,
        },
        "azurepolicy": {"enabled": False, "config": None, "identity": None},
    }
    assign(s, KUBELET[1], kubelet_role, s.scope("storage", "acr") if kubelet_role == "AcrPull" else s.scope("rg"))
    if addon_role:
        assign(s, ADDON[1], addon_role, s.scope("subscription"))
    return s


def _az011(report):
    return [f for f in report.findings if f.rule_id == "AZ-011"]


def test_an_add_on_identity_with_a_role_is_reachable_from_pods(audit_of):
    (finding,) = _az011(audit_of(_cluster("Contributor")))
    assert finding.principal.endswith("/azurekeyvaultsecretsprovider-aks-test")
    assert finding.node == "agentpool/apps" and finding.severity is Severity.CRITICAL  # Contributor at subscription
    assert finding.evidence["identity_role"] == "addon:azureKeyvaultSecretsProvider"
    assert "kubelet_identity" not in finding.evidence
    assert "addon:azureKeyvaultSecretsProvider identity" in finding.title


def test_kubelet_and_add_on_each_get_their_finding_and_the_kubelet_keeps_its_fingerprint(audit_of):
    kubelet_only = _az011(audit_of(_cluster(None, "Contributor")))
    both = _az011(audit_of(_cluster("Storage Blob Data Reader", "Contributor")))
    assert len(kubelet_only) == 1 and len(both) == 2
    (kubelet,) = [f for f in both if f.evidence["identity_role"] == "kubelet"]
    assert kubelet.fingerprint == kubelet_only[0].fingerprint
    (addon,) = [f for f in both if f is not kubelet]
    assert addon.severity is Severity.MEDIUM  # a data reader: no escalation, no admin


def test_read_only_node_identities_are_not_reported(audit_of):
    assert _az011(audit_of(_cluster("Reader"))) == []


def test_an_add_on_identity_without_object_id_is_coverage(audit_of):
    report = audit_of(_cluster("Contributor", object_id=False))
    assert _az011(report) == []
    (error,) = [e for e in report.coverage["errors"] if "azureKeyvaultSecretsProvider" in e["reason"]]
    assert error["rules"] == ["AZ-011"] and error["subject"] == "aks-test"


def test_imds_blocked_blocks_the_add_on_identities_too(audit_of):
    s = _cluster("Contributor")
    s.aks["networkProfile"]["podLinkLocalAccess"] = "None"  # type: ignore[index]
    assert _az011(audit_of(s)) == []
