"""Azure SDK clients for live collection: credential, endpoint, TLS, concurrency (`Calls`), and failures
turned into coverage.

Settings come from the environment so that a test (or a sovereign cloud, or a proxy) can point the
real SDK clients somewhere else without code changes:

- `KUBEIAM_AZURE_ENDPOINT`: Resource Manager base URL (default https://management.azure.com); the
  token scope follows it (`<endpoint>/.default`), as it does for sovereign clouds.
- `KUBEIAM_AZURE_CA_BUNDLE`: a PEM file of CAs to trust instead of the system store.
- `KUBEIAM_AZURE_ACCESS_TOKEN`: a bearer token to use instead of `DefaultAzureCredential`
  (e.g. `az account get-access-token --query accessToken -o tsv`). Never logged nor written.
- `KUBEIAM_AZURE_CONCURRENCY`: how many calls run at once (default 8).
- `KUBEIAM_AZURE_GRAPH_ENDPOINT`: Microsoft Graph base URL for the managed-identity sign-ins (default: the
  Graph of the Resource Manager endpoint's cloud; none for an endpoint of no known cloud).
- `KUBEIAM_AZURE_USAGE`: `0` to skip the usage data (Activity Log, sign-ins) of unused-access (AZ-012).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError, DecodeError, HttpResponseError

from kubeiam.pipeline.progress import Progress
from kubeiam.vocabulary.model import CoverageError

if TYPE_CHECKING:
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.containerservice import ContainerServiceClient
    from azure.mgmt.managementgroups import ManagementGroupsMgmtClient
    from azure.mgmt.monitor import MonitorManagementClient
    from azure.mgmt.msi import ManagedServiceIdentityClient

_T = TypeVar("_T")

JSON = dict[str, Any]
"""One object as the REST API returns it (`properties` nested), as written into the evidence."""

DEFAULT_ENDPOINT = "https://management.azure.com"
DEFAULT_CONCURRENCY = 8
GRAPH_OF = {
    DEFAULT_ENDPOINT: "https://graph.microsoft.com",
    "https://management.usgovcloudapi.net": "https://graph.microsoft.us",
    "https://management.chinacloudapi.cn": "https://microsoftgraph.chinacloudapi.cn",
}
"""Each cloud's Microsoft Graph, by its Resource Manager endpoint."""


