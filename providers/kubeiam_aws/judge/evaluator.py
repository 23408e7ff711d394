"""The evaluator of one role's statements as its sessions see them: what the union of its policies allows, after
its own Denies, its permissions boundary and the guardrails (SCP levels, RCPs, session policy) cut it down.
judge/profile.py asks it the questions the rules need and keeps the answers (`RoleAnalysis`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

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
from kubeiam_aws.judge.conditions import passed_to_services
from kubeiam_aws.judge.escalation import (
    CATEGORY_RANK,
    ROLE_TARGETS,
    named_roles,
    passes_to,
    path_requirements,
    statement_abusable,
)
from kubeiam_aws.judge.guardrails import Guardrail
from kubeiam_aws.judge.reach import Hop, Reached
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
    reaches: Reached | None = None
    """For a path through a named role (`sts:AssumeRole`, `iam:PassRole` of one role): the strongest role it
    leads to, hop by hop."""


@dataclass(frozen=True, slots=True)
class ActionGrant:
    action: str
    sources: tuple[str, ...]
    resources: tuple[str, ...]


class Evaluator:
    def __init__(
        self,
        view: AwsView,
        allows: list[Sourced],
        denies: list[Statement],
        boundary: list[Statement] | None,
        guards: tuple[tuple[Guardrail, tuple[Statement, ...]], ...] = (),
    ):
        self.view = view
        self.allows = allows
        # Only an unconditional Deny on every resource can make an action unusable (`denied_everywhere`):
        # the others are left out once, not skipped for every action asked about.
        self.denies = [s for s in denies if _final(s)]
        self.boundary = boundary
        self.guards = [
            (g, tuple(s for s in stmts if s.is_allow), tuple(s for s in stmts if _final(s))) for g, stmts in guards
        ]
        self._stops: dict[str, str | None] = {}
        self._index: dict[int, tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]] = {}
        # Which interesting actions each grant covers, looked up once per grant: the key is the statement's
        # action list, which may hold thousands of patterns (ReadOnlyAccess) and is costly to hash each time.
        self.covered = [covered_by(g.statement) for g in allows]
        self._granting: dict[str, list[Sourced]] | None = None

    def boundary_allows(self, action: str) -> bool:
        if self.boundary is None:
            return True
        return any(s.is_allow and s.allows(action) for s in self.boundary)

    def stopped_by(self, action: str) -> str | None:
        """The guardrail (SCP level, RCP, session policy) whose Deny, or whose allow-list, stops the action."""
        if not self.guards:
            return None
        if action not in self._stops:
            self._stops[action] = next(
                (
                    g.name
                    for g, allow, deny in self.guards
                    if (deny and _denies(deny, action)) or (g.allow_list and not any(s.allows(action) for s in allow))
                ),
                None,
            )
        return self._stops[action]

    def permitted(self, action: str) -> bool:
        return self.usable(action) and self.boundary_allows(action) and self.stopped_by(action) is None

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
        if sources and all(self.permitted(a) for a in ADMIN_SENTINELS):
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
            if not grants or not self.permitted(action):
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
                if self.permitted(p):
                    out.append(WildcardGrant(g.source, p, s))
        return out

    def broad_writes(self) -> list[BroadWrite]:
        by_key: dict[tuple[str, str], list[tuple[str, ...]]] = {}
        unrestricted = not self.denies and self.boundary is None and not self.guards
        for g in self.allows:
            s = g.statement
            # `*` counts too: a role that is not admin (a Deny or the boundary stops that) still writes
            # everywhere with it.
            if s.conditions or not s.all_resources:
                continue
            for level, actions in broad_levels(s):
                if not unrestricted:
                    actions = tuple(a for a in actions if self.permitted(a))
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

    def escalations(self, role: Role) -> tuple[list[Escalation], list[Hop], list[str], list[str]]:
        """Paths that hold on their own, paths through a named role (hops), and what the boundary or a
        guardrail stops."""
        found, hops, blocked, guarded = [], [], [], []
        reachable: set[str] = set().union(*self.covered)
        for path, requires in path_requirements():
            if not requires <= reachable or (path.needs_boundary and role.boundary_arn is None):
                continue
            sources: dict[str, None] = {}
            targets: tuple[str, ...] = ()
            ok, by_boundary, by_guard = True, False, None
            for action in path.requires:
                passes = action.lower() != "iam:passrole"
                grants = [g for g in self.granting(action) if passes or passes_to(g.statement, path.passed_to)]
                usable = [g for g in grants if statement_abusable(action, g.statement, _no_named_target)]
                if not usable and action.lower() in ROLE_TARGETS and not targets:
                    # Only named roles: the path holds if one of them leads somewhere (judge/reach.py).
                    usable = [g for g in grants if named_roles(g.statement)]
                    targets = tuple(dict.fromkeys(t for g in usable for t in named_roles(g.statement)))
                if not usable or not self.usable(action):
                    ok = False
                    break
                by_boundary = by_boundary or not self.boundary_allows(action)
                stop = self.stopped_by(action)
                by_guard = by_guard or (stop and f"{action} stopped by {stop}")
                sources.update((g.source, None) for g in usable)
            if not ok:
                continue
            if by_boundary:
                blocked.append(f"{path.id} ({path.name})")
            elif by_guard:
                guarded.append(f"{path.id} ({path.name}): {by_guard}")
            elif targets:
                via = " + ".join(path.requires)
                hops += [Hop(t, via, path.id, path.name, path.category, tuple(sources), path.source) for t in targets]
            else:
                found.append(Escalation(path.id, path.name, path.category, path.requires, tuple(sources), path.source))
        found.sort(key=worst_first)
        return found, hops, blocked, guarded

    def sensitive_reads(self) -> tuple[list[ActionGrant], list[str], list[str]]:
        out, blocked, guarded = [], [], []
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
            if self.stopped_by(action):
                guarded.append(f"{action}: stopped by {self.stopped_by(action)}")
                continue
            resources = tuple(dict.fromkeys(r for g in grants for r in g.statement.resources))
            out.append(ActionGrant(action, tuple(dict.fromkeys(g.source for g in grants)), resources))
        return out, blocked, guarded

    def unconditioned_passrole(self) -> list[ActionGrant]:
        if not self.permitted("iam:PassRole"):
            return []
        by_source: dict[str, dict[str, None]] = {}
        for g in self.granting("iam:PassRole"):
            if passed_to_services(g.statement) is None:
                by_source.setdefault(g.source, {}).update((r, None) for r in g.statement.resources or ("*",))
        return [ActionGrant("iam:PassRole", (src,), tuple(res)) for src, res in sorted(by_source.items())]


def _final(s: Statement) -> bool:
    """A Deny that stops its actions whatever the resource and the request: no condition, every resource."""
    return not s.is_allow and not s.conditions and s.all_resources and not s.not_resources


def _denies(denies: tuple[Statement, ...], action: str) -> bool:
    if action in catalog_names():
        return action in denied_actions(denies)
    return denied_everywhere(denies, action)


def worst_first(e: Escalation) -> tuple[int, int, str]:
    # A role that can grant itself more outranks one that must pass a role to a service; a path through another
    # role comes after the paths the role holds itself.
    return (CATEGORY_RANK.get(e.category, len(CATEGORY_RANK)), e.reaches is not None, e.path_id)


def _no_named_target(arn: str) -> bool:
    """A named role is no target on its own here: judge/reach.py decides what it leads to."""
    return False
