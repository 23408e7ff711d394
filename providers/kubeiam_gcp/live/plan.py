"""What a live GCP collection must fetch, decided from the Kubernetes inventory alone (no network).

Kept pure so the "only what is referenced" and "check fetches only one ServiceAccount's needs"
decisions are testable without any server.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from kubeiam.vocabulary.model import CoverageError, Inventory, ServiceAccount
from kubeiam_gcp.declarations import GCP, GKE_SERVICE_ACCOUNT
from kubeiam_gcp.judge.trust import kubeconfig_key

# The GKE issuer names the cluster exactly: https://container.googleapis.com/v1/projects/P/locations/L/clusters/N
# (older clusters print `zones/` instead of `locations/`).
_ISSUER = re.compile(
    r"^https://container\.googleapis\.com/v1/projects/([^/]+)/(?:locations|zones)/([^/]+)/clusters/([^/]+)/?$"
)
_PROVIDER_ID = re.compile(r"^gce://([^/]+)/([^/]+)/(.+)$")
# NAME@PROJECT.iam.gserviceaccount.com (user-created) and PROJECT@appspot.gserviceaccount.com (App Engine default).
_GSA_PROJECT = re.compile(r"^[^@]+@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$")
_APPSPOT = re.compile(r"^([a-z][a-z0-9-]{4,28}[a-z0-9])@appspot\.gserviceaccount\.com$")
# NUMBER-compute@developer.gserviceaccount.com names a project by number: placed once projects are read.
_COMPUTE_DEFAULT = re.compile(r"^(\d+)-compute@developer\.gserviceaccount\.com$")


@dataclass(frozen=True, slots=True, order=True)
class ClusterRef:
    project: str
    location: str
    name: str
    kubernetes_cluster: str
    """The inventory's cluster (evidence folder) name it was found for."""

    @property
    def resource(self) -> str:
        return f"projects/{self.project}/locations/{self.location}/clusters/{self.name}"


