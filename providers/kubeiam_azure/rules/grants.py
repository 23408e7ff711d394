"""Rules on what an Azure identity is granted: role assignments judged once each (`judge_assignment`).

An assignment reported as admin-access is not reported again as escalation, data access or
broad scope: removing it is the one fix for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.identity_groups import identity_groups
from kubeiam.vocabulary.model import CloudIdentity, Inventory, LinkStatus
from kubeiam.vocabulary.rules import Match, rule
from kubeiam_azure.declarations import AZURE
from kubeiam_azure.judge.profile import DATA_BROAD_LEVELS, ROLE_ASSIGNMENTS_WRITE, AssignmentVerdict, scope_label
from kubeiam_azure.rules.escalation import Escalation, by_assignment, critical
from kubeiam_azure.rules.helpers import verdicts, view_of

REFS = ("https://learn.microsoft.com/azure/role-based-access-control/best-practices",)


def assignment_evidence(v: AssignmentVerdict) -> dict[str, Any]:
    """What every finding about an assignment shows (a finding adds the link's reason and its own)."""
    return {
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


class Judged(NamedTuple):
    """One judged assignment of an identity, with what every finding about it repeats."""

    verdict: AssignmentVerdict
    evidence: Mapping[str, Any]
    """`assignment_evidence(verdict)`: shared by the findings of every rule, never changed."""
    detail: str
    """The default finding title detail: `ROLE on SCOPE`."""


# Untrusted links are skipped (the token exchange fails: binding-broken says so); unchecked links with
# a known identity are kept, since nothing shows the access is not there.
_GRANTED = (LinkStatus.RESOLVED, LinkStatus.UNCHECKED, LinkStatus.MISSING)


def judged(inv: Inventory, identity: CloudIdentity) -> tuple[Judged, ...]:
    """The identity's assignments whose role is known, judged once per identity (keyed by the object,
    which the inventory keeps alive) whichever rule asks first."""
    memo: dict[int, tuple[Judged, ...]] = inv.memo("azure_judged", lambda _: {})
    found = memo.get(id(identity))
    if found is None:
        view = view_of(inv)
        own = view.object_ids.get(identity.principal) if view and view.memberships else None
        groups = {m.id: m.name for m in view.memberships.get(own, ())} if view and own else {}
        found = tuple(
            Judged(
                v,
                _inherited(assignment_evidence(v), v, own, groups),
                f"{v.role_name} on {scope_label(v.assignment.scope)}",
            )
            for v in verdicts(inv, identity)
            if v.profile is not None
        )
        memo[id(identity)] = found
    return found


def _inherited(
    evidence: dict[str, Any], v: AssignmentVerdict, own: str | None, groups: Mapping[str, str | None]
) -> dict[str, Any]:
    """An assignment to a group the identity is a member of (`group-memberships.json`) says so."""
    if own is None or v.assignment.principal_id == own or v.assignment.principal_id not in groups:
        return evidence
    return {
        **evidence,
        "inherited_from_group": {"id": v.assignment.principal_id, "name": groups[v.assignment.principal_id]},
    }


class Spec(NamedTuple):
    """What a grant rule says about one assignment (None: the assignment's defaults)."""

    item: str | None = None
    detail: str | None = None
    severity: Severity | None = None
    source: str | None = None
    extra: Mapping[str, Any] = MappingProxyType({})
    """Evidence after the assignment's own."""


Judge = Callable[[AssignmentVerdict], Iterable[Spec]]


def _grant_matches(inv: Inventory, judge: Judge) -> Iterator[Match]:
    """One Match per (ServiceAccounts of one identity and link reason, spec `judge` gives for one of
    its assignments): item the role definition, source the assignment id unless the spec says otherwise.
    Judged once per identity, not per ServiceAccount."""
    return _identity_grant_matches(inv, lambda _identity: judge)


def _identity_grant_matches(inv: Inventory, judge_for: Callable[[CloudIdentity], Judge]) -> Iterator[Match]:
    """`_grant_matches` for rules whose judgement of an assignment depends on the identity's other ones."""
    for group in identity_groups(inv, AZURE, _GRANTED):
        if group.link.identity is None:
            continue
        judge = judge_for(group.link.identity)
        found = [(j, spec) for j in judged(inv, group.link.identity) for spec in judge(j.verdict)]
        for link, sas in group.by_reason if found else ():
            for j, spec in found:
                a = j.verdict.assignment
                yield Match.for_sas(
                    link.cluster,
                    sas,
                    item=spec.item or a.role_id,
                    cloud=AZURE,
                    principal=link.principal,
                    source=spec.source or a.id,
                    detail=spec.detail or j.detail,
                    evidence={**j.evidence, "binding": link.reason, **spec.extra},
                    severity=spec.severity,
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
    cloud=AZURE,
    references=(*REFS, "https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/privileged"),
)
def admin_access(inv: Inventory) -> Iterator[Match]:
    return _grant_matches(inv, lambda v: [Spec()] if v.admin else [])


@rule(
    "AZ-002",
    "Azure identity can escalate its privileges",
    Category.PRIVILEGE_ESCALATION,
    Severity.HIGH,
    rationale=(
        "Microsoft.Authorization/roleAssignments/write (User Access Administrator, Role Based Access "
        "Control Administrator, `Microsoft.Authorization/*/write`) grants any role, Owner included; "
        "roleDefinitions/write widens a custom role already assigned; federatedIdentityCredentials/write, or "
        "userAssignedIdentities/assign/action with a VM, app or function it can create, makes this workload "
        "another managed identity; VM and scale-set run command or extensions, App Service, Functions, Logic "
        "Apps and Automation writes run code as the identities attached there (an AKS node pool's kubelet and "
        "add-on identities included); the AKS admin credential or run command makes it cluster-admin; a Key "
        "Vault access-policy write grants itself the vault's secrets. Critical when the path, followed through "
        "other identities, ends at an administrator."
    ),
    remediation=(
        "Remove the role, or constrain it: a Role Based Access Control Administrator assignment with a "
        "condition limiting which roles and principals it may assign; narrow run command, extension and "
        "identity-assignment rights to the resources the workload manages."
    ),
    cloud=AZURE,
    references=(
        *REFS,
        "https://learn.microsoft.com/azure/role-based-access-control/delegate-role-assignments-overview",
        "https://learn.microsoft.com/azure/role-based-access-control/resource-provider-operations",
    ),
)
def privilege_escalation(inv: Inventory) -> Iterator[Match]:
    return _identity_grant_matches(inv, lambda identity: _escalation(by_assignment(inv, identity)))


def _escalation(judged: Mapping[str, Escalation]) -> Judge:
    def judge(v: AssignmentVerdict) -> list[Spec]:
        e = judged.get(v.assignment.id)
        if v.admin or e is None:
            return []
        # Why critical: unconstrained role-assignment writes at subscription or management-group scope are
        # Owner in one step (assign Owner to yourself); any method whose path ends at an administrator too.
        constrained = not v.unconditional
        direct = ROLE_ASSIGNMENTS_WRITE in e.actions and v.broad and not constrained
        severity = Severity.CRITICAL if direct or critical(e) else None
        detail = f"{v.role_name} ({e.labels}) on {scope_label(v.assignment.scope)}"
        extra = {**e.evidence(), "constrained_by_condition": constrained}
        return [Spec(detail=detail, severity=severity, extra=extra)]

    return judge


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
    cloud=AZURE,
    references=("https://learn.microsoft.com/azure/role-based-access-control/custom-roles",),
)
def wildcard_actions(inv: Inventory) -> Iterator[Match]:
    return _grant_matches(inv, _wildcards)


def _wildcards(v: AssignmentVerdict) -> list[Spec]:
    if v.admin or not v.profile or not v.profile.custom:
        return []
    # The problem is the role definition: one finding per role and pattern, not per assignment.
    return [
        Spec(
            item=pattern,
            detail=f"'{pattern}' in custom role {v.role_name}",
            source=f"roleDefinition/{v.assignment.role_id}",
            extra={"action": pattern},
        )
        for pattern in v.profile.wildcard_actions
    ]


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
    cloud=AZURE,
    references=("https://learn.microsoft.com/azure/role-based-access-control/conditions-overview",),
)
def data_access(inv: Inventory) -> Iterator[Match]:
    return _grant_matches(inv, _data_access)


