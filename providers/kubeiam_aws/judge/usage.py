"""What a role is granted against what it used (AWS-024), from the usage data AWS keeps (pure).

Three sources, each optional (docs/aws.md, "Unused access"):

- `RoleLastUsed` of iam.json: when the role was last assumed (AWS keeps 400 days; `{}` = not in them);
- service (and, for the actions AWS tracks, action) last accessed per role: `get-service-last-accessed-details`
  of a job `generate-service-last-accessed-details --granularity ACTION_LEVEL` started for it;
- IAM Access Analyzer unused-access findings (`UnusedIAMRole`, `UnusedPermission`), where an analyzer exists.

Granted services are kubeiam's reading of the role's policies (`kubeiam.vocabulary.policy`); usage data only says
which of them were used. A service is `used` (last accessed within the window), `unused` (known not to be), or
`unknown` (no data: kept as granted, counted neither way). AWS's limits are kept: a role younger than the window
is not judged, actions are judged only where AWS tracks them, the window is measured up to the data's own time
(activity shows with a lag of about four hours), and no window reaches past the 400 days AWS keeps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from kubeiam.vocabulary.policy import Statement, matches
from kubeiam_aws.judge.catalogue import aws_catalog
from kubeiam_aws.judge.usage_data import AnalyzerRole, LastAccessed, UsageData
from kubeiam_aws.view import Role

TRACKING_DAYS = 400
"""How far back AWS records last use (RoleLastUsed, service and action last accessed)."""
LAG = (
    "activity shows in AWS's record within about 4 hours: use in the last hours before the data was read may be missing"
)
ATTEMPTS = "AWS counts every attempt to call a service, denied ones included, as use"
USED, UNUSED, UNKNOWN = "used", "unused", "unknown"


@dataclass(frozen=True, slots=True)
class ServiceUse:
    namespace: str
    state: str
    """`used`, `unused` or `unknown`."""
    last: datetime | None
    tracked: bool = False
    """Its actions are tracked: `used_actions` and `unused_actions` say which (the rest is kept)."""
    used_actions: frozenset[str] = frozenset()
    unused_actions: frozenset[str] = frozenset()
    """Action names as AWS gives them, without the prefix (compare them case-insensitively)."""


@dataclass(frozen=True)
class RoleUse:
    """A role's usage judged for one window: the unused-access rule's input."""

    role: str
    window_days: int
    reference: datetime | None
    """The end of the window: the data's own time (never after the audit's)."""
    state: str
    """`idle` (not used in the window), `used`, or `unknown` (whether the role was used is not in the data)."""
    last_used: datetime | None
    services: Mapping[str, ServiceUse]
    """Every service the role is granted that the data speaks of (by namespace)."""
    granted: tuple[str, ...]
    """Every service the policies grant, as kubeiam reads them (namespace, sorted)."""
    complete: bool
    """The services a wildcard grants that AWS's complete report does not list are not granted in AWS's view."""
    sources: tuple[str, ...] = ()
    limits: tuple[str, ...] = ()
    too_young: bool = False

    @property
    def idle(self) -> bool:
        return self.state == "idle"

    def counts(self) -> tuple[int, int]:
        """(services granted with data, services used)."""
        judged = [s for s in self.services.values() if s.state != UNKNOWN]
        return len(judged), sum(1 for s in judged if s.state == USED and not self.idle)

    def action_counts(self) -> tuple[int, int]:
        """(tracked actions granted, tracked actions used), in the services AWS tracks at action level."""
        tracked = [s for s in self.services.values() if s.tracked]
        used = 0 if self.idle else sum(len(s.used_actions) for s in tracked)
        return sum(len(s.used_actions) + len(s.unused_actions) for s in tracked), used


# -- granted services ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def catalogue_services() -> tuple[str, ...]:
    return tuple(sorted(aws_catalog().by_service))


@lru_cache(maxsize=65536)
def services_of(pattern: str) -> tuple[tuple[str, ...], bool]:
    """(service namespaces an action pattern reaches, whether through a glob on the service part)."""
    service, sep, _ = pattern.partition(":")
    if pattern == "*" or not sep:
        return catalogue_services(), True
    if "*" in service or "?" in service:
        return tuple(s for s in catalogue_services() if matches(service, s)), True
    return (service.lower(),), False


def _not_action_services(not_actions: tuple[str, ...]) -> tuple[str, ...]:
    """The services an Allow NotAction reaches: every one not wholly excluded (`svc:*` or `*`)."""
    whole = [p for p in not_actions if p == "*" or p.endswith(":*")]
    return tuple(s for s in catalogue_services() if not any(matches(p.split(":", 1)[0], s) for p in whole))


def granted_services(statements: Iterable[Statement]) -> tuple[dict[str, None], dict[str, None]]:
    """(services named literally, services reached through a glob) by the Allow statements."""
    literal: dict[str, None] = {}
    globbed: dict[str, None] = {}
    for s in statements:
        if not s.is_allow:
            continue
        if not s.actions and s.not_actions:
            globbed.update(dict.fromkeys(_not_action_services(s.not_actions)))
            continue
        for p in s.actions:
            found, glob = services_of(p)
            (globbed if glob else literal).update(dict.fromkeys(found))
    return literal, globbed


def permission_statements(role: Role) -> tuple[Statement, ...]:
    """The statements of the role's permission policies (the boundary is not a grant)."""
    return tuple(s for g in role.grants for s in g.statements)


