"""Builds Azure evidence directories (az CLI or REST shape) for tests and rule fixtures.

Tests call `Scenario(...).write(root)`; the rule
fixtures under fixtures/rules/AZ-*/ were written with `make_rule_fixtures.py` from the same code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUB = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
TENANT = "11112222-3333-4444-8555-666677778888"
ISSUER = f"https://westeurope.oic.prod-aks.azure.com/{TENANT}/5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b/"
RG = "rg-test"
AUDIENCE = "api://AzureADTokenExchange"
MSI = "Microsoft.ManagedIdentity/userAssignedIdentities"
ROLE_DEFS = "providers/Microsoft.Authorization/roleDefinitions"
BUILTIN = {
    "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    "Role Based Access Control Administrator": "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "DNS Zone Contributor": "befefa01-2a29-4197-83a8-272ff33ce314",
    "Private DNS Zone Contributor": "b12aa53e-6015-4669-85d0-8515ebb3ae7f",
    "Managed Identity Operator": "f1a07417-d97a-45cb-824c-7a7467783830",
}


def _guid(n: int, prefix: str = "a") -> str:
    h = f"{n:012x}"
    return f"{prefix * 8}-0000-4000-8000-{h}"


@dataclass
class Scenario:
    """One cluster, its ServiceAccounts and pods, and one subscription's Azure objects."""

    cluster: str = "aks-test"
    issuer: str | None = ISSUER
    sub: str = SUB
    nodes: tuple[str, ...] = ("aks-apps-12345678-vmss000000",)
    objects: list[dict[str, Any]] = field(default_factory=list)
    identities: list[dict[str, Any]] = field(default_factory=list)
    federated: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    assignments: list[dict[str, Any]] = field(default_factory=list)
    roles: list[dict[str, Any]] = field(default_factory=list)
    aks: dict[str, Any] | None = None
    aks_name: str | None = None
    """The AKS cluster's name (its file's name, its node resource group), kept apart from the object."""
    write_federated: bool = True
    write_assignments: bool = True

    # --- Kubernetes -------------------------------------------------------------------------
    def sa(
        self,
        namespace: str,
        name: str,
        client_id: str | None = None,
        *,
        tenant: str | None = None,
        pod_label: bool | None = True,
        host_network: bool = False,
    ) -> Scenario:
        ann = {}
        if client_id:
            ann["azure.workload.identity/client-id"] = client_id
        if tenant:
            ann["azure.workload.identity/tenant-id"] = tenant
        self.objects.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": namespace, "annotations": ann},
            }
        )
        if pod_label is not None:
            labels = {"app": name}
            if pod_label:
                labels["azure.workload.identity/use"] = "true"
            self.objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": f"{name}-0", "namespace": namespace, "labels": labels},
                    "spec": {
                        "serviceAccountName": name,
                        "nodeName": self.nodes[0],
                        "hostNetwork": host_network,
                        "containers": [{"name": name, "image": "example/app:1"}],
                    },
                }
            )
        return self

    def netpol_block_imds(self, namespace: str) -> Scenario:
        self.objects.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "deny-imds", "namespace": namespace},
                "spec": {
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]}],
                },
            }
        )
        return self

    # --- Azure ------------------------------------------------------------------------------
    def mi_id(self, name: str, rg: str = RG) -> str:
        return f"/subscriptions/{self.sub}/resourcegroups/{rg}/providers/{MSI}/{name}"

    def identity(self, name: str, client_id: str, principal_id: str, *, rg: str = RG, tenant: str = TENANT) -> Scenario:
        self.identities.append(
            {
                "clientId": client_id,
                "id": self.mi_id(name, rg),
                "location": "westeurope",
                "name": name,
                "principalId": principal_id,
                "resourceGroup": rg,
                "systemData": None,
                "tags": {},
                "tenantId": tenant,
                "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
            }
        )
        self.federated.setdefault(self.mi_id(name, rg), [])
        return self

    def fic(
        self,
        identity: str,
        subject: str | None,
        *,
        issuer: str | None = None,
        audiences: tuple[str, ...] = (AUDIENCE,),
        name: str | None = None,
        expression: str | None = None,
    ) -> Scenario:
        creds = self.federated.setdefault(self.mi_id(identity), [])
        name = name or f"fic-{len(creds)}"
        cred: dict[str, Any] = {
            "audiences": list(audiences),
            "id": f"{self.mi_id(identity)}/federatedIdentityCredentials/{name}",
            "issuer": issuer or self.issuer,
            "name": name,
            "resourceGroup": RG,
            "subject": subject,
            "systemData": None,
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
        }
        if expression:
            del cred["subject"]
            cred["claimsMatchingExpression"] = {"languageVersion": 1, "value": expression}
        creds.append(cred)
        return self

    def scope(self, kind: str = "subscription", name: str = "x") -> str:
        base = f"/subscriptions/{self.sub}"
        return {
            "root": "/",
            "mg": f"/providers/Microsoft.Management/managementGroups/{name}",
            "subscription": base,
            "rg": f"{base}/resourceGroups/{RG}",
            "storage": f"{base}/resourceGroups/{RG}/providers/Microsoft.Storage/storageAccounts/{name}",
            "container": f"{base}/resourceGroups/{RG}/providers/Microsoft.Storage/storageAccounts/{name}"
            "/blobServices/default/containers/data",
            "vault": f"{base}/resourceGroups/{RG}/providers/Microsoft.KeyVault/vaults/{name}",
            "dnszone": f"{base}/resourceGroups/{RG}/providers/Microsoft.Network/dnszones/{name}",
        }[kind]

    def assign(self, principal: str, role: str, scope: str, *, condition: str | None = None) -> Scenario:
        guid = BUILTIN.get(role) or next(r["name"] for r in self.roles if r["roleName"] == role)
        n = len(self.assignments) + 1
        aid = _guid(n, "e")
        self.assignments.append(
            {
                "condition": condition,
                "conditionVersion": "2.0" if condition else None,
                "createdBy": None,
                "createdOn": "2026-05-04T09:20:11.438925+00:00",
                "delegatedManagedIdentityResourceId": None,
                "description": None,
                "id": f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{aid}",
                "name": aid,
                "principalId": principal,
                "principalType": "ServicePrincipal",
                "roleDefinitionId": f"/subscriptions/{self.sub}/{ROLE_DEFS}/{guid}",
                "roleDefinitionName": role,
                "scope": scope,
                "type": "Microsoft.Authorization/roleAssignments",
                "updatedBy": None,
                "updatedOn": "2026-05-04T09:20:11.438925+00:00",
            }
        )
        return self

    def custom_role(
        self,
        name: str,
        actions: list[str],
        *,
        not_actions: list[str] | None = None,
        data_actions: list[str] | None = None,
        condition: str | None = None,
    ) -> Scenario:
        guid = _guid(len(self.roles) + 1, "c")
        self.roles.append(
            {
                "assignableScopes": [f"/subscriptions/{self.sub}"],
                "description": name,
                "id": f"/subscriptions/{self.sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
                "name": guid,
                "permissions": [
                    {
                        "actions": actions,
                        "condition": condition,
                        "conditionVersion": "2.0" if condition else None,
                        "dataActions": data_actions or [],
                        "notActions": not_actions or [],
                        "notDataActions": [],
                    }
                ],
                "roleName": name,
                "roleType": "CustomRole",
                "type": "Microsoft.Authorization/roleDefinitions",
            }
        )
        return self

    def managed_cluster(
        self,
        *,
        oidc: bool = True,
        workload_identity: bool = True,
        kubelet: tuple[str, str] | None = None,
        network_policy: str | None = "azure",
        pod_link_local_access: str | None = None,
        name: str | None = None,
    ) -> Scenario:
        name = self.aks_name = name or self.cluster
        kubelet_rg = f"MC_{RG}_{name}_westeurope"
        self.aks = {
            "agentPoolProfiles": [{"name": "apps", "count": 1, "mode": "System", "osType": "Linux"}],
            "id": f"/subscriptions/{self.sub}/resourcegroups/{RG}/providers/Microsoft.ContainerService/managedClusters/"
            + name,
            "identity": {"principalId": _guid(99, "d"), "tenantId": TENANT, "type": "SystemAssigned"},
            "identityProfile": (
                {
                    "kubeletidentity": {
                        "clientId": kubelet[0],
                        "objectId": kubelet[1],
                        "resourceId": self.mi_id(f"{name}-agentpool", kubelet_rg),
                    }
                }
                if kubelet
                else None
            ),
            "location": "westeurope",
            "name": name,
            "networkProfile": {"networkPlugin": "azure", "networkPolicy": network_policy},
            "nodeResourceGroup": kubelet_rg,
            "oidcIssuerProfile": {"enabled": oidc, "issuerUrl": self.issuer if oidc else None},
            "resourceGroup": RG,
            "securityProfile": {"workloadIdentity": {"enabled": workload_identity} if workload_identity else None},
            "type": "Microsoft.ContainerService/ManagedClusters",
        }
        if pod_link_local_access:
            self.aks["networkProfile"]["podLinkLocalAccess"] = pod_link_local_access
        return self

    # --- output -----------------------------------------------------------------------------
    def optional_notes(self) -> list[tuple[str, str, str | None, tuple[str, ...]]]:
        """The coverage notes of the optional evidence a Scenario never writes, as `coverage_entries` lists
        them: the Activity Log (AZ-012, unused access), the Microsoft Graph files (AZ-013, Entra roles and
        Graph app roles) and the cluster's RBAC (K8S-006, who else can act as its ServiceAccounts). Each
        names its one rule and no principal: it hides that rule's findings only, and leaves no identity
        unchecked. (For an estate with a granted, annotated identity: otherwise nothing depends on them.)"""
        return sorted(
            [
                ("azure", "azure/<subscription-id>/activity-log.json", None, ("AZ-012",)),
                ("azure", "azure/<subscription-id>/group-memberships.json, app-roles.json", None, ("AZ-013",)),
                ("kubernetes", f"kubernetes/{self.cluster}/rbac.json", self.cluster, ("K8S-006",)),
            ]
        )

    def write(self, root: Path, *, rest: bool = False) -> Path:
        k8s = root / "kubernetes" / self.cluster
        k8s.mkdir(parents=True, exist_ok=True)
        # AKS puts the nodes in MC_<resource group>_<cluster>_<region>; providerIDs name it lower-cased.
        node_rg = f"mc_{RG}_{self.aks_name or self.cluster}_westeurope".lower()
        nodes = [
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": n, "labels": {"kubernetes.azure.com/agentpool": "apps"}},
                "spec": {
                    "providerID": f"azure:///subscriptions/{self.sub}/resourceGroups/{node_rg}/providers/"
                    f"Microsoft.Compute/virtualMachineScaleSets/aks-apps-vmss/virtualMachines/{i}"
                },
            }
            for i, n in enumerate(self.nodes)
        ]
        _dump(k8s / "resources.json", {"apiVersion": "v1", "kind": "List", "items": self.objects + nodes})
        if self.issuer:
            _dump(
                k8s / "openid-configuration.json", {"issuer": self.issuer, "jwks_uri": f"{self.issuer}openid/v1/jwks"}
            )
        az = root / "azure" / self.sub
        az.mkdir(parents=True, exist_ok=True)
        shape = to_rest if rest else (lambda kind, obj: obj)
        _dump(az / "identities.json", [shape("identity", i) for i in self.identities])
        if self.write_federated:
            _dump(
                az / "federated-credentials.json", {k: [shape("fic", c) for c in v] for k, v in self.federated.items()}
            )
        if self.write_assignments:
            _dump(az / "role-assignments.json", [shape("assignment", a) for a in self.assignments])
        if self.roles:
            _dump(az / "role-definitions.json", [shape("role", r) for r in self.roles])
        if self.aks:
            d = az / "aks" / RG
            d.mkdir(parents=True, exist_ok=True)
            _dump(d / f"{self.aks_name}.json", shape("aks", self.aks))
        return root


# Top-level keys each REST resource keeps outside `properties` (everything else is nested).
_TOP = {"id", "name", "type", "location", "tags", "systemData", "identity", "sku"}


def coverage_entries(coverage: dict[str, Any]) -> list[tuple[str, str, str | None, tuple[str, ...]]]:
    """A report's coverage errors as (source, location, subject, rules), sorted: what `optional_notes` gives."""
    return sorted((e["source"], e["location"], e["subject"], tuple(e.get("rules", ()))) for e in coverage["errors"])


def to_rest(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The REST shape of an az CLI object: fields nested under `properties`, CLI-only fields dropped."""
    props = {k: v for k, v in obj.items() if k not in _TOP and k not in {"resourceGroup", "roleDefinitionName"}}
    if kind == "role":
        props["type"] = props.pop("roleType")
    return {**{k: v for k, v in obj.items() if k in _TOP}, "properties": props}


def _dump(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n")
