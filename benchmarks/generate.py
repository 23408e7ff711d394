"""Generate a synthetic EKS estate as an evidence directory (shared EVIDENCE.md shapes).

S ServiceAccounts spread over namespaces, R IAM roles (IRSA trust for the ServiceAccounts that use
them), P customer managed policies plus a few AWS managed ones, N nodes. Deterministic for a seed.

    python benchmarks/generate.py OUT --service-accounts 20000 --roles 5000 --policies 300 --nodes 500
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

ACCOUNT = "111122223333"
REGION = "eu-west-1"
CLUSTER = "bench"
ISSUER_ID = "B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0"
ISSUER = f"https://oidc.eks.{REGION}.amazonaws.com/id/{ISSUER_ID}"
OIDC_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.{REGION}.amazonaws.com/id/{ISSUER_ID}"

# A realistic mix: mostly scoped reads and writes, some wildcards, some escalation-prone grants.
ACTION_POOL = [
    ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
    ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
    ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"],
    ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
    ["kms:Decrypt", "kms:GenerateDataKey"],
    ["ssm:GetParameter", "ssm:GetParametersByPath"],
    ["ec2:Describe*"],
    ["s3:*"],
    ["logs:CreateLogStream", "logs:PutLogEvents"],
    ["iam:PassRole", "ec2:RunInstances"],
    ["lambda:InvokeFunction"],
    ["route53:ChangeResourceRecordSets", "route53:ListHostedZones"],
]
AWS_MANAGED = [
    ("ReadOnlyAccess", "arn:aws:iam::aws:policy/ReadOnlyAccess"),
    ("AmazonS3ReadOnlyAccess", "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"),
    ("AdministratorAccess", "arn:aws:iam::aws:policy/AdministratorAccess"),
]


def _policy_document(rng: random.Random) -> dict[str, Any]:
    statements = []
    for i in range(rng.randint(1, 4)):
        actions = rng.choice(ACTION_POOL)
        resource: Any = (
            "*"
            if rng.random() < 0.4
            else [
                f"arn:aws:s3:::bucket-{rng.randint(0, 999)}/*",
                f"arn:aws:sqs:{REGION}:{ACCOUNT}:queue-{rng.randint(0, 999)}",
            ]
        )
        stmt: dict[str, Any] = {"Sid": f"S{i}", "Effect": "Allow", "Action": actions, "Resource": resource}
        if "iam:PassRole" in actions and rng.random() < 0.5:
            stmt["Condition"] = {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
        statements.append(stmt)
    return {"Version": "2012-10-17", "Statement": statements}


def _trust(subjects: list[str], rng: random.Random) -> dict[str, Any]:
    host = OIDC_ARN.split(":oidc-provider/")[1]
    if rng.random() < 0.05:  # a few wildcard trusts
        cond = {"StringLike": {f"{host}:sub": "system:serviceaccount:*:*"}}
    else:
        cond = {
            "StringEquals": {
                f"{host}:sub": subjects if len(subjects) > 1 else subjects[0],
                f"{host}:aud": "sts.amazonaws.com",
            }
        }
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": OIDC_ARN},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": cond,
            }
        ],
    }


def generate(out: Path, service_accounts: int, roles: int, policies: int, nodes: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    namespaces = [f"team-{i:03d}" for i in range(max(1, service_accounts // 50))]
    sas = [(namespaces[i % len(namespaces)], f"sa-{i:05d}") for i in range(service_accounts)]
    role_of = [i % roles for i in range(service_accounts)]
    subjects: dict[int, list[str]] = {}
    for (ns, name), r in zip(sas, role_of, strict=True):
        subjects.setdefault(r, []).append(f"system:serviceaccount:{ns}:{name}")

    managed = []
    for p in range(policies):
        arn = f"arn:aws:iam::{ACCOUNT}:policy/bench-policy-{p:04d}"
        managed.append(
            {
                "PolicyName": f"bench-policy-{p:04d}",
                "PolicyId": f"ANPA{p:016d}",
                "Arn": arn,
                "Path": "/",
                "DefaultVersionId": "v1",
                "AttachmentCount": 0,
                "IsAttachable": True,
                "CreateDate": "2026-01-01T00:00:00+00:00",
                "UpdateDate": "2026-01-01T00:00:00+00:00",
                "PolicyVersionList": [
                    {
                        "Document": _policy_document(rng),
                        "VersionId": "v1",
                        "IsDefaultVersion": True,
                        "CreateDate": "2026-01-01T00:00:00+00:00",
                    }
                ],
            }
        )
    role_list = []
    for r in range(roles):
        attached = [
            {"PolicyName": m["PolicyName"], "PolicyArn": m["Arn"]} for m in rng.sample(managed, k=min(2, len(managed)))
        ]
        if rng.random() < 0.02:
            name, arn = rng.choice(AWS_MANAGED)
            attached.append({"PolicyName": name, "PolicyArn": arn})
        role_list.append(
            {
                "Path": "/",
                "RoleName": f"bench-role-{r:05d}",
                "RoleId": f"AROA{r:017d}",
                "Arn": f"arn:aws:iam::{ACCOUNT}:role/bench-role-{r:05d}",
                "CreateDate": "2026-01-01T00:00:00+00:00",
                "AssumeRolePolicyDocument": _trust(subjects.get(r, ["system:serviceaccount:none:none"]), rng),
                "InstanceProfileList": [],
                "RolePolicyList": [{"PolicyName": "inline", "PolicyDocument": _policy_document(rng)}],
                "AttachedManagedPolicies": attached,
                "Tags": [],
                "RoleLastUsed": {},
            }
        )
    node_role = {
        "Path": "/",
        "RoleName": "bench-node-role",
        "RoleId": "AROANODE000000000000",
        "Arn": f"arn:aws:iam::{ACCOUNT}:role/bench-node-role",
        "CreateDate": "2026-01-01T00:00:00+00:00",
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        },
        "InstanceProfileList": [
            {
                "InstanceProfileName": "bench-node",
                "Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/bench-node",
                "Path": "/",
                "InstanceProfileId": "AIPANODE",
                "CreateDate": "2026-01-01T00:00:00+00:00",
                "Roles": [],
            }
        ],
        "RolePolicyList": [],
        "AttachedManagedPolicies": [
            {
                "PolicyName": "AmazonEKSWorkerNodePolicy",
                "PolicyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
            }
        ],
        "Tags": [],
        "RoleLastUsed": {},
    }
    role_list.append(node_role)
    aws_managed_docs = {
        "ReadOnlyAccess": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:Get*", "s3:List*", "ec2:Describe*", "iam:Get*", "iam:List*"],
                    "Resource": "*",
                }
            ],
        },
        "AmazonS3ReadOnlyAccess": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"}],
        },
        "AdministratorAccess": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        },
        "AmazonEKSWorkerNodePolicy": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["ec2:DescribeInstances", "ec2:DescribeRouteTables", "eks:DescribeCluster"],
                    "Resource": "*",
                }
            ],
        },
    }
    for name, doc in aws_managed_docs.items():
        managed.append(
            {
                "PolicyName": name,
                "PolicyId": f"ANPA{name.upper()[:16]}",
                "Arn": f"arn:aws:iam::aws:policy/{name}",
                "Path": "/",
                "DefaultVersionId": "v1",
                "AttachmentCount": 1,
                "IsAttachable": True,
                "CreateDate": "2015-02-06T18:39:46+00:00",
                "UpdateDate": "2015-02-06T18:39:46+00:00",
                "PolicyVersionList": [
                    {
                        "Document": doc,
                        "VersionId": "v1",
                        "IsDefaultVersion": True,
                        "CreateDate": "2015-02-06T18:39:46+00:00",
                    }
                ],
            }
        )

    items: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"team": ns}}} for ns in namespaces
    ]
    for (ns, name), r in zip(sas, role_of, strict=True):
        items.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "annotations": {"eks.amazonaws.com/role-arn": f"arn:aws:iam::{ACCOUNT}:role/bench-role-{r:05d}"},
                },
            }
        )
    instances = []
    for n in range(nodes):
        iid = f"i-{n:017x}"
        node = f"ip-10-{n // 250}-{n % 250}-1.{REGION}.compute.internal"
        items.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": node, "labels": {"eks.amazonaws.com/nodegroup": "bench"}},
                "spec": {"providerID": f"aws:///{REGION}a/{iid}"},
            }
        )
        instances.append(
            {
                "InstanceId": iid,
                "InstanceType": "m6i.large",
                "PrivateDnsName": node,
                "IamInstanceProfile": {"Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/bench-node", "Id": "AIPANODE"},
                "MetadataOptions": {
                    "State": "applied",
                    "HttpTokens": "required" if n % 10 else "optional",
                    "HttpPutResponseHopLimit": 1 if n % 7 else 2,
                    "HttpEndpoint": "enabled",
                    "HttpProtocolIpv6": "disabled",
                    "InstanceMetadataTags": "disabled",
                },
                "State": {"Code": 16, "Name": "running"},
                "Placement": {"AvailabilityZone": f"{REGION}a"},
            }
        )
    for i, (ns, name) in enumerate(sas[: max(1, service_accounts // 4)]):
        items.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"{name}-pod", "namespace": ns},
                "spec": {
                    "serviceAccountName": name,
                    "nodeName": items[-1]["metadata"]["name"]
                    if nodes == 0
                    else f"ip-10-{(i % max(nodes, 1)) // 250}-{(i % max(nodes, 1)) % 250}-1.{REGION}.compute.internal",
                    "containers": [{"name": "app", "image": "app:1"}],
                },
            }
        )

    k8s = out / "kubernetes" / CLUSTER
    aws = out / "aws" / ACCOUNT
    eks = aws / REGION / "eks" / CLUSTER
    for d in (k8s, eks):
        d.mkdir(parents=True, exist_ok=True)
    _dump(
        k8s / "resources.json",
        {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items},
    )
    _dump(k8s / "openid-configuration.json", {"issuer": ISSUER, "jwks_uri": f"{ISSUER}/keys"})
    _dump(
        aws / "iam.json",
        {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": role_list, "Policies": managed},
    )
    _dump(
        aws / "oidc-providers.json",
        {
            "OpenIDConnectProviderList": [
                {
                    "Arn": OIDC_ARN,
                    "Url": ISSUER.removeprefix("https://"),
                    "ClientIDList": ["sts.amazonaws.com"],
                    "ThumbprintList": ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"],
                    "CreateDate": "2026-01-01T00:00:00+00:00",
                }
            ]
        },
    )
    _dump(
        aws / REGION / "ec2-instances.json",
        {"Reservations": [{"ReservationId": "r-bench", "OwnerId": ACCOUNT, "Groups": [], "Instances": instances}]},
    )
    _dump(
        eks / "cluster.json",
        {
            "cluster": {
                "name": CLUSTER,
                "arn": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{CLUSTER}",
                "version": "1.31",
                "identity": {"oidc": {"issuer": ISSUER}},
                "status": "ACTIVE",
            }
        },
    )


def _dump(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, separators=(",", ":")))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--service-accounts", type=int, default=20_000)
    p.add_argument("--roles", type=int, default=5_000)
    p.add_argument("--policies", type=int, default=300)
    p.add_argument("--nodes", type=int, default=500)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    generate(a.out, a.service_accounts, a.roles, a.policies, a.nodes, a.seed)


if __name__ == "__main__":
    main()
