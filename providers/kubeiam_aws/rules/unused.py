"""AWS-024: a workload's role holds access it has not used (docs/aws.md, "Unused access").

Judged once per role from its usage data (judge/usage.py) and written as the smaller grant it could have
(judge/right_size.py), one Match for all its ServiceAccounts. Reported only where the right-sized grant drops
something. Severity rises with what the dropped part could do, as the role's analysis (judge/profile.py) sees it:
an unused admin grant or escalation path is high, unused broad writes or reads of every secret medium.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.model import Inventory, LinkStatus
from kubeiam.vocabulary.policy import Statement, matches
from kubeiam.vocabulary.rules import Match, rule
from kubeiam_aws.declarations import AWS
from kubeiam_aws.judge.catalogue import iam_permissions_management
from kubeiam_aws.judge.profile import RoleAnalysis
from kubeiam_aws.judge.right_size import FORMAT, RightSized, not_rewritable, right_size
from kubeiam_aws.judge.usage import TRACKING_DAYS, UNUSED, RoleUse, rfc3339, role_use
from kubeiam_aws.rules.helpers import analysis, aws_view, capped, role_groups
from kubeiam_aws.view import Role

ITEM = "unused-access"
"""One finding per role and ServiceAccount: the fingerprint does not change as usage does."""
_SEVERITY = {"admin": Severity.HIGH, "escalation": Severity.HIGH, "data": Severity.MEDIUM, "write": Severity.MEDIUM}
_SHOWN = 5


@dataclass(frozen=True)
class _Judged:
    use: RoleUse
    sized: RightSized
    level: str
    drops: tuple[str, ...]


@rule(
    "AWS-024",
    "Role holds access it has not used",
    Category.UNUSED_ACCESS,
    Severity.LOW,
    rationale="Services and actions a workload's role has not used in the window only add to what a stolen token "
    "can do. AWS records when a role was last used, and which services and tracked actions it called; IAM Access "
    "Analyzer reports unused roles and permissions.",
    remediation="Apply the right-sized policy in the finding's evidence (`right_sized.document`): create it, attach "
    "it to the role, then detach the policies it replaces (`right_sized.replaces`); delete a role not used at all.",
    cloud=AWS,
    references=(
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_last-accessed.html",
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-unused-access.html",
    ),
)
def unused_access(inv: Inventory) -> Iterator[Match]:
    for group in role_groups(inv, LinkStatus.RESOLVED):
        judged = _judged(inv, group.role)
        if judged is None:
            continue
        yield Match.for_sas(
            group.cluster,
            group.service_accounts,
            cloud=AWS,
            principal=group.role.arn,
            item=ITEM,
            source="usage",
            detail=_detail(judged.use),
            severity=_SEVERITY.get(judged.level),
            evidence=_evidence(inv, group.role, judged, group.mechanism),
        )


def _judged(inv: Inventory, role: Role) -> _Judged | None:
    """Once per role (the whole inventory's view memo), whichever ServiceAccount asks first."""
    memo = aws_view(inv).memo
    key = ("AWS-024", role.arn, inv.usage_window_days, inv.as_of)
    if key not in memo:
        memo[key] = _judge(inv, role)
    found: _Judged | None = memo[key]
    return found


def _judge(inv: Inventory, role: Role) -> _Judged | None:
    use = role_use(role, aws_view(inv).usage, window_days=inv.usage_window_days, as_of=inv.as_of)
    if use is None or use.too_young or use.state == "unknown" or not_rewritable(role) is not None:
        return None
    sized = right_size(role, use)
    if not sized.changed:
        return None
    level, drops = _drops(role, analysis(inv, role), use, sized)
    return _Judged(use, sized, level, drops)


def _drops(role: Role, before: RoleAnalysis, use: RoleUse, sized: RightSized) -> tuple[str, tuple[str, ...]]:
    """What the right-sized grant takes away, worst first, and the worst kind (`admin` ... `none`)."""
    allows = _Allows([s for s in sized.statements if s.is_allow])
    out: list[str] = []
    level = "none"
    if (before.admin or before.iam_admin) and not _still_admin(allows):
        names = ", ".join(s.rsplit("/", 1)[-1] for s in (before.admin or before.iam_admin)[:3])
        out.append(f"admin: {names}")
        level = "admin"
    gone = [e for e in before.escalations if not all(allows(a) for a in e.actions)]
    out += [f"escalation path: {_path(e.name, e.actions)}" for e in gone[:_SHOWN]]
    if len(gone) > _SHOWN:
        out.append(f"... and {len(gone) - _SHOWN} more escalation paths")
    if gone and level == "none":
        level = "escalation"
    reads = [g.action for g in before.sensitive_reads if not allows(g.action)]
    out += [f"data access: {a} on every resource" for a in reads]
    writes = [a for w in before.broad_writes for a in w.actions if not allows(a)]
    if writes:
        out.append(f"{len(writes)} write action(s) on every resource: {', '.join(capped(writes, _SHOWN))}")
    if level == "none" and (reads or writes):
        level = "data" if reads else "write"
    if use.idle:
        out.append(f"every permission: the role was not used in {use.window_days} days (or delete the role)")
    else:
        services = sorted(n for n, s in use.services.items() if s.state == UNUSED)
        if services:
            out.append(f"{len(services)} unused service(s): {', '.join(capped(services, _SHOWN))}")
        actions = sorted(f"{n}:{a}" for n, s in use.services.items() if s.state != UNUSED for a in s.unused_actions)
        if actions:
            out.append(f"{len(actions)} unused action(s) of used services: {', '.join(capped(actions, _SHOWN))}")
    return level, tuple(out)


def _path(name: str, actions: tuple[str, ...]) -> str:
    return name if all(a in name for a in actions) else f"{name} ({' + '.join(actions)})"


class _Allows:
    """Whether any of `statements` covers an action, as `Statement.allows` says, answered in a set look-up.

    Why: a right-sized document may list hundreds of actions, and a role's broad writes and escalation
    paths ask about hundreds more; `Statement.allows` compares each pair as text (lower-casing both)."""

    def __init__(self, statements: list[Statement]) -> None:
        self.statements = statements
        self._parts = [(_Globs(s.actions), _Globs(s.not_actions)) for s in statements if s.actions or s.not_actions]
        self._memo: dict[str, bool] = {}

    def __call__(self, action: str) -> bool:
        found = self._memo.get(action)
        if found is None:
            lowered = action.lower()
            found = self._memo[action] = any(
                (not actions.globs or actions.covers(action, lowered)) and not not_actions.covers(action, lowered)
                for actions, not_actions in self._parts
            )
        return found


class _Globs:
    """IAM action globs as `policy.matches` reads them: literal names compared case-insensitively, patterns
    matched whole (case-insensitive too)."""

    def __init__(self, globs: tuple[str, ...]) -> None:
        self.globs = globs
        self.everything = "*" in globs
        self.literal = frozenset(g.lower() for g in globs if "*" not in g and "?" not in g)
        self.patterns = tuple(g for g in globs if g != "*" and ("*" in g or "?" in g))

    def covers(self, action: str, lowered: str) -> bool:
        return self.everything or lowered in self.literal or any(matches(p, action) for p in self.patterns)


def _still_admin(allows: _Allows) -> bool:
    everywhere = [s for s in allows.statements if s.all_resources and not s.conditions]
    if any("*" in s.actions for s in everywhere):
        return True
    covers = _Allows(everywhere)
    return all(covers(a) for a in iam_permissions_management())


def _detail(use: RoleUse) -> str:
    granted, used = use.counts()
    if use.idle:
        granted_text = _plural(len(use.granted), "service")
        if use.last_used is None:
            return f"never used (not in AWS's record of the last {TRACKING_DAYS} days; {granted_text} granted)"
        return f"not used for {_days(use)} days (last used {use.last_used:%Y-%m-%d}; {granted_text} granted)"
    text = f"uses {used} of {granted} services it is granted"
    actions, used_actions = use.action_counts()
    if actions:
        text += f"; {used_actions} of {actions} actions in the tracked services"
    return text


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _days(use: RoleUse) -> int:
    if use.reference is None or use.last_used is None:
        return use.window_days
    return (use.reference - use.last_used).days


def _evidence(inv: Inventory, role: Role, judged: _Judged, mechanism: str) -> dict[str, Any]:
    use, sized = judged.use, judged.sized
    granted, used = use.counts()
    if use.idle:
        granted, used = len(use.granted), 0
    out: dict[str, Any] = {
        "role": role.arn,
        "file": role.source,
        "mechanism": mechanism,
        "usage": {
            "granted": granted,
            "used": used,
            "unit": "services",
            "window_days": use.window_days,
            "last_used": rfc3339(use.last_used),
            "source": "; ".join(use.sources) or "none",
            "limits": [*use.limits, *sized.notes],
        },
        "right_sized": {
            "format": FORMAT,
            "document": sized.document,
            "drops": list(judged.drops),
            "replaces": list(sized.replaces),
        },
        "policies": [g.source for g in role.grants],
        "services": _services(use),
    }
    actions, used_actions = use.action_counts()
    if actions and not use.idle:
        out["tracked_actions"] = {"granted": actions, "used": used_actions}
    if role.boundary_arn:
        out["permissions_boundary"] = role.boundary_arn
    if use.reference is not None:
        out["usage"]["limits"].insert(
            0, f"the window ends {use.reference:%Y-%m-%d %H:%M} UTC, when the usage data was read"
        )
    return out


def _services(use: RoleUse) -> list[str]:
    """Each service the data speaks of: `s3: used 2026-01-09 (1 of 3 tracked actions)`, unused first."""
    rows = []
    for name, s in sorted(use.services.items(), key=lambda kv: (kv[1].state != UNUSED, kv[0])):
        state = "unused" if use.idle else s.state
        when = f" {s.last:%Y-%m-%d}" if s.last else ""
        if s.tracked:
            actions = f" ({len(s.used_actions)} of {len(s.used_actions) + len(s.unused_actions)} tracked actions used)"
        else:
            actions = f" ({len(s.unused_actions)} actions unused)" if s.unused_actions else ""
        rows.append(f"{name}: {state}{when if state != 'unknown' else ''}{actions}")
    return capped(rows, 25)


RULES = (unused_access,)
