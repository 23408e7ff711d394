"""What the Azure evidence leaves unchecked, named as `CoverageError`s (file, subject, the rules whose
findings it may hide), never as clean.

Absent is not empty: a resolved identity whose role assignments or federated credentials were not
collected, an AKS cluster with no `az aks show` file, a kubelet identity without an object id, a
cluster setting that could not be read each say what was not checked.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from kubeiam.vocabulary.model import Cluster, CoverageError, Gap, IdentityLink, Inventory, LinkStatus
from kubeiam_azure.declarations import AZURE
from kubeiam_azure.evidence.aks import Problem
from kubeiam_azure.view import AksCluster, ManagedIdentity

GRANT_RULES = ("AZ-001", "AZ-002", "AZ-003", "AZ-004", "AZ-005", "AZ-006", "AZ-012")
"""What an identity's role assignments decide (AZ-012: what it was granted; AZ-007's severity too, but not whether
it is found)."""
FEDERATION_RULES = ("AZ-007", "AZ-008")
"""What an identity's federated credentials decide."""
CLUSTER_RULES = ("AZ-010", "AZ-011")
"""What the `az aks show` file decides: the cluster's features, the kubelet identity and IMDS reach."""
KUBELET_RULES = ("AZ-011",)


def aks_gaps(
    inventory: Inventory, clusters: tuple[Cluster, ...], aks_of: Mapping[str, AksCluster]
) -> list[CoverageError]:
    """AKS clusters (nodes with an azure:// providerID) that no `az aks show` file matched: their
    kubelet identity and IMDS exposure are not checked; say so rather than report nothing."""
    with_nodes = {n.cluster for n in inventory.nodes}
    return [
        CoverageError(
            AZURE,
            f"azure/<subscription-id>/aks/<resource-group>/{c.name}.json",
            "no AKS cluster object matches this cluster: the kubelet identity, IMDS exposure and the "
            "workload identity features were not checked",
            subject=c.name,
            rules=CLUSTER_RULES,
        )
        for c in clusters
        if c.cloud == AZURE and c.name not in aks_of and c.name in with_nodes
    ]


def aks_problems(cluster: str, aks: AksCluster, problems: Iterable[Problem]) -> list[CoverageError]:
    """Settings of a matched AKS object that could not be read: each names its field and the rules it decides."""
    return [CoverageError(AZURE, aks.source, f"{p.item}: {p.reason}", subject=cluster, rules=p.rules) for p in problems]


def grant_gaps(
    link: IdentityLink, mi: ManagedIdentity | None, assignment_subscriptions: Collection[str]
) -> list[CoverageError]:
    """A resolved identity whose subscription's role assignments are absent is not clean: say so."""
    if link.status is LinkStatus.RESOLVED and mi is not None and mi.subscription not in assignment_subscriptions:
        return [
            CoverageError(
                AZURE,
                f"azure/{mi.subscription}/role-assignments.json",
                f"not in the evidence: role assignments of {mi.name} were not checked",
                subject=mi.id,
                rules=GRANT_RULES,
            )
        ]
    return []


def federation_gap(mi: ManagedIdentity, file_read: bool) -> CoverageError:
    """An identity a ServiceAccount names whose federated credentials are not in the evidence."""
    path = f"azure/{mi.subscription}/federated-credentials.json"
    reason = (
        f"no entry for {mi.name}: its federated credentials were not checked"
        if file_read
        else f"not in the evidence: federated credentials of {mi.name} were not checked"
    )
    return CoverageError(AZURE, path, reason, subject=mi.id, rules=FEDERATION_RULES)


def kubelet_without_object_id(cluster: str, aks: AksCluster) -> CoverageError:
    reason = f"the kubelet identity of {aks.name} has no objectId: its role assignments were not checked"
    return CoverageError(AZURE, aks.source, reason, subject=cluster, rules=KUBELET_RULES)


def kubelet_partly_checked(cluster: str, aks: AksCluster, gaps: tuple[Gap, ...]) -> CoverageError:
    """The kubelet identity is no ServiceAccount's link: its gaps are the cluster's coverage."""
    more = f" (and {len(gaps) - 1} more)" if len(gaps) > 1 else ""
    reason = f"kubelet identity of {aks.name} partly checked: {gaps[0].item}: {gaps[0].reason}{more}"
    return CoverageError(AZURE, gaps[0].location, reason, subject=cluster, rules=KUBELET_RULES)


def kubelet_assignments_gap(
    cluster: str, aks: AksCluster, assignment_subscriptions: Collection[str]
) -> list[CoverageError]:
    """The kubelet identity's role assignments live in the AKS cluster's subscription: absent, unchecked."""
    if aks.subscription in assignment_subscriptions:
        return []
    return [
        CoverageError(
            AZURE,
            f"azure/{aks.subscription}/role-assignments.json",
            f"not in the evidence: role assignments of the kubelet identity of {aks.name} were not checked",
            subject=cluster,
            rules=KUBELET_RULES,
        )
    ]


ENTRA_RULES = ("AZ-013",)
"""What the Microsoft Graph files decide: app roles and directory roles."""
GRAPH_FILES = "azure/<subscription-id>/group-memberships.json, app-roles.json"


def graph_absent(memberships_read: bool, app_roles_read: bool, group_assignments: int) -> list[CoverageError]:
    """Microsoft Graph evidence not in the directory: what it would have told is not checked (one note for
    every identity: subject None, the rules it decides)."""
    groups = (
        f"; {group_assignments} role assignment(s) to groups were not counted for any identity"
        if group_assignments and not memberships_read
        else ""
    )
    group_rules = GRANT_RULES if groups else ()
    if not memberships_read and not app_roles_read:
        reason = (
            "not in the evidence: Microsoft Graph app roles and directory roles of the managed identities "
            "were not checked"
        )
        return [CoverageError(AZURE, GRAPH_FILES, reason + groups, rules=(*group_rules, *ENTRA_RULES))]
    if not memberships_read:
        reason = "not in the evidence: directory roles of the managed identities were not checked"
        location = "azure/<subscription-id>/group-memberships.json"
        return [CoverageError(AZURE, location, reason + groups, rules=(*group_rules, *ENTRA_RULES))]
    if not app_roles_read:
        reason = "not in the evidence: Microsoft Graph app roles of the managed identities were not checked"
        return [CoverageError(AZURE, "azure/<subscription-id>/app-roles.json", reason, rules=ENTRA_RULES)]
    return []


def graph_entry_missing(subject: str, name: str, file: str, group_assignments: bool) -> CoverageError:
    """A Graph file is in the evidence but names no entry for this identity's object id."""
    if file.endswith("group-memberships.json"):
        what = "its groups and directory roles were not read"
        rules = (*GRANT_RULES, *ENTRA_RULES) if group_assignments else ENTRA_RULES
    else:
        what, rules = "its Microsoft Graph app roles were not read", ENTRA_RULES
    return CoverageError(AZURE, file, f"no entry for {name}: {what}", subject=subject, rules=rules)


def addon_without_object_id(cluster: str, aks: AksCluster, role: str) -> CoverageError:
    reason = f"the {role} identity of {aks.name} has no objectId: its role assignments were not checked"
    return CoverageError(AZURE, aks.source, reason, subject=cluster, rules=KUBELET_RULES)
