"""The usage APIs moto lacks, answered by the front server (`FrontServer.usage`) as AWS answers them:

- IAM (query protocol, XML): `GenerateServiceLastAccessedDetails` starts a job; `GetServiceLastAccessedDetails`
  answers IN_PROGRESS for the first `polls_before_done` polls of a job, then its report, paged by `MaxItems` /
  `Marker` (at most `page` services a page); a role in `stuck` never completes, one in `failed` fails;
- IAM Access Analyzer (rest-json): `GET /analyzer` (ListAnalyzers), `POST /findingv2` (ListFindingsV2, with the
  `eq` filters kubeiam sends, paged), `GET /findingv2/{id}` (GetFindingV2, its `findingDetails` paged one a page).

Shapes follow the API references (GetServiceLastAccessedDetails, ListFindingsV2, GetFindingV2) and the corpus
samples of fixtures/aws/usage.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
SERVED = {
    "iam:GenerateServiceLastAccessedDetails",
    "iam:GetServiceLastAccessedDetails",
    "access-analyzer:ListAnalyzers",
    "access-analyzer:ListFindingsV2",
    "access-analyzer:GetFindingV2",
}
TAKEN = "2026-01-10T12:00:05Z"


@dataclass
class UsageApi:
    reports: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Role ARN -> its `ServicesLastAccessed` (a role not named gets an empty report)."""
    polls_before_done: int = 1
    stuck: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    page: int = 2
    """Services per GetServiceLastAccessedDetails page (AWS: `MaxItems`, 100 by default)."""
    analyzers: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    """GetFindingV2 outputs (with `findingDetails`)."""
    finding_page: int = 2
    jobs: dict[str, str] = field(default_factory=dict)
    """Job id -> role ARN."""
    polls: Counter[str] = field(default_factory=Counter)
    filters: list[dict[str, Any]] = field(default_factory=list)
    """The ListFindingsV2 filters asked for."""
    latency: float = 0.0
    """Seconds each answer takes (to see how many requests are in flight at once)."""
    most_at_once: int = 0
    """The most requests this API had in flight at the same time."""
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def serves(self, operation: str) -> bool:
        return operation in SERVED

    def answer(self, service: str, operation: str, path: str, body: bytes) -> tuple[int, str, Any]:
        with self._lock:
            self._in_flight += 1
            self.most_at_once = max(self.most_at_once, self._in_flight)
        try:
            time.sleep(self.latency)
            return self._answer(service, operation, path, body)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(self, service: str, operation: str, path: str, body: bytes) -> tuple[int, str, Any]:
        if service == "iam":
            params = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            return getattr(self, f"_{operation}")(params)
        url = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        request = json.loads(body or b"{}")
        return getattr(self, f"_{operation}")(unquote(url.path), query, request)

    # -- IAM -------------------------------------------------------------------------------------

    def _GenerateServiceLastAccessedDetails(self, params: dict[str, str]) -> tuple[int, str, str]:
        job = f"{len(self.jobs):08x}-7b4c-4e0a-8c13-03b72c8cdfdc"  # a JobId is 36 characters
        self.jobs[job] = params["Arn"]
        assert params.get("Granularity") == "ACTION_LEVEL", params
        return 200, "xml", _iam_response("GenerateServiceLastAccessedDetails", {"JobId": job})

    def _GetServiceLastAccessedDetails(self, params: dict[str, str]) -> tuple[int, str, str]:
        job = params["JobId"]
        role = self.jobs.get(job)
        if role is None:
            return 404, "xml", _iam_error("NoSuchEntity", f"no job {job}")
        self.polls[job] += 1
        head: dict[str, Any] = {"JobType": "ACTION_LEVEL", "JobCreationDate": "2026-01-10T12:00:00Z"}
        if role in self.stuck or self.polls[job] <= self.polls_before_done:
            return 200, "xml", _iam_response("GetServiceLastAccessedDetails", {"JobStatus": "IN_PROGRESS", **head})
        if role in self.failed:
            failed = {"JobStatus": "FAILED", **head, "Error": {"Message": "internal", "Code": "ServiceFailure"}}
            return 200, "xml", _iam_response("GetServiceLastAccessedDetails", failed)
        services = self.reports.get(role, [])
        start = int(params.get("Marker") or 0)
        size = min(int(params.get("MaxItems") or 100), self.page)
        out: dict[str, Any] = {
            "JobStatus": "COMPLETED",
            **head,
            "ServicesLastAccessed": services[start : start + size],
            "JobCompletionDate": TAKEN,
            "IsTruncated": start + size < len(services),
        }
        if out["IsTruncated"]:
            out["Marker"] = str(start + size)
        return 200, "xml", _iam_response("GetServiceLastAccessedDetails", out)

    # -- IAM Access Analyzer ---------------------------------------------------------------------

    def _ListAnalyzers(self, path: str, query: dict[str, str], request: Any) -> tuple[int, str, Any]:
        found = [a for a in self.analyzers if query.get("type") in (None, a["type"])]
        return 200, "json", {"analyzers": found}

    def _ListFindingsV2(self, path: str, query: dict[str, str], request: dict[str, Any]) -> tuple[int, str, Any]:
        self.filters.append(request.get("filter") or {})
        if not any(a["arn"] == request.get("analyzerArn") for a in self.analyzers):
            return 404, "json", {"message": "Analyzer not found"}
        keys = ("analyzedAt", "createdAt", "updatedAt", "id", "resource", "resourceType", "resourceOwnerAccount",
                "status", "findingType", "error")  # fmt: skip
        found = [
            {k: f[k] for k in keys if k in f}
            for f in self.findings
            if all(f.get(k) in c.get("eq", [f.get(k)]) for k, c in (request.get("filter") or {}).items())
        ]
        start = int(request.get("nextToken") or 0)
        page: dict[str, Any] = {"findings": found[start : start + self.finding_page]}
        if start + self.finding_page < len(found):
            page["nextToken"] = str(start + self.finding_page)
        return 200, "json", page

    def _GetFindingV2(self, path: str, query: dict[str, str], request: Any) -> tuple[int, str, Any]:
        finding_id = path.rsplit("/", 1)[-1]
        found = next((f for f in self.findings if f["id"] == finding_id), None)
        if found is None:
            return 404, "json", {"message": "Finding not found"}
        details = found.get("findingDetails", [])
        start = int(query.get("nextToken") or 0)
        out = {**found, "findingDetails": details[start : start + 1]}
        if start + 1 < len(details):
            out["nextToken"] = str(start + 1)
        return 200, "json", out


