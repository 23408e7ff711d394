"""Local AWS for the live tests: moto in server mode, and a small front server for what moto lacks.

The front server speaks the EKS Pod Identity REST routes (ListPodIdentityAssociations,
DescribePodIdentityAssociation) and access-entry routes (ListAccessEntries, DescribeAccessEntry,
ListAssociatedAccessPolicies) with the shapes of the EKS API reference, and the usage APIs moto lacks
(`aws_live_usage.UsageApi`: IAM's service-last-accessed jobs, IAM Access Analyzer's unused-access
findings), can answer chosen
operations with AccessDenied or Throttling (as AWS does: IAM's XML error, EKS's JSON error), and the
AssumeRole of chosen roles with AccessDenied (moto lets anyone assume any role), can page
GetAccountAuthorizationDetails as AWS does (moto answers it in one page), logs every operation it
sees, and forwards everything else to moto unchanged.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

_PIA_LIST = re.compile(r"^/clusters/(?P<cluster>[^/]+)/pod-identity-associations$")
_PIA_ONE = re.compile(r"^/clusters/(?P<cluster>[^/]+)/pod-identity-associations/(?P<id>[^/]+)$")
_ENTRIES = re.compile(r"^/clusters/(?P<cluster>[^/]+)/access-entries$")
_ENTRY = re.compile(r"^/clusters/(?P<cluster>[^/]+)/access-entries/(?P<arn>[^/]+)$")
_ENTRY_POLICIES = re.compile(r"^/clusters/(?P<cluster>[^/]+)/access-entries/(?P<arn>[^/]+)/access-policies$")
_ANALYZER_ROUTES = (
    (re.compile(r"^/analyzer$"), "ListAnalyzers"),
    (re.compile(r"^/findingv2$"), "ListFindingsV2"),
    (re.compile(r"^/findingv2/[^/]+$"), "GetFindingV2"),
)
_EKS_ROUTES = (
    (re.compile(r"^/clusters$"), "ListClusters"),
    (re.compile(r"^/clusters/[^/]+$"), "DescribeCluster"),
    (re.compile(r"^/clusters/[^/]+/node-groups$"), "ListNodegroups"),
    (re.compile(r"^/clusters/[^/]+/node-groups/[^/]+$"), "DescribeNodegroup"),
    (_PIA_LIST, "ListPodIdentityAssociations"),
    (_PIA_ONE, "DescribePodIdentityAssociation"),
    (_ENTRIES, "ListAccessEntries"),
    (_ENTRY, "DescribeAccessEntry"),
    (_ENTRY_POLICIES, "ListAssociatedAccessPolicies"),
)
_POD_IDENTITY = ("ListPodIdentityAssociations", "DescribePodIdentityAssociation")
_ACCESS_ENTRIES = ("ListAccessEntries", "DescribeAccessEntry", "ListAssociatedAccessPolicies")


@dataclass
class FrontServer:
    """Pod Identity and access-entry routes + fault injection in front of moto."""

    moto_port: int
    associations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """cluster name -> DescribePodIdentityAssociation `association` objects."""
    access_entries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """cluster name -> DescribeAccessEntry `accessEntry` objects, each with its `associatedAccessPolicies`."""
    deny: set[str] = field(default_factory=set)
    """Operations (e.g. `iam:GetRole`, `eks:ListPodIdentityAssociations`) answered with AccessDenied."""
    throttle: set[str] = field(default_factory=set)
    """Operations always answered with a throttling error (retries then run out)."""
    deny_after: dict[str, int] = field(default_factory=dict)
    """Operation -> how many calls are answered before the next ones get AccessDenied."""
    gaad_page: int | None = None
    """When set, GetAccountAuthorizationDetails is paged as AWS pages it: at most min(MaxItems, this)
    items a page (AWS may return fewer than asked), by `Marker`, AWS managed policies attached to
    nothing left out (AWS returns only those in use). Unset: moto's one-page answer, as is."""
    page_size: int = 2
    """Pod Identity and access-entry list page size (small, so paging is exercised)."""
    latency: float = 0.0
    """Seconds added to every request (benchmarks: what concurrency buys)."""
    allowed: set[str] | None = None
    """While moto enforces IAM (`enforcing`): the actions the caller's policy allows, for the operations
    this server answers itself (moto judges the rest)."""
    pages: set[str] = field(default_factory=set)
    """Operations answered with a web server's HTML 404 page (a wrong endpoint, a proxy): no AWS answer."""
    crash_pages: set[str] = field(default_factory=set)
    """Operations answered with a Python web framework's HTML 500 page, as moto's server answers an action it does
    not implement (werkzeug's page, `<!doctype html>`): botocore cannot parse it (ResponseParserError)."""
    deny_roles: set[str] = field(default_factory=set)
    """Role ARNs whose sts:AssumeRole is answered with AccessDenied (the role's trust does not name the caller)."""
    refuse: str | None = None
    """Answer every request with this credentials error (`ExpiredToken`, `InvalidClientTokenId`)."""
    usage: Any = None
    """An `aws_live_usage.UsageApi`: the service-last-accessed jobs and Access Analyzer findings it answers."""
    log: list[str] = field(default_factory=list)

    def start(self) -> FrontServer:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                service, operation = _operation(self.command, self.path, self.headers, body)
                name = f"{service}:{operation}"
                front.log.append(name)
                if front.latency:
                    time.sleep(front.latency)
                if front.refuse:
                    return self._error(
                        service, 403, front.refuse, "The security token included in the request is invalid"
                    )
                if name in front.pages:
                    return self._page(404)
                if name in front.crash_pages:
                    return self._page(500)
                served_here = (service == "eks" and operation in _POD_IDENTITY + _ACCESS_ENTRIES) or (
                    front.usage is not None and front.usage.serves(name)
                )
                allowed = front.deny_after.get(name)
                if (
                    name in front.deny
                    or (name == "sts:AssumeRole" and _form(body).get("RoleArn") in front.deny_roles)
                    or (allowed is not None and front.log.count(name) > allowed)
                    or (served_here and front.allowed is not None and _permission(name) not in front.allowed)
                ):
                    code = {
                        "eks": "AccessDeniedException",
                        "ec2": "UnauthorizedOperation",
                        "access-analyzer": "AccessDeniedException",
                        "organizations": "AccessDeniedException",
                    }.get(service, "AccessDenied")
                    return self._error(
                        service,
                        403,
                        code,
                        f"User: arn:aws:iam::123456789012:user/auditor is not authorized to perform: {operation}",
                    )
                if name in front.throttle:
                    code = {
                        "eks": "ThrottlingException",
                        "ec2": "RequestLimitExceeded",
                        "access-analyzer": "ThrottlingException",
                    }.get(service, "Throttling")
                    return self._error(
                        service,
                        429 if service in ("eks", "access-analyzer") else 503 if service == "ec2" else 400,
                        code,
                        "Rate exceeded",
                    )
                if served_here and service == "eks" and operation in _ACCESS_ENTRIES:
                    return self._access_entries(operation)
                if served_here and service == "eks":
                    return self._pod_identity(operation)
                if served_here:
                    status, kind, data = front.usage.answer(service, operation, self.path, body)
                    return self._json(status, data) if kind == "json" else self._xml(status, data)
                if name == "iam:GetAccountAuthorizationDetails" and front.gaad_page:
                    return self._paged_gaad(body, front.gaad_page)
                self._forward(body)

            def _paged_gaad(self, body: bytes, cap: int) -> None:
                params = parse_qs(body.decode())
                start = int((params.pop("Marker", None) or ["0"])[0])
                size = min(int((params.pop("MaxItems", None) or ["100"])[0]), cap)
                status, headers, data = self._moto(body)
                self._reply(status, headers, page_gaad(data, start, size) if status == 200 else data)

            def _pod_identity(self, operation: str) -> None:
                url = urlsplit(self.path)
                if operation == "DescribePodIdentityAssociation":
                    m = _PIA_ONE.match(url.path)
                    assert m
                    found = [
                        a for a in front.associations.get(unquote(m["cluster"]), []) if a["associationId"] == m["id"]
                    ]
                    if not found:
                        return self._json(
                            404,
                            {"message": "Pod Identity association not found"},
                            {"x-amzn-ErrorType": "ResourceNotFoundException"},
                        )
                    return self._json(200, {"association": found[0]})
                m = _PIA_LIST.match(url.path)
                assert m
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                items = [
                    a
                    for a in front.associations.get(unquote(m["cluster"]), [])
                    if query.get("namespace") in (None, a["namespace"])
                    and query.get("serviceAccount") in (None, a["serviceAccount"])
                ]
                start = int(query.get("nextToken", "0"))
                size = min(int(query.get("maxResults", front.page_size)), front.page_size)
                keys = ("clusterName", "namespace", "serviceAccount", "associationArn", "associationId", "ownerArn")
                page = {"associations": [{k: a[k] for k in keys if k in a} for a in items[start : start + size]]}
                if start + size < len(items):
                    page["nextToken"] = str(start + size)
                self._json(200, page)

            def _access_entries(self, operation: str) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                pattern = {"ListAccessEntries": _ENTRIES, "DescribeAccessEntry": _ENTRY}.get(operation, _ENTRY_POLICIES)
                m = pattern.match(url.path)
                assert m
                cluster = unquote(m["cluster"])
                entries = {e["principalArn"]: e for e in front.access_entries.get(cluster, [])}
                if operation == "ListAccessEntries":
                    return self._json(200, self._paged("accessEntries", sorted(entries), query))
                found = entries.get(unquote(m["arn"]))
                if found is None:
                    return self._json(
                        404,
                        {"message": f"The specified principalArn could not be found in cluster {cluster}."},
                        {"x-amzn-ErrorType": "ResourceNotFoundException"},
                    )
                if operation == "DescribeAccessEntry":
                    entry = {k: v for k, v in found.items() if k != "associatedAccessPolicies"}
                    return self._json(200, {"accessEntry": entry})
                page = self._paged("associatedAccessPolicies", found.get("associatedAccessPolicies", []), query)
                self._json(200, {"clusterName": cluster, "principalArn": found["principalArn"], **page})

            def _paged(self, key: str, items: list[Any], query: dict[str, str]) -> dict[str, Any]:
                start = int(query.get("nextToken", "0"))
                size = min(int(query.get("maxResults", front.page_size)), front.page_size)
                page: dict[str, Any] = {key: items[start : start + size]}
                if start + size < len(items):
                    page["nextToken"] = str(start + size)
                return page

            def _forward(self, body: bytes) -> None:
                status, headers, data = self._moto(body)
                if status >= 400 and data.lstrip().startswith(b"<") and self._service() == "eks":
                    # moto answers EKS errors in the query protocol's XML; EKS (rest-json) answers JSON
                    # with the code in x-amzn-ErrorType, which is what the SDK parses.
                    root = ET.fromstring(data)
                    code = next((e.text for e in root.iter() if e.tag.endswith("Code")), "") or ""
                    message = next((e.text for e in root.iter() if e.tag.endswith("Message")), "") or ""
                    code = {"AccessDenied": "AccessDeniedException"}.get(code, code)
                    return self._json(status, {"message": message}, {"x-amzn-ErrorType": code})
                self._reply(status, headers, data)

            def _service(self) -> str:
                return _operation(self.command, self.path, self.headers, b"")[0]

            def _moto(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
                conn = http.client.HTTPConnection("127.0.0.1", front.moto_port, timeout=30)
                # Host kept as signed: moto checks the SigV4 signature when it enforces IAM.
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                try:
                    return resp.status, resp.getheaders(), resp.read()
                finally:
                    conn.close()

            def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, service: str, status: int, code: str, message: str) -> None:
                if service == "organizations":  # the JSON protocol: the code in the body's `__type`
                    return self._json(status, {"__type": code, "Message": message})
                if service in ("eks", "access-analyzer"):
                    return self._json(status, {"message": message}, {"x-amzn-ErrorType": code})
                if service == "ec2":  # EC2's query errors have their own envelope
                    return self._xml(
                        status,
                        f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
                        "<RequestID>00000000-0000-0000-0000-000000000000</RequestID></Response>",
                    )
                self._xml(
                    status,
                    f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
                    "</Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>",
                )

            def _page(self, status: int) -> None:
                html = (
                    b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>\n"
                    b"<h1>Not Found</h1><p>The requested URL was not found on this server.</p>\n</body></html>\n"
                )
                if status == 500:
                    html = (
                        b"<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n"
                        b"<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable "
                        b"to complete your request. Either the server is overloaded or there is an error in the "
                        b"application.</p>\n"
                    )
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(html)))
                self.end_headers()
                self.wfile.write(html)

            def _xml(self, status: int, text: str) -> None:
                xml = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(xml)))
                self.end_headers()
                self.wfile.write(xml)

            def _json(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @contextmanager
    def faults(self, deny: set[str] = frozenset(), throttle: set[str] = frozenset()) -> Iterator[FrontServer]:  # type: ignore[assignment]
        self.deny, self.throttle = set(deny), set(throttle)
        try:
            yield self
        finally:
            self.deny, self.throttle = set(), set()

    @contextmanager
    def aws_paging(self, page: int = 1000, deny_after: dict[str, int] | None = None) -> Iterator[FrontServer]:
        """GetAccountAuthorizationDetails paged as AWS pages it, at most `page` items a page; and
        `deny_after` (e.g. AccessDenied from the second page on)."""
        self.gaad_page, self.deny_after = page, dict(deny_after or {})
        try:
            yield self
        finally:
            self.gaad_page, self.deny_after = None, {}

    def operations(self) -> list[str]:
        return list(self.log)


_GAAD_LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")


def page_gaad(xml: bytes, start: int, size: int) -> bytes:
    """Items `start` to `start + size` of moto's GetAccountAuthorizationDetails answer (all lists counted
    together, in order, without the AWS managed policies attached to nothing), `IsTruncated` and
    `Marker` set as AWS sets them."""
    root = ET.fromstring(xml)
    result = next(e for e in root.iter() if e.tag.endswith("GetAccountAuthorizationDetailsResult"))
    ns = result.tag[: result.tag.index("}") + 1] if result.tag.startswith("{") else ""
    items = []
    for lst in [e for e in result if e.tag.removeprefix(ns) in _GAAD_LISTS]:
        for item in list(lst):
            lst.remove(item)
            uses = [item.findtext(ns + k) or "0" for k in ("AttachmentCount", "PermissionsBoundaryUsageCount")]
            if ":iam::aws:policy/" not in (item.findtext(ns + "Arn") or "") or uses != ["0", "0"]:
                items.append((lst, item))
    for lst, item in items[start : start + size]:
        lst.append(item)
    for e in result.findall(ns + "IsTruncated") + result.findall(ns + "Marker"):
        result.remove(e)
    truncated = start + size < len(items)
    ET.SubElement(result, ns + "IsTruncated").text = str(truncated).lower()
    if truncated:
        ET.SubElement(result, ns + "Marker").text = str(start + size)
    if ns:
        ET.register_namespace("", ns[1:-1])
    return ET.tostring(root, encoding="utf-8")


_PERMISSIONS = {
    "access-analyzer:ListFindingsV2": "access-analyzer:ListFindings",
    "access-analyzer:GetFindingV2": "access-analyzer:GetFinding",
}


def _permission(operation: str) -> str:
    """The IAM action an operation needs (ListFindingsV2 is authorised as access-analyzer:ListFindings)."""
    return _PERMISSIONS.get(operation, operation)


def _operation(method: str, path: str, headers: Any, body: bytes) -> tuple[str, str]:
    """(service, operation) of a request: from the SigV4 scope and the Action or the REST route."""
    scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/(?P<service>[^/]+)/", headers.get("Authorization", ""))
    service = scope["service"] if scope else "?"
    if service in ("eks", "access-analyzer"):
        route = urlsplit(path).path
        for pattern, name in _EKS_ROUTES if service == "eks" else _ANALYZER_ROUTES:
            if pattern.match(route):
                return service, name
        return service, f"{method} {route}"
    target = headers.get("X-Amz-Target") or ""
    if target:  # the JSON protocol (Organizations): `AWSOrganizationsV20161128.ListAccounts`
        return service, target.rsplit(".", 1)[-1]
    params = parse_qs(body.decode("utf-8", "replace")) if body else parse_qs(urlsplit(path).query)
    return service, (params.get("Action") or ["?"])[0]


def _form(body: bytes) -> dict[str, str]:
    """A query-protocol request's parameters (the first value of each)."""
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
