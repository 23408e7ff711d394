"""GitHub issues through PyGithub.

- Found by label: `GET /repos/{repo}/issues?labels=kubeiam&state=all`, every page (Link headers),
  not the search API (rate-limited to 30 a minute and eventually consistent); then each journal
  issue read directly.
- The fingerprint is the label `kubeiam:<fingerprint>` plus a hidden last line in the body,
  `<!-- kubeiam:ticket key=... digest=... -->`, which also carries the content digest. Content,
  labels and state change in one PATCH, so a ticket is never half-updated.
- Comments (closing reason, reopening, not re-checked) end with a hidden marker and are made only if
  no comment of the ticket has it yet: a run stopped between a comment and its PATCH does not repeat it.
- Rate limits: PyGithub's GithubRetry waits out a 403 until `x-ratelimit-reset` (primary) or
  `retry-after` / a minute (secondary); `_Retry` below does the same for 429, which GitHub also sends,
  and never retries a POST that failed with a 5xx (the issue may exist: the re-run finds it by label).
  PyGithub also spaces writes a second apart, as GitHub asks of integrations that create content.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from github import Auth, Github, GithubException, RateLimitExceededException
from github.GithubRetry import GithubRetry
from github.Issue import Issue
from urllib3 import Retry

from kubeiam.errors import InputError
from kubeiam_tickets.execute import TrackerError
from kubeiam_tickets.markup import Comment, markdown_body, markdown_comment, parse_marker
from kubeiam_tickets.model import MANAGED_LABEL_PREFIXES, NOT_RECHECKED_LABEL, TOOL_LABEL, Content, Ticket
from kubeiam_tickets.render import key_of_labels, merge_labels, one_line

STATE_REASON = {"resolved": "completed", "suppressed": "not_planned", "duplicate": "not_planned"}


class _Retry(GithubRetry):
    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method == "POST" and status_code >= 500:
            return False
        return bool(super().is_retry(method, status_code, has_retry_after))

    def increment(self, method: Any = None, url: Any = None, response: Any = None, *args: Any, **kw: Any) -> Retry:  # type: ignore[override]
        if response is not None and response.status == 429 and "Retry-After" not in response.headers:
            retry = Retry.increment(self, method, url, response, *args, **kw)
            wait = _reset_wait(response.headers) or self.secondary_rate_wait
            base = Retry.get_backoff_time(retry)
            retry.get_backoff_time = lambda: max(wait, base)  # type: ignore[method-assign]
            return retry
        return super().increment(method, url, response, *args, **kw)


def _reset_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds until `x-ratelimit-reset` when the primary limit is spent (`x-ratelimit-remaining: 0`)."""
    reset = headers.get("X-RateLimit-Reset")
    if headers.get("X-RateLimit-Remaining") != "0" or not (reset or "").isdigit():
        return None
    return max(0.0, int(str(reset)) - time.time()) + 1


def retry_policy() -> Retry:
    # PATCH too (urllib3 leaves it out): an issue edit sets fields, so repeating it is harmless.
    methods = Retry.DEFAULT_ALLOWED_METHODS | {"GET", "POST", "PATCH"}
    return _Retry(total=8, backoff_factor=0.5, status_forcelist=[429, *range(500, 600)], allowed_methods=methods)


def from_environment(env: Mapping[str, str], repo: str | None, *, throttle: bool = True) -> GitHubTracker:
    """GITHUB_TOKEN (or GH_TOKEN, as the gh CLI), or a GitHub App: GITHUB_APP_ID,
    GITHUB_APP_INSTALLATION_ID and GITHUB_APP_PRIVATE_KEY (PEM text) or GITHUB_APP_PRIVATE_KEY_FILE.
    GITHUB_API_URL for GitHub Enterprise Server (Actions sets it); GITHUB_REPOSITORY for the repository."""
    repo = repo or env.get("GITHUB_REPOSITORY")
    if not repo or repo.count("/") != 1:
        raise InputError(
            "tickets --to github: name the repository with --github-repo OWNER/NAME (or GITHUB_REPOSITORY)"
        )
    auth = _auth(env)
    pacing: dict[str, Any] = {} if throttle else {"seconds_between_requests": None, "seconds_between_writes": None}
    client = Github(
        auth=auth,
        base_url=env.get("GITHUB_API_URL") or "https://api.github.com",
        per_page=100,
        retry=retry_policy(),
        timeout=60,
        **pacing,
    )
    return GitHubTracker(client, repo)


def _auth(env: Mapping[str, str]) -> Auth.Auth:
    app_id, installation = env.get("GITHUB_APP_ID"), env.get("GITHUB_APP_INSTALLATION_ID")
    if app_id:
        key = env.get("GITHUB_APP_PRIVATE_KEY")
        if not key and env.get("GITHUB_APP_PRIVATE_KEY_FILE"):
            path = Path(env["GITHUB_APP_PRIVATE_KEY_FILE"])
            try:
                key = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise InputError(f"GITHUB_APP_PRIVATE_KEY_FILE {path}: cannot read: {exc.strerror or exc}") from None
        if not key or not (installation or "").isdigit():
            raise InputError(
                "tickets --to github: a GitHub App needs GITHUB_APP_ID, GITHUB_APP_INSTALLATION_ID and "
                "GITHUB_APP_PRIVATE_KEY (or GITHUB_APP_PRIVATE_KEY_FILE)"
            )
        return Auth.AppAuth(app_id, key).get_installation_auth(int(str(installation)))
    token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN")
    if not token:
        raise InputError(
            "tickets --to github: set GITHUB_TOKEN (or GH_TOKEN), or a GitHub App's GITHUB_APP_* variables"
        )
    return Auth.Token(token)


