"""A local Kubernetes API server that serves recorded objects, for driving the real `kubernetes` client.

No real API server can run in the test environment, so this one speaks just enough of the wire
protocol for read-only clients (kubeiam's live collection, and any other engineer's end-to-end
test): list endpoints for core kinds and CRDs, namespaced and cluster-wide, `limit`/`continue`
paging, field and label selectors, get of one object, `Status` errors (404 for a resource that is
not installed, 403 for a chosen path, 401 for a wrong token), `/.well-known/openid-configuration`,
legacy discovery (`/api`, `/apis`, `/version`: enough for `kubectl get`), and a log of every request.

It serves what a `kind: List` file holds (any `kubernetes/<cluster>/resources.json` of an evidence
directory). Objects come back the way a real server returns them: in a typed list (`PodList`) the
items carry no `kind`/`apiVersion`; custom resources keep theirs; a single GET carries both.

    with KubeApiServer.from_evidence(Path("fixtures/demo/kubernetes/eks-prod"), max_page=3) as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", context="prod")
"""

from __future__ import annotations

import base64
import copy
import json
import ssl
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from servers.kube_support import (
    DEFAULT_TOKEN,
    forbidden,
    select_fields,
    select_labels,
    status_body,
    write_kubeconfig,
)


@dataclass(frozen=True)
class Resource:
    kind: str
    plural: str
    namespaced: bool
    group_version: str
    """`v1` for the core group, else `group/version`."""

    @property
    def builtin(self) -> bool:
        """Built-in kinds are always served (an empty list when none); CRDs only when installed."""
        return "." not in self.group_version.split("/")[0] or self.group_version.split("/")[0].endswith(".k8s.io")


# Kinds the server knows how to route. Anything else found in the objects file is routed too, with
# a lower-case plural `<kind>s` (good enough for tests; pass `resources=` for irregular plurals).
KNOWN: tuple[Resource, ...] = (
    Resource("Namespace", "namespaces", False, "v1"),
    Resource("Node", "nodes", False, "v1"),
    Resource("Pod", "pods", True, "v1"),
    Resource("ServiceAccount", "serviceaccounts", True, "v1"),
    Resource("Secret", "secrets", True, "v1"),
    Resource("ConfigMap", "configmaps", True, "v1"),
    Resource("NetworkPolicy", "networkpolicies", True, "networking.k8s.io/v1"),
    Resource("Deployment", "deployments", True, "apps/v1"),
    Resource("ReplicaSet", "replicasets", True, "apps/v1"),
    Resource("StatefulSet", "statefulsets", True, "apps/v1"),
    Resource("DaemonSet", "daemonsets", True, "apps/v1"),
    Resource("Job", "jobs", True, "batch/v1"),
    Resource("CronJob", "cronjobs", True, "batch/v1"),
    Resource("CiliumNetworkPolicy", "ciliumnetworkpolicies", True, "cilium.io/v2"),
    Resource("CiliumClusterwideNetworkPolicy", "ciliumclusterwidenetworkpolicies", False, "cilium.io/v2"),
    Resource("EC2NodeClass", "ec2nodeclasses", False, "karpenter.k8s.aws/v1"),
    Resource("EC2NodeClass", "ec2nodeclasses", False, "karpenter.k8s.aws/v1beta1"),
    Resource("NodePool", "nodepools", False, "karpenter.sh/v1"),
    Resource("Role", "roles", True, "rbac.authorization.k8s.io/v1"),
    Resource("RoleBinding", "rolebindings", True, "rbac.authorization.k8s.io/v1"),
    Resource("ClusterRole", "clusterroles", False, "rbac.authorization.k8s.io/v1"),
    Resource("ClusterRoleBinding", "clusterrolebindings", False, "rbac.authorization.k8s.io/v1"),
)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    authorization: str | None


