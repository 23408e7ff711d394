"""AWS: IRSA and EKS Pod Identity roles, their trust and permissions, and the nodes' IMDS settings."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import CollectRequest
from kubeiam.vocabulary.compliance import load_mapping
from kubeiam.vocabulary.model import CoverageError, Inventory
from kubeiam_aws.declarations import AWS, DECLARATIONS, POWERS
from kubeiam_aws.evidence import reader
from kubeiam_aws.judge.power import aws_power
from kubeiam_aws.rules import RULES

POWERS[AWS] = aws_power  # what K8S-006 asks of an identity (see declarations.POWERS)


class AwsProvider:
    name = AWS
    declarations = DECLARATIONS
    order = 10
    rules = RULES
    # The controls each rule evidences (CIS sections, ATT&CK techniques), with their sources.
    compliance = load_mapping(Path(__file__).parent / "data" / "compliance.json")

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
        # A central audit: a role assumed in each account the audit needs (docs/aws-live.md).
        group.add_argument(
            "--aws-org",
            metavar="ROLE_NAME",
            help="read roles in other accounts of the AWS organization by assuming this read-only role in each "
            "(the accounts it needs only, ACTIVE ones listed by organizations:ListAccounts)",
        )
        group.add_argument(
            "--aws-accounts",
            action="append",
            metavar="ID,...",
            help="with --aws-org: the accounts it may assume the role in, instead of asking Organizations (repeatable)",
        )

    def read(self, evidence: Evidence, inventory: Inventory) -> Inventory:
        return reader.read(evidence, inventory)

    def check_options(self, options: argparse.Namespace) -> None:
        """A mistyped --aws-profile is a usage error before anything is collected (boto3 only then)."""
        from kubeiam_aws.live import check_options

        check_options(options)

    def collect(self, request: CollectRequest, inventory: Inventory) -> Sequence[CoverageError]:
        from kubeiam_aws.live import collect  # boto3 only for live runs

        return collect(request, inventory)


PROVIDER = AwsProvider()
