"""The IAM policy kubeiam documents for itself: what the code calls, nothing more, and harmless."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import boto3

REPO = Path(__file__).resolve().parents[3]
LIVE = REPO / "providers" / "kubeiam_aws" / "live"
ACCOUNT = "123456789012"
ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/5C5E1F0A6B0C4D3E2F1A0B9C8D7E6F50"


def policy_document() -> dict[str, Any]:
    """The minimal identity policy for live collection, as the package ships it."""
    return json.loads(files("kubeiam_aws").joinpath("data/kubeiam-readonly-policy.json").read_text(encoding="utf-8"))


def actions() -> list[str]:
    return [a for s in policy_document()["Statement"] for a in s["Action"]]


def test_the_docs_print_exactly_this_policy() -> None:
    text = (REPO / "docs" / "aws-live.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    assert [json.loads(b) for b in blocks] == [policy_document()]


def test_the_code_calls_exactly_the_listed_operations() -> None:
    """Every `call(...)`/`pages(...)` operation in the code is in the policy, and the policy has no extra."""
    used: set[str] = set()
    for path in LIVE.glob("*.py"):
        used.update(re.findall(r"\"((?:get|list|describe)_[a-z_]+)\"", path.read_text()))
    clients = {s: boto3.client(s, region_name="us-east-1") for s in ("iam", "eks", "ec2", "sts")}
    mapped = set()
    for op in used:
        owners = [f"{s}:{c.meta.method_to_api_mapping[op]}" for s, c in clients.items() if hasattr(c, op)]
        assert len(owners) == 1, op
        mapped.add(owners[0])
    assert len(used) >= 15
    assert mapped - {"sts:GetCallerIdentity"} == set(actions())


# kubeiam auditing this policy: tests/aws/test_aws_rules.py::test_kubeiams_own_read_only_policy_is_low_at_most
