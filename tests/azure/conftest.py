"""Shared helpers for the Azure tests: build evidence in tmp_path, read it, audit it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from azure_builder import Scenario

from kubeiam.pipeline.audit import audit, read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers
from kubeiam.pipeline.report import Report
from kubeiam.vocabulary.model import Inventory


@pytest.fixture(scope="session")
def providers():
    return load_providers()


@pytest.fixture
def inventory_of(tmp_path, providers):
    def read(scenario: Scenario, *, rest: bool = False) -> Inventory:
        root = scenario.write(tmp_path / ("rest" if rest else "cli"), rest=rest)
        return read_inventory(Evidence(root), providers)

    return read


@pytest.fixture
def audit_of(tmp_path, providers):
    def run(scenario: Scenario, *, rest: bool = False) -> Report:
        root = scenario.write(tmp_path / ("rest" if rest else "cli"), rest=rest)
        return audit(Evidence(root), providers=providers)

    return run
