"""What one IAM role can do: the effective union of its policies, judged once per role.

Rules ask questions of a `RoleAnalysis`; nothing here is per ServiceAccount. Results are memoised
in the view by the prepared statements themselves, so roles with the same policies share the work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from kubeiam.vocabulary.model import Grant
from kubeiam.vocabulary.policy import Statement, denied_everywhere, matches
from kubeiam_aws.judge.actions import (
    ADMIN_SENTINELS,
    SENSITIVE_READS,
    broad_levels,
    by_service,
    catalog_names,
    covered_by,
    denied_actions,
    interesting,
    wildcard_patterns,
)
from kubeiam_aws.judge.catalogue import PERMISSIONS_MANAGEMENT, iam_permissions_management
from kubeiam_aws.judge.conditions import SessionContext, passed_to_services, prepare, session_decidable
from kubeiam_aws.judge.escalation import (
    CATEGORY_RANK,
    passes_to,
    path_requirements,
    statement_abusable,
)
from kubeiam_aws.view import AwsView, Role

# A resource that names every object of its type: `*`, `...:secret:*`, `...:parameter/*`; for S3 only `*` and
# `*/*` (there the first segment is a bucket name, so `bucket/*` is one bucket, not every object).
_EVERY = re.compile(r"^\*$|^arn:[^:]*:(?!s3:)[^:]*:[^:]*:[^:]*:(?:[\w-]+[:/])?\*(?:/\*)?$|^arn:[^:]*:s3:::\*(?:/\*)?$")


class Sourced(NamedTuple):
    """A statement with the grant (policy ARN or `role/NAME:inline`) it came from. A tuple: the analysis memo
    hashes a role's list of them, for every role."""

    source: str
    statement: Statement


@dataclass(frozen=True, slots=True)
class WildcardGrant:
    source: str
    pattern: str
    """`s3:*`, `*`, or `NotAction:[...]`."""
    statement: Statement


@dataclass(frozen=True, slots=True)
class BroadWrite:
    """Write and permissions-management actions one policy allows on every resource (one fix: scope it)."""

    source: str
    levels: tuple[tuple[str, tuple[str, ...]], ...]
    """(access level, actions), most sensitive level first."""

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(a for _, acts in self.levels for a in acts)


@dataclass(frozen=True, slots=True)
class Escalation:
    path_id: str
    name: str
    category: str
    actions: tuple[str, ...]
    sources: tuple[str, ...]
    reference: str


@dataclass(frozen=True, slots=True)
class ActionGrant:
    action: str
    sources: tuple[str, ...]
    resources: tuple[str, ...]


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


