"""Write a synthetic EKS estate (`estate.py`) as an evidence directory (docs/evidence.md shapes).

S ServiceAccounts spread over namespaces, R IAM roles (IRSA trust for the ServiceAccounts that use
them; 2 customer managed policies and 1 inline policy each, 2% with an AWS managed policy too), P
customer managed policies, N nodes (every 10th allows IMDSv1). Deterministic for a seed.
`--managed-policies CORPUS` writes the second AWS estate instead (`managed_estate.py`): each role has 2 real
AWS managed policies attached and 1 inline policy, all drawn from the vendored corpus. `--assume-chains` strings
10% of the roles into `sts:AssumeRole` chains of up to 5 roles (`reach_estate.py`): reach through other roles.
With `KUBEIAM_BENCH_USAGE=1` (as for the other clouds) every IRSA role also gets usage data (`usage_estate.py`:
its service-last-accessed job and RoleLastUsed, AWS-024).

    python benchmarks/generate.py OUT --service-accounts 20000 --roles 5000 --policies 300 --nodes 500
    python benchmarks/generate.py OUT --managed-policies fixtures/aws/corpus/aws-managed-policies.json.gz
    python benchmarks/generate.py OUT --assume-chains
    python benchmarks/generate.py OUT --cloud gcp --service-accounts 20000 --identities 5000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from estate import (
    AWS_MANAGED_DOCS,
    ISSUER,
    NODE_POLICY,
    NODE_PROFILE,
    NODE_ROLE,
    AwsEstate,
    Scale,
    build,
    kubernetes_resources,
    metadata_options,
)

DATE = "2026-01-01T00:00:00+00:00"


USAGE_VAR = "KUBEIAM_BENCH_USAGE"
"""Set to 1 to write usage data for every role (issue 14) when no `usage` argument says otherwise."""


def generate(
    out: Path,
    service_accounts: int,
    roles: int,
    policies: int,
    nodes: int,
    seed: int = 7,
    *,
    chains: bool = False,
    usage: bool | None = None,
) -> AwsEstate:
    """Write the AWS estate of this scale under `out`; return it. `chains`: 10% of the roles in AssumeRole chains;
    `usage`: every IRSA role's usage data too (default: `$KUBEIAM_BENCH_USAGE`)."""
    estate = build(Scale(service_accounts, roles, policies, nodes, seed))
    usage = os.environ.get(USAGE_VAR) == "1" if usage is None else usage
    iam = iam_document(estate) if chains or usage else None
    if chains and iam is not None:
        from reach_estate import add_assume_chains

        add_assume_chains(iam, seed=seed)
    if usage and iam is not None:
        from usage_estate import add_usage

        last_accessed = add_usage(iam, estate.region, seed, skip=[NODE_ROLE])
        dump(out / "aws" / estate.account / "service-last-accessed.json", last_accessed)
    write_aws_evidence(estate, out, iam)
    return estate


def generate_managed(
    out: Path, service_accounts: int, roles: int, nodes: int, corpus: Path, seed: int = 7
) -> AwsEstate:
    """Write the managed-policy estate (`managed_estate.py`) of this scale under `out`; return it."""
    from managed_estate import build_managed, load_corpus

    estate, attached = build_managed(Scale(service_accounts, roles, 0, nodes, seed), load_corpus(corpus))
    write_aws_evidence(estate, out, managed_iam_document(estate, attached))
    return estate


