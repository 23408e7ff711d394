"""Live usage collection (AWS-024) at the wire: real boto3 against the front server's IAM job and Access Analyzer
routes (moto has neither). Only the roles in scope; the job polled politely, a job that stays IN_PROGRESS a
coverage entry after a bounded wait; throttling and AccessDenied coverage, never "unused"; bounded concurrency;
what is written is what the reader reads."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from aws_live_harness import LiveAws
from aws_live_usage import service, unused_permission
from kubeiam_aws.live.clients import CONCURRENCY

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers

RECENT = "2026-01-09T08:15:00Z"
IN_SCOPE = [
    "billing-worker",
    "ebs-csi-driver",
    "frontend-only",
    "legacy-aud-only",
    "orders-api",
    "payments-api",
    "reports-wildcard",
]
GENERATE, GET = "iam:GenerateServiceLastAccessedDetails", "iam:GetServiceLastAccessedDetails"
AFTER = datetime(2026, 2, 1, tzinfo=UTC)


def _aged(run) -> Evidence:
    """The collected directory with its roles made older than the window: moto creates them at the wall clock's
    now, while the jobs here report January 2026 (a role younger than the window is not judged)."""
    path = run.output / "aws" / "123456789012" / "iam.json"
    path.write_text(path.read_text().replace(f'"CreateDate": "{datetime.now(UTC):%Y}', '"CreateDate": "2020'))
    return Evidence(run.output)


def _usage_errors(run):
    return [e for e in run.errors if e.rules == ("AWS-024",)]


def _orders_report() -> list[dict]:
    """orders-api: s3 and sqs used, dynamodb not (its grants: orders-s3-read, AmazonSQSReadOnlyAccess, orders-table)."""
    return [
        service("s3", RECENT, {"GetObject": RECENT, "ListBucket": None}),
        service("sqs", RECENT),
        service("dynamodb"),
    ]


def test_usage_of_every_role_in_scope_is_collected_and_read_back(live_aws: LiveAws):
    arn = live_aws.estate.role_arn
    live_aws.front.usage.reports = {arn("orders-api"): _orders_report()}
    live_aws.front.usage.polls_before_done = 2
    run = live_aws.collect(aws_usage=True)
    written = run.load(f"aws/{live_aws.estate.account}/service-last-accessed.json")
    assert sorted(written) == [arn(n) for n in IN_SCOPE]  # no node role, nobody else's
    orders = written[arn("orders-api")]
    # Two pages of two services at most (the API's Marker), merged as one output.
    assert [s["ServiceNamespace"] for s in orders["ServicesLastAccessed"]] == ["s3", "sqs", "dynamodb"]
    assert orders["JobStatus"] == "COMPLETED" and orders["IsTruncated"] is False and "Marker" not in orders
    assert run.calls[GENERATE] == len(IN_SCOPE)
    # Each job asked three times (IN_PROGRESS twice), and orders-api's second page.
    assert run.calls[GET] == 3 * len(IN_SCOPE) + 1
    assert _usage_errors(run) == []
    report = audit(_aged(run), providers=load_providers(), now=AFTER)
    (finding,) = [f for f in report.findings if f.rule_id == "AWS-024" and f.principal == arn("orders-api")]
    assert "1 unused service(s): dynamodb" in finding.evidence["right_sized"]["drops"]
    assert not [e for e in report.coverage["errors"] if e.get("rules") == ["AWS-024"]]


def test_a_check_collects_only_its_role(live_aws: LiveAws):
    run = live_aws.collect(service_account=("orders", "api"), aws_usage=True)
    assert set(live_aws.front.usage.jobs.values()) == {live_aws.estate.role_arn("orders-api")}
    assert run.calls[GENERATE] == 1 and run.calls[GET] == 1
    assert run.calls["accessanalyzer:ListAnalyzers"] == 1
    (criteria,) = live_aws.front.usage.filters
    assert criteria["resource"] == {"eq": [live_aws.estate.role_arn("orders-api")]}


def test_a_job_that_stays_in_progress_is_a_coverage_entry_after_a_bounded_wait(live_aws: LiveAws, monkeypatch):
    monkeypatch.setenv("KUBEIAM_AWS_USAGE_WAIT", "0.5")
    monkeypatch.setenv("KUBEIAM_AWS_USAGE_POLL", "0.05")
    stuck = live_aws.estate.role_arn("orders-api")
    live_aws.front.usage.stuck = {stuck}
    start = time.monotonic()
    run = live_aws.collect(aws_usage=True)
    assert time.monotonic() - start < 30  # bounded, whatever the job does
    (entry,) = _usage_errors(run)
    assert (entry.subject, entry.location) == (stuck, f"{GET} {stuck}")
    assert entry.reason == "the job is still IN_PROGRESS after 0.5 s: usage not read"
    polls = [n for job, n in live_aws.front.usage.polls.items() if live_aws.front.usage.jobs[job] == stuck]
    assert polls and polls[0] <= 5  # doubling waits: 0.05, 0.1, 0.2, then the deadline
    written = run.load(f"aws/{live_aws.estate.account}/service-last-accessed.json")
    assert stuck not in written and len(written) == len(IN_SCOPE) - 1
    # Audited: no finding for it, and the one coverage entry (the reader does not add "no usage data").
    report = audit(Evidence(run.output), providers=load_providers(), now=AFTER)
    assert [f for f in report.findings if f.rule_id == "AWS-024" and f.principal == stuck] == []
    named = [e for e in report.coverage["errors"] if e["subject"] == stuck and e.get("rules") == ["AWS-024"]]
    assert [e["reason"] for e in named] == [entry.reason]


def test_throttling_past_the_retries_is_coverage_per_role(live_aws: LiveAws, monkeypatch):
    monkeypatch.setenv("KUBEIAM_AWS_MAX_ATTEMPTS", "2")
    with live_aws.front.faults(throttle={GENERATE}):
        run = live_aws.collect(aws_usage=True)
    entries = _usage_errors(run)
    assert sorted(e.subject for e in entries if e.location.startswith(GENERATE)) == [
        live_aws.estate.role_arn(n) for n in IN_SCOPE
    ]
    assert {e.reason for e in entries if e.location.startswith(GENERATE)} == {
        f"throttled until retries ran out (Throttling, {GENERATE}): usage not read"
    }
    assert GET not in run.calls and not any(e.whole for e in run.errors)


@pytest.mark.parametrize("denied", [GENERATE, GET, "access-analyzer:ListAnalyzers"])
def test_access_denied_is_coverage_naming_the_permission(live_aws: LiveAws, denied):
    with live_aws.front.faults(deny={denied}):
        run = live_aws.collect(service_account=("orders", "api"), aws_usage=True)
    (entry,) = _usage_errors(run)
    assert entry.subject == live_aws.estate.role_arn("orders-api")
    assert entry.reason.startswith(f"AccessDenied ({denied}): ") or entry.reason.startswith(
        f"AccessDeniedException ({denied}): "
    )


def test_unused_access_findings_are_collected_with_their_details(live_aws: LiveAws):
    arn = live_aws.estate.role_arn
    details = [
        {"unusedPermissionDetails": {"serviceNamespace": "dynamodb"}},
        {
            "unusedPermissionDetails": {
                "serviceNamespace": "s3",
                "lastAccessed": RECENT,
                "actions": [{"action": "PutObject"}],
            }
        },
    ]
    live_aws.front.usage.failed = {arn("orders-api")}  # its job gives nothing: the analyzer decides
    live_aws.front.usage.findings = [
        unused_permission(arn("orders-api"), live_aws.estate.account, *details),
        unused_permission(arn("unused-batch"), live_aws.estate.account, details[0], finding_id="f-2"),  # not in scope
    ]
    run = live_aws.collect(aws_usage=True)
    (failed,) = _usage_errors(run)
    assert failed.reason == "the job is FAILED (ServiceFailure): usage not read"
    written = run.load(f"aws/{live_aws.estate.account}/{live_aws.estate.region}/access-analyzer-unused.json")
    assert written["analyzer"]["configuration"]["unusedAccess"]["unusedAccessAge"] == 90
    (finding,) = written["findings"]
    assert finding["resource"] == arn("orders-api")
    got = [d["unusedPermissionDetails"] for d in finding["findingDetails"]]  # both detail pages
    assert [(d["serviceNamespace"], d.get("actions")) for d in got] == [
        ("dynamodb", None),
        ("s3", [{"action": "PutObject"}]),
    ]
    assert run.calls["accessanalyzer:GetFindingV2"] == 2  # one finding, its details on two pages
    report = audit(_aged(run), providers=load_providers(), now=AFTER)
    (found,) = [f for f in report.findings if f.rule_id == "AWS-024" and f.principal == arn("orders-api")]
    assert "IAM Access Analyzer" in found.evidence["usage"]["source"]
    assert any("dynamodb" in d for d in found.evidence["right_sized"]["drops"]), found.evidence


def test_no_analyzer_costs_one_call_a_region(live_aws: LiveAws):
    live_aws.front.usage.analyzers = []
    run = live_aws.collect(service_account=("orders", "api"), aws_usage=True)
    assert run.calls["accessanalyzer:ListAnalyzers"] == 1 and "accessanalyzer:ListFindingsV2" not in run.calls
    assert _usage_errors(run) == []


def test_concurrency_is_bounded_by_the_iam_pool(live_aws: LiveAws):
    live_aws.front.usage.latency = 0.05
    live_aws.collect(aws_usage=True)
    assert 1 < live_aws.front.usage.most_at_once <= CONCURRENCY["iam"]


def test_the_polls_wait_longer_each_time_within_the_bound(live_aws: LiveAws, monkeypatch):
    """The schedule itself, with a clock that only moves when we sleep."""
    from kubeiam_aws.live import usage
    from kubeiam_aws.live.clients import CallCounter, Clients

    monkeypatch.setenv("KUBEIAM_AWS_USAGE_WAIT", "60")
    monkeypatch.delenv("KUBEIAM_AWS_USAGE_POLL")
    stuck = live_aws.estate.role_arn("orders-api")
    live_aws.front.usage.stuck = {stuck}
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    clients = Clients(profile=None, region=live_aws.estate.region, counter=CallCounter())
    try:
        iam = clients.client("iam", live_aws.estate.region)
        found = usage.collect_usage(
            clients, live_aws.estate.account, None, iam, [stuck], [], sleep=sleep, clock=lambda: now[0]
        )
    finally:
        clients.close()
    assert slept == [2.0, 4.0, 8.0, 15.0, 15.0, 15.0, 1.0]  # doubling from 2 s, at most 15 s, up to 60 s in all
    assert clients.counter.calls[GET] == len(slept)  # one poll after each wait: 7 calls in a minute
    (entry,) = found.errors
    assert entry.reason == "the job is still IN_PROGRESS after 60 s: usage not read"
