"""Google Cloud: GKE Workload Identity, the identities' roles and bindings, node metadata exposure."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import CollectRequest
from kubeiam.vocabulary.compliance import load_mapping
from kubeiam.vocabulary.model import CoverageError, Inventory
from kubeiam_gcp.declarations import DECLARATIONS, GCP, POWERS
from kubeiam_gcp.evidence.reader import read
from kubeiam_gcp.judge.power import gcp_power
from kubeiam_gcp.rules import RULES

POWERS[GCP] = gcp_power  # what K8S-006 asks of an identity (see declarations.POWERS)


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
        # A central audit: every ACTIVE project under these, sub-folders included (docs/gcp-live.md).
        group.add_argument(
            "--gcp-folder",
            action="append",
            dest="gcp_folders",
            metavar="ID",
            type=partial(_resource_id, "folders"),
            help="read every active project under this folder, sub-folders included, as if each were given "
            "with --gcp-project (repeatable)",
        )
        group.add_argument(
            "--gcp-organization",
            action="append",
            dest="gcp_organizations",
            metavar="ID",
            type=partial(_resource_id, "organizations"),
            help="read every active project of this organisation, as with --gcp-folder (repeatable)",
        )

    def read(self, evidence: Evidence, inventory: Inventory) -> Inventory:
        return read(evidence, inventory)

    def collect(self, request: CollectRequest, inventory: Inventory) -> Sequence[CoverageError]:
        from kubeiam_gcp.live import collect  # google-cloud clients only for live runs

        return collect(request, inventory)


def _resource_id(kind: str, value: str) -> str:
    """`123` or `folders/123` -> `folders/123`: Resource Manager names folders and organisations by number."""
    number = value.strip().removeprefix(f"{kind}/")
    if not number.isdigit():
        raise argparse.ArgumentTypeError(f"expected a number or {kind}/NUMBER, got {value!r}")
    return f"{kind}/{number}"


PROVIDER = GcpProvider()
