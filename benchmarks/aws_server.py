"""moto in server mode behind a WSGI middleware that adds a per-call latency and counts calls.

Runs as its own process so that the collector being measured does not share a GIL with moto:

    python benchmarks/aws_server.py --latency-ms 20      # prints the URL, serves until killed

Control routes (never counted, never delayed): `GET /__bench__/latency?ms=N` sets the latency (the
seeding runs at 0), `GET /__bench__/stats` returns the calls seen per `service:Operation`,
`GET /__bench__/reset` clears them, `GET /__bench__/gaad?max=N` caps GetAccountAuthorizationDetails
pages at N items whatever `MaxItems` asks (AWS may return fewer than asked; 0 lifts the cap). moto
lacks EKS Pod Identity and access entries: their list routes answer an empty list, as AWS does for a cluster
without associations or entries. moto lacks the usage APIs too (AWS-024): a service-last-accessed job is done at
once with no service used, and ListAnalyzers finds no analyzer (one call a region). moto answers
GetAccountAuthorizationDetails in
one page whatever `MaxItems` says; AWS pages it (`MaxItems` at most 1000, default 100), so this
middleware pages moto's answer by `MaxItems` and `Marker` (`paginate_gaad`), so that call counts
and latencies are those AWS would give.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import re
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/(?P<service>[^/]+)/")
_PIA_LIST = re.compile(r"^/clusters/[^/]+/pod-identity-associations$")
_EKS_ROUTES = (
    (re.compile(r"^/clusters$"), "ListClusters"),
    (re.compile(r"^/clusters/[^/]+$"), "DescribeCluster"),
    (re.compile(r"^/clusters/[^/]+/node-groups$"), "ListNodegroups"),
    (re.compile(r"^/clusters/[^/]+/node-groups/[^/]+$"), "DescribeNodegroup"),
    (_PIA_LIST, "ListPodIdentityAssociations"),
    (re.compile(r"^/clusters/[^/]+/access-entries$"), "ListAccessEntries"),
)
_ANALYZER_ROUTES = ((re.compile(r"^/analyzer$"), "ListAnalyzers"),)
_IAM_XMLNS = "https://iam.amazonaws.com/doc/2010-05-08/"
# What moto lacks, answered here: (status, content type, body) by `service:Operation`.
_EMPTY_LISTS = {
    "eks:ListPodIdentityAssociations": {"associations": []},
    "eks:ListAccessEntries": {"accessEntries": []},
    "access-analyzer:ListAnalyzers": {"analyzers": []},
}

StartResponse = Callable[..., Any]


class LatencyApp:
    """WSGI middleware: sleep `latency` seconds per AWS call, then hand the request to moto."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]], latency: float) -> None:
        self.app = app
        self.latency = latency
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._gaad: dict[str, tuple[str, list[tuple[str, str]], bytes]] = {}
        """moto's full GetAccountAuthorizationDetails answer per request (minus paging), while paging."""
        self.gaad_max = 0
        """Items per GetAccountAuthorizationDetails page at most, whatever MaxItems asks (0: no cap)."""

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/__bench__/"):
            return self._control(path, environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        name = operation(environ, body)
        with self._lock:
            self.calls[name] += 1
        if self.latency:
            time.sleep(self.latency)
        if name in _EMPTY_LISTS:
            return _json(start_response, _EMPTY_LISTS[name])
        if name in ("iam:GenerateServiceLastAccessedDetails", "iam:GetServiceLastAccessedDetails"):
            return _usage_job(name.split(":", 1)[1], start_response)
        if name == "iam:GetAccountAuthorizationDetails":
            return self._paged_gaad(environ, body, start_response)
        return self.app(environ, start_response)

    def _paged_gaad(self, environ: dict[str, Any], body: bytes, start_response: StartResponse) -> Iterable[bytes]:
        params = parse_qs(body.decode("utf-8", "replace"))
        size = int((params.pop("MaxItems", None) or ["100"])[0])
        size = min(size, self.gaad_max or size)
        start = int((params.pop("Marker", None) or ["0"])[0])
        key = json.dumps(sorted(params.items()))
        with self._lock:
            full = self._gaad.get(key) if start else None
        if full is None:
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
                captured.update(status=status, headers=headers)

            data = b"".join(self.app(environ, capture))
            full = (captured["status"], captured["headers"], data)
            with self._lock:
                self._gaad[key] = full
        status, headers, data = full
        if status.startswith("200"):
            data = paginate_gaad(data, start, size)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"] + [("Content-Length", str(len(data)))]
        start_response(status, headers)
        return [data]

    def _control(self, path: str, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if path == "/__bench__/latency":
            self.latency = float(query.get("ms", ["0"])[0]) / 1000
        elif path == "/__bench__/gaad":
            self.gaad_max = int(query.get("max", ["0"])[0])
        elif path == "/__bench__/reset":
            with self._lock:
                self.calls.clear()
                self._gaad.clear()
        with self._lock:
            stats = {
                "latency_ms": self.latency * 1000,
                "gaad_max": self.gaad_max,
                "calls": dict(sorted(self.calls.items())),
            }
        return _json(start_response, stats)


_GAAD_LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")


def paginate_gaad(data: bytes, start: int, size: int) -> bytes:
    """Items `start` to `start + size` of a GetAccountAuthorizationDetails XML answer (all lists
    counted together, in order), with `IsTruncated` and `Marker` set as AWS sets them."""
    root = ET.fromstring(data)
    result = next(e for e in root.iter() if e.tag.endswith("GetAccountAuthorizationDetailsResult"))
    ns = result.tag[: result.tag.index("}") + 1] if result.tag.startswith("{") else ""
    lists = [e for e in result if e.tag.removeprefix(ns) in _GAAD_LISTS]
    members = [(lst, m) for lst in lists for m in list(lst)]
    for lst in lists:
        for m in list(lst):
            lst.remove(m)
    for lst, m in members[start : start + size]:
        lst.append(m)
    truncated = start + size < len(members)
    for tag in ("IsTruncated", "Marker"):
        for e in result.findall(ns + tag):
            result.remove(e)
    flag = ET.SubElement(result, ns + "IsTruncated")
    flag.text = "true" if truncated else "false"
    if truncated:
        ET.SubElement(result, ns + "Marker").text = str(start + size)
    if ns:
        ET.register_namespace("", ns[1:-1])
    return ET.tostring(root, encoding="utf-8")


def operation(environ: dict[str, Any], body: bytes) -> str:
    """`service:Operation` of a request: SigV4 scope, then the Query `Action` or the EKS REST route."""
    m = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = m["service"] if m else "?"
    if service in ("eks", "access-analyzer"):
        path = environ.get("PATH_INFO", "")
        routes = _EKS_ROUTES if service == "eks" else _ANALYZER_ROUTES
        return f"{service}:" + next((name for pattern, name in routes if pattern.match(path)), path)
    params = parse_qs(body.decode("utf-8", "replace")) if body else parse_qs(environ.get("QUERY_STRING", ""))
    return f"{service}:{(params.get('Action') or ['?'])[0]}"


def _usage_job(operation: str, start_response: StartResponse) -> list[bytes]:
    """IAM's answer (query protocol XML) for a service-last-accessed job: started, or done with no service used."""
    if operation == "GenerateServiceLastAccessedDetails":
        result = "<JobId>00000000-0000-4000-8000-0000000be9c4</JobId>"  # a UUID, as IAM gives (36 characters)
    else:
        result = (
            "<JobStatus>COMPLETED</JobStatus><JobType>ACTION_LEVEL</JobType>"
            "<JobCreationDate>2026-01-10T12:00:00Z</JobCreationDate>"
            "<JobCompletionDate>2026-01-10T12:00:05Z</JobCompletionDate>"
            "<ServicesLastAccessed/><IsTruncated>false</IsTruncated>"
        )
    data = (
        f'<{operation}Response xmlns="{_IAM_XMLNS}"><{operation}Result>{result}</{operation}Result>'
        f"<ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>"
        f"</{operation}Response>"
    ).encode()
    start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))])
    return [data]


def _json(start_response: StartResponse, doc: Any) -> list[bytes]:
    data = json.dumps(doc).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def serve(latency_ms: float, port: int = 0) -> Any:
    """Start the server in a thread; returns the werkzeug server (`.server_address`, `.shutdown()`)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = LatencyApp(DomainDispatcherApplication(create_backend_app), latency_ms / 1000)
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--latency-ms", type=float, default=20)
    p.add_argument("--port", type=int, default=0)
    a = p.parse_args()
    server = serve(a.latency_ms, a.port)
    host, port = server.server_address[:2]
    sys.stdout.write(f"http://{host}:{port}\n")
    sys.stdout.flush()
    threading.Event().wait()


if __name__ == "__main__":
    main()
