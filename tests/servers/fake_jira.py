"""A local Jira REST API (v2) for driving the real `jira` client library in tests.

It speaks what `kubeiam tickets --to jira` and the client call, with Jira's shapes (API reference):
`serverInfo` (Cloud or Data Center), `field`, both searches (Cloud's `/search/jql` paged by
`nextPageToken`, Data Center's `/search` paged by `startAt`; each rejects the other, as the deprecated
endpoint does on Cloud), issue create / get / edit (`fields` and `update` operations), entity
properties, transitions with status categories, comments (paged). Basic auth (email + API token) or a
bearer personal access token; anything else is 401.

Test controls:
- `page_size`: the server's cap on `maxResults`, so a few dozen issues span several pages;
- `fault(...)`: answer a matching request with an error (429 + Retry-After, 500...) `times` times,
  after `after` matching requests succeeded: a rate limit, or a server failing half-way;
- `index_lag=True`: searches see the issues as of the last `reindex()` (Jira Cloud's search is
  eventually consistent), while `GET /issue/{id}` sees them as they are;
- `requests`: every request served, for assertions.

Only the JQL kubeiam sends is understood (`field = "value"` clauses joined by AND, ORDER BY); any other
JQL is a 400, so a change in the query cannot silently match nothing.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API = "/rest/api/2"
STATUSES = {
    name: {"id": ident, "name": name, "statusCategory": {"id": cat_id, "key": cat, "name": cat_name}}
    for name, ident, cat_id, cat, cat_name in (
        ("To Do", "10000", 2, "new", "To Do"),
        ("In Progress", "3", 4, "indeterminate", "In Progress"),
        ("Done", "10001", 3, "done", "Done"),
    )
}
# name -> (from statuses, to status): a simplified Jira Software workflow.
WORKFLOW = {
    "Start progress": (("To Do",), "In Progress"),
    "Done": (("To Do", "In Progress"), "Done"),
    "Reopen": (("Done",), "To Do"),
}
FIELDS = [
    {"id": "summary", "name": "Summary", "custom": False, "clauseNames": ["summary"]},
    {"id": "description", "name": "Description", "custom": False, "clauseNames": ["description"]},
    {"id": "labels", "name": "Labels", "custom": False, "clauseNames": ["labels"]},
    {"id": "status", "name": "Status", "custom": False, "clauseNames": ["status"]},
    {"id": "created", "name": "Created", "custom": False, "clauseNames": ["created", "createdDate"]},
    {"id": "resolution", "name": "Resolution", "custom": False, "clauseNames": ["resolution"]},
]
_CLAUSE = re.compile(r'^\s*(\w+)\s*=\s*"([^"]*)"\s*$')


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    times: int = 1
    after: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    seen: int = 0


class FakeJira:
    def __init__(
        self,
        *,
        project: str = "SEC",
        cloud: bool = True,
        page_size: int = 5,
        email: str = "bot@example.com",
        token: str = "jira-api-token",
        index_lag: bool = False,
        workflow: dict[str, tuple[tuple[str, ...], str]] | None = None,
    ) -> None:
        self.project, self.cloud, self.page_size = project, cloud, page_size
        self.email, self.token, self.index_lag = email, token, index_lag
        self.workflow = workflow or WORKFLOW
        self.issues: dict[str, dict[str, Any]] = {}
        self.index: dict[str, dict[str, Any]] = {}
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self._next = 10000
        self._server: ThreadingHTTPServer | None = None

    # --- control ---

    def start(self) -> FakeJira:
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

    def fault(self, method: str, path: str, status: int, *, times: int = 1, after: int = 0, **headers: str) -> None:
        hdrs = {k.replace("_", "-"): v for k, v in headers.items()}
        self.faults.append(Fault(method, re.compile(path), status, times, after, hdrs))

    def reindex(self) -> None:
        with self.lock:
            self.index = copy.deepcopy(self.issues)

    def add_issue(self, summary: str, labels: list[str], status: str = "To Do") -> dict[str, Any]:
        """An issue made by a person (or another run), straight into the store."""
        with self.lock:
            return self._create(summary, "", labels, status)

    def open_issues(self) -> list[dict[str, Any]]:
        return [i for i in self.issues.values() if i["status"] != "Done"]

    def count(self, method: str, path_prefix: str) -> int:
        return sum(1 for m, p in self.requests if m == method and p.startswith(path_prefix))

    # --- the store ---

    def _create(self, summary: str, description: str, labels: list[str], status: str = "To Do") -> dict[str, Any]:
        self._next += 1
        ident = str(self._next)
        issue: dict[str, Any] = {
            "id": ident,
            "key": f"{self.project}-{self._next - 10000}",
            "summary": summary,
            "description": description,
            "labels": list(labels),
            "status": status,
            "resolution": None,
            "created": f"2026-01-01T00:00:{self._next % 60:02d}.000+0000",
            "properties": {},
            "comments": [],
        }
        self.issues[ident] = issue
        if not self.index_lag:
            self.index[ident] = copy.deepcopy(issue)
        return issue

    def find(self, ref: str) -> dict[str, Any] | None:
        return self.issues.get(ref) or next((i for i in self.issues.values() if i["key"] == ref), None)

    def render(self, issue: dict[str, Any], fields: list[str] | None, properties: list[str]) -> dict[str, Any]:
        every = {
            "summary": issue["summary"],
            "description": issue["description"],
            "labels": issue["labels"],
            "status": STATUSES[issue["status"]],
            "created": issue["created"],
            "resolution": {"name": issue["resolution"]} if issue["resolution"] else None,
            "issuetype": {"id": "10002", "name": "Task"},
            "project": {"id": "10000", "key": self.project},
        }
        wanted = every if not fields or "*all" in fields else {k: v for k, v in every.items() if k in fields}
        out: dict[str, Any] = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": issue["id"],
            "self": f"{self.url}{API}/issue/{issue['id']}",
            "key": issue["key"],
            "fields": wanted,
        }
        if properties:
            out["properties"] = {p: issue["properties"][p] for p in properties if p in issue["properties"]}
        return out

    def search(self, jql: str) -> list[dict[str, Any]]:
        where, _, order = jql.partition(" ORDER BY ")
        source = self.index if self.index_lag else self.issues
        found = list(source.values())
        for clause in where.split(" AND "):
            m = _CLAUSE.match(clause)
            if not m or m.group(1) not in ("project", "labels"):
                raise ValueError(f"unsupported JQL clause: {clause!r}")
            name, value = m.groups()
            found = [i for i in found if (self.project == value if name == "project" else value in i["labels"])]
        if order.strip() not in ("", "created ASC", "key ASC"):
            raise ValueError(f"unsupported ORDER BY: {order!r}")
        return sorted(found, key=lambda i: int(i["id"]))

    def transitions(self, issue: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"id": str(11 + n), "name": name, "to": STATUSES[to], "hasScreen": False, "isGlobal": False}
            for n, (name, (sources, to)) in enumerate(self.workflow.items())
            if issue["status"] in sources
        ]


def _handler(jira: FakeJira) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # One send per response, no Nagle: otherwise each keep-alive request waits out a delayed ACK (40 ms).
        wbufsize = -1
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if data:
                self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            auth = self.headers.get("Authorization", "")
            basic = base64.b64encode(f"{jira.email}:{jira.token}".encode()).decode()
            return auth in (f"Basic {basic}", f"Bearer {jira.token}")

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {k: v for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null") if length else None
            with jira.lock:
                jira.requests.append((method, parts.path))
                for fault in jira.faults:
                    if fault.method == method and fault.path.search(parts.path) and fault.times > 0:
                        fault.seen += 1
                        if fault.seen > fault.after:
                            fault.times -= 1
                            error = {"errorMessages": [f"injected HTTP {fault.status}"], "errors": {}}
                            return self._send(fault.status, error, fault.headers)
                if not self._authorised():
                    return self._send(401, {"errorMessages": ["You are not authenticated."], "errors": {}})
                try:
                    status, out = self._route(method, parts.path.removeprefix(API), query, body)
                except ValueError as exc:
                    status, out = 400, {"errorMessages": [str(exc)], "errors": {}}
                self._send(status, out)

        def _route(self, method: str, path: str, q: dict[str, list[str]], body: Any) -> tuple[int, Any]:
            one = {k: v[0] for k, v in q.items()}
            if (method, path) == ("GET", "/serverInfo"):
                deployment = "Cloud" if jira.cloud else "Server"
                return 200, {"baseUrl": jira.url, "version": "1001.0.0", "versionNumbers": [1001, 0, 0],
                             "deploymentType": deployment, "buildNumber": 100280, "serverTitle": "Jira"}  # fmt: skip
            if (method, path) == ("GET", "/field"):
                return 200, FIELDS
            if path == "/search/jql" and method == "GET":
                if not jira.cloud:
                    return 404, {"errorMessages": ["null for uri: /rest/api/2/search/jql"], "errors": {}}
                return 200, self._search_token(one, q)
            if path == "/search" and method == "GET":
                if jira.cloud:  # CHANGE-2046: removed on Cloud
                    return 410, {"errorMessages": ["The requested API has been removed. Please use /search/jql."]}
                return 200, self._search_offset(one, q)
            if (method, path) == ("POST", "/issue"):
                return self._create(body)
            m = re.fullmatch(r"/issue/([^/]+)(?:/(transitions|comment|properties/[^/]+))?", path)
            issue = jira.find(m.group(1)) if m else None
            if m is None or issue is None:
                return 404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."]}
            sub = m.group(2)
            if sub is None and method == "GET":
                return 200, jira.render(issue, _csv(q.get("fields")), _csv(q.get("properties")) or [])
            if sub is None and method == "PUT":
                return self._edit(issue, body or {})
            if sub == "transitions" and method == "GET":
                return 200, {"expand": "transitions", "transitions": jira.transitions(issue)}
            if sub == "transitions" and method == "POST":
                return self._transition(issue, body or {})
            if sub == "comment" and method == "GET":
                start, size = int(one.get("startAt", 0)), min(int(one.get("maxResults", 50)), jira.page_size)
                page = issue["comments"][start : start + size]
                return 200, {"startAt": start, "maxResults": size, "total": len(issue["comments"]), "comments": page}
            if sub == "comment" and method == "POST":
                return 201, self._comment(issue, (body or {}).get("body", ""))
            if sub and sub.startswith("properties/") and method == "PUT":
                existed = sub[11:] in issue["properties"]
                issue["properties"][sub[11:]] = body
                return (200 if existed else 201), None
            return 405, {"errorMessages": [f"{method} not allowed"]}

        def _search_token(self, one: dict[str, str], q: dict[str, list[str]]) -> dict[str, Any]:
            found = jira.search(one["jql"])
            start = int(one.get("nextPageToken") or 0)
            size = min(int(one.get("maxResults", 50)), jira.page_size)
            page = found[start : start + size]
            out: dict[str, Any] = {"issues": [jira.render(i, _csv(q.get("fields")), _csv(q.get("properties")) or [])
                                              for i in page]}  # fmt: skip
            if start + size < len(found):
                out["nextPageToken"] = str(start + size)
            out["isLast"] = "nextPageToken" not in out
            return out

        def _search_offset(self, one: dict[str, str], q: dict[str, list[str]]) -> dict[str, Any]:
            found = jira.search(one["jql"])
            start, size = int(one.get("startAt", 0)), min(int(one.get("maxResults", 50)), jira.page_size)
            issues = [
                jira.render(i, _csv(q.get("fields")), _csv(q.get("properties")) or [])
                for i in found[start : start + size]
            ]
            return {
                "expand": "schema,names",
                "startAt": start,
                "maxResults": size,
                "total": len(found),
                "issues": issues,
            }

        def _create(self, body: Any) -> tuple[int, Any]:
            fields = (body or {}).get("fields") or {}
            if (fields.get("project") or {}).get("key") != jira.project:
                return 400, {"errorMessages": [], "errors": {"project": "valid project is required"}}
            if (fields.get("issuetype") or {}).get("name") != "Task":
                return 400, {"errorMessages": [], "errors": {"issuetype": "valid issue type is required"}}
            if not fields.get("summary") or len(fields["summary"]) > 255 or "\n" in fields["summary"]:
                return 400, {"errorMessages": [], "errors": {"summary": "invalid summary"}}
            if any(" " in label for label in fields.get("labels", [])):
                return 400, {"errorMessages": [], "errors": {"labels": "labels cannot contain spaces"}}
            issue = jira._create(fields["summary"], fields.get("description") or "", fields.get("labels") or [])
            return 201, {"id": issue["id"], "key": issue["key"], "self": f"{jira.url}{API}/issue/{issue['id']}"}

        def _edit(self, issue: dict[str, Any], body: dict[str, Any]) -> tuple[int, Any]:
            for name, value in (body.get("fields") or {}).items():
                if name not in ("summary", "description", "labels"):
                    return 400, {"errorMessages": [], "errors": {name: "Field cannot be set."}}
                issue[name] = list(value) if name == "labels" else value
            for name, ops in (body.get("update") or {}).items():
                for op in ops:
                    if name == "labels" and "add" in op:
                        issue["labels"] = [*[x for x in issue["labels"] if x != op["add"]], op["add"]]
                    elif name == "labels" and "remove" in op:
                        issue["labels"] = [x for x in issue["labels"] if x != op["remove"]]
                    elif name == "comment" and "add" in op:
                        self._comment(issue, op["add"]["body"])
                    else:
                        return 400, {"errorMessages": [f"unsupported update {name}: {op}"]}
            self._reindex_if_live(issue)
            return 204, None

        def _transition(self, issue: dict[str, Any], body: dict[str, Any]) -> tuple[int, Any]:
            wanted = str((body.get("transition") or {}).get("id"))
            chosen = next((t for t in jira.transitions(issue) if t["id"] == wanted), None)
            if chosen is None:
                return 400, {"errorMessages": [f"Transition id '{wanted}' is not valid for this issue."]}
            issue["status"] = chosen["to"]["name"]
            fields = body.get("fields") or {}
            issue["resolution"] = (fields.get("resolution") or {}).get("name") if issue["status"] == "Done" else None
            for op in (body.get("update") or {}).get("comment", []):
                self._comment(issue, op["add"]["body"])
            self._reindex_if_live(issue)
            return 204, None

        def _comment(self, issue: dict[str, Any], text: str) -> dict[str, Any]:
            comment = {"id": str(20000 + sum(len(i["comments"]) for i in jira.issues.values())), "body": text,
                       "author": {"displayName": "kubeiam bot"}, "created": "2026-01-01T00:00:00.000+0000"}  # fmt: skip
            issue["comments"].append(comment)
            return comment

        def _reindex_if_live(self, issue: dict[str, Any]) -> None:
            if not jira.index_lag:
                jira.index[issue["id"]] = copy.deepcopy(issue)

    return Handler


def _csv(values: list[str] | None) -> list[str] | None:
    """Jira takes list parameters repeated or comma-separated."""
    if not values:
        return None
    return [x for v in values for x in v.split(",") if x]
