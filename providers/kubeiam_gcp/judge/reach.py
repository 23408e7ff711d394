"""Reach through other Google service accounts, to any depth (pure).

An identity becomes another service account when it can mint its tokens or keys
(`getAccessToken`, `signJwt`, `signBlob`, `serviceAccountKeys.create`), set its IAM policy, or act as it
(`actAs`) while it holds a way to run code (a deploy path: Cloud Run, Functions, Build, Scheduler,
Compute, OS Login). Granted on the account, that is one account; on a project, folder or organisation,
every account below it (one node of the graph, a "set", expanded once per inventory). Each account reached
is judged on its own grants, and what it reaches is followed in turn: a breadth-first walk with a
visited set (cycles end there), memoised per node, so that an estate where thousands of identities can
mint tokens project-wide walks the project once. What is reported is the strongest accounts reached and
the path to each, hop by hop.

A deploy path's permissions may come from another grant than the actAs (`runners`), and so may the
permissions of any method: `split_methods` are the methods an identity holds only across grants.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubeiam.vocabulary.model import Grant, Inventory
from kubeiam_gcp.view import GcpView, view_of

from .conditions import LATER, SCOPED, evaluate, expression_of
from .grants import BROAD_LEVELS, JudgedGrants, grant_scope, judge_principal, note_of
from .profile import ACT_AS, COMBINATIONS, HOPS, METHODS, RUNNERS, RoleProfile

POWER_RANK = {"admin": 3, "escalation": 2, "data": 1}
KEEP = 6
"""Reached accounts kept per node (the strongest): a report shows five, the walk's start may be one."""
_VIA_ORDER = (
    "iam.serviceAccounts.getAccessToken",
    "iam.serviceAccounts.signJwt",
    "iam.serviceAccounts.signBlob",
    "iam.serviceAccountKeys.create",
    "iam.serviceAccounts.setIamPolicy",
)


@dataclass(frozen=True, slots=True)
class Hop:
    """One edge: the holder becomes `target` (an email), or any account below the scope `target`."""

    target: str
    is_set: bool
    via: str
    grant: str
    """The grant that makes the edge (`ROLE@SCOPE`), what a fix removes."""
    condition: str | None = None
    """A resource condition of the grant, deciding which accounts of a set it reaches."""


@dataclass(frozen=True, slots=True)
class Reached:
    identity: str
    power: str
    holds: tuple[str, ...]
    path: tuple[Mapping[str, str], ...]
    """`{"identity", "via", "grant"}` per hop, the first hop's from the caller."""

    def document(self, first_via: str, first_grant: str) -> dict[str, Any]:
        path = [dict(h) for h in self.path]
        path[0] = {"identity": path[0]["identity"], "via": first_via, "grant": first_grant}
        return {"identity": self.identity, "power": self.power, "holds": list(self.holds), "path": path}


def judged_of(inv: Inventory, principal: str) -> JudgedGrants:
    """The principal's judged grants (a linked identity's were judged already; an account's on first ask)."""
    memo: dict[str, JudgedGrants] = inv.memo("gcp_judged", lambda _: {})
    found = memo.get(principal)
    if found is None:
        found = judge_principal(inv, principal, view_of(inv).accounts.get(principal, ()))
    return found


