"""What the collector reads from the IAM documents it fetched: a role's managed policies, the OIDC
providers its trust names, its ARN as IAM compares it (role names are case-insensitive)."""

from __future__ import annotations

from typing import Any


def policy_refs(role: dict[str, Any]) -> list[str]:
    """The managed policies a role uses: attached, and its permissions boundary."""
    refs = [p["PolicyArn"] for p in role.get("AttachedManagedPolicies", [])]
    if boundary := role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn"):
        refs.append(boundary)
    return refs


def fold(arn: str) -> str:
    head, _, name = arn.rpartition("/")
    return f"{head}/{name.lower()}"


def federated(role: dict[str, Any]) -> set[str]:
    """The OIDC provider ARNs a role's trust policy names."""
    out: set[str] = set()
    statements = (role.get("AssumeRolePolicyDocument") or {}).get("Statement") or []
    for st in statements if isinstance(statements, list) else [statements]:
        principal = st.get("Principal") if isinstance(st, dict) else None
        federated = principal.get("Federated") if isinstance(principal, dict) else None
        for value in [federated] if isinstance(federated, str) else federated or []:
            if ":oidc-provider/" in str(value):
                out.add(str(value))
    return out


def partition_of_region(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
