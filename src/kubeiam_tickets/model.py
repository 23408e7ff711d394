"""The vocabulary of ticket synchronisation: what the report wants, what the tracker has, what to do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK = {s: len(SEVERITIES) - i for i, s in enumerate(SEVERITIES)}

TOOL_LABEL = "kubeiam"
"""Every ticket kubeiam files carries this label: the one listing that finds them all."""
KEY_LABEL_PREFIX = "kubeiam:"
"""`kubeiam:<fingerprint>` (or `kubeiam:sa:v1:<hash>` for a ServiceAccount ticket): how a ticket is found."""
NOT_RECHECKED_LABEL = "kubeiam:not-rechecked"
"""Set with the one comment saying a run could not re-check the finding; cleared when it is seen again."""
MANAGED_LABEL_PREFIXES = ("kubeiam", "severity:", "owner:")
"""Labels kubeiam owns on its tickets; any other label (a person's) is kept on update."""


class State(StrEnum):
    """What the report says about one ticket key."""

    OPEN = "open"
    SUPPRESSED = "suppressed"
    RESOLVED = "resolved"
    NOT_RECHECKED = "not_rechecked"


class Kind(StrEnum):
    """One step of a plan. SKIP steps change nothing; they say why a ticket was left alone."""

    CLOSE_DUPLICATE = "close-duplicate"
    CREATE = "create"
    REOPEN = "reopen"
    UPDATE = "update"
    CLOSE = "close"
    COMMENT = "comment"
    SKIP = "skip"


@dataclass(frozen=True)
class Section:
    """One finding as a ticket shows it."""

    fingerprint: str
    severity: str
    rule_id: str
    category: str
    title: str
    evidence: str
    """Evidence summary: plain text, shown verbatim (a code block), never interpreted as markup."""
    remediation: str
    status: str = "open"
    """`open`, or `suppressed` (a grouped ticket lists its accepted risks too, with their reason)."""
    suppression: str = ""


@dataclass(frozen=True)
class Content:
    """Everything a ticket says, independent of the tracker's markup."""

    key: str
    """The fingerprint (one ticket per finding) or the ServiceAccount key (`sa:v1:<hash>`)."""
    title: str
    severity: str
    labels: tuple[str, ...]
    """The managed labels this ticket should carry (without the not-re-checked flag)."""
    facts: tuple[tuple[str, str], ...]
    """(name, value) pairs: cluster, subject, cloud, principal, owner..."""
    sections: tuple[Section, ...]
    digest: str
    """Hash of all of the above: a ticket whose stored digest differs is updated."""
    source: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    """The report's finding itself (one ticket per finding), for trackers with a structured format (ASFF)."""


@dataclass(frozen=True)
class Desired:
    """What the report says about one ticket key."""

    key: str
    state: State
    severity: str
    title: str
    content: Content | None = None
    """The ticket's text when the finding is open (None otherwise)."""
    reason: str = ""
    """For a suppressed finding: the suppression (reason, owner, expiry) a closing comment quotes."""


@dataclass(frozen=True)
class Ticket:
    """A ticket (or Security Hub finding) that exists in the tracker."""

    key: str
    ref: str
    """What a person types to find it: `SEC-12`, `#12`, a Security Hub finding id."""
    ident: str
    """The tracker's stable id, kept in the journal: Jira issue id, GitHub issue number, ASFF Id."""
    open: bool
    digest: str | None
    """The content digest kubeiam stored when it last wrote the ticket (None: unknown, so update)."""
    labels: tuple[str, ...] = ()
    order: int = 0
    """Creation order (Jira id, GitHub number): the oldest of duplicates is the one kept."""
    handle: Any = field(default=None, compare=False, repr=False)
    """The client library's own object for it, for the tracker module's use only."""

    @property
    def noted_not_rechecked(self) -> bool:
        return NOT_RECHECKED_LABEL in self.labels


@dataclass(frozen=True)
class Action:
    kind: Kind
    key: str
    severity: str
    title: str
    ticket: Ticket | None = None
    content: Content | None = None
    reason: str = ""
    """Why, in a few words: `new`, `changed`, `resolved`, `regression`, `suppressed`, `duplicate`..."""
    detail: str = ""
    """What a comment quotes: the suppression (who, until when, why), or the ticket a duplicate repeats."""


@dataclass(frozen=True)
class Plan:
    target: str
    run: str
    """The report's `generated_at`: comments name the run they come from (and mark it, for idempotency)."""
    actions: tuple[Action, ...]

    def counts(self) -> dict[str, int]:
        out = {k.value: 0 for k in Kind if k is not Kind.SKIP}
        skipped: dict[str, int] = {}
        for a in self.actions:
            if a.kind is Kind.SKIP:
                skipped[a.reason] = skipped.get(a.reason, 0) + 1
            else:
                out[a.kind.value] += 1
        return {**out, **{f"skip: {reason}": n for reason, n in sorted(skipped.items())}}

    @property
    def changes(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.kind is not Kind.SKIP)
