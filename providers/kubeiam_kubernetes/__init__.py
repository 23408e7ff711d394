"""Kubernetes: ServiceAccounts, pods and their owners, nodes, network policies, the token issuer."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import CollectRequest
from kubeiam.vocabulary.compliance import load_mapping
from kubeiam.vocabulary.model import CoverageError, Inventory
from kubeiam_kubernetes.declarations import DECLARATIONS
from kubeiam_kubernetes.evidence import reader
from kubeiam_kubernetes.rules import RULES


class KubernetesProvider:
    name = "kubernetes"
    declarations = DECLARATIONS
    order = 0
    rules = RULES
    # The controls each rule evidences (CIS sections, ATT&CK techniques), with their sources.
    compliance = load_mapping(Path(__file__).parent / "data" / "compliance.json")

    def add_arguments(self, group: argparse._ArgumentGroup) -> None:
        group.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
        group.add_argument(
            "--context",
            action="append",
            dest="contexts",
            metavar="CONTEXT",
            help="kubeconfig context to audit (repeatable; default: the current context, or in-cluster)",
        )
        group.add_argument(
            "--cluster-name",
            help="name for the cluster in findings and evidence (default: derived from the context)",
        )

    def read(self, evidence: Evidence, inventory: Inventory) -> Inventory:
        return reader.read(evidence, inventory)

    def collect(self, request: CollectRequest, inventory: Inventory) -> Sequence[CoverageError]:
        from kubeiam_kubernetes.live import collect  # the kubernetes SDK only for live runs

        return collect(request)


PROVIDER = KubernetesProvider()
