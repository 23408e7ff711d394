"""Jira (Cloud or Data Center) through the `jira` client library (pycontribs/jira).

- Found by label: `project = KEY AND labels = "kubeiam"`, every page (Cloud: `/search/jql` with
  `nextPageToken`; Data Center: `/search` with `startAt`), then each journal ticket read directly
  (Cloud's search is eventually consistent).
- The fingerprint is the label `kubeiam:<fingerprint>`; the content digest is an issue entity
  property `kubeiam` (`{"key", "digest"}`), returned by the same search, invisible to people.
- Close / reopen are workflow transitions: the one named by `--jira-close-transition` /
  `--jira-reopen-transition`, else the first whose target status is in the Done category / not in
  it. The comment goes in the same request as the transition, so it is made exactly once.
- 429 and 503 are retried by the client's ResilientSession, waiting at least Retry-After.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from jira import JIRA, JIRAError
from jira.resources import Issue

from kubeiam.errors import InputError
from kubeiam_tickets.execute import CreatedThenFailed, TrackerError
from kubeiam_tickets.markup import Comment, jira_body, jira_comment
from kubeiam_tickets.model import NOT_RECHECKED_LABEL, TOOL_LABEL, Content, Ticket
from kubeiam_tickets.render import key_of_labels, merge_labels, one_line

PROPERTY = "kubeiam"
FIELDS = ["summary", "status", "labels", "created"]


def from_environment(env: Mapping[str, str], project: str | None, **options: Any) -> JiraTracker:
    """Credentials as Jira's own tools take them: JIRA_SERVER (or JIRA_URL); Cloud: JIRA_EMAIL (or
    JIRA_USER) with JIRA_API_TOKEN (basic auth); Data Center: JIRA_API_TOKEN alone, a personal access
    token sent as a bearer token. Never logged, never written."""
    server = env.get("JIRA_SERVER") or env.get("JIRA_URL")
    token = env.get("JIRA_API_TOKEN")
    email = env.get("JIRA_EMAIL") or env.get("JIRA_USER")
    project = project or env.get("JIRA_PROJECT")
    if not server:
        raise InputError("tickets --to jira: set JIRA_SERVER to the Jira URL (https://your-site.atlassian.net)")
    if not token:
        raise InputError("tickets --to jira: set JIRA_API_TOKEN (with JIRA_EMAIL for Jira Cloud)")
    if not project:
        raise InputError("tickets --to jira: name the project with --jira-project KEY (or JIRA_PROJECT)")
    auth: dict[str, Any] = {"basic_auth": (email, token)} if email else {"token_auth": token}
    with _calls(f"connect to {server}"):
        client = JIRA(server=server, timeout=60, max_retries=5, **auth)
    return JiraTracker(client, project, **options)


@contextmanager
def _calls(what: str) -> Iterator[None]:
    """Client errors as one line; a refused credential is bad input (exit 2), anything else a tracker failure."""
    try:
        yield
    except JIRAError as exc:
        status = exc.status_code
        if status in (401, 403) and "rate" not in str(exc.text or "").lower():
            raise InputError(f"jira: {what}: the server refused the credentials (HTTP {status})") from None
        detail = one_line(exc.text or "", 200)
        raise TrackerError(f"jira: {what}: HTTP {status or '?'}: {detail}") from None
    except OSError as exc:  # requests' ConnectionError and timeouts are OSErrors
        raise TrackerError(f"jira: {what}: {one_line(exc, 200)}") from None


class JiraTracker:
    comments = True
    journal_name: str | None = "tickets-jira.journal.json"

    def __init__(
        self,
        client: JIRA,
        project: str,
        *,
        issue_type: str = "Task",
        close_transition: str | None = None,
        reopen_transition: str | None = None,
        resolution: str | None = None,
    ) -> None:
        self.client, self.project, self.issue_type = client, project, issue_type
        self.close_transition, self.reopen_transition, self.resolution = close_transition, reopen_transition, resolution
        self.target = f"jira {client.server_url} project {project}"

    # --- reading ---

    def list_tickets(self, known: Iterable[str]) -> list[Ticket]:
        jql = f'project = "{self.project}" AND labels = "{TOOL_LABEL}" ORDER BY created ASC'
        with _calls(f"search {jql}"):
            found = self.client.search_issues(jql, maxResults=False, fields=list(FIELDS), properties=PROPERTY)
        issues = {str(i.id): i for i in found}
        for ident in known:  # read-after-write: the journal's tickets as they are now, not as indexed
            try:
                issues[ident] = self.client.issue(ident, fields=",".join(FIELDS), properties=PROPERTY)
            except JIRAError as exc:
                if exc.status_code != 404:  # a ticket deleted since is simply gone
                    with _calls(f"read issue {ident}"):
                        raise
        return [t for i in issues.values() if (t := self._ticket(i)) is not None]

    def _ticket(self, issue: Issue) -> Ticket | None:
        raw = issue.raw or {}
        fields = raw.get("fields") or {}
        labels = tuple(fields.get("labels") or ())
        prop = (raw.get("properties") or {}).get(PROPERTY) or {}
        key = key_of_labels(labels) or prop.get("key")
        if not key:
            return None
        category = ((fields.get("status") or {}).get("statusCategory") or {}).get("key")
        digest = prop.get("digest") if prop.get("key") == key else None
        return Ticket(key, raw["key"], str(raw["id"]), category != "done", digest, labels, int(raw["id"]), issue)

    # --- writing ---

    def create(self, content: Content) -> Ticket:
        fields = {
            "project": {"key": self.project},
            "issuetype": {"name": self.issue_type},
            **self._fields(content, ()),
        }
        with _calls(f"create an issue in {self.project}"):
            issue = self.client.create_issue(fields=fields, prefetch=False)
        ident = str(issue.raw.get("id") or issue.id)
        made = Ticket(content.key, issue.key, ident, True, content.digest, content.labels, int(ident), issue)
        try:
            with _calls(f"store the digest of {issue.key}"):
                self._store_digest(issue.key, content)
        except TrackerError as exc:  # the issue exists: the re-run finds it (journal) and stores the digest
            raise CreatedThenFailed(str(exc), made) from None
        return made

    def update(self, ticket: Ticket, content: Content) -> None:
        with _calls(f"update {ticket.ref}"):
            # Fields first, digest second: stopped in between, the next run sees an old digest and updates again.
            ticket.handle.update(fields=self._fields(content, ticket.labels))
            self._store_digest(ticket.ref, content)

    def reopen(self, ticket: Ticket, content: Content, comment: Comment) -> None:
        self._transition(ticket, comment, done=False)
        self.update(ticket, content)

    def close(self, ticket: Ticket, comment: Comment, *, reason: str) -> None:
        self._transition(ticket, comment, done=True)

    def note(self, ticket: Ticket, comment: Comment) -> None:
        # Comment and flag label in one edit: either both are there or neither.
        update = {"comment": [{"add": {"body": jira_comment(comment)}}], "labels": [{"add": NOT_RECHECKED_LABEL}]}
        with _calls(f"comment on {ticket.ref}"):
            ticket.handle.update(update=update)

    def _fields(self, content: Content, existing: Iterable[str]) -> dict[str, Any]:
        return {
            "summary": content.title,
            "description": jira_body(content),
            "labels": merge_labels(existing, content.labels),
        }

    def _store_digest(self, issue_key: str, content: Content) -> None:
        self.client.add_issue_property(issue_key, PROPERTY, {"key": content.key, "digest": content.digest})

    def _transition(self, ticket: Ticket, comment: Comment, *, done: bool) -> None:
        with _calls(f"list the transitions of {ticket.ref}"):
            transitions = self.client.transitions(ticket.ref)
        chosen = _choose(transitions, self.close_transition if done else self.reopen_transition, done=done)
        if chosen is None:
            names = ", ".join(repr(t.get("name")) for t in transitions) or "none"
            flag = "--jira-close-transition" if done else "--jira-reopen-transition"
            raise TrackerError(
                f"jira: {ticket.ref}: no transition {'to a Done status' if done else 'out of Done'} "
                f"(available: {names}); name one with {flag}"
            )
        fields = {"resolution": {"name": self.resolution}} if done and self.resolution else None
        with _calls(f"transition {ticket.ref} ({chosen.get('name')})"):
            self.client.transition_issue(ticket.ref, str(chosen["id"]), fields=fields, comment=jira_comment(comment))


def _choose(transitions: list[dict[str, Any]], name: str | None, *, done: bool) -> dict[str, Any] | None:
    if name:
        return next((t for t in transitions if str(t.get("name", "")).lower() == name.lower()), None)

    def category(t: dict[str, Any]) -> str:
        return str(((t.get("to") or {}).get("statusCategory") or {}).get("key"))

    if done:
        return next((t for t in transitions if category(t) == "done"), None)
    # Back to the start of the workflow (To Do) rather than straight into progress.
    candidates = [t for t in transitions if category(t) not in ("done", "None")]
    return min(candidates, key=lambda t: category(t) != "new", default=None)
