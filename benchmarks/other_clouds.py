"""Synthetic GKE + GCP and AKS + Azure estates, in the evidence shapes of shared/EVIDENCE.md.

Same scale knobs as AWS: S ServiceAccounts, R cloud identities (Google service accounts or Azure
user-assigned managed identities; ServiceAccount i uses identity i mod R), P custom roles, N nodes.
Each identity gets two grants (a predefined/built-in role from a realistic pool, and one custom
role) and trusts exactly the ServiceAccounts that use it. Deterministic for a seed.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from estate import Scale

GCP_PROJECT = "bench-proj"
GCP_NUMBER = "100000000042"
GCP_POOL = f"{GCP_PROJECT}.svc.id.goog"
GKE_LOCATION = "europe-west1"
GKE_CLUSTER = "bench-gke"
GCP_ROLES = [
    "roles/storage.objectViewer",
    "roles/pubsub.publisher",
    "roles/secretmanager.secretAccessor",
    "roles/cloudsql.client",
    "roles/logging.logWriter",
    "roles/storage.admin",
    "roles/editor",  # rare in the pool below, as in real estates
    "roles/iam.serviceAccountTokenCreator",
]
GCP_WEIGHTS = [20, 20, 10, 15, 25, 5, 1, 2]
GCP_PERMISSIONS = [
    "storage.objects.get",
    "storage.objects.create",
    "storage.buckets.list",
    "pubsub.topics.publish",
    "pubsub.subscriptions.consume",
    "secretmanager.versions.access",
    "cloudsql.instances.connect",
    "iam.serviceAccounts.actAs",
    "compute.instances.create",
    "resourcemanager.projects.setIamPolicy",
]

AZ_SUB = "0b1c2d3e-4f5a-4b6c-8d7e-000000000042"
AZ_TENANT = "11112222-3333-4444-8555-666677778888"
AZ_RG = "rg-bench"
AKS_CLUSTER = "bench-aks"
AZ_ISSUER = f"https://westeurope.oic.prod-aks.azure.com/{AZ_TENANT}/5e6f7a8b-9c0d-4e1f-8a2b-000000000042/"
AZ_BUILTIN = {
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "DNS Zone Contributor": "befefa01-2a29-4197-83a8-272ff33ce314",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
}
AZ_WEIGHTS = [10, 25, 25, 10, 15, 10, 1]
AZ_ACTIONS = [
    "Microsoft.Storage/storageAccounts/read",
    "Microsoft.Storage/storageAccounts/listKeys/action",
    "Microsoft.KeyVault/vaults/read",
    "Microsoft.Network/dnszones/*",
    "Microsoft.Compute/virtualMachines/*",
    "Microsoft.Authorization/roleAssignments/write",
    "Microsoft.ServiceBus/namespaces/queues/read",
]
MSI = "Microsoft.ManagedIdentity/userAssignedIdentities"


def generate(cloud: str, out: Path, scale: Scale) -> None:
    {"gcp": generate_gcp, "azure": generate_azure}[cloud](out, scale)


def _sas(scale: Scale) -> list[tuple[str, str, int]]:
    namespaces = [f"team-{i:03d}" for i in range(max(1, scale.service_accounts // 50))]
    return [(namespaces[i % len(namespaces)], f"sa-{i:05d}", i % scale.roles) for i in range(scale.service_accounts)]


def _kubernetes(
    out: Path, cluster: str, sas: list[tuple[str, str, int]], annotate: Any, nodes: list[dict[str, Any]], issuer: str
) -> None:
    items: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"team": ns}}}
        for ns in sorted({ns for ns, _, _ in sas})
    ]
    for ns, name, i in sas:
        meta = {"name": name, "namespace": ns, "annotations": annotate(i)}
        items.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta})
    items += nodes
    for k, (ns, name, _) in enumerate(sas[: max(1, len(sas) // 4)]):
        spec: dict[str, Any] = {"serviceAccountName": name, "containers": [{"name": "app", "image": "app:1"}]}
        if nodes:
            spec["nodeName"] = nodes[k % len(nodes)]["metadata"]["name"]
        labels = {"app": name, "azure.workload.identity/use": "true"}
        items.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"{name}-0", "namespace": ns, "labels": labels},
                "spec": spec,
            }
        )
    _dump(out / "kubernetes" / cluster / "resources.json", {"apiVersion": "v1", "kind": "List", "items": items})
    _dump(out / "kubernetes" / cluster / "openid-configuration.json", {"issuer": issuer, "jwks_uri": f"{issuer}/jwks"})


# -- GCP ------------------------------------------------------------------------------------------


def generate_gcp(out: Path, scale: Scale) -> None:
    rng = random.Random(scale.seed)
    sas = _sas(scale)
    emails = [f"bench-gsa-{i:05d}@{GCP_PROJECT}.iam.gserviceaccount.com" for i in range(scale.roles)]
    issuer = (
        f"https://container.googleapis.com/v1/projects/{GCP_PROJECT}/locations/{GKE_LOCATION}/clusters/{GKE_CLUSTER}"
    )
    nodes = [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": f"gke-{GKE_CLUSTER}-pool-{n // 100}-{n:08x}",
                "labels": {"cloud.google.com/gke-nodepool": f"pool-{n // 100}"},
            },
            "spec": {"providerID": f"gce://{GCP_PROJECT}/{GKE_LOCATION}-b/gke-{GKE_CLUSTER}-pool-{n // 100}-{n:08x}"},
        }
        for n in range(scale.nodes)
    ]
    _kubernetes(out, GKE_CLUSTER, sas, lambda i: {"iam.gke.io/gcp-service-account": emails[i]}, nodes, issuer)
    custom = [
        {
            "name": f"projects/{GCP_PROJECT}/roles/benchRole{p:04d}",
            "title": f"bench role {p}",
            "includedPermissions": sorted(rng.sample(GCP_PERMISSIONS, k=rng.randint(1, 4))),
            "stage": "GA",
            "etag": "BwYbench=",
        }
        for p in range(scale.policies)
    ]
    members: dict[str, list[str]] = {}
    for i, email in enumerate(emails):
        role = rng.choices(GCP_ROLES, GCP_WEIGHTS)[0]
        members.setdefault(role, []).append(f"serviceAccount:{email}")
        if custom:
            members.setdefault(custom[i % len(custom)]["name"], []).append(f"serviceAccount:{email}")
    bindings = [{"role": r, "members": m} for r, m in sorted(members.items())]
    trust: dict[int, list[str]] = {}
    for ns, name, i in sas:
        trust.setdefault(i, []).append(f"serviceAccount:{GCP_POOL}[{ns}/{name}]")
    gcp = out / "gcp" / GCP_PROJECT
    _dump(
        gcp / "project.json",
        {
            "projectId": GCP_PROJECT,
            "projectNumber": GCP_NUMBER,
            "name": GCP_PROJECT,
            "lifecycleState": "ACTIVE",
            "parent": {"id": "200000000002", "type": "folder"},
        },
    )
    empty = {"bindings": [], "etag": "BwY=", "version": 1}
    _dump(gcp / "ancestors-iam-policies.json", {"folders/200000000002": empty, "organizations/300000000003": empty})
    _dump(gcp / "asset-iam-policies.json", [])
    _dump(gcp / "project-iam-policy.json", {"bindings": bindings, "etag": "BwYbench=", "version": 3})
    _dump(
        gcp / "service-accounts.json",
        [
            {
                "email": e,
                "name": f"projects/{GCP_PROJECT}/serviceAccounts/{e}",
                "projectId": GCP_PROJECT,
                "uniqueId": str(100000000000000000000 + i),
            }
            for i, e in enumerate(emails)
        ],
    )
    wiu = "roles/iam.workloadIdentityUser"
    _dump(
        gcp / "service-account-iam-policies.json",
        {
            e: {"bindings": [{"role": wiu, "members": trust.get(i, [])}], "etag": "BwY=", "version": 1}
            for i, e in enumerate(emails)
        },
    )
    keys = {}
    for i, e in enumerate(emails):
        kinds = ["SYSTEM_MANAGED"] + (["USER_MANAGED"] if i % 50 == 0 else [])
        keys[e] = [
            {
                "keyType": kind,
                "name": f"projects/{GCP_PROJECT}/serviceAccounts/{e}/keys/{i:020x}{k:020x}",
                "validAfterTime": "2026-01-05T10:00:00Z",
                "validBeforeTime": "9999-12-31T23:59:59Z",
                "keyAlgorithm": "KEY_ALG_RSA_2048",
                "keyOrigin": "GOOGLE_PROVIDED",
            }
            for k, kind in enumerate(kinds)
        ]
    _dump(gcp / "service-account-keys.json", keys)
    _dump(gcp / "custom-roles.json", custom)
    pools = [
        {
            "name": f"pool-{p}",
            "config": {
                "machineType": "e2-standard-4",
                "serviceAccount": f"bench-nodes@{GCP_PROJECT}.iam.gserviceaccount.com",
                "oauthScopes": ["https://www.googleapis.com/auth/cloud-platform"],
                "workloadMetadataConfig": {"mode": "GKE_METADATA" if p % 3 else "GCE_METADATA"},
            },
            "status": "RUNNING",
        }
        for p in range(max(1, (scale.nodes + 99) // 100))
    ]
    gke = gcp / "gke" / GKE_LOCATION / GKE_CLUSTER
    _dump(
        gke / "cluster.json",
        {
            "name": GKE_CLUSTER,
            "location": GKE_LOCATION,
            "status": "RUNNING",
            "nodePools": pools,
            "workloadIdentityConfig": {"workloadPool": GCP_POOL},
            "selfLink": f"https://container.googleapis.com/v1/projects/{GCP_PROJECT}/locations/{GKE_LOCATION}"
            f"/clusters/{GKE_CLUSTER}",
        },
    )
    _dump(gke / "node-pools.json", pools)


# -- Azure ----------------------------------------------------------------------------------------


def _guid(n: int, prefix: str) -> str:
    return f"{prefix * 8}-0000-4000-8000-{n:012x}"


def generate_azure(out: Path, scale: Scale) -> None:
    rng = random.Random(scale.seed)
    sas = _sas(scale)
    sub = f"/subscriptions/{AZ_SUB}"
    ids = [f"{sub}/resourcegroups/{AZ_RG}/providers/{MSI}/bench-mi-{i:05d}" for i in range(scale.roles)]
    clients = [_guid(i, "a") for i in range(scale.roles)]
    principals = [_guid(i, "b") for i in range(scale.roles)]
    nodes = [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": f"aks-apps-{n:08d}-vmss{n:06d}", "labels": {"kubernetes.azure.com/agentpool": "apps"}},
            "spec": {
                "providerID": f"azure://{sub}/resourceGroups/mc_{AZ_RG}/providers/Microsoft.Compute/"
                f"virtualMachineScaleSets/aks-apps-vmss/virtualMachines/{n}"
            },
        }
        for n in range(scale.nodes)
    ]
    _kubernetes(out, AKS_CLUSTER, sas, lambda i: {"azure.workload.identity/client-id": clients[i]}, nodes, AZ_ISSUER)
    az = out / "azure" / AZ_SUB
    identities = [
        {
            "clientId": clients[i],
            "id": ids[i],
            "location": "westeurope",
            "name": f"bench-mi-{i:05d}",
            "principalId": principals[i],
            "resourceGroup": AZ_RG,
            "tags": {},
            "tenantId": AZ_TENANT,
            "type": MSI,
        }
        for i in range(scale.roles)
    ]
    _dump(az / "identities.json", identities)
    federated: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for ns, name, i in sas:
        n = len(federated[ids[i]])
        federated[ids[i]].append(
            {
                "audiences": ["api://AzureADTokenExchange"],
                "id": f"{ids[i]}/federatedIdentityCredentials/fic-{n}",
                "issuer": AZ_ISSUER,
                "name": f"fic-{n}",
                "resourceGroup": AZ_RG,
                "subject": f"system:serviceaccount:{ns}:{name}",
                "type": f"{MSI}/federatedIdentityCredentials",
            }
        )
    _dump(az / "federated-credentials.json", federated)
    roles = [
        {
            "assignableScopes": [sub],
            "description": f"bench role {p}",
            "id": f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{_guid(p, 'c')}",
            "name": _guid(p, "c"),
            "permissions": [
                {
                    "actions": sorted(rng.sample(AZ_ACTIONS, k=rng.randint(1, 3))),
                    "notActions": [],
                    "dataActions": [],
                    "notDataActions": [],
                }
            ],
            "roleName": f"bench-role-{p:04d}",
            "roleType": "CustomRole",
            "type": "Microsoft.Authorization/roleDefinitions",
        }
        for p in range(scale.policies)
    ]
    _dump(az / "role-definitions.json", roles)
    assignments = []
    storage = f"{sub}/resourceGroups/{AZ_RG}/providers/Microsoft.Storage/storageAccounts/benchdata"
    for i in range(scale.roles):
        name = rng.choices(list(AZ_BUILTIN), AZ_WEIGHTS)[0]
        grants = [(name, AZ_BUILTIN[name], storage if "Storage" in name else f"{sub}/resourceGroups/{AZ_RG}")]
        if roles:
            r = roles[i % len(roles)]
            grants.append((r["roleName"], r["name"], sub))
        for role_name, guid, scope in grants:
            aid = _guid(len(assignments), "e")
            assignments.append(
                {
                    "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{aid}",
                    "name": aid,
                    "principalId": principals[i],
                    "principalType": "ServicePrincipal",
                    "roleDefinitionId": f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
                    "roleDefinitionName": role_name,
                    "scope": scope,
                    "type": "Microsoft.Authorization/roleAssignments",
                }
            )
    _dump(az / "role-assignments.json", assignments)
    aks = {
        "id": f"{sub}/resourcegroups/{AZ_RG}/providers/Microsoft.ContainerService/managedClusters/{AKS_CLUSTER}",
        "name": AKS_CLUSTER,
        "location": "westeurope",
        "resourceGroup": AZ_RG,
        "agentPoolProfiles": [{"name": "apps", "count": scale.nodes, "mode": "System", "osType": "Linux"}],
        "networkProfile": {"networkPlugin": "azure", "networkPolicy": "azure"},
        "nodeResourceGroup": f"MC_{AZ_RG}_{AKS_CLUSTER}_westeurope",
        "oidcIssuerProfile": {"enabled": True, "issuerUrl": AZ_ISSUER},
        "securityProfile": {"workloadIdentity": {"enabled": True}},
        "type": "Microsoft.ContainerService/ManagedClusters",
    }
    _dump(az / "aks" / AZ_RG / f"{AKS_CLUSTER}.json", aks)


def _dump(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, separators=(",", ":")))
