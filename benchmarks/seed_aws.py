"""Seed a synthetic estate (`estate.py`) into moto, and write the Kubernetes half of its evidence.

Sequential on purpose: moto's server races under parallel writes. Efficient where moto allows it:
one RunInstances per distinct IMDS setting (MinCount=MaxCount=n), one client per service.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from estate import NODE_PROFILE, NODE_ROLE, AwsEstate, kubernetes_resources, metadata_options

MOTO_ACCOUNT = "123456789012"
"""moto's default account: the estate is built for it (`build(scale, MOTO_ACCOUNT, aws_managed=False)`)."""


@dataclass(frozen=True)
class Seeded:
    issuer: str
    instance_ids: list[str]
    """Node n runs on instance_ids[n]."""
    calls: int
    """Seeding calls made (for the record)."""


def seed(estate: AwsEstate, endpoint: str, progress: Any = None) -> Seeded:
    import boto3

    def client(service: str) -> Any:
        return boto3.client(service, region_name=estate.region, endpoint_url=endpoint)

    iam, ec2, eks = client("iam"), client("ec2"), client("eks")
    calls = 0
    cluster = eks.create_cluster(
        name=estate.cluster,
        roleArn=estate.role_arn("bench-eks-cluster"),
        resourcesVpcConfig={"subnetIds": []},
    )["cluster"]
    issuer = cluster["identity"]["oidc"]["issuer"]
    iam.create_open_id_connect_provider(
        Url=issuer, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
    )
    calls += 2
    for name, doc in estate.policies:
        iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(doc))
        calls += 1
    for i, role in enumerate(estate.roles):
        iam.create_role(RoleName=role.name, AssumeRolePolicyDocument=json.dumps(estate.trust(role, issuer)))
        iam.put_role_policy(RoleName=role.name, PolicyName="inline", PolicyDocument=json.dumps(role.inline))
        for ref in role.managed:
            iam.attach_role_policy(RoleName=role.name, PolicyArn=estate.policy_arn(ref))
        calls += 2 + len(role.managed)
        if progress and i % 200 == 0:
            progress(f"seeded {i}/{len(estate.roles)} roles")
    node_trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName=NODE_ROLE, AssumeRolePolicyDocument=json.dumps(node_trust))
    iam.put_role_policy(
        RoleName=NODE_ROLE,
        PolicyName="node",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["ec2:DescribeInstances"], "Resource": "*"}],
            }
        ),
    )
    iam.create_instance_profile(InstanceProfileName=NODE_PROFILE)
    iam.add_role_to_instance_profile(InstanceProfileName=NODE_PROFILE, RoleName=NODE_ROLE)
    calls += 4
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    by_setting: dict[str, list[int]] = {}
    for n in range(estate.scale.nodes):
        by_setting.setdefault(json.dumps(metadata_options(n), sort_keys=True), []).append(n)
    ids: dict[int, str] = {}
    for setting, nodes in sorted(by_setting.items()):
        for start in range(0, len(nodes), 250):
            batch = nodes[start : start + 250]
            found = ec2.run_instances(
                ImageId=image,
                MinCount=len(batch),
                MaxCount=len(batch),
                InstanceType="m6i.large",
                Placement={"AvailabilityZone": f"{estate.region}a"},
                IamInstanceProfile={"Name": NODE_PROFILE},
                MetadataOptions=json.loads(setting),
            )["Instances"]
            calls += 1
            for n, inst in zip(batch, found, strict=True):
                ids[n] = inst["InstanceId"]
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][0]["SubnetId"]
    eks.create_nodegroup(
        clusterName=estate.cluster,
        nodegroupName="bench",
        nodeRole=estate.role_arn(NODE_ROLE),
        subnets=[subnet],
    )
    calls += 4
    return Seeded(issuer, [ids[n] for n in range(estate.scale.nodes)], calls)


def write_kubernetes(estate: AwsEstate, seeded: Seeded, out: Path) -> Path:
    """The Kubernetes half of the evidence directory (what `collect` starts from)."""
    k8s = out / "kubernetes" / estate.cluster
    k8s.mkdir(parents=True, exist_ok=True)
    (k8s / "resources.json").write_text(json.dumps(kubernetes_resources(estate, seeded.instance_ids)))
    config = {"issuer": seeded.issuer, "jwks_uri": f"{seeded.issuer}/keys"}
    (k8s / "openid-configuration.json").write_text(json.dumps(config))
    return out
