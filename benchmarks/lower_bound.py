"""The fewest AWS calls a collection needs, and the shortest wall time a concurrency limit allows.

Formulas (benchmarks/README.md explains each term):

    EKS   = DescribeCluster 1 + ListPodIdentityAssociations ceil(A/100) (at least 1)
            + [whole cluster] ListNodegroups ceil(G/100) + DescribeNodegroup G
            + ListAccessEntries ceil(E/100) (at least 1) + DescribeAccessEntry E
            + ListAssociatedAccessPolicies S                     (E access entries, S of them STANDARD)
    EC2   = DescribeInstances ceil(N/1000)                       (N instances behind the in-scope nodes)
    IAM   = min(per-role, bulk)
      per-role = GetInstanceProfile IP + (GetRole + ListRolePolicies + ListAttachedRolePolicies) R
                 + GetRolePolicy I + (GetPolicy + GetPolicyVersion) P
      bulk     = GetAccountAuthorizationDetails ceil((R_account + P_account) / page)
                 (page: the items AWS returns per page, 1000 = MaxItems' maximum unless it returns fewer)
    OIDC  = GetOpenIDConnectProvider O                           (each trusted provider, described once)
    USAGE = (GenerateServiceLastAccessedDetails + GetServiceLastAccessedDetails) U + ListAnalyzers 1
                                                                 (U roles of the in-scope ServiceAccounts; a job
                                                                  done at the first poll; no analyzer)

    T_bound = L * sum over services s of max(depth_s, ceil(calls_s / C_s))

R, I, P: distinct roles needed, their inline policies, the distinct managed policies attached to them;
IP: distinct instance profiles; O: OIDC providers the needed roles trust; L: latency per call; C_s:
the concurrency limit of service s; depth_s: the longest chain of calls that must wait for one
another (bulk pages follow markers, so all of them; per-role: ListAttachedRolePolicies -> GetPolicy
-> GetPolicyVersion, 3; bulk, then per-role: the pages, then 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GAAD_MAX_ITEMS = 1000
INSTANCE_BATCH = 1000
EKS_PAGE = 100


@dataclass(frozen=True)
class Needs:
    """What one collection has to read, counted."""

    roles: int
    inline_policies: int
    managed_policies: int
    instance_profiles: int = 0
    instances: int = 0
    nodegroups: int = 0
    pod_identity_associations: int = 0
    oidc_providers: int = 1
    account_roles: int = 0
    """Every role of the account (the bulk API returns them all)."""
    account_policies: int = 0
    """Customer managed policies plus the AWS managed policies attached to something."""
    whole_cluster: bool = True
    """False for `check` / `--namespace`: node groups are cluster-level and not fetched."""
    page_items: int = GAAD_MAX_ITEMS
    """Items per GetAccountAuthorizationDetails page the server returns (AWS may return fewer than asked)."""
    access_entries: int = 0
    standard_access_entries: int = 0
    """EKS access entries of the cluster, and those of type STANDARD (each with its access policies listed)."""
    usage_roles: int = 0
    """Roles whose usage data (AWS-024) is read: those the in-scope ServiceAccounts take."""


@dataclass(frozen=True)
class Bound:
    calls: dict[str, int]
    iam_strategy: str
    """`per-role` or `bulk`: whichever needs fewer calls."""

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def by_service(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for op, n in self.calls.items():
            service = op.split(":", 1)[0]
            out[service] = out.get(service, 0) + n
        return out


def per_role_calls(n: Needs) -> dict[str, int]:
    return {
        "iam:GetInstanceProfile": n.instance_profiles,
        "iam:GetRole": n.roles,
        "iam:ListRolePolicies": n.roles,
        "iam:GetRolePolicy": n.inline_policies,
        "iam:ListAttachedRolePolicies": n.roles,
        "iam:GetPolicy": n.managed_policies,
        "iam:GetPolicyVersion": n.managed_policies,
    }


def bulk_calls(n: Needs) -> dict[str, int]:
    items = max(n.account_roles, n.roles) + max(n.account_policies, n.managed_policies)
    return {"iam:GetAccountAuthorizationDetails": max(1, math.ceil(items / n.page_items))}


def lower_bound(n: Needs) -> Bound:
    calls = {
        "eks:DescribeCluster": 1,
        "eks:ListPodIdentityAssociations": max(1, math.ceil(n.pod_identity_associations / EKS_PAGE)),
    }
    if n.whole_cluster:
        calls["eks:ListNodegroups"] = max(1, math.ceil(n.nodegroups / EKS_PAGE))
        calls["eks:DescribeNodegroup"] = n.nodegroups
    calls["eks:ListAccessEntries"] = max(1, math.ceil(n.access_entries / EKS_PAGE))
    calls["eks:DescribeAccessEntry"] = n.access_entries
    calls["eks:ListAssociatedAccessPolicies"] = n.standard_access_entries
    calls["ec2:DescribeInstances"] = math.ceil(n.instances / INSTANCE_BATCH)
    per_role, bulk = per_role_calls(n), bulk_calls(n)
    strategy = "bulk" if sum(bulk.values()) < sum(per_role.values()) else "per-role"
    calls.update(bulk if strategy == "bulk" else per_role)
    calls["iam:GetOpenIDConnectProvider"] = n.oidc_providers
    calls["iam:GenerateServiceLastAccessedDetails"] = n.usage_roles
    calls["iam:GetServiceLastAccessedDetails"] = n.usage_roles
    calls["accessanalyzer:ListAnalyzers"] = 1 if n.usage_roles else 0
    return Bound({k: v for k, v in calls.items() if v}, strategy)


def wall_bound(calls: dict[str, int], latency: float, concurrency: dict[str, int], strategy: str) -> float:
    """Seconds: each service in turn, its calls spread over its concurrency limit, never below its depth."""
    total = 0.0
    for service, n in Bound(calls, strategy).by_service().items():
        if service == "iam":  # bulk pages follow markers, one after another; per-role reads are 3 deep
            pages = calls.get("iam:GetAccountAuthorizationDetails", 0)
            rest = math.ceil((n - pages) / concurrency.get(service, 1))
            total += latency * (pages + (rest if strategy == "bulk" else max(3, rest)))
            continue
        depth = 2 if service == "eks" and calls.get("eks:DescribeNodegroup") else 1
        total += latency * max(depth, math.ceil(n / concurrency.get(service, 1)))
    return total
