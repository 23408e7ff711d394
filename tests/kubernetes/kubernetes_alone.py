"""The Kubernetes provider alone, the cloud providers standing by only for what they declare: shared by the
Kubernetes tests (conftest) and the safety tests."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import CollectRequest, Provider, load_providers
from kubeiam.vocabulary.declarations import Declarations
from kubeiam.vocabulary.model import CoverageError, Inventory
from kubeiam.vocabulary.rules import Rule


@dataclass(frozen=True)
class DeclarationsOnly:
    """A cloud provider reduced to its declarations: it reads nothing, collects nothing, has no rules."""

    name: str
    order: int
    declarations: Declarations
    rules: tuple[Rule, ...] = ()

    def add_arguments(self, group: argparse._ArgumentGroup) -> None:
        return None

    def read(self, evidence: Evidence, inventory: Inventory) -> Inventory:
        return inventory

    def collect(self, request: CollectRequest, inventory: Inventory) -> Sequence[CoverageError]:
        return ()


def kubernetes_alone() -> tuple[Provider, ...]:
    """The Kubernetes provider, with the cloud providers standing by only for what they declare.

    Why their declarations: the Kubernetes reader and rules know a cloud's annotations and credential
    variables only from them (the pipeline merges every provider's before reading).
    """
    from kubeiam_kubernetes import PROVIDER

    clouds = [DeclarationsOnly(p.name, p.order, p.declarations) for p in load_providers() if p is not PROVIDER]
    return (PROVIDER, *clouds)