class _Evaluator:
    def __init__(self, view: AwsView, allows: list[Sourced], denies: list[Statement], boundary: list[Statement] | None):
        self.view = view
        self.allows = allows
        # Only an unconditional Deny on every resource can make an action unusable (`denied_everywhere`):
        # the others are left out once, not skipped for every action asked about.
        self.denies = [s for s in denies if not s.conditions and s.all_resources and not s.not_resources]
        self.boundary = boundary
        self._index: dict[int, tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]] = {}
        # Which interesting actions each grant covers, looked up once per grant: the key is the statement's
        # action list, which may hold thousands of patterns (ReadOnlyAccess) and is costly to hash each time.
        self.covered = [covered_by(g.statement) for g in allows]
        self._granting: dict[str, list[Sourced]] | None = None

    def boundary_allows(self, action: str) -> bool:
        if self.boundary is None:
            return True
        return any(s.is_allow and s.allows(action) for s in self.boundary)

    def usable(self, action: str) -> bool:
        if not self.denies:
            return True
        if action in catalog_names():
            # One set look-up per action: a Deny naming thousands of patterns is expanded once per role.
            return action not in denied_actions(tuple(self.denies))
        return not denied_everywhere(self.denies, action)

    def granting(self, action: str, *, unconditional: bool = False) -> list[Sourced]:
        if action in interesting():
            if self._granting is None:  # interesting action -> the grants that cover it, built once per role
                self._granting = {}
                for g, covered in zip(self.allows, self.covered, strict=True):
                    for a in covered:
                        self._granting.setdefault(a, []).append(g)
            found = self._granting.get(action, [])
            return [g for g in found if not g.statement.conditions] if unconditional else found
        return [
            g
            for g in self.allows
            if self.covers(g.statement, action) and not (unconditional and g.statement.conditions)
        ]

    def covers(self, stmt: Statement, action: str) -> bool:
        """`stmt.allows(action)`, through a per-service index of its patterns (ReadOnlyAccess has thousands)."""
        key = id(stmt)
        index = self._index.get(key)
        if index is None:
            index = self._index[key] = (by_service(stmt.actions), by_service(stmt.not_actions))
        service = action.split(":", 1)[0].lower()
        actions, not_actions = index
        if stmt.actions and not any(matches(p, action) for p in (*actions.get(service, ()), *actions.get("", ()))):
            return False
        if not stmt.actions and not stmt.not_actions:
            return False
        return not (
            stmt.not_actions
            and any(matches(p, action) for p in (*not_actions.get(service, ()), *not_actions.get("", ())))
        )

    def admin(self) -> tuple[str, ...]:
        sources = [
            g.source
            for g in self.allows
            if "*" in wildcard_patterns(g.statement) and g.statement.all_resources and not g.statement.conditions
        ]
        if sources and all(self.usable(a) and self.boundary_allows(a) for a in ADMIN_SENTINELS):
            return tuple(dict.fromkeys(sources))
        return ()

    def iam_admin(self) -> tuple[str, ...]:
        iam_pm = iam_permissions_management()
        everywhere = [c for g, c in zip(self.allows, self.covered, strict=True) if g.statement.all_resources]
        if not everywhere or any(all(a not in c for c in everywhere) for a in iam_pm):
            return ()  # most roles: some IAM permissions-management action is not granted on `*` at all
        sources: dict[str, None] = {}
        for action in iam_pm:
            grants = [g for g in self.granting(action, unconditional=True) if g.statement.all_resources]
            if not grants or not self.usable(action) or not self.boundary_allows(action):
                return ()
            sources.update((g.source, None) for g in grants)
        return tuple(sources)

    def wildcards(self, admin: bool) -> list[WildcardGrant]:
        out = []
        for g in self.allows:
            s = g.statement
            if s.not_actions and not s.actions:
                pattern = "NotAction:" + ",".join(sorted(s.not_actions))
                out.append(WildcardGrant(g.source, pattern, s))
                continue
            for p in wildcard_patterns(s):
                if p == "*" and admin:
                    continue
                if self.usable(p) and self.boundary_allows(p):
                    out.append(WildcardGrant(g.source, p, s))
        return out

    def broad_writes(self) -> list[BroadWrite]:
        by_key: dict[tuple[str, str], list[tuple[str, ...]]] = {}
        unrestricted = not self.denies and self.boundary is None
        for g in self.allows:
            s = g.statement
            # `*` counts too: a role that is not admin (a Deny or the boundary stops that) still writes
            # everywhere with it.
            if s.conditions or not s.all_resources:
                continue
            for level, actions in broad_levels(s):
                if not unrestricted:
                    actions = tuple(a for a in actions if self.usable(a) and self.boundary_allows(a))
                if actions:
                    by_key.setdefault((g.source, level), []).append(actions)
        grouped: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for (src, level), parts in sorted(by_key.items()):
            # Sorted already when one statement gives them (the usual case): kept, not sorted again per role.
            acts = parts[0] if len(parts) == 1 else tuple(sorted(set().union(*parts)))
            grouped.setdefault(src, []).append((level, acts))
        return [
            BroadWrite(src, tuple(sorted(levels, key=lambda lv: lv[0] != PERMISSIONS_MANAGEMENT)))
            for src, levels in grouped.items()
        ]

    def target_is_admin(self, arn: str) -> bool:
        role = self.view.role(arn)
        return role is not None and bool(analyse_role(self.view, role, shallow=True).admin)

    def escalations(self, role: Role) -> tuple[list[Escalation], list[str]]:
        found, blocked = [], []
        reachable: set[str] = set().union(*self.covered)
        for path, requires in path_requirements():
            if not requires <= reachable or (path.needs_boundary and role.boundary_arn is None):
                continue
            sources: dict[str, None] = {}
            ok, stopped_by_boundary = True, False
            for action in path.requires:
                grants = [
                    g
                    for g in self.granting(action)
                    if statement_abusable(action, g.statement, self.target_is_admin)
                    and (action.lower() != "iam:passrole" or passes_to(g.statement, path.passed_to))
                ]
                if not grants or not self.usable(action):
                    ok = False
                    break
                if not self.boundary_allows(action):
                    stopped_by_boundary = True
                sources.update((g.source, None) for g in grants)
            if not ok:
                continue
            if stopped_by_boundary:
                blocked.append(f"{path.id} ({path.name})")
                continue
            found.append(Escalation(path.id, path.name, path.category, path.requires, tuple(sources), path.source))
        # Worst first: a role that can grant itself more outranks one that must pass a role to a service.
        found.sort(key=lambda e: (CATEGORY_RANK.get(e.category, len(CATEGORY_RANK)), e.path_id))
        return found, blocked

    def sensitive_reads(self) -> tuple[list[ActionGrant], list[str]]:
        out, blocked = [], []
        for action in SENSITIVE_READS:
            grants = [
                g
                for g in self.granting(action, unconditional=True)
                if g.statement.not_resources or any(_EVERY.match(r) for r in g.statement.resources)
            ]
            if not grants or not self.usable(action):
                continue
            if not self.boundary_allows(action):
                blocked.append(action)
                continue
            resources = tuple(dict.fromkeys(r for g in grants for r in g.statement.resources))
            out.append(ActionGrant(action, tuple(dict.fromkeys(g.source for g in grants)), resources))
        return out, blocked

    def unconditioned_passrole(self) -> list[ActionGrant]:
        if not self.usable("iam:PassRole") or not self.boundary_allows("iam:PassRole"):
            return []
        by_source: dict[str, dict[str, None]] = {}
        for g in self.granting("iam:PassRole"):
            if passed_to_services(g.statement) is None:
                by_source.setdefault(g.source, {}).update((r, None) for r in g.statement.resources or ("*",))
        return [ActionGrant("iam:PassRole", (src,), tuple(res)) for src, res in sorted(by_source.items())]


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


