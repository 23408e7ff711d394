"""Kubernetes: ServiceAccounts, pods and their owners, nodes, network policies, the token issuer."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from kubeiam.evidence import Evidence
from kubeiam.model import CoverageError, Inventory
from kubeiam.providers import CollectRequest
from kubeiam_kubernetes.reader import read_kubernetes


class KubernetesProvider:
    name = "kubernetes"
    order = 0
    rules = ()  # the cloud-free rules live in the core (kubeiam.rules.kubernetes)

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
        return read_kubernetes(evidence, inventory)

    def collect(self, request: CollectRequest, inventory: Inventory) -> Sequence[CoverageError]:
        from kubeiam_kubernetes.live import collect  # the kubernetes SDK only for live runs

        return collect(request)


PROVIDER = KubernetesProvider()
