"""What one IAM role can do: the effective union of its policies, judged once per role.

Rules ask questions of a `RoleAnalysis`; nothing here is per ServiceAccount. Results are memoised
in the view by the prepared statements themselves, so roles with the same policies share the work.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from kubeiam.vocabulary.model import Grant
from kubeiam.vocabulary.policy import Statement
from kubeiam_aws.judge.conditions import SessionContext, prepare, session_decidable
from kubeiam_aws.judge.evaluator import (
    ActionGrant,
    BroadWrite,
    Escalation,
    Sourced,
    WildcardGrant,
    worst_first,
)
from kubeiam_aws.judge.evaluator import Evaluator as _Evaluator
from kubeiam_aws.judge.guardrails import Guardrail
from kubeiam_aws.judge.reach import ADMIN, ESCALATION, IAM_ADMIN, Hop, Reached, Terminal, reached_through
from kubeiam_aws.judge.resources import read_cuts
from kubeiam_aws.view import AwsView, Role

__all__ = ["ActionGrant", "BroadWrite", "Escalation", "RoleAnalysis", "WildcardGrant", "analyse_role"]


@dataclass(frozen=True)
class RoleAnalysis:
    admin: tuple[str, ...] = ()
    """Policies granting `*` on `*` (empty: not admin)."""
    iam_admin: tuple[str, ...] = ()
    """Policies by which every IAM permissions-management action is allowed on `*`."""
    wildcards: tuple[WildcardGrant, ...] = ()
    broad_writes: tuple[BroadWrite, ...] = ()
    escalations: tuple[Escalation, ...] = ()
    sensitive_reads: tuple[ActionGrant, ...] = ()
    unconditioned_passrole: tuple[ActionGrant, ...] = ()
    blocked_by_boundary: tuple[str, ...] = ()
    """Escalation paths and sensitive reads the policies allow but the permissions boundary stops."""
    incomplete: tuple[str, ...] = ()
    """Policies whose documents the evidence lacks: what they grant is not judged."""
    hops: tuple[Hop, ...] = ()
    """Escalation paths that go through a named role: they hold if that role (or one it reaches) is of note."""
    blocked_by_guardrail: tuple[str, ...] = ()
    """Paths and reads the policies allow but an SCP, RCP, session policy or resource policy stops, and by what."""
    guardrails: tuple[str, ...] = ()
    """The guardrails read for the role (SCP levels, RCPs, session policy)."""

    @property
    def power(self) -> str:
        """`admin`, `escalation`, `broad` or `limited`: how far the role reaches."""
        if self.admin or self.iam_admin:
            return "admin"
        if self.escalations:
            return "escalation"
        if self.broad_writes or self.sensitive_reads:
            return "broad"
        return "limited"


def _split(
    view: AwsView, role: Role, ctx: SessionContext
) -> tuple[list[Sourced], list[Statement], list[Statement] | None]:
    allows: list[Sourced] = []
    denies: list[Statement] = []
    for grant in role.grants:
        fixed_allows, fixed_denies, depends = _grant_parts(view, grant)
        allows += fixed_allows
        denies += fixed_denies
        for s in prepare(depends, ctx):
            if s.is_allow:
                allows.append(Sourced(grant.source, s))
            else:
                denies.append(s)
    boundary = None
    if role.boundary is not None:
        boundary = list(prepare(role.boundary.statements, ctx))
        # A Deny in the boundary is as final as one in the role's own policies.
        denies += [s for s in boundary if not s.is_allow]
    return allows, denies, boundary


def _grant_parts(view: AwsView, grant: Grant) -> tuple[list[Sourced], list[Statement], tuple[Statement, ...]]:
    """A grant's statements no session can change (its allows, its denies) and those a role's session may
    decide (`prepare` them per role), worked out once per grant: a managed policy is attached to many roles.
    Keyed by the grant's identity in the view's memo, which keeps the grant (the key cannot be reused)."""
    key = ("grant-parts", id(grant))
    found = view.memo.get(key)
    if found is None:
        fixed = [s for s in grant.statements if not session_decidable(s)]
        depends = tuple(s for s in grant.statements if session_decidable(s))
        allows = [Sourced(grant.source, s) for s in fixed if s.is_allow]
        found = view.memo[key] = (grant, allows, [s for s in fixed if not s.is_allow], depends)
    return found[1], found[2], found[3]


def guardrails_of(role: Role) -> tuple[Guardrail, ...]:
    """The SCP levels and RCPs of the role's account, and the session policy of its association."""
    session = role.session.policy if role.session is not None else None
    return role.guardrails + ((session,) if session is not None else ())


