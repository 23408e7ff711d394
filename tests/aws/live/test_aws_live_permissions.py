"""The IAM policy kubeiam documents for itself: what the code calls, nothing more, and exactly enough.

"Exactly enough" is tested against moto enforcing IAM (signature and permissions, from the caller's only
policy) with the shipped document: the live collection meets no AccessDenied; without any one of its
permissions it does, and says so in coverage (or, for the bulk read, reads the same one by one)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_live_harness import LiveAws, Run, enforcing, policy_actions, readonly_policy
from aws_live_usage import unused_permission
from test_aws_live_collect import force

REPO = Path(__file__).resolve().parents[3]
LIVE = REPO / "providers" / "kubeiam_aws" / "live"
REFUSED = re.compile(r"^(AccessDenied|UnauthorizedOperation|credentials (refused|expired)|no usable AWS credentials)")
UNREACHABLE_ROLES = {"demo-eks/partner/sync", "demo-eks/china/app"}  # another account, another partition


def actions() -> list[str]:
    return [a for s in readonly_policy()["Statement"] for a in s["Action"]]


# IAM authorises these API operations by another action's name (the Access Analyzer API reference says so).
AUTHORISED_AS = {
    "accessanalyzer:ListFindingsV2": "access-analyzer:ListFindings",
    "accessanalyzer:GetFindingV2": "access-analyzer:GetFinding",
    "accessanalyzer:ListAnalyzers": "access-analyzer:ListAnalyzers",
}


def _permission(operation: str) -> str:
    return AUTHORISED_AS.get(operation, operation)


# Called only with --aws-org: a separate optional statement in the docs, not in the shipped document.
ORG_ONLY = {"organizations:ListAccounts", "sts:AssumeRole"}


def test_the_docs_print_exactly_this_policy() -> None:
    text = (REPO / "docs" / "aws-live.md").read_text()
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    assert [b for b in blocks if b == readonly_policy()] == [readonly_policy()]
    # --aws-org's statement: ListAccounts, and AssumeRole of the named role only; and the member role's trust.
    [org] = [b for b in blocks if b != readonly_policy() and "Sid" in b["Statement"][0]]
    assert {(s["Action"], s["Resource"]) for s in org["Statement"]} == {
        ("organizations:ListAccounts", "*"),
        ("sts:AssumeRole", "arn:aws:iam::*:role/kubeiam-audit"),
    }
    [trust] = [b for b in blocks if b not in (readonly_policy(), org)]
    assert [(s["Action"], list(s["Principal"])) for s in trust["Statement"]] == [("sts:AssumeRole", ["AWS"])]


def test_the_code_calls_exactly_the_listed_operations() -> None:
    """Every `call(...)`/`pages(...)` operation in the code is in the policy, and the policy has no extra."""
    used: set[str] = set()
    for path in LIVE.glob("*.py"):
        used.update(re.findall(r"\"((?:get|list|describe|generate)_[a-z0-9_]+)\"", path.read_text()))
    services = ("iam", "eks", "ec2", "sts", "accessanalyzer", "organizations")
    clients = {s: boto3.client(s, region_name="us-east-1") for s in services}
    mapped = set()
    for op in used:
        owners = [f"{s}:{c.meta.method_to_api_mapping[op]}" for s, c in clients.items() if hasattr(c, op)]
        assert len(owners) == 1, op
        mapped.add(_permission(owners[0]))
    assert len(used) >= 15
    # (sts:AssumeRole is botocore's AssumeRoleCredentialFetcher's call: clients.assume_role)
    assert mapped - {"sts:GetCallerIdentity"} == set(actions()) | (ORG_ONLY - {"sts:AssumeRole"})
    assert "AssumeRoleCredentialFetcher" in (LIVE / "clients.py").read_text()


# kubeiam auditing this policy: tests/aws/test_aws_rules.py::test_kubeiams_own_read_only_policy_is_low_at_most


def _renamed(live_aws: LiveAws) -> Path:
    """The cluster's evidence folder named otherwise than in EKS: found by its issuer (ListClusters)."""
    root = live_aws.evidence(f"renamed{len(list(live_aws.tmp.iterdir()))}")
    (root / "kubernetes" / "demo-eks").rename(root / "kubernetes" / "prod-eu")
    return root


def _refused(run: Run) -> list[str]:
    return [f"{e.location}: {e.reason}" for e in run.errors if REFUSED.match(e.reason)]


