"""AWS-024 end to end: evidence in the CLI's shapes -> one finding per ServiceAccount of a role that holds access it
has not used, with the usage counts, the right-sized policy and what it drops; severity from what the dropped part
could do, as kubeiam's own analysis of the role judges it; AWS's limits respected."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aws_evidence import (
    ACCOUNT,
    REGION,
    allow,
    cluster,
    doc,
    iam,
    irsa_trust,
    oidc_providers,
    role,
    role_arn,
    service_account,
)
from kubeiam_aws.judge.catalogue import aws_catalog
from kubeiam_aws.judge.profile import analyse_role
from unused_cases import (
    ADMIN_USE,
    ESCALATION_POLICY,
    ESCALATION_USE,
    LONG_AGO,
    RECENT,
    app,
    job,
    last_accessed,
    service,
)

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.engine import AnalysisConfig
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers
from kubeiam.vocabulary.findings import Severity
from kubeiam.vocabulary.model import Grant
from kubeiam.vocabulary.policy import parse_document

AFTER = datetime(2026, 3, 1, tzinfo=UTC)
"""The audit's clock: after the jobs (the window ends at their time, 2026-01-10)."""


def _findings(root: Path, *, window: int = 90, now: datetime = AFTER):
    report = audit(Evidence(root), providers=load_providers(), config=AnalysisConfig(usage_window_days=window), now=now)
    return [f for f in report.findings if f.rule_id == "AWS-024"], report


def _one(root: Path, **kw: Any):
    (finding,), report = _findings(root, **kw)
    return finding, report


def _right_sized_analysis(report, finding):
    """kubeiam's own analysis of the role as the right-sized document would leave it."""
    view = report_view(report)
    before = view.roles[finding.principal]
    document = finding.evidence["right_sized"]["document"]
    grant = Grant(f"{before.arn}:inline/right-sized", "inline-policy", parse_document(document), document=document)
    after = replace(before, arn=before.arn + "-right-sized", grants=(grant,))
    return analyse_role(view, before), analyse_role(view, after)


_VIEWS: dict[int, Any] = {}


def report_view(report):
    return _VIEWS[id(report)]


@pytest.fixture(autouse=True)
def _keep_views(monkeypatch):
    """Keep the AWS view of each audit, to judge the right-sized document with the same analysis."""
    import kubeiam.pipeline.audit as pipeline

    original = pipeline.build_report

    def build(inventory, *args, **kwargs):
        report = original(inventory, *args, **kwargs)
        _VIEWS[id(report)] = inventory.views["aws"]
        return report

    monkeypatch.setattr(pipeline, "build_report", build)


def test_an_unused_admin_grant_is_high_and_the_right_sized_policy_is_not_admin(tmp_path):
    app(tmp_path, doc(allow("*")), last_used={"LastUsedDate": RECENT, "Region": REGION})
    last_accessed(tmp_path, {"app-role": ADMIN_USE})
    finding, report = _one(tmp_path)
    assert finding.severity is Severity.HIGH
    assert finding.evidence["right_sized"]["drops"][0] == "admin: app"
    before, after = _right_sized_analysis(report, finding)
    assert before.power == "admin" and after.power != "admin"
    assert "glue:*" in finding.evidence["right_sized"]["document"]["Statement"][0]["Action"]


def test_an_unused_escalation_path_is_high_and_gone_from_the_right_sized_policy(tmp_path):
    app(tmp_path, ESCALATION_POLICY, last_used={"LastUsedDate": RECENT, "Region": REGION})
    last_accessed(tmp_path, {"app-role": ESCALATION_USE})
    finding, report = _one(tmp_path)
    assert finding.severity is Severity.HIGH
    before, after = _right_sized_analysis(report, finding)
    assert before.escalations and not after.escalations
    drops = finding.evidence["right_sized"]["drops"]
    assert {f"escalation path: {e.name}" for e in before.escalations} <= set(drops)


def test_the_counts_read_as_the_issue_words_them(tmp_path):
    """27 services granted, 3 used; 140 tracked actions in them, 12 used."""
    names = sorted(aws_catalog().by_service)[:27]
    actions = {n: [a.split(":", 1)[1] for a in aws_catalog().by_service[n]] for n in names}
    tracked = [n for n in names if len(actions[n]) >= 10][:14]
    services = []
    for n in names:
        used = n in tracked[:3]
        if n in tracked:
            picked = {a: (RECENT if used and i < 4 else None) for i, a in enumerate(actions[n][:10])}
            services.append(service(n, RECENT if used else None, picked))
        else:
            services.append(service(n, RECENT if used else None))
    assert len(tracked) == 14  # 3 used services, each with 4 of its 10 tracked actions used
    app(tmp_path, doc(allow([f"{n}:*" for n in names])), last_used={"LastUsedDate": RECENT, "Region": REGION})
    last_accessed(tmp_path, {"app-role": job(*services)})
    finding, _ = _one(tmp_path)
    assert finding.title.endswith("uses 3 of 27 services it is granted; 12 of 140 actions in the tracked services")
    usage = finding.evidence["usage"]
    assert (usage["granted"], usage["used"], usage["unit"], usage["window_days"]) == (27, 3, "services", 90)
    assert finding.evidence["tracked_actions"] == {"granted": 140, "used": 12}


def test_evidence_carries_the_keys_the_report_renders(tmp_path):
    app(tmp_path, ESCALATION_POLICY, last_used={"LastUsedDate": RECENT, "Region": REGION})
    last_accessed(tmp_path, {"app-role": ESCALATION_USE})
    finding, _ = _one(tmp_path)
    usage, sized = finding.evidence["usage"], finding.evidence["right_sized"]
    assert set(usage) == {"granted", "used", "unit", "window_days", "last_used", "source", "limits"}
    assert usage["last_used"] == "2026-01-09T08:15:00Z" and "service last accessed" in usage["source"]
    assert any("4 hours" in x for x in usage["limits"])
    assert sized["format"] == "aws-iam-policy" and sized["replaces"] == ["app"]
    assert parse_document(sized["document"])  # a policy kubeiam (and IAM) reads


