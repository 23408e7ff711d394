"""boto3 sessions and clients for live collection: one client per (account, service, region), counted.

Why one shared client per service and region: botocore clients are thread-safe, and the adaptive
retry mode keeps its client-side rate limiter inside the client object, so one client per service
is what makes the limiter see every call we make to that service.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from kubeiam.errors import InputError
from kubeiam_aws.live.failures import AwsCallFailed, from_botocore_error, from_client_error

__all__ = ["CONCURRENCY", "AwsCallFailed", "CallCounter", "Clients", "call", "pages"]

T = TypeVar("T")
R = TypeVar("R")

# Why these limits: IAM's rate limits are low, unpublished and shared with the production workloads
# of the account being audited; a handful of parallel requests already hides most of the latency,
# and the adaptive limiter slows us further as soon as AWS starts throttling. STS: only `--aws-org`
# runs calls side by side (AssumeRole, once per account the audit needs, its answer kept for the run);
# they count against the auditor's own account, whose workloads share STS's rate, and 3 in flight
# already assume a role in a hundred accounts in seconds.
CONCURRENCY = {"iam": 4, "ec2": 4, "eks": 4, "sts": 3, "accessanalyzer": 2}
MAX_ATTEMPTS = 8
"""Attempts per call, the first included (`KUBEIAM_AWS_MAX_ATTEMPTS` overrides)."""

ROLE_SESSION_NAME = "kubeiam"
"""The RoleSessionName of every role kubeiam assumes: CloudTrail in the member account names the auditor."""

ENDPOINT_ENV = "KUBEIAM_AWS_ENDPOINT_URL"
"""Send every AWS call to this URL (tests, benchmarks, VPC endpoints); `KUBEIAM_AWS_ENDPOINT_URL_<SERVICE>`
overrides it for one service. botocore's own `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` work too."""


