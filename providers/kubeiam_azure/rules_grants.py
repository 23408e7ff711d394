"""Rules on what an Azure identity is granted: role assignments judged once each (profile.judge).

An assignment reported as admin-access is not reported again as escalation, data access or
broad scope: removing it is the one fix for all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeiam.findings import Category, Severity
from kubeiam.model import Cloud, IdentityLink, Inventory, LinkStatus, ServiceAccount
from kubeiam.rules.base import Match, rule
from kubeiam_azure.profile import DATA_BROAD_LEVELS, ROLE_ASSIGNMENTS_WRITE, Verdict, scope_label
from kubeiam_azure.view import AzureView

REFS = ("https://learn.microsoft.com/azure/role-based-access-control/best-practices",)


def view_of(inv: Inventory) -> AzureView | None:
    view = inv.views.get("azure")
    return view if isinstance(view, AzureView) else None


def granted(inv: Inventory) -> Iterator[tuple[ServiceAccount, IdentityLink, Verdict]]:
    """Each (ServiceAccount, link, judged assignment) an Azure identity gives a ServiceAccount.

    Untrusted links are skipped (the token exchange fails: binding-broken says so); unchecked
    links with a known identity are kept, since nothing shows the access is not there.
    """
    view = view_of(inv)
    if view is None:
        return
    for sa, link in inv.links_in(Cloud.AZURE):
        if link.identity is None or link.status is LinkStatus.UNTRUSTED:
            continue
        for v in view.verdicts(link.identity):
            if v.profile is not None:
                yield sa, link, v


def evidence(v: Verdict, link: IdentityLink | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "role_assignment": v.assignment.id,
        "role": v.role_name,
        "role_definition_id": v.assignment.role_id,
        "scope": v.assignment.scope,
        "scope_level": v.level,
        "condition": v.assignment.condition,
        "permissions": [
            {
                "actions": list(p.actions),
                "notActions": list(p.not_actions),
                "dataActions": list(p.data_actions),
                "notDataActions": list(p.not_data_actions),
                "condition": p.condition,
            }
            for p in (v.role.permissions if v.role else ())
        ],
        "file": v.assignment.source,
    }
    if link is not None:
        out["binding"] = link.reason
    out.update(extra)
    return out


def _match(
    sa: ServiceAccount, link: IdentityLink, v: Verdict, item: str | None = None, detail: str | None = None, **kw: Any
) -> Match:
    """One finding per (ServiceAccount, assignment): item the role definition, source the assignment id."""
    ev = kw.pop("extra", {})
    return Match.for_sa(
        sa,
        item=item or v.assignment.role_id,
        cloud="azure",
        principal=link.principal,
        source=kw.pop("source", v.assignment.id),
        detail=detail or f"{v.role_name} on {scope_label(v.assignment.scope)}",
        evidence=evidence(v, link, **ev),
        **kw,
    )


@rule(
    "AZ-001",
    "Azure identity has admin access",
    Category.ADMIN_ACCESS,
    Severity.CRITICAL,
    rationale=(
        "Owner can do everything at its scope, including granting any role to anyone. Contributor "
        "(or any role with `*` actions) at subscription or management-group scope can change every "
        "resource there. A compromised pod then owns the subscription."
    ),
    remediation="Remove the assignment; grant the workload a narrow built-in or custom role on the resources it uses.",
    cloud="azure",
    references=(*REFS, "https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/privileged"),
)
def admin_access(inv: Inventory) -> Iterator[Match]:
    for sa, link, v in granted(inv):
        if v.admin:
            yield _match(sa, link, v)


@rule(
    "AZ-002",
    "Azure identity can escalate its privileges",
    Category.PRIVILEGE_ESCALATION,
    Severity.HIGH,
    rationale=(
        "Microsoft.Authorization/roleAssignments/write (User Access Administrator, Role Based Access "
        "Control Administrator, `Microsoft.Authorization/*/write`) grants any role, Owner included; "
        "roleDefinitions/write widens a custom role already assigned; federatedIdentityCredentials/write "
        "lets this workload's token become another managed identity."
    ),
    remediation=(
        "Remove the role, or constrain it: a Role Based Access Control Administrator assignment with a "
        "condition limiting which roles and principals it may assign."
    ),
    cloud="azure",
    references=(
        *REFS,
        "https://learn.microsoft.com/azure/role-based-access-control/delegate-role-assignments-overview",
    ),
)
def privilege_escalation(inv: Inventory) -> Iterator[Match]:
    for sa, link, v in granted(inv):
        if v.admin or not v.escalation:
            continue
        # Why critical: unconstrained role-assignment writes at subscription or management-group
        # scope are Owner in one step (assign Owner to yourself).
        constrained = not v.unconditional
        severity = Severity.CRITICAL if ROLE_ASSIGNMENTS_WRITE in v.escalation and v.broad and not constrained else None
        yield _match(
            sa,
            link,
            v,
            detail=f"{v.role_name} ({', '.join(_short(a) for a in v.escalation)}) on {scope_label(v.assignment.scope)}",
            severity=severity,
            extra={"escalation_actions": list(v.escalation), "constrained_by_condition": constrained},
        )


def _short(action: str) -> str:
    """`Microsoft.Authorization/roleAssignments/write` -> `roleAssignments/write`."""
    return "/".join(action.split("/")[-2:])


@rule(
    "AZ-003",
    "Custom role grants wildcard actions",
    Category.WILDCARD_ACTION,
    Severity.MEDIUM,
    rationale=(
        "`*` or `Provider/*` in a custom role grants every current and future action of the provider, "
        "deletes and permission changes included."
    ),
    remediation="List the actions the workload calls in the custom role instead of the wildcard.",
    cloud="azure",
    references=("https://learn.microsoft.com/azure/role-based-access-control/custom-roles",),
)
def wildcard_actions(inv: Inventory) -> Iterator[Match]:
    for sa, link, v in granted(inv):
        if v.admin or not v.profile or not v.profile.custom:
            continue
        for pattern in v.profile.wildcard_actions:
            # The problem is the role definition: one finding per role and pattern, not per assignment.
            yield _match(
                sa,
                link,
                v,
                pattern,
                f"'{pattern}' in custom role {v.role_name}",
                source=f"roleDefinition/{v.assignment.role_id}",
                extra={"action": pattern},
            )


@rule(
    "AZ-004",
    "Broad unconditioned read of storage or key-vault data",
    Category.DATA_ACCESS,
    Severity.MEDIUM,
    rationale=(
        "A data role (or listKeys, or wildcard data actions) at resource-group, subscription or "
        "management-group scope reads every blob, file, queue, table, secret or key there, including "
        "stores created later."
    ),
    remediation=(
        "Assign the data role on the one storage account, container or key vault the workload uses, "
        "or add an ABAC condition (e.g. on @Resource[...containers:name])."
    ),
    cloud="azure",
    references=("https://learn.microsoft.com/azure/role-based-access-control/conditions-overview",),
)
def data_access(inv: Inventory) -> Iterator[Match]:
    for sa, link, v in granted(inv):
        p = v.profile
        if v.admin or not p or v.level not in DATA_BROAD_LEVELS or not v.unconditional:
            continue
        found = p.sensitive_data + tuple(a for a in p.wildcard_data_actions if a not in p.sensitive_data)
        if found:
            yield _match(
                sa,
                link,
                v,
                severity=Severity.HIGH if v.broad else None,
                extra={"data_actions": list(found)},
            )


_CONDITION_CAPABLE = (
    "Microsoft.Storage/storageAccounts/blobServices/",
    "Microsoft.Storage/storageAccounts/queueServices/",
)


@rule(
    "AZ-005",
    "Storage data-plane assignment without a condition",
    Category.MISSING_CONDITION,
    Severity.LOW,
    rationale=(
        "Blob and queue data roles support ABAC conditions (container, path, tags). Without one, a "
        "role on a storage account reaches every container in it."
    ),
    remediation="Add a role assignment condition limiting the containers (or blob paths) the workload reads or writes.",
    cloud="azure",
    references=("https://learn.microsoft.com/azure/storage/blobs/storage-auth-abac",),
)
def missing_condition(inv: Inventory) -> Iterator[Match]:
    for sa, link, v in granted(inv):
        p = v.profile
        # Broader scopes are AZ-004's; a container or queue scope is already as narrow as it gets.
        if v.admin or not p or v.level != "resource" or not v.unconditional:
            continue
        if "/containers/" in v.assignment.scope.lower() or "/queues/" in v.assignment.scope.lower():
            continue
        capable = [a for a in p.data_actions if a.lower().startswith(tuple(c.lower() for c in _CONDITION_CAPABLE))]
        if capable:
            yield _match(
                sa,
                link,
                v,
                extra={"data_actions": capable},
            )


@rule(
    "AZ-006",
    "Azure role assigned at subscription or management-group scope",
    Category.BROAD_SCOPE,
    Severity.MEDIUM,
    rationale=(
        "A workload rarely needs a role on every resource group of a subscription; an assignment "
        "there also covers everything created later. Read-only roles are not reported."
    ),
    remediation="Re-create the assignment on the resource group or resource the workload uses.",
    cloud="azure",
    references=REFS,
)
def broad_scope(inv: Inventory) -> Iterator[Match]:
    for sa, link, v in granted(inv):
        if v.broad and not v.admin and v.profile and not v.profile.read_only:
            yield _match(sa, link, v)


GRANT_RULES = (admin_access, privilege_escalation, wildcard_actions, data_access, missing_condition, broad_scope)
