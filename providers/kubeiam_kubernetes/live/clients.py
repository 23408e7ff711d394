"""One cluster's API server through the `kubernetes` client: raw JSON, pages, and failures as coverage.

Every call asks for the raw response (`_preload_content=False`), so items keep the camelCase JSON
`kubectl get -o json` prints rather than the SDK's models. A 403 or a server error is a coverage error
(the collection goes on); a 401, a TLS failure or an unreachable server means nothing of the cluster can be
read (`Unreachable`: the collector decides what that does to the run). Causes are one line, as kubectl
gives them: an error body (an HTML page from a proxy) is summarised, never pasted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from kubeiam.safety.text import safe_line
from kubeiam.vocabulary.model import CoverageError
from kubeiam_kubernetes.declarations import KUBERNETES
from kubeiam_kubernetes.live.kubeconfig import Target
from kubeiam_kubernetes.live.plan import SERVICE_ACCOUNTS, Kind

PAGE_SIZE = 500
TIMEOUT = (10, 120)
"""(connect, read) seconds per request."""
CONCURRENCY = 4
"""Requests in flight per API server, and clusters read at once. Why 4: a dozen lists per cluster
then take about three round trips instead of twelve, and an API server shared with production
never sees more than four of kubeiam's requests at a time."""

Raw = dict[str, Any]
"""One object (or response) as the API server's JSON."""

# The typed APIs' method names for the built-in kinds (`list_namespaced_<snake>`...).
_SNAKE = {
    "Namespace": "namespace",
    "ServiceAccount": "service_account",
    "Pod": "pod",
    "Node": "node",
    "NetworkPolicy": "network_policy",
    "ReplicaSet": "replica_set",
    "Job": "job",
    "Role": "role",
    "RoleBinding": "role_binding",
    "ClusterRole": "cluster_role",
    "ClusterRoleBinding": "cluster_role_binding",
}


class Absent(Exception):
    """404: the resource is not served (a CRD that is not installed), or the object does not exist."""


