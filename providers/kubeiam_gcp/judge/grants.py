"""An identity's grants judged: each grant's role profile, worked out once per identity, and where it applies.

A role granted to a Google identity says the same about every ServiceAccount that takes the identity,
so grants are judged once per identity (keyed by its principal, which names one set of grants).
Judged at the audit's time: a grant whose IAM condition is false now and for ever after (expired) is
gone; the permissions deny rules take from the principal are taken from the grant's profile.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubeiam.vocabulary.model import CloudIdentity, Grant, Inventory
from kubeiam_gcp.view import view_of

from .conditions import INACTIVE, NONE, effect, expression_of
from .guardrails import NO_CUT, Cut, cut_of
from .profile import RoleProfile, classify

BROAD_LEVELS = ("project", "folder", "organization")

JudgedGrants = tuple[tuple[Grant, RoleProfile], ...]


@dataclass(frozen=True, slots=True)
class GrantNote:
    """How a grant was judged besides its role: its condition's effect, what deny rules took."""

    condition: str
    """`none`, `always`, `temporary`, `later`, `scoped` (judge/conditions.py)."""
    cut: Cut = NO_CUT


def grant_scope(principal: str, grant: Grant) -> str:
    """Where a grant applies, as `RoleProfile.escalation_on` understands it."""
    if grant.scope_level in BROAD_LEVELS:
        return "broad"
    scope = grant.scope or ""
    if "/serviceAccounts/" in scope:
        return "own-account" if scope.rsplit("/", 1)[-1] == principal else "other-account"
    return "resource"


def judged_grants(inv: Inventory, identity: CloudIdentity | None) -> JudgedGrants:
    """(grant, profile) for each grant of `identity` in force whose role's permissions are known; once per
    identity, whichever rule asks first."""
    if identity is None:
        return ()
    return judge_principal(inv, identity.principal, identity.grants)


def judge_principal(inv: Inventory, principal: str, grants: tuple[Grant, ...]) -> JudgedGrants:
    """The same for any principal (a reached account has no CloudIdentity): memoised by principal."""
    memo: dict[str, JudgedGrants] = inv.memo("gcp_judged", lambda _: {})
    judged = memo.get(principal)
    if judged is None:
        view = view_of(inv)
        notes = _notes(inv)
        out = []
        for g in grants:
            perms = view.permissions_of(g.role or "")
            if perms is None:
                continue
            note = GrantNote(condition_effect(inv, g), cut_of(inv, principal, g))
            if note.condition == INACTIVE:
                continue  # expired: no longer a grant
            if note.cut.permissions:
                perms = _remaining(perms, note.cut.permissions)
            notes[(principal, g.source)] = note
            out.append((g, classify(g.role or "", perms)))
        judged = memo[principal] = tuple(out)
    return judged


def note_of(inv: Inventory, principal: str, grant: Grant) -> GrantNote:
    return _notes(inv).get((principal, grant.source)) or GrantNote(condition_effect(inv, grant))


def condition_effect(inv: Inventory, grant: Grant) -> str:
    """The grant's condition at the audit's time. One that holds no CEL text (a title only) counts as
    none: the wider reading, as a condition that cannot be read does."""
    return effect(expression_of((grant.document or {}).get("condition")), inv.as_of) if grant.condition else NONE


def holds_admin(inv: Inventory, identity: CloudIdentity | None) -> bool:
    return any(p.admin for _, p in judged_grants(inv, identity))


def _notes(inv: Inventory) -> dict[tuple[str, str], GrantNote]:
    notes: dict[tuple[str, str], GrantNote] = inv.memo("gcp_grant_notes", lambda _: {})
    return notes


_REMAINING: dict[tuple[frozenset[str], frozenset[str]], frozenset[str]] = {}


def _remaining(perms: frozenset[str], denied: frozenset[str]) -> frozenset[str]:
    # One object per (role, cut): the profile memo is keyed by the permission set's identity.
    found = _REMAINING.get((perms, denied))
    if found is None:
        found = _REMAINING[(perms, denied)] = perms - denied
    return found