def analyse_role(view: AwsView, role: Role, *, shallow: bool = False) -> RoleAnalysis:
    """The role's analysis, memoised per role and per distinct set of prepared statements."""
    by_role = ("role", role.arn, shallow)
    cached: RoleAnalysis | None = view.memo.get(by_role)
    if cached is not None:
        return cached
    return _analyse_role(view, role, shallow, by_role)


def _analyse_role(view: AwsView, role: Role, shallow: bool, by_role: tuple) -> RoleAnalysis:
    ctx = SessionContext(role.arn, role.account, role.created)
    allows, denies, boundary = _split(view, role, ctx)
    key = (
        "shallow" if shallow else "full",
        tuple(allows),
        tuple(denies),
        None if boundary is None else tuple(boundary),
        role.boundary_arn is not None,
        role.missing_policies,
    )
    cached: RoleAnalysis | None = view.memo.get(key)
    if cached is not None:
        view.memo[by_role] = cached
        return cached
    ev = _Evaluator(view, allows, denies, boundary)
    admin = ev.admin()
    if shallow:
        result = RoleAnalysis(admin=admin)
    else:
        iam_admin = () if admin else ev.iam_admin()
        strong = bool(admin or iam_admin)
        escalations, blocked = ([], []) if strong else ev.escalations(role)
        reads, blocked_reads = ([], []) if strong else ev.sensitive_reads()
        result = RoleAnalysis(
            admin=admin,
            iam_admin=iam_admin,
            wildcards=tuple(ev.wildcards(bool(admin))),
            broad_writes=() if strong else tuple(ev.broad_writes()),
            escalations=tuple(escalations),
            sensitive_reads=tuple(reads),
            unconditioned_passrole=() if strong else tuple(ev.unconditioned_passrole()),
            blocked_by_boundary=tuple(blocked + blocked_reads),
            incomplete=role.missing_policies,
        )
    view.memo[key] = view.memo[by_role] = result
    return result
