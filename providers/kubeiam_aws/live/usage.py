"""Live usage collection for AWS-024: service and action last accessed of the roles in scope, and IAM Access
Analyzer unused-access findings for those whose job gave nothing (docs/aws-live.md, "Usage data").

Per role: `iam:GenerateServiceLastAccessedDetails --granularity ACTION_LEVEL` (it starts a report job: it reads,
it changes nothing in the account), then `iam:GetServiceLastAccessedDetails` polled politely (a first wait of a
few seconds, doubling up to 15 s, within a bounded total) and paged by `Marker`. A job still IN_PROGRESS when
the wait ends, a FAILED job, throttling past the retries, AccessDenied: a coverage entry on the role (AWS-024),
never "unused". Only for the roles the in-scope ServiceAccounts take; bounded by the IAM client's pool.

Then `access-analyzer:ListAnalyzers` in the scope's regions and, where an ACTIVE unused-access analyzer exists,
`ListFindingsV2` (filtered to the same roles) and `GetFindingV2` for each finding: what the reader judges a role by
when its job gave nothing (one ListAnalyzers a region when there is no analyzer). Written as
`aws/<account>/service-last-accessed.json` and `aws/<account>/<region>/access-analyzer-unused.json`, exactly what
the reader reads (docs/evidence.md).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kubeiam.vocabulary.model import CoverageError
from kubeiam_aws.live.clients import AwsCallFailed, Clients, call, pages

RULES = ("AWS-024",)
LAST_ACCESSED = "service-last-accessed.json"
ANALYZER = "access-analyzer-unused.json"
WAIT_ENV = "KUBEIAM_AWS_USAGE_WAIT"
"""Seconds a report job may take before it is a coverage entry (default `WAIT`)."""
POLL_ENV = "KUBEIAM_AWS_USAGE_POLL"
"""Seconds before the first poll (default `FIRST_POLL`); each later wait doubles, up to `MAX_POLL`."""
WAIT = 120.0
FIRST_POLL = 2.0
MAX_POLL = 15.0
# Why 1000: GetServiceLastAccessedDetails returns 100 services a page unless asked for more, and a role
# granted `*` has over 400; 1000 is the API's maximum, so one page holds any role's services.
MAX_ITEMS = 1000
UNUSED_ANALYZERS = ("ACCOUNT_UNUSED_ACCESS", "ORGANIZATION_UNUSED_ACCESS")
UNUSED_FINDINGS = ["UnusedIAMRole", "UnusedPermission"]
FILTER_BATCH = 20
"""ARNs one `eq` criterion of ListFindingsV2 takes; more roles than 5 batches are listed unfiltered instead."""


@dataclass
class UsageResult:
    last_accessed: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Role ARN -> its completed get-service-last-accessed-details output (pages merged)."""
    analyzer: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Region -> {"analyzer": ..., "findings": [get-finding-v2 outputs]}."""
    errors: list[CoverageError] = field(default_factory=list)


@dataclass
class _Job:
    role: str
    job_id: str
    pages: list[dict[str, Any]] = field(default_factory=list)
    status: str = "IN_PROGRESS"
    failure: AwsCallFailed | None = None


def collect_usage(
    clients: Clients,
    account: str,
    profile: str | None,
    iam: Any,
    roles: Iterable[str],
    regions: Iterable[str],
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> UsageResult:
    out = UsageResult()
    roles = sorted(roles)
    if not roles:
        return out
    jobs = _generate(clients, iam, roles, out)
    _poll(clients, iam, jobs, out, sleep, clock)
    _analyzer(clients, account, profile, roles, regions, out)
    return out


def _note(out: UsageResult, location: str, reason: str, role: str) -> None:
    out.errors.append(CoverageError("aws", location, reason, subject=role, rules=RULES))


def _generate(clients: Clients, iam: Any, roles: list[str], out: UsageResult) -> list[_Job]:
    def start(role: str) -> _Job | AwsCallFailed:
        try:
            found = call(
                iam,
                "generate_service_last_accessed_details",
                f"iam:GenerateServiceLastAccessedDetails {role}",
                Arn=role,
                Granularity="ACTION_LEVEL",
            )
        except AwsCallFailed as exc:
            return exc
        return _Job(role, found["JobId"])

    jobs = []
    for role, started in zip(roles, clients.map("iam", start, roles), strict=True):
        if isinstance(started, AwsCallFailed):
            _note(out, started.location, f"{started.reason}: usage not read", role)
        else:
            jobs.append(started)
    return jobs


def _poll(
    clients: Clients,
    iam: Any,
    jobs: list[_Job],
    out: UsageResult,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> None:
    """Ask each job's state after a wait that doubles, until every job is done or the bounded wait is spent."""
    wait = float(os.environ.get(WAIT_ENV) or WAIT)
    delay = float(os.environ.get(POLL_ENV) or FIRST_POLL)
    deadline = clock() + wait
    pending = list(jobs)
    while pending:
        sleep(max(0.0, min(delay, deadline - clock())))
        clients.map("iam", lambda job: _ask(iam, job), pending)
        for job in pending:
            if job.failure is not None:
                _note(out, job.failure.location, f"{job.failure.reason}: usage not read", job.role)
            elif job.status == "COMPLETED":
                out.last_accessed[job.role] = _merged(job.pages)
            elif job.status != "IN_PROGRESS":
                code = (job.pages[0].get("Error") or {}).get("Code") if job.pages else None
                why = f"the job is {job.status}{f' ({code})' if code else ''}: usage not read"
                _note(out, f"iam:GetServiceLastAccessedDetails {job.role}", why, job.role)
        pending = [j for j in pending if j.status == "IN_PROGRESS" and j.failure is None]
        if pending and clock() >= deadline:
            for job in pending:
                why = f"the job is still IN_PROGRESS after {wait:g} s: usage not read"
                _note(out, f"iam:GetServiceLastAccessedDetails {job.role}", why, job.role)
            return
        delay = min(delay * 2, MAX_POLL)


