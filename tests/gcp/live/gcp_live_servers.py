"""Local stand-ins for Google Cloud: a REST server (Resource Manager, Asset, Container) and a gRPC
IAM admin server, both serving the fixture files of fixtures/gcp/live, counting requests and able to
inject failures (403 / PERMISSION_DENIED, 429 / RESOURCE_EXHAUSTED)."""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import grpc
from google.cloud import iam_admin_v1
from google.iam.v1 import iam_policy_pb2, policy_pb2
from google.protobuf import json_format
from kubeiam_gcp.live.clients import Settings

from kubeiam.pipeline.providers import CollectRequest

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "gcp" / "live"

_STATUS = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED"}


class _Faults:
    """Per key, a queue of failures served before the normal answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: dict[Any, list[Any]] = {}
        self._every: Any = None
        self.requests: Counter[Any] = Counter()
        self.denied: set[str] = set()

    def fail(self, key: Any, failure: Any, times: int = 1_000_000) -> None:
        with self._lock:
            self._queue.setdefault(key, []).extend([failure] * times)

    def fail_every_request(self, failure: Any) -> None:
        """Answer every request with `failure` (credentials refused, everything denied)."""
        with self._lock:
            self._every = failure

    def take(self, key: Any) -> Any:
        with self._lock:
            self.requests[key] += 1
            queue = self._queue.get(key)
            return queue.pop(0) if queue else self._every

    def deny(self, name: str) -> None:
        """Refuse every request about resource `name` (`projects/P`), or listing its children, with 403 /
        PERMISSION_DENIED: a project (or folder) the auditor may not read."""
        with self._lock:
            self.denied.add(name)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._every = None
            self.requests.clear()
            self.denied.clear()


class RestServer(_Faults):
    """Keys are "METHOD /path" with the path as sent (e.g. `POST /v3/projects/acme-data:getIamPolicy`);
    for the Resource Manager listings, "GET /v3/folders?parent=folders/N" (and `/v3/projects`).

    Serves `routes` (URL path -> body) first, then the fixture files under `root`; `latency` seconds
    are added to every answer (benchmarks). `folders.list` and `projects.list` answer from the folders and
    projects it serves (files and routes), by their `parent`, as the API does: direct children only,
    sorted by display name, ACTIVE ones only unless `showDeleted=true`, `list_page` a page at most.
    `deny(name)` answers 403 to every request about that resource.
    """

    def __init__(
        self,
        root: Path = FIXTURES / "rest",
        *,
        routes: dict[str, Any] | None = None,
        latency: float = 0.0,
        list_page: int = 100,
    ) -> None:
        super().__init__()
        self.root = root
        self.routes = dict(routes or {})
        self.latency = latency
        self.list_page = list_page
        self.listings: list[tuple[str, dict[str, list[str]]]] = []
        """(path, query) of every folders.list / projects.list request, in order."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._serve(self, "GET")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                server._serve(self, "POST")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> RestServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self) -> None:
        super().reset()
        self.listings.clear()

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query)
        listing = method == "GET" and path in ("/v3/folders", "/v3/projects")
        key = f"{method} {path}?parent={query.get('parent', [''])[0]}" if listing else f"{method} {path}"
        failure = self.take(key)
        if any(re.search(rf"(^| /v\d/|=){re.escape(name)}($|[/:])", key) for name in self.denied):
            failure = failure or 403
        if listing:
            with self._lock:
                self.listings.append((path, query))
        if self.latency:
            time.sleep(self.latency)
        if isinstance(failure, tuple):  # (status, HTML page): what a proxy or a wrong endpoint answers
            return _send_text(handler, failure[0], failure[1])
        if failure is not None:
            return _send(handler, failure, _error(failure, f"injected failure for {path}"))
        if listing:
            return _send(handler, 200, self._children(path.rpartition("/")[2], query))
        file = self.root / (path.lstrip("/").replace(":", "/") + ".json")
        if path in self.routes:
            body = self.routes[path]
        elif file.is_file():
            body = json.loads(file.read_text())
        else:
            return _send(handler, 404, _error(404, f"{path} not found"))
        token = query.get("pageToken", ["0"])[0]
        if "_pages" in body:  # recorded pages, served in order
            body = body["_pages"][int(token or 0)]
        elif "_items" in body:  # a list paged by the request's pageSize, as the API does
            if body.get("_filter") and "filter" in query:  # `FIELD = "VALUE"`, as Policy Analyzer filters
                wanted = _FILTER.search(query["filter"][0])
                items = [i for i in body["_items"] if wanted and i.get(body["_filter"]) == wanted[1]]
                body = {**body, "_items": items}
            body = _page(body, int(token or 0), int(query.get("pageSize", ["0"])[0] or 0))
        _send(handler, 200, body)

    def _children(self, kind: str, query: dict[str, list[str]]) -> dict[str, Any]:
        """One page of `folders.list` / `projects.list` (`kind`: folders, projects) for `parent`."""
        parent = query.get("parent", [""])[0]
        served = [json.loads(f.read_text()) for f in sorted((self.root / "v3" / kind).glob("*.json"))]
        served += [body for path, body in self.routes.items() if re.fullmatch(rf"/v3/{kind}/[^/:]+", path)]
        deleted = query.get("showDeleted", ["false"])[0] == "true"
        items = [r for r in served if r.get("parent") == parent and (deleted or r.get("state") == "ACTIVE")]
        items.sort(key=lambda r: r.get("displayName", ""))
        start = int(query.get("pageToken", ["0"])[0] or 0)
        size = min(int(query.get("pageSize", ["0"])[0] or 0) or self.list_page, self.list_page)
        page: dict[str, Any] = {kind: items[start : start + size]} if items[start : start + size] else {}
        if start + size < len(items):
            page["nextPageToken"] = str(start + size)
        return page


