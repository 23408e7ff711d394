"""A local Azure Resource Manager for the live tests: HTTPS (trustme CA), ARM routes, paging, faults.

Serves the REST JSON in fixtures/azure/live/arm/ the way ARM does: `{"value": [...], "nextLink": ...}`
lists, `$filter` on role assignments and definitions, ARM error bodies, bearer tokens required, and
`api-version` required. Tests inject faults (429 with Retry-After, 403 AuthorizationFailed) and read
the request log to count calls.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

ARM = Path(__file__).resolve().parents[3] / "fixtures" / "azure" / "live" / "arm"

_ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^/subscriptions/(?P<sub>[^/]+)/providers/microsoft\.managedidentity/userassignedidentities$"), "ids"),
    (
        re.compile(
            r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.managedidentity/"
            r"userassignedidentities/(?P<name>[^/]+)/federatedidentitycredentials$"
        ),
        "fic",
    ),
    (re.compile(r"^/subscriptions/(?P<sub>[^/]+)/providers/microsoft\.authorization/roleassignments$"), "ras"),
    (re.compile(r"^/subscriptions/(?P<sub>[^/]+)/providers/microsoft\.authorization/roledefinitions$"), "rds"),
    (
        re.compile(
            r"^(/subscriptions/(?P<sub>[^/]+))?/providers/microsoft\.authorization/roledefinitions/(?P<guid>[^/]+)$"
        ),
        "rd",
    ),
    (re.compile(r"^/subscriptions/(?P<sub>[^/]+)/providers/microsoft\.containerservice/managedclusters$"), "aks"),
]


@dataclass
class Fault:
    """Answer requests whose path (and query) matches `pattern` with `status`, `times` times (None: always)."""

    pattern: str
    status: int
    times: int | None = 1
    headers: dict[str, str] = field(default_factory=dict)
    code: str = ""
    message: str = ""
    html: str | None = None
    """Answer with this HTML page instead of an ARM error body (a proxy, a wrong endpoint)."""


@dataclass(frozen=True)
class Html:
    """A body sent as text/html, as a proxy or a web server (not ARM) would answer."""

    text: str


@dataclass(frozen=True)
class Logged:
    at: float
    method: str
    path: str
    query: dict[str, list[str]]
    status: int


class World:
    """The ARM state served, loaded from the fixture files."""

    def __init__(self, root: Path = ARM) -> None:
        self.subs: dict[str, dict[str, Any]] = {}
        for d in sorted(p for p in root.iterdir() if p.is_dir()):
            self.subs[d.name.lower()] = {f.stem: json.loads(f.read_text()) for f in d.glob("*.json")}
        self.builtins = json.loads((root / "builtin-roles.json").read_text())
        self._fic_index: dict[str, dict[tuple[str, str], list[dict]]] = {}

    def federated(self, sub: str, rg: str, name: str) -> list[dict] | None:
        # Indexed on first use: a scan per request is quadratic at the benchmark's 1,000 identities.
        index = self._fic_index.get(sub)
        if index is None:
            index = self._fic_index[sub] = {
                (parts[4], parts[-1]): creds
                for identity_id, creds in self.subs[sub]["federated-credentials"].items()
                for parts in [identity_id.lower().split("/")]
            }
        return index.get((rg, name))

    def role_definition(self, sub: str | None, guid: str) -> dict | None:
        for rd in self.builtins:
            if rd["name"] == guid:
                # ARM answers a built-in at the scope it was asked for.
                prefix = f"/subscriptions/{sub}" if sub else ""
                return {**rd, "id": f"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{guid}"}
        for data in self.subs.values() if sub is None else [self.subs.get(sub, {})]:
            for rd in data.get("custom-roles", []):
                if rd["name"] == guid:
                    return rd
        return None


class ArmServer:
    def __init__(
        self, ca: Any, *, page_size: dict[str, int] | None = None, latency: float = 0.0, root: Path = ARM
    ) -> None:
        self.world = World(root)
        self.latency = latency
        """Seconds added to every answer (the benchmark's per-call latency)."""
        self.page_size = {"ids": 2, "ras": 4, "fic": 50, "rds": 50, "aks": 50} | (page_size or {})
        self.faults: list[Fault] = []
        self.log: list[Logged] = []
        self.lock = threading.Lock()
        self.token = "test-token-not-a-secret"
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self.server = server
        self.url = f"https://127.0.0.1:{server.server_address[1]}"
        self.thread = threading.Thread(target=server.serve_forever, daemon=True)
        self.thread.start()

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.log.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def calls(self, pattern: str = "") -> list[Logged]:
        rx = re.compile(pattern, re.IGNORECASE)
        return [entry for entry in self.log if rx.search(entry.path)]

    # -- request handling ------------------------------------------------------------------------

    def answer(self, method: str, raw_path: str, headers: Any) -> tuple[int, dict[str, str], Any]:
        if self.latency:
            time.sleep(self.latency)
        split = urlsplit(raw_path)
        path, query = split.path.lower().rstrip("/"), parse_qs(split.query)
        with self.lock:
            for fault in self.faults:
                if re.search(fault.pattern, split.path + "?" + split.query, re.IGNORECASE) and fault.times != 0:
                    if fault.times is not None:
                        fault.times -= 1
                    if fault.html is not None:
                        return fault.status, fault.headers, Html(fault.html)
                    return fault.status, fault.headers, _error(fault.code or str(fault.status), fault.message)
        if headers.get("Authorization") != f"Bearer {self.token}":
            return (
                401,
                {},
                _error("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."),
            )
        if "api-version" not in query:
            return 400, {}, _error("MissingApiVersionParameter", "The api-version query parameter is required.")
        for rx, kind in _ROUTES:
            m = rx.match(path)
            if m:
                return self._route(kind, m.groupdict(), query, split)
        return 404, {}, _error("InvalidResourceType", f"The resource type could not be found: {split.path}")

    def _route(self, kind: str, args: dict[str, str | None], query: dict[str, list[str]], split: Any):
        sub = args.get("sub")
        if sub is not None and sub not in self.world.subs:
            return 404, {}, _error("SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
        data = self.world.subs.get(sub or "", {})
        filt = (query.get("$filter") or [""])[0]
        if kind == "ids":
            return self._page(kind, data["identities"], query, split)
        if kind == "fic":
            creds = self.world.federated(sub, args["rg"], args["name"])
            if creds is None:
                return 404, {}, _error("ResourceNotFound", f"identity '{args['name']}' not found")
            return self._page(kind, creds, query, split)
        if kind == "ras":
            items = data["role-assignments"]
            m = re.fullmatch(r"principalId eq '([^']+)'", filt)
            if m:
                items = [ra for ra in items if ra["properties"]["principalId"].lower() == m[1].lower()]
            elif filt:
                return 400, {}, _error("InvalidFilter", f"unsupported filter {filt}")
            return self._page(kind, items, query, split)
        if kind == "rds":
            custom = data["custom-roles"]
            builtins = [self.world.role_definition(sub, rd["name"]) for rd in self.world.builtins]
            if filt == "type eq 'CustomRole'":
                return self._page(kind, custom, query, split)
            if filt:
                return 400, {}, _error("InvalidFilter", f"unsupported filter {filt}")
            return self._page(kind, builtins + custom, query, split)
        if kind == "rd":
            rd = self.world.role_definition(sub, (args["guid"] or "").lower())
            if rd is None:
                return 404, {}, _error("RoleDefinitionDoesNotExist", "The specified role definition does not exist.")
            return 200, {}, rd
        return self._page(kind, data["managed-clusters"], query, split)

    def _page(self, kind: str, items: list, query: dict[str, list[str]], split: Any):
        size = self.page_size[kind]
        start = int((query.get("$skiptoken") or ["0"])[0])
        body: dict[str, Any] = {"value": items[start : start + size]}
        if start + size < len(items):
            params = {k: v[0] for k, v in query.items() if k != "$skiptoken"} | {"$skiptoken": str(start + size)}
            body["nextLink"] = f"{self.url}{split.path}?{urlencode(params)}"
        return 200, {}, body


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def _handler(server: ArmServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: on a kept-alive connection, Nagle plus the client's
        # delayed ACK would add ~40 ms to every answer (the benchmark measures latency).
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            status, headers, body = server.answer("GET", self.path, self.headers)
            split = urlsplit(self.path)
            with server.lock:
                server.log.append(Logged(time.monotonic(), "GET", split.path, parse_qs(split.query), status))
            html = isinstance(body, Html)
            payload = body.text.encode() if html else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8" if html else "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("x-ms-request-id", "00000000-0000-4000-8000-000000000000")
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    return Handler
