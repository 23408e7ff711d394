"""What cannot be read is never clean: unreachable AWS, refused credentials, every call denied, answers
that are no AWS answers, a mistyped profile. Every coverage entry names its subject and a one-line cause."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from aws_live_harness import LiveAws, Run, enforcing, readonly_policy
from test_aws_live_collect import ACCOUNT, force

from kubeiam.errors import InputError

# What a coverage entry may name: a ServiceAccount or node (`cluster/ns/sa`, `cluster/node/NAME`), a
# cluster, a role (the principal of the findings it decides).
SUBJECT = re.compile(r"^demo-eks(/[a-z0-9.-]+/[a-z0-9.-]+)?$|^arn:aws:iam::\d{12}:role/[\w+=,.@-]+$")


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens there once closed


def _everything_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    for service in ("", "_EKS", "_IAM"):
        monkeypatch.setenv(f"AWS_ENDPOINT_URL{service}", url)
    monkeypatch.setenv("KUBEIAM_AWS_MAX_ATTEMPTS", "2")  # a dead endpoint's retries take seconds each


def _assert_well_formed(run: Run) -> None:
    for e in run.errors:
        assert e.source == "aws"
        assert e.whole or (e.subject is not None and SUBJECT.match(e.subject)), e
        assert "\n" not in e.reason and "<" not in e.reason and len(e.reason) < 300, e.reason


@pytest.mark.parametrize("where", ["closed port", "unresolvable host"])
def test_unreachable_aws_is_unreadable_not_clean(
    live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    url = _closed_port() if where == "closed port" else "http://kubeiam-test.invalid"
    _everything_at(monkeypatch, url)
    run = live_aws.collect()
    whole = [e for e in run.errors if e.whole]
    assert whole == run.errors[:1] and whole[0].subject is None
    assert whole[0].reason == f"cannot reach AWS (EndpointConnectionError: {url})"
    # One call per endpoint: once it cannot be reached, the calls after it stop at once.
    assert run.calls == {"eks:DescribeCluster": 1, "sts:GetCallerIdentity": 1}
    # Each ServiceAccount is still told what it is missing.
    assert {e.subject for e in run.errors if "Pod Identity not read" in e.reason} >= {"demo-eks/payments/api"}
    _assert_well_formed(run)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("ExpiredToken", "credentials expired (ExpiredToken)"),
        ("InvalidClientTokenId", "credentials refused (InvalidClientTokenId)"),
    ],
)
def test_refused_credentials_are_unreadable_not_clean(
    live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch, code: str, reason: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", live_aws.front.url)  # every service, STS and EC2 included
    live_aws.front.refuse = code
    try:
        run = live_aws.collect(namespace="payments")
    finally:
        live_aws.front.refuse = None
    assert run.errors[0].whole and run.errors[0].reason == reason
    assert run.calls == {"eks:DescribeCluster": 1}  # the same credentials are not offered again
    _assert_well_formed(run)


def test_credentials_aws_does_not_know_are_unreadable(live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch) -> None:
    with enforcing(live_aws, monkeypatch, readonly_policy()):
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAKUBEIAMUNKNOWN00")
        run = live_aws.collect(service_account=("orders", "api"))
    assert run.errors[0].whole and run.errors[0].reason == "credentials refused (InvalidClientTokenId)"
    _assert_well_formed(run)


def test_every_call_denied_is_unreadable(live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch) -> None:
    force(monkeypatch, "per-role")
    nothing = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    with enforcing(live_aws, monkeypatch, nothing):
        run = live_aws.collect(namespace="payments")
    assert run.errors[0].whole and run.errors[0].reason == "AccessDeniedException (eks:DescribeCluster)"
    denied = {e.location.split()[0] for e in run.errors if "AccessDenied" in e.reason}
    assert denied >= {"eks:DescribeCluster", "ec2:DescribeInstances", "iam:GetRole"}
    _assert_well_formed(run)


def test_one_call_denied_is_not_unreadable(live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch) -> None:
    force(monkeypatch, "per-role")
    with live_aws.front.faults(deny={"iam:GetRole"}):
        run = live_aws.collect(namespace="payments")
    assert run.errors and not any(e.whole for e in run.errors)


@pytest.mark.parametrize("operation", ["eks:ListPodIdentityAssociations", "iam:GetRole", "ec2:DescribeInstances"])
def test_a_foreign_answer_is_summarised_not_pasted(
    live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch, operation: str
) -> None:
    """An HTML page (a wrong endpoint, a proxy) is no AWS answer: its status is the cause, its body is not."""
    force(monkeypatch, "per-role")
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", live_aws.front.url)
    live_aws.front.pages = {operation}
    try:
        run = live_aws.collect(namespace="payments")
    finally:
        live_aws.front.pages = set()
    failed = [e for e in run.errors if e.location.startswith(operation)]
    assert failed and all(e.reason.startswith("HTTP 404 (not an AWS API answer)") for e in failed)
    assert not any(e.whole for e in run.errors)  # the other calls were answered
    _assert_well_formed(run)


UNPARSED = "not an AWS API answer ({}: the response could not be parsed)"
PAGE_500 = "HTTP 500 (not an AWS API answer)"


@pytest.mark.parametrize(
    ("operation", "scope", "cause"),
    [
        ("iam:GetRole", {"namespace": "payments"}, UNPARSED),
        ("eks:ListAccessEntries", {"namespace": "payments"}, PAGE_500),
        ("iam:GenerateServiceLastAccessedDetails", {"namespace": "payments", "aws_usage": True}, UNPARSED),
    ],
)
def test_an_answer_in_no_aws_protocol_is_coverage_not_a_crash(
    live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch, operation: str, scope: dict[str, object], cause: str
) -> None:
    """An HTML 500 page where the API's answer was due (moto's server answers an action it lacks so). IAM's XML
    parser cannot read it at all (botocore's ResponseParserError, no status); EKS's JSON one sees the status. Each
    call it fails is an entry with a one-line cause, what it leaves unread after it; the rest is read."""
    force(monkeypatch, "per-role")
    monkeypatch.setenv("KUBEIAM_AWS_MAX_ATTEMPTS", "2")
    live_aws.front.crash_pages = {operation}
    try:
        run = live_aws.collect(**scope)  # type: ignore[arg-type]
    finally:
        live_aws.front.crash_pages = set()
    failed = [e for e in run.errors if e.location.startswith(f"{operation} ")]
    assert failed, run.errors
    assert all(e.reason.startswith(cause.format(operation)) for e in failed), failed
    assert not any(e.whole for e in run.errors)
    _assert_well_formed(run)


@pytest.mark.parametrize(
    ("deny", "subjects"),
    [
        (
            {"iam:GetRole", "iam:GetInstanceProfile", "iam:GetOpenIDConnectProvider", "eks:DescribeNodegroup",
             "eks:DescribePodIdentityAssociation"},
            {"eks:DescribeNodegroup": ("demo-eks", ("AWS-022",)),
             "iam:GetOpenIDConnectProvider": ("demo-eks", ("AWS-001", "AWS-002", "AWS-003", "AWS-004", "AWS-005"))},
        ),
        (
            {"ec2:DescribeLaunchTemplateVersions", "iam:GetPolicy", "iam:ListRolePolicies"},
            {"ec2:DescribeLaunchTemplateVersions": ("demo-eks", ("AWS-022",))},
        ),
    ],
)  # fmt: skip
def test_every_entry_names_its_subject(
    live_aws: LiveAws,
    monkeypatch: pytest.MonkeyPatch,
    deny: set[str],
    subjects: dict[str, tuple[str, tuple[str, ...]]],
) -> None:
    """Roles, policies, profiles, OIDC providers, node groups, launch templates and Pod Identity each
    fail, and each entry says whose findings it hides."""
    force(monkeypatch, "per-role")
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", live_aws.front.url)
    with live_aws.front.faults(deny=deny):
        run = live_aws.collect()
    assert {e.location.split()[0] for e in run.errors} >= deny
    _assert_well_formed(run)
    by_operation = {e.location.split()[0]: (e.subject, e.rules) for e in run.errors}
    assert {op: by_operation[op] for op in subjects} == subjects
    # A role's failure names the ServiceAccounts and nodes that take it, or the role itself (a node group's).
    role_subjects = {e.subject for e in run.errors if e.location.startswith("iam:GetRole ")}
    if "iam:GetRole" in deny:
        assert {"demo-eks/orders/api", f"arn:aws:iam::{ACCOUNT}:role/karpenter-spot"} <= role_subjects


# -- a mistyped profile ------------------------------------------------------------------------------


def _profiles(tmp: Path, monkeypatch: pytest.MonkeyPatch, names: list[str]) -> None:
    (tmp / "aws-config").write_text("".join(f"[profile {p}]\nregion = eu-west-1\n" for p in names))
    (tmp / "aws-credentials").write_text(
        "".join(f"[{p}]\naws_access_key_id = a\naws_secret_access_key = s\n" for p in names)
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp / "aws-credentials"))


def test_a_mistyped_profile_is_a_usage_error_before_any_call(
    live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _profiles(tmp_path, monkeypatch, ["audit", "ci"])
    live_aws.front.log.clear()
    with pytest.raises(
        InputError, match=r"^--aws-profile audti: no such AWS profile \(profiles available: audit, ci\)$"
    ):
        live_aws.collect(aws_profile="audti")
    with pytest.raises(InputError, match=r"^--aws-account-profile 210987654321=partnr: no such AWS profile"):
        live_aws.collect(aws_profile="audit", aws_account_profiles=["210987654321=partnr"])
    assert live_aws.front.log == []


def test_cli_mistyped_profile_exits_2_in_one_line(
    live_aws: LiveAws,
    live_cli: Callable[..., list[str]],
    run_cli: Callable[..., tuple[int, str, str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    _profiles(tmp_path, monkeypatch, ["audit", "ci"])
    code, out, err = run_cli("audit", *live_cli(), "--aws-profile", "audti", "--quiet")
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "kubeiam: error: --aws-profile audti: no such AWS profile (profiles available: audit, ci)"
    ]


def test_cli_audit_of_unreachable_aws_says_so_first_and_exits_3(
    live_aws: LiveAws,
    live_cli: Callable[..., list[str]],
    run_cli: Callable[..., tuple[int, str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options = live_cli()  # (the Kubernetes side is reachable)
    url = _closed_port()
    _everything_at(monkeypatch, url)
    code, out, err = run_cli("audit", *options, "--format", "json", "--fail-on", "critical")
    assert code == 3, err
    assert err.splitlines()[0].startswith(
        f"kubeiam: aws could not be read at all: cannot reach AWS (EndpointConnectionError: {url});"
    )
    report = json.loads(out)
    assert [u["source"] for u in report["coverage"]["unreadable"]] == ["aws"]
    assert all(e.get("subject") or e.get("whole") for e in report["coverage"]["errors"])
