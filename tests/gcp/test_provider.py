"""The GCP provider's wiring: entry point, options, and the lazy hand-off to live collection."""

from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path

import pytest
from kubeiam_gcp import PROVIDER

from kubeiam.pipeline.providers import CollectRequest, Provider, load_providers
from kubeiam.vocabulary.model import Inventory


def test_registered_with_rules_and_order() -> None:
    (gcp,) = [p for p in load_providers() if p.name == "gcp"]
    assert gcp is PROVIDER and isinstance(gcp, Provider)
    assert gcp.order == 10
    # In catalogue order, no gap (issue 14 added GCP-011, issue 15 GCP-012 and on).
    assert [r.id for r in gcp.rules] == [f"GCP-{n:03d}" for n in range(1, len(gcp.rules) + 1)]
    assert len(gcp.rules) >= 11
    assert all(r.cloud == "gcp" for r in gcp.rules)


def test_gcp_project_option_is_repeatable() -> None:
    parser = argparse.ArgumentParser()
    PROVIDER.add_arguments(parser.add_argument_group("gcp"))
    options = parser.parse_args(["--gcp-project", "a-proj", "--gcp-project", "b-proj"])
    assert options.gcp_projects == ["a-proj", "b-proj"]
    assert parser.parse_args([]).gcp_projects is None


def test_collect_hands_off_to_the_live_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen = []
    fake = types.ModuleType("kubeiam_gcp.live")
    fake.collect = lambda request, inventory: seen.append((request, inventory)) or ["err"]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kubeiam_gcp.live", fake)
    request = CollectRequest(options=argparse.Namespace(gcp_projects=None), output=tmp_path)
    inventory = Inventory()
    assert PROVIDER.collect(request, inventory) == ["err"]
    assert seen == [(request, inventory)]
