"""Live collection through the `kubernetes` client into `kubernetes/<cluster>/` evidence files.

Writes exactly what `kubectl get ... -o json` prints (a `kind: List` whose items carry `kind` and
`apiVersion`, camelCase, no managedFields) so a collected directory and a hand-made one are read
by the same code. Read-only, `get`/`list` only; Secrets are never requested.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kubeiam.errors import InputError
from kubeiam.evidence import write_json_file
from kubeiam.model import CoverageError
from kubeiam.progress import progress_of
from kubeiam.providers import CollectRequest
from kubeiam_kubernetes.kubeconfig import Target, resolve_targets
from kubeiam_kubernetes.sanitize import as_kubectl_item

PAGE_SIZE = 500
TIMEOUT = (10, 120)
CONCURRENCY = 4
"""Requests in flight per API server, and clusters read at once. Why 4: a dozen lists per cluster
then take about three round trips instead of twelve, and an API server shared with production
never sees more than four of kubeiam's requests at a time."""
"""(connect, read) seconds per request."""


@dataclass(frozen=True)
class Kind:
    """One kind to list, in the order `kubectl get ns,sa,pods,...` would print them."""

    kind: str
    api_version: str
    plural: str
    namespaced: bool
    crd: bool = False
    """A custom resource: 404 means the CRD is not installed, which is fine."""

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    def path(self, namespace: str | None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if namespace and self.namespaced:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"


NAMESPACES = Kind("Namespace", "v1", "namespaces", False)
SERVICE_ACCOUNTS = Kind("ServiceAccount", "v1", "serviceaccounts", True)
PODS = Kind("Pod", "v1", "pods", True)
NODES = Kind("Node", "v1", "nodes", False)
NETWORK_POLICIES = Kind("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies", True)
# ReplicaSets and Jobs only for their ownerReferences (metadata): they name a pod's Deployment and
# CronJob, so findings name a workload that survives rollouts and schedules (stable fingerprints).
REPLICA_SETS = Kind("ReplicaSet", "apps/v1", "replicasets", True)
JOBS = Kind("Job", "batch/v1", "jobs", True)
CILIUM_POLICIES = Kind("CiliumNetworkPolicy", "cilium.io/v2", "ciliumnetworkpolicies", True, crd=True)
CILIUM_CLUSTER_POLICIES = Kind(
    "CiliumClusterwideNetworkPolicy", "cilium.io/v2", "ciliumclusterwidenetworkpolicies", False, crd=True
)
# Karpenter v1 first; v1beta1 only when v1 is not served (older Karpenter): the same objects.
EC2_NODE_CLASSES = (
    Kind("EC2NodeClass", "karpenter.k8s.aws/v1", "ec2nodeclasses", False, crd=True),
    Kind("EC2NodeClass", "karpenter.k8s.aws/v1beta1", "ec2nodeclasses", False, crd=True),
)
ALL_KINDS: tuple[Kind, ...] = (
    NAMESPACES,
    SERVICE_ACCOUNTS,
    PODS,
    NODES,
    NETWORK_POLICIES,
    REPLICA_SETS,
    JOBS,
    CILIUM_POLICIES,
    CILIUM_CLUSTER_POLICIES,
    *EC2_NODE_CLASSES,
)
"""Everything live collection may request (docs/kubernetes.md's ClusterRole grants exactly these)."""


class _Absent(Exception):
    """404: the resource is not served (a CRD that is not installed)."""


class _Expired(Exception):
    """410: a `continue` token outlived the server's history; the list must start over."""


def collect(request: CollectRequest) -> list[CoverageError]:
    targets = resolve_targets(request.options)
    collectors = [_Collector(target, request) for target in targets]
    with ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="kubeiam-k8s") as pool:
        # In target order; a cluster that cannot be read at all (401, unreachable) fails the collection.
        errors = [e for found in pool.map(_Collector.run, collectors) for e in found]
    found_sa = any(c.found_service_account for c in collectors)
    namespace_missing = all(c.namespace_missing for c in collectors)
    if request.namespace and not request.service_account and namespace_missing:
        # A typo in --namespace would otherwise audit nothing and report "no findings".
        where = ", ".join(t.label for t in targets)
        raise InputError(f"--namespace {request.namespace}: no such namespace ({where})")
    if request.service_account and not found_sa:
        ns, name = request.service_account
        where = ", ".join(t.label for t in targets)
        raise InputError(f"check: ServiceAccount {ns}/{name} not found ({where}) and no pod uses it")
    return errors