def runners(inv: Inventory, principal: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The deploy paths the principal holds at project level or above, across its grants: (method id,
    the grants that give its permissions)."""
    memo: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = inv.memo("gcp_runners", lambda _: {})
    found = memo.get(principal)
    if found is None:
        held = _broad_method_permissions(judged_of(inv, principal))
        found = memo[principal] = tuple(
            (m.id, _sources(held, m.permissions)) for m in RUNNERS.values() if m.permissions <= held.keys()
        )
    return found


def split_methods(inv: Inventory, principal: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Methods of several permissions (deploy paths aside) the principal holds only across grants at
    project level or above: (method id, the grants)."""
    judged = judged_of(inv, principal)
    parts = [p.method_permissions for g, p in judged if g.scope_level in BROAD_LEVELS and p.method_permissions]
    if len(parts) < 2:
        return ()  # one grant holds its methods whole (its own profile says so)
    union = frozenset().union(*parts)
    found = [(mid, needs) for mid, needs in _SPLITTABLE if needs <= union]
    if not found:
        return ()
    held = _broad_method_permissions(judged)
    out = []
    for mid, needs in found:
        sources = _sources(held, needs)
        if len(sources) > 1 and not any(f"method:{mid}" in p.escalation for _, p in judged):
            out.append((mid, sources))
    return tuple(out)


# Methods of several permissions, deploy paths aside (reported on the actAs grant, with `runners`).
_SPLITTABLE = tuple(
    (m.id, frozenset(p.lower() for p in COMBINATIONS[m.id])) for m in METHODS if not m.act_as and m.id in COMBINATIONS
)


def _broad_method_permissions(judged: JudgedGrants) -> dict[str, list[str]]:
    held: dict[str, list[str]] = {}
    for g, p in judged:
        if g.scope_level in BROAD_LEVELS:
            for perm in p.method_permissions:
                held.setdefault(perm, []).append(g.source)
    return held


def _sources(held: Mapping[str, list[str]], needs: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted({held[p][0] for p in needs}))


def edges(inv: Inventory, principal: str) -> tuple[Hop, ...]:
    """The accounts (or sets of accounts) the principal becomes in one hop, memoised."""
    memo: dict[str, tuple[Hop, ...]] = inv.memo("gcp_reach_edges", lambda _: {})
    found = memo.get(principal)
    if found is None:
        found = memo[principal] = tuple(h for g, p in judged_of(inv, principal) if (h := hop_of(inv, principal, g, p)))
    return found


def hop_of(inv: Inventory, principal: str, grant: Grant, profile: RoleProfile) -> Hop | None:
    where = grant_scope(principal, grant)
    if where not in ("broad", "other-account"):
        return None
    held = profile.escalation_on(where)
    vias = [v for v in _VIA_ORDER if v in held and v in HOPS]
    if profile.act_as and not vias:
        run = [r for r, _ in runners(inv, principal)]
        if run:
            vias.append(f"{ACT_AS} + {run[0]}")
    if not vias:
        return None
    note = note_of(inv, principal, grant)
    condition = expression_of((grant.document or {}).get("condition")) if note.condition in (SCOPED, LATER) else None
    if where == "broad":
        return Hop(grant.scope or "", True, vias[0], grant.source, condition)
    return Hop((grant.scope or "").rsplit("/", 1)[-1], False, vias[0], grant.source, condition)


def power_of(inv: Inventory, email: str) -> tuple[str, tuple[str, ...]]:
    """What an account itself holds: `admin`, `escalation`, `data` or `other`, and the grants that say so."""
    memo: dict[str, tuple[str, tuple[str, ...]]] = inv.memo("gcp_reach_power", lambda _: {})
    found = memo.get(email)
    if found is None:
        judged = judged_of(inv, email)
        admin = [g.source for g, p in judged if p.admin and g.scope_level in BROAD_LEVELS]
        escalation = [g.source for g, p in judged if p.escalation_on(grant_scope(email, g))]
        data = [g.source for g, p in judged if p.data and g.scope_level in BROAD_LEVELS]
        level, holds = next(
            ((n, h) for n, h in (("admin", admin), ("escalation", escalation), ("data", data)) if h), ("other", [])
        )
        found = memo[email] = (level, tuple(holds[:2]))
    return found


def reached_through(inv: Inventory, hop: Hop) -> tuple[tuple[Reached, ...], frozenset[str]]:
    """The strongest accounts reached through `hop` (its target and beyond), and every account reached."""
    memo: dict[tuple[str, bool, str | None], tuple[tuple[Reached, ...], frozenset[str]]] = inv.memo(
        "gcp_reach", lambda _: {}
    )
    key = (hop.target, hop.is_set, hop.condition)
    found = memo.get(key)
    if found is None:
        found = memo[key] = _walk(inv, view_of(inv), hop)
    return found


def _walk(inv: Inventory, view: GcpView, start: Hop) -> tuple[tuple[Reached, ...], frozenset[str]]:
    seen_sets: set[tuple[str, str | None]] = set()
    seen: dict[str, tuple[Mapping[str, str], ...]] = {}
    queue: deque[str] = deque()

    def enter(hop: Hop, path: tuple[Mapping[str, str], ...]) -> None:
        if hop.is_set:
            if (hop.target, hop.condition) in seen_sets:
                return
            seen_sets.add((hop.target, hop.condition))
            targets = [m for m in view.accounts_in.get(hop.target, ()) if _admits(inv, view, hop.condition, m)]
        else:
            targets = [hop.target] if hop.target in view.service_accounts else []
        for email in targets:
            if email not in seen:
                seen[email] = (*path, {"identity": email, "via": hop.via, "grant": hop.grant})
                queue.append(email)

    enter(start, ())
    while queue:
        email = queue.popleft()
        for hop in edges(inv, email):
            enter(hop, seen[email])
    ranked = sorted(
        (Reached(e, *power_of(inv, e), path) for e, path in seen.items()),
        key=lambda r: (-POWER_RANK.get(r.power, 0), len(r.path), r.identity),
    )
    return tuple(r for r in ranked[:KEEP] if r.power in POWER_RANK), frozenset(seen)


def _admits(inv: Inventory, view: GcpView, condition: str | None, email: str) -> bool:
    """Whether a resource condition of a project-wide grant leaves the account in (unknown: it does)."""
    if condition is None:
        return True
    gsa = view.service_accounts.get(email)
    names = [f"projects/-/serviceAccounts/{email}"]
    if gsa is not None:
        names += [f"projects/{gsa.project}/serviceAccounts/{email}"]
        names += [f"projects/-/serviceAccounts/{gsa.unique_id}"] if gsa.unique_id else []
    values = [
        evaluate(
            condition,
            inv.as_of,
            {"name": n, "type": "iam.googleapis.com/ServiceAccount", "service": "iam.googleapis.com"},
        )
        for n in names
    ]
    return any(v is not False for v in values)
