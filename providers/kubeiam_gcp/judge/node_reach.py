"""What a GKE node's own credentials reach: the node service account's grants (conditions and deny rules
judged as for any identity) cut down to the pool's OAuth scopes (pure, memoised per pool)."""

from __future__ import annotations

from dataclasses import dataclass

from kubeiam.vocabulary.model import Inventory
from kubeiam_gcp.view import NodePool, view_of

from .grants import BROAD_LEVELS, judge_principal
from .profile import RoleProfile, classify
from .scopes import Scopes, scopes_of, within

_RANK = {"admin": 3, "escalation": 2, "data": 1, "limited": 0}


@dataclass(frozen=True, slots=True)
class NodeReach:
    level: str
    """`admin`, `escalation`, `data` or `limited`."""
    roles: tuple[str, ...]
    """The node account's grants in force (`ROLE@SCOPE`)."""
    scopes: str
    """What the scopes leave, in words, for evidence."""
    strongest: tuple[str, ...] = ()
    """The grants that give `level`."""


def node_reach(inv: Inventory, pool: NodePool) -> NodeReach:
    memo: dict[tuple[str, str], NodeReach] = inv.memo("gcp_node_reach", lambda _: {})
    key = (pool.cluster, pool.name)
    found = memo.get(key)
    if found is None:
        found = memo[key] = _judge(inv, pool)
    return found


def _judge(inv: Inventory, pool: NodePool) -> NodeReach:
    view = view_of(inv)
    email = pool.service_account
    grants = view.grants.get(f"serviceAccount:{email}", ())
    judged = judge_principal(inv, email, grants)
    scopes = scopes_of(pool.oauth_scopes) if pool.oauth_scopes is not None else None
    if scopes is None:
        said = "oauthScopes not in the evidence: read as cloud-platform"
    elif scopes.unknown:
        said = f"scopes {', '.join(scopes.unknown)} are not known to kubeiam: read as cloud-platform"
    elif scopes.everything:
        said = "cloud-platform: every API the account's roles allow"
    else:
        opened = sorted({*scopes.write, *(f"{p} (read)" for p in scopes.read)})
        said = f"only {', '.join(opened) or 'no API'}: the account's other permissions do not reach the node"
    best, strongest = "limited", []
    for g, p in judged:
        profile = p if scopes is None or scopes.everything else _within(inv, g.role or "", scopes)
        level = _level(profile, g.scope_level in BROAD_LEVELS)
        if _RANK[level] > _RANK[best]:
            best, strongest = level, [g.source]
        elif level == best and level != "limited":
            strongest.append(g.source)
    return NodeReach(best, tuple(g.source for g, _ in judged), said, tuple(strongest[:3]))


def _level(profile: RoleProfile, broad: bool) -> str:
    if profile.admin:
        return "admin"
    if profile.escalation and broad:
        return "escalation"
    if profile.data and broad:
        return "data"
    return "limited"


_SCOPED: dict[tuple[frozenset[str], Scopes], frozenset[str]] = {}


def _within(inv: Inventory, role: str, scopes: Scopes) -> RoleProfile:
    perms = view_of(inv).permissions_of(role) or frozenset()
    kept = _SCOPED.get((perms, scopes))
    if kept is None:
        kept = _SCOPED[(perms, scopes)] = within(perms, scopes)
    # Why another name: Owner or Editor cut down to storage reads is no longer admin access.
    return classify(f"{role} within scopes", kept)
