"""Rules on what a managed identity holds in Entra ID: Microsoft Graph app roles and directory roles
(`judge.entra`, from the optional Microsoft Graph evidence)."""

from __future__ import annotations

from collections.abc import Iterator

from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.identity_groups import identity_groups
from kubeiam.vocabulary.model import Inventory, LinkStatus
from kubeiam.vocabulary.rules import Match, rule
from kubeiam_azure.declarations import AZURE
from kubeiam_azure.judge.entra import TENANT, privileges
from kubeiam_azure.rules.helpers import view_of

# As for role assignments: an untrusted link gets no token (AZ-008 says why); unchecked ones are kept.
_GRANTED = (LinkStatus.RESOLVED, LinkStatus.UNCHECKED, LinkStatus.MISSING)
GRAPH_DOCS = "https://learn.microsoft.com/graph/permissions-reference"


@rule(
    "AZ-013",
    "Managed identity holds a privileged Entra ID role or Microsoft Graph permission",
    Category.PRIVILEGE_ESCALATION,
    Severity.HIGH,
    rationale=(
        "A managed identity with the Microsoft Graph application permission RoleManagement.ReadWrite.Directory "
        "or AppRoleAssignment.ReadWrite.All, or the Global Administrator or Privileged Role Administrator "
        "directory role, can make itself Global Administrator (critical). Application.ReadWrite.All, "
        "Application Administrator and Cloud Application Administrator add credentials to any application "
        "and sign in as it; Group.ReadWrite.All, GroupMember.ReadWrite.All and Directory.ReadWrite.All add it "
        "to groups that hold Azure roles. None of this shows in Azure role assignments."
    ),
    remediation=(
        "Remove the app role assignment (az rest --method delete --url "
        "https://graph.microsoft.com/v1.0/servicePrincipals/<id>/appRoleAssignments/<assignment id>) or the "
        "directory role; grant the narrowest Graph permission the workload calls (for example "
        "Application.ReadWrite.OwnedBy)."
    ),
    cloud=AZURE,
    references=(
        GRAPH_DOCS,
        "https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference",
    ),
)
def entra_privilege(inv: Inventory) -> Iterator[Match]:
    view = view_of(inv)
    if view is None or not (view.app_roles or view.memberships):
        return
    for group in identity_groups(inv, AZURE, _GRANTED):
        ident = group.link.identity
        if ident is None:
            continue
        found = privileges(view, view.object_ids.get(ident.principal))
        for link, sas in group.by_reason if found else ():
            for p in found:
                what = "Microsoft Graph app role" if p.kind == "app-role" else "directory role"
                yield Match.for_sas(
                    link.cluster,
                    sas,
                    # The permission is the problem, not the assignment that grants it (re-granting keeps it).
                    item=p.id,
                    cloud=AZURE,
                    principal=link.principal,
                    source=p.kind,
                    detail=f"{what} {p.name}",
                    severity=Severity.CRITICAL if p.level == TENANT else None,
                    evidence={
                        "kind": p.kind,
                        "id": p.id,
                        "name": p.name,
                        "why": p.why,
                        "granted_by": p.granted_by,
                        "resource": p.resource,
                        "binding": link.reason,
                        "file": p.source,
                    },
                )


RULES = (entra_privilege,)
