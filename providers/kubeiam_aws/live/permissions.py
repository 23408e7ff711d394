"""The IAM permissions live collection uses: exactly the API operations its code calls.

docs/aws-live.md prints `policy_document()`; a test checks that the code calls nothing else and that
kubeiam, auditing this policy, finds nothing above low.
"""

from __future__ import annotations

from typing import Any

OPERATIONS: dict[str, tuple[str, ...]] = {
    "eks": (
        "DescribeCluster",
        "ListClusters",  # only when no EKS cluster has the Kubernetes cluster's name
        "ListNodegroups",
        "DescribeNodegroup",
        "ListPodIdentityAssociations",
        "DescribePodIdentityAssociation",
    ),
    "ec2": ("DescribeInstances", "DescribeLaunchTemplateVersions"),
    "iam": (
        "GetAccountSummary",
        "GetAccountAuthorizationDetails",
        "GetRole",
        "ListRolePolicies",
        "GetRolePolicy",
        "ListAttachedRolePolicies",
        "GetPolicy",
        "GetPolicyVersion",
        "GetInstanceProfile",
        "ListOpenIDConnectProviders",
        "GetOpenIDConnectProvider",
    ),
    # sts:GetCallerIdentity is also called (only when no EKS cluster tells whose credentials these
    # are); it needs no permission and cannot be denied, so the policy does not name it.
}


def actions() -> list[str]:
    return [f"{service}:{op}" for service, ops in OPERATIONS.items() for op in ops]


def policy_document() -> dict[str, Any]:
    """The minimal identity policy for `kubeiam collect` / live `audit` and `check`.

    Why `Resource: *`: every one of these is a List/Read action; the EKS and EC2 Describe/List
    calls and IAM's account-wide reads support no narrower resource, and scoping GetRole to the
    roles in use would have to be rewritten every time a ServiceAccount names a new role.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "KubeiamReadOnly",
                "Effect": "Allow",
                "Action": actions(),
                "Resource": "*",
            }
        ],
    }
