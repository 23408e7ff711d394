"""A local GitHub REST API for driving PyGithub in tests: one repository's issues, labels and comments.

Shapes follow the REST reference (issue, label and comment objects with their URLs); paging by
`per_page` / `page` with RFC 8288 `Link` headers (rel next / last); labels named on a new issue are
created, as GitHub does for users with push access; `x-ratelimit-*` headers on every response.
Authentication: a token (`Authorization: token ...` or `Bearer ...`), or a GitHub App: a JWT signed
with the app's private key (RS256, `iss` = app id) exchanged at
`POST /app/installations/{id}/access_tokens` for an installation token.

Test controls:
- `max_per_page`: the server's page cap (GitHub's is 100), so a few dozen issues span several pages;
- `fault(...)`: answer matching requests with an error after `after` successes, `times` times; the
  rate-limit helpers give GitHub's own responses: primary limit (403 or 429, remaining 0 and
  `x-ratelimit-reset`), secondary limit (403 or 429 with `retry-after`);
- `requests`: every request served (method, path, query), for assertions.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

PRIMARY = "API rate limit exceeded for installation ID 1."
SECONDARY = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    times: int = 1
    after: int = 0
    seen: int = 0


@dataclass
class App:
    app_id: str
    installation_id: int
    public_key_pem: bytes
    tokens: list[str] = field(default_factory=list)


class FakeGitHub:
    def __init__(
        self, *, owner: str = "acme", repo: str = "security", token: str = "ghp_test_token", max_per_page: int = 100
    ) -> None:
        self.owner, self.repo, self.token, self.max_per_page = owner, repo, token, max_per_page
        self.issues: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.labels: dict[str, dict[str, Any]] = {}
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, str]] = []
        self.app: App | None = None
        self.lock = threading.Lock()
        self._ids = 1000
        self._server: ThreadingHTTPServer | None = None

    # --- control ---

    def start(self) -> FakeGitHub:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def repo_path(self) -> str:
        return f"/repos/{self.owner}/{self.repo}"

    def fault(
        self, method: str, path: str, status: int, *, times: int = 1, after: int = 0,
        message: str = "Server Error", headers: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.faults.append(Fault(method, re.compile(path), status, {"message": message}, headers or {}, times, after))

    def primary_rate_limit(self, method: str, path: str, *, status: int = 403, reset_in: int = 30) -> None:
        reset = str(int(time.time()) + reset_in)
        headers = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
        self.fault(method, path, status, message=PRIMARY, headers=headers)

    def secondary_rate_limit(self, method: str, path: str, *, status: int = 403, retry_after: int = 7) -> None:
        self.fault(method, path, status, message=SECONDARY, headers={"retry-after": str(retry_after)})

    def install_app(self, app_id: str, installation_id: int, public_key_pem: bytes) -> App:
        self.app = App(app_id, installation_id, public_key_pem)
        return self.app

    def add_issue(self, title: str, labels: list[str], body: str = "", state: str = "open") -> dict[str, Any]:
        with self.lock:
            issue = self._create(title, body, labels)
            issue["state"] = state
            return issue

    def open_issues(self) -> list[dict[str, Any]]:
        return [i for i in self.issues.values() if i["state"] == "open"]

    def count(self, method: str, path_pattern: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and re.fullmatch(path_pattern, p))

    # --- the store ---

    def _label(self, name: str) -> dict[str, Any]:
        if name not in self.labels:
            self._ids += 1
            self.labels[name] = {
                "id": self._ids, "node_id": f"LA_{self._ids}", "url": f"{self.url}{self.repo_path}/labels/{name}",
                "name": name, "color": "ededed", "default": False, "description": None,
            }  # fmt: skip
        return self.labels[name]

    def _create(self, title: str, body: str | None, labels: list[str]) -> dict[str, Any]:
        number = len(self.issues) + 1
        self._ids += 1
        base = f"{self.url}{self.repo_path}/issues/{number}"
        issue = {
            "url": base, "repository_url": f"{self.url}{self.repo_path}", "labels_url": f"{base}/labels{{/name}}",
            "comments_url": f"{base}/comments", "events_url": f"{base}/events",
            "html_url": f"https://github.example/{self.owner}/{self.repo}/issues/{number}",
            "id": self._ids, "node_id": f"I_{self._ids}", "number": number, "title": title,
            "user": {"login": "kubeiam-bot", "id": 1, "type": "Bot"},
            "labels": [self._label(n) for n in dict.fromkeys(labels)],
            "state": "open", "state_reason": None, "locked": False, "assignee": None, "assignees": [],
            "milestone": None, "comments": 0, "created_at": f"2026-01-01T00:{number // 60 % 60:02d}:{number % 60:02d}Z",
            "updated_at": "2026-01-01T00:00:00Z", "closed_at": None, "author_association": "NONE",
            "active_lock_reason": None, "body": body, "timeline_url": f"{base}/timeline",
            "performed_via_github_app": None,
        }  # fmt: skip
        self.issues[number] = issue
        self.comments[number] = []
        return issue


def _handler(gh: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # One send per response, no Nagle: otherwise each keep-alive request waits out a delayed ACK (40 ms).
        wbufsize = -1
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            limits = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4999",
                      "x-ratelimit-reset": str(int(time.time()) + 3600), "x-ratelimit-resource": "core"}  # fmt: skip
            for k, v in {**limits, **(headers or {})}.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null") if length else None
            with gh.lock:
                gh.requests.append((method, parts.path, parts.query))
                for fault in gh.faults:
                    if fault.method == method and fault.path.search(parts.path) and fault.times > 0:
                        fault.seen += 1
                        if fault.seen > fault.after:
                            fault.times -= 1
                            return self._send(fault.status, fault.body, fault.headers)
                if method == "POST" and (m := re.fullmatch(r"/app/installations/(\d+)/access_tokens", parts.path)):
                    return self._send(*self._installation_token(int(m.group(1))))
                if not self._authorised():
                    return self._send(
                        401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
                    )
                status, out, headers = self._route(method, parts.path, parse_qs(parts.query), body)
                self._send(status, out, headers)

        def _authorised(self) -> bool:
            scheme, _, token = self.headers.get("Authorization", "").partition(" ")
            valid = {gh.token, *(gh.app.tokens if gh.app else [])}
            return scheme.lower() in ("token", "bearer") and token in valid

        def _installation_token(self, installation: int) -> tuple[int, dict[str, Any]]:
            import jwt  # PyJWT, as PyGithub signs with it

            scheme, _, token = self.headers.get("Authorization", "").partition(" ")
            app = gh.app
            try:
                assert app is not None and scheme.lower() == "bearer" and installation == app.installation_id
                claims = jwt.decode(token, app.public_key_pem, algorithms=["RS256"])
                assert str(claims["iss"]) == app.app_id
            except (AssertionError, jwt.PyJWTError, KeyError):
                return 401, {"message": "A JSON web token could not be decoded"}
            app.tokens.append(f"ghs_installation_{len(app.tokens)}")
            return 201, {
                "token": app.tokens[-1],
                "expires_at": "2099-01-01T00:00:00Z",
                "permissions": {"issues": "write"},
            }

        def _route(self, method: str, path: str, q: dict[str, list[str]], body: Any) -> tuple[int, Any, dict[str, str]]:
            if not path.startswith(gh.repo_path):
                return 404, {"message": "Not Found"}, {}
            rest = path[len(gh.repo_path) :]
            if (method, rest) == ("GET", ""):
                return 200, {"id": 1, "name": gh.repo, "full_name": f"{gh.owner}/{gh.repo}",
                             "url": f"{gh.url}{gh.repo_path}", "has_issues": True}, {}  # fmt: skip
            if (method, rest) == ("GET", "/issues"):
                return self._list(path, q)
            if (method, rest) == ("POST", "/issues"):
                if not isinstance(body, dict) or not body.get("title"):
                    return (
                        422,
                        {"message": "Validation Failed", "errors": [{"field": "title", "code": "missing_field"}]},
                        {},
                    )
                return 201, gh._create(body["title"], body.get("body"), body.get("labels") or []), {}
            m = re.fullmatch(r"/issues/(\d+)(/comments)?", rest)
            issue = gh.issues.get(int(m.group(1))) if m else None
            if m is None or issue is None:
                return 404, {"message": "Not Found"}, {}
            if m.group(2) is None and method == "GET":
                return 200, issue, {}
            if m.group(2) is None and method == "PATCH":
                return self._edit(issue, body or {})
            if m.group(2) and method == "GET":
                return self._page(path, q, gh.comments[issue["number"]])
            if m.group(2) and method == "POST":
                return 201, self._comment(issue, (body or {}).get("body") or ""), {}
            return 404, {"message": "Not Found"}, {}

        def _list(self, path: str, q: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
            state = (q.get("state") or ["open"])[0]
            wanted = [x for x in (q.get("labels") or [""])[0].split(",") if x]
            found = [
                i
                for i in gh.issues.values()
                if state in ("all", i["state"]) and set(wanted) <= {x["name"] for x in i["labels"]}
            ]
            found.sort(key=lambda i: -i["number"])  # sort=created, direction=desc: GitHub's default
            return self._page(path, q, found)

        def _page(self, path: str, q: dict[str, list[str]], items: list[Any]) -> tuple[int, Any, dict[str, str]]:
            per_page = min(int((q.get("per_page") or ["30"])[0]), gh.max_per_page)
            page = int((q.get("page") or ["1"])[0])
            last = max(1, -(-len(items) // per_page))
            links = []
            for rel, n in (("next", page + 1), ("last", last)):
                if page < last:
                    query = {k: v[0] for k, v in q.items()} | {"page": str(n), "per_page": str(per_page)}
                    links.append(f'<{gh.url}{path}?{urlencode(query)}>; rel="{rel}"')
            return 200, items[(page - 1) * per_page : page * per_page], {"Link": ", ".join(links)} if links else {}

        def _edit(self, issue: dict[str, Any], body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
            for name in ("title", "body"):
                if name in body:
                    issue[name] = body[name]
            if "labels" in body:
                issue["labels"] = [gh._label(n) for n in dict.fromkeys(body["labels"])]
            if "state" in body:
                if body["state"] not in ("open", "closed"):
                    return 422, {"message": "Validation Failed"}, {}
                reason = body.get("state_reason")
                allowed = ("completed", "not_planned", "duplicate") if body["state"] == "closed" else ("reopened",)
                if reason is not None and reason not in allowed:
                    return 422, {"message": f"Validation Failed: state_reason {reason}"}, {}
                issue["state"], issue["state_reason"] = body["state"], reason
                issue["closed_at"] = "2026-01-02T00:00:00Z" if body["state"] == "closed" else None
            return 200, issue, {}

        def _comment(self, issue: dict[str, Any], text: str) -> dict[str, Any]:
            gh._ids += 1
            comment = {
                "id": gh._ids, "node_id": f"IC_{gh._ids}",
                "url": f"{gh.url}{gh.repo_path}/issues/comments/{gh._ids}",
                "html_url": f"{issue['html_url']}#issuecomment-{gh._ids}", "body": text,
                "user": {"login": "kubeiam-bot", "id": 1, "type": "Bot"}, "created_at": "2026-01-01T00:00:00Z",
                "updated_at": "2026-01-01T00:00:00Z", "issue_url": issue["url"], "author_association": "NONE",
            }  # fmt: skip
            gh.comments[issue["number"]].append(comment)
            issue["comments"] += 1
            return comment

    return Handler
