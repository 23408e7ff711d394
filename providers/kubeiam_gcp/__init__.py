"""Google Cloud: GKE Workload Identity, the identities' roles and bindings, node metadata exposure."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import CollectRequest
from kubeiam.vocabulary.compliance import load_mapping
from kubeiam.vocabulary.model import CoverageError, Inventory
from kubeiam_gcp.declarations import DECLARATIONS, GCP
from kubeiam_gcp.evidence.reader import read
from kubeiam_gcp.rules import RULES


class GcpProvider:
    name = GCP
    declarations = DECLARATIONS
    order = 10
    rules = RULES
    # The controls each rule evidences (CIS sections, ATT&CK techniques), with their sources.
    compliance = load_mapping(Path(__file__).parent / "data" / "compliance.json")

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
        return read(evidence, inventory)

    def collect(self, request: CollectRequest, inventory: Inventory) -> Sequence[CoverageError]:
        from kubeiam_gcp.live import collect  # google-cloud clients only for live runs

        return collect(request, inventory)


PROVIDER = GcpProvider()