@dataclass(frozen=True, slots=True)
class Settings:
    endpoint: str = DEFAULT_ENDPOINT
    """Resource Manager base URL, without a trailing slash."""
    ca_bundle: str | None = None
    """PEM file passed to the SDK as `connection_verify`; None: the system trust store."""
    concurrency: int = DEFAULT_CONCURRENCY
    graph_endpoint: str | None = None
    """Microsoft Graph base URL; None: the Graph of `endpoint`'s cloud (`graph`)."""
    usage: bool = True
    """Read the usage data of unused access (Activity Log, managed-identity sign-ins)."""

    @property
    def scope(self) -> str:
        return f"{self.endpoint}/.default"

    @property
    def graph(self) -> str | None:
        """Where to read sign-ins; None for an endpoint of no known cloud (a test server, a proxy) unless given:
        sign-ins are then not read, rather than asked of the public cloud."""
        return self.graph_endpoint or GRAPH_OF.get(self.endpoint)

    @classmethod
    def from_env(cls, environ: os._Environ[str] | dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        endpoint = (env.get("KUBEIAM_AZURE_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
        try:
            concurrency = max(1, int(env.get("KUBEIAM_AZURE_CONCURRENCY") or DEFAULT_CONCURRENCY))
        except ValueError:
            concurrency = DEFAULT_CONCURRENCY
        return cls(
            endpoint=endpoint,
            ca_bundle=env.get("KUBEIAM_AZURE_CA_BUNDLE") or None,
            concurrency=concurrency,
            graph_endpoint=(env.get("KUBEIAM_AZURE_GRAPH_ENDPOINT") or "").rstrip("/") or None,
            usage=(env.get("KUBEIAM_AZURE_USAGE") or "1").strip().lower() not in ("0", "false", "no", "off"),
        )


class StaticToken:
    """A TokenCredential that returns one given bearer token (KUBEIAM_AZURE_ACCESS_TOKEN, tests)."""

    def __init__(self, token: str, expires_in: int = 3600) -> None:
        self._token = AccessToken(token, int(time.time()) + expires_in)

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return self._token

    def __repr__(self) -> str:  # never show the token
        return "StaticToken(***)"


class SharedToken:
    """Wraps a credential so that all clients share one token per scope.

    Why: each SDK client has its own bearer policy and would ask the credential separately; with
    DefaultAzureCredential falling back to the az CLI, each ask is a subprocess.
    """

    def __init__(self, inner: TokenCredential) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, ...], AccessToken] = {}

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        key = tuple(scopes)
        with self._lock:
            token = self._tokens.get(key)
            if token is None or token.expires_on - 300 < time.time() or kwargs.get("claims"):
                token = self._inner.get_token(*scopes, **kwargs)
                self._tokens[key] = token
            return token


def make_credential(environ: os._Environ[str] | dict[str, str] | None = None) -> TokenCredential:
    env = os.environ if environ is None else environ
    token = env.get("KUBEIAM_AZURE_ACCESS_TOKEN")
    if token:
        return StaticToken(token.strip())
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


@dataclass(frozen=True)
class Clients:
    """The management clients for one subscription, sharing one credential."""

    subscription: str
    authorization: AuthorizationManagementClient
    msi: ManagedServiceIdentityClient
    containerservice: ContainerServiceClient
    monitor: MonitorManagementClient


def make_clients(subscription: str, credential: TokenCredential, settings: Settings) -> Clients:
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.containerservice import ContainerServiceClient
    from azure.mgmt.monitor import MonitorManagementClient
    from azure.mgmt.msi import ManagedServiceIdentityClient

    kwargs: dict[str, Any] = {"base_url": settings.endpoint, "credential_scopes": [settings.scope]}
    if settings.ca_bundle:
        kwargs["connection_verify"] = settings.ca_bundle
    return Clients(
        subscription=subscription,
        authorization=AuthorizationManagementClient(credential, subscription, **kwargs),
        msi=ManagedServiceIdentityClient(credential, subscription, **kwargs),
        containerservice=ContainerServiceClient(credential, subscription, **kwargs),
        monitor=MonitorManagementClient(credential, subscription, **kwargs),
    )


def make_management_groups_client(credential: TokenCredential, settings: Settings) -> ManagementGroupsMgmtClient:
    """One client for the tenant's management groups (they belong to no subscription)."""
    from azure.mgmt.managementgroups import ManagementGroupsMgmtClient

    kwargs: dict[str, Any] = {"credential_scopes": [settings.scope]}
    if settings.ca_bundle:
        kwargs["connection_verify"] = settings.ca_bundle
    return ManagementGroupsMgmtClient(credential, base_url=settings.endpoint, **kwargs)


def to_rest(obj: Any) -> JSON:
    """The REST (wire) JSON of an SDK model: `properties` nested, camelCase, read-only fields kept.

    The msrest models (authorization, msi) re-nest their flattened attributes on `serialize`; the
    newer typespec models (containerservice) are mappings over the wire JSON already.
    """
    serialize = getattr(obj, "serialize", None)
    wire: JSON = (
        serialize(keep_readonly=True) if callable(serialize) and hasattr(obj, "_attribute_map") else obj.as_dict()
    )
    return wire


def coverage(exc: Exception, *, location: str, subject: str | None = None) -> CoverageError:
    """A failed call as coverage: `403 AuthorizationFailed: ...` rather than a traceback."""
    return CoverageError(source="azure", location=location, reason=describe(exc), subject=subject)


def describe(exc: Exception) -> str:
    """One line: `403 AuthorizationFailed: <ARM message>`. A body that is not an ARM error (an HTML page
    from a proxy or a wrong endpoint) is summarised, never pasted."""
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        error = getattr(exc, "error", None)
        code = getattr(error, "code", None)
        message = getattr(error, "message", None) or ""
        if error is None or not code:
            return f"HTTP {exc.status_code} {exc.reason or ''}".rstrip() + _body_kind(exc)
        text = f"{exc.status_code} {code}".strip()
        return f"{text}: {_first_line(message)}" if message else text
    if isinstance(exc, (json.JSONDecodeError, DecodeError)):
        return "the answer is not JSON (an HTML page from a proxy, or the wrong endpoint?)"
    if isinstance(exc, ClientAuthenticationError):
        return f"authentication failed: {_first_line(exc.message or str(exc))}"
    if isinstance(exc, AzureError):
        return f"{type(exc).__name__}: {_first_line(exc.message or str(exc))}"
    return f"{type(exc).__name__}: {_first_line(str(exc))}"


def _body_kind(exc: HttpResponseError) -> str:
    response = getattr(exc, "response", None)
    try:
        kind = (response.headers.get("content-type") or "").lower() if response is not None else ""
        start = response.text()[:200].lstrip().lower() if response is not None else ""
    except Exception:  # a body that cannot even be decoded: nothing more to say about it
        return ""
    if "html" in kind or start.startswith(("<!doctype html", "<html")):
        return " (an HTML page, not an Azure Resource Manager answer: a proxy or the wrong endpoint?)"
    return " (not an Azure Resource Manager error body)" if start else ""


def _first_line(text: str) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line[:500]


class Calls:
    """Runs the SDK calls of one collection: a failed call is recorded as coverage (and gives None), and
    batches of calls run on the shared thread pool with one progress task each."""

    def __init__(self, pool: ThreadPoolExecutor, progress: Progress) -> None:
        self.pool = pool
        self.progress = progress
        self.errors: list[CoverageError] = []
        self.succeeded = 0
        """Calls that returned: none at all with errors means the cloud could not be read."""
        self._lock = threading.Lock()

    def call(self, fn: Callable[[], _T], location: str, subject: str | None = None) -> _T | None:
        """Run one SDK call (pager included); a failure is recorded as coverage and gives None."""
        try:
            result = fn()
        except (AzureError, ValueError, KeyError, TypeError) as exc:  # the last three: a malformed response
            with self._lock:
                self.errors.append(coverage(exc, location=location, subject=subject))
            return None
        with self._lock:
            self.succeeded += 1
        return result

    def failed(self, error: CoverageError) -> None:
        """Record a failure a caller turned into coverage itself (it needed the exception first)."""
        with self._lock:
            self.errors.append(error)

    def done(self) -> None:
        """Record a call that returned, made outside `call`."""
        with self._lock:
            self.succeeded += 1

    def parallel(self, description: str, jobs: Sequence[Callable[[], _T]]) -> list[_T]:
        task = self.progress.task(description, total=len(jobs))

        def run(job: Callable[[], _T]) -> _T:
            try:
                return job()
            finally:
                task.advance()

        results = list(self.pool.map(run, jobs))
        task.done()
        return results
