"""A report with every quarterly field set (owner, suppressed, expired suppression, baseline) for the renderers."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers
from kubeiam.pipeline.report import Report
from kubeiam.quarterly.baseline import previous_from_dict
from kubeiam.quarterly.stages import Stages
from kubeiam.quarterly.suppressions import Suppression

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "fixtures" / "quarterly" / "evidence"
SCHEMAS = REPO / "src" / "kubeiam" / "schema"


def build_report(root: Path = FIXTURE) -> Report:
    providers = load_providers()
    before = audit(Evidence(root), providers=providers, stages=Stages(now=datetime(2026, 1, 1, tzinfo=UTC)))
    doc = json.loads(json.dumps(before.to_dict()))
    # The baseline lacks one current finding (it shows as new) and has one gone finding (resolved).
    trainer = next(f for f in doc["findings"] if f["service_account"] == "trainer")
    doc["findings"].remove(trainer)
    gone = {**doc["findings"][0], "fingerprint": "v1:" + "f" * 32, "title": "a fixed problem"}
    doc["findings"].append(gone)
    stages = Stages(
        now=datetime(2026, 4, 1, 12, 0, tzinfo=UTC),
        baseline=previous_from_dict(doc, "q1.json"),
        suppressions=(
            Suppression("accepted", "team-data", date(2026, 12, 31), rule="K8S-003", subject="data/*", source="s#0"),
            Suppression("old", "team-ml", date(2026, 1, 31), rule="K8S-002", subject="*/*", source="s#1"),
        ),
    )
    return audit(Evidence(root), providers=providers, stages=stages)


@pytest.fixture(scope="module")
def report() -> Report:
    return build_report()


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text())


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    target = tmp_path / "evidence"
    shutil.copytree(FIXTURE, target)
    return target