def analyse_role(view: AwsView, role: Role, *, shallow: bool = False) -> RoleAnalysis:
    """What the role can do: its policies' analysis (shared by roles with the same statements), with the roles
    it reaches through named-role grants and the resource policies that decide its reads (per role).
    `shallow` is kept for callers of the earlier API: the answer is the same."""
    by_role = ("role", role.key)
    cached: RoleAnalysis | None = view.memo.get(by_role)
    if cached is None:
        cached = view.memo[by_role] = _per_role(view, role, _base(view, role))
    return cached


def _per_role(view: AwsView, role: Role, base: RoleAnalysis) -> RoleAnalysis:
    """What depends on who the role is, not only on its statements: whom its grants let it become (a target's
    trust names it), and what the resource policies of its own account let it read."""
    cut, reads = read_cuts(view, role, base.sensitive_reads)
    changes: dict[str, Any] = {}
    if cut:
        changes |= {"sensitive_reads": reads, "blocked_by_guardrail": base.blocked_by_guardrail + cut}
    if base.hops and not (base.admin or base.iam_admin):
        by_path: dict[str, tuple[Hop, Reached]] = {}
        for hop, reached in reached_through(view, role, base.hops, lambda r: _terminal(view, r)):
            kept = by_path.get(hop.path_id)
            if kept is None or (reached.rank, -len(reached.path)) > (kept[1].rank, -len(kept[1].path)):
                by_path[hop.path_id] = (hop, reached)
        through = [
            Escalation(h.path_id, h.path_name, h.category, tuple(h.via.split(" + ")), h.sources, h.reference, r)
            for h, r in by_path.values()
        ]
        if through:
            changes["escalations"] = tuple(sorted((*base.escalations, *through), key=worst_first))
    return replace(base, **changes) if changes else base


def _terminal(view: AwsView, role: Role) -> Terminal:
    """What a role reached through a hop can do on its own, and its own hops."""
    a = _base(view, role)
    if a.admin:
        return Terminal(ADMIN, tuple(s.rsplit("/", 1)[-1] for s in a.admin), a.hops)
    if a.iam_admin:
        return Terminal(IAM_ADMIN, tuple(s.rsplit("/", 1)[-1] for s in a.iam_admin), a.hops)
    if a.escalations:
        return Terminal(ESCALATION, tuple(e.name for e in a.escalations[:3]), a.hops)
    return Terminal(0, (), a.hops)


def _base(view: AwsView, role: Role) -> RoleAnalysis:
    """The analysis of the role's statements as its sessions see them, memoised per role and per distinct set of
    prepared statements (roles with the same policies share it)."""
    by_role = ("base", role.key)
    cached: RoleAnalysis | None = view.memo.get(by_role)
    if cached is not None:
        return cached
    session = role.session
    org = view.org_ids.get(role.account)
    ctx = SessionContext(role.arn, role.account, role.created, org, session.tags if session else None)
    allows, denies, boundary = _split(view, role, ctx)
    guards = tuple((g, prepare(g.statements, ctx)) for g in guardrails_of(role))
    key = (
        "full",
        tuple(allows),
        tuple(denies),
        None if boundary is None else tuple(boundary),
        role.boundary_arn is not None,
        role.missing_policies,
        tuple((g.name, g.kind, stmts) for g, stmts in guards),
    )
    cached = view.memo.get(key)
    if cached is None:
        cached = view.memo[key] = _evaluate(_Evaluator(view, allows, denies, boundary, guards), role, guards)
    view.memo[by_role] = cached
    return cached


def _evaluate(ev: _Evaluator, role: Role, guards: tuple[tuple[Guardrail, tuple[Statement, ...]], ...]) -> RoleAnalysis:
    admin = ev.admin()
    iam_admin = () if admin else ev.iam_admin()
    strong = bool(admin or iam_admin)
    escalations, hops, blocked, guarded = ([], [], [], []) if strong else ev.escalations(role)
    reads, blocked_reads, guarded_reads = ([], [], []) if strong else ev.sensitive_reads()
    return RoleAnalysis(
        admin=admin,
        iam_admin=iam_admin,
        wildcards=tuple(ev.wildcards(bool(admin))),
        broad_writes=() if strong else tuple(ev.broad_writes()),
        escalations=tuple(escalations),
        sensitive_reads=tuple(reads),
        unconditioned_passrole=() if strong else tuple(ev.unconditioned_passrole()),
        blocked_by_boundary=tuple(blocked + blocked_reads),
        incomplete=role.missing_policies,
        hops=tuple(hops),
        blocked_by_guardrail=tuple(guarded + guarded_reads),
        guardrails=tuple(g.name for g, _ in guards),
    )
