"""What a Google identity is granted against what it used: the IAM recommender's permission usage per role
binding (google.iam.policy.Insight), and the account's last authentication (Policy Analyzer activity).

Pure: the evidence reader builds `UsageData`; rules ask `identity_use` once per identity. The limits of
the data are kept with the judgement, never read as "unused":
- a binding without an insight is *untracked* (resource-level bindings, folder and organisation bindings,
  a binding younger than the window, a non-basic role without Security Command Center Premium, or all of
  its permissions used): neither used nor unused;
- an insight observes at most 90 days, and a binding younger than that for less;
- authentication times lag by up to a few days, and time is measured up to the newest moment the usage
  data holds (a lower bound of when it was collected), so an old evidence directory audited later never
  reads as a longer disuse;
- an account absent from the activity data has not authenticated in its retention: unused, unless the
  file could not be read whole (an unreadable entry or a missing page may be that account).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kubeiam.vocabulary.model import CloudIdentity, Grant

INSIGHT_MAX_DAYS = 90
"""The IAM recommender compares a binding's permissions with those used in the last 90 days at most."""

BindingKey = tuple[str, str, str, str]
"""(member, role, scope `projects/ID` | `folders/N` | `organizations/N` | full resource name, condition expression)."""


@dataclass(frozen=True, slots=True)
class PermissionInsight:
    """One `google.iam.policy.Insight` (PERMISSIONS_USAGE): which permissions of one role binding were used."""

    member: str
    role: str
    scope: str
    condition: str
    exercised: frozenset[str]
    inferred: frozenset[str]
    """Permissions the recommender's model predicts the member needs (kept by a right-sized role)."""
    observation_days: int | None
    """`observationPeriod` in days; None when the insight does not say."""
    name: str
    source: str


@dataclass(frozen=True, slots=True)
class RoleRecommendation:
    """One `google.iam.policy.Recommender` recommendation for one binding: remove or replace its role."""

    member: str
    role: str
    """The role it removes (`content.overview.removedRole`)."""
    scope: str
    condition: str
    subtype: str
    """`REMOVE_ROLE`, `REPLACE_ROLE`, `REPLACE_ROLE_CUSTOMIZABLE`, ..."""
    added_roles: tuple[str, ...]
    custom_permissions: frozenset[str] | None
    """The permissions of the custom role a REPLACE_ROLE_CUSTOMIZABLE recommendation creates, when it says them."""
    name: str
    source: str


@dataclass(frozen=True)
class UsageData:
    """Every usage file read, indexed for look-ups; `None` members of the view mean no usage file at all."""

    insights: Mapping[BindingKey, PermissionInsight] = field(default_factory=dict)
    recommendations: Mapping[BindingKey, RoleRecommendation] = field(default_factory=dict)
    insight_projects: frozenset[str] = frozenset()
    """Project ids whose `iam-insights.json` was read."""
    last_authentication: Mapping[str, datetime] = field(default_factory=dict)
    """Service account email -> its last authentication."""
    key_last_authentication: Mapping[str, datetime] = field(default_factory=dict)
    """Key resource name (`projects/P/serviceAccounts/EMAIL/keys/ID`) -> its last authentication."""
    activity_projects: Mapping[str, str] = field(default_factory=dict)
    """Project id -> the file whose absence of an account means "no authentication" (read whole)."""
    activity_partial: Mapping[str, str] = field(default_factory=dict)
    """Project id -> why its activity file cannot prove an absence (an unreadable entry, a missing page)."""
    key_activity_projects: frozenset[str] = frozenset()
    unreadable: frozenset[str] = frozenset()
    """Members one of whose insights, recommendations or activity entries could not be read."""
    fresh: Mapping[str, datetime] = field(default_factory=dict)
    """Project id -> the newest time its usage files hold: the data is at least this recent."""


