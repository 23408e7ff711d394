"""One runner for every rule's fixtures: fixtures/rules/<RULE-ID>/{fail,pass}-<what>/ evidence dirs.

A `fail-*` directory must make the rule fire (and `expect.json`, when present, pins the count
and the lowest severity); a `pass-*` directory must not make it fire.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import all_rules, load_providers

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "rules"
CASES = sorted(p for p in ROOT.glob("*/*") if p.is_dir() and p.name.split("-")[0] in {"pass", "fail"})


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_rule_fixture(case: Path) -> None:
    rule_id = case.parent.name
    report = audit(Evidence(case), providers=load_providers())
    hits = [f for f in report.findings if f.rule_id == rule_id]
    if case.name.startswith("pass-"):
        assert hits == [], [f.title for f in hits]
        return
    assert hits, f"{rule_id} did not fire on {case.name}"
    expect_file = case / "expect.json"
    if expect_file.exists():
        expect = json.loads(expect_file.read_text())
        if "count" in expect:
            assert len(hits) == expect["count"], [f.title for f in hits]
        if "severity" in expect:
            assert {f.severity.value for f in hits} == {expect["severity"]}


def test_every_rule_has_a_passing_and_a_failing_fixture() -> None:
    missing = []
    for rule in all_rules(load_providers()):
        kinds = {p.name.split("-")[0] for p in (ROOT / rule.id).glob("*") if p.is_dir()}
        if not {"pass", "fail"} <= kinds:
            missing.append(rule.id)
    assert not missing, f"rules without a pass-* and a fail-* fixture: {missing}"