@contextmanager
def _calls(what: str) -> Iterator[None]:
    try:
        yield
    except RateLimitExceededException as exc:
        raise TrackerError(
            f"github: {what}: still rate limited after waiting (HTTP {exc.status}); run again later"
        ) from None
    except GithubException as exc:
        message = exc.data.get("message") if isinstance(exc.data, dict) else exc.data
        if exc.status in (401, 403):
            raise InputError(f"github: {what}: refused (HTTP {exc.status}): {one_line(message or '', 200)}") from None
        raise TrackerError(f"github: {what}: HTTP {exc.status}: {one_line(message or '', 200)}") from None
    except OSError as exc:  # connection errors, and retries exhausted (requests' RetryError)
        gave_up = re.search(r"too many (\d+) error responses", str(exc))
        if gave_up:  # urllib3's words for a rate limit (403/429) or a failing server that outlasted the retries
            detail = f"HTTP {gave_up.group(1)} after every retry; still rate limited? run again later"
            raise TrackerError(f"github: {what}: {detail}") from None
        raise TrackerError(f"github: {what}: {one_line(exc, 200)}") from None


class GitHubTracker:
    comments = True
    journal_name: str | None = "tickets-github.journal.json"

    def __init__(self, client: Github, repo: str) -> None:
        self.client = client
        with _calls(f"read the repository {repo}"):
            self.repo = client.get_repo(repo)
        self.target = f"github {repo}"

    def list_tickets(self, known: Iterable[str]) -> list[Ticket]:
        issues: dict[str, Issue] = {}
        with _calls(f"list the issues labelled {TOOL_LABEL}"):
            for issue in self.repo.get_issues(state="all", labels=[TOOL_LABEL]):
                if "/pull/" not in (issue.html_url or ""):  # the issues list includes pull requests
                    issues[str(issue.number)] = issue
        for ident in known:
            try:
                issues[ident] = self.repo.get_issue(int(ident))
            except GithubException as exc:
                if exc.status not in (404, 410):  # deleted or transferred since: gone
                    with _calls(f"read issue #{ident}"):
                        raise
        return [t for i in issues.values() if (t := _ticket(i)) is not None]

    def create(self, content: Content) -> Ticket:
        with _calls("create an issue"):
            issue = self.repo.create_issue(
                title=content.title, body=markdown_body(content), labels=list(content.labels)
            )
        return Ticket(
            content.key,
            f"#{issue.number}",
            str(issue.number),
            True,
            content.digest,
            content.labels,
            issue.number,
            issue,
        )

    def update(self, ticket: Ticket, content: Content) -> None:
        with _calls(f"update {ticket.ref}"):
            ticket.handle.edit(**_fields(ticket, content))

    def reopen(self, ticket: Ticket, content: Content, comment: Comment) -> None:
        self._comment_once(ticket, comment)
        with _calls(f"reopen {ticket.ref}"):
            ticket.handle.edit(state="open", state_reason="reopened", **_fields(ticket, content))

    def close(self, ticket: Ticket, comment: Comment, *, reason: str) -> None:
        self._comment_once(ticket, comment)
        with _calls(f"close {ticket.ref}"):
            ticket.handle.edit(state="closed", state_reason=STATE_REASON.get(reason, "completed"))

    def note(self, ticket: Ticket, comment: Comment) -> None:
        self._comment_once(ticket, comment)
        with _calls(f"label {ticket.ref}"):
            ticket.handle.edit(labels=merge_labels(ticket.labels, _managed(ticket), not_rechecked=True))

    def _comment_once(self, ticket: Ticket, comment: Comment) -> None:
        with _calls(f"comment on {ticket.ref}"):
            if any(comment.marker in (c.body or "") for c in ticket.handle.get_comments()):
                return
            ticket.handle.create_comment(markdown_comment(comment))


def _managed(ticket: Ticket) -> list[str]:
    return [x for x in ticket.labels if x.startswith(MANAGED_LABEL_PREFIXES) and x != NOT_RECHECKED_LABEL]


def _fields(ticket: Ticket, content: Content) -> dict[str, Any]:
    return {
        "title": content.title,
        "body": markdown_body(content),
        "labels": merge_labels(ticket.labels, content.labels),
    }


def _ticket(issue: Issue) -> Ticket | None:
    labels = tuple(label.name for label in issue.labels)
    marker = parse_marker(issue.body)
    key = key_of_labels(labels) or (marker[0] if marker else None)
    if not key:
        return None
    digest = marker[1] if marker and marker[0] == key else None
    return Ticket(
        key, f"#{issue.number}", str(issue.number), issue.state == "open", digest, labels, issue.number, issue
    )
