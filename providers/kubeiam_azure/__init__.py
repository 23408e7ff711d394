"""azure: placeholder until the azure provider lands; reads nothing, so its annotations stay unchecked."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from kubeiam.evidence import Evidence
from kubeiam.model import CoverageError, Inventory
from kubeiam.providers import CollectRequest


class _Provider:
    name = "azure"
    order = 10
    rules = ()

    def add_arguments(self, group: argparse._ArgumentGroup) -> None:
        pass

    def read(self, evidence: Evidence, inventory: Inventory) -> Inventory:
        return inventory

    def collect(self, request: CollectRequest, inventory: Inventory) -> Sequence[CoverageError]:
        return ()


PROVIDER = _Provider()
