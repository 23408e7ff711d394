"""The usage data of AWS roles as the evidence gives it (AWS-024): what `judge/usage.py` judges, and what the view
holds. Apart from the judging, so that the view does not import the judge that reads its roles."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    """One service of one role's usage data (lower-case namespace)."""

    namespace: str
    last: datetime | None
    """Last accessed; None: not in the data's tracking period (for the analyzer: never, in its record)."""
    actions: Mapping[str, datetime | None] | None = None
    """Tracked action (as AWS names it, no prefix) -> last accessed (None: not used in the tracking period); None:
    not tracked at action level."""
    unreadable: bool = False
    """An entry not understood: the service is judged unknown (kept), never unused."""


@dataclass(frozen=True, slots=True)
class LastAccessed:
    """One role's completed `get-service-last-accessed-details` job."""

    role: str
    source: str
    """The evidence file."""
    taken: datetime | None
    """JobCompletionDate (else JobCreationDate): the moment the data describes."""
    action_level: bool
    services: Mapping[str, ServiceRecord]
    complete: bool = True
    """False when the file holds one page of several (`IsTruncated`): a service not listed is unknown."""


@dataclass(frozen=True, slots=True)
class AnalyzerRole:
    """What unused-access findings of IAM Access Analyzer say of one role."""

    role: str
    source: str
    analyzed: datetime | None
    age_days: int
    """The analyzer's `unusedAccessAge`: what it calls unused."""
    unused_role: bool = False
    role_last: datetime | None = None
    services: Mapping[str, ServiceRecord] = field(default_factory=dict)
    """Unused services (`actions` empty) or, within a used service, its unused tracked actions."""
    details: bool = True
    """False when an UnusedPermission finding came without `findingDetails` (list-findings-v2 only)."""


@dataclass(frozen=True, slots=True)
class Analyzer:
    """An account's unused-access analyzer as its file describes it."""

    source: str
    analyzed: datetime | None
    age_days: int
    age_known: bool
    silent_means_used: bool
    """The file lists every finding (no `nextToken`) of an analyzer with no exclusions: a role it has no
    finding about used what it is granted, as the analyzer counts."""


@dataclass(frozen=True)
class UsageData:
    reports: Mapping[str, LastAccessed] = field(default_factory=dict)
    """Role ARN -> its completed service-last-accessed job."""
    analyzer_roles: Mapping[str, AnalyzerRole] = field(default_factory=dict)
    analyzers: Mapping[str, Analyzer] = field(default_factory=dict)
    """Account -> its unused-access analyzer (the first region's file, when several)."""

    def covers(self, role: str, account: str) -> bool:
        """Whether service-level use of `role` is in the data (the rest is only role-level, or nothing)."""
        if role in self.reports:
            return True
        found = self.analyzer_roles.get(role)
        if found is not None and found.details:
            return True
        analyzer = self.analyzers.get(account)
        return found is None and analyzer is not None and analyzer.silent_means_used