def test_never_used_and_not_used_for_n_days(tmp_path):
    app(tmp_path, doc(allow("sqs:SendMessage")), last_used={})
    finding, _ = _one(tmp_path)
    assert "never used" in finding.title
    assert finding.evidence["right_sized"]["document"]["Statement"] == [
        {"Sid": "KubeiamNothingUsed", "Effect": "Deny", "Action": "*", "Resource": "*"}
    ]
    other = tmp_path / "idle"
    app(other, doc(allow("sqs:SendMessage")), last_used={"LastUsedDate": "2025-06-24T12:00:00Z", "Region": REGION})
    last_accessed(other, {"app-role": job(service("sqs", "2025-06-24T12:00:00Z"))})
    finding, _ = _one(other)
    assert "not used for 200 days (last used 2025-06-24" in finding.title  # up to the job's time, not the audit's


def test_the_window_is_the_configured_one(tmp_path):
    """athena last used 45 days before the job: used in a 90-day window, unused in a 30-day one."""
    app(tmp_path, doc(allow(["s3:GetObject", "athena:StartQueryExecution"])), last_used={"LastUsedDate": RECENT})
    last_accessed(tmp_path, {"app-role": job(service("s3", RECENT), service("athena", "2025-11-26T12:00:00Z"))})
    assert _findings(tmp_path, window=90)[0] == []
    finding, _ = _one(tmp_path, window=30)
    assert finding.evidence["usage"]["window_days"] == 30 and "athena" in finding.evidence["right_sized"]["drops"][-1]


def test_a_window_beyond_what_aws_keeps_is_said(tmp_path):
    app(tmp_path, doc(allow(["s3:GetObject", "sqs:SendMessage"])), last_used={"LastUsedDate": RECENT})
    last_accessed(tmp_path, {"app-role": job(service("s3", RECENT), service("sqs", LONG_AGO))})
    assert _findings(tmp_path, window=500)[0] == []  # LONG_AGO is within 400 days: used, as far as AWS knows
    app(tmp_path / "b", doc(allow(["s3:GetObject", "sqs:SendMessage"])), last_used={"LastUsedDate": RECENT})
    last_accessed(tmp_path / "b", {"app-role": job(service("s3", RECENT), service("sqs"))})
    finding, _ = _one(tmp_path / "b", window=500)
    assert any("AWS keeps 400 days" in x for x in finding.evidence["usage"]["limits"])


def test_a_role_younger_than_the_window_is_not_judged(tmp_path):
    app(tmp_path, ESCALATION_POLICY, last_used={"LastUsedDate": RECENT}, created="2025-12-01T00:00:00Z")
    last_accessed(tmp_path, {"app-role": ESCALATION_USE})
    assert _findings(tmp_path)[0] == []
    assert len(_findings(tmp_path, window=30)[0]) == 1  # 40 days old: judged over 30


def test_broad_writes_and_secret_reads_dropped_are_medium(tmp_path):
    app(
        tmp_path,
        doc(allow(["s3:GetObject"], "arn:aws:s3:::b/*"), allow(["secretsmanager:GetSecretValue"])),
        last_used={"LastUsedDate": RECENT},
    )
    last_accessed(tmp_path, {"app-role": job(service("s3", RECENT), service("secretsmanager"))})
    finding, _ = _one(tmp_path)
    assert finding.severity is Severity.MEDIUM
    assert "data access: secretsmanager:GetSecretValue on every resource" in finding.evidence["right_sized"]["drops"]


def test_one_finding_per_service_account_and_a_fingerprint_that_does_not_follow_usage(tmp_path):
    def build(root: Path, s3_last: str | None) -> None:
        trust = irsa_trust("apps", "a")
        condition = trust["Statement"][0]["Condition"]["StringEquals"]
        sub = next(k for k in condition if k.endswith(":sub"))
        condition[sub] = ["system:serviceaccount:apps:a", "system:serviceaccount:apps:b"]
        iam(root, [role("shared", trust, inline={"p": doc(allow(["s3:GetObject", "sqs:SendMessage"]))})])
        oidc_providers(root)
        cluster(root, [service_account("apps", n, role_arn("shared")) for n in ("a", "b")])
        last_accessed(root, {"shared": job(service("sqs", RECENT), service("s3", s3_last))})

    build(tmp_path / "one", None)
    build(tmp_path / "two", LONG_AGO)
    first, _ = _findings(tmp_path / "one")
    second, _ = _findings(tmp_path / "two")
    assert sorted(f.service_account for f in first) == ["a", "b"]
    assert first[0].evidence == first[1].evidence
    assert sorted(f.fingerprint for f in first) == sorted(f.fingerprint for f in second)


def test_a_role_with_a_policy_not_in_the_evidence_gets_no_right_sized_policy(tmp_path):
    r = app(tmp_path, doc(allow("*")), last_used={"LastUsedDate": RECENT})
    r["AttachedManagedPolicies"] = [
        {"PolicyName": "elsewhere", "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/elsewhere"}
    ]
    iam(tmp_path, [r])
    last_accessed(tmp_path, {"app-role": ADMIN_USE})
    findings, report = _findings(tmp_path)
    assert findings == []  # its Denies may be in the policy not read: nothing is rewritten without it
    assert any(e["subject"] == role_arn("app-role") for e in report.coverage["errors"])