class _Collector:
    def __init__(self, target: Target, request: CollectRequest) -> None:
        from kubernetes import client

        self.target = target
        self.request = request
        self.errors: list[CoverageError] = []
        self.found_service_account = False
        self.items: list[dict[str, Any]] = []
        self.namespace_missing = False
        """The scope's namespace was listed (no 403) and is not there."""
        api = target.api_client
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self._apis = {
            "networking.k8s.io/v1": client.NetworkingV1Api(api),
            "apps/v1": client.AppsV1Api(api),
            "batch/v1": client.BatchV1Api(api),
        }
        self.folder = request.output / "kubernetes" / target.cluster

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> list[CoverageError]:
        scope_ns = self.request.namespace
        sa = self.request.service_account
        if sa:
            scope_ns = sa[0]
        plan: list[tuple[str, Callable[[], list[dict[str, Any]]]]] = [
            ("namespaces", lambda: self._namespaces(scope_ns))
        ]
        if sa:
            plan += [
                ("serviceaccount", lambda: self._get_service_account(*sa)),
                ("pods", lambda: self._list(PODS, sa[0], field_selector=f"spec.serviceAccountName={sa[1]}")),
            ]
        else:
            plan += [
                ("serviceaccounts", lambda: self._list(SERVICE_ACCOUNTS, scope_ns)),
                ("pods", lambda: self._list(PODS, scope_ns)),
            ]
        if not sa:
            plan.append(("nodes", lambda: self._nodes(only_used=False)))
        plan += [
            ("networkpolicies", lambda: self._list(NETWORK_POLICIES, scope_ns)),
            ("replicasets", lambda: self._list(REPLICA_SETS, scope_ns)),
            ("jobs", lambda: self._list(JOBS, scope_ns)),
            ("ciliumnetworkpolicies", lambda: self._list(CILIUM_POLICIES, scope_ns)),
            ("ciliumclusterwidenetworkpolicies", lambda: self._list(CILIUM_CLUSTER_POLICIES, None)),
            ("ec2nodeclasses", self._ec2_node_classes),
        ]
        task = progress_of(self.request).task(f"kubernetes: {self.target.cluster}", total=len(plan) + 1 + bool(sa))
        # The lists do not depend on each other: side by side, bounded; their items kept in plan order
        # (a stable resources.json). Pages of one list stay one after another (each needs its token).
        with ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="kubeiam-k8s-list") as pool:
            lists = [pool.submit(step) for _, step in plan]
            issuer = pool.submit(self._openid_configuration)
            for done in lists:
                self.items.extend(done.result())
                task.advance()
            oidc = issuer.result()
            task.advance()
        if sa:
            # `check`: the nodes its pods run on, which only the pods name.
            self.items.extend(self._nodes(only_used=True))
            task.advance()
            self.found_service_account = self.found_service_account or any(i["kind"] == "Pod" for i in self.items)
        task.done()
        self._write(oidc)
        return self.errors

    def _write(self, oidc: dict[str, Any] | None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        doc = {"apiVersion": "v1", "items": self.items, "kind": "List", "metadata": {"resourceVersion": ""}}
        write_json_file(self.folder / "resources.json", doc)
        if oidc is not None:
            write_json_file(self.folder / "openid-configuration.json", oidc)

    # -- steps -----------------------------------------------------------------------------

    def _namespaces(self, only: str | None) -> list[dict[str, Any]]:
        errors = len(self.errors)
        found = self._list(NAMESPACES, None, field_selector=_name_is(only))
        self.namespace_missing = bool(only) and not found and len(self.errors) == errors
        return found

    def _get_service_account(self, namespace: str, name: str) -> list[dict[str, Any]]:
        where = f"get {SERVICE_ACCOUNTS.path(namespace)}/{name}"
        try:
            raw = self._call(where, self.core.read_namespaced_service_account, name=name, namespace=namespace)
        except _Absent:
            return []
        self.found_service_account = True  # or unknown (403, recorded as a coverage error): not "absent"
        if raw is None:
            return []
        return [as_kubectl_item(raw, SERVICE_ACCOUNTS.kind, SERVICE_ACCOUNTS.api_version)]

    def _nodes(self, *, only_used: bool) -> list[dict[str, Any]]:
        if not only_used:
            return self._list(NODES, None)
        # `check`: only the nodes this ServiceAccount's pods run on...
        names = sorted({str(i["spec"]["nodeName"]) for i in self.items if i["kind"] == "Pod" and _node_of(i)})
        out = []
        for name in names:
            try:
                raw = self._call(f"get /api/v1/nodes/{name}", self.core.read_node, name=name)
            except _Absent:
                continue
            if raw is not None:
                out.append(as_kubectl_item(raw, NODES.kind, NODES.api_version))
        if not out:
            # ...or one node, so the cluster's platform (providerID) is still known.
            out = self._list(NODES, None, single_page=1)
        return out

    def _ec2_node_classes(self) -> list[dict[str, Any]]:
        for kind in EC2_NODE_CLASSES:
            try:
                return self._list(kind, None, absent_ok=False)
            except _Absent:
                continue
        return []

    def _openid_configuration(self) -> dict[str, Any] | None:
        from kubernetes import client

        where = "get /.well-known/openid-configuration"
        api = client.WellKnownApi(self.target.api_client)
        try:
            raw = self._call(where, api.get_service_account_issuer_open_id_configuration)
        except _Absent:
            return None  # issuer discovery disabled: the cloud's cluster object may still give it
        if raw is not None and not isinstance(raw.get("issuer"), str):
            self._error(where, "response has no 'issuer'")
            return None
        return raw

    # -- listing ---------------------------------------------------------------------------

    def _list_call(self, kind: Kind, namespace: str | None) -> Callable[..., Any]:
        if kind.crd:
            if namespace and kind.namespaced:
                return lambda **kw: self.custom.list_namespaced_custom_object(
                    kind.group, kind.version, namespace, kind.plural, **kw
                )
            return lambda **kw: self.custom.list_cluster_custom_object(kind.group, kind.version, kind.plural, **kw)
        api = self._apis.get(kind.api_version, self.core)
        snake = {
            "Namespace": "namespace",
            "ServiceAccount": "service_account",
            "Pod": "pod",
            "Node": "node",
            "NetworkPolicy": "network_policy",
            "ReplicaSet": "replica_set",
            "Job": "job",
        }[kind.kind]
        if not kind.namespaced:
            return getattr(api, f"list_{snake}")
        if namespace:
            method = getattr(api, f"list_namespaced_{snake}")
            return lambda **kw: method(namespace, **kw)
        return getattr(api, f"list_{snake}_for_all_namespaces")

    def _list(
        self,
        kind: Kind,
        namespace: str | None,
        *,
        field_selector: str | None = None,
        single_page: int | None = None,
        absent_ok: bool = True,
    ) -> list[dict[str, Any]]:
        """Every object of `kind`, following `continue` tokens; [] (and a coverage error) on 403."""
        call = self._list_call(kind, namespace)
        where = f"list {kind.path(namespace)}"
        items: list[dict[str, Any]] = []
        token: str | None = None
        seen_tokens: set[str] = set()
        restarted = False
        while True:
            kwargs: dict[str, Any] = {"limit": single_page or PAGE_SIZE}
            if token:
                kwargs["_continue"] = token
            if field_selector:
                kwargs["field_selector"] = field_selector
            try:
                page = self._call(where, call, **kwargs)
            except _Expired:
                # Why restart rather than go on: the rest of a list from a newer snapshot can skip
                # or repeat objects. One fresh start; a second expiry is a coverage error.
                if restarted or not token:
                    self._error(where, "continue token expired twice (410); list incomplete")
                    return []
                restarted, token, items, seen_tokens = True, None, [], set()
                continue
            except _Absent:
                if not absent_ok:
                    raise
                if not kind.crd:
                    self._error(where, "not served by this API server (404)")
                return []
            if page is None:
                return []
            if not isinstance(page.get("items"), list):
                self._error(where, "response is not a list")
                return []
            items.extend(as_kubectl_item(i, kind.kind, kind.api_version) for i in page["items"])
            token = (page.get("metadata") or {}).get("continue") or None
            if single_page or not token:
                return items
            if token in seen_tokens:  # a server handing the same token back would loop forever
                self._error(where, "the server repeated a continue token; list may be incomplete")
                return items
            seen_tokens.add(token)

    def _call(self, where: str, method: Callable[..., Any], **kwargs: Any) -> Any:
        """One API call returning its raw JSON; 403 and server errors become coverage errors (None)."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        try:
            response = method(**kwargs, _preload_content=False, _request_timeout=TIMEOUT)
        except ApiException as exc:
            status = exc.status or 0
            if status == 404:
                raise _Absent() from None
            if status == 410:
                raise _Expired() from None
            if status == 401:
                raise InputError(
                    f"{self.target.label}: the API server at {self.target.server} rejected the credentials "
                    "(401 Unauthorized)"
                ) from None
            reason = _status_message(exc)
            self._error(where, f"forbidden (403): {reason}" if status == 403 else f"HTTP {status}: {reason}")
            return None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise InputError(
                f"{self.target.label}: cannot reach the API server at {self.target.server} ({type(exc).__name__})"
            ) from None
        try:
            value = json.loads(response.data)
        except (ValueError, UnicodeDecodeError):
            self._error(where, "response is not JSON")
            return None
        if not isinstance(value, dict):
            self._error(where, "response is not a JSON object")
            return None
        return value

    def _error(self, where: str, reason: str) -> None:
        self.errors.append(
            CoverageError(
                source="kubernetes",
                location=f"{where} ({self.target.label})",
                reason=reason,
                subject=self.target.cluster,
            )
        )


def _name_is(namespace: str | None) -> str | None:
    return f"metadata.name={namespace}" if namespace else None


def _node_of(pod: dict[str, Any]) -> str | None:
    return (pod.get("spec") or {}).get("nodeName")


def _status_message(exc: Any) -> str:
    try:
        message = json.loads(exc.body or "{}").get("message")
    except (ValueError, AttributeError):
        message = None
    return " ".join(str(message or exc.reason or "request failed").split())[:300]


def requested_resources(kinds: Iterable[Kind] = ALL_KINDS) -> list[tuple[str, str]]:
    """(API group, plural) of everything collection may request: what the RBAC must grant."""
    return sorted({(k.group, k.plural) for k in kinds})
