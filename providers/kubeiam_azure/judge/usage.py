"""What an Azure identity is granted against what it used, and the smaller roles it could have (pure).

Azure keeps no per-permission usage. What exists, and what it covers:

- the Activity Log: the control-plane writes, deletes and actions each principal performed, 90 days;
  never reads (GET) and never data-plane use;
- the managed-identity sign-in log (Microsoft Graph): when the identity last got a token, and for which
  API (data-plane use shows there only as a token for Azure Storage or Key Vault, not as actions).

So only the write, delete and action part of a control-plane grant is judged. Reads and data actions are
kept as granted and never called unused; the finding's `limits` say so. An assignment is judged only where
its subscription's log was read for the principal (whole: no page missing, no event unreadable), that is
not above a subscription (a management group's other subscriptions are not all in the evidence), whose
role is known and condition-free, and that is older than the window. The window ends at the newest time in
the usage data (when the evidence was collected is not recorded), at most the Activity Log's 90 days.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kubeiam.vocabulary.model import CloudIdentity
from kubeiam.vocabulary.policy import Statement, matches
from kubeiam_azure.judge.catalogue import load as load_catalogue
from kubeiam_azure.judge.profile import SENSITIVE_ACTIONS, AssignmentVerdict, judge_assignment, scope_label, statements
from kubeiam_azure.judge.right_size import document, dropped, is_read, smaller_role, visible, within_role
from kubeiam_azure.view import AzureView, Permission, RoleAssignment, RoleDefinition, SignIns, UsageView

RETENTION_DAYS = 90
"""How long Azure keeps the Activity Log."""
_SUBSCRIPTION = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)
LEVELS = ("admin", "escalation", "sensitive", "write")
"""What a smaller role takes away, worst first."""


@dataclass(frozen=True, slots=True)
class AssignmentUse:
    verdict: AssignmentVerdict
    used: tuple[str, ...] = ()
    """Operations used under it in the window (allowed by its role, at or below its scope), as written."""
    not_judged: str | None = None
    """Why it is kept as granted without a judgement; None: judged."""


@dataclass(frozen=True, slots=True)
class Replacement:
    """A smaller role for the assignments of one role (one role definition can serve them all: each
    operation in it is allowed by that role wherever it is assigned)."""

    role: RoleDefinition
    assignments: tuple[RoleAssignment, ...]
    permission: Permission
    dropped: tuple[str, ...]
    """The write, delete and action patterns it leaves out."""
    drops: tuple[str, ...]
    """What that takes away, in words: admin, escalation paths, listKeys, the count of operations."""
    level: str
    """The worst of LEVELS it takes away."""


@dataclass(frozen=True, slots=True)
class UsageVerdict:
    uses: tuple[AssignmentUse, ...]
    replacements: tuple[Replacement, ...]
    granted: int
    """Write, delete and action operations known to kubeiam that the judged assignments allow."""
    used: int
    """Distinct such operations used under them in the window."""
    operations: tuple[str, ...]
    window_days: int
    end: datetime | None
    last_used: datetime | None
    """Newest control-plane operation or successful sign-in seen, whatever the window."""
    sign_ins: SignIns | None
    limits: tuple[str, ...]

    @property
    def judged(self) -> bool:
        return any(u.not_judged is None for u in self.uses)


class Universe:
    """The write, delete and action operations kubeiam knows (named by a built-in role, a role of the
    evidence, or seen in the Activity Log): what `granted` counts. A wildcard allows more than these.

    Built once per inventory, it also keeps the judgement's look-ups by role id (one id names one definition
    within an inventory): hashing a role definition of hundreds of actions per question would cost more
    than the question."""

    def __init__(self, actions: Iterable[str]) -> None:
        self.ops = tuple(sorted({a.lower() for a in actions if "*" not in a and not is_read(a)}))
        self._index = {a: i for i, a in enumerate(self.ops)}
        self._matching: dict[str, frozenset[int]] = {}
        self._allowed: dict[Permission, frozenset[int]] = {}
        self.last_seen: dict[str, datetime] = {}
        """By principal object id: its newest control-plane operation in any subscription."""
        self._statements: dict[str, tuple[Statement, ...]] = {}
        self._granted: dict[str, frozenset[int]] = {}
        self._dropped: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {}
        self._smaller: dict[tuple[str, tuple[str, ...]], Permission | None] = {}
        self._verdicts: dict[tuple[str, tuple[str, ...], str, str | None], AssignmentVerdict] = {}

    @classmethod
    def of(cls, view: AzureView) -> Universe:
        roles = [*load_catalogue().roles.values(), *view.roles.values()]
        named = (a for r in roles for p in r.permissions for a in p.actions)
        seen = (o.action for ops in (view.usage.operations.values() if view.usage else ()) for o in ops)
        universe = cls([*named, *seen])
        if view.usage is not None:
            for (_, principal), ops in view.usage.operations.items():
                for o in ops:
                    old = universe.last_seen.get(principal)
                    if o.last is not None and (old is None or o.last > old):
                        universe.last_seen[principal] = o.last
        return universe

    def matching(self, pattern: str) -> frozenset[int]:
        low = pattern.lower()
        found = self._matching.get(low)
        if found is None:
            if "*" not in low:
                found = frozenset([self._index[low]]) if low in self._index else frozenset()
            else:
                found = frozenset(i for i, a in enumerate(self.ops) if matches(low, a))
            self._matching[low] = found
        return found

    def allows(self, role: RoleDefinition, action: str) -> bool:
        found = self._statements.get(role.id)
        if found is None:
            # A permission with notActions and no actions allows nothing (not "everything but"), as judge.profile.
            found = self._statements[role.id] = tuple(s for s in statements(role) if s.sid == "actions" and s.actions)
        return any(s.allows(action) for s in found)

    def granted(self, role: RoleDefinition) -> frozenset[int]:
        """The known operations `role` allows whose use the Activity Log shows (`right_size.visible`)."""
        found = self._granted.get(role.id)
        if found is None:
            seen = (Permission(visible(p), p.not_actions) for p in role.permissions)
            found = self._granted[role.id] = self.allowed(seen)
        return found

    def dropped(self, role: RoleDefinition, used: tuple[str, ...]) -> tuple[str, ...]:
        key = (role.id, used)
        found = self._dropped.get(key)
        if found is None:
            found = self._dropped[key] = dropped(role, used)
        return found

    def smaller(self, role: RoleDefinition, used: tuple[str, ...]) -> Permission | None:
        """The smaller role, once per (role, operations used): identities of one kind share both. Never more
        than today: a role that cannot be proven inside the original is not offered (None)."""
        key = (role.id, used)
        if key not in self._smaller:
            permission = smaller_role(role, used)
            self._smaller[key] = permission if permission is not None and within_role(permission, role) else None
        return self._smaller[key]

    def smaller_verdict(
        self, role: RoleDefinition, used: tuple[str, ...], permission: Permission, assignment: RoleAssignment
    ) -> AssignmentVerdict:
        """The smaller role judged where `assignment` is (its scope and condition), once per such place."""
        key = (role.id, used, assignment.scope, assignment.condition)
        found = self._verdicts.get(key)
        if found is None:
            smaller = RoleDefinition(f"right-sized-{role.id}", f"{role.name} (right-sized)", True, (permission,))
            scope, condition = assignment.scope, assignment.condition
            at = RoleAssignment(f"right-sized@{scope}", "", smaller.id, scope, None, condition)
            found = self._verdicts[key] = judge_assignment(at, smaller)
        return found

    def allowed(self, permissions: Iterable[Permission]) -> frozenset[int]:
        out: set[int] = set()
        for p in permissions:
            got = self._allowed.get(p)
            if got is None:
                given = frozenset().union(*(self.matching(a) for a in p.actions))
                got = self._allowed[p] = given - frozenset().union(*(self.matching(n) for n in p.not_actions))
            out |= got
        return frozenset(out)


def subscription_of(scope: str | None) -> str | None:
    m = _SUBSCRIPTION.match(scope or "")
    return m[1].lower() if m else None


def _within(scope: str, at: str | None) -> bool:
    """Whether an operation at `at` falls under an assignment at `scope` (unknown place: it may)."""
    if at is None:
        return True
    base = scope.strip().rstrip("/").lower()
    return at == base or at.startswith(base + "/")


def _time(value: str | None) -> datetime | None:
    try:
        when = datetime.fromisoformat(value.strip()) if value else None
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


def judge_usage(
    view: AzureView,
    identity: CloudIdentity,
    verdicts: Iterable[AssignmentVerdict],
    *,
    window_days: int,
    universe: Universe,
    as_of: datetime | None = None,
) -> UsageVerdict | None:
    """None when there is no usage data, or the identity is not a user-assigned identity of the evidence."""
    usage = view.usage
    mi = view.identities.get(identity.principal)
    if usage is None or mi is None:
        return None
    oid = mi.principal_id
    window = min(window_days, RETENTION_DAYS)
    end = usage.end or as_of
    start = end - timedelta(days=window) if end is not None else None
    uses = [_use(v, usage, oid, start, universe) for v in sorted(verdicts, key=lambda v: v.assignment.id)]
    judged = [u for u in uses if u.not_judged is None]
    operations = sorted({o.lower(): o for u in judged for o in u.used if not is_read(o)}.values(), key=str.lower)
    granted = frozenset().union(*(universe.granted(u.verdict.role) for u in judged if u.verdict.role))
    # Used among what is counted: a data-bound action used (container writes) is neither.
    counted = [o for o in operations if universe.matching(o) & granted]
    signed = usage.sign_ins.get(oid)
    times = [t for t in (universe.last_seen.get(oid), signed.last if signed else None) if t is not None]
    return UsageVerdict(
        uses=tuple(uses),
        replacements=_replacements(judged, universe, mi.name),
        granted=len(granted),
        used=len(counted),
        operations=tuple(operations),
        window_days=window,
        end=end,
        last_used=max(times, default=None),
        sign_ins=signed,
        limits=_limits(uses, usage, window_days, window, end, len(universe.ops)),
    )


def _use(v: AssignmentVerdict, usage: UsageView, oid: str, start: datetime | None, universe: Universe) -> AssignmentUse:
    a, role = v.assignment, v.role
    sub = subscription_of(a.scope)
    if role is None or v.profile is None:
        return AssignmentUse(v, not_judged="its role definition is not known")
    if any(p.condition for p in role.permissions):
        return AssignmentUse(v, not_judged="its role's permissions carry conditions a custom role cannot")
    if sub is None:
        return AssignmentUse(
            v, not_judged="above a subscription: the Activity Logs of all the subscriptions below are not known"
        )
    if sub not in usage.read or ((sub, oid) not in usage.operations and sub not in usage.whole):
        return AssignmentUse(v, not_judged=f"the Activity Log of subscription {sub} was not read for it")
    cut = usage.unreadable.get((sub, oid)) or usage.unreadable.get((sub, "*"))
    if cut:
        return AssignmentUse(v, not_judged=f"the Activity Log of subscription {sub} is not whole ({cut})")
    created = _time(a.created_on)
    if created is not None and start is not None and created > start:
        return AssignmentUse(
            v, not_judged=f"created {created:%Y-%m-%d}, less than the window before the usage data ends"
        )
    used = {
        op.action.lower(): op.action
        for op in usage.operations.get((sub, oid), ())
        if (start is None or op.last is None or op.last >= start)
        and _within(a.scope, op.scope)
        and universe.allows(role, op.action)
    }
    return AssignmentUse(v, tuple(sorted(used.values(), key=str.lower)))


def _replacements(judged: list[AssignmentUse], universe: Universe, identity: str) -> tuple[Replacement, ...]:
    by_role: dict[str, list[AssignmentUse]] = {}
    for u in judged:
        role = u.verdict.role
        if role is not None and universe.dropped(role, u.used):
            by_role.setdefault(role.id, []).append(u)
    out = []
    for group in by_role.values():
        role = group[0].verdict.role
        assert role is not None
        used = tuple(sorted({o.lower(): o for u in group for o in u.used}.values(), key=str.lower))
        permission = universe.smaller(role, used)
        if permission is None:
            continue
        drops, level = _drops(group, role, used, permission, universe)
        assignments = tuple(u.verdict.assignment for u in group)
        out.append(Replacement(role, assignments, permission, universe.dropped(role, used), drops, level))
    return tuple(sorted(out, key=lambda r: (LEVELS.index(r.level), r.role.name, r.role.id)))


def _drops(
    group: list[AssignmentUse],
    role: RoleDefinition,
    used: tuple[str, ...],
    permission: Permission,
    universe: Universe,
) -> tuple[tuple[str, ...], str]:
    drops: list[str] = []
    level = "write"
    for u in group:
        old = u.verdict
        a = old.assignment
        new = universe.smaller_verdict(role, used, permission, a)
        label = f"{old.role_name} on {scope_label(a.scope)}"
        if old.admin and not new.admin:
            drops.append(f"admin: {label}")
            level = "admin"
        paths = [action for action in old.escalation if action not in new.escalation]
        if paths:
            drops.append(f"escalation paths: {', '.join(paths)} ({label})")
            level = level if level == "admin" else "escalation"
        for action in SENSITIVE_ACTIONS:
            if (
                old.profile
                and action in old.profile.sensitive_data
                and not (new.profile and action in new.profile.sensitive_data)
            ):
                drops.append(f"data access: {action} ({label})")
                level = level if level in ("admin", "escalation") else "sensitive"
    gone = len(universe.granted(role) - universe.allowed([permission]))
    scopes = ", ".join(scope_label(u.verdict.assignment.scope) for u in group)
    drops.append(f"{gone} unused write, delete and action operations of {role.name} on {scopes}")
    return tuple(dict.fromkeys(drops)), level


# Every finding repeats them (20,000 ServiceAccounts, one finding each): short.
LIMIT_READS = "the Activity Log holds writes, deletes and actions, never reads: reads are kept as granted, not counted"
LIMIT_DATA = (
    "data-plane use is not in the Activity Log: data actions, and the actions their data plane uses, are kept "
    "as granted, never called unused"
)


def _limits(
    uses: list[AssignmentUse], usage: UsageView, asked: int, window: int, end: datetime | None, known: int
) -> tuple[str, ...]:
    out = [LIMIT_READS, LIMIT_DATA]
    if asked > window:
        out.append(
            f"usage_window_days is {asked}: the Activity Log keeps {RETENTION_DAYS} days, so {window} are judged"
        )
    if end is not None:
        out.append(
            f"the window ends at the newest usage record ({iso(end)}): when the evidence was collected is not "
            "recorded, and operations reach the Activity Log minutes late"
        )
    out.append(f"granted: of the {known} write, delete and action operations kubeiam knows; a wildcard allows more")
    if usage.sign_ins_read:
        out.append("sign-ins are kept 30 days at most (7 without Microsoft Entra ID P1 or P2)")
    else:
        out.append("no managed-identity sign-ins in the evidence: when it last got a token is not known")
    for u in uses:
        if u.not_judged:
            v = u.verdict
            out.append(f"{v.role_name} on {scope_label(v.assignment.scope)}: {u.not_judged}; kept as granted")
    return tuple(out)


SAMPLE = 20
"""At most this many removed actions in the evidence."""


def right_sized(name: str, r: Replacement, v: UsageVerdict) -> dict[str, Any]:
    """The `right_sized` evidence of a finding: the role document, what it drops, what it replaces. To apply:
    `az role definition create --role-definition @role.json`, then for each of `replaces`: `az role
    assignment create --assignee-object-id <principal_id> --assignee-principal-type ServicePrincipal --role
    <Name> --scope <scope>` (with its condition) and `az role assignment delete --ids <role_assignment>`."""
    scopes = [a.scope for a in r.assignments]
    until = f" to {v.end:%Y-%m-%d}" if v.end else ""
    description = f"kubeiam: {r.role.name} cut to what {name} used in {v.window_days} days{until}, reads and data kept"
    return {
        "format": "azure-role-definition",
        "document": document(f"{name} right-sized ({r.role.name})", description, r.permission, scopes),
        "drops": list(r.drops),
        "removed_actions": list(r.dropped[:SAMPLE]),
        "replaces": [
            {"role_assignment": a.id, "role": r.role.name, "scope": a.scope, "condition": a.condition}
            for a in r.assignments
        ],
    }


def iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when is not None else None