@dataclass(frozen=True, slots=True)
class UnlocatedCluster:
    """A GKE cluster (gce:// nodes) whose issuer is unknown: found by listing its project's clusters."""

    kubernetes_cluster: str
    project: str
    node_names: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    projects: tuple[str, ...]
    """Projects to read (project, IAM policies, ancestors, resource-level policies)."""
    service_accounts: Mapping[str, tuple[str, ...]]
    """Project -> annotated GSA emails in it (their IAM policy and keys are read)."""
    by_number: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Project number -> GSA emails that name a project only by number (default compute account)."""
    clusters: tuple[ClusterRef, ...] = ()
    unlocated: tuple[UnlocatedCluster, ...] = ()
    check: bool = False
    """`check` of one ServiceAccount: get its GSA rather than list every account of the project."""
    skipped: tuple[CoverageError, ...] = ()
    """What the plan already knows it cannot collect (outside --gcp-project, unknown project)."""


def parse_issuer(issuer: str | None) -> tuple[str, str, str] | None:
    m = _ISSUER.match(issuer or "")
    return (m.group(1), m.group(2), m.group(3)) if m else None


def gsa_project(email: str) -> str | None:
    m = _GSA_PROJECT.match(email) or _APPSPOT.match(email)
    return m.group(1) if m else None


def selected_service_accounts(
    inventory: Inventory, namespace: str | None, service_account: tuple[str, str] | None
) -> tuple[ServiceAccount, ...]:
    if service_account is not None:
        ns, name = service_account
        return tuple(s for s in inventory.service_accounts if s.namespace == ns and s.name == name)
    if namespace is not None:
        return tuple(s for s in inventory.service_accounts if s.namespace == namespace)
    return inventory.service_accounts


def make_plan(
    inventory: Inventory,
    *,
    projects: Sequence[str] | None = None,
    namespace: str | None = None,
    service_account: tuple[str, str] | None = None,
    scope: str | None = None,
) -> Plan:
    """Decide projects, GSAs and clusters to read. `projects` (--gcp-project) limits the reach; `scope` names
    the options a central audit listed them from (`--gcp-folder`...): then they limit it even when none was
    found (the folder could not be listed), rather than falling back to the inferred projects."""
    sas = selected_service_accounts(inventory, namespace, service_account)
    check = service_account is not None
    # Which Kubernetes clusters matter: for `check` only those holding the ServiceAccount (its nodes
    # and Workload Identity pool); otherwise all of them.
    wanted = {s.cluster for s in sas} if check else {c.name for c in inventory.clusters}
    clusters: list[ClusterRef] = []
    unlocated: list[UnlocatedCluster] = []
    node_projects: dict[str, set[str]] = {}
    node_names: dict[str, list[str]] = {}
    for node in inventory.nodes:
        m = _PROVIDER_ID.match(node.provider_id or "")
        if m and node.cluster in wanted:
            node_projects.setdefault(node.cluster, set()).add(m.group(1))
            node_names.setdefault(node.cluster, []).append(node.name)
    for cluster in inventory.clusters:
        if cluster.name not in wanted:
            continue
        # The issuer names the cluster; else the kubeconfig's name for it (gke_PROJECT_LOCATION_NAME).
        parsed = parse_issuer(cluster.issuer) or kubeconfig_key(cluster.kubeconfig_name)
        if parsed:
            clusters.append(ClusterRef(*parsed, kubernetes_cluster=cluster.name))
        elif cluster.cloud == GCP or cluster.name in node_projects:
            for project in sorted(node_projects.get(cluster.name, ())):
                unlocated.append(UnlocatedCluster(cluster.name, project, tuple(sorted(node_names[cluster.name]))))

    gsas: dict[str, set[str]] = {}
    by_number: dict[str, set[str]] = {}
    skipped: list[CoverageError] = []
    for sa in sas:
        email = sa.annotations.get(GKE_SERVICE_ACCOUNT, "").strip()
        if not email:
            continue
        home = gsa_project(email)
        number = _COMPUTE_DEFAULT.match(email)
        if home:
            gsas.setdefault(home, set()).add(email)
        elif number:
            by_number.setdefault(number.group(1), set()).add(email)
        else:
            skipped.append(
                CoverageError(
                    "gcp",
                    GKE_SERVICE_ACCOUNT,
                    f"cannot tell the project of Google service account {email!r}",
                    subject=f"{sa.cluster}/{sa.namespace}/{sa.name}",
                )
            )

    inferred = set(gsas) | {c.project for c in clusters} | {u.project for u in unlocated}
    if not check:
        inferred |= {p for ps in node_projects.values() for p in ps}
    if projects or scope:
        chosen = tuple(dict.fromkeys(projects or ()))
        for project in sorted(inferred - set(chosen)):
            skipped.append(
                CoverageError(
                    "gcp",
                    f"projects/{project}",
                    f"project not among {scope or '--gcp-project'}: not collected",
                    f"projects/{project}",
                )
            )
        clusters = [c for c in clusters if c.project in chosen]
        unlocated = [u for u in unlocated if u.project in chosen]
    else:
        chosen = tuple(sorted(inferred))
    return Plan(
        projects=chosen,
        service_accounts={p: tuple(sorted(gsas.get(p, ()))) for p in chosen},
        by_number={n: tuple(sorted(e)) for n, e in sorted(by_number.items())},
        clusters=tuple(sorted(set(clusters))),
        unlocated=tuple(unlocated),
        check=check,
        skipped=tuple(skipped),
    )


def roles_in(policies: Iterable[Mapping]) -> set[str]:
    """Custom role names (`projects/P/roles/R`, `organizations/O/roles/R`) bound in REST-shaped policies."""
    found = set()
    for policy in policies:
        for binding in policy.get("bindings") or ():
            role = binding.get("role") or ""
            if role.startswith(("projects/", "organizations/")):
                found.add(role)
    return found


SA_ASSET_TYPE = "iam.googleapis.com/ServiceAccount"


def sa_policies_in_assets(
    accounts: Iterable[Mapping], assets: Iterable[Mapping], wanted: Iterable[str]
) -> dict[str, Mapping]:
    """Email -> IAM policy of the `wanted` GSAs that an asset search (REST-shaped results) returned.

    Asset names end in the account's unique id (sometimes its email): `accounts` (the project's
    serviceAccounts.list) maps both to the email. A GSA not returned is left out: absence from the
    search may be index lag, not "no policy", so the caller reads it directly.
    """
    emails = {str(a[k]): str(a["email"]) for a in accounts if a.get("email") for k in ("uniqueId", "email") if a.get(k)}
    names = set(wanted)
    found: dict[str, Mapping] = {}
    for result in assets:
        if result.get("assetType") != SA_ASSET_TYPE or not isinstance(result.get("policy"), Mapping):
            continue
        email = emails.get(str(result.get("resource", "")).rpartition("/")[2])
        if email in names:
            found[email] = result["policy"]
    return found
