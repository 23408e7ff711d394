"""Rule fixture cases for the deeper judgement of issue 15 (fixtures/rules/AWS-*): reach through other roles,
guardrails, Pod Identity trust scoping and session policies, token audiences. `make_rule_fixtures.py` writes
them with its own cases."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aws_evidence import (
    ACCOUNT,
    ISSUER,
    REGION,
    allow,
    cluster,
    doc,
    iam,
    irsa_trust,
    oidc_providers,
    pod_identity_trust,
    role,
    role_arn,
    service_account,
    write,
)

CLUSTER_ARN = f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/eks-test"
ADMIN = doc(allow("*"))


def trusting(*arns: str) -> dict[str, Any]:
    return doc({"Effect": "Allow", "Principal": {"AWS": list(arns)}, "Action": "sts:AssumeRole"})


def app_with(root: Path, inline: dict[str, Any], *others: dict[str, Any]) -> None:
    """ServiceAccount apps/app on role `app-role` (IRSA) with one inline policy, beside other roles."""
    iam(root, [role("app-role", irsa_trust("apps", "app"), inline={"app": inline}), *others])
    oidc_providers(root)
    cluster(root, [service_account("apps", "app", role_arn("app-role"))])


def pod_identity(root: Path, trust: dict[str, Any], inline: dict[str, Any], **association: Any) -> None:
    iam(root, [role("app-role", trust, inline={"app": inline})])
    cluster(root, [service_account("apps", "app")])
    base = root / "aws" / ACCOUNT / REGION / "eks" / "eks-test"
    cluster_doc = {"name": "eks-test", "arn": CLUSTER_ARN, "identity": {"oidc": {"issuer": ISSUER}}, "status": "ACTIVE"}
    write(base / "cluster.json", {"cluster": cluster_doc})
    one = {
        "clusterName": "eks-test",
        "namespace": "apps",
        "serviceAccount": "app",
        "roleArn": role_arn("app-role"),
        "associationArn": f"arn:aws:eks:{REGION}:{ACCOUNT}:podidentityassociation/eks-test/a-1",
        "associationId": "a-1",
        **association,
    }
    write(base / "pod-identity-associations.json", {"associations": [one]})


def register(case: Callable[..., Callable[[Callable[[Path], None]], Callable[[Path], None]]]) -> None:
    @case("AWS-007", "fail-pod-identity-own-source-account-only", {"count": 1})
    def _(root: Path) -> None:
        # The role's own account always holds: an association's role is in its cluster's account.
        pod_identity(root, pod_identity_trust(StringEquals={"aws:SourceAccount": ACCOUNT}), doc(allow("s3:ListBucket")))

    @case("AWS-007", "pass-pod-identity-source-arn")
    def _(root: Path) -> None:
        condition = {"StringEquals": {"aws:SourceAccount": ACCOUNT}, "ArnEquals": {"aws:SourceArn": CLUSTER_ARN}}
        pod_identity(root, pod_identity_trust(**condition), doc(allow("s3:ListBucket")))

    @case("AWS-010", "pass-session-policy-scopes-it-down")
    def _(root: Path) -> None:
        scoped = json.dumps(doc(allow("s3:GetObject", "arn:aws:s3:::reports/*")))
        pod_identity(root, pod_identity_trust(), ADMIN, policy=scoped, disableSessionTags=True)

    @case("AWS-014", "fail-assume-chain-to-admin", {"count": 1, "severity": "high"})
    def _(root: Path) -> None:
        hop = role("hop", trusting(role_arn("app-role")), inline={"p": doc(allow("sts:AssumeRole", role_arn("boss")))})
        boss = role("boss", trusting(role_arn("hop")), inline={"p": ADMIN})
        app_with(root, doc(allow("sts:AssumeRole", role_arn("hop"))), hop, boss)

    @case("AWS-014", "pass-admin-role-that-does-not-trust-it")
    def _(root: Path) -> None:
        boss = role("boss", trusting(role_arn("someone-else")), inline={"p": ADMIN})
        app_with(root, doc(allow("sts:AssumeRole", role_arn("boss"))), boss)

    @case("AWS-011", "pass-scp-denies-iam")
    def _(root: Path) -> None:
        app_with(root, doc(allow("iam:*")))
        everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        no_iam = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]}

        def scp(name: str, content: dict[str, Any]) -> dict[str, Any]:
            summary = {"Id": f"p-{name.lower()}", "Name": name, "Type": "SERVICE_CONTROL_POLICY"}
            return {"PolicySummary": summary, "Content": json.dumps(content)}

        write(
            root / "aws" / ACCOUNT / "organization-policies.json",
            {
                "Organization": {"Id": "o-a1b2c3d4e5", "MasterAccountId": "999999999999"},
                ACCOUNT: {
                    "Parents": [{"Id": "r-ab12", "Type": "ROOT"}],
                    "Policies": [scp("FullAWSAccess", everything)],
                },
                "r-ab12": {"Parents": [], "Policies": [scp("FullAWSAccess", everything), scp("DenyIam", no_iam)]},
            },
        )

    @case("AWS-004", "pass-custom-token-audience")
    def _(root: Path) -> None:
        host = ISSUER.removeprefix("https://")
        trust = irsa_trust("apps", "app")
        trust["Statement"][0]["Condition"]["StringEquals"][f"{host}:aud"] = "vault"
        iam(root, [role("app-role", trust)])
        write(
            root / "aws" / ACCOUNT / "oidc-providers.json",
            {
                "OpenIDConnectProviderList": [
                    {
                        "Arn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}",
                        "Url": host,
                        "ClientIDList": ["sts.amazonaws.com", "vault"],
                    }
                ]
            },
        )
        sa = service_account("apps", "app", role_arn("app-role"))
        sa["metadata"]["annotations"]["eks.amazonaws.com/audience"] = "vault"
        cluster(root, [sa])
