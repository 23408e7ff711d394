"""A member's grants (its bindings, trust left out, as the model's `Grant`), worked out on first ask.

Why on first ask: an estate binds far more members (users, groups, other projects' accounts) than the
links reach; only those asked about are turned into grants, and a role whose permissions are unknown is
named in the coverage only for them.
"""

from __future__ import annotations

from kubeiam.vocabulary.model import CoverageError, Grant
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
        self._unknown: list[CoverageError] = []

    def of(self, member: str) -> tuple[Grant, ...]:
        grants = self._grants.get(member)
        if grants is None:
            grants = tuple(self._grant(b) for b in self._index.by_member.get(member, ()) if not is_trust(b))
            self._grants[member] = grants
        return grants

    @property
    def unknown_roles(self) -> tuple[CoverageError, ...]:
        """Coverage for the grants worked out so far whose role's permissions are unknown."""
        return tuple(self._unknown)

    def _grant(self, b: Binding) -> Grant:
        perms = self._index.permissions(b.role)
        if perms is None:
            self._unknown.append(
                CoverageError(
                    "gcp",
                    b.source,
                    f"role {b.role} is neither in the predefined-role catalogue "
                    f"({load_catalogue().date}) nor in custom-roles.json: its permissions are unknown",
                    subject=b.member,
                )
            )
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