@dataclass(frozen=True, slots=True)
class BindingUse:
    """One grant of the identity and what is known of its use."""

    grant: Grant
    permissions: frozenset[str]
    exercised: frozenset[str] | None = None
    """None: untracked (no usable insight), never "nothing used"."""
    kept: frozenset[str] = frozenset()
    """Exercised and inferred permissions of the role: what a right-sized grant keeps."""
    insight: PermissionInsight | None = None
    recommendation: RoleRecommendation | None = None
    untracked: str = ""
    """Why the binding is untracked."""

    @property
    def unused(self) -> frozenset[str]:
        return self.permissions - self.exercised if self.exercised is not None else frozenset()


@dataclass(frozen=True)
class IdentityUse:
    """What an identity is granted and used, with what the data cannot see."""

    member: str
    bindings: tuple[BindingUse, ...]
    authentication: str
    """`never` (absent from the activity read whole), `idle` (last authentication before the window),
    `recent`, or `unknown` (no activity data for it, or not a service account)."""
    last_used: datetime | None
    idle_days: int | None
    window_days: int
    limits: tuple[str, ...]
    sources: tuple[str, ...]
    keys: Mapping[str, datetime | None] = field(default_factory=dict)
    """User-managed key id -> its last authentication (None: none recorded), when key activity was read."""

    @property
    def idle(self) -> bool:
        """Not used in the window: no authentication at all, or none for `window_days`."""
        return self.authentication in ("never", "idle") and not any(b.exercised for b in self.bindings)

    @property
    def tracked(self) -> tuple[BindingUse, ...]:
        return tuple(b for b in self.bindings if b.exercised is not None)

    def counts(self) -> tuple[int, int]:
        """(granted, used) distinct permissions: of every grant for an idle identity, else of the tracked ones."""
        chosen = self.bindings if self.idle else self.tracked
        granted = frozenset().union(*(b.permissions for b in chosen)) if chosen else frozenset()
        used = frozenset().union(*(b.exercised or frozenset() for b in chosen)) if chosen else frozenset()
        return len(granted), len(used & granted)


