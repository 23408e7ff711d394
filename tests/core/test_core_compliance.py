"""Each rule names the controls it evidences, with their source; a finding carries those of its platform."""

from __future__ import annotations

import json

import pytest

from kubeiam.pipeline.audit import audit, demo_dir
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import all_rules, load_providers

RULES = all_rules(load_providers())


def test_every_provider_maps_exactly_its_own_rules() -> None:

    for provider in load_providers():
        mapped = json.loads(_data(provider).read_text())
        assert set(mapped["rules"]) == {r.id for r in provider.rules}, provider.name


def _data(provider: object):
    import importlib
    from pathlib import Path

    return Path(importlib.import_module(type(provider).__module__).__file__).parent / "data" / "compliance.json"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_control_cites_a_version_and_a_source(rule) -> None:
    for c in rule.compliance:
        assert c.version and c.id and c.title and c.source, (rule.id, c)


def test_the_catalogue_shows_the_controls() -> None:
    meta = next(r for r in RULES if r.id == "AWS-020").metadata()
    assert {"framework", "version", "id", "title", "applies_to", "source"} <= set(meta["compliance"][0])
    assert any(c["id"] == "T1552.005" for c in meta["compliance"])  # instance metadata API


def test_a_finding_carries_the_controls_of_its_own_platform() -> None:
    report = audit(Evidence(demo_dir()))
    by_cluster = {}
    for f in report.findings:
        if f.rule_id == "K8S-001":
            by_cluster[f.cluster] = {c["framework"] for c in f.compliance}
    assert any("AKS" in fw for fw in by_cluster["aks-apps"])
    assert not any("EKS" in fw or "GKE" in fw for fw in by_cluster["aks-apps"])
    assert all("MITRE ATT&CK Enterprise" in fws for fws in by_cluster.values())
    assert all(f.to_dict()["compliance"] == [dict(c) for c in f.compliance] for f in report.findings)
