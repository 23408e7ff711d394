"""Synthetic GKE + GCP and AKS + Azure estates, in the evidence shapes of shared/EVIDENCE.md.

Same scale knobs as AWS: S ServiceAccounts, R cloud identities (Google service accounts or Azure
user-assigned managed identities; ServiceAccount i uses identity i mod R), P custom roles, N nodes.
Each identity gets two grants (a predefined/built-in role from a realistic pool, and one custom
role) and trusts exactly the ServiceAccounts that use it. Deterministic for a seed.
"""

from __future__ import annotations

import json
import os
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


USAGE_VAR = "KUBEIAM_BENCH_USAGE"
"""Set to 1 to write usage data for every identity (issue 14) when no `usage` argument says otherwise."""


def generate(cloud: str, out: Path, scale: Scale, *, usage: bool | None = None) -> None:
    """`usage`: also write each cloud's usage files (default: `$KUBEIAM_BENCH_USAGE`)."""
    usage = os.environ.get(USAGE_VAR) == "1" if usage is None else usage
    if cloud == "gcp":
        generate_gcp(out, scale, usage=usage)
    else:
        generate_azure(out, scale, usage=usage)


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


def generate_gcp(out: Path, scale: Scale, *, usage: bool = False) -> None:
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
    if usage:
        _gcp_usage(gcp, emails, members, custom, random.Random(scale.seed + 1))


GCP_FRESH = "2026-11-30T07:00:00Z"
"""The newest time the synthetic usage data holds (what disuse is measured up to)."""


def _gcp_usage(
    gcp: Path, emails: list[str], members: dict[str, list[str]], custom: list[dict[str, Any]], rng: random.Random
) -> None:
    """Usage files for every identity, in the shapes gcloud prints (docs/evidence.md): an insight for 70% of
    the bindings (0-5 permissions used; none used: a REMOVE_ROLE recommendation), each account's last
    authentication (every 25th never, every 10th 200 days ago), the user-managed keys' last use."""
    from kubeiam_gcp.judge.catalogue import load_catalogue

    catalogue = load_catalogue()
    custom_perms = {c["name"]: c["includedPermissions"] for c in custom}
    project = f"//cloudresourcemanager.googleapis.com/projects/{GCP_PROJECT}"
    parent = f"projects/{GCP_NUMBER}/locations/global"
    insights: list[dict[str, Any]] = []
    recommendations: list[dict[str, Any]] = []
    # Every 25th account never authenticated, every 10th not for 200 days: their insights show no use.
    idle = {f"serviceAccount:{e}" for i, e in enumerate(emails) if i % 10 == 0 or i % 25 == 0}
    for role, role_members in sorted(members.items()):
        perms = sorted(custom_perms.get(role) or catalogue.permissions_of(role) or ())
        for member in role_members:
            if rng.random() < 0.3:
                continue  # all of it used, or not analysed: no insight
            used = [] if member in idle else rng.sample(perms, rng.randint(0, min(5, len(perms))))
            n = len(insights)
            insights.append(
                {
                    "name": f"{parent}/insightTypes/google.iam.policy.Insight/insights/bench-{n:06d}",
                    "insightSubtype": "PERMISSIONS_USAGE",
                    "category": "SECURITY",
                    "lastRefreshTime": GCP_FRESH,
                    "observationPeriod": "7776000s",
                    "stateInfo": {"state": "ACTIVE"},
                    "targetResources": [project],
                    "content": {
                        "member": member,
                        "role": role,
                        "exercisedPermissions": [{"permission": p} for p in used],
                        "inferredPermissions": [],
                        "currentTotalPermissionsCount": str(len(perms)),
                    },
                }
            )
            if not used:
                recommendations.append(
                    {
                        "name": f"{parent}/recommenders/google.iam.policy.Recommender/recommendations/bench-{n:06d}",
                        "recommenderSubtype": "REMOVE_ROLE",
                        "lastRefreshTime": GCP_FRESH,
                        "stateInfo": {"state": "ACTIVE"},
                        "content": {
                            "overview": {"member": member, "removedRole": role, "resource": project},
                            "operationGroups": [],
                        },
                    }
                )
    activity, keys = [], []
    for i, email in enumerate(emails):
        account = f"//iam.googleapis.com/projects/{GCP_PROJECT}/serviceAccounts/{email}"
        when = "2026-05-14T07:00:00Z" if i % 10 == 0 else GCP_FRESH
        if i % 25:
            activity.append(_activity("serviceAccount", account, when))
        if i % 50 == 0:  # the user-managed keys of generate_gcp
            keys.append(_activity("serviceAccountKey", f"{account}/keys/{i:020x}{1:020x}", when))
    _dump(gcp / "iam-insights.json", insights)
    _dump(gcp / "iam-recommendations.json", recommendations)
    _dump(gcp / "service-account-last-authentication.json", activity)
    _dump(gcp / "service-account-key-last-authentication.json", keys)


