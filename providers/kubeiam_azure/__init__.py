"""Azure: Azure Workload Identity, managed identities' role assignments and federated credentials, AKS.

Reading evidence needs no Azure package; live collection (`kubeiam_azure.live`) imports the SDK.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import CollectRequest
from kubeiam.vocabulary.compliance import load_mapping
from kubeiam.vocabulary.model import CoverageError, Inventory
from kubeiam_azure.declarations import AZURE, DECLARATIONS, POWERS
from kubeiam_azure.evidence import reader
from kubeiam_azure.judge.power import azure_power
from kubeiam_azure.rules import RULES

POWERS[AZURE] = azure_power  # what K8S-006 asks of an identity (see declarations.POWERS)


class AzureProvider:
    name = AZURE
    declarations = DECLARATIONS
    order = 10
    rules = RULES
    # The controls each rule evidences (CIS sections, ATT&CK techniques), with their sources.
    compliance = load_mapping(Path(__file__).parent / "data" / "compliance.json")

    def add_arguments(self, group: argparse._ArgumentGroup) -> None:
        group.add_argument(
            "--azure-subscription",
            action="append",
            dest="azure_subscriptions",
            metavar="ID",
            help="Azure subscription to read identities, role assignments and AKS clusters from "
            "(repeatable; default: the subscriptions the cluster nodes run in)",
        )
        group.add_argument(
            "--azure-management-group",
            action="append",
            dest="azure_management_groups",
            metavar="ID",
            help="read every subscription under this management group, all levels, as if each were given "
            "with --azure-subscription (repeatable)",
        )

    def read(self, evidence: Evidence, inventory: Inventory) -> Inventory:
        return reader.read(evidence, inventory)

    def collect(self, request: CollectRequest, inventory: Inventory) -> Sequence[CoverageError]:
        from kubeiam_azure.live import collect  # the Azure SDK only for live runs

        return collect(request, inventory)


PROVIDER = AzureProvider()