def _data_access(v: AssignmentVerdict) -> list[Spec]:
    p = v.profile
    if v.admin or not p or v.level not in DATA_BROAD_LEVELS or not v.unconditional:
        return []
    found = p.sensitive_data + tuple(a for a in p.wildcard_data_actions if a not in p.sensitive_data)
    if not found:
        return []
    # High at subscription or management-group scope when it can do more than read data (write, delete,
    # wildcards, secret and key operations); plain reads stay medium, as project-wide reads do on GCP.
    reads_only = all(a.lower().endswith("/read") and "*" not in a for a in found)
    return [Spec(severity=Severity.HIGH if v.broad and not reads_only else None, extra={"data_actions": list(found)})]


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
    cloud=AZURE,
    references=("https://learn.microsoft.com/azure/storage/blobs/storage-auth-abac",),
)
def missing_condition(inv: Inventory) -> Iterator[Match]:
    return _grant_matches(inv, _missing_condition)


def _missing_condition(v: AssignmentVerdict) -> list[Spec]:
    p = v.profile
    # Broader scopes are AZ-004's; a container or queue scope is already as narrow as it gets.
    if v.admin or not p or v.level != "resource" or not v.unconditional:
        return []
    if "/containers/" in v.assignment.scope.lower() or "/queues/" in v.assignment.scope.lower():
        return []
    capable = [a for a in p.data_actions if a.lower().startswith(tuple(c.lower() for c in _CONDITION_CAPABLE))]
    return [Spec(extra={"data_actions": capable})] if capable else []


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
    cloud=AZURE,
    references=REFS,
)
def broad_scope(inv: Inventory) -> Iterator[Match]:
    return _grant_matches(
        inv, lambda v: [Spec()] if v.broad and not v.admin and v.profile and not v.profile.read_only else []
    )


RULES = (admin_access, privilege_escalation, wildcard_actions, data_access, missing_condition, broad_scope)