class Unreachable(Exception):
    """The cluster cannot be read at all: credentials refused (401), TLS failed, or no connection."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        """One line naming the context and the server (what a run of one context ends with)."""
        self.reason = reason
        """The cause alone (a coverage entry's reason; its location names the server)."""


class _Expired(Exception):
    """410: a `continue` token outlived the server's history; the list must start over."""


@dataclass(frozen=True, slots=True)
class Listing:
    items: list[Raw]
    complete: bool
    """False when a coverage error says what is missing (403, a server error, an expired or repeated token)."""


class ClusterApi:
    """The calls live collection makes to one cluster; what fails is kept in `errors` (thread-safe appends)."""

    def __init__(self, target: Target) -> None:
        from kubernetes import client  # the SDK only on the live path

        self.target = target
        self.errors: list[CoverageError] = []
        self.answered = 0
        """Calls answered with JSON (a 2xx): none, and every call refused, means nothing of the cluster was read."""
        api = target.api_client
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.well_known = client.WellKnownApi(api)
        self._apis = {
            "networking.k8s.io/v1": client.NetworkingV1Api(api),
            "apps/v1": client.AppsV1Api(api),
            "batch/v1": client.BatchV1Api(api),
            "rbac.authorization.k8s.io/v1": client.RbacAuthorizationV1Api(api),
        }

    # -- single objects ----------------------------------------------------------------------

    def read_service_account(self, namespace: str, name: str) -> Raw | None:
        """The ServiceAccount; None when it could not be read (a coverage error); `Absent` on 404."""
        where = f"get {SERVICE_ACCOUNTS.path(namespace)}/{name}"
        return self._call(where, self.core.read_namespaced_service_account, name=name, namespace=namespace)

    def read_config_map(self, namespace: str, name: str) -> Raw | None:
        """One ConfigMap; None when it could not be read (a coverage error); `Absent` on 404."""
        where = f"get /api/v1/namespaces/{namespace}/configmaps/{name}"
        return self._call(where, self.core.read_namespaced_config_map, name=name, namespace=namespace)

    def read_node(self, name: str) -> Raw | None:
        return self._call(f"get /api/v1/nodes/{name}", self.core.read_node, name=name)

    def openid_configuration(self) -> Raw | None:
        """The issuer discovery document; None when unreadable or without an `issuer` (coverage errors)."""
        where = "get /.well-known/openid-configuration"
        raw = self._call(where, self.well_known.get_service_account_issuer_open_id_configuration)
        if raw is not None and not isinstance(raw.get("issuer"), str):
            self.error(where, "response has no 'issuer'")
            return None
        return raw

    # -- lists -------------------------------------------------------------------------------

    def list_kind(
        self,
        kind: Kind,
        namespace: str | None,
        *,
        field_selector: str | None = None,
        single_page: int | None = None,
        absent_ok: bool = True,
    ) -> Listing:
        """Every object of `kind`, following `continue` tokens; none (and a coverage error) on 403.

        A custom resource that is not served lists nothing, and no error; with `absent_ok=False` it
        raises `Absent` instead (to try another version).
        """
        call = self._list_call(kind, namespace)
        where = f"list {kind.path(namespace)}"
        items: list[Raw] = []
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
                    self.error(where, "continue token expired twice (410); list incomplete")
                    return Listing([], complete=False)
                restarted, token, items, seen_tokens = True, None, [], set()
                continue
            except Absent:
                if not absent_ok:
                    raise
                if not kind.crd:
                    self.error(where, "not served by this API server (404)")
                return Listing([], complete=kind.crd)
            if page is None:
                return Listing([], complete=False)
            if not isinstance(page.get("items"), list):
                self.error(where, "response is not a list")
                return Listing([], complete=False)
            items.extend(page["items"])
            token = (page.get("metadata") or {}).get("continue") or None
            if single_page or not token:
                return Listing(items, complete=True)
            if token in seen_tokens:  # a server handing the same token back would loop forever
                self.error(where, "the server repeated a continue token; list may be incomplete")
                return Listing(items, complete=False)
            seen_tokens.add(token)

    def _list_call(self, kind: Kind, namespace: str | None) -> Callable[..., Any]:
        if kind.crd:
            custom = self.custom
            if namespace and kind.namespaced:
                return partial(custom.list_namespaced_custom_object, kind.group, kind.version, namespace, kind.plural)
            return partial(custom.list_cluster_custom_object, kind.group, kind.version, kind.plural)
        api = self._apis.get(kind.api_version, self.core)
        snake = _SNAKE[kind.kind]
        if not kind.namespaced:
            return partial(getattr(api, f"list_{snake}"))
        if namespace:
            return partial(getattr(api, f"list_namespaced_{snake}"), namespace)
        return partial(getattr(api, f"list_{snake}_for_all_namespaces"))

    # -- one call ----------------------------------------------------------------------------

    def _call(self, where: str, method: Callable[..., Any], **kwargs: Any) -> Raw | None:
        """One API call returning its raw JSON; 403 and server errors become coverage errors (None)."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        try:
            response = method(**kwargs, _preload_content=False, _request_timeout=TIMEOUT)
        except ApiException as exc:
            status = exc.status or 0
            if status == 404:
                raise Absent() from None
            if status == 410:
                raise _Expired() from None
            if status == 401:
                raise self._refused() from None
            if status == 0:  # the client's own: a TLS failure (SSLError) or a request it could not make
                raise self._unreachable(transport_cause(exc)) from None
            reason = _status_message(exc)
            self.error(where, f"forbidden (403): {reason}" if status == 403 else f"HTTP {status}: {reason}")
            return None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._unreachable(transport_cause(exc)) from None
        try:
            value = json.loads(response.data)
        except (ValueError, UnicodeDecodeError):
            self.error(where, f"response is not JSON ({_body_kind(response.data)})")
            return None
        if not isinstance(value, dict):
            self.error(where, "response is not a JSON object")
            return None
        self.answered += 1
        return value

    def _refused(self) -> Unreachable:
        t = self.target
        message = f"{t.label}: the API server at {t.server} rejected the credentials (401 Unauthorized)"
        return Unreachable(safe_line(message), "credentials refused (401 Unauthorized)")

    def _unreachable(self, cause: str) -> Unreachable:
        t = self.target
        message = f"{t.label}: cannot reach the API server at {t.server} ({cause})"
        return Unreachable(safe_line(message), f"cannot reach the API server ({cause})")

    def error(self, where: str, reason: str) -> None:
        self.errors.append(
            CoverageError(
                source=KUBERNETES,
                location=f"{where} ({self.target.label})",
                reason=safe_line(reason),
                subject=self.target.cluster,
            )
        )


_CAUSES = (
    ("certificate verify failed", "TLS: certificate verify failed"),
    ("connection refused", "connection refused"),
    ("name or service not known", "host name not resolved"),
    ("nodename nor servname", "host name not resolved"),
    ("name resolution", "host name not resolved"),
    ("failed to resolve", "host name not resolved"),
    ("timed out", "timed out"),
    ("no route to host", "no route to host"),
    ("network is unreachable", "network unreachable"),
    ("connection reset", "connection reset"),
    ("connection aborted", "connection closed by the server"),
    ("remote end closed", "connection closed by the server"),
    ("sslerror", "TLS handshake failed"),
    ("[ssl", "TLS handshake failed"),
)


def transport_cause(exc: BaseException) -> str:
    """kubectl's kind of cause (`connection refused`), not urllib3's wrapper (`MaxRetryError: ...pool...`)."""
    inner = getattr(exc, "reason", None)  # MaxRetryError wraps the real failure
    text = f"{exc} {inner}".lower()
    for needle, cause in _CAUSES:
        if needle in text:
            return cause
    return type(inner if isinstance(inner, BaseException) else exc).__name__


def _body_kind(data: bytes) -> str:
    return "an HTML page" if data[:512].lstrip().startswith(b"<") else f"{len(data)} bytes"


def _status_message(exc: Any) -> str:
    """The Status `message` of a Kubernetes error, else the HTTP reason: an HTML body is never pasted."""
    try:
        message = json.loads(exc.body or "{}").get("message")
    except (ValueError, AttributeError):
        message = None
    text = " ".join(str(message or exc.reason or "request failed").split())
    return text if len(text) <= 200 else text[:197] + "..."
