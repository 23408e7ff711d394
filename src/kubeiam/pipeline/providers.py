"""The one place the core meets providers: the `kubeiam.providers` entry-point group."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol, runtime_checkable

from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.declarations import Declarations
from kubeiam.vocabulary.model import CoverageError, Inventory
from kubeiam.vocabulary.rules import Rule

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
    """A `kubeiam.pipeline.progress.Progress` or None."""
    clouds: tuple[str, ...] = ()
    """Only these clouds (`--cloud`); empty: all. Clouds left out are not queried, and their
    annotations come out `unchecked` when reading."""

    def collects(self, provider: Provider) -> bool:
        """Whether `provider` collects in this run (one that declares no cloud, Kubernetes, always does)."""
        declared = provider.declarations.clouds
        return not self.clouds or not declared or any(c in self.clouds for c in declared)


@runtime_checkable
class Provider(Protocol):
    name: str
    """`kubernetes`, `aws`, `gcp`, `azure`."""
    order: int
    """Read and collect order: kubernetes (0) first, clouds after it."""
    rules: tuple[Rule, ...]
    declarations: Declarations
    """Its cloud's name, identity annotations, credential variables and node scheme (the core names none)."""

    def add_arguments(self, group: argparse._ArgumentGroup) -> None:
        """Add this provider's live-collection options (`--aws-profile`, ...)."""

    def read(self, evidence: Evidence, inventory: Inventory) -> Inventory:
        """Normalise this provider's evidence files into the inventory (no network)."""

    def collect(self, request: CollectRequest, inventory: Inventory) -> Sequence[CoverageError]:
        """Fetch live state into `request.output`, for what `inventory` references."""


def load_providers() -> tuple[Provider, ...]:
    found = [ep.load() for ep in entry_points(group=GROUP)]
    return tuple(sorted(found, key=lambda p: (p.order, p.name)))


def all_rules(providers: Iterable[Provider]) -> tuple[Rule, ...]:
    """Every provider's rules, in provider order, with the controls each evidences (the provider's
    `compliance` mapping); a rule id declared twice is a bug, not a choice."""
    rules = []
    for provider in providers:
        mapping = getattr(provider, "compliance", None) or {}
        rules += [replace(r, compliance=mapping.get(r.id, r.compliance)) for r in provider.rules]
    ids = [r.id for r in rules]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise RuntimeError(f"duplicate rule ids: {sorted(duplicates)}")
    return tuple(rules)


def declarations_of(providers: Iterable[Provider]) -> Declarations:
    return Declarations.merge(p.declarations for p in providers)
