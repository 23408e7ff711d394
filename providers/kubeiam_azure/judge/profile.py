"""What a role definition allows, and what one assignment of it means: computed once, memoised.

Azure semantics: a role allows the union over its `permissions` of (actions minus notActions),
and likewise for data actions. Each permission maps onto one `kubeiam.vocabulary.policy.Statement`
(actions / not_actions), so matching uses the shared, case-insensitive glob semantics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from kubeiam.vocabulary.policy import Condition, Effect, Statement
from kubeiam_azure.judge.escalation import Held, assignment_methods, groups_held
from kubeiam_azure.view import Permission, RoleAssignment, RoleDefinition

ROLE_ASSIGNMENTS_WRITE = "Microsoft.Authorization/roleAssignments/write"
ROLE_DEFINITIONS_WRITE = "Microsoft.Authorization/roleDefinitions/write"
FIC_WRITE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write"
# Why these three: each lets the holder give itself more. Writing a role assignment grants any
# role (Owner) at the scope; rewriting a custom role definition that is assigned to you widens
# it; adding a federated credential to another managed identity lets your own token become it.
ESCALATION_ACTIONS = (ROLE_ASSIGNMENTS_WRITE, ROLE_DEFINITIONS_WRITE, FIC_WRITE)

# Data (and the one management action) that read what storage accounts and key vaults hold.
SENSITIVE_DATA_ACTIONS = (
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
    "Microsoft.Storage/storageAccounts/fileServices/fileshares/files/read",
    "Microsoft.Storage/storageAccounts/queueServices/queues/messages/read",
    "Microsoft.Storage/storageAccounts/tableServices/tables/entities/read",
    "Microsoft.KeyVault/vaults/secrets/getSecret/action",
    "Microsoft.KeyVault/vaults/keys/decrypt/action",
    "Microsoft.KeyVault/vaults/keys/unwrap/action",
)
# listKeys returns the storage account keys: every blob, file, queue and table, no data role needed.
SENSITIVE_ACTIONS = ("Microsoft.Storage/storageAccounts/listKeys/action",)

_PROVIDER_WILDCARD = re.compile(r"^[^/*]+/\*$")
# `*/write`, `*/delete`, `*/action`: one verb on every resource of every provider, broader than any
# `Provider/*`. `*/read` is Reader's pattern (read_only), not a wildcard finding.
_ANY_PROVIDER = re.compile(r"^\*/(?!read$).+$", re.IGNORECASE)
# Opening support tickets: in most built-in reader roles, and harmless. Not a wildcard finding,
# and it does not stop a role from counting as read-only.
BENIGN = ("microsoft.support/*",)

SCOPE_ROOT = "management-group"
BROAD_LEVELS = ("management-group", "subscription")
DATA_BROAD_LEVELS = ("management-group", "subscription", "resource-group")


@dataclass(frozen=True, slots=True)
class RoleProfile:
    """What a role definition allows, independent of where it is assigned."""

    role_id: str
    role_name: str
    custom: bool
    all_actions: bool
    """Allows `*` (every management action), like Owner and Contributor."""
    escalation: tuple[str, ...]
    """ESCALATION_ACTIONS it allows."""
    wildcard_actions: tuple[str, ...]
    """`*` or `Provider/*` in actions, as written."""
    data_actions: tuple[str, ...]
    """Every data action pattern it allows, as written (minus none: notDataActions are kept aside)."""
    wildcard_data_actions: tuple[str, ...]
    sensitive_data: tuple[str, ...]
    """SENSITIVE_DATA_ACTIONS / SENSITIVE_ACTIONS it allows."""
    read_only: bool
    """Every action pattern is a read (`.../read`) and there are no data actions (Reader, AcrPull)."""
    held: tuple[tuple[tuple[str, int], str], ...] = ()
    """((escalation method id, group index), the action that holds it): `judge.escalation` groups the role
    allows, wherever it is assigned."""

    @property
    def full_control(self) -> bool:
        """Every action including role assignments: Owner, or a custom role equal to it."""
        return self.all_actions and ROLE_ASSIGNMENTS_WRITE in self.escalation


def statements(role: RoleDefinition) -> tuple[Statement, ...]:
    """One statement per permission for actions, one for data actions; role conditions kept."""
    out = []
    for p in role.permissions:
        conditions = (Condition("AzureABAC", "condition", (p.condition,)),) if p.condition else ()
        if p.actions or p.not_actions:
            out.append(
                Statement(Effect.ALLOW, p.actions, p.not_actions, conditions=conditions, sid="actions", raw=_raw(p))
            )
        if p.data_actions or p.not_data_actions:
            out.append(
                Statement(
                    Effect.ALLOW,
                    p.data_actions,
                    p.not_data_actions,
                    conditions=conditions,
                    sid="dataActions",
                    raw=_raw(p),
                )
            )
    return tuple(out)


def _raw(p: Permission) -> dict[str, object]:
    return {
        "actions": list(p.actions),
        "notActions": list(p.not_actions),
        "dataActions": list(p.data_actions),
        "notDataActions": list(p.not_data_actions),
        "condition": p.condition,
    }


@lru_cache(maxsize=4096)
def profile(role: RoleDefinition) -> RoleProfile:
    stmts = statements(role)
    actions = [s for s in stmts if s.sid == "actions"]
    data = [s for s in stmts if s.sid == "dataActions"]

    def allowed(pool: list[Statement], action: str) -> list[Statement]:
        return [s for s in pool if s.actions and s.allows(action)]

    escalation = tuple(a for a in ESCALATION_ACTIONS if allowed(actions, a))
    action_patterns = [a for s in actions for a in s.actions]
    data_patterns = tuple(dict.fromkeys(a for s in data for a in s.actions))
    sensitive = tuple(a for a in SENSITIVE_DATA_ACTIONS if allowed(data, a)) + tuple(
        a for a in SENSITIVE_ACTIONS if allowed(actions, a)
    )
    return RoleProfile(
        role_id=role.id,
        role_name=role.name,
        custom=role.custom,
        all_actions=any("*" in s.actions and not s.conditions and _writes_everywhere(s) for s in actions),
        escalation=escalation,
        wildcard_actions=tuple(
            dict.fromkeys(
                a
                for a in action_patterns
                if (a == "*" or _PROVIDER_WILDCARD.match(a) or _ANY_PROVIDER.match(a)) and a.lower() not in BENIGN
            )
        ),
        data_actions=data_patterns,
        wildcard_data_actions=tuple(a for a in data_patterns if "*" in a),
        sensitive_data=sensitive,
        read_only=not data_patterns
        and all(a.lower().endswith("/read") or a.lower() in BENIGN for a in action_patterns),
        held=tuple(sorted(groups_held(stmts).items())),
    )


# Writes in the services most workloads touch: `*` minus some of these is not "everything".
_SENTINEL_WRITES = (
    "Microsoft.Compute/virtualMachines/write",
    "Microsoft.Storage/storageAccounts/write",
    "Microsoft.KeyVault/vaults/write",
    "Microsoft.Network/virtualNetworks/write",
)


def _writes_everywhere(s: Statement) -> bool:
    """`*` whose notActions leave the common writes in place, as Contributor's do (it only excludes
    Microsoft.Authorization writes and a few others). Why: a custom `*` minus `*/write`, `*/delete`
    and `*/action` is a reader, not an administrator."""
    return all(s.allows(action) for action in _SENTINEL_WRITES)


@lru_cache(maxsize=4096)
def scope_level(scope: str) -> str:
    """`management-group` (also the tenant root `/`), `subscription`, `resource-group`, `resource`.

    Memoised: a few scopes (subscriptions, resource groups) carry most assignments, and the reader,
    `judge_assignment` and titles each ask."""
    parts = [p for p in scope.strip().split("/") if p]
    if not parts or (len(parts) >= 3 and parts[1].lower() == "microsoft.management"):
        return SCOPE_ROOT
    if parts[0].lower() == "subscriptions":
        if len(parts) <= 2:
            return "subscription"
        if parts[2].lower() == "resourcegroups" and len(parts) <= 4:
            return "resource-group"
    return "resource"


def scope_label(scope: str) -> str:
    """A short name for titles: `subscription 8f3c...`, `resource group rg-apps`, `storageAccounts st1`."""
    parts = [p for p in scope.strip().split("/") if p]
    level = scope_level(scope)
    if not parts:
        return "the tenant root"
    if level == "management-group":
        return f"management group {parts[-1]}"
    if level == "subscription":
        return f"subscription {parts[1]}"
    if level == "resource-group":
        return f"resource group {parts[3]}"
    return f"{parts[-2]} {parts[-1]}" if len(parts) >= 2 else scope


@dataclass(frozen=True, slots=True)
class AssignmentVerdict:
    """One role assignment judged: its role's profile at its scope. Rules read only this."""

    assignment: RoleAssignment
    role: RoleDefinition | None
    profile: RoleProfile | None
    level: str
    admin: bool
    escalation: tuple[str, ...]
    """The actions of the escalation methods (`data/escalation-methods.json`) this assignment holds alone."""
    unconditional: bool
    """Neither the assignment nor the role's permissions carry an ABAC condition."""
    methods: tuple[Held, ...] = ()
    """The escalation methods this assignment holds alone, at a scope where they apply."""
    parts: tuple[tuple[str, int], ...] = ()
    """(method id, group index) it holds at its scope: a `combine` method may take its other groups from
    another assignment of the same identity (`judge.reach.identity_methods`)."""

    @property
    def broad(self) -> bool:
        return self.level in BROAD_LEVELS

    @property
    def role_name(self) -> str:
        if self.profile:
            return self.profile.role_name
        return self.assignment.role_name or self.assignment.role_id


@lru_cache(maxsize=65536)
def judge_assignment(assignment: RoleAssignment, role: RoleDefinition | None) -> AssignmentVerdict:
    """Memoised per (assignment, role): many ServiceAccounts share one identity's assignments."""
    level = scope_level(assignment.scope)
    if role is None:
        return AssignmentVerdict(assignment, role, None, level, False, (), assignment.condition is None)
    prof = profile(role)
    # Why Owner anywhere but Contributor only at subscription or management group: Owner can
    # grant itself anything at its scope and below; Contributor on one resource group is
    # large but bounded (its federated-credential writes are reported as escalation instead).
    admin = prof.full_control or (prof.all_actions and level in BROAD_LEVELS)
    methods, parts = assignment_methods(dict(prof.held), assignment.scope, level)
    escalation = tuple(dict.fromkeys(a for h in methods for a in h.actions))
    unconditional = assignment.condition is None and not any(p.condition for p in role.permissions)
    return AssignmentVerdict(assignment, role, prof, level, admin, escalation, unconditional, methods, parts)
