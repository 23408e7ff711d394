"""The usage files of AWS-024, read exactly as the commands print them (the corpus samples of
fixtures/aws/usage, vendored from the shared corpus: copied and schema-built), and what cannot be read
named, never "unused"."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aws_evidence import (
    ACCOUNT,
    REGION,
    cluster,
    iam,
    irsa_trust,
    oidc_providers,
    role,
    role_arn,
    service_account,
    write,
)
from kubeiam_aws.evidence.usage import role_last_used
from unused_cases import app, job, last_accessed, service

from kubeiam.errors import InputError
from kubeiam.pipeline.audit import audit, read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "aws" / "usage"
"""The shared corpus's AWS usage samples, vendored (fixtures/aws/usage/README.md)."""


def _sample(name: str) -> dict[str, Any]:
    return json.loads((CORPUS / name).read_text())


def _read(root: Path):
    inv = read_inventory(Evidence(root), load_providers())
    return inv, inv.views["aws"].usage


def _usage_errors(inv) -> list[tuple[str, str | None, str]]:
    return [(e.location, e.subject, e.reason) for e in inv.errors if e.rules == ("AWS-024",)]


def _day(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_action_level_sample_is_read_as_printed(tmp_path):
    sample = _sample("get-service-last-accessed-details.ACTION_LEVEL.schema-built.json")["output"]
    app(tmp_path, {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    write(tmp_path / "aws" / ACCOUNT / "service-last-accessed.json", {role_arn("app-role"): sample})
    inv, usage = _read(tmp_path)
    report = usage.reports[role_arn("app-role")]
    assert report.action_level and report.complete
    assert report.taken == _day("2026-01-10T12:00:05Z")  # JobCompletionDate: the end of the window
    s3, iam_, dynamodb = (report.services[n] for n in ("s3", "iam", "dynamodb"))
    assert s3.last == _day("2026-01-09T08:15:00Z")
    assert s3.actions == {"GetObject": _day("2026-01-09T08:15:00Z"), "PutObject": None, "DeleteObject": None}
    assert (iam_.last, iam_.actions) == (None, {"PassRole": None})  # tracked, never used
    assert (dynamodb.last, dynamodb.actions) == (None, None)  # not tracked at action level
    assert _usage_errors(inv) == []


def test_the_real_service_level_sample_without_job_type_is_read(tmp_path):
    """aws-cli's example: no JobType, no JobCompletionDate, no IsTruncated; a service-level job."""
    sample = _sample("get-service-last-accessed-details.SERVICE_LEVEL.real.json")["output"]
    app(tmp_path, {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}]})
    write(tmp_path / "aws" / ACCOUNT / "service-last-accessed.json", {role_arn("app-role"): sample})
    inv, usage = _read(tmp_path)
    report = usage.reports[role_arn("app-role")]
    assert not report.action_level and report.complete
    assert report.taken == _day("2019-10-01T03:50:35.929Z")  # JobCreationDate when no completion date
    assert report.services["lambda"].last == _day("2019-09-30T23:02:00Z")
    assert _usage_errors(inv) == []


def test_the_generate_output_alone_is_named_not_read(tmp_path):
    """`generate-service-last-accessed-details` prints a JobId: not usage data, and the entry says what to run."""
    generated = _sample("generate-service-last-accessed-details.real.json")["outputs"][0]["output"]
    app(tmp_path, {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    write(tmp_path / "aws" / ACCOUNT / "service-last-accessed.json", {role_arn("app-role"): generated})
    inv, usage = _read(tmp_path)
    assert usage.reports == {}
    ((location, subject, reason),) = _usage_errors(inv)
    assert location == f"aws/{ACCOUNT}/service-last-accessed.json"
    assert subject == role_arn("app-role") and "JobId only" in reason and "get-service-last-accessed-details" in reason


@pytest.mark.parametrize("case", ["used", "never_used_in_window"])
def test_role_last_used_is_read_from_get_role_and_iam_json(tmp_path, case):
    sample = _sample("get-role.RoleLastUsed.schema-built.json")["outputs"][case]["Role"]
    expected = (_day("2026-01-09T08:15:00Z"), True) if case == "used" else (None, True)
    assert role_last_used(sample["RoleLastUsed"]) == expected
    # The same key in get-account-authorization-details' RoleDetailList, as iam.json holds it.
    detail = role(sample["RoleName"], irsa_trust("apps", "app"))
    detail["RoleLastUsed"] = sample["RoleLastUsed"]
    iam(tmp_path, [detail])
    cluster(tmp_path, [service_account("apps", "app", role_arn(sample["RoleName"]))])
    inv, _ = _read(tmp_path)
    r = inv.views["aws"].roles[role_arn(sample["RoleName"])]
    assert (r.last_used, r.last_used_read) == expected


def test_role_last_used_absent_or_unreadable_is_not_read():
    assert role_last_used(None) == (None, False)
    assert role_last_used({"LastUsedDate": "last tuesday"}) == (None, False)
    assert role_last_used([]) == (None, False)


def test_the_unused_access_findings_sample_is_read(tmp_path):
    outputs = _sample("accessanalyzer-get-finding-v2.unused.schema-built.json")["outputs"]
    iam_roles = [role(n, irsa_trust("apps", n)) for n in ("app-role", "Old-Role")]
    iam(tmp_path, iam_roles, account="123456789012")
    findings = {"findings": list(outputs.values())}
    write(tmp_path / "aws" / "123456789012" / "us-east-1" / "access-analyzer-unused.json", findings)
    inv, usage = _read(tmp_path)
    old = usage.analyzer_roles["arn:aws:iam::123456789012:role/Old-Role"]
    assert old.unused_role and old.role_last == _day("2025-06-01T10:00:00+00:00")
    perm = usage.analyzer_roles["arn:aws:iam::123456789012:role/app-role"]
    assert not perm.unused_role and perm.details
    assert perm.services["dynamodb"].actions is None and perm.services["dynamodb"].last is None
    assert perm.services["s3"].actions == {"PutObject": None, "DeleteObject": _day("2025-03-02T00:00:00+00:00")}
    assert set(usage.analyzer_roles) == {
        "arn:aws:iam::123456789012:role/Old-Role",
        "arn:aws:iam::123456789012:role/app-role",
    }
    analyzer = usage.analyzers["123456789012"]
    assert analyzer.age_days == 90 and not analyzer.age_known  # no analyzer object: AWS's default assumed
    assert analyzer.silent_means_used
    assert _usage_errors(inv) == []  # users' keys and passwords are not a role's: not read, not an error


def test_external_access_findings_are_not_unused_access(tmp_path):
    listed = _sample("accessanalyzer-list-findings-v2.ExternalAccess.real.json")["output"]
    got = _sample("accessanalyzer-get-finding-v2.ExternalAccess.real.json")["output"]
    iam(tmp_path, [role("Cognito_testpoolAuth_Role", irsa_trust("apps", "app"))], account="111122223333")
    write(
        tmp_path / "aws" / "111122223333" / "us-west-2" / "access-analyzer-unused.json",
        {"findings": [*listed["findings"], got]},
    )
    inv, usage = _read(tmp_path)
    assert usage.analyzer_roles == {} and _usage_errors(inv) == []


@pytest.mark.parametrize(
    ("file", "content", "said"),
    [
        ("service-last-accessed.json", [], "expected an object of role ARN"),
        ("service-last-accessed.json", job(service("s3")), "holds one job's output"),
        (f"{REGION}/access-analyzer-unused.json", [], 'expected {"findings": [...]}'),
        (f"{REGION}/access-analyzer-unused.json", {"analyzers": []}, "'findings' null"),
    ],
)
def test_top_level_wrong_shapes_name_the_file(tmp_path, file, content, said):
    app(tmp_path, {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    write(tmp_path / "aws" / ACCOUNT / file, content)
    with pytest.raises(InputError) as raised:
        read_inventory(Evidence(tmp_path), load_providers())
    assert str(raised.value).startswith(f"aws/{ACCOUNT}/{file}: ") and said in str(raised.value)


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        (job(status="IN_PROGRESS"), "the job is IN_PROGRESS"),
        (
            {**job(status="FAILED"), "Error": {"Code": "ServiceFailure", "Message": "x" * 500}},
            "FAILED (ServiceFailure)",
        ),
        ([], "is a list"),
        ({**job(), "ServicesLastAccessed": {"s3": {}}}, "ServicesLastAccessed is an object"),
    ],
)
def test_an_entry_not_usable_is_a_note_on_its_role_and_no_finding(tmp_path, entry, said):
    app(tmp_path, {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    last_accessed(tmp_path, {"app-role": entry})
    inv, usage = _read(tmp_path)
    assert usage.reports == {}
    ((_, subject, reason),) = _usage_errors(inv)  # one entry: the "no usage data" note does not repeat it
    assert subject == role_arn("app-role") and said in reason and len(reason) < 200
    report = audit(Evidence(tmp_path), providers=load_providers())
    assert [f for f in report.findings if f.rule_id == "AWS-024"] == []


def test_an_item_not_understood_keeps_its_service_and_names_it(tmp_path):
    app(
        tmp_path,
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*", "sqs:*"], "Resource": "*"}]},
        last_used={"LastUsedDate": "2026-01-09T08:15:00Z"},
    )
    entry = job(service("s3", "2026-01-09T08:15:00Z"), {**service("sqs"), "LastAuthenticated": 17})
    jobs = {role_arn("app-role"): entry, f"arn:aws:iam::{ACCOUNT}:policy/p": job()}
    write(tmp_path / "aws" / ACCOUNT / "service-last-accessed.json", jobs)
    inv, usage = _read(tmp_path)
    assert usage.reports[role_arn("app-role")].services["sqs"].unreadable
    notes = _usage_errors(inv)
    assert any(s == role_arn("app-role") and "LastAuthenticated is not a date: sqs kept" in r for _, s, r in notes)
    assert any(s == ACCOUNT and "is not a role ARN" in r for _, s, r in notes)
    # The unreadable service is kept (unknown), never called unused: nothing else is unused, so no finding.
    report = audit(Evidence(tmp_path), providers=load_providers(), now=datetime(2026, 1, 11, tzinfo=UTC))
    assert [f for f in report.findings if f.rule_id == "AWS-024"] == []


def test_one_page_of_a_job_is_named_and_what_is_not_on_it_is_kept(tmp_path):
    app(
        tmp_path,
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*", "sqs:*"], "Resource": "*"}]},
    )
    entry = {**job(service("s3", "2026-01-09T08:15:00Z")), "IsTruncated": True, "Marker": "abc"}
    last_accessed(tmp_path, {"app-role": entry})
    inv, usage = _read(tmp_path)
    assert not usage.reports[role_arn("app-role")].complete
    ((_, subject, reason),) = _usage_errors(inv)
    assert subject == role_arn("app-role") and "one page" in reason and "--max-items 1000" in reason
    report = audit(Evidence(tmp_path), providers=load_providers(), now=datetime(2026, 1, 11, tzinfo=UTC))
    assert [f for f in report.findings if f.rule_id == "AWS-024"] == []  # sqs may be on the next page


def test_absent_usage_is_a_note_per_role_in_scope_never_unused(tmp_path):
    roles = [role(n, irsa_trust("apps", n)) for n in ("a", "b")]
    for r in roles:
        r.pop("RoleLastUsed")
    roles.append(role("unlinked", irsa_trust("apps", "nobody")))
    iam(tmp_path, roles)
    oidc_providers(tmp_path)
    cluster(
        tmp_path,
        [service_account("apps", n, role_arn(n)) for n in ("a", "b")] + [service_account("apps", "c", role_arn("a"))],
    )
    inv, _ = _read(tmp_path)
    notes = _usage_errors(inv)
    assert sorted(s for _, s, _ in notes) == [role_arn("a"), role_arn("b")]  # once per role, only roles in scope
    assert all("unused access not checked" in r for _, _, r in notes)
    assert [f for f in audit(Evidence(tmp_path), providers=load_providers()).findings if f.rule_id == "AWS-024"] == []
