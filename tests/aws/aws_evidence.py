"""Build small evidence directories in the exact shapes of docs/evidence.md (kubectl and aws CLI output).

Used by the AWS tests and by `python tests/aws/make_rule_fixtures.py` (which regenerates fixtures/rules/AWS-*).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

ACCOUNT = "111122223333"
REGION = "eu-west-1"
ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
HOST = ISSUER.removeprefix("https://")
CREATED = "2024-05-02T10:00:00+00:00"
CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "aws" / "corpus"


@lru_cache(maxsize=1)
def managed_policies() -> dict[str, dict[str, Any]]:
    """Every AWS managed policy (1,643, fixtures/aws/corpus), by name: {arn, version, deprecated, document}."""
    with gzip.open(CORPUS / "aws-managed-policies.json.gz") as f:
        return json.load(f)["policies"]


def write(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")


def provider_arn(account: str = ACCOUNT, host: str = HOST) -> str:
    return f"arn:aws:iam::{account}:oidc-provider/{host}"


def role_arn(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def irsa_trust(namespace: str, name: str, *, host: str = HOST, account: str = ACCOUNT) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn(account, host)},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{host}:aud": "sts.amazonaws.com",
                        f"{host}:sub": f"system:serviceaccount:{namespace}:{name}",
                    }
                },
            }
        ],
    }


def pod_identity_trust(**conditions: Any) -> dict[str, Any]:
    stmt: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
    }
    if conditions:
        stmt["Condition"] = conditions
    return {"Version": "2012-10-17", "Statement": [stmt]}


def doc(*statements: Mapping[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions: str | list[str], resources: str | list[str] = "*", **condition: Any) -> dict[str, Any]:
    s: dict[str, Any] = {"Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        s["Condition"] = condition
    return s


def deny(actions: str | list[str], resources: str | list[str] = "*") -> dict[str, Any]:
    return {"Effect": "Deny", "Action": actions, "Resource": resources}


def role(
    name: str,
    trust: Mapping[str, Any],
    *,
    inline: Mapping[str, Mapping[str, Any]] | None = None,
    attached: Iterable[str] = (),
    boundary: str | None = None,
    profiles: Iterable[str] = (),
    account: str = ACCOUNT,
    created: str = CREATED,
) -> dict[str, Any]:
    arn = role_arn(name, account)
    out: dict[str, Any] = {
        "Path": "/",
        "RoleName": name,
        "RoleId": "AROA" + (name.upper().replace("-", "") + "X" * 17)[:17],
        "Arn": arn,
        "CreateDate": created,
        "AssumeRolePolicyDocument": trust,
        "InstanceProfileList": [
            {"Path": "/", "InstanceProfileName": p, "Arn": f"arn:aws:iam::{account}:instance-profile/{p}"}
            for p in profiles
        ],
        "RolePolicyList": [{"PolicyName": k, "PolicyDocument": v} for k, v in (inline or {}).items()],
        "AttachedManagedPolicies": [{"PolicyName": a.rsplit("/", 1)[-1], "PolicyArn": a} for a in attached],
        "Tags": [],
        "RoleLastUsed": {},
    }
    if boundary:
        out["PermissionsBoundary"] = {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": boundary}
    return out


def policy_arn(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:policy/{name}"


def policy(arn: str, document: Mapping[str, Any] | str, version: str = "v1") -> dict[str, Any]:
    return {
        "PolicyName": arn.rsplit("/", 1)[-1],
        "PolicyId": "ANPA" + (arn.rsplit("/", 1)[-1].upper().replace("-", "") + "X" * 17)[:17],
        "Arn": arn,
        "Path": "/",
        "DefaultVersionId": version,
        "AttachmentCount": 1,
        "PermissionsBoundaryUsageCount": 0,
        "IsAttachable": True,
        "CreateDate": CREATED,
        "UpdateDate": CREATED,
        "PolicyVersionList": [
            {"Document": document, "VersionId": version, "IsDefaultVersion": True, "CreateDate": CREATED}
        ],
    }


def iam(root: Path, roles: list[dict[str, Any]], policies: list[dict[str, Any]] = (), account: str = ACCOUNT) -> None:
    write(
        root / "aws" / account / "iam.json",
        {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": list(roles), "Policies": list(policies)},
    )


def oidc_providers(root: Path, hosts: Iterable[str] = (HOST,), account: str = ACCOUNT) -> None:
    write(
        root / "aws" / account / "oidc-providers.json",
        {
            "OpenIDConnectProviderList": [
                {"Arn": provider_arn(account, h), "Url": h, "ClientIDList": ["sts.amazonaws.com"], "ThumbprintList": []}
                for h in hosts
            ]
        },
    )


def service_account(namespace: str, name: str, role: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if role:
        meta["annotations"] = {"eks.amazonaws.com/role-arn": role}
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}


def pod(namespace: str, name: str, sa: str, node: str, *, host_network: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "serviceAccountName": sa,
        "nodeName": node,
        "containers": [{"name": "app", "image": "app:1"}],
    }
    if host_network:
        spec["hostNetwork"] = True
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def node(name: str, instance_id: str, zone: str = "eu-west-1a") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {"providerID": f"aws:///{zone}/{instance_id}"},
    }


def cluster(root: Path, items: list[dict[str, Any]], *, name: str = "eks-test", issuer: str | None = ISSUER) -> None:
    base = root / "kubernetes" / name
    write(
        base / "resources.json",
        {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items},
    )
    if issuer:
        write(base / "openid-configuration.json", {"issuer": issuer, "jwks_uri": f"{issuer}/keys"})


def rbac(root: Path, items: Iterable[dict[str, Any]] = (), *, name: str = "eks-test") -> None:
    """`kubectl get roles,rolebindings,clusterroles,clusterrolebindings -A -o json` of the cluster: with it the
    Kubernetes side is whole (without it, K8S-006 names the absent file in coverage: docs/evidence.md)."""
    write(
        root / "kubernetes" / name / "rbac.json",
        {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": list(items)},
    )


def instances(root: Path, specs: list[tuple[str, str, str, int]], account: str = ACCOUNT, region: str = REGION) -> None:
    """specs: (instance id, instance profile name, HttpTokens, hop limit)."""
    write(
        root / "aws" / account / region / "ec2-instances.json",
        {
            "Reservations": [
                {
                    "Groups": [],
                    "OwnerId": account,
                    "ReservationId": "r-0" + iid[-16:],
                    "Instances": [
                        {
                            "InstanceId": iid,
                            "InstanceType": "m6i.large",
                            "State": {"Code": 16, "Name": "running"},
                            "IamInstanceProfile": {
                                "Arn": f"arn:aws:iam::{account}:instance-profile/{profile}",
                                "Id": "AIPAX",
                            },
                            "MetadataOptions": {
                                "State": "applied",
                                "HttpTokens": tokens,
                                "HttpPutResponseHopLimit": hop,
                                "HttpEndpoint": "enabled",
                                "HttpProtocolIpv6": "disabled",
                                "InstanceMetadataTags": "disabled",
                            },
                            "Tags": [],
                        }
                    ],
                }
                for iid, profile, tokens, hop in specs
            ]
        },
    )


NODE_TRUST = doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})
