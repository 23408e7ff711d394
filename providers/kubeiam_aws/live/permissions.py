"""The IAM permissions live collection uses: exactly the API operations its code calls.

One document, `kubeiam_aws/data/kubeiam-readonly-policy.json`, printed by docs/aws.md and docs/aws-live.md;
a test checks that the code calls nothing else and that kubeiam, auditing this policy, finds nothing above low.
`sts:GetCallerIdentity` is also called (only when no EKS cluster tells whose credentials these are); it
needs no permission and cannot be denied, so the policy does not name it.

Why `Resource: *`: every one of these is a List/Read action; the EKS and EC2 Describe/List calls and
IAM's account-wide reads support no narrower resource, and scoping GetRole to the roles in use would
have to be rewritten every time a ServiceAccount names a new role.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any


def policy_document() -> dict[str, Any]:
    """The minimal identity policy for `kubeiam collect` / live `audit` and `check`."""
    return json.loads(files("kubeiam_aws").joinpath("data/kubeiam-readonly-policy.json").read_text(encoding="utf-8"))


def actions() -> list[str]:
    return [a for s in policy_document()["Statement"] for a in s["Action"]]
