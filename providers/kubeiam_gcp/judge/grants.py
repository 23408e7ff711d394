"""An identity's grants judged: each grant's role profile, worked out once per identity, and where it applies.

A role granted to a Google identity says the same about every ServiceAccount that takes the identity,
so grants are judged once per identity (keyed by the identity object the reader shares).
"""

from __future__ import annotations

from kubeiam.vocabulary.model import CloudIdentity, Grant, Inventory
from kubeiam_gcp.view import GcpView, view_of

from .profile import RoleProfile, classify

BROAD_LEVELS = ("project", "folder", "organization")

JudgedGrants = tuple[tuple[Grant, RoleProfile], ...]


def grant_scope(principal: str, grant: Grant) -> str:
    """Where a grant applies, as `RoleProfile.escalation_on` understands it."""
    if grant.scope_level in BROAD_LEVELS:
        return "broad"
    scope = grant.scope or ""
    if "/serviceAccounts/" in scope:
        return "own-account" if scope.rsplit("/", 1)[-1] == principal else "other-account"
    return "resource"


def judged_grants(inv: Inventory, identity: CloudIdentity | None) -> JudgedGrants:
    """(grant, profile) for each grant of `identity` whose role's permissions are known; once per
    identity (keyed by the object, which the inventory keeps alive), whichever rule asks first."""
    memo: dict[int, JudgedGrants] = inv.memo("gcp_judged", lambda _: {})
    judged = memo.get(id(identity))
    if judged is None:
        view = view_of(inv)
        grants = identity.grants if identity else ()
        judged = memo[id(identity)] = tuple((g, p) for g in grants if (p := _profile(view, g)) is not None)
    return judged


def holds_admin(inv: Inventory, identity: CloudIdentity | None) -> bool:
    return any(p.admin for _, p in judged_grants(inv, identity))


def _profile(view: GcpView, grant: Grant) -> RoleProfile | None:
    perms = view.permissions.get(grant.role or "")
    return classify(grant.role or "", perms) if perms is not None else None
