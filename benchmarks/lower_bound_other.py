"""The fewest API calls a live GCP, Azure or Kubernetes collection needs, and the shortest wall time
its concurrency limits allow. benchmarks/README.md ("Live GCP, Azure and Kubernetes collection")
explains each term; in short, with pages(n, size) = max(1, ceil(n / size)):

    GCP (per project; audit | check of one ServiceAccount)
      projects.get 1 + projects.getIamPolicy 1 + searchAllIamPolicies pages(A, 500)
      + clusters.get K + folders.get F + folders.getIamPolicy F + organizations.getIamPolicy O
      + audit: serviceAccounts.list pages(G_p, 100) + getIamPolicy (G - G_a) + keys.list G
      | check: serviceAccounts.get 1 + getIamPolicy 1 + keys.list 1
      + min(R_b, pages(R_p, 1000)) project custom roles (get each, or list) + R_o organisation roles (get)
      + usage (issue 14), per project binding an identity in scope: insights.list 1 + recommendations.list 1
        + last authentication  audit: min(pages(G_p, 1000), G) | check: 1
        + key last authentication (G_k user-managed keys of those accounts)  audit: min(1, G_k) | check: G_k

    Azure (per subscription)
      userAssignedIdentities.list pages(I, p) + managedClusters.list pages(K, p)
      + federatedIdentityCredentials.list  sum over the identities named of pages(f_i, p)
      + roleAssignments.list  min(sum over principals of pages(a_j, p), pages(RA, p))
      + role definitions  min(U, pages(CR, p))           (get each unknown role, or list the custom roles)
      + activityLogs.list (issue 14)  sum over the identities named holding a role in the subscription
        of pages(e_i, p), e_i their events of the last 90 days

    Kubernetes
      sum over kinds read of pages(n_k, 500) + absent custom resources 1 each (+1 for Karpenter's
      v1beta1 when v1 is absent) + openid-configuration 1 + the aws-auth ConfigMap 1 (a get; 404 off
      EKS); the kinds include the RBAC (issue 13): Roles and RoleBindings (all, or the check's
      namespace's), every ClusterRole and ClusterRoleBinding; check: the ServiceAccount 1, its pods
      pages(n, 500) (field selector), one get per node they run on (or one page of one node)

    T_bound = L * max(D, max over services s of ceil(N_s / C_s))

L: latency per call; N_s: the bound's calls to service s; C_s: the collector's concurrency limit for
s; D: the longest chain of calls that each need the previous one's answer (pages of one list
follow their tokens; a folder's parent names the next folder).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GCP_SA_PAGE = 100
"""serviceAccounts.list: at most 100 a page (the API's maximum)."""
GCP_ASSET_PAGE = 500
"""searchAllIamPolicies: at most 500 a page."""
GCP_ROLE_PAGE = 1000
"""roles.list: at most 1,000 a page."""
GCP_ACTIVITY_PAGE = 1000
"""Policy Analyzer activities.query: at most 1,000 a page."""
KUBE_PAGE = 500
"""kubeiam's `limit` (kubectl's default chunk size)."""


def pages(n: int, size: int) -> int:
    """A list always costs one call, even when empty."""
    return max(1, math.ceil(n / size))


@dataclass(frozen=True)
class Bound:
    calls: dict[str, int]
    """Operation -> calls."""
    services: dict[str, str]
    """Operation -> the service whose concurrency limit it counts against."""
    depth: int
    """The longest chain of dependent calls (D)."""

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def by_service(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for op, n in self.calls.items():
            out[self.services[op]] = out.get(self.services[op], 0) + n
        return out

    def wall(self, latency: float, concurrency: dict[str, int]) -> float:
        """T_bound in seconds: no scheduler within those limits can be faster."""
        spread = max((math.ceil(n / concurrency[s]) for s, n in self.by_service().items() if n), default=0)
        return latency * max(self.depth, spread)


# -- Google Cloud ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GcpNeeds:
    check: bool
    asset_results: int
    """A: results of the project's searchAllIamPolicies (every resource with a policy)."""
    project_accounts: int
    """G_p: every Google service account of the project (what serviceAccounts.list returns)."""
    gsas: int
    """G: the annotated GSAs that exist (1 for `check`)."""
    gsa_policies_in_assets: int
    """G_a: those of them whose policy the asset search returns."""
    project_roles_bound: int
    """R_b: the project's custom roles bound in the policies that matter."""
    project_roles: int
    """R_p: every custom role of the project (what roles.list returns)."""
    org_roles_bound: int = 0
    usage_projects: int = 0
    """Projects whose policy binds an identity in scope: their recommender lists are read (issue 14)."""
    gsa_keys: int = 0
    """G_k: user-managed keys of the GSAs in scope (their last authentication is read)."""
    folders: int = 1
    folder_depth: int = 1
    organizations: int = 1
    clusters: int = 1


GCP_SERVICES = {
    "projects.get": "cloudresourcemanager",
    "projects.getIamPolicy": "cloudresourcemanager",
    "folders.get": "cloudresourcemanager",
    "folders.getIamPolicy": "cloudresourcemanager",
    "organizations.getIamPolicy": "cloudresourcemanager",
    "searchAllIamPolicies": "cloudasset",
    "projects.locations.clusters.get": "container",
    "projects.locations.clusters.list": "container",
    "projects.serviceAccounts.list": "iam",
    "projects.serviceAccounts.get": "iam",
    "projects.serviceAccounts.getIamPolicy": "iam",
    "projects.serviceAccounts.keys.list": "iam",
    "projects.roles.list": "iam",
    "projects.roles.get": "iam",
    "organizations.roles.get": "iam",
    "projects.locations.insightTypes.insights.list": "recommender",
    "projects.locations.recommenders.recommendations.list": "recommender",
    "activityTypes.serviceAccountLastAuthentication.activities.query": "policyanalyzer",
    "activityTypes.serviceAccountKeyLastAuthentication.activities.query": "policyanalyzer",
}


def gcp_bound(n: GcpNeeds) -> Bound:
    calls = {
        "projects.get": 1,
        "projects.getIamPolicy": 1,
        "searchAllIamPolicies": pages(n.asset_results, GCP_ASSET_PAGE),
        "projects.locations.clusters.get": n.clusters,
        "folders.get": n.folders,
        "folders.getIamPolicy": n.folders,
        "organizations.getIamPolicy": n.organizations,
    }
    if n.check:
        calls["projects.serviceAccounts.get"] = n.gsas
        calls["projects.serviceAccounts.getIamPolicy"] = n.gsas
    else:
        calls["projects.serviceAccounts.list"] = pages(n.project_accounts, GCP_SA_PAGE)
        calls["projects.serviceAccounts.getIamPolicy"] = n.gsas - n.gsa_policies_in_assets
    calls["projects.serviceAccounts.keys.list"] = n.gsas
    role_pages = pages(n.project_roles, GCP_ROLE_PAGE)
    if n.project_roles_bound:
        op = "projects.roles.list" if role_pages < n.project_roles_bound else "projects.roles.get"
        calls[op] = min(role_pages, n.project_roles_bound)
    calls["organizations.roles.get"] = n.org_roles_bound
    calls["projects.locations.insightTypes.insights.list"] = n.usage_projects
    calls["projects.locations.recommenders.recommendations.list"] = n.usage_projects
    activity = n.gsas if n.check else min(pages(n.project_accounts, GCP_ACTIVITY_PAGE), n.gsas)
    calls["activityTypes.serviceAccountLastAuthentication.activities.query"] = activity
    keys = n.gsa_keys if n.check else min(1, n.gsa_keys)
    calls["activityTypes.serviceAccountKeyLastAuthentication.activities.query"] = keys
    depth = max(
        n.folder_depth + 2,  # projects.get -> folders.get per level -> the top ancestor's policy
        pages(n.asset_results, GCP_ASSET_PAGE),
        0 if n.check else pages(n.project_accounts, GCP_SA_PAGE),
        1 + (role_pages if calls.get("projects.roles.list") else 1),  # a policy names the roles to read
    )
    return Bound({k: v for k, v in calls.items() if v}, GCP_SERVICES, depth)


# -- Azure -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AzureNeeds:
    page: int
    """ARM's page size for these lists (set by each resource provider; the benchmark's server uses one)."""
    identities: int
    """I: user-assigned identities in the subscription."""
    credential_pages: int
    """sum over the identities the ServiceAccounts in scope name of pages(their federated credentials)."""
    principal_pages: int
    """sum over the principals needed (those identities, the matched clusters' kubelets) of
    pages(their role assignments): the cost of filtered listings."""
    principals: int
    assignments: int
    """RA: every role assignment that applies to the subscription (the unfiltered listing)."""
    unknown_roles: int
    """U: distinct roles those principals' assignments reference that the bundled catalogue lacks."""
    custom_roles: int
    """CR: custom roles of the subscription (the `type eq 'CustomRole'` listing)."""
    clusters: int = 1
    activity_pages: int = 0
    """sum over the identities named that hold a role in the subscription of pages(their Activity Log events)."""


AZURE_SERVICES = {
    "userAssignedIdentities.list": "arm",
    "managedClusters.list": "arm",
    "federatedIdentityCredentials.list": "arm",
    "roleAssignments.list": "arm",
    "roleDefinitions.get": "arm",
    "roleDefinitions.list": "arm",
    "activityLogs.list": "arm",
}


def azure_bound(n: AzureNeeds) -> Bound:
    id_pages = pages(n.identities, n.page)
    all_assignments = pages(n.assignments, n.page)
    filtered = n.principal_pages <= all_assignments
    role_list = pages(n.custom_roles, n.page)
    gets = n.unknown_roles <= role_list
    calls = {
        "userAssignedIdentities.list": id_pages,
        "managedClusters.list": pages(n.clusters, n.page),
        "federatedIdentityCredentials.list": n.credential_pages,
        "roleAssignments.list": n.principal_pages if filtered else all_assignments,
        "roleDefinitions.get" if gets else "roleDefinitions.list": n.unknown_roles if gets else role_list,
        "activityLogs.list": n.activity_pages,
    }
    roles_after = (1 if gets else role_list) if n.unknown_roles else 0
    # Filtered listings need the principals, which the identity listing gives; the unfiltered one does not.
    assignments_chain = id_pages + 1 if filtered else all_assignments
    # A query names the principal: at least one query after the identity listing that gives it.
    activity_chain = id_pages + 1 if n.activity_pages else 0
    depth = max(id_pages + 1, assignments_chain + roles_after, activity_chain)
    return Bound({k: v for k, v in calls.items() if v}, AZURE_SERVICES, depth)


# -- Kubernetes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KubeNeeds:
    lists: dict[str, int]
    """List path -> objects it returns (in scope: cluster-wide, or the check's namespace / selector)."""
    absent: tuple[str, ...] = ()
    """List paths of custom resources that are not installed: one 404 each."""
    gets: tuple[str, ...] = ()
    """Single objects read (`check`: the ServiceAccount, its pods' nodes)."""


def kube_bound(n: KubeNeeds) -> Bound:
    calls = {f"list {path}": pages(count, KUBE_PAGE) for path, count in n.lists.items()}
    calls.update({f"list {path}": 1 for path in n.absent})
    calls.update({f"get {path}": 1 for path in n.gets})
    calls["get /.well-known/openid-configuration"] = 1
    depth = max(calls.values()) + (1 if any("/nodes/" in g for g in n.gets) else 0)  # pods -> their nodes
    return Bound(calls, dict.fromkeys(calls, "kube-apiserver"), depth)
