"""AKS: Azure RBAC for Kubernetes, and the local admin kubeconfig, as the Kubernetes RBAC objects the API server
would hold (`ExternalRbac`), for the Kubernetes provider's takeover rule.

- With `aadProfile.enableAzureRbac`, a role assignment at the cluster (or above it) whose role has
  `Microsoft.ContainerService/managedClusters/...` data actions acts as a ClusterRoleBinding; one at
  `<cluster>/namespaces/<ns>` as a RoleBinding in that namespace. The role becomes a synthetic ClusterRole
  holding what its data actions allow of the requests that matter for becoming a ServiceAccount (asked one
  by one, so `*` segments and notDataActions are expanded positively: RBAC has no deny). Subject: User
  `<principal object id>` (groups included: Azure resolves membership; approximated).
- Unless `disableLocalAccounts`, whoever may `listClusterAdminCredential` (Cluster Admin Role, Contributor,
  Owner) gets the local admin kubeconfig: a member of `system:masters`.

Management-group scopes are taken to cover the cluster (the hierarchy is not in the evidence; approximated).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import CoverageError, ExternalRbac
from kubeiam.vocabulary.policy import Statement
from kubeiam_azure.declarations import AZURE
from kubeiam_azure.judge.catalogue import role_definition
from kubeiam_azure.judge.profile import scope_level, statements
from kubeiam_azure.view import AksCluster, AzureView, RoleAssignment, RoleDefinition

TAKEOVER_RULES = ("K8S-006",)
ITEM, REMEDIATION = "kubeiam.io/item", "kubeiam.io/remediation"
RBAC = "rbac.authorization.k8s.io"
PREFIX = "Microsoft.ContainerService/managedClusters/"
ADMIN_CREDENTIAL = "Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action"
NOTE = (
    "Azure RBAC for Kubernetes data actions translated to RBAC (subresource requests as <resource>/<sub>/action "
    "or /write); assignments to groups bound as the group's object id; management-group scopes taken to cover "
    "the cluster"
)
_READ, _WRITE = ("get", "list", "watch"), ("create", "update", "patch")
_WORKLOADS = (
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("", "replicationcontrollers"),
)
# (API group, resource, subresource, Kubernetes verbs): the requests a takeover is made of.
PROBES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("", "pods", "", ("create", "update", "patch", "get", "list")),
    ("", "pods", "exec", ("create", "get")),
    ("", "pods", "attach", ("create", "get")),
    ("", "pods", "ephemeralcontainers", ("update", "patch")),
    ("", "serviceaccounts", "token", ("create",)),
    ("", "serviceaccounts", "impersonate", ("impersonate",)),
    ("", "users", "impersonate", ("impersonate",)),
    ("", "groups", "impersonate", ("impersonate",)),
    ("", "secrets", "", (*_READ, "create")),
    ("", "nodes", "proxy", ("create", "get")),
    *((g, r, "", _WRITE) for g, r in _WORKLOADS),
    (RBAC, "rolebindings", "", ("create",)),
    (RBAC, "clusterrolebindings", "", ("create",)),
    (RBAC, "roles", "", _WRITE),
    (RBAC, "clusterroles", "", _WRITE),
    (RBAC, "roles", "bind", ("bind",)),
    (RBAC, "clusterroles", "bind", ("bind",)),
    (RBAC, "roles", "escalate", ("escalate",)),
    (RBAC, "clusterroles", "escalate", ("escalate",)),
)
_VERB_ACTIONS = {"get": "read", "list": "read", "watch": "read", "create": "write", "update": "write", "patch": "write"}


def data_actions_for(group: str, resource: str, sub: str, verb: str) -> tuple[str, ...]:
    """The data actions Azure checks for a Kubernetes request (any one of them allows it)."""
    base = PREFIX + (f"{group}/" if group else "") + resource
    if sub in ("impersonate", "bind", "escalate"):
        return (f"{base}/{sub}/action",)
    if sub:
        return (f"{base}/{sub}/action", f"{base}/{sub}/{_VERB_ACTIONS.get(verb, 'write')}")
    return (f"{base}/{_VERB_ACTIONS[verb]}",)


def rules_of(role: RoleDefinition) -> list[dict[str, Any]]:
    """What the role's data actions allow of the probes, as RBAC rules (`*` on `*` when it allows everything)."""
    data = [s for s in statements(role) if s.sid == "dataActions" and not s.conditions]
    if not data:
        return []
    everything = {(PREFIX + "*").lower(), "microsoft.containerservice/*", "*"}
    if any(not s.not_actions and any(a.lower() in everything for a in s.actions) for s in data):
        return [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
    out: list[dict[str, Any]] = []
    for group, resource, sub, verbs in PROBES:
        allowed = [v for v in verbs if _allowed(data, data_actions_for(group, resource, sub, v))]
        if allowed:
            name = f"{resource}/{sub}" if sub and sub not in ("impersonate", "bind", "escalate") else resource
            out.append({"apiGroups": [group], "resources": [name], "verbs": allowed})
    return out


def _allowed(data: Iterable[Statement], actions: tuple[str, ...]) -> bool:
    return any(s.allows(a) for s in data for a in actions)


def aks_rbac(evidence: Evidence, view: AzureView) -> tuple[tuple[ExternalRbac, ...], tuple[CoverageError, ...]]:
    """Each matched AKS cluster's Azure RBAC grants and local-admin holders."""
    out: list[ExternalRbac] = []
    errors: list[CoverageError] = []
    for name, aks in sorted(view.aks.items()):
        raw = evidence.load(aks.source) if aks.source else None
        flags = raw if isinstance(raw, Mapping) else {}
        azure_rbac = _flag(
            mapping(flags.get("aadProfile")).get("enableAzureRbac"), "aadProfile.enableAzureRbac", aks, errors
        )
        local = not _flag(flags.get("disableLocalAccounts"), "disableLocalAccounts", aks, errors)
        roles: dict[str, tuple[Mapping[str, Any], str]] = {}
        for a in sorted(view.assignments.values(), key=lambda a: a.id):
            namespace = _namespace_of(a.scope, aks)
            if namespace is None and not _covers(a.scope, aks):
                continue
            role = role_definition(view.roles, a.role_id)
            if role is None:
                continue  # the reader's coverage already names an unknown role of a linked identity
            if local and namespace is None and _may_list_admin(role):
                why = f"{role.name} on {a.scope} may fetch the local admin kubeconfig (listClusterAdminCredential)"
                out.append(ExternalRbac(name, a.source, (), {"group:system:masters": a.principal_id}, why))
            if azure_rbac is not True:
                continue
            rules = rules_of(role)
            if rules:
                out.append(_assignment_rbac(name, aks, a, role, rules, namespace, roles))
        if roles:
            out.append(
                ExternalRbac(name, next(iter(roles.values()))[1], tuple(r for r, _ in roles.values()), note=NOTE)
            )
    return tuple(out), tuple(errors)


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _flag(value: Any, field: str, aks: AksCluster, errors: list[CoverageError]) -> bool | None:
    if value is None or isinstance(value, bool):
        return bool(value)
    why = (
        f"{field} must be true or false: taken as the exposed setting, who else can act as ServiceAccounts is "
        "judged with it"
    )
    errors.append(CoverageError(AZURE, f"{aks.source}: {field}", why, subject=aks.name, rules=TAKEOVER_RULES))
    return field == "aadProfile.enableAzureRbac"  # unknown: count the grants (enabled); local accounts: enabled


def _covers(scope: str, aks: AksCluster) -> bool:
    """A scope at or above the cluster (subscription, resource group, the cluster); management groups too."""
    s = scope.strip().rstrip("/").lower()
    if scope_level(scope) == "management-group":
        return True
    return aks.id == s or aks.id.startswith(s + "/")


def _namespace_of(scope: str, aks: AksCluster) -> str | None:
    s = scope.strip().rstrip("/")
    marker = aks.id + "/namespaces/"
    if s.lower().startswith(marker) and "/" not in s[len(marker) :]:
        return s[len(marker) :]
    return None


def _may_list_admin(role: RoleDefinition) -> bool:
    return any(s.sid == "actions" and not s.conditions and s.allows(ADMIN_CREDENTIAL) for s in statements(role))


def _assignment_rbac(
    cluster: str,
    aks: AksCluster,
    a: RoleAssignment,
    role: RoleDefinition,
    rules: list[dict[str, Any]],
    namespace: str | None,
    roles: dict[str, tuple[Mapping[str, Any], str]],
) -> ExternalRbac:
    role_name = f"aks-azure-rbac:{role.name}"
    roles.setdefault(role.id, (_role(role_name, rules, role), a.source))
    digest = hashlib.sha256(a.id.encode()).hexdigest()[:8]
    hint = (
        f"Remove the assignment of {role.name} to {a.principal_id} on {a.scope} (az role assignment delete --ids "
        f"{a.id}), or assign a role without pods, serviceaccounts and workload writes on cluster {aks.name}"
    )
    meta: dict[str, Any] = {"name": f"aks-azure-rbac:{digest}", "annotations": {ITEM: a.id, REMEDIATION: hint}}
    if namespace is not None:
        meta["namespace"] = namespace
    binding = {
        "apiVersion": f"{RBAC}/v1",
        "kind": "RoleBinding" if namespace is not None else "ClusterRoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role_name},
        "subjects": [{"apiGroup": RBAC, "kind": "User", "name": a.principal_id}],
    }
    return ExternalRbac(cluster, a.source, (binding,), {f"user:{a.principal_id}": a.principal_id}, NOTE)


def _role(name: str, rules: list[dict[str, Any]], role: RoleDefinition) -> Mapping[str, Any]:
    meta = {"name": name, "annotations": {ITEM: f"role definition {role.name} ({role.id}), data actions translated"}}
    return {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": meta, "rules": rules}