def _xml(tag: str, value: Any) -> str:
    if isinstance(value, dict):
        inner = "".join(_xml(k, v) for k, v in value.items())
    elif isinstance(value, list):
        inner = "".join(_xml("member", v) for v in value)
    elif isinstance(value, bool):
        inner = "true" if value else "false"
    else:
        inner = escape(str(value))
    return f"<{tag}>{inner}</{tag}>"


def _iam_response(operation: str, result: dict[str, Any]) -> str:
    body = "".join(_xml(k, v) for k, v in result.items())
    return (
        f'<{operation}Response xmlns="{IAM_NS}"><{operation}Result>{body}</{operation}Result>'
        f"<ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>"
        f"</{operation}Response>"
    )


def _iam_error(code: str, message: str) -> str:
    return (
        f'<ErrorResponse xmlns="{IAM_NS}"><Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}'
        "</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    )


def service(namespace: str, last: str | None = None, actions: dict[str, str | None] | None = None) -> dict[str, Any]:
    """One `ServicesLastAccessed` entry as the API returns it."""
    out: dict[str, Any] = {"ServiceName": namespace, "ServiceNamespace": namespace, "TotalAuthenticatedEntities": 0}
    if last:
        out.update(LastAuthenticated=last, TotalAuthenticatedEntities=1)
    if actions is not None:
        out["TrackedActionsLastAccessed"] = [
            {"ActionName": a, **({"LastAccessedTime": t} if t else {})} for a, t in actions.items()
        ]
    return out


def analyzer(account: str, region: str, age: int = 90) -> dict[str, Any]:
    return {
        "arn": f"arn:aws:access-analyzer:{region}:{account}:analyzer/UnusedAccess",
        "name": "UnusedAccess",
        "type": "ACCOUNT_UNUSED_ACCESS",
        "createdAt": "2025-01-01T00:00:00Z",
        "status": "ACTIVE",
        "configuration": {"unusedAccess": {"unusedAccessAge": age}},
    }


def unused_permission(role: str, account: str, *details: dict[str, Any], finding_id: str = "f-1") -> dict[str, Any]:
    return {
        "analyzedAt": "2026-01-10T00:00:00Z",
        "createdAt": "2026-01-10T00:00:00Z",
        "updatedAt": "2026-01-10T00:00:00Z",
        "status": "ACTIVE",
        "resourceOwnerAccount": account,
        "id": finding_id,
        "resource": role,
        "resourceType": "AWS::IAM::Role",
        "findingType": "UnusedPermission",
        "findingDetails": list(details),
    }
