"""What the local test servers serve for the live GCP, Azure and Kubernetes benchmarks.

Starts from the synthetic GKE and AKS estates of `other_clouds.py` (the analysis benchmark's estates)
and turns them into the servers' data: Google's v3/v1 REST and IAM admin objects, ARM's REST JSON
(`properties` nested), and the Kubernetes objects, plus what every lower bound needs counted.
Added for realism where other_clouds.py has nothing: an asset search (the project's, its GSAs' and
some buckets' policies), folder and organisation policies with one organisation custom role, the
AKS kubelet identity and its assignments, ReplicaSets owning the pods, Jobs and NetworkPolicies, the cluster's
RBAC (the bootstrap policy and what teams add, as takeover.py makes it) and the identities' Activity Log.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from estate import Scale
from lower_bound_other import AzureNeeds, GcpNeeds, KubeNeeds, pages
from other_clouds import (
    AKS_CLUSTER,
    AZ_ISSUER,
    AZ_RG,
    AZ_SUB,
    AZ_TENANT,
    GCP_NUMBER,
    GCP_PROJECT,
    GKE_CLUSTER,
    GKE_LOCATION,
    MSI,
    generate_azure,
    generate_gcp,
)

FOLDER, ORG = "200000000002", "300000000003"
ORG_ROLE = f"organizations/{ORG}/roles/benchAuditor"
REPO = Path(__file__).resolve().parents[1]
ARM_BUILTINS = REPO / "fixtures" / "azure" / "live" / "arm" / "builtin-roles.json"
KUBELET_PRINCIPAL = "f0f0f0f0-0000-4000-8000-0000000000aa"


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


def service_accounts(evidence: Path) -> list[dict[str, Any]]:
    """The ServiceAccounts of the estate's Kubernetes half (items of resources.json)."""
    cluster = next((evidence / "kubernetes").iterdir())
    return [i for i in _load(cluster / "resources.json")["items"] if i["kind"] == "ServiceAccount"]


# -- Google Cloud ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GcpEstate:
    evidence: Path
    """The estate's evidence directory (its kubernetes/ half is what the collector starts from)."""
    routes: dict[str, Any]
    """RestServer routes: URL path -> body."""
    projects: dict[str, dict]
    organizations: dict[str, dict]