_FILTER = re.compile(r'=\s*"([^"]*)"')


def _page(body: dict[str, Any], start: int, asked: int) -> dict[str, Any]:
    """`{"_items": [...], "_key": "results", "_max_page": 500}` -> one page of it, with nextPageToken."""
    items, size = body["_items"], min(asked or body["_max_page"], body["_max_page"])
    page: dict[str, Any] = {body["_key"]: items[start : start + size]}
    if start + size < len(items):
        page["nextPageToken"] = str(start + size)
    return page


def _error(code: int, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": _STATUS.get(code, "UNKNOWN")}}


def _send_text(handler: BaseHTTPRequestHandler, code: int, text: str) -> None:
    data = text.encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "text/html; charset=UTF-8")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def _send(handler: BaseHTTPRequestHandler, code: int, body: Any) -> None:
    data = json.dumps(body).encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json; charset=UTF-8")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class IamServer(_Faults):
    """google.iam.admin.v1.IAM over plaintext gRPC. Keys are (rpc name, resource name).

    Data: the files under `root`, or `projects` ({project: {"accounts", "policies", "keys", "roles"}})
    and `organizations` ({number: {"roles"}}) given directly (benchmarks); `latency` per answer.
    """

    def __init__(
        self,
        root: Path = FIXTURES / "iam",
        *,
        projects: dict[str, dict] | None = None,
        organizations: dict[str, dict] | None = None,
        latency: float = 0.0,
    ) -> None:
        super().__init__()
        self.latency = latency
        self.accounts: dict[str, tuple[str, dict]] = {}  # email -> (project, account)
        self.policies: dict[str, dict] = {}
        self.keys: dict[str, list[dict]] = {}
        self.roles: dict[str, list[dict]] = {}  # parent ("" = predefined) -> roles
        if projects is None:
            projects = {f.stem: json.loads(f.read_text()) for f in sorted((root / "projects").glob("*.json"))}
        if organizations is None:
            organizations = {f.stem: json.loads(f.read_text()) for f in sorted((root / "organizations").glob("*.json"))}
        for project, data in projects.items():
            for account in data["accounts"]:
                self.accounts[account["email"]] = (project, account)
            self.policies.update(data.get("policies", {}))
            self.keys.update(data.get("keys", {}))
            self.roles[f"projects/{project}"] = data.get("roles", [])
        for number, data in organizations.items():
            self.roles[f"organizations/{number}"] = data.get("roles", [])
        predefined = root / "predefined-roles.json"
        self.roles[""] = json.loads(predefined.read_text())["roles"] if predefined.is_file() else []

        t = iam_admin_v1
        methods = {
            "ListServiceAccounts": (
                self.list_service_accounts,
                t.ListServiceAccountsRequest,
                t.ListServiceAccountsResponse,
            ),
            "GetServiceAccount": (self.get_service_account, t.GetServiceAccountRequest, t.ServiceAccount),
            "ListServiceAccountKeys": (
                self.list_keys,
                t.ListServiceAccountKeysRequest,
                t.ListServiceAccountKeysResponse,
            ),
            "ListRoles": (self.list_roles, t.ListRolesRequest, t.ListRolesResponse),
            "GetRole": (self.get_role, t.GetRoleRequest, t.Role),
        }
        handlers = {
            name: grpc.unary_unary_rpc_method_handler(
                self._guard(name, fn), request_deserializer=req.deserialize, response_serializer=resp.serialize
            )
            for name, (fn, req, resp) in methods.items()
        }
        handlers["GetIamPolicy"] = grpc.unary_unary_rpc_method_handler(
            self._guard("GetIamPolicy", self.get_iam_policy),
            request_deserializer=iam_policy_pb2.GetIamPolicyRequest.FromString,
            response_serializer=policy_pb2.Policy.SerializeToString,
        )
        self.server = grpc.server(ThreadPoolExecutor(max_workers=8))
        generic = grpc.method_handlers_generic_handler("google.iam.admin.v1.IAM", handlers)
        self.server.add_generic_rpc_handlers((generic,))
        self.target = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"

    def start(self) -> IamServer:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop(grace=None)

    def _guard(self, rpc: str, fn: Any) -> Any:
        def handle(request: Any, context: grpc.ServicerContext) -> Any:
            resource = next((getattr(request, f) for f in ("name", "resource", "parent") if hasattr(request, f)), "")
            failure = self.take((rpc, resource))
            if any(resource == name or resource.startswith(f"{name}/") for name in self.denied):
                failure = failure or grpc.StatusCode.PERMISSION_DENIED
            if self.latency:
                time.sleep(self.latency)
            if failure is not None:
                context.abort(failure, f"injected {failure.name} for {resource}")
            return fn(request, context)

        return handle

    def _account(self, name: str, context: grpc.ServicerContext) -> tuple[str, dict]:
        email = name.rsplit("/", 1)[-1]
        found = self.accounts.get(email)
        project = name.split("/")[1]
        if found is None or project not in ("-", found[0]):
            context.abort(grpc.StatusCode.NOT_FOUND, f"Service account {email} does not exist.")
        return found

    def list_service_accounts(self, request: Any, context: grpc.ServicerContext) -> Any:
        project = request.name.split("/")[1]
        accounts = [a for p, a in self.accounts.values() if p == project]
        start = int(request.page_token or 0)
        size = min(request.page_size or 20, 100)  # the API's default and maximum
        page = [iam_admin_v1.ServiceAccount.from_json(json.dumps(a)) for a in accounts[start : start + size]]
        token = str(start + size) if start + size < len(accounts) else ""
        return iam_admin_v1.ListServiceAccountsResponse(accounts=page, next_page_token=token)

    def get_service_account(self, request: Any, context: grpc.ServicerContext) -> Any:
        return iam_admin_v1.ServiceAccount.from_json(json.dumps(self._account(request.name, context)[1]))

    def get_iam_policy(self, request: Any, context: grpc.ServicerContext) -> Any:
        _, account = self._account(request.resource, context)
        policy = self.policies.get(account["email"], {"etag": "ACAB"})
        return json_format.ParseDict(policy, policy_pb2.Policy())

    def list_keys(self, request: Any, context: grpc.ServicerContext) -> Any:
        _, account = self._account(request.name, context)
        wanted = {iam_admin_v1.ListServiceAccountKeysRequest.KeyType(k).name for k in request.key_types}
        keys = [k for k in self.keys.get(account["email"], []) if not wanted or k["keyType"] in wanted]
        return iam_admin_v1.ListServiceAccountKeysResponse(
            keys=[iam_admin_v1.ServiceAccountKey.from_json(json.dumps(k)) for k in keys]
        )

    def list_roles(self, request: Any, context: grpc.ServicerContext) -> Any:
        roles = self.roles.get(request.parent, [])
        full = request.view == iam_admin_v1.RoleView.FULL
        # Paged as the API is: 300 a page by default, at most 1,000.
        start, size = int(request.page_token or 0), min(request.page_size or 300, 1000)
        out = [{k: v for k, v in r.items() if full or k != "includedPermissions"} for r in roles[start : start + size]]
        token = str(start + size) if start + size < len(roles) else ""
        return iam_admin_v1.ListRolesResponse(
            roles=[iam_admin_v1.Role.from_json(json.dumps(r)) for r in out], next_page_token=token
        )

    def get_role(self, request: Any, context: grpc.ServicerContext) -> Any:
        for roles in self.roles.values():
            for role in roles:
                if role["name"] == request.name:
                    return iam_admin_v1.Role.from_json(json.dumps(role))
        context.abort(grpc.StatusCode.NOT_FOUND, f"Role {request.name} not found.")


@dataclass(frozen=True)
class FakeGcp:
    rest: RestServer
    iam: IamServer
    settings: Settings


def make_request(output: Path, *, projects: list[str] | None = None, **kwargs: object) -> CollectRequest:
    options = argparse.Namespace(gcp_projects=projects)
    return CollectRequest(options=options, output=output, **kwargs)  # type: ignore[arg-type]
