"""Google Cloud clients (created once per collection, shared by all threads) and the guarded call.

Every API call goes through `Caller.call`: a per-service concurrency bound, back-off retries on
quota errors, a call count, and PermissionDenied (or any API failure) turned into a CoverageError,
so that nothing is ever reported clean because a call failed.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from kubeiam.pipeline.progress import Task
from kubeiam.vocabulary.model import CoverageError

from . import failures

T = TypeVar("T")

REST_ENDPOINT_VAR = "KUBEIAM_GCP_ENDPOINT"
"""Base URL (e.g. http://127.0.0.1:8080) for Resource Manager, Container and Cloud Asset (REST)."""
IAM_GRPC_ENDPOINT_VAR = "KUBEIAM_GCP_IAM_GRPC_ENDPOINT"
"""host:port of a plaintext gRPC server for the IAM admin API (it has no REST transport)."""
MAX_CALLS_VAR = "KUBEIAM_GCP_MAX_CONCURRENCY"
"""Concurrent calls per API (default 4)."""

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"

# Every API method the collection calls and the one permission it needs: docs/gcp-live.md lists the
# same (a test keeps them equal), and `Caller.call` refuses a method missing here.
PERMISSIONS: dict[str, str] = {
    # A central audit (--gcp-folder, --gcp-organization, live/hierarchy.py): the children of each folder.
    "folders.list": "resourcemanager.folders.list",
    "projects.list": "resourcemanager.projects.list",
    "projects.get": "resourcemanager.projects.get",
    "projects.getIamPolicy": "resourcemanager.projects.getIamPolicy",
    "folders.get": "resourcemanager.folders.get",
    "folders.getIamPolicy": "resourcemanager.folders.getIamPolicy",
    "organizations.getIamPolicy": "resourcemanager.organizations.getIamPolicy",
    "searchAllIamPolicies": "cloudasset.assets.searchAllIamPolicies",
    "projects.serviceAccounts.list": "iam.serviceAccounts.list",
    "projects.serviceAccounts.get": "iam.serviceAccounts.get",
    "projects.serviceAccounts.getIamPolicy": "iam.serviceAccounts.getIamPolicy",
    "projects.serviceAccounts.keys.list": "iam.serviceAccountKeys.list",
    "projects.roles.list": "iam.roles.list",
    "projects.roles.get": "iam.roles.get",
    "organizations.roles.get": "iam.roles.get",
    "projects.locations.clusters.get": "container.clusters.get",
    "projects.locations.clusters.list": "container.clusters.list",
    "roles.list": "",  # predefined roles (catalogue refresh): any authenticated caller
    # Usage data (issue 14, live/usage.py): the IAM recommender, Policy Analyzer activity.
    "projects.locations.insightTypes.insights.list": "recommender.iamPolicyInsights.list",
    "projects.locations.recommenders.recommendations.list": "recommender.iamPolicyRecommendations.list",
    "activityTypes.serviceAccountLastAuthentication.activities.query": (
        "policyanalyzer.serviceAccountLastAuthenticationActivities.query"
    ),
    "activityTypes.serviceAccountKeyLastAuthentication.activities.query": (
        "policyanalyzer.serviceAccountKeyLastAuthenticationActivities.query"
    ),
}

NOT_FOUND = object()
"""Returned by `Caller.call(..., not_found_ok=True)` when the object does not exist."""


@dataclass(frozen=True)
class Settings:
    rest_endpoint: str | None = None
    iam_grpc_endpoint: str | None = None
    per_service: int = 4
    """Concurrent calls per API. Why 4: IAM read quotas are per project per minute and shared with
    production; a few calls in flight already hide the latency without bursting the quota."""
    retry_initial: float = 1.0
    retry_maximum: float = 32.0
    retry_deadline: float = 300.0
    """Give up retrying a quota error after this many seconds (then it becomes coverage)."""
    call_timeout: float = 60.0
    """Seconds per attempt (a page), so that a stalled connection cannot hang the audit."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        per_service = env.get(MAX_CALLS_VAR, "")
        return cls(
            rest_endpoint=env.get(REST_ENDPOINT_VAR) or None,
            iam_grpc_endpoint=env.get(IAM_GRPC_ENDPOINT_VAR) or None,
            per_service=max(1, int(per_service)) if per_service.isdigit() else 4,
        )


class Clients:
    """One client per API for the whole collection (clients hold channels/sessions and are thread-safe)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._made: dict[str, Any] = {}
        self._credentials: Any = None

    def credentials(self, local: bool) -> Any:
        if local:
            from google.auth.credentials import AnonymousCredentials

            return AnonymousCredentials()
        if self._credentials is None:
            import google.auth

            self._credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM])
        return self._credentials

    def _get(self, key: str, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key not in self._made:
                self._made[key] = make()
            return self._made[key]

    def _rest(self, cls: Any) -> Any:
        from google.api_core.client_options import ClientOptions

        endpoint = self.settings.rest_endpoint
        options = ClientOptions(api_endpoint=endpoint) if endpoint else None
        return cls(credentials=self.credentials(bool(endpoint)), transport="rest", client_options=options)

    def projects(self) -> Any:
        from google.cloud import resourcemanager_v3

        return self._get("projects", lambda: self._rest(resourcemanager_v3.ProjectsClient))

    def folders(self) -> Any:
        from google.cloud import resourcemanager_v3

        return self._get("folders", lambda: self._rest(resourcemanager_v3.FoldersClient))

    def organizations(self) -> Any:
        from google.cloud import resourcemanager_v3

        return self._get("organizations", lambda: self._rest(resourcemanager_v3.OrganizationsClient))

    def container(self) -> Any:
        from google.cloud import container_v1

        return self._get("container", lambda: self._rest(container_v1.ClusterManagerClient))

    def asset(self) -> Any:
        from google.cloud import asset_v1

        return self._get("asset", lambda: self._rest(asset_v1.AssetServiceClient))

    def recommender(self) -> Any:
        from google.cloud import recommender_v1

        return self._get("recommender", lambda: self._rest(recommender_v1.RecommenderClient))

    def policy_analyzer(self) -> Any:
        """Policy Analyzer has no google-cloud client: google-api-python-client, built from the discovery
        document it ships (no network to build it). Calls take their own `analyzer_http`."""

        def make() -> Any:
            from googleapiclient import discovery

            endpoint = self.settings.rest_endpoint
            return discovery.build(
                "policyanalyzer", "v1", credentials=self.credentials(bool(endpoint)), static_discovery=True,
                cache_discovery=False, client_options={"api_endpoint": endpoint} if endpoint else None,
            )  # fmt: skip

        return self._get("policyanalyzer", make)

    def analyzer_http(self, timeout: float) -> Any:
        """One HTTP connection per call: httplib2 is not thread-safe, the discovery client's own one is shared."""
        import google_auth_httplib2
        import httplib2

        http = httplib2.Http(timeout=timeout)
        if self.settings.rest_endpoint:
            return http  # the test servers: anonymous
        return google_auth_httplib2.AuthorizedHttp(self.credentials(False), http=http)

    def iam(self) -> Any:
        def make() -> Any:
            from google.cloud import iam_admin_v1

            target = self.settings.iam_grpc_endpoint
            if not target:
                return iam_admin_v1.IAMClient(credentials=self.credentials(False))
            import grpc
            from google.cloud.iam_admin_v1.services.iam.transports import IAMGrpcTransport

            channel = grpc.insecure_channel(target)
            return iam_admin_v1.IAMClient(transport=IAMGrpcTransport(channel=channel))

        return self._get("iam", make)


class Pools:
    """One thread pool per API, `size` workers each: the concurrency bound per service, and a slow
    or throttled API never holds the workers another one needs."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pools: dict[str, ThreadPoolExecutor] = {}

    def submit(self, service: str, job: Callable[[], None]) -> Future[None]:
        if service not in self._pools:  # only the orchestrating thread submits: no lock needed
            self._pools[service] = ThreadPoolExecutor(self.size, thread_name_prefix=f"kubeiam-gcp-{service}")
        return self._pools[service].submit(job)

    def __enter__(self) -> Pools:
        return self

    def __exit__(self, *exc: object) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=True)


class Caller:
    """Runs API calls with bounded concurrency per service, quota retries and error capture."""

    def __init__(self, settings: Settings) -> None:
        from google.api_core import exceptions, retry

        self.settings = settings
        self.errors: list[CoverageError] = []
        self.calls: Counter[str] = Counter()
        """API method -> calls started (pages after the first are counted by the servers, not here)."""
        self.answered = 0
        """Calls a server answered (a result, or "not found")."""
        self._kinds: list[str] = []
        self._down: dict[str, str] = {}
        """API -> why it cannot be reached (or refuses the credentials), once no call to it was answered:
        the calls after the first fail at once, not after their own time-out each."""
        self._lock = threading.Lock()
        self._limits: dict[str, threading.BoundedSemaphore] = {}

        # Quota (429 / RESOURCE_EXHAUSTED) and transient unavailability are worth waiting for; a server
        # that cannot be connected to is not (the next attempt fails the same way), and anything else
        # is an answer (denied, not found).
        def worth_retrying(exc: Exception) -> bool:
            if isinstance(exc, exceptions.TooManyRequests):
                return True
            return isinstance(exc, exceptions.ServiceUnavailable) and not failures.no_connection(exc)

        self.retry = retry.Retry(
            predicate=worth_retrying,
            initial=settings.retry_initial,
            maximum=settings.retry_maximum,
            multiplier=2.0,
            timeout=settings.retry_deadline,
        )

    def _limit(self, service: str) -> threading.BoundedSemaphore:
        with self._lock:
            if service not in self._limits:
                self._limits[service] = threading.BoundedSemaphore(self.settings.per_service)
            return self._limits[service]

    def call(
        self,
        service: str,
        method: str,
        resource: str,
        fn: Callable[[Any, float], T],
        *,
        subject: str | None = None,
        not_found_ok: bool = False,
    ) -> Any:
        """`fn(retry, timeout)` performs the call (and drains its pages).

        Returns its result, `NOT_FOUND` (when `not_found_ok`), or None on failure (recorded in `errors`).
        """
        from google.api_core import exceptions
        from google.auth.exceptions import GoogleAuthError

        if method not in PERMISSIONS:
            raise KeyError(f"{method}: not in PERMISSIONS (and so not in docs/gcp-live.md)")
        location = f"{service} {method} {resource}"
        with self._lock:
            self.calls[method] += 1
            down = self._down.get(service)
        if down is not None:
            self._error(location, down, subject, failures.UNREACHABLE)
            return None
        try:
            with self._limit(service):
                found = fn(self.retry, self.settings.call_timeout)
            self._answered()
            return found
        except exceptions.NotFound as exc:
            self._answered()
            if not_found_ok:
                return NOT_FOUND
            self._error(location, f"not found: {failures.summary(exc)}", subject, failures.OTHER)
        except (exceptions.GoogleAPICallError, exceptions.RetryError, GoogleAuthError, OSError) as exc:
            # Never clean: what this call would have shown stays unchecked, and the report says so.
            kind = failures.kind(exc)
            reason = _REASONS[kind] + failures.summary(exc)
            if isinstance(exc, exceptions.RetryError) and kind == failures.OTHER:
                reason = f"gave up after quota retries: {failures.summary(exc)}"
            self._error(location, reason, subject, kind)
            if kind in (failures.UNREACHABLE, failures.CREDENTIALS):
                with self._lock:
                    if not self.answered:
                        self._down.setdefault(service, reason)
        return None

    def _answered(self) -> None:
        with self._lock:
            self.answered += 1
            self._down.clear()  # the cloud answers: judge each call on its own again

    def _error(self, location: str, reason: str, subject: str | None, kind: str) -> None:
        with self._lock:
            self.errors.append(CoverageError("gcp", location, reason, subject))
            self._kinds.append(kind)

    def nothing_read(self) -> CoverageError | None:
        """One whole-cloud entry when no call was answered and every one failed for want of a connection,
        of accepted credentials or of permission: Google Cloud could not be read at all."""
        blocking = (failures.UNREACHABLE, failures.CREDENTIALS, failures.DENIED)
        if self.answered or not self.errors or not all(k in blocking for k in self._kinds):
            return None
        first = self.errors[0]
        reason = (
            f"nothing could be read: {first.reason} ({len(self.errors)} calls, none answered; first: {first.location})"
        )
        return CoverageError("gcp", "Google Cloud APIs", reason, None, whole=True)


_REASONS = {
    failures.UNREACHABLE: "unreachable: ",
    failures.CREDENTIALS: "credentials refused: ",
    failures.DENIED: "permission denied: ",
    failures.OTHER: "",
}


def policy_request(resource: str) -> Any:
    """A getIamPolicy request for `resource`, as every Resource Manager and IAM client takes it."""
    from google.iam.v1 import iam_policy_pb2, options_pb2

    # Version 3 so conditional bindings come back with their conditions (as gcloud asks).
    return iam_policy_pb2.GetIamPolicyRequest(
        resource=resource, options=options_pb2.GetPolicyOptions(requested_policy_version=3)
    )


def tick(job: Callable[[], None], task: Task) -> Callable[[], None]:
    """`job`, then one step of `task` (also when it fails): for the pools, which run jobs blind."""

    def run() -> None:
        try:
            job()
        finally:
            task.advance()

    return run


def raise_bugs(futures: list[Future[None]]) -> None:
    """API failures are coverage (caught in Caller); anything else is a bug and must not pass silently."""
    for f in futures:
        f.result()