def rfc3339(moment: datetime | None) -> str | None:
    """`2026-01-10T07:00:00Z`, as Google prints times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment is not None else None


def first_names(permissions: frozenset[str], n: int) -> list[str]:
    """The first `n` names in order, and how many more: a few for a person to look at (an Editor binding
    leaves ~12,000 unused), without sorting them all."""
    found = heapq.nsmallest(n, permissions)
    return found + ([f"... {len(permissions) - n} more"] if len(permissions) > n else [])


def member_of(principal: str) -> str:
    """The IAM member a principal is bound as: `serviceAccount:EMAIL`, or the `principal://` member itself."""
    return principal if "://" in principal else f"serviceAccount:{principal}"


def project_of_account(email: str) -> str | None:
    """The project id a user-created or App Engine service account email names."""
    local, _, domain = email.partition("@")
    if domain.endswith(".iam.gserviceaccount.com"):
        return domain.removesuffix(".iam.gserviceaccount.com")
    if domain == "appspot.gserviceaccount.com":
        return local
    return None


def condition_of(grant: Grant) -> str:
    cond = (grant.document or {}).get("condition") or {}
    return str(cond.get("expression") or "") if isinstance(cond, Mapping) else ""


def identity_use(
    identity: CloudIdentity,
    permissions: Mapping[str, frozenset[str]],
    data: UsageData,
    *,
    window_days: int,
    as_of: datetime | None,
    project: str | None,
    key_names: tuple[str, ...] = (),
) -> IdentityUse:
    """Judge one identity. `permissions`: role -> permissions (roles not in it are left out: their gap is
    already the identity's); `project`: the service account's project (None for a `principal://` member);
    `key_names`: its user-managed keys (`projects/P/serviceAccounts/EMAIL/keys/ID`)."""
    member = member_of(identity.principal)
    limits: list[str] = []
    sources: dict[str, None] = {}
    bindings = tuple(
        _binding(g, perms, member, data, window_days, limits, sources)
        for g in identity.grants
        if (perms := permissions.get(g.role or "")) is not None
    )
    auth, last, idle_days, keys = _authentication(identity, data, window_days, as_of, project, key_names, limits)
    if project is not None and project in data.activity_projects:
        sources[f"serviceAccountLastAuthentication ({data.activity_projects[project]})"] = None
    if identity.principal in data.unreadable or member in data.unreadable:
        limits.append("an entry of its usage data could not be read (see coverage)")
    untracked = [b for b in bindings if b.exercised is None]
    idle = auth in ("never", "idle") and not any(b.exercised for b in bindings)
    if untracked and not idle:  # an identity not used at all: every binding is unused, tracked or not
        limits.append(f"permission use not tracked for {len(untracked)} of {len(bindings)} bindings (see `bindings`)")
    return IdentityUse(member, bindings, auth, last, idle_days, window_days, tuple(limits), tuple(sources), keys)


def _binding(
    grant: Grant,
    perms: frozenset[str],
    member: str,
    data: UsageData,
    window_days: int,
    limits: list[str],
    sources: dict[str, None],
) -> BindingUse:
    scope = grant.scope or ""
    key = (member, grant.role or "", scope, condition_of(grant))
    insight = data.insights.get(key)
    recommendation = data.recommendations.get(key)
    if insight is None:
        return BindingUse(grant, perms, recommendation=recommendation, untracked=_why_untracked(grant, data))
    needed = min(window_days, INSIGHT_MAX_DAYS)
    if insight.observation_days is not None and insight.observation_days < needed:
        # The recommender watches a binding younger than 90 days since it was granted: too short to call unused.
        why = f"observed {insight.observation_days} days only (younger than the {needed}-day window)"
        return BindingUse(grant, perms, insight=insight, recommendation=recommendation, untracked=why)
    longer = f"permission use is observed over {INSIGHT_MAX_DAYS} days at most, not {window_days}"
    if window_days > INSIGHT_MAX_DAYS and longer not in limits:
        limits.append(longer)
    sources[f"google.iam.policy.Insight ({insight.source})"] = None
    exercised = insight.exercised & perms
    kept = exercised | (insight.inferred & perms)
    return BindingUse(grant, perms, exercised, kept, insight, recommendation)


def _why_untracked(grant: Grant, data: UsageData) -> str:
    scope = grant.scope or ""
    if grant.scope_level == "resource":
        return "resource-level (insights cover project bindings)"
    if grant.scope_level in ("folder", "organization"):
        return "folder or organisation binding (insights not collected)"
    project = scope.removeprefix("projects/")
    if project not in data.insight_projects:
        return f"gcp/{project}/iam-insights.json absent"
    return "no insight (all used, not analysed yet, or needs SCC Premium)"


def _authentication(
    identity: CloudIdentity,
    data: UsageData,
    window_days: int,
    as_of: datetime | None,
    project: str | None,
    key_names: tuple[str, ...],
    limits: list[str],
) -> tuple[str, datetime | None, int | None, dict[str, datetime | None]]:
    if project is None or "://" in identity.principal:
        return "unknown", None, None, {}
    keys: dict[str, datetime | None] = {}
    if project in data.key_activity_projects:
        keys = {k.rsplit("/", 1)[-1]: data.key_last_authentication.get(k) for k in key_names}
    seen = [t for t in (data.last_authentication.get(identity.principal), *keys.values()) if t is not None]
    last = max(seen) if seen else None
    if project not in data.activity_projects:
        return "unknown", last, None, keys
    reference = data.fresh.get(project)
    if as_of is not None and (reference is None or as_of < reference):
        reference = as_of
    if last is None:
        partial = data.activity_partial.get(project)
        if partial:
            limits.append(f"the activity data cannot show it unused: {partial}")
            return "unknown", None, None, keys
        limits.append(
            "an account created in the last days reads the same as one never used (the account list carries "
            "no creation time); authentication by API keys bound to it is not recorded"
        )
        return "never", None, None, keys
    idle_days = max(0, (reference - last).days) if reference is not None else None
    limits.append(f"authentication is recorded with a lag of up to a few days (measured up to {_day(reference)})")
    if idle_days is not None and idle_days >= window_days:
        return "idle", last, idle_days, keys
    return "recent", last, idle_days, keys


def _day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment else "unknown"