class KubeApiServer:
    """Serve `objects` (dicts as in a `kind: List`) on 127.0.0.1 with an ephemeral port."""

    def __init__(
        self,
        objects: Iterable[Mapping[str, Any]] = (),
        *,
        openid_configuration: Mapping[str, Any] | None = None,
        max_page: int | None = None,
        forbidden: Iterable[str] = (),
        crds: Iterable[str] = (),
        token: str | None = DEFAULT_TOKEN,
        resources: Sequence[Resource] = (),
        expire_continue: Iterable[str] = (),
        latency: float = 0.0,
        html_pages: Mapping[str, tuple[int, str]] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """
        max_page: serve at most this many items per page whatever `limit` asks (a real server may
            return fewer than `limit`), so small fixtures still exercise `continue` paging.
        forbidden: paths (without query) answered 403 Forbidden; a trailing `*` matches a prefix.
        crds: extra `group/version/plural` to serve as installed (empty) even with no object.
        token: the bearer token required (None: accept any request, including anonymous).
        expire_continue: list paths whose first `continue` request gets 410 Expired (as when a
            token outlives etcd compaction); the client must restart the list.
        latency: seconds added to every answer (the live benchmarks' per-call latency); settable later.
        html_pages: paths answered with (status, an HTML body), as a proxy or load balancer in front
            of the API server answers (its error pages, a login page).
        tls: serve HTTPS with this server-side context (e.g. a trustme CA's certificate).
        """
        self.objects = [copy.deepcopy(dict(o)) for o in objects]
        self.openid_configuration = openid_configuration
        self.max_page = max_page
        self.forbidden = set(forbidden)
        self.token = token
        self.expire_continue = set(expire_continue)
        self.latency = latency
        self.html_pages = dict(html_pages or {})
        self.tls = tls
        self.requests: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0
        """The most requests the server was answering at once (clients' concurrency, as seen here)."""
        self._lock = threading.Lock()
        self._resources: dict[tuple[str, str], Resource] = {(r.group_version, r.plural): r for r in KNOWN}
        for r in resources:
            self._resources[(r.group_version, r.plural)] = r
        by_kind = {r.kind: r for r in self._resources.values()}
        self._installed = {key for key, r in self._resources.items() if r.builtin}
        for obj in self.objects:
            gv, kind = obj.get("apiVersion", "v1"), obj.get("kind", "")
            known = next((r for r in self._resources.values() if r.kind == kind and r.group_version == gv), None)
            if known is None:
                # A kind (or version) the table does not list: route it as `<kind>s`, namespaced
                # when its objects carry a namespace.
                base = by_kind.get(kind)
                plural = base.plural if base else f"{kind.lower()}s"
                namespaced = base.namespaced if base else "namespace" in (obj.get("metadata") or {})
                known = Resource(kind, plural, namespaced, gv)
                self._resources[(gv, known.plural)] = known
            self._installed.add((gv, known.plural))
        for crd in crds:
            gv, _, plural = crd.rpartition("/")
            self._installed.add((gv, plural))
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- construction from evidence ------------------------------------------------------------

    @classmethod
    def from_evidence(cls, cluster_dir: Path, **kwargs: Any) -> KubeApiServer:
        """Serve `cluster_dir/resources.json` (and its `rbac.json` and `openid-configuration.json`, if present)."""
        doc = json.loads((cluster_dir / "resources.json").read_text())
        items = doc["items"] if isinstance(doc, dict) and "items" in doc else [doc]
        rbac_file = cluster_dir / "rbac.json"
        if rbac_file.is_file():
            items = [*items, *json.loads(rbac_file.read_text())["items"]]
        oidc_file = cluster_dir / "openid-configuration.json"
        if "openid_configuration" not in kwargs and oidc_file.is_file():
            kwargs["openid_configuration"] = json.loads(oidc_file.read_text())
        return cls(items, **kwargs)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> KubeApiServer:
        handler = type("Handler", (_Handler,), {"api": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        if self.tls is not None:
            self._httpd.socket = self.tls.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="kube-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> KubeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    # -- what tests look at ------------------------------------------------------------------

    def count(self, path: str | None = None, *, method: str = "GET") -> int:
        """Requests served for `path` (all requests when None)."""
        with self._lock:
            return sum(1 for r in self.requests if r.method == method and (path is None or r.path == path))

    def paths(self) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests]

    def reset(self) -> None:
        """Forget the requests served so far (a benchmark counts each run apart)."""
        with self._lock:
            self.requests.clear()

    def write_kubeconfig(
        self,
        path: Path,
        *,
        context: str = "test",
        cluster: str = "test-cluster",
        namespace: str | None = None,
        token: str | None = None,
    ) -> Path:
        """A kubeconfig with one context pointing at this server (current context set)."""
        return write_kubeconfig(path, {context: (cluster, self.url)}, token=token or self.token, namespace=namespace)

    # -- serving -----------------------------------------------------------------------------

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def handle(self, request: Request) -> tuple[int, Any]:
        self._record(request)
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return self._answer(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, request: Request) -> tuple[int, Any]:
        if self.latency:
            time.sleep(self.latency)
        if request.path in self.html_pages:
            status, page = self.html_pages[request.path]
            return status, _Html(page)
        if self.token is not None and request.authorization != f"Bearer {self.token}":
            return 401, status_body(401, "Unauthorized", "Unauthorized")
        if forbidden(request.path, self.forbidden):
            return 403, status_body(403, "Forbidden", f'forbidden: cannot {request.method.lower()} "{request.path}"')
        if request.method != "GET":
            return 405, status_body(405, "MethodNotAllowed", "this test server is read-only")
        if request.path == "/.well-known/openid-configuration":
            if self.openid_configuration is None:
                return 404, status_body(404, "NotFound", "the server could not find the requested resource")
            return 200, self.openid_configuration
        discovery = self._discovery(request.path)
        if discovery is not None:
            return 200, discovery
        route = self._route(request.path)
        if route is None:
            return 404, status_body(404, "NotFound", "the server could not find the requested resource")
        resource, namespace, name = route
        if name is not None:
            return self._get(resource, namespace, name)
        if request.query.get("continue") and request.path in self.expire_continue:
            self.expire_continue.discard(request.path)
            message = "The provided continue parameter is too old to display a consistent list result."
            return 410, status_body(410, "Expired", message)
        return self._list(resource, namespace, request.query)

    def _discovery(self, path: str) -> dict[str, Any] | None:
        """Legacy discovery (`/api`, `/apis`, `/api/v1`, `/apis/G/V`, `/version`), enough for kubectl."""
        path = path.rstrip("/")
        served = sorted(self._installed)
        if path == "/version":
            return {"major": "1", "minor": "31", "gitVersion": "v1.31.2", "platform": "linux/amd64"}
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            groups: dict[str, list[str]] = {}
            for gv, _ in served:
                if "/" in gv:
                    group, version = gv.split("/", 1)
                    groups.setdefault(group, [])
                    if version not in groups[group]:
                        groups[group].append(version)
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": group,
                        "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
                        "preferredVersion": {"groupVersion": f"{group}/{versions[0]}", "version": versions[0]},
                    }
                    for group, versions in sorted(groups.items())
                ],
            }
        gv = path.removeprefix("/api/") if path.startswith("/api/") else path.removeprefix("/apis/")
        if path.startswith(("/api/", "/apis/")) and gv.count("/") == (0 if path.startswith("/api/") else 1):
            resources = [self._resources[key] for key in served if key[0] == gv]
            if not resources:
                return None
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": gv,
                "resources": [
                    {"name": r.plural, "singularName": r.kind.lower(), "namespaced": r.namespaced, "kind": r.kind,
                     "verbs": ["get", "list"]}
                    for r in resources
                ],
            }  # fmt: skip
        return None

    def _route(self, path: str) -> tuple[Resource, str | None, str | None] | None:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts[:1] == ["api"] and len(parts) >= 3:
            gv, rest = parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 4:
            gv, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            return None
        namespace = None
        # /namespaces/NS/<plural>[/NAME] is namespaced; /namespaces[/NAME] is the Namespace kind.
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if len(rest) not in (1, 2):
            return None
        resource = self._resources.get((gv, rest[0]))
        if resource is None or (gv, rest[0]) not in self._installed:
            return None
        if namespace is not None and not resource.namespaced:
            return None
        return resource, namespace, rest[1] if len(rest) == 2 else None

    def _matching(self, resource: Resource, namespace: str | None) -> list[dict[str, Any]]:
        out = []
        for obj in self.objects:
            if obj.get("kind") != resource.kind or obj.get("apiVersion", "v1") != resource.group_version:
                continue
            if namespace is not None and (obj.get("metadata") or {}).get("namespace", "default") != namespace:
                continue
            out.append(obj)
        # A real server lists in key order (namespace, name): make paging deterministic the same way.
        return sorted(out, key=lambda o: ((o["metadata"].get("namespace") or ""), o["metadata"]["name"]))

    def _get(self, resource: Resource, namespace: str | None, name: str) -> tuple[int, Any]:
        for obj in self._matching(resource, namespace):
            if obj["metadata"]["name"] == name:
                return 200, obj
        group = resource.group_version.split("/")[0] if "/" in resource.group_version else ""
        return 404, status_body(404, "NotFound", f'{resource.plural}{"." + group if group else ""} "{name}" not found')

    def _list(self, resource: Resource, namespace: str | None, query: Mapping[str, str]) -> tuple[int, Any]:
        items = self._matching(resource, namespace)
        try:
            items = [o for o in items if select_fields(o, query.get("fieldSelector", ""))]
            items = [o for o in items if select_labels(o, query.get("labelSelector", ""))]
        except ValueError as exc:
            return 400, status_body(400, "BadRequest", str(exc))
        start = 0
        token = query.get("continue")
        if token:
            try:
                start = int(json.loads(base64.urlsafe_b64decode(token.encode()))["start"])
            except (ValueError, KeyError, TypeError):
                return 400, status_body(400, "BadRequest", "continue key is not valid")
        limit = int(query["limit"]) if query.get("limit", "").isdigit() and int(query["limit"]) > 0 else None
        if self.max_page is not None:
            limit = min(limit, self.max_page) if limit else self.max_page
        end = len(items) if limit is None else min(len(items), start + limit)
        page = items[start:end]
        metadata: dict[str, Any] = {"resourceVersion": "424242"}
        if end < len(items):
            metadata["continue"] = base64.urlsafe_b64encode(json.dumps({"start": end}).encode()).decode()
            metadata["remainingItemCount"] = len(items) - end
        if resource.builtin:
            # Typed lists carry kind/apiVersion on the list, not on the items (kubectl adds them back).
            page = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in page]
        return 200, {
            "kind": f"{resource.kind}List",
            "apiVersion": resource.group_version,
            "metadata": metadata,
            "items": page,
        }


class _Html(str):
    """A body sent as it is, as text/html (not JSON)."""


class _Handler(BaseHTTPRequestHandler):
    api: KubeApiServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle plus delayed ACK costs ~40 ms each.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        status, body = self.api.handle(Request(self.command, url.path, query, self.headers.get("Authorization")))
        html = isinstance(body, _Html)
        data = body.encode() if html else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if html else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read `api.requests`
        pass


__all__ = ["DEFAULT_TOKEN", "KubeApiServer", "Resource", "write_kubeconfig"]