def _activity(kind: str, name: str, when: str) -> dict[str, Any]:
    return {
        "activity": {"lastAuthenticatedTime": when, kind: {"fullResourceName": name, "projectNumber": GCP_NUMBER}},
        "activityType": f"{kind}LastAuthentication",
        "fullResourceName": name,
        "observationPeriod": {"startTime": when, "endTime": when},
    }


# -- Azure ----------------------------------------------------------------------------------------


def _guid(n: int, prefix: str) -> str:
    return f"{prefix * 8}-0000-4000-8000-{n:012x}"


def generate_azure(out: Path, scale: Scale, *, usage: bool = False) -> None:
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
    if usage:
        _azure_usage(az, principals, clients, random.Random(scale.seed + 1))


AZ_FRESH = "2026-11-30T07:00:00.0000000Z"
"""The newest time the synthetic Azure usage data holds (the window ends there)."""
AZ_USED = [
    # What bench workloads do in the control plane: mostly nothing, some record and VM writes.
    "Microsoft.Network/dnszones/A/write",
    "Microsoft.Network/dnszones/CNAME/write",
    "Microsoft.Compute/virtualMachines/start/action",
    "Microsoft.Compute/virtualMachines/write",
    "Microsoft.Storage/storageAccounts/listKeys/action",
    "Microsoft.Resources/deployments/write",
]


def _azure_usage(az: Path, principals: list[str], clients: list[str], rng: random.Random) -> None:
    """The Activity Log of every identity (0-4 operations in the last 90 days; every 25th none at all) and its
    managed-identity sign-ins (every 10th none), in the shapes az and Graph print (docs/evidence.md)."""
    sub = f"/subscriptions/{AZ_SUB}"
    log: dict[str, list[dict[str, Any]]] = {}
    signins: dict[str, dict[str, Any]] = {}
    for i, (oid, client) in enumerate(zip(principals, clients, strict=True)):
        events = []
        for _ in range(0 if i % 25 == 0 else rng.randint(0, 4)):
            action = rng.choice(AZ_USED)
            scope = f"{sub}/resourceGroups/{AZ_RG}/providers/{action.rsplit('/', 1)[0]}/bench-{i % 50}"
            day = 1 + rng.randrange(89)
            events.append(
                {
                    "authorization": {"action": action, "scope": scope},
                    "caller": oid,
                    "category": {"localizedValue": "Administrative", "value": "Administrative"},
                    "claims": {"appid": client, "idtyp": "app"},
                    "eventName": {"localizedValue": "End request", "value": "EndRequest"},
                    "eventTimestamp": f"2026-{9 + (day - 1) // 30:02d}-{1 + (day - 1) % 28:02d}T07:00:00.0000000Z",
                    "operationName": {"localizedValue": action, "value": action},
                    "resourceId": scope,
                    "status": {"localizedValue": "Succeeded", "value": "Succeeded"},
                    "subscriptionId": AZ_SUB,
                }
            )
        log[oid] = events
        signed = {
            "createdDateTime": AZ_FRESH,  # the newest record: the window ends there
            "servicePrincipalId": oid,
            "resourceDisplayName": "Azure Storage",
            "signInEventTypes": ["managedIdentity"],
            "status": {"errorCode": 0},
        }
        signins[oid] = {"value": [] if i % 10 == 0 else [signed]}
    _dump(az / "activity-log.json", log)
    _dump(az / "managed-identity-sign-ins.json", signins)


def _dump(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, separators=(",", ":")))