class CallCounter:
    """API calls per `service:Operation` (logical calls; `attempts` also counts retries)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.attempts: Counter[str] = Counter()

    def _on_call(self, event_name: str = "", **_: Any) -> None:
        self._add(self.calls, event_name)

    def _on_send(self, event_name: str = "", **_: Any) -> None:
        self._add(self.attempts, event_name)

    def _add(self, counter: Counter[str], event_name: str) -> None:
        # event names look like "before-call.iam.GetRole"
        parts = event_name.split(".")
        key = f"{parts[1]}:{parts[2]}" if len(parts) >= 3 else event_name
        with self._lock:
            counter[key] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.calls.items()))


@dataclass
class Clients:
    """Sessions (one per profile) and their clients, created once and shared by worker threads."""

    profile: str | None
    region: str | None
    counter: CallCounter
    account_profiles: dict[str, str] = field(default_factory=dict)
    """account id -> profile for roles in other accounts (`--aws-account-profile ACCOUNT=PROFILE`)."""
    _assumed: dict[str, Any] = field(default_factory=dict)
    """credential key -> the session of a role assumed in another account (`--aws-org`, `assume_role`)."""
    _sessions: dict[str | None, Any] = field(default_factory=dict)
    _clients: dict[tuple[str | None, str, str | None], Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pools: dict[str, ThreadPoolExecutor] = field(default_factory=dict)
    answered: int = 0
    """Calls AWS answered (data read, or a real "no such thing"): 0 with failures means AWS was not read."""
    first_failure: AwsCallFailed | None = None
    _broken: dict[tuple[str | None, ...], AwsCallFailed] = field(default_factory=dict)
    """What stops every later call: refused credentials (per profile), an unreachable endpoint (per client)."""

    def session(self, profile: str | None = None) -> Any:
        import boto3

        with self._lock:
            if profile in self._assumed:
                return self._assumed[profile]
            if profile not in self._sessions:
                self._sessions[profile] = boto3.Session(profile_name=profile, region_name=self.region)
            return self._sessions[profile]

    def assume_role(self, role_arn: str, external_id: str | None = None) -> str:
        """Assume `role_arn` with the home credentials now (one sts:AssumeRole, AwsCallFailed if refused);
        return the credential key to pass as `profile` for that account's clients.

        Why botocore's own fetcher: it is what a profile with `role_arn` uses, so the credentials refresh
        themselves before they expire (a long audit outlives one hour's session) and are cached meanwhile.
        Its STS client is ours: one shared, counted client whose credentials are the home session's (the
        fetcher's frozen copy of them is not needed), with the endpoint settings of every other client.
        """
        import boto3
        import botocore.session
        from botocore.credentials import (
            AssumeRoleCredentialFetcher,
            CredentialProvider,
            CredentialResolver,
            DeferredRefreshableCredentials,
        )

        location = f"sts:AssumeRole {role_arn}"
        key = f"assume-role {role_arn}"
        home = self.session(self.profile)
        source = home.get_credentials()
        if source is None:
            raise AwsCallFailed(location, "NoCredentialsError", "Unable to locate credentials")
        sts = self.client("sts", self.default_region() or "us-east-1")
        extra = {"RoleSessionName": ROLE_SESSION_NAME, **({"ExternalId": external_id} if external_id else {})}
        fetcher = AssumeRoleCredentialFetcher(lambda *_, **__: sts, source, role_arn, extra_args=extra)
        # Now, not at the first IAM call: a refusal is then about the role, not about some GetRole.
        _guarded(location, fetcher.fetch_credentials)
        credentials = DeferredRefreshableCredentials(fetcher.fetch_credentials, "assume-role")

        class Assumed(CredentialProvider):
            METHOD = "assume-role"

            def load(self) -> Any:
                return credentials

        core = botocore.session.Session(profile=self.profile)  # the home profile's settings, not its keys
        core.register_component("credential_provider", CredentialResolver([Assumed()]))
        session = boto3.Session(botocore_session=core, region_name=self.region or home.region_name)
        with self._lock:
            self._assumed[key] = session
        return key

    def default_region(self) -> str | None:
        region: str | None = self.session(self.profile).region_name
        return region

    def client(self, service: str, region: str | None = None, profile: str | None = None) -> Any:
        """The shared client for `service` in `region`, under `profile` (default: `--aws-profile`)."""
        profile = profile or self.profile
        key = (profile, service, region)
        session = self.session(profile)
        with self._lock:  # Session.client is not thread-safe; the clients it returns are
            if key not in self._clients:
                from botocore.config import Config

                # A user's own botocore settings are honoured; ours are only the defaults.
                mode = os.environ.get("KUBEIAM_AWS_RETRY_MODE") or os.environ.get("AWS_RETRY_MODE") or "adaptive"
                attempts = int(
                    os.environ.get("KUBEIAM_AWS_MAX_ATTEMPTS") or os.environ.get("AWS_MAX_ATTEMPTS") or MAX_ATTEMPTS
                )
                config = Config(
                    retries={"mode": mode, "total_max_attempts": attempts},
                    max_pool_connections=max(CONCURRENCY.get(service, 4), 10),
                    user_agent_extra="kubeiam",
                )
                kwargs: dict[str, Any] = {"config": config}
                if region:
                    kwargs["region_name"] = region
                endpoint = os.environ.get(f"{ENDPOINT_ENV}_{service.upper()}") or os.environ.get(ENDPOINT_ENV)
                if endpoint:
                    kwargs["endpoint_url"] = endpoint
                client = session.client(service, **kwargs)
                keys = (("credentials", profile), ("endpoint", profile, service, region))
                events = client.meta.events
                events.register("before-call", partial(self._stop_if_broken, keys))  # before it is counted
                events.register("before-call", self.counter._on_call)
                events.register("before-send", self.counter._on_send)
                events.register("after-call", partial(self._after_call, keys))
                events.register("after-call-error", partial(self._after_call_error, keys))
                self._clients[key] = client
            return self._clients[key]

    # Why stop later calls: when the credentials are refused or the endpoint cannot be reached, every
    # further call fails the same way, each after its retries (seconds each); one failure says it all.
    def _stop_if_broken(self, keys: tuple[tuple[str | None, ...], ...], **_: Any) -> None:
        for k in keys:
            failure = self._broken.get(k)
            if failure is not None:
                raise Stopped(failure)

    def _after_call(
        self, keys: tuple[tuple[str | None, ...], ...], event_name: str = "", http_response: Any = None, **kw: Any
    ) -> None:
        status = getattr(http_response, "status_code", 200)
        if status < 300:
            if not event_name.startswith("after-call.sts."):  # always allowed: proves nothing was read
                with self._lock:
                    self.answered += 1
            return
        err = (kw.get("parsed") or {}).get("Error") or {}
        self._note(keys, AwsCallFailed(_operation(event_name), str(err.get("Code") or ""), "", status))

    def _after_call_error(
        self, keys: tuple[tuple[str | None, ...], ...], event_name: str = "", exception: Any = None, **_: Any
    ) -> None:
        if exception is not None and not isinstance(exception, Stopped):
            self._note(keys, from_botocore_error(_operation(event_name), exception))

    def _note(self, keys: tuple[tuple[str | None, ...], ...], failure: AwsCallFailed) -> None:
        with self._lock:
            if failure.answered:
                self.answered += 1
                return
            self.first_failure = self.first_failure or failure
            if failure.fatal == "credentials":
                self._broken.setdefault(keys[0], failure)
            elif failure.fatal == "endpoint":
                self._broken.setdefault(keys[1], failure)

    def map(self, service: str, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """`fn` over `items` with the service's bounded concurrency, results in input order."""
        items = list(items)
        if len(items) <= 1:
            return [fn(i) for i in items]
        with self._lock:
            pool = self._pools.get(service)
            if pool is None:
                pool = ThreadPoolExecutor(CONCURRENCY.get(service, 4), thread_name_prefix=f"kubeiam-{service}")
                self._pools[service] = pool
        return list(pool.map(fn, items))

    def close(self) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=True)
        self._pools.clear()


