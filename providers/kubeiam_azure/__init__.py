"""Azure: Azure Workload Identity, managed identities' role assignments and federated credentials, AKS.

Reading evidence needs no Azure package; live collection (`kubeiam_azure.live`) imports the SDK.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from kubeiam.evidence import Evidence
from kubeiam.model import CoverageError, Inventory
from kubeiam.providers import CollectRequest
from kubeiam_azure.reader import read_azure
from kubeiam_azure.rules_binding import BINDING_RULES
from kubeiam_azure.rules_grants import GRANT_RULES

RULES = GRANT_RULES + BINDING_RULES


class AzureProvider:
    name = "azure"
    order = 10
    rules = RULES

    def add_arguments(self, group: argparse._ArgumentGroup) -> None:
        group.add_argument(
            "--azure-subscription",
            action="append",
            dest="azure_subscriptions",
            metavar="ID",
            help="Azure subscription to read identities, role assignments and AKS clusters from "
            "(repeatable; default: the subscriptions the cluster nodes run in)",
        )

    def read(self, evidence: Evidence, inventory: Inventory) -> Inventory:
        return read_azure(evidence, inventory)

    def collect(self, request: CollectRequest, inventory: Inventory) -> Sequence[CoverageError]:
        from kubeiam_azure.live import collect  # the Azure SDK only for live runs

        return collect(request, inventory)


PROVIDER = AzureProvider()