def test_the_documented_policy_is_exactly_enough(live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every path (bulk, per role, a cluster found by its issuer, a check) under the shipped policy: no
    AccessDenied, and together they use every permission it grants."""
    runs: list[Run] = []
    _a_finding(live_aws)
    with enforcing(live_aws, monkeypatch, readonly_policy()):
        runs.append(live_aws.collect(aws_usage=True))  # kubeiam's choice: bulk here
        runs.append(live_aws.collect(root=_renamed(live_aws), service_account=("billing", "worker")))
        force(monkeypatch, "per-role")
        runs.append(live_aws.collect())
    for run in runs:
        assert _refused(run) == []
        assert {e.subject for e in run.errors} <= UNREACHABLE_ROLES
    used = {_permission(op) for run in runs for op in run.calls}
    assert used - {"sts:GetCallerIdentity"} == set(actions())


# Each permission and a collection that needs it: (scope, read per role).
NEEDS: dict[str, tuple[dict[str, Any], bool]] = {
    "eks:DescribeCluster": ({"service_account": ("orders", "api")}, False),
    "eks:ListClusters": ({"service_account": ("billing", "worker"), "renamed": True}, True),
    "eks:ListNodegroups": ({}, True),
    "eks:DescribeNodegroup": ({"namespace": "payments"}, True),
    "eks:ListPodIdentityAssociations": ({"service_account": ("billing", "worker")}, True),
    "eks:DescribePodIdentityAssociation": ({"service_account": ("billing", "worker")}, True),
    "eks:ListAccessEntries": ({"service_account": ("orders", "api")}, False),
    "eks:DescribeAccessEntry": ({"service_account": ("orders", "api")}, False),
    "eks:ListAssociatedAccessPolicies": ({"service_account": ("orders", "api")}, False),
    "ec2:DescribeInstances": ({"namespace": "payments"}, True),
    "ec2:DescribeLaunchTemplateVersions": ({"namespace": "payments"}, True),
    "iam:GetRole": ({"service_account": ("orders", "api")}, True),
    "iam:ListRolePolicies": ({"service_account": ("orders", "api")}, True),
    "iam:GetRolePolicy": ({"service_account": ("orders", "api")}, True),
    "iam:ListAttachedRolePolicies": ({"service_account": ("orders", "api")}, True),
    "iam:GetPolicy": ({"service_account": ("orders", "api")}, True),
    "iam:GetPolicyVersion": ({"service_account": ("orders", "api")}, True),
    "iam:GetInstanceProfile": ({"namespace": "payments"}, True),
    "iam:GetOpenIDConnectProvider": ({"service_account": ("orders", "api")}, False),
    "iam:GenerateServiceLastAccessedDetails": ({"service_account": ("orders", "api"), "aws_usage": True}, False),
    "iam:GetServiceLastAccessedDetails": ({"service_account": ("orders", "api"), "aws_usage": True}, False),
    "access-analyzer:ListAnalyzers": ({"service_account": ("orders", "api"), "aws_usage": True}, False),
    "access-analyzer:ListFindings": ({"service_account": ("orders", "api"), "aws_usage": True}, False),
    "access-analyzer:GetFinding": ({"service_account": ("orders", "api"), "aws_usage": True}, False),
}


def _a_finding(live_aws: LiveAws) -> None:
    """An unused-access finding about a role in scope, so that its details are asked for."""
    role = live_aws.estate.role_arn("orders-api")
    detail = {"unusedPermissionDetails": {"serviceNamespace": "sqs"}}
    live_aws.front.usage.findings = [unused_permission(role, live_aws.estate.account, detail)]


def _without(action: str) -> dict[str, Any]:
    document = copy.deepcopy(readonly_policy())
    for statement in document["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if a != action]
    assert action not in policy_actions(document)
    return document


def test_every_permission_has_a_collection_that_needs_it() -> None:
    assert set(NEEDS) | set(SILENT) == set(actions())


@pytest.mark.parametrize("action", sorted(NEEDS))
def test_without_any_one_permission_coverage_says_access_denied(
    live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    scope, per_role = NEEDS[action]
    scope = dict(scope)
    if scope.pop("renamed", False):
        scope["root"] = _renamed(live_aws)
    if per_role:
        force(monkeypatch, "per-role")
    _a_finding(live_aws)
    with enforcing(live_aws, monkeypatch, _without(action)):
        run = live_aws.collect(**scope)
    denied = [e for e in run.errors if e.location.startswith(f"{action} ") or e.location == action]
    assert denied, run.errors
    assert all(REFUSED.match(e.reason) and f"({action})" in e.reason for e in denied), denied
    assert all(e.subject for e in denied)  # each names what it leaves unchecked
    assert not any(e.whole for e in run.errors)  # the rest was read


SILENT = ("iam:GetAccountAuthorizationDetails", "iam:GetAccountSummary")
"""Without them nothing is lost: the roles are read one by one (more calls), so no coverage entry."""


@pytest.mark.parametrize("action", SILENT)
def test_without_the_bulk_read_roles_are_read_one_by_one(
    live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    with enforcing(live_aws, monkeypatch, _without(action)):
        run = live_aws.collect(service_account=("orders", "api"))
    assert run.errors == []
    assert run.calls["iam:GetRole"] == 1 and "iam:GetRole" in run.operations
