"""The demo's AWS usage data (service-last-accessed.json) against what AWS-024 reports on it: every expectation is
derived from the evidence files, so a change to the data changes what is asserted, never hides it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from kubeiam.pipeline.audit import audit, demo_dir, read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers
from kubeiam.vocabulary.findings import Severity
from kubeiam.vocabulary.model import LinkStatus
from kubeiam.vocabulary.policy import parse_statement

ACCOUNT = demo_dir() / "aws" / "111122223333"
WINDOW = timedelta(days=90)  # usage_window_days, kubeiam's default


def _jobs() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ACCOUNT / "service-last-accessed.json").read_text())
    return loaded


def _role_last_used() -> dict[str, datetime]:
    iam = json.loads((ACCOUNT / "iam.json").read_text())
    return {r["Arn"]: datetime.fromisoformat(r["RoleLastUsed"]["LastUsedDate"]) for r in iam["RoleDetailList"]}


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _since(value: str | None, start: datetime) -> bool:
    moment = _when(value)
    return moment is not None and moment >= start


class _Job:
    """One role's job as AWS-024 should read it: what was used within the 90 days before the job completed."""

    def __init__(self, role: str, job: dict[str, Any], last_used: datetime) -> None:
        self.completed = datetime.fromisoformat(job["JobCompletionDate"])
        start = self.completed - WINDOW
        services = job["ServicesLastAccessed"]
        self.granted = {s["ServiceNamespace"] for s in services}
        self.used = {s["ServiceNamespace"] for s in services if _since(s.get("LastAuthenticated"), start)}
        times = [t for s in services if (t := _when(s.get("LastAuthenticated")))]
        self.last = max([last_used, *times])
        self.idle = self.last < start
        # Tracked actions of the used services, as `svc:Action`.
        tracked = [
            (s["ServiceNamespace"], a)
            for s in services
            if s["ServiceNamespace"] in self.used
            for a in s.get("TrackedActionsLastAccessed", ())
        ]
        self.used_actions = {f"{n}:{a['ActionName']}" for n, a in tracked if _since(a.get("LastAccessedTime"), start)}
        self.unused_actions = {f"{n}:{a['ActionName']}" for n, a in tracked} - self.used_actions
        self.fully_used = not self.idle and self.used == self.granted and not self.unused_actions
        self.role = role


@pytest.fixture(scope="module")
def demo() -> tuple[Any, dict[str, _Job], dict[str, list[tuple[str, str]]]]:
    providers = load_providers()
    last_used = _role_last_used()
    jobs = {role: _Job(role, job, last_used[role]) for role, job in _jobs().items()}
    links = read_inventory(Evidence(demo_dir()), providers).links
    taken: dict[str, list[tuple[str, str]]] = {}
    for link in links:
        if link.cloud == "aws" and link.status is LinkStatus.RESOLVED:
            taken.setdefault(link.principal, []).append((link.namespace, link.service_account))
    return audit(Evidence(demo_dir()), providers=providers), jobs, taken


def test_every_role_the_demo_serviceaccounts_take_has_usage_data(demo):
    report, jobs, taken = demo
    assert set(jobs) == set(taken)
    for job in _jobs().values():
        assert (job["JobStatus"], job["JobType"], job["IsTruncated"]) == ("COMPLETED", "ACTION_LEVEL", False)
    # No role is left with a "no usage data" note, and nothing in the file was unreadable.
    assert [e for e in report.coverage["errors"] if "AWS-024" in (e.get("rules") or ())] == []
    assert "aws/111122223333/service-last-accessed.json" in report.coverage["sources"]


def test_roles_that_used_everything_have_no_finding_the_others_one_per_serviceaccount(demo):
    report, jobs, taken = demo
    found: dict[str, set[tuple[str, str]]] = {}
    for f in report.findings:
        if f.rule_id == "AWS-024":
            found.setdefault(f.principal, set()).add((f.namespace, f.service_account))
    expected = {role: set(taken[role]) for role, job in jobs.items() if not job.fully_used}
    assert found == expected
    # The demo shows both: roles that use all they hold (payments-api among them) and roles that do not.
    assert len(expected) < len(jobs)
    assert "arn:aws:iam::111122223333:role/payments-api" not in expected


def test_each_finding_counts_and_right_sizes_what_the_data_says(demo):
    report, jobs, _ = demo
    for f in (f for f in report.findings if f.rule_id == "AWS-024"):
        job, usage, sized = jobs[f.principal], f.evidence["usage"], f.evidence["right_sized"]
        assert (usage["granted"], usage["used"]) == (len(job.granted), 0 if job.idle else len(job.used)), f.principal
        assert usage["last_used"] == job.last.strftime("%Y-%m-%dT%H:%M:%SZ")
        document = sized["document"]
        allows = [s for s in (parse_statement(st, document["Version"]) for st in document["Statement"]) if s.is_allow]
        if job.idle:
            days = (job.completed - job.last).days
            assert f"not used for {days} days" in f.title and allows == []
            continue
        # Never an unused service or an unused tracked action; every used tracked action kept.
        kept = {a.split(":", 1)[0].lower() for s in allows for a in s.actions}
        assert kept and kept <= job.used, (f.principal, kept - job.used)
        assert not [a for a in job.unused_actions if any(s.allows(a) for s in allows)], f.principal
        assert all(any(s.allows(a) for s in allows) for a in job.used_actions), f.principal


def test_the_admin_role_used_for_s3_and_sts_loses_its_admin_grant(demo):
    report, jobs, taken = demo
    admin = "arn:aws:iam::111122223333:role/data-etl"
    findings = [f for f in report.findings if f.rule_id == "AWS-024" and f.principal == admin]
    assert {(f.namespace, f.service_account) for f in findings} == set(taken[admin])
    assert jobs[admin].used == {"s3", "sts"}
    for f in findings:
        assert f.severity is Severity.HIGH
        assert f.evidence["right_sized"]["drops"][0] == "admin: AdministratorAccess"
        assert f.evidence["right_sized"]["replaces"] == ["arn:aws:iam::aws:policy/AdministratorAccess"]
        actions = [a for st in f.evidence["right_sized"]["document"]["Statement"] for a in _list(st.get("Action"))]
        assert actions and {a.split(":", 1)[0] for a in actions} == jobs[admin].used


def _list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or ())
