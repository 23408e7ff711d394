"""A local Azure Resource Manager for the live tests: HTTPS (trustme CA), ARM routes, paging, faults.

Serves the REST JSON in fixtures/azure/live/arm/ the way ARM does: `{"value": [...], "nextLink": ...}`
lists, `$filter` on role assignments and definitions, ARM error bodies, bearer tokens required, and
`api-version` required. Tests inject faults (429 with Retry-After, 403 AuthorizationFailed) and read
the request log to count calls.

For a central audit it serves `/providers/Microsoft.Management/managementGroups/{id}/descendants` (every
group and subscription below a group, paged with `nextLink`/`$skiptoken`) from `management_groups`.

For unused access it also serves the Activity Log (`.../microsoft.insights/eventtypes/management/values`,
the `$filter` ARM requires: a time range, optionally `caller eq`) and, under `/beta/`, Microsoft Graph's
managed-identity sign-ins (`/beta/auditLogs/signIns`, `$filter` on `servicePrincipalId`, `$top`,
`@odata.nextLink`, no `api-version`). `max_in_flight` records the most requests served at once.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
    (
        re.compile(r"^/subscriptions/(?P<sub>[^/]+)/providers/microsoft\.insights/eventtypes/management/values$"),
        "activity",
    ),
    (re.compile(r"^/providers/microsoft\.management/managementgroups/(?P<group>[^/]+)/descendants$"), "mgd"),
]
_ACTIVITY_FILTER = re.compile(
    r"^eventTimestamp ge '(?P<start>[^']+)' and eventTimestamp le '(?P<end>[^']+)'"
    r"(?: and caller eq '(?P<caller>[^']+)')?$"
)
_SIGN_IN_FILTER = re.compile(
    r"^signInEventTypes/any\(t: t eq 'managedIdentity'\)(?: and servicePrincipalId eq '(?P<principal>[^']+)')?$"
)


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
class ManagementGroup:
    """One management group of the tenant: its parent group (None: the root) and the subscriptions right under it."""

    display_name: str
    parent: str | None = None
    subscriptions: tuple[str, ...] = ()


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
        signins = root / "graph-sign-ins.json"
        self.sign_ins: list[dict] = _now_relative(json.loads(signins.read_text())) if signins.is_file() else []
        for data in self.subs.values():
            if "activity-log" in data:
                data["activity-log"] = _now_relative(data["activity-log"])
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
        self.page_size = {
            "ids": 2, "ras": 4, "fic": 50, "rds": 50, "aks": 50, "activity": 2, "signins": 50, "mgd": 2,
        } | (page_size or {})  # fmt: skip
        self.management_groups: dict[str, ManagementGroup] = {}
        """The tenant's management groups (by lower-cased id) that `.../managementGroups/{id}/descendants` walks;
        tests set them (`reset` empties them)."""
        self.faults: list[Fault] = []
        self.log: list[Logged] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
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
            self.max_in_flight = 0
            self.management_groups = {}

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
        if path.startswith("/beta/"):  # Microsoft Graph: no api-version, its own paging
            if path == "/beta/auditlogs/signins":
                return self._sign_ins(query, split)
            return 404, {}, _error("Request_ResourceNotFound", f"Resource not found: {split.path}")
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
        if kind == "activity":
            m = _ACTIVITY_FILTER.fullmatch(filt)
            if m is None:
                return 400, {}, _error("InvalidFilter", f"unsupported filter {filt}")
            by_caller = data.get("activity-log", {})
            events = (
                by_caller.get(m["caller"].lower(), []) if m["caller"] else [e for es in by_caller.values() for e in es]
            )
            start, end = (datetime.fromisoformat(m[k]) for k in ("start", "end"))
            events = [e for e in events if start <= datetime.fromisoformat(e["eventTimestamp"]) <= end]
            return self._page(kind, events, query, split)
        if kind == "mgd":
            group = args["group"] or ""
            if group not in self.management_groups:
                return 404, {}, _error("NotFound", f"Management group '{group}' not found.")
            return self._page(kind, self._descendants(group), query, split)
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

    def _descendants(self, group: str) -> list[dict]:
        """Every management group and subscription below `group`, all levels, breadth first, as ARM answers
        (`Microsoft.Management/managementGroups/subscriptions` for a subscription: ARM's own example)."""
        out: list[dict] = []
        level = [group]
        while level:
            below = []
            for parent in level:
                parent_id = {"id": f"/providers/Microsoft.Management/managementGroups/{parent}"}
                for sub in self.management_groups[parent].subscriptions:
                    out.append(
                        {
                            "id": f"/subscriptions/{sub}",
                            "type": "Microsoft.Management/managementGroups/subscriptions",
                            "name": sub,
                            "properties": {"displayName": f"Subscription {sub[:8]}", "parent": parent_id},
                        }
                    )
                for name, child in sorted(self.management_groups.items()):
                    if child.parent == parent:
                        below.append(name)
                        out.append(
                            {
                                "id": f"/providers/Microsoft.Management/managementGroups/{name}",
                                "type": "Microsoft.Management/managementGroups",
                                "name": name,
                                "properties": {"displayName": child.display_name, "parent": parent_id},
                            }
                        )
            level = below
        return out

    def _sign_ins(self, query: dict[str, list[str]], split: Any):
        filt = (query.get("$filter") or [""])[0]
        m = _SIGN_IN_FILTER.fullmatch(filt)
        if m is None:
            return 400, {}, _error("Request_UnsupportedQuery", f"unsupported filter {filt}")
        items = [s for s in self.world.sign_ins if "managedIdentity" in s.get("signInEventTypes", [])]
        if m["principal"]:
            items = [s for s in items if s["servicePrincipalId"].lower() == m["principal"].lower()]
        if (query.get("$orderby") or [""])[0] == "createdDateTime desc":
            items = sorted(items, key=lambda s: s["createdDateTime"], reverse=True)
        top = int((query.get("$top") or [str(self.page_size["signins"])])[0])
        start = int((query.get("$skiptoken") or ["0"])[0])
        body: dict[str, Any] = {
            "@odata.context": "https://graph.microsoft.com/beta/$metadata#auditLogs/signIns",
            "value": items[start : start + top],
        }
        if start + top < len(items):
            params = {k: v[0] for k, v in query.items() if k != "$skiptoken"} | {"$skiptoken": str(start + top)}
            body["@odata.nextLink"] = f"{self.url}{split.path}?{urlencode(params)}"
        return 200, {}, body


_RELATIVE = re.compile(r"^now-(\d+)([dh])$")


def _now_relative(value: Any, now: datetime | None = None) -> Any:
    """Usage fixtures say `now-3d` / `now-1h` for their times: the Activity Log is read for the 90 days before
    the collection, so fixed dates would age out of it. Written as ARM and Graph do (7 fraction digits, Z)."""
    now = now or datetime.now(UTC)
    if isinstance(value, dict):
        return {k: _now_relative(v, now) for k, v in value.items()}
    if isinstance(value, list):
        return [_now_relative(v, now) for v in value]
    m = _RELATIVE.match(value) if isinstance(value, str) else None
    if m is None:
        return value
    when = now - (timedelta(days=int(m[1])) if m[2] == "d" else timedelta(hours=int(m[1])))
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def _handler(server: ArmServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: on a kept-alive connection, Nagle plus the client's
        # delayed ACK would add ~40 ms to every answer (the benchmark measures latency).
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            with server.lock:
                server.in_flight += 1
                server.max_in_flight = max(server.max_in_flight, server.in_flight)
            try:
                status, headers, body = server.answer("GET", self.path, self.headers)
            finally:
                with server.lock:
                    server.in_flight -= 1
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
