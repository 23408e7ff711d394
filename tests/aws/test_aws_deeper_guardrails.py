"""Issue 15, item 5: guardrails that cut a grant down. SCPs and RCPs along the account's path in AWS
Organizations, the session policy of an EKS Pod Identity association, and the resource policies (KMS keys,
S3 buckets, Secrets Manager secrets) of the account's resources: a Deny removes the grant, an allow-list
intersects. Absent files cut nothing; a file read in part says so in the coverage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_evidence import (
    ACCOUNT,
    REGION,
    allow,
    cluster,
    doc,
    iam,
    irsa_trust,
    pod_identity_trust,
    role,
    role_arn,
    service_account,
    write,
)

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers

ORG = "o-a1b2c3d4e5"
OU = "ou-ab12-11111111"
ROOT = "r-ab12"
FULL_ACCESS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def described(name: str, content: dict[str, Any], kind: str = "SERVICE_CONTROL_POLICY") -> dict[str, Any]:
    """`aws organizations describe-policy --query Policy` of one policy."""
    return {
        "PolicySummary": {
            "Id": f"p-{name.lower()[:8]}",
            "Arn": f"arn:aws:organizations::999999999999:policy/{ORG}/service_control_policy/p-{name.lower()[:8]}",
            "Name": name,
            "Type": kind,
            "AwsManaged": name == "FullAWSAccess",
        },
        "Content": json.dumps(content),
    }


def organization(
    root: Path, ou_policies: list[dict[str, Any]], *, management: str = "999999999999", **more: Any
) -> None:
    """organization-policies.json: the account under one OU under the root; FullAWSAccess at root and account."""
    data: dict[str, Any] = {
        ACCOUNT: {
            "Parents": [{"Id": OU, "Type": "ORGANIZATIONAL_UNIT"}],
            "Policies": [described("FullAWSAccess", FULL_ACCESS)],
        },
        OU: {"Parents": [{"Id": ROOT, "Type": "ROOT"}], "Policies": ou_policies},
        ROOT: {"Parents": [], "Policies": [described("FullAWSAccess", FULL_ACCESS)]},
        **more,
    }
    if management:
        data["Organization"] = {"Id": ORG, "MasterAccountId": management, "FeatureSet": "ALL"}
    write(root / "aws" / ACCOUNT / "organization-policies.json", data)


def _findings(root: Path, inline: dict[str, Any], name: str = "app") -> list:
    iam(root, [role(name, irsa_trust("apps", "app"), inline={"p": inline})])
    cluster(root, [service_account("apps", "app", role_arn(name))])
    return list(audit(Evidence(root), providers=load_providers()).findings)


def _rules(findings: list) -> set[str]:
    return {f.rule_id for f in findings}


DENY_IAM = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]}


def test_an_scp_deny_removes_admin(tmp_path):
    assert "AWS-010" in _rules(_findings(tmp_path / "none", doc(allow("*"))))
    organization(tmp_path / "scp", [described("FullAWSAccess", FULL_ACCESS), described("DenyIam", DENY_IAM)])
    found = _findings(tmp_path / "scp", doc(allow("*")))
    assert not {"AWS-010", "AWS-011"} & _rules(found)
    (esc,) = [f for f in found if f.rule_id == "AWS-014"]  # PassRole + RunInstances are not denied
    assert not [p for p in esc.evidence["paths"] if p["path"].startswith("iam-")]
    assert any(f"SCPs on {OU} (FullAWSAccess, DenyIam)" in b for b in esc.evidence["blocked_by_guardrail"])
    assert f"SCPs on {OU} (FullAWSAccess, DenyIam)" in esc.evidence["guardrails"]


def test_an_scp_allow_list_intersects(tmp_path):
    only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:*", "iam:PassRole"], "Resource": "*"}],
    }
    grant = doc(allow(["iam:PassRole", "ec2:RunInstances"]))
    assert "AWS-014" in _rules(_findings(tmp_path / "none", grant))
    organization(tmp_path / "scp", [described("OnlyS3", only)])
    assert "AWS-014" not in _rules(_findings(tmp_path / "scp", grant))


def test_an_scp_condition_on_the_principal_is_decided(tmp_path):
    """The usual break-glass exception: Deny iam:* unless the principal is an admin role."""
    unless = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "iam:*",
                "Resource": "*",
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/breakglass-*"}},
            }
        ],
    }
    policies = [described("FullAWSAccess", FULL_ACCESS), described("DenyIamUnless", unless)]
    organization(tmp_path / "app", policies)
    assert "AWS-011" not in _rules(_findings(tmp_path / "app", doc(allow("iam:*"))))
    organization(tmp_path / "glass", policies)
    assert "AWS-011" in _rules(_findings(tmp_path / "glass", doc(allow("iam:*")), name="breakglass-1"))


def test_the_management_account_is_not_bound_by_scps(tmp_path):
    organization(
        tmp_path, [described("FullAWSAccess", FULL_ACCESS), described("DenyIam", DENY_IAM)], management=ACCOUNT
    )
    assert "AWS-011" in _rules(_findings(tmp_path, doc(allow("iam:*"))))


def test_without_describe_organization_nothing_is_cut_and_the_coverage_says_why(tmp_path):
    organization(tmp_path, [described("FullAWSAccess", FULL_ACCESS), described("DenyIam", DENY_IAM)], management="")
    iam(tmp_path, [role("app", irsa_trust("apps", "app"), inline={"p": doc(allow("iam:*"))})])
    cluster(tmp_path, [service_account("apps", "app", role_arn("app"))])
    report = audit(Evidence(tmp_path), providers=load_providers())
    assert "AWS-011" in {f.rule_id for f in report.findings}
    reasons = [e["reason"] for e in report.coverage["errors"] if "organization-policies" in e["location"]]
    assert len(reasons) == 1 and reasons[0].startswith("no 'Organization' (describe-organization)")


def test_an_rcp_deny_cuts_and_an_org_condition_is_decided(tmp_path):
    deny_all = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}],
    }
    outside = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "secretsmanager:*",
                "Resource": "*",
                "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG}},
            }
        ],
    }
    rcp = "RESOURCE_CONTROL_POLICY"
    grant = doc(allow("secretsmanager:GetSecretValue"))
    organization(tmp_path / "org", [described("FullAWSAccess", FULL_ACCESS), described("OrgOnly", outside, rcp)])
    assert "AWS-015" in _rules(_findings(tmp_path / "org", grant))
    organization(tmp_path / "deny", [described("FullAWSAccess", FULL_ACCESS), described("NoSecrets", deny_all, rcp)])
    assert "AWS-015" not in _rules(_findings(tmp_path / "deny", grant))


def _pod_identity(root: Path, associations: list[dict[str, Any]], inline: dict[str, Any]) -> list:
    iam(root, [role("shared", pod_identity_trust(), inline={"p": inline})])
    names = [a["serviceAccount"] for a in associations]
    cluster(root, [service_account("apps", n) for n in names])
    write(
        root / "aws" / ACCOUNT / REGION / "eks" / "eks-test" / "pod-identity-associations.json",
        {
            "associations": [
                {
                    "clusterName": "eks-test",
                    "namespace": "apps",
                    "roleArn": role_arn("shared"),
                    "associationId": f"a-{i}",
                    **a,
                }
                for i, a in enumerate(associations)
            ]
        },
    )
    return list(audit(Evidence(root), providers=load_providers()).findings)


def test_a_session_policy_intersects_with_the_role(tmp_path):
    """False positive before: the association's policy was ignored, so its pods were 'admin'."""
    scoped = json.dumps(doc(allow("s3:GetObject", "arn:aws:s3:::reports/*")))
    found = _pod_identity(
        tmp_path,
        [{"serviceAccount": "reader", "policy": scoped, "disableSessionTags": True}, {"serviceAccount": "full"}],
        doc(allow("*")),
    )
    admin = {f.service_account for f in found if f.rule_id == "AWS-010"}
    assert admin == {"full"}
    assert not [
        f
        for f in found
        if f.service_account == "reader" and f.category.value in ("admin-access", "privilege-escalation")
    ]