# -- judging -------------------------------------------------------------------------------------


def _within(moment: datetime | None, start: datetime | None) -> bool:
    return moment is not None and start is not None and moment >= start


def role_use(role: Role, data: UsageData, *, window_days: int, as_of: datetime | None) -> RoleUse | None:
    """The role's use over the window, or None when no usage data speaks of it at all."""
    report = data.reports.get(role.arn)
    finding = data.analyzer_roles.get(role.arn)
    analyzer = data.analyzers.get(role.account)
    silent = finding is None and report is None and analyzer is not None and analyzer.silent_means_used
    if report is None and finding is None and not silent and not role.last_used_read:
        return None
    limits: list[str] = []
    sources: list[str] = []
    window = window_days
    if window > TRACKING_DAYS:
        limits.append(
            f"AWS keeps {TRACKING_DAYS} days of use: the {window_days}-day window is judged over {TRACKING_DAYS}"
        )
        window = TRACKING_DAYS
    taken = (
        report.taken if report else finding.analyzed if finding else analyzer.analyzed if silent and analyzer else None
    )
    reference = as_of if taken is None or (as_of is not None and as_of < taken) else taken
    start = reference - timedelta(days=window) if reference is not None else None
    if role.last_used_read:
        sources.append(f"RoleLastUsed ({role.source})")
    literal, globbed = granted_services(permission_statements(role))
    granted = tuple(sorted(literal.keys() | globbed.keys()))
    services: dict[str, ServiceUse] = {}
    complete = False
    if report is not None:
        sources.append(f"service last accessed ({report.source})")
        complete = report.complete
        services = _from_report(report, literal, globbed, start)
        if not report.action_level:
            limits.append(
                "the job was SERVICE_LEVEL: no action is judged (generate it with --granularity ACTION_LEVEL)"
            )
        if not report.complete:
            limits.append(f"{report.source} holds one page of the job's services: those not on it are kept")
    elif finding is not None or silent:
        source = finding.source if finding else analyzer.source if analyzer else ""
        sources.append(f"IAM Access Analyzer unused access ({source})")
        age = finding.age_days if finding else analyzer.age_days if analyzer else window
        services = _from_analyzer(finding, literal, globbed, start)
        if age > window:
            limits.append(
                f"IAM Access Analyzer calls unused what was not used in {age} days: use within them counts as use"
            )
        if analyzer is not None and not analyzer.age_known:
            limits.append("the analyzer's unusedAccessAge is not in the file: AWS's default, 90 days, is assumed")
        if finding is not None and not finding.details:
            limits.append("UnusedPermission findings without findingDetails (run get-finding-v2): services kept")
    last = _last_used(role, report, finding)
    state = _state(role, report, finding, silent, last, start)
    too_young = role.created is not None and start is not None and role.created > start
    unknown = [s for s in granted if s not in services and (s in literal or not complete)]
    if report is not None and unknown:
        limits.append(f"{len(unknown)} granted service(s) not in the usage data, kept: {_few(unknown)}")
    if any(s.state == USED and not s.tracked for s in services.values()):
        limits.append("actions of the used services AWS does not track at action level are kept as granted")
    limits += [LAG, ATTEMPTS]
    if too_young:
        limits.insert(0, f"the role was created {role.created:%Y-%m-%d}: younger than the {window_days}-day window")
    return RoleUse(
        role=role.arn,
        window_days=window_days,
        reference=reference,
        state=state,
        last_used=last,
        services=services,
        granted=granted,
        complete=complete,
        sources=tuple(sources),
        limits=tuple(limits),
        too_young=too_young,
    )