def check_profiles(profile: str | None, account_profiles: dict[str, str]) -> None:
    """A profile that does not exist is a usage error (exit 2), said before any AWS call.

    Why not a coverage entry: a mistyped name is the command line's fault, not the cloud's; reporting it
    as "not checked" would let a typo pass a CI gate that does not use --strict.
    """
    import boto3
    from botocore.exceptions import ProfileNotFound

    named: list[tuple[str, str | None, str | None]] = [
        ("--aws-profile", profile, profile) if profile else ("AWS_PROFILE", os.environ.get("AWS_PROFILE"), None)
    ]
    named += [("--aws-account-profile", f"{a}={p}", p) for a, p in sorted(account_profiles.items())]
    for option, shown, name in named:
        try:
            boto3.Session(profile_name=name)
        except ProfileNotFound:
            import botocore.session

            available = ", ".join(sorted(botocore.session.Session(profile=None).available_profiles)) or "none"
            raise InputError(f"{option} {shown}: no such AWS profile (profiles available: {available})") from None


class Stopped(Exception):
    """Raised instead of a call whose credentials or endpoint already failed for good."""

    def __init__(self, failure: AwsCallFailed) -> None:
        super().__init__(failure.reason)
        self.failure = failure


def _operation(event_name: str) -> str:
    """`after-call.iam.GetRole` -> `iam:GetRole`."""
    parts = event_name.split(".")
    return f"{parts[1]}:{parts[2]}" if len(parts) >= 3 else event_name


def call(client: Any, operation: str, location: str, **params: Any) -> dict[str, Any]:
    """One API call; any failure becomes AwsCallFailed naming `location` (never a bare crash)."""
    response: dict[str, Any] = _guarded(location, partial(getattr(client, operation), **params))
    response.pop("ResponseMetadata", None)
    return response


def _guarded(location: str, fn: Callable[[], T]) -> T:
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    try:
        return fn()
    except Stopped as exc:
        raise exc.failure.at(location) from None
    except ClientError as exc:
        raise from_client_error(location, exc) from None
    # No credentials, endpoint unreachable, retries exhausted on errors; or an answer in no AWS protocol (botocore's
    # ResponseParserError is no BotoCoreError).
    except (BotoCoreError, ResponseParserError) as exc:
        raise from_botocore_error(location, exc) from None


def pages(client: Any, operation: str, location: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every page of a paginated call, each turned into AwsCallFailed on failure."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    paginator = client.get_paginator(operation)
    try:
        for page in paginator.paginate(**params):
            page.pop("ResponseMetadata", None)
            yield page
    except Stopped as exc:
        raise exc.failure.at(location) from None
    except ClientError as exc:
        raise from_client_error(location, exc) from None
    except (BotoCoreError, ResponseParserError) as exc:
        raise from_botocore_error(location, exc) from None