def test_a_session_policy_that_is_not_understood_cuts_nothing_and_is_named(tmp_path):
    found = _pod_identity(
        tmp_path / "e",
        [{"serviceAccount": "reader", "policy": "{not json", "disableSessionTags": True}],
        doc(allow("*")),
    )
    assert "AWS-010" in _rules(found)
    iam(tmp_path / "e", [role("shared", pod_identity_trust(), inline={"p": doc(allow("*"))})])
    report = audit(Evidence(tmp_path / "e"), providers=load_providers())
    (unchecked,) = report.coverage["unchecked"]
    assert unchecked["items"][0]["item"] == "associations[0].policy"


def test_a_secret_policy_deny_removes_the_read_of_every_secret(tmp_path):
    arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-AbCdEf"
    only_ops = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:PrincipalArn": role_arn("ops")}},
            }
        ],
    }
    grant = doc(allow("secretsmanager:GetSecretValue"))
    write(
        tmp_path / "deny" / "aws" / ACCOUNT / REGION / "secret-policies.json",
        {arn: {"ARN": arn, "Name": "db", "ResourcePolicy": json.dumps(only_ops)}},
    )
    found = _findings(tmp_path / "deny", grant)
    assert "AWS-015" not in _rules(found)
    write(tmp_path / "open" / "aws" / ACCOUNT / REGION / "secret-policies.json", {arn: {"ARN": arn, "Name": "db"}})
    assert "AWS-015" in _rules(_findings(tmp_path / "open", grant))


def test_kms_decrypt_needs_a_key_policy_that_admits_the_role(tmp_path):
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    only_admins = doc(
        {"Effect": "Allow", "Principal": {"AWS": role_arn("kms-admin")}, "Action": "kms:*", "Resource": "*"}
    )
    delegated = doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}
    )
    grant = doc(allow("kms:Decrypt"))
    keys = tmp_path / "closed" / "aws" / ACCOUNT / REGION / "kms-key-policies.json"
    write(keys, {key: {"Policy": json.dumps(only_admins), "PolicyName": "default"}})
    found = _findings(tmp_path / "closed", grant)
    assert "AWS-015" not in _rules(found)
    write(
        tmp_path / "iam" / "aws" / ACCOUNT / REGION / "kms-key-policies.json", {key: {"Policy": json.dumps(delegated)}}
    )
    assert "AWS-015" in _rules(_findings(tmp_path / "iam", grant))
