"""Carry a plan out against a tracker, so that a run stopped half-way converges when it is run again.

Why that holds:
- tickets are found by their key label, never by title, so a re-run sees what the stopped run made;
- every step is idempotent given what it sees: an updated ticket's digest matches and it is skipped,
  a closed ticket is not closed again, a comment is made only if its marker is not already there;
- trackers whose search is eventually consistent (Jira Cloud's `/search/jql`: "the API doesn't
  provide read-after-write consistency") may not list a ticket made seconds ago. The journal, a small
  JSON file next to the report, records the id of every ticket written for this report; a re-run
  reads those tickets directly (consistent) so it neither creates them twice nor acts on stale state.
- should duplicates appear anyway (a lost journal), the plan keeps the oldest and closes the others.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from kubeiam.errors import InputError
from kubeiam_tickets.markup import Comment, comment_for
from kubeiam_tickets.model import Action, Content, Kind, Plan, Ticket


class TrackerError(Exception):
    """The tracker refused or failed a request (after the client's own retries): one line, no traceback."""


class CreatedThenFailed(TrackerError):
    """The ticket was made, a later step of its creation failed: the journal must still learn its id."""

    def __init__(self, message: str, ticket: Ticket) -> None:
        super().__init__(message)
        self.ticket = ticket


class Tracker(Protocol):
    target: str
    """Where tickets go, for people: `jira https://x.atlassian.net project SEC`."""
    journal_name: str | None
    """File name of this tracker's journal next to the report (None: writes are upserts by id, no journal)."""
    comments: bool

    def list_tickets(self, known: Iterable[str]) -> list[Ticket]:
        """Every kubeiam ticket (open or closed), plus those with the `known` ids read directly."""
        ...

    def create(self, content: Content) -> Ticket: ...

    def update(self, ticket: Ticket, content: Content) -> None: ...

    def reopen(self, ticket: Ticket, content: Content, comment: Comment) -> None: ...

    def close(self, ticket: Ticket, comment: Comment, *, reason: str) -> None:
        """`reason`: resolved, suppressed or duplicate."""
        ...

    def note(self, ticket: Ticket, comment: Comment) -> None:
        """The not-re-checked comment, once, and the flag label that says it was made."""
        ...


@dataclass(frozen=True)
class Outcome:
    done: tuple[Action, ...]
    failed: Action | None = None
    error: str = ""
    not_attempted: tuple[Action, ...] = ()


class Journal:
    """key -> tracker id of each ticket written for one report. Written after every write (atomically)."""

    def __init__(self, path: Path | None, target: str) -> None:
        self.path, self.target = path, target
        self.ids: dict[str, str] = {}
        if path is not None and path.is_file():
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(f"{path}: journal is not readable JSON ({exc}); delete it to start afresh") from None
            if isinstance(doc, dict) and doc.get("target") == target and isinstance(doc.get("tickets"), dict):
                self.ids = {str(k): str(v) for k, v in doc["tickets"].items()}

    def check_writable(self) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.path.parent, prefix=".kubeiam-", delete=True):
                pass
        except OSError as exc:
            raise InputError(
                f"--journal {self.path}: cannot write here ({exc.strerror or exc}); name another file with --journal"
            ) from None

    def record(self, key: str, ident: str) -> None:
        if self.path is None or self.ids.get(key) == ident:
            return
        self.ids[key] = ident
        text = json.dumps({"target": self.target, "tickets": dict(sorted(self.ids.items()))}, indent=1)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".kubeiam-journal-")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text + "\n")
        os.replace(tmp, self.path)


def execute(
    plan: Plan, tracker: Tracker, journal: Journal, progress: Callable[[Action], None] | None = None
) -> Outcome:
    """Do the plan's changes in order; stop at the first failure (the rest is for the re-run)."""
    changes = plan.changes
    done: list[Action] = []
    for i, action in enumerate(changes):
        try:
            _do(action, plan.run, tracker, journal)
        except CreatedThenFailed as exc:
            journal.record(action.key, exc.ticket.ident)
            return Outcome(tuple(done), action, str(exc), changes[i + 1 :])
        except TrackerError as exc:
            return Outcome(tuple(done), action, str(exc), changes[i + 1 :])
        done.append(action)
        if progress:
            progress(action)
    return Outcome(tuple(done))


def _do(action: Action, run: str, tracker: Tracker, journal: Journal) -> None:
    comment = comment_for(action, run)
    if action.kind is Kind.CREATE:
        assert action.content is not None
        made = tracker.create(action.content)
        journal.record(action.key, made.ident)
        return
    ticket = action.ticket
    assert ticket is not None
    journal.record(
        action.key if action.kind is not Kind.CLOSE_DUPLICATE else f"{action.key}#{ticket.ident}", ticket.ident
    )
    if action.kind is Kind.UPDATE:
        assert action.content is not None
        tracker.update(ticket, action.content)
    elif action.kind is Kind.REOPEN:
        assert action.content is not None and comment is not None
        tracker.reopen(ticket, action.content, comment)
    elif action.kind in (Kind.CLOSE, Kind.CLOSE_DUPLICATE):
        assert comment is not None
        tracker.close(ticket, comment, reason="duplicate" if action.kind is Kind.CLOSE_DUPLICATE else action.reason)
    elif action.kind is Kind.COMMENT:
        assert comment is not None
        tracker.note(ticket, comment)
