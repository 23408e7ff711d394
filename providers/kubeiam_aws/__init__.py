"""AWS: IRSA and EKS Pod Identity roles, their trust and permissions, and the nodes' IMDS settings."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from kubeiam.evidence import Evidence
from kubeiam.model import CoverageError, Inventory
from kubeiam.providers import CollectRequest
from kubeiam_aws.reader import read_aws
from kubeiam_aws.rules_nodes import NODE_RULES
from kubeiam_aws.rules_permissions import PERMISSION_RULES
from kubeiam_aws.rules_trust import TRUST_RULES

AWS_RULES = TRUST_RULES + PERMISSION_RULES + NODE_RULES


class AwsProvider:
    name = "aws"
    order = 10
    rules = AWS_RULES

    def add_arguments(self, group: argparse._ArgumentGroup) -> None:
        group.add_argument(
            "--aws-profile", help="AWS profile for live collection (default: the default credential chain)"
        )
        group.add_argument(
            "--aws-region", help="AWS region (default: from each cluster's nodes, else the profile's region)"
        )
        group.add_argument(
            "--aws-account-profile",
            action="append",
            dest="aws_account_profiles",
            metavar="ACCOUNT=PROFILE",
            help="profile to read roles in another AWS account with (repeatable)",
        )

    def read(self, evidence: Evidence, inventory: Inventory) -> Inventory:
        return read_aws(evidence, inventory)

    def collect(self, request: CollectRequest, inventory: Inventory) -> Sequence[CoverageError]:
        from kubeiam_aws.live import collect  # boto3 only for live runs

        return collect(request, inventory)


PROVIDER = AwsProvider()