def _ask(iam: Any, job: _Job) -> None:
    location = f"iam:GetServiceLastAccessedDetails {job.role}"
    try:
        page = call(iam, "get_service_last_accessed_details", location, JobId=job.job_id, MaxItems=MAX_ITEMS)
        job.status = str(page.get("JobStatus") or "")
        job.pages = [page]
        while job.status == "COMPLETED" and page.get("IsTruncated") and page.get("Marker"):
            page = call(
                iam,
                "get_service_last_accessed_details",
                location,
                JobId=job.job_id,
                MaxItems=MAX_ITEMS,
                Marker=page["Marker"],
            )
            job.pages.append(page)
    except AwsCallFailed as exc:
        job.failure = exc


def _merged(found: list[dict[str, Any]]) -> dict[str, Any]:
    """One output with every page's services, as `--max-items` large enough would print it."""
    first = dict(found[0])
    first["ServicesLastAccessed"] = [s for p in found for s in p.get("ServicesLastAccessed", [])]
    first["IsTruncated"] = False
    first.pop("Marker", None)
    return first


# -- IAM Access Analyzer, for the roles without a report ---------------------------------------------


def _analyzer(
    clients: Clients, account: str, profile: str | None, roles: list[str], regions: Iterable[str], out: UsageResult
) -> None:
    for region in sorted(set(regions)):
        client = clients.client("accessanalyzer", region, profile)
        try:
            found_pages = pages(client, "list_analyzers", f"access-analyzer:ListAnalyzers {region}")
            listed = [a for p in found_pages for a in p.get("analyzers", [])]
        except AwsCallFailed as exc:
            for role in roles:
                _note(out, exc.location, f"{exc.reason}: unused-access findings not read", role)
            continue
        found = next((a for a in listed if a.get("type") in UNUSED_ANALYZERS and a.get("status") == "ACTIVE"), None)
        if found is None:
            continue
        try:
            findings = _findings(clients, client, found["arn"], roles, out)
        except AwsCallFailed as exc:
            for role in roles:
                _note(out, exc.location, f"{exc.reason}: unused-access findings not read", role)
            return
        out.analyzer[region] = {"analyzer": found, "findings": findings}
        return  # one analyzer of the account's is enough: each covers every role of it


def _findings(
    clients: Clients, client: Any, analyzer: str, roles: list[str], result: UsageResult
) -> list[dict[str, Any]]:
    wanted = set(roles)
    base: dict[str, Any] = {"findingType": {"eq": UNUSED_FINDINGS}, "resourceType": {"eq": ["AWS::IAM::Role"]}}
    batches = [roles[i : i + FILTER_BATCH] for i in range(0, len(roles), FILTER_BATCH)]
    filters = [{**base, "resource": {"eq": b}} for b in batches] if len(batches) <= 5 else [base]
    summaries = []
    for criteria in filters:
        location = f"access-analyzer:ListFindings {analyzer}"  # the permission ListFindingsV2 needs
        for page in pages(client, "list_findings_v2", location, analyzerArn=analyzer, filter=criteria):
            summaries += [f for f in page.get("findings", []) if f.get("resource") in wanted]

    def details(summary: dict[str, Any]) -> dict[str, Any] | AwsCallFailed:
        location = f"access-analyzer:GetFinding {summary.get('resource')}"  # the permission GetFindingV2 needs
        try:
            parts = list(pages(client, "get_finding_v2", location, analyzerArn=analyzer, id=summary["id"]))
        except AwsCallFailed as exc:
            return exc
        merged = dict(parts[0])
        merged["findingDetails"] = [d for p in parts for d in p.get("findingDetails", [])]
        merged.pop("nextToken", None)
        return merged

    out = []
    for summary, got in zip(summaries, clients.map("accessanalyzer", details, summaries), strict=True):
        if isinstance(got, AwsCallFailed):
            # Kept as listed: which of that role's permissions are unused stays unknown (the reader keeps them).
            _note(result, got.location, f"{got.reason}: the finding's details not read", str(summary["resource"]))
            out.append(summary)
        else:
            out.append(got)
    return out
