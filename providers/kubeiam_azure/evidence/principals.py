"""Each Azure principal as a `CloudIdentity`: its role assignments as grants, and the gaps of what could
not be understood (an assignment, a role definition, a credential), so it is audited on the rest and
listed as partly checked, never clean."""

from __future__ import annotations

from kubeiam.vocabulary.model import CloudIdentity, Gap, Grant
from kubeiam.vocabulary.policy import Statement
from kubeiam_azure.declarations import AZURE
from kubeiam_azure.evidence.files import Files
from kubeiam_azure.judge.catalogue import role_definition
from kubeiam_azure.judge.profile import scope_level, statements
from kubeiam_azure.view import KnownIdentity, ManagedIdentity, Membership, RoleAssignment, RoleDefinition


class Principals:
    """Builds each CloudIdentity once, its grants once per assignment (shared between identities)."""

    def __init__(self, files: Files) -> None:
        self.files = files
        self.by_principal: dict[str, list[RoleAssignment]] = {}
        for a in sorted(files.assignments.values(), key=lambda a: a.id):
            self.by_principal.setdefault(a.principal_id, []).append(a)
        self.grants: dict[str, tuple[Grant, tuple[Gap, ...]]] = {}
        self.statements: dict[str, tuple[Statement, ...]] = {}
        """By role definition GUID: a role's statements are shared by all its assignments."""
        self.built: dict[str, CloudIdentity] = {}
        # Unattributed gaps concern everyone: computed once, shared by every identity.
        self.everyone = tuple(files.unread_assignments)

    def grant(self, a: RoleAssignment, group: Membership | None = None) -> tuple[Grant, tuple[Gap, ...]]:
        """One assignment as a Grant (`group`: the group it is inherited through; the same for every member)."""
        found = self.grants.get(a.id)
        if found is None:
            role = role_definition(self.files.roles, a.role_id)
            gaps = tuple(self.files.role_gaps.get(a.role_id, ()))
            if role is None:
                unread = self.files.unread_roles
                why = f" ({unread[0].location}: {unread[0].item}: {unread[0].reason})" if unread else ""
                gaps += (
                    Gap(
                        a.source,
                        f"role assignment {a.id}",
                        f"role definition {a.role_id} not found (custom role missing from role-definitions.json?)"
                        + why,
                    ),
                )
            grant = Grant(
                source=a.id,
                kind="role-assignment",
                statements=self._statements(role) if role else (),
                role=role.name if role else (a.role_name or a.role_id),
                scope=a.scope,
                scope_level=scope_level(a.scope),
                condition=a.condition,
                document={
                    "id": a.id,
                    "roleDefinitionId": a.role_id,
                    "roleDefinitionName": role.name if role else a.role_name,
                    "scope": a.scope,
                    "principalId": a.principal_id,
                    "condition": a.condition,
                    "file": a.source,
                    **({"inheritedFrom": {"group": group.id, "displayName": group.name}} if group else {}),
                },
            )
            found = self.grants[a.id] = (grant, gaps)
        return found

    def _statements(self, role: RoleDefinition) -> tuple[Statement, ...]:
        found = self.statements.get(role.id)
        if found is None:
            found = self.statements[role.id] = statements(role)
        return found

    def get(self, principal: str, object_id: str, name: str, source: str, extra: tuple[Gap, ...] = ()) -> CloudIdentity:
        ident = self.built.get(principal)
        if ident is None:
            judged = [self.grant(a) for a in self.by_principal.get(object_id, ())]
            unread = list(self.files.assignment_gaps.get(object_id, ()))
            # Assignments to the groups it is a member of are its own too (ABAC conditions kept with them).
            for m in self.files.memberships.get(object_id, ()):
                if m.kind == "group":
                    judged += [self.grant(a, m) for a in self.by_principal.get(m.id, ())]
                    unread += self.files.assignment_gaps.get(m.id, ())
            judged = list({g.source: (g, gs) for g, gs in judged}.values())
            gaps = (
                *extra,
                *(g for _, gs in judged for g in gs),
                *unread,
                *self.files.membership_gaps.get(object_id, ()),
                *self.files.app_role_gaps.get(object_id, ()),
                *self.everyone,
            )
            grants = tuple(g for g, _ in judged)
            ident = CloudIdentity(
                AZURE, principal, "managed-identity", name, grants, source, tuple(dict.fromkeys(gaps))
            )
            self.built[principal] = ident
        return ident

    def of(self, mi: ManagedIdentity) -> CloudIdentity:
        ident = self.built.get(mi.id)  # most ServiceAccounts share an identity built already
        if ident is None:
            extra = (*self.files.identity_gaps.get(mi.id, ()), *self.files.federated_gaps.get(mi.id, ()))
            ident = self.get(mi.id, mi.principal_id, mi.name, mi.source, extra)
        return ident

    def known(self, k: KnownIdentity, source: str) -> CloudIdentity | None:
        if not k.object_id:
            return None
        principal = k.resource_id or k.object_id
        return self.get(principal, k.object_id, principal.rsplit("/", 1)[-1], source)
