"""Live usage collection for unused access (AZ-012), for the identities in scope only:

- the Activity Log of each identity's principal, 90 days, in each subscription of the plan where it holds a
  role (`MonitorManagementClient.activity_logs.list`, `$filter=... and caller eq '<object id>'`, paged);
- its managed-identity sign-ins from Microsoft Graph, newest page only, where readable (an azure-core
  pipeline with the same credential: the Graph SDK's beta package is for preview use only, and one GET
  needs no more).

Written as `azure/<subscription>/activity-log.json` and `managed-identity-sign-ins.json`, objects by
principal object id of exactly what the API returned. Each subscription (and Graph) is probed with one call
first: a refusal (401/403) there is one coverage error, not one per identity. Failures are coverage with
rule AZ-012; the reader then names every identity left unjudged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError, ODataV4Format

from kubeiam.vocabulary.model import CoverageError
from kubeiam_azure.live.clients import JSON, Calls, Clients, Settings, coverage, to_rest

ACTIVITY_DAYS = 90
"""What the Activity Log keeps."""
SIGN_IN_PAGE = 50
"""Sign-ins read per identity: the newest page (when it last got a token, and for which APIs)."""
UNUSED_RULES = ("AZ-012",)
_SUBSCRIPTION = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)

Write = Callable[[str, str, Any], None]
"""(subscription, file name, value): writes `azure/<subscription>/<file name>`."""
Outcome = tuple[str, str, Any, bool]
"""(subscription or "graph", principal object id, result or None, refused: a 401/403)."""


def collect_usage(
    calls: Calls,
    clients: Mapping[str, Clients],
    settings: Settings,
    credential: TokenCredential,
    write: Write,
    identities: Sequence[JSON],
    assignments: Mapping[str, Sequence[JSON]],
    now: datetime | None = None,
) -> None:
    """`identities`: the user-assigned identities the ServiceAccounts in scope name (REST JSON);
    `assignments`: the role assignments written, by subscription."""
    end = now or datetime.now(UTC)
    start = end - timedelta(days=ACTIVITY_DAYS)
    who = {_oid(i): str(i["id"]).lower() for i in identities if _oid(i)}
    where: dict[str, list[str]] = {}
    for items in assignments.values():
        for ra in items:
            props = ra.get("properties") or {}
            oid = str(props.get("principalId") or "").lower()
            sub = _subscription(str(props.get("scope") or ""))
            if oid in who and sub is not None and sub in clients and oid not in where.setdefault(sub, []):
                where[sub].append(oid)
    fetch = partial(_activity, calls, clients, start, end, who)
    found = _probed(
        calls, "azure: activity log", {sub: [partial(fetch, sub, oid) for oid in oids] for sub, oids in where.items()}
    )
    for sub, by_principal in found.items():
        write(sub, "activity-log.json", dict(sorted(by_principal.items())))
    graph = settings.graph
    if graph is None or not who:
        return
    client = _graph_client(graph, credential, settings)
    read = partial(_sign_ins, calls, client, graph)
    pages = _probed(
        calls, "azure: managed-identity sign-ins", {"graph": [partial(read, oid, who[oid]) for oid in sorted(who)]}
    )
    by_sub: dict[str, dict[str, Any]] = {}
    for oid, page in pages.get("graph", {}).items():
        by_sub.setdefault(str(_subscription(who[oid])), {})[oid] = page
    for sub, found_pages in by_sub.items():
        write(sub, "managed-identity-sign-ins.json", dict(sorted(found_pages.items())))


def _probed(calls: Calls, what: str, jobs: Mapping[str, list[Callable[[], Outcome]]]) -> dict[str, dict[str, Any]]:
    """Run one job per key first, the rest only where the first was not refused: results by key, principal."""
    firsts = [js[0] for js in jobs.values() if js]
    out: dict[str, dict[str, Any]] = {}
    refused: set[str] = set()
    for key, oid, result, denied in calls.parallel(f"{what} (first call)", firsts):
        if denied:
            refused.add(key)
        elif result is not None:
            out.setdefault(key, {})[oid] = result
    rest = [j for key, js in jobs.items() if key not in refused for j in js[1:]]
    for key, oid, result, _ in calls.parallel(what, rest):
        if result is not None:
            out.setdefault(key, {})[oid] = result
    return out


def _run(
    calls: Calls, fn: Callable[[], Any], location: str, subject: str | None, refusal: CoverageError
) -> tuple[Any, bool]:
    """(result or None, refused): a failure is coverage of AZ-012; a refusal (401/403) is `refusal`, which
    says it for everything the call stands for."""
    try:
        result = fn()
    except (AzureError, ValueError, KeyError, TypeError) as exc:  # the last three: a malformed response
        refused = isinstance(exc, HttpResponseError) and exc.status_code in (401, 403)
        error = coverage(exc, location=location, subject=subject)
        calls.failed(
            replace(refusal, reason=f"{error.reason}: {refusal.reason}")
            if refused
            else replace(error, rules=UNUSED_RULES)
        )
        return None, refused
    calls.done()
    return result, False


def _activity(
    calls: Calls,
    clients: Mapping[str, Clients],
    start: datetime,
    end: datetime,
    who: Mapping[str, str],
    sub: str,
    oid: str,
) -> Outcome:
    query = f"eventTimestamp ge '{_rfc3339(start)}' and eventTimestamp le '{_rfc3339(end)}' and caller eq '{oid}'"
    monitor = clients[sub].monitor
    path = f"GET /subscriptions/{sub}/providers/Microsoft.Insights/eventtypes/management/values"
    # A refusal is the subscription's, not the identity's: the reader then names every identity of it.
    refusal = CoverageError(
        "azure",
        f"azure/{sub}/activity-log.json ({path})",
        "the Activity Log of the subscription could not be read (Microsoft.Insights/eventtypes/values/read)",
        subject=sub,
        rules=UNUSED_RULES,
    )
    result, refused = _run(
        calls,
        lambda: [to_rest(e) for e in monitor.activity_logs.list(filter=query)],
        f"azure/{sub}/activity-log.json ({path}?$filter={query})",
        who[oid],
        refusal,
    )
    return sub, oid, result, refused


def _graph_client(graph: str, credential: TokenCredential, settings: Settings) -> Any:
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import (
        BearerTokenCredentialPolicy,
        ContentDecodePolicy,
        HeadersPolicy,
        RedirectPolicy,
        RetryPolicy,
        UserAgentPolicy,
    )
    from azure.core.pipeline.transport import RequestsTransport

    transport = RequestsTransport(connection_verify=settings.ca_bundle) if settings.ca_bundle else RequestsTransport()
    policies = [
        HeadersPolicy(),
        UserAgentPolicy(sdk_moniker="kubeiam"),
        ContentDecodePolicy(),
        RedirectPolicy(),
        # 429 and 5xx retried, waiting what Retry-After says (Graph throttles audit-log reads).
        RetryPolicy(),
        BearerTokenCredentialPolicy(credential, f"{graph}/.default"),
    ]
    return PipelineClient(base_url=graph, policies=policies, transport=transport)


def _sign_ins(calls: Calls, client: Any, graph: str, oid: str, identity: str) -> Outcome:
    from azure.core.rest import HttpRequest

    params = {
        "$filter": f"signInEventTypes/any(t: t eq 'managedIdentity') and servicePrincipalId eq '{oid}'",
        "$orderby": "createdDateTime desc",
        "$top": str(SIGN_IN_PAGE),
    }

    def get() -> Any:
        response = client.send_request(HttpRequest("GET", f"{graph}/beta/auditLogs/signIns", params=params))
        if response.status_code != 200:
            raise HttpResponseError(response=response, error_format=ODataV4Format)
        page = response.json()
        if not isinstance(page, dict) or not isinstance(page.get("value"), list):
            raise ValueError("the sign-in answer is not a Microsoft Graph page")
        return page

    # Not readable at all (AuditLog.Read.All not granted, or no Entra ID P1/P2): said once, for every identity.
    refusal = CoverageError(
        "azure",
        f"managed-identity-sign-ins.json (GET {graph}/beta/auditLogs/signIns)",
        "managed-identity sign-ins could not be read (AuditLog.Read.All and Microsoft Entra ID P1 or P2 are "
        "needed): when each identity last got a token is not known",
        rules=UNUSED_RULES,
    )
    result, refused = _run(
        calls,
        get,
        f"managed-identity-sign-ins.json (GET {graph}/beta/auditLogs/signIns?$filter=...servicePrincipalId eq '{oid}')",
        identity,
        refusal,
    )
    return "graph", oid, result, refused


def _oid(identity: JSON) -> str:
    return str((identity.get("properties") or {}).get("principalId") or "").lower()


def _subscription(scope: str) -> str | None:
    m = _SUBSCRIPTION.match(scope)
    return m[1].lower() if m else None


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
