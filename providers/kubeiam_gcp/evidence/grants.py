"""A member's grants (its bindings, trust left out, as the model's `Grant`), worked out on first ask, and
the `Gap`s of those whose role's permissions are unknown.

Why on first ask: an estate binds far more members (users, groups, other projects' accounts) than the
links reach; only those asked about are turned into grants, and a role whose permissions are unknown is
named only for them.
"""

from __future__ import annotations

from kubeiam.vocabulary.model import Gap, Grant
from kubeiam.vocabulary.policy import Effect, Statement
from kubeiam_gcp.judge.catalogue import load_catalogue
from kubeiam_gcp.judge.trust import is_trust
from kubeiam_gcp.view import Binding

from .index import EvidenceIndex


class MemberGrants:
    """The one memo of the read: results depend only on the frozen index."""

    def __init__(self, index: EvidenceIndex) -> None:
        self._index = index
        self._grants: dict[str, tuple[Grant, ...]] = {}
        self._gaps: dict[str, tuple[Gap, ...]] = {}

    def of(self, member: str) -> tuple[Grant, ...]:
        grants = self._grants.get(member)
        if grants is None:
            bindings = [b for b in self._index.by_member.get(member, ()) if not is_trust(b)]
            perms = [self._index.permissions(b.role) for b in bindings]
            grants = self._grants[member] = tuple(_grant(b, p) for b, p in zip(bindings, perms, strict=True))
            unknown = {b.role: b for b, p in zip(bindings, perms, strict=True) if p is None}
            self._gaps[member] = tuple(self._unknown_role(b) for b in unknown.values())
        return grants

    def gaps_of(self, member: str) -> tuple[Gap, ...]:
        """The member's grants whose role's permissions are unknown (never read as "no permissions")."""
        self.of(member)
        return self._gaps[member]

    def _unknown_role(self, b: Binding) -> Gap:
        unread = self._index.unread
        if b.role in unread.roles:
            u = unread.roles[b.role]
            return Gap(u.file, u.item, f"{b.role}: {u.reason}")
        reason = (
            f"role {b.role} is neither in the predefined-role catalogue ({load_catalogue().date}) nor in "
            "custom-roles.json: its permissions are unknown"
        )
        project = b.role.split("/")[1] if b.role.startswith("projects/") else None
        note = unread.list_note(unread.role_lists, project)
        return Gap(b.source, b.grant_source, reason + (f" (the list may hold it: {note})" if note else ""))


def _grant(b: Binding, perms: frozenset[str] | None) -> Grant:
    statements = (_statement(b.role, perms),) if perms else ()
    cond = b.condition or {}
    return Grant(
        source=b.grant_source,
        kind="role-binding",
        statements=statements,
        role=b.role,
        scope=b.scope,
        scope_level=b.scope_level,
        condition=cond.get("expression") or (cond.get("title") if cond else None),
        document=b.document(),
    )


_STATEMENTS: dict[tuple[str, frozenset[str]], Statement] = {}


def _statement(role: str, perms: frozenset[str]) -> Statement:
    # Memoised per role across reads: roles/editor carries ~12,000 permissions; build its statement once.
    key = (role, perms)
    st = _STATEMENTS.get(key)
    if st is None:
        st = _STATEMENTS[key] = Statement(Effect.ALLOW, actions=tuple(sorted(perms)), sid=role)
    return st
