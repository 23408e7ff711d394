"""A synthetic EKS estate as plain data: ServiceAccounts, IRSA roles, managed policies, nodes.

The same estate is written as an evidence directory (`generate.py`, for the analysis benchmark) or
seeded into moto (`seed_aws.py`, for the live benchmark), so both benchmarks measure one shape.
Deterministic for a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

ACCOUNT = "111122223333"
REGION = "eu-west-1"
CLUSTER = "bench"
ISSUER_ID = "B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0"
ISSUER = f"https://oidc.eks.{REGION}.amazonaws.com/id/{ISSUER_ID}"

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
AWS_MANAGED = ["ReadOnlyAccess", "AmazonS3ReadOnlyAccess", "AdministratorAccess"]
AWS_MANAGED_DOCS: dict[str, dict[str, Any]] = {
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
NODE_ROLE = "bench-node-role"
NODE_PROFILE = "bench-node"
NODE_POLICY = "AmazonEKSWorkerNodePolicy"


@dataclass(frozen=True)
class Scale:
    service_accounts: int = 20_000
    roles: int = 5_000
    policies: int = 300
    nodes: int = 500
    seed: int = 7

    def scaled(self, factor: float) -> Scale:
        """Every count times `factor` (at least 1), for quick runs."""

        def f(n: int) -> int:
            return max(1, round(n * factor))

        return Scale(f(self.service_accounts), f(self.roles), f(self.policies), f(self.nodes), self.seed)


@dataclass(frozen=True)
class RoleSpec:
    name: str
    subjects: tuple[str, ...]
    """`system:serviceaccount:<ns>:<name>` of the ServiceAccounts annotated with it."""
    wildcard_trust: bool
    inline: dict[str, Any]
    """The one inline policy document (`inline`)."""
    managed: tuple[str, ...]
    """Attached policies: customer policy names, or `aws:<name>` for AWS managed ones."""


@dataclass(frozen=True)
class AwsEstate:
    scale: Scale
    account: str
    region: str
    cluster: str
    namespaces: tuple[str, ...]
    service_accounts: tuple[tuple[str, str, int], ...]
    """(namespace, name, role index)."""
    policies: tuple[tuple[str, dict[str, Any]], ...]
    """Customer managed policies: (name, document)."""
    roles: tuple[RoleSpec, ...]

    def role_arn(self, name: str) -> str:
        return f"arn:aws:iam::{self.account}:role/{name}"

    def policy_arn(self, ref: str) -> str:
        if ref.startswith("aws:"):
            return f"arn:aws:iam::aws:policy/{ref[4:]}"
        return f"arn:aws:iam::{self.account}:policy/{ref}"

    def node_name(self, n: int) -> str:
        return f"ip-10-{n // 250}-{n % 250}-1.{self.region}.compute.internal"

    def trust(self, role: RoleSpec, issuer: str) -> dict[str, Any]:
        host = issuer.removeprefix("https://")
        provider = f"arn:aws:iam::{self.account}:oidc-provider/{host}"
        subjects = list(role.subjects) or ["system:serviceaccount:none:none"]
        if role.wildcard_trust:
            cond: dict[str, Any] = {"StringLike": {f"{host}:sub": "system:serviceaccount:*:*"}}
        else:
            cond = {
                "StringEquals": {
                    f"{host}:sub": subjects if len(subjects) > 1 else subjects[0],
                    f"{host}:aud": "sts.amazonaws.com",
                }
            }
        statement = {
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": cond,
        }
        return {"Version": "2012-10-17", "Statement": [statement]}


def policy_document(rng: random.Random) -> dict[str, Any]:
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


def build(scale: Scale, account: str = ACCOUNT, *, aws_managed: bool = True) -> AwsEstate:
    """The estate for `scale`. `aws_managed=False` leaves out AWS managed attachments (moto without them)."""
    rng = random.Random(scale.seed)
    namespaces = tuple(f"team-{i:03d}" for i in range(max(1, scale.service_accounts // 50)))
    sas = tuple(
        (namespaces[i % len(namespaces)], f"sa-{i:05d}", i % scale.roles) for i in range(scale.service_accounts)
    )
    subjects: dict[int, list[str]] = {}
    for ns, name, r in sas:
        subjects.setdefault(r, []).append(f"system:serviceaccount:{ns}:{name}")
    policies = tuple((f"bench-policy-{p:04d}", policy_document(rng)) for p in range(scale.policies))
    names = [p[0] for p in policies]
    roles = []
    for r in range(scale.roles):
        managed = rng.sample(names, k=min(2, len(names)))
        if rng.random() < 0.02:
            choice = rng.choice(AWS_MANAGED)
            if aws_managed:
                managed.append(f"aws:{choice}")
        wildcard = rng.random() < 0.05  # a few wildcard trusts
        inline = policy_document(rng)
        roles.append(RoleSpec(f"bench-role-{r:05d}", tuple(subjects.get(r, ())), wildcard, inline, tuple(managed)))
    return AwsEstate(scale, account, REGION, CLUSTER, namespaces, sas, policies, tuple(roles))


def kubernetes_resources(estate: AwsEstate, instance_ids: list[str]) -> dict[str, Any]:
    """`kubectl get namespaces,serviceaccounts,pods,nodes -A -o json` for the estate."""
    items: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"team": ns}}}
        for ns in estate.namespaces
    ]
    for ns, name, r in estate.service_accounts:
        items.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "annotations": {"eks.amazonaws.com/role-arn": estate.role_arn(estate.roles[r].name)},
                },
            }
        )
    for n, iid in enumerate(instance_ids):
        items.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": estate.node_name(n), "labels": {"eks.amazonaws.com/nodegroup": "bench"}},
                "spec": {"providerID": f"aws:///{estate.region}a/{iid}"},
            }
        )
    nodes = len(instance_ids)
    for i, (ns, name, _) in enumerate(estate.service_accounts[: max(1, len(estate.service_accounts) // 4)]):
        spec: dict[str, Any] = {"serviceAccountName": name, "containers": [{"name": "app", "image": "app:1"}]}
        if nodes:
            spec["nodeName"] = estate.node_name(i % nodes)
        items.append(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{name}-pod", "namespace": ns}, "spec": spec}
        )
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}


def metadata_options(n: int) -> dict[str, Any]:
    """IMDS settings of node `n`: every 10th allows IMDSv1, every 7th has hop limit 2."""
    return {
        "HttpTokens": "required" if n % 10 else "optional",
        "HttpPutResponseHopLimit": 1 if n % 7 else 2,
        "HttpEndpoint": "enabled",
    }
