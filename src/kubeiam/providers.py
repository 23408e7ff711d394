"""The one place the core meets providers: the `kubeiam.providers` entry-point group."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol, runtime_checkable

from kubeiam.evidence import Evidence
from kubeiam.model import CoverageError, Inventory
from kubeiam.rules.base import Rule

GROUP = "kubeiam.providers"


@dataclass(frozen=True)
class CollectRequest:
    """What a live collection should fetch and where to write it."""

    options: argparse.Namespace
    """Parsed CLI options (each provider reads its own, e.g. `aws_profile`)."""
    output: Path
    """The evidence directory being written."""
    namespace: str | None = None
    """Only this namespace (audit --namespace)."""
    service_account: tuple[str, str] | None = None
    """Only this (namespace, name): `check` fetches just what one ServiceAccount needs."""
    progress: object | None = field(default=None, compare=False)
    """A `kubeiam.progress.Progress` or None."""


@runtime_checkable
class Provider(Protocol):
    name: str
    """`kubernetes`, `aws`, `gcp`, `azure`."""
    order: int
    """Read and collect order: kubernetes (0) first, clouds after it."""
    rules: tuple[Rule, ...]

    def add_arguments(self, group: argparse._ArgumentGroup) -> None:
        """Add this provider's live-collection options (`--aws-profile`, ...)."""

    def read(self, evidence: Evidence, inventory: Inventory) -> Inventory:
        """Normalise this provider's evidence files into the inventory (no network)."""

    def collect(self, request: CollectRequest, inventory: Inventory) -> Sequence[CoverageError]:
        """Fetch live state into `request.output`, for what `inventory` references."""


def load_providers() -> tuple[Provider, ...]:
    found = []
    for ep in entry_points(group=GROUP):
        provider = ep.load()
        found.append(provider)
    return tuple(sorted(found, key=lambda p: (p.order, p.name)))
