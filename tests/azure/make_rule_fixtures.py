"""Writes fixtures/rules/AZ-*/ from the scenarios below (run by hand after changing them).

    .venv/bin/python tests/azure/make_rule_fixtures.py

Each scenario is small and named for its expected outcome; tests/test_rule_fixtures.py runs them.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from azure_builder import TENANT, Scenario

ROOT = Path(__file__).resolve().parents[2] / "fixtures" / "rules"
CLIENT, PRINCIPAL = "10000000-0000-4000-8000-000000000001", "20000000-0000-4000-8000-000000000001"
CLIENT2, PRINCIPAL2 = "10000000-0000-4000-8000-000000000002", "20000000-0000-4000-8000-000000000002"
# Constrained delegation: may assign only AcrPull (what Microsoft's condition builder writes).
CONSTRAINED = (
    "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
    "(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals "
    "{7f951dda-4ed3-4680-a7ca-43fe172d538d}))"
)
KUBELET = ("30000000-0000-4000-8000-000000000003", "40000000-0000-4000-8000-000000000003")


def bound(role: str | None = None, scope: str = "subscription", **kw: object) -> Scenario:
    """orders/app federated correctly to id-app, with one role assignment."""
    s = Scenario().sa("orders", "app", CLIENT).identity("id-app", CLIENT, PRINCIPAL)
    s.fic("id-app", "system:serviceaccount:orders:app").managed_cluster()
    if role:
        s.assign(PRINCIPAL, role, s.scope(scope, "stapp"), **kw)  # type: ignore[arg-type]
    return s


def custom(name: str, scope: str, **role: object) -> Scenario:
    s = Scenario().sa("orders", "app", CLIENT).identity("id-app", CLIENT, PRINCIPAL)
    s.fic("id-app", "system:serviceaccount:orders:app").managed_cluster()
    s.custom_role(name, **role)  # type: ignore[arg-type]
    return s.assign(PRINCIPAL, name, s.scope(scope, "stapp"))


def two_subjects() -> Scenario:
    s = Scenario().sa("orders", "app", CLIENT).sa("orders", "batch", CLIENT).identity("id-app", CLIENT, PRINCIPAL)
    s.fic("id-app", "system:serviceaccount:orders:app").fic("id-app", "system:serviceaccount:orders:batch")
    return s.managed_cluster().assign(PRINCIPAL, "Storage Blob Data Reader", s.scope("container", "stapp"))


def two_clusters() -> Scenario:
    s = bound("Owner", "rg")
    return s.fic("id-app", "system:serviceaccount:orders:app", issuer="https://oidc.eks.eu-west-1.amazonaws.com/id/ABC")


def wildcard_subject() -> Scenario:
    s = Scenario().sa("orders", "app", CLIENT).identity("id-app", CLIENT, PRINCIPAL).managed_cluster()
    return s.fic("id-app", None, expression="claims['sub'] matches 'system:serviceaccount:orders:*'")


def untrusted(**fic: object) -> Scenario:
    s = Scenario().sa("orders", "app", CLIENT).identity("id-app", CLIENT, PRINCIPAL).managed_cluster()
    subject = fic.pop("subject", "system:serviceaccount:orders:app")
    return s.fic("id-app", subject, **fic).assign(PRINCIPAL, "Owner", s.scope("subscription"))  # type: ignore[arg-type]


def kubelet(role: str, scope: str, *, host_network: bool = False, **cluster: object) -> Scenario:
    s = Scenario().sa("orders", "app", None, pod_label=False, host_network=host_network)
    s.managed_cluster(kubelet=KUBELET, **cluster).identity("aks-test-agentpool", *KUBELET)  # type: ignore[arg-type]
    s.assign(KUBELET[1], "AcrPull", s.scope("rg"))
    return s.assign(KUBELET[1], role, s.scope(scope)) if role != "AcrPull" else s


def self_managed_webhook() -> Scenario:
    s = bound("AcrPull", "rg")
    s.managed_cluster(workload_identity=False)
    return s.sa("azure-workload-identity-system", "azure-wi-webhook-admin", None, pod_label=False)


CASES: dict[str, dict[str, tuple[Callable[[], Scenario], dict | None]]] = {
    "AZ-001": {
        "fail-owner-on-resource-group": (lambda: bound("Owner", "rg"), {"count": 1, "severity": "critical"}),
        "fail-contributor-on-subscription": (lambda: bound("Contributor", "subscription"), {"count": 1}),
        "fail-contributor-on-management-group": (lambda: bound("Contributor", "mg"), {"count": 1}),
        "pass-contributor-on-resource-group": (lambda: bound("Contributor", "rg"), None),
        "pass-reader-on-subscription": (lambda: bound("Reader", "subscription"), None),
        # `*` minus every write, delete and action is a reader, however it is spelt.
        "pass-star-minus-every-write-on-subscription": (
            lambda: custom(
                "Star Reader", "subscription", actions=["*"], not_actions=["*/write", "*/delete", "*/action"]
            ),
            None,
        ),
        "fail-star-minus-authorization-on-subscription": (
            lambda: custom("Contrib", "subscription", actions=["*"], not_actions=["Microsoft.Authorization/*"]),
            {"count": 1, "severity": "critical"},
        ),
        "pass-owner-but-federation-broken": (lambda: untrusted(subject="system:serviceaccount:orders:other"), None),
    },
    "AZ-002": {
        "fail-user-access-administrator-on-subscription": (
            lambda: bound("User Access Administrator", "subscription"),
            {"count": 1, "severity": "critical"},
        ),
        "fail-rbac-administrator-on-resource-group": (
            lambda: bound("Role Based Access Control Administrator", "rg"),
            {"count": 1, "severity": "high"},
        ),
        "fail-custom-authorization-star-write": (
            lambda: custom("Access Writer", "rg", actions=["Microsoft.Authorization/*/write", "*/read"]),
            {"count": 1, "severity": "high"},
        ),
        "fail-contributor-can-federate-identities": (lambda: bound("Contributor", "rg"), {"count": 1}),
        "fail-rbac-administrator-constrained-on-subscription": (
            lambda: bound("Role Based Access Control Administrator", "subscription", condition=CONSTRAINED),
            {"count": 1, "severity": "high"},
        ),
        "pass-contributor-on-dns-zone": (lambda: bound("Contributor", "dnszone"), None),
        "pass-reader-on-subscription": (lambda: bound("Reader", "subscription"), None),
        "pass-owner-reported-as-admin": (lambda: bound("Owner", "subscription"), None),
    },
    "AZ-003": {
        "fail-custom-provider-wildcard": (
            lambda: custom("Storage Everything", "storage", actions=["Microsoft.Storage/*"]),
            {"count": 1, "severity": "medium"},
        ),
        "fail-custom-any-provider-write": (
            lambda: custom("Writer Everywhere", "storage", actions=["*/write", "*/read"]),
            {"count": 1, "severity": "medium"},
        ),
        "pass-custom-explicit-actions": (
            lambda: custom("Blob Lister", "storage", actions=["Microsoft.Storage/storageAccounts/read"]),
            None,
        ),
        "pass-builtin-role": (lambda: bound("Managed Identity Operator", "rg"), None),
    },
    "AZ-004": {
        "fail-blob-reader-on-subscription": (
            lambda: bound("Storage Blob Data Reader", "subscription"),
            {"count": 1, "severity": "high"},
        ),
        "fail-secrets-user-on-resource-group": (
            lambda: bound("Key Vault Secrets User", "rg"),
            {"count": 1, "severity": "medium"},
        ),
        "pass-blob-reader-on-storage-account": (lambda: bound("Storage Blob Data Reader", "storage"), None),
        "pass-blob-reader-with-condition": (
            lambda: bound(
                "Storage Blob Data Reader",
                "subscription",
                condition="((!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'}))"
                " OR (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'data'))",
            ),
            None,
        ),
    },
    "AZ-005": {
        "fail-blob-owner-on-storage-account": (
            lambda: bound("Storage Blob Data Owner", "storage"),
            {"count": 1, "severity": "low"},
        ),
        "pass-blob-reader-on-container": (lambda: bound("Storage Blob Data Reader", "container"), None),
        "pass-secrets-user-on-vault": (lambda: bound("Key Vault Secrets User", "vault"), None),
    },
    "AZ-006": {
        "fail-dns-zone-contributor-on-subscription": (
            lambda: bound("DNS Zone Contributor", "subscription"),
            {"count": 1, "severity": "medium"},
        ),
        "pass-reader-on-subscription": (lambda: bound("Reader", "subscription"), None),
        "pass-dns-zone-contributor-on-zone": (lambda: bound("DNS Zone Contributor", "dnszone"), None),
    },
    "AZ-007": {
        "fail-two-service-accounts": (two_subjects, {"count": 2, "severity": "high"}),
        "fail-two-clusters-admin-identity": (two_clusters, {"count": 1, "severity": "critical"}),
        "fail-wildcard-subject": (wildcard_subject, {"count": 1}),
        "pass-one-credential": (lambda: bound("Reader", "rg"), None),
    },
    "AZ-008": {
        "fail-wrong-subject": (lambda: untrusted(subject="system:serviceaccount:orders:apps"), {"count": 1}),
        "fail-issuer-without-trailing-slash": (
            lambda: untrusted(issuer=Scenario().issuer.rstrip("/")),  # type: ignore[union-attr]
            {"count": 1},
        ),
        "fail-wrong-audience": (lambda: untrusted(audiences=("api://AzureADTokenExchangeChina",)), {"count": 1}),
        "fail-tenant-mismatch": (
            lambda: (
                Scenario()
                .sa("orders", "app", CLIENT, tenant="99990000-0000-4000-8000-000000000000")
                .identity("id-app", CLIENT, PRINCIPAL, tenant=TENANT)
                .fic("id-app", "system:serviceaccount:orders:app")
                .managed_cluster()
            ),
            {"count": 1},
        ),
        "pass-matching-credential": (lambda: bound("Reader", "rg"), None),
    },
    "AZ-009": {
        "fail-pod-without-label": (
            lambda: (
                Scenario()
                .sa("orders", "app", CLIENT, pod_label=False)
                .identity("id-app", CLIENT, PRINCIPAL)
                .fic("id-app", "system:serviceaccount:orders:app")
                .managed_cluster()
            ),
            {"count": 1, "severity": "medium"},
        ),
        "pass-pod-with-label": (lambda: bound("Reader", "rg"), None),
    },
    "AZ-010": {
        "fail-workload-identity-disabled": (
            lambda: bound("AcrPull", "rg").managed_cluster(workload_identity=False),
            {"count": 1},
        ),
        "fail-oidc-issuer-disabled": (
            lambda: bound("AcrPull", "rg").managed_cluster(oidc=False),
            {"count": 1},
        ),
        "pass-enabled": (lambda: bound("AcrPull", "rg"), None),
        # Absent or null is "off" (what ARM prints when the feature is not set up).
        "fail-oidc-issuer-profile-absent": (
            lambda: with_aks(bound("AcrPull", "rg"), lambda aks: aks.pop("oidcIssuerProfile")),
            {"count": 1},
        ),
        "pass-self-managed-webhook": (self_managed_webhook, None),
    },
    "AZ-011": {
        "fail-kubelet-contributor-on-resource-group": (
            lambda: kubelet("Contributor", "rg"),
            {"count": 1, "severity": "high"},
        ),
        "fail-kubelet-owner-on-subscription": (
            lambda: kubelet("Owner", "subscription"),
            {"count": 1, "severity": "critical"},
        ),
        "fail-network-policy-not-enforced": (
            lambda: kubelet("Storage Blob Data Reader", "storage", network_policy="none").netpol_block_imds("orders"),
            {"count": 1, "severity": "medium"},
        ),
        "fail-host-network-pod-despite-link-local-none": (
            lambda: kubelet("Contributor", "rg", pod_link_local_access="None", host_network=True),
            {"count": 1, "severity": "high"},
        ),
        "pass-kubelet-acrpull-only": (lambda: kubelet("AcrPull", "rg"), None),
        "pass-pod-link-local-access-none": (
            lambda: kubelet("Contributor", "rg", pod_link_local_access="None"),
            None,
        ),
        "pass-imds-blocked-by-network-policy": (
            lambda: kubelet("Contributor", "rg").netpol_block_imds("orders"),
            None,
        ),
        # Unknown is not safe: an undocumented engine does not enforce the block; an undocumented
        # pool setting does not fall back to the cluster's protecting one.
        "fail-unknown-network-policy-engine": (
            lambda: with_aks(
                kubelet("Contributor", "rg").netpol_block_imds("orders"),
                lambda aks: aks["networkProfile"].update(networkPolicy="calico-enterprise"),
            ),
            {"count": 1, "severity": "high"},
        ),
        "fail-unknown-pool-setting-under-cluster-none": (
            lambda: with_aks(
                kubelet("Contributor", "rg", pod_link_local_access="None"),
                lambda aks: aks["agentPoolProfiles"][0].update(podLinkLocalAccess="Blocked"),
            ),
            {"count": 1, "severity": "high"},
        ),
    },
}


def with_aks(s: Scenario, change: Callable[[dict], object]) -> Scenario:
    assert s.aks is not None
    change(s.aks)
    return s


def main() -> None:
    for rule_id, cases in CASES.items():
        base = ROOT / rule_id
        if base.exists():
            shutil.rmtree(base)
        for name, (make, expect) in cases.items():
            target = base / name
            make().write(target)
            if expect:
                (target / "expect.json").write_text(json.dumps(expect) + "\n")
    print(f"wrote {sum(len(c) for c in CASES.values())} cases under {ROOT}")


if __name__ == "__main__":
    main()