def gcp_estate(scale: Scale, out: Path) -> GcpEstate:
    generate_gcp(out, scale, usage=True)
    gcp = out / "gcp" / GCP_PROJECT
    accounts = _load(gcp / "service-accounts.json")
    sa_policies = _load(gcp / "service-account-iam-policies.json")
    project_policy = _load(gcp / "project-iam-policy.json")
    assets = [_asset(f"//cloudresourcemanager.googleapis.com/projects/{GCP_PROJECT}", "Project", project_policy)]
    # Cloud Asset names a service account by its unique id.
    assets += [
        _asset(f"//iam.googleapis.com/projects/{GCP_PROJECT}/serviceAccounts/{a['uniqueId']}", "ServiceAccount", p)
        for a in accounts
        if (p := sa_policies.get(a["email"])) and p.get("bindings")
    ]
    for b in range(max(1, scale.roles // 10)):
        grant = {"role": "roles/storage.objectViewer", "members": [f"serviceAccount:{accounts[b]['email']}"]}
        assets.append(_asset(f"//storage.googleapis.com/bench-bucket-{b:04d}", "Bucket", {"bindings": [grant]}))
    cluster = _load(gcp / "gke" / GKE_LOCATION / GKE_CLUSTER / "cluster.json")
    routes: dict[str, Any] = {
        f"/v3/projects/{GCP_PROJECT}": {
            "name": f"projects/{GCP_NUMBER}",
            "parent": f"folders/{FOLDER}",
            "projectId": GCP_PROJECT,
            "state": "ACTIVE",
            "displayName": GCP_PROJECT,
        },
        f"/v3/projects/{GCP_PROJECT}:getIamPolicy": project_policy,
        f"/v1/projects/{GCP_PROJECT}:searchAllIamPolicies": {"_items": assets, "_key": "results", "_max_page": 500},
        f"/v3/folders/{FOLDER}": {"name": f"folders/{FOLDER}", "parent": f"organizations/{ORG}", "state": "ACTIVE"},
        f"/v3/folders/{FOLDER}:getIamPolicy": _policy(("roles/viewer", "group:platform@bench.example")),
        f"/v3/organizations/{ORG}:getIamPolicy": _policy(
            ("roles/browser", "group:everyone@bench.example"), (ORG_ROLE, "group:auditors@bench.example")
        ),
        f"/v1/projects/{GCP_PROJECT}/locations/{GKE_LOCATION}/clusters/{GKE_CLUSTER}": cluster,
        **_usage_routes(gcp),
    }
    project = {
        "accounts": accounts,
        "policies": sa_policies,
        "keys": _load(gcp / "service-account-keys.json"),
        "roles": _load(gcp / "custom-roles.json"),
    }
    org_role = {"name": ORG_ROLE, "title": "auditor", "includedPermissions": ["resourcemanager.projects.get"]}
    shutil.rmtree(out / "gcp")  # the collector writes these; keep only the Kubernetes half
    return GcpEstate(out, routes, {GCP_PROJECT: project}, {ORG: {"roles": [org_role]}})


def _usage_routes(gcp: Path) -> dict[str, Any]:
    """The recommender's lists and Policy Analyzer's activities (issue 14), as the REST API answers them."""
    where = f"/v1/projects/{GCP_PROJECT}/locations/global"
    activity = "/activityTypes/{}LastAuthentication/activities:query"
    return {
        f"{where}/insightTypes/google.iam.policy.Insight/insights": {"insights": _load(gcp / "iam-insights.json")},
        f"{where}/recommenders/google.iam.policy.Recommender/recommendations": {
            "recommendations": _load(gcp / "iam-recommendations.json")
        },
        **{
            where + activity.format(kind): {
                "_items": _load(gcp / f"{name}-last-authentication.json"),
                "_key": "activities",
                "_max_page": 1000,
                "_filter": "fullResourceName",
            }
            for kind, name in (("serviceAccount", "service-account"), ("serviceAccountKey", "service-account-key"))
        },
    }


def _asset(resource: str, kind: str, policy: dict[str, Any]) -> dict[str, Any]:
    service = {"Project": "cloudresourcemanager", "ServiceAccount": "iam", "Bucket": "storage"}[kind]
    return {
        "resource": resource,
        "assetType": f"{service}.googleapis.com/{kind}",
        "project": f"projects/{GCP_NUMBER}",
        "folders": [f"folders/{FOLDER}"],
        "organization": f"organizations/{ORG}",
        "policy": {"bindings": policy.get("bindings", [])},
    }


def _policy(*grants: tuple[str, str]) -> dict[str, Any]:
    return {"bindings": [{"role": r, "members": [m]} for r, m in grants], "etag": "BwYbench=", "version": 1}


def gcp_needs(estate: GcpEstate, check: str | None) -> GcpNeeds:
    """Counted from the served data (not from what the collector did)."""
    project = estate.projects[GCP_PROJECT]
    emails = {a["email"] for a in project["accounts"]}
    named = {
        sa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
        for sa in service_accounts(estate.evidence)
        if check is None or f"{sa['metadata']['namespace']}/{sa['metadata']['name']}" == check
    }
    gsas = named & emails
    assets = estate.routes[f"/v1/projects/{GCP_PROJECT}:searchAllIamPolicies"]["_items"]
    by_id = {a["uniqueId"]: a["email"] for a in project["accounts"]}
    in_assets = {by_id.get(r["resource"].rpartition("/")[2]) for r in assets if r["assetType"].endswith("Account")}
    # Roles bound anywhere in the policies read: a collector cannot tell which group or principalSet
    # member includes the workload (or its nodes' account), so any bound custom role may apply.
    policies = [estate.routes[f"/v3/projects/{GCP_PROJECT}:getIamPolicy"], *(r["policy"] for r in assets)]
    policies += [project["policies"][e] for e in gsas]
    bound = {b["role"] for p in policies for b in p.get("bindings", []) if b["role"].startswith("projects/")}
    members = {m for b in estate.routes[f"/v3/projects/{GCP_PROJECT}:getIamPolicy"]["bindings"] for m in b["members"]}
    keys = [k for e in gsas for k in project["keys"].get(e, ()) if k["keyType"] == "USER_MANAGED"]
    return GcpNeeds(
        check=check is not None,
        asset_results=len(assets),
        project_accounts=len(project["accounts"]),
        gsas=len(gsas),
        gsa_policies_in_assets=len(gsas & in_assets),
        project_roles_bound=len(bound),
        project_roles=len(project["roles"]),
        org_roles_bound=1,
        usage_projects=int(any(f"serviceAccount:{e}" in members for e in gsas)),
        gsa_keys=len(keys),
    )


# -- Azure -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AzureEstate:
    evidence: Path
    arm_root: Path
    """The ArmServer's data directory (fixtures/azure/live/arm's layout)."""


def azure_estate(scale: Scale, out: Path) -> AzureEstate:
    """other_clouds' AKS estate (az CLI shapes) rewritten as the ARM REST JSON the server serves, with each
    identity's Activity Log (issue 14; its times made relative, as the server's fixtures say them, so that they
    stay inside the 90 days read whenever the benchmark runs)."""
    generate_azure(out, scale, usage=True)
    az = out / "azure" / AZ_SUB
    activity = {
        oid: [{**e, "eventTimestamp": f"now-{1 + (n + i) % 89}d"} for i, e in enumerate(events)]
        for n, (oid, events) in enumerate(_load(az / "activity-log.json").items())
    }
    identities = [
        {
            "id": i["id"],
            "name": i["name"],
            "type": MSI,
            "location": i["location"],
            "tags": i["tags"],
            "properties": {"tenantId": i["tenantId"], "principalId": i["principalId"], "clientId": i["clientId"]},
        }
        for i in _load(az / "identities.json")
    ]
    federated = {
        ident: [_nest(c, "id", "name", "type", keep=("issuer", "subject", "audiences")) for c in creds]
        for ident, creds in _load(az / "federated-credentials.json").items()
    }
    assignments = [
        _nest(a, "id", "name", "type", keep=("roleDefinitionId", "principalId", "principalType", "scope"))
        for a in _load(az / "role-assignments.json")
    ]
    sub = f"/subscriptions/{AZ_SUB}"
    for n, (guid, scope) in enumerate(
        [("7f951dda-4ed3-4680-a7ca-43fe172d538d", sub), ("acdd72a7-3385-48ef-bd42-f606fba81ae7", sub)]
    ):  # the kubelet identity: AcrPull and Reader, as AKS set-ups often grant
        aid = f"dddddddd-0000-4000-8000-{n:012x}"
        assignments.append(
            {
                "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{aid}",
                "name": aid,
                "type": "Microsoft.Authorization/roleAssignments",
                "properties": {
                    "roleDefinitionId": f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
                    "principalId": KUBELET_PRINCIPAL,
                    "principalType": "ServicePrincipal",
                    "scope": scope,
                },
            }
        )
    roles = [
        {
            "id": r["id"],
            "name": r["name"],
            "type": r["type"],
            "properties": {
                "roleName": r["roleName"],
                "type": "CustomRole",
                "description": r["description"],
                "assignableScopes": r["assignableScopes"],
                "permissions": r["permissions"],
            },
        }
        for r in _load(az / "role-definitions.json")
    ]
    cluster = _load(az / "aks" / AZ_RG / f"{AKS_CLUSTER}.json")
    managed = {
        "id": cluster["id"],
        "name": cluster["name"],
        "type": "Microsoft.ContainerService/ManagedClusters",
        "location": cluster["location"],
        "properties": {
            "provisioningState": "Succeeded",
            "agentPoolProfiles": cluster["agentPoolProfiles"],
            "networkProfile": cluster["networkProfile"],
            # The nodes' providerIDs name this group (other_clouds.py gives the CLI file another).
            "nodeResourceGroup": f"MC_{AZ_RG}",
            "oidcIssuerProfile": {"enabled": True, "issuerURL": AZ_ISSUER},
            "securityProfile": {"workloadIdentity": {"enabled": True}},
            "identityProfile": {
                "kubeletidentity": {
                    "resourceId": f"{sub}/resourcegroups/MC_{AZ_RG}/providers/{MSI}/{AKS_CLUSTER}-agentpool",
                    "clientId": "f1f1f1f1-0000-4000-8000-0000000000aa",
                    "objectId": KUBELET_PRINCIPAL,
                }
            },
            "aadProfile": {"managed": True, "tenantID": AZ_TENANT},
        },
    }
    root = out / "arm"
    (root / AZ_SUB).mkdir(parents=True)
    shutil.copy(ARM_BUILTINS, root / "builtin-roles.json")
    for name, value in {
        "identities": identities,
        "federated-credentials": federated,
        "role-assignments": assignments,
        "custom-roles": roles,
        "managed-clusters": [managed],
        "activity-log": activity,
    }.items():
        (root / AZ_SUB / f"{name}.json").write_text(json.dumps(value))
    shutil.rmtree(out / "azure")  # the collector writes these
    return AzureEstate(out, root)


def _nest(flat: dict[str, Any], *top: str, keep: tuple[str, ...]) -> dict[str, Any]:
    """az CLI's flattened object -> ARM's (`properties` nested)."""
    return {**{k: flat[k] for k in top}, "properties": {k: flat[k] for k in keep if k in flat}}


def azure_needs(estate: AzureEstate, check: str | None, page: int, known_builtins: frozenset[str]) -> AzureNeeds:
    data = {f.stem: _load(f) for f in (estate.arm_root / AZ_SUB).glob("*.json")}
    named = {
        sa["metadata"]["annotations"]["azure.workload.identity/client-id"]
        for sa in service_accounts(estate.evidence)
        if check is None or f"{sa['metadata']['namespace']}/{sa['metadata']['name']}" == check
    }
    needed = [i for i in data["identities"] if i["properties"]["clientId"] in named]
    principals = {i["properties"]["principalId"] for i in needed} | {KUBELET_PRINCIPAL}
    theirs = [a for a in data["role-assignments"] if a["properties"]["principalId"] in principals]
    per_principal = {p: sum(a["properties"]["principalId"] == p for a in theirs) for p in principals}
    referenced = {a["properties"]["roleDefinitionId"].rsplit("/", 1)[-1].lower() for a in theirs}
    # The Activity Log is read for the identities named that hold a role in the subscription (the kubelet's is not).
    in_sub = {
        a["properties"]["principalId"]
        for a in theirs
        if a["properties"]["scope"].lower().startswith(f"/subscriptions/{AZ_SUB}".lower())
    }
    events = data.get("activity-log", {})
    return AzureNeeds(
        page=page,
        identities=len(data["identities"]),
        credential_pages=sum(pages(len(data["federated-credentials"][i["id"]]), page) for i in needed),
        principal_pages=sum(pages(n, page) for n in per_principal.values()),
        principals=len(principals),
        assignments=len(data["role-assignments"]),
        unknown_roles=len(referenced - known_builtins),
        custom_roles=len(data["custom-roles"]),
        activity_pages=sum(
            pages(len(events.get(i["properties"]["principalId"], [])), page)
            for i in needed
            if i["properties"]["principalId"] in in_sub
        ),
    )


# -- Kubernetes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KubeEstate:
    evidence: Path
    """Where the collector writes (it starts from the served cluster, not from files)."""
    objects: list[dict[str, Any]]
    openid_configuration: dict[str, Any]
    cluster: str


def kube_estate(scale: Scale, out: Path) -> KubeEstate:
    """The GKE estate's Kubernetes half, with a ReplicaSet owning each pod, Jobs and NetworkPolicies."""
    generate_gcp(out, scale)
    base = out / "kubernetes" / GKE_CLUSTER
    objects: list[dict[str, Any]] = _load(base / "resources.json")["items"]
    extra: list[dict[str, Any]] = []
    for pod in [o for o in objects if o["kind"] == "Pod"]:
        meta = pod["metadata"]
        rs = f"{meta['name'].removesuffix('-0')}-7d9f8c6b5"
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "controller": True}]
        owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": rs.rsplit("-", 1)[0], "controller": True}
        extra.append(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {"name": rs, "namespace": meta["namespace"], "ownerReferences": [owner]},
                "spec": {"replicas": 1},
            }
        )
    namespaces = [o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"]
    for n, ns in enumerate(namespaces):
        extra.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "deny-metadata", "namespace": ns},
                "spec": {
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]}],
                },
            }
        )
        if n % 2 == 0:
            extra.append({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "nightly", "namespace": ns}})
    extra += kube_rbac(objects, len([o for o in objects if o["kind"] == "ServiceAccount"]))
    oidc = _load(base / "openid-configuration.json")
    shutil.rmtree(out / "gcp")
    shutil.rmtree(out / "kubernetes")
    return KubeEstate(out, objects + extra, oidc, GKE_CLUSTER)


