"""GKE: IAM is a second authorizer in front of Kubernetes RBAC. A project (folder, organisation) grant whose
role carries `container.*` permissions lets its member act in every namespace of every cluster of the
project, as if a ClusterRoleBinding gave it the translated permissions. Here those grants become that:
one synthetic ClusterRole per role (only the permissions that matter for becoming a ServiceAccount,
translated to RBAC rules) and one ClusterRoleBinding per member, as `ExternalRbac` for the Kubernetes
provider's takeover rule.

Members: users and Google service accounts authenticate as their email (User EMAIL); a Google group is a
Group of its email; `allAuthenticatedUsers` is `system:authenticated` (and `allUsers` also
`system:unauthenticated`). Google-managed service agents (`service-N@...`, `N@cloudservices...`) are
GKE's own machinery and left out. A conditional grant is not guessed: a coverage error names it, and so
does a grant whose role's permissions are unknown.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from kubeiam.vocabulary.model import CoverageError, ExternalRbac
from kubeiam_gcp.declarations import GCP
from kubeiam_gcp.view import Binding, GkeCluster

from .index import EvidenceIndex

TAKEOVER_RULES = ("K8S-006",)
ITEM, REMEDIATION = "kubeiam.io/item", "kubeiam.io/remediation"
RBAC = "rbac.authorization.k8s.io"
NOTE = (
    "GKE IAM permissions translated to RBAC (container.RESOURCE.VERB -> VERB RESOURCE, cluster-wide); only the "
    "permissions that let a subject act as a ServiceAccount are kept"
)
_SERVICE_AGENT = re.compile(r"^(service-\d+@|\d+@cloudservices\.gserviceaccount\.com$|\d+@cloudbuild\.)")

# container.<resource> -> (API group, RBAC resource)
_RESOURCES: Mapping[str, tuple[str, str]] = {
    "pods": ("", "pods"),
    "serviceAccounts": ("", "serviceaccounts"),
    "secrets": ("", "secrets"),
    "nodes": ("", "nodes"),
    "replicationControllers": ("", "replicationcontrollers"),
    "deployments": ("apps", "deployments"),
    "replicaSets": ("apps", "replicasets"),
    "statefulSets": ("apps", "statefulsets"),
    "daemonSets": ("apps", "daemonsets"),
    "jobs": ("batch", "jobs"),
    "cronJobs": ("batch", "cronjobs"),
    "roles": (RBAC, "roles"),
    "clusterRoles": (RBAC, "clusterroles"),
    "roleBindings": (RBAC, "rolebindings"),
    "clusterRoleBindings": (RBAC, "clusterrolebindings"),
}
_VERBS: Mapping[str, tuple[str, ...]] = {
    "create": ("create",),
    "update": ("update", "patch"),
    "get": ("get",),
    "list": ("list", "watch"),
    "bind": ("bind",),
    "escalate": ("escalate",),
}
# Permissions on a subresource, or on more than their name says.
_SPECIAL: Mapping[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    "container.pods.exec": (("", "pods/exec", ("create", "get")),),
    "container.pods.attach": (("", "pods/attach", ("create", "get")),),
    "container.pods.updateStatus": (),
    "container.serviceAccounts.createToken": (("", "serviceaccounts/token", ("create",)),),
    "container.nodes.proxy": (("", "nodes/proxy", ("create", "get")),),
    "container.clusters.impersonate": (
        ("", "users", ("impersonate",)),
        ("", "groups", ("impersonate",)),
        ("", "serviceaccounts", ("impersonate",)),
    ),
}


def rules_of(permissions: Iterable[str]) -> list[dict[str, Any]]:
    """The RBAC rules the permissions amount to (only resources that matter for a takeover), sorted."""
    verbs: dict[tuple[str, str], set[str]] = {}
    for perm in permissions:
        if not perm.startswith("container."):
            continue
        special = _SPECIAL.get(perm)
        if special is not None:
            for group, resource, vs in special:
                verbs.setdefault((group, resource), set()).update(vs)
            continue
        parts = perm.split(".")
        if len(parts) != 3 or parts[1] not in _RESOURCES or parts[2] not in _VERBS:
            continue
        verbs.setdefault(_RESOURCES[parts[1]], set()).update(_VERBS[parts[2]])
    return [
        {"apiGroups": [group], "resources": [resource], "verbs": sorted(vs)}
        for (group, resource), vs in sorted(verbs.items())
    ]


def gke_rbac(
    index: EvidenceIndex, matched: Mapping[str, GkeCluster]
) -> tuple[tuple[ExternalRbac, ...], tuple[CoverageError, ...]]:
    """For each matched GKE cluster: the project's (and its ancestors') container.* grants as RBAC."""
    out: list[ExternalRbac] = []
    errors: list[CoverageError] = []
    for k8s_name, gke in sorted(matched.items()):
        scopes = _scopes(index, gke.project)
        roles: dict[str, tuple[Mapping[str, Any], str]] = {}
        for member, bindings in index.by_member.items():
            for b in bindings:
                if b.scope not in scopes:
                    continue
                made = _grant(index, k8s_name, gke, member, b, roles, errors)
                if made is not None:
                    out.append(made)
        if roles:
            source = next(iter(roles.values()))[1]
            out.append(ExternalRbac(k8s_name, source, tuple(r for r, _ in roles.values()), note=NOTE))
    return tuple(out), tuple(errors)


def _scopes(index: EvidenceIndex, project: str) -> frozenset[str]:
    folder = index.projects.get(project)
    ancestors = folder.ancestors.policies if folder is not None and folder.ancestors is not None else {}
    return frozenset({f"projects/{project}", *ancestors})


def _grant(
    index: EvidenceIndex,
    cluster: str,
    gke: GkeCluster,
    member: str,
    b: Binding,
    roles: dict[str, tuple[Mapping[str, Any], str]],
    errors: list[CoverageError],
) -> ExternalRbac | None:
    subjects = _subjects(member)
    if not subjects:
        return None
    perms = index.permissions(b.role)
    if perms is None:
        errors.append(
            _error(
                b, f"the permissions of {b.role} are unknown: what {member} may do in the cluster is unchecked", cluster
            )
        )
        return None
    rules = rules_of(perms)
    if not rules:
        return None
    if b.condition:
        why = (
            f"a conditional grant of {b.role} to {member} (container.* permissions): whether it applies to the "
            "cluster is not judged"
        )
        errors.append(_error(b, why, cluster))
        return None
    role = f"gke-iam:{b.role}"
    roles.setdefault(b.role, (_role(role, rules, b.source, b.role), b.source))
    digest = hashlib.sha256(f"{member}|{b.scope}".encode()).hexdigest()[:8]
    hint = (
        f"Remove {b.role} from {member} on {b.scope} (gcloud projects remove-iam-policy-binding), or grant a role "
        f"without pods.create/exec, serviceAccounts.createToken and workload writes on cluster {gke.name}"
    )
    meta = {
        "name": f"gke-iam:{b.role}:{digest}",
        "annotations": {ITEM: f"{b.grant_source} -> {member}", REMEDIATION: hint},
    }
    binding = {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": RBAC, "kind": kind, "name": name} for kind, name in subjects],
    }
    principals = {f"{kind.lower()}:{name}": member for kind, name in subjects}
    return ExternalRbac(cluster, b.source, (binding,), principals, NOTE)


def _role(name: str, rules: list[dict[str, Any]], source: str, role: str) -> Mapping[str, Any]:
    meta = {"name": name, "annotations": {ITEM: f"{source} {role} (translated)"}}
    return {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": meta, "rules": rules}


def _subjects(member: str) -> list[tuple[str, str]]:
    kind, _, rest = member.partition(":")
    if member == "allAuthenticatedUsers":
        return [("Group", "system:authenticated")]
    if member == "allUsers":
        return [("Group", "system:authenticated"), ("Group", "system:unauthenticated")]
    if kind in ("user", "serviceAccount") and rest:
        return [] if _SERVICE_AGENT.match(rest) else [("User", rest)]
    if kind == "group" and rest:
        return [("Group", rest)]
    if kind == "domain" and rest:
        return [("Group", member)]
    if member.startswith(("principal://", "principalSet://")):
        return [("User", member)]
    return []  # deleted:..., projectOwner:... (legacy convenience values) and the like


def _error(b: Binding, why: str, cluster: str) -> CoverageError:
    return CoverageError(GCP, f"{b.source}: {b.grant_source}", why, subject=cluster, rules=TAKEOVER_RULES)
