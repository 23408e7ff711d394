"""The IAM policy kubeiam documents for itself: what the code calls, nothing more, and harmless."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
from kubeiam_aws.live.permissions import actions, policy_document

from kubeiam.evidence import Evidence
from kubeiam.findings import Severity
from kubeiam.pipeline import audit
from kubeiam.providers import load_providers

REPO = Path(__file__).resolve().parents[3]
LIVE = REPO / "providers" / "kubeiam_aws" / "live"
ACCOUNT = "123456789012"
ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/5C5E1F0A6B0C4D3E2F1A0B9C8D7E6F50"


def test_the_docs_print_exactly_this_policy() -> None:
    text = (REPO / "docs" / "aws-live.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    assert [json.loads(b) for b in blocks] == [policy_document()]


def test_the_code_calls_exactly_the_listed_operations() -> None:
    """Every `call(...)`/`pages(...)` operation in the code is in the policy, and the policy has no extra."""
    used: set[str] = set()
    for path in LIVE.glob("*.py"):
        used.update(re.findall(r"\"((?:get|list|describe)_[a-z_]+)\"", path.read_text()))
    clients = {s: boto3.client(s, region_name="us-east-1") for s in ("iam", "eks", "ec2", "sts")}
    mapped = set()
    for op in used:
        owners = [f"{s}:{c.meta.method_to_api_mapping[op]}" for s, c in clients.items() if hasattr(c, op)]
        assert len(owners) == 1, op
        mapped.add(owners[0])
    assert len(used) >= 15
    assert mapped - {"sts:GetCallerIdentity"} == set(actions())


def test_kubeiam_audit_of_its_own_policy_finds_nothing_above_low(tmp_path: Path) -> None:
    host = ISSUER.removeprefix("https://")
    role = f"arn:aws:iam::{ACCOUNT}:role/kubeiam-auditor"
    cluster = tmp_path / "kubernetes" / "ops"
    cluster.mkdir(parents=True)
    sa = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "kubeiam", "namespace": "kubeiam", "annotations": {"eks.amazonaws.com/role-arn": role}},
    }
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kubeiam"}}
    (cluster / "resources.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [ns, sa]}))
    (cluster / "openid-configuration.json").write_text(json.dumps({"issuer": ISSUER}))
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{host}:sub": "system:serviceaccount:kubeiam:kubeiam",
                        f"{host}:aud": "sts.amazonaws.com",
                    }
                },
            }
        ],
    }
    iam = {
        "RoleDetailList": [
            {
                "Path": "/",
                "RoleName": "kubeiam-auditor",
                "RoleId": "AROAKUBEIAMAUDITOR01",
                "Arn": role,
                "CreateDate": "2026-01-01T00:00:00+00:00",
                "AssumeRolePolicyDocument": trust,
                "InstanceProfileList": [],
                "RolePolicyList": [{"PolicyName": "kubeiam-readonly", "PolicyDocument": policy_document()}],
                "AttachedManagedPolicies": [],
                "Tags": [],
                "RoleLastUsed": {},
            }
        ],
        "Policies": [],
    }
    aws = tmp_path / "aws" / ACCOUNT
    aws.mkdir(parents=True)
    (aws / "iam.json").write_text(json.dumps(iam))
    providers = {"OpenIDConnectProviderList": [{"Arn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}", "Url": host}]}
    (aws / "oidc-providers.json").write_text(json.dumps(providers))

    report = audit(Evidence(tmp_path), providers=load_providers())
    links = [c for c in report.coverage.get("unchecked", [])]
    assert links == []  # the role was resolved and judged, not skipped
    above_low = [(f.rule_id, f.severity.value, f.title) for f in report.findings if f.severity.rank > Severity.LOW.rank]
    assert above_low == []