def kube_rbac(objects: list[dict[str, Any]], service_accounts: int) -> list[dict[str, Any]]:
    """The bootstrap policy and, at takeover.py's ratio (2,000 roles and 5,000 bindings for 20,000
    ServiceAccounts), the Roles, ClusterRoles and bindings teams add: what K8S-006 lists (issue 13)."""
    from takeover import default_items, synthetic_rbac

    namespaces = [o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"]
    sas = [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in objects if o["kind"] == "ServiceAccount"]
    return default_items() + synthetic_rbac(namespaces, sas, service_accounts // 10, service_accounts // 4)


KUBE_LISTS = {
    "Namespace": "/api/v1/namespaces",
    "ServiceAccount": "/api/v1/serviceaccounts",
    "Pod": "/api/v1/pods",
    "Node": "/api/v1/nodes",
    "NetworkPolicy": "/apis/networking.k8s.io/v1/networkpolicies",
    "ReplicaSet": "/apis/apps/v1/replicasets",
    "Job": "/apis/batch/v1/jobs",
}
RBAC = "/apis/rbac.authorization.k8s.io/v1"
KUBE_RBAC = {
    "Role": f"{RBAC}/roles",
    "RoleBinding": f"{RBAC}/rolebindings",
    "ClusterRole": f"{RBAC}/clusterroles",
    "ClusterRoleBinding": f"{RBAC}/clusterrolebindings",
}
AWS_AUTH = "/api/v1/namespaces/kube-system/configmaps/aws-auth"
"""EKS's mapping of IAM principals into the cluster: one get by name (a 404 on this GKE estate)."""
KUBE_ABSENT = (
    "/apis/cilium.io/v2/ciliumnetworkpolicies",
    "/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies",
    "/apis/karpenter.k8s.aws/v1/ec2nodeclasses",
    "/apis/karpenter.k8s.aws/v1beta1/ec2nodeclasses",
)


def kube_needs(estate: KubeEstate, check: str | None) -> KubeNeeds:
    kinds = {**KUBE_LISTS, **KUBE_RBAC}
    count = {kind: sum(o["kind"] == kind for o in estate.objects) for kind in kinds}
    if check is None:
        return KubeNeeds({path: count[kind] for kind, path in kinds.items()}, KUBE_ABSENT, (AWS_AUTH,))
    ns, name = check.split("/", 1)

    def in_ns(kind: str) -> int:
        return sum(o["kind"] == kind and o["metadata"].get("namespace") == ns for o in estate.objects)

    pods = [o for o in estate.objects if o["kind"] == "Pod" and o["metadata"]["namespace"] == ns]
    pods = [p for p in pods if p["spec"].get("serviceAccountName") == name]
    nodes = sorted({p["spec"]["nodeName"] for p in pods if p["spec"].get("nodeName")})
    lists = {
        "/api/v1/namespaces": 1,
        f"/api/v1/namespaces/{ns}/pods": len(pods),
        f"/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies": in_ns("NetworkPolicy"),
        f"/apis/apps/v1/namespaces/{ns}/replicasets": in_ns("ReplicaSet"),
        f"/apis/batch/v1/namespaces/{ns}/jobs": in_ns("Job"),
        # Who can become it: the namespace's Roles and RoleBindings, every ClusterRole and ClusterRoleBinding.
        f"{RBAC}/namespaces/{ns}/roles": in_ns("Role"),
        f"{RBAC}/namespaces/{ns}/rolebindings": in_ns("RoleBinding"),
        KUBE_RBAC["ClusterRole"]: count["ClusterRole"],
        KUBE_RBAC["ClusterRoleBinding"]: count["ClusterRoleBinding"],
    }
    if not nodes:
        lists["/api/v1/nodes"] = 1  # one page of one node, for the platform
    absent = (f"/apis/cilium.io/v2/namespaces/{ns}/ciliumnetworkpolicies", *KUBE_ABSENT[1:])
    gets = (f"/api/v1/namespaces/{ns}/serviceaccounts/{name}", *(f"/api/v1/nodes/{n}" for n in nodes), AWS_AUTH)
    return KubeNeeds(lists, absent, gets)
