"""Seed fixtures/aws/live/estate.json into moto (sequentially: moto's server races on parallel writes)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "aws" / "live"


@dataclass(frozen=True)
class Estate:
    account: str
    region: str
    cluster: str
    issuer: str
    instances: dict[str, str]
    """placeholder (INSTANCE_1) -> moto instance id."""
    associations: list[dict[str, Any]]
    """DescribePodIdentityAssociation `association` objects, for the front server."""
    spec: dict[str, Any]
    access_entries: list[dict[str, Any]]
    """DescribeAccessEntry `accessEntry` objects, each with its `associatedAccessPolicies` (ListAssociatedAccessPolicies
    items), for the front server."""

    def values(self) -> dict[str, str]:
        return {
            "ACCOUNT": self.account,
            "ISSUER": self.issuer,
            "ISSUER_HOST": self.issuer.removeprefix("https://"),
            "REGION": self.region,
            **self.instances,
        }

    @property
    def cluster_arn(self) -> str:
        return f"arn:aws:eks:{self.region}:{self.account}:cluster/{self.cluster}"

    def role_arn(self, name: str) -> str:
        return f"arn:aws:iam::{self.account}:role/{name}"

    def write_kubernetes(self, dest: Path) -> Path:
        """The Kubernetes half of an evidence directory for this estate, under `dest`."""
        src = FIXTURES / "kubernetes"
        shutil.copytree(src, dest / "kubernetes", dirs_exist_ok=True)
        for f in (dest / "kubernetes").rglob("*.json"):
            f.write_text(fill(f.read_text(), self.values()))
        return dest


def fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("${" + key + "}", value)
    return text


def seed(endpoint: str) -> Estate:
    spec = json.loads((FIXTURES / "estate.json").read_text())
    region, account, cluster = spec["region"], spec["account"], spec["cluster"]

    def client(service: str) -> Any:
        return boto3.client(service, region_name=region, endpoint_url=endpoint)

    iam, ec2, eks = client("iam"), client("ec2"), client("eks")
    created = eks.create_cluster(
        name=cluster,
        roleArn=f"arn:aws:iam::{account}:role/demo-eks-cluster",
        resourcesVpcConfig={"subnetIds": []},
    )["cluster"]
    issuer = created["identity"]["oidc"]["issuer"]
    values = {"ACCOUNT": account, "ISSUER": issuer, "ISSUER_HOST": issuer.removeprefix("https://")}
    iam.create_open_id_connect_provider(
        Url=issuer, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
    )
    iam.create_open_id_connect_provider(  # another cluster's provider in the same account
        Url="https://oidc.eks.eu-west-1.amazonaws.com/id/0THERC1USTER0000000000000000000",
        ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"],
    )
    for name, doc in spec["customer_policies"].items():
        iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(doc))
    # A second version made default: the collector must read the default, not v1.
    orders = f"arn:aws:iam::{account}:policy/orders-s3-read"
    doc = spec["customer_policies"]["orders-s3-read"]
    iam.create_policy_version(PolicyArn=orders, PolicyDocument=json.dumps(doc), SetAsDefault=True)

    def policy_arn(ref: str) -> str:
        if ref.startswith("aws:"):
            return f"arn:aws:iam::aws:policy/{ref[4:]}"
        return f"arn:aws:iam::{account}:policy/{ref}"

    for name, role in spec["roles"].items():
        sa = role.get("service_account", "")
        trust = fill(json.dumps(spec["trusts"][role["trust"]]), {**values, "SERVICE_ACCOUNT": sa.replace("/", ":")})
        kwargs: dict[str, Any] = {"RoleName": name, "AssumeRolePolicyDocument": trust}
        if role.get("boundary"):
            kwargs["PermissionsBoundary"] = policy_arn(role["boundary"])
        iam.create_role(**kwargs)
        for pname, pdoc in role.get("inline", {}).items():
            iam.put_role_policy(RoleName=name, PolicyName=pname, PolicyDocument=json.dumps(pdoc))
        for ref in role.get("managed", []):
            iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn(ref))
        if role.get("instance_profile"):
            iam.create_instance_profile(InstanceProfileName=role["instance_profile"])
            iam.add_role_to_instance_profile(InstanceProfileName=role["instance_profile"], RoleName=name)

    lt = spec["launch_template"]
    ec2.create_launch_template(LaunchTemplateName=lt["name"], LaunchTemplateData=lt["versions"][0])
    for data in lt["versions"][1:]:
        ec2.create_launch_template_version(LaunchTemplateName=lt["name"], LaunchTemplateData=data)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instances = {}
    for key, inst in spec["instances"].items():
        found = ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            InstanceType="m5.large",
            Placement={"AvailabilityZone": inst["zone"]},
            IamInstanceProfile={"Name": inst["profile"]},
            MetadataOptions=inst["metadata"],
        )["Instances"][0]
        instances[key] = found["InstanceId"]
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][0]["SubnetId"]
    ng = spec["nodegroup"]
    eks.create_nodegroup(
        clusterName=cluster,
        nodegroupName=ng["name"],
        nodeRole=f"arn:aws:iam::{account}:role/{ng['node_role']}",
        subnets=[subnet],
        launchTemplate={"name": lt["name"], "version": ng["launch_template_version"]},
    )
    associations = []
    for a in spec["pod_identity_associations"]:
        arn = f"arn:aws:eks:{region}:{account}:podidentityassociation/{cluster}/{a['associationId']}"
        associations.append(
            {
                "clusterName": cluster,
                "namespace": a["namespace"],
                "serviceAccount": a["serviceAccount"],
                "roleArn": f"arn:aws:iam::{account}:role/{a['role']}",
                "associationArn": arn,
                "associationId": a["associationId"],
                "tags": {},
                "createdAt": 1732600000.0,
                "modifiedAt": 1732600000.0,
                "disableSessionTags": False,
            }
        )
    return Estate(account, region, cluster, issuer, instances, associations, spec, _access_entries(spec, values))


def _access_entries(spec: dict[str, Any], values: dict[str, str]) -> list[dict[str, Any]]:
    """The estate's access entries as EKS describes them (moto has no access entries: the front server answers)."""
    region, account, cluster = spec["region"], spec["account"], spec["cluster"]
    out = []
    for i, e in enumerate(spec.get("access_entries", [])):
        principal = f"arn:aws:iam::{account}:role/{e['role']}"
        suffix = f"{cluster}/role/{account}/{e['role']}/{i:08x}"
        entry = {
            "clusterName": cluster,
            "principalArn": principal,
            "kubernetesGroups": e["kubernetesGroups"],
            "accessEntryArn": f"arn:aws:eks:{region}:{account}:access-entry/{suffix}",
            "createdAt": 1732600000.0,
            "modifiedAt": 1732600000.0,
            "tags": {},
            "username": fill(e["username"], values),
            "type": e["type"],
            "associatedAccessPolicies": [
                {
                    "policyArn": f"arn:aws:eks::aws:cluster-access-policy/{p['policy']}",
                    "accessScope": p["accessScope"],
                    "associatedAt": 1732600000.0,
                    "modifiedAt": 1732600000.0,
                }
                for p in e.get("policies", [])
            ],
        }
        out.append(entry)
    return out