def _from_report(
    report: LastAccessed, literal: Mapping[str, None], globbed: Mapping[str, None], start: datetime | None
) -> dict[str, ServiceUse]:
    out: dict[str, ServiceUse] = {}
    for name, rec in report.services.items():
        if name not in literal and name not in globbed:
            continue  # granted then, not now: the policies changed since the job
        if rec.unreadable or start is None:
            out[name] = ServiceUse(name, UNKNOWN, rec.last)
            continue
        state = USED if _within(rec.last, start) else UNUSED
        if rec.actions is None or not report.action_level:
            out[name] = ServiceUse(name, state, rec.last)
            continue
        used = frozenset(a for a, t in rec.actions.items() if _within(t, start))
        unused = frozenset(rec.actions) - used
        out[name] = ServiceUse(name, state, rec.last, True, used, unused)
    return out


def _from_analyzer(
    finding: AnalyzerRole | None, literal: Mapping[str, None], globbed: Mapping[str, None], start: datetime | None
) -> dict[str, ServiceUse]:
    """Services the analyzer names unused (unless used within our window after all); the others used."""
    reported = finding.services if finding is not None and finding.details else {}
    out: dict[str, ServiceUse] = {}
    for name in (*literal, *globbed):
        rec = reported.get(name)
        if rec is None:
            # Not named: used within the analyzer's age (or its details are unknown: kept).
            known = finding is None or finding.details
            out[name] = ServiceUse(name, USED if known else UNKNOWN, None)
            continue
        if rec.unreadable or start is None:
            out[name] = ServiceUse(name, UNKNOWN, rec.last)
        elif not rec.actions:  # the whole service unused, as the analyzer counts
            out[name] = ServiceUse(name, USED if _within(rec.last, start) else UNUSED, rec.last)
        else:
            # The analyzer names unused tracked actions only: the others are kept, and none is counted.
            unused = frozenset(a for a, t in rec.actions.items() if not _within(t, start))
            out[name] = ServiceUse(name, USED, rec.last, False, frozenset(), unused)
    return out


def _last_used(role: Role, report: LastAccessed | None, finding: AnalyzerRole | None) -> datetime | None:
    times = [role.last_used] if role.last_used else []
    if report is not None:
        times += [r.last for r in report.services.values() if r.last is not None]
    if finding is not None:
        times += [t for t in (finding.role_last, *(r.last for r in finding.services.values())) if t is not None]
    return max(times, default=None)


def _state(
    role: Role,
    report: LastAccessed | None,
    finding: AnalyzerRole | None,
    silent: bool,
    last: datetime | None,
    start: datetime | None,
) -> str:
    if start is None:
        return UNKNOWN
    if _within(last, start):
        return USED
    if report is None and finding is not None and not finding.unused_role:
        return USED  # the analyzer reports unused permissions of a role it saw used (else: UnusedIAMRole)
    # Known not used: AWS's record of the role (RoleLastUsed), a complete job with no service used, the
    # analyzer's UnusedIAMRole finding. An analyzer that says nothing of a role it covers saw it used.
    if role.last_used_read or (report is not None and report.complete) or (finding is not None and finding.unused_role):
        return "idle"
    return USED if silent else UNKNOWN


def rfc3339(moment: datetime | None) -> str | None:
    """`2026-01-09T10:00:00Z` (usage data times are UTC), or None."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _few(items: list[str], limit: int = 5) -> str:
    return ", ".join(items[:limit]) + (f" (and {len(items) - limit} more)" if len(items) > limit else "")
