"""Google Cloud: GKE Workload Identity, the identities' roles and bindings, node metadata exposure."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from kubeiam.evidence import Evidence
from kubeiam.model import CoverageError, Inventory
from kubeiam.providers import CollectRequest
from kubeiam_gcp.reader import read_gcp
from kubeiam_gcp.rules import GCP_RULES


class GcpProvider:
    name = "gcp"
    order = 10
    rules = GCP_RULES

    def add_arguments(self, group: argparse._ArgumentGroup) -> None:
        group.add_argument(
            "--gcp-project",
            action="append",
            dest="gcp_projects",
            metavar="PROJECT",
            help="Google Cloud project to read (repeatable; default: the projects the GKE clusters and "
            "annotations name)",
        )

    def read(self, evidence: Evidence, inventory: Inventory) -> Inventory:
        return read_gcp(evidence, inventory)

    def collect(self, request: CollectRequest, inventory: Inventory) -> Sequence[CoverageError]:
        from kubeiam_gcp.live import collect  # google-cloud clients only for live runs

        return collect(request, inventory)


PROVIDER = GcpProvider()