def managed_iam_document(estate: AwsEstate, attached: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """get-account-authorization-details of the managed estate: its roles and the AWS managed policies they use."""
    doc = iam_document(replace(estate, roles=()))
    doc["Policies"] += [_managed(arn, arn.rsplit("/", 1)[-1], d, 0) for arn, d in sorted(attached.items())]
    roles = []
    for i, r in enumerate(estate.roles):
        role = _role(estate, r.name, i, estate.trust(r, ISSUER), [r.inline], [], [])
        role["AttachedManagedPolicies"] = [{"PolicyName": a.rsplit("/", 1)[-1], "PolicyArn": a} for a in r.managed]
        roles.append(role)
    doc["RoleDetailList"] = roles + doc["RoleDetailList"]  # the node role, last
    return doc


def iam_document(estate: AwsEstate, issuer: str = ISSUER) -> dict[str, Any]:
    """`aws iam get-account-authorization-details` for the estate (pages merged)."""
    used_aws = sorted({m[4:] for r in estate.roles for m in r.managed if m.startswith("aws:")} | {NODE_POLICY})
    managed = [_managed(estate.policy_arn(name), name, doc, i) for i, (name, doc) in enumerate(estate.policies)]
    managed += [_managed(estate.policy_arn(f"aws:{name}"), name, AWS_MANAGED_DOCS[name], 0) for name in used_aws]
    roles = [
        _role(estate, r.name, i, estate.trust(r, issuer), [r.inline], list(r.managed), [])
        for i, r in enumerate(estate.roles)
    ]
    node_trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    profile = {
        "InstanceProfileName": NODE_PROFILE,
        "Arn": f"arn:aws:iam::{estate.account}:instance-profile/{NODE_PROFILE}",
        "Path": "/",
        "InstanceProfileId": "AIPANODE",
        "CreateDate": DATE,
        "Roles": [],
    }
    roles.append(_role(estate, NODE_ROLE, len(roles), node_trust, [], [f"aws:{NODE_POLICY}"], [profile]))
    return {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": roles, "Policies": managed}


def _managed(arn: str, name: str, doc: dict[str, Any], i: int) -> dict[str, Any]:
    version = {"Document": doc, "VersionId": "v1", "IsDefaultVersion": True, "CreateDate": DATE}
    return {
        "PolicyName": name,
        "PolicyId": f"ANPA{i:016d}" if ":aws:policy/" not in arn else f"ANPA{name.upper()[:16]}",
        "Arn": arn,
        "Path": "/",
        "DefaultVersionId": "v1",
        "AttachmentCount": 1,
        "IsAttachable": True,
        "CreateDate": DATE,
        "UpdateDate": DATE,
        "PolicyVersionList": [version],
    }


def _role(
    estate: AwsEstate,
    name: str,
    i: int,
    trust: dict[str, Any],
    inline: list[dict[str, Any]],
    managed: list[str],
    profiles: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "Path": "/",
        "RoleName": name,
        "RoleId": f"AROA{i:017d}",
        "Arn": estate.role_arn(name),
        "CreateDate": DATE,
        "AssumeRolePolicyDocument": trust,
        "InstanceProfileList": profiles,
        "RolePolicyList": [{"PolicyName": "inline", "PolicyDocument": d} for d in inline],
        "AttachedManagedPolicies": [
            {"PolicyName": m.removeprefix("aws:"), "PolicyArn": estate.policy_arn(m)} for m in managed
        ],
        "Tags": [],
        "RoleLastUsed": {},
    }


def instance_ids(nodes: int) -> list[str]:
    return [f"i-{n:017x}" for n in range(nodes)]


def write_aws_evidence(estate: AwsEstate, out: Path, iam: dict[str, Any] | None = None) -> None:
    ids = instance_ids(estate.scale.nodes)
    k8s = out / "kubernetes" / estate.cluster
    aws = out / "aws" / estate.account
    eks = aws / estate.region / "eks" / estate.cluster
    for d in (k8s, eks):
        d.mkdir(parents=True, exist_ok=True)
    dump(k8s / "resources.json", kubernetes_resources(estate, ids))
    dump(k8s / "openid-configuration.json", {"issuer": ISSUER, "jwks_uri": f"{ISSUER}/keys"})
    dump(aws / "iam.json", iam if iam is not None else iam_document(estate))
    host = ISSUER.removeprefix("https://")
    provider = {
        "Arn": f"arn:aws:iam::{estate.account}:oidc-provider/{host}",
        "Url": host,
        "ClientIDList": ["sts.amazonaws.com"],
        "ThumbprintList": ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"],
        "CreateDate": DATE,
    }
    dump(aws / "oidc-providers.json", {"OpenIDConnectProviderList": [provider]})
    instances = [
        {
            "InstanceId": iid,
            "InstanceType": "m6i.large",
            "PrivateDnsName": estate.node_name(n),
            "IamInstanceProfile": {
                "Arn": f"arn:aws:iam::{estate.account}:instance-profile/{NODE_PROFILE}",
                "Id": "AIPANODE",
            },
            "MetadataOptions": {
                "State": "applied",
                **metadata_options(n),
                "HttpProtocolIpv6": "disabled",
                "InstanceMetadataTags": "disabled",
            },
            "State": {"Code": 16, "Name": "running"},
            "Placement": {"AvailabilityZone": f"{estate.region}a"},
        }
        for n, iid in enumerate(ids)
    ]
    reservation = {"ReservationId": "r-bench", "OwnerId": estate.account, "Groups": [], "Instances": instances}
    dump(aws / estate.region / "ec2-instances.json", {"Reservations": [reservation]})
    cluster = {
        "name": estate.cluster,
        "arn": f"arn:aws:eks:{estate.region}:{estate.account}:cluster/{estate.cluster}",
        "version": "1.31",
        "identity": {"oidc": {"issuer": ISSUER}},
        "status": "ACTIVE",
    }
    dump(eks / "cluster.json", {"cluster": cluster})
    # What a collection writes for a cluster without node groups or associations (absent would mean unknown).
    dump(eks / "nodegroups.json", {"nodegroups": []})
    dump(eks / "pod-identity-associations.json", {"associations": []})


def dump(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, separators=(",", ":")))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--cloud", choices=("aws", "gcp", "azure"), default="aws")
    p.add_argument("--service-accounts", type=int, default=20_000)
    p.add_argument("--roles", "--identities", dest="roles", type=int, default=5_000)
    p.add_argument("--policies", type=int, default=300, help="AWS managed policies; custom roles for GCP/Azure")
    p.add_argument("--nodes", type=int, default=500)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--managed-policies",
        type=Path,
        metavar="CORPUS",
        help="AWS: the estate of real AWS managed policies (2 attached + 1 inline per role) from this corpus file",
    )
    p.add_argument(
        "--assume-chains", action="store_true", help="AWS: 10%% of the roles in sts:AssumeRole chains of up to 5 roles"
    )
    a = p.parse_args()
    if a.cloud == "aws" and a.managed_policies:
        generate_managed(a.out, a.service_accounts, a.roles, a.nodes, a.managed_policies, a.seed)
    elif a.cloud == "aws":
        generate(a.out, a.service_accounts, a.roles, a.policies, a.nodes, a.seed, chains=a.assume_chains)
    else:
        import other_clouds

        other_clouds.generate(a.cloud, a.out, Scale(a.service_accounts, a.roles, a.policies, a.nodes, a.seed))
    print(a.out)


if __name__ == "__main__":
    main()
