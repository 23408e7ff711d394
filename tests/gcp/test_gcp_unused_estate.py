"""The benchmark's GKE estate with usage data for every identity (benchmarks/other_clouds.py, `usage=True`), at a
tiny scale: usage covers every identity (no GCP-011 coverage note), and every kind of finding is there."""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from estate import Scale  # noqa: E402
from other_clouds import generate  # noqa: E402

from kubeiam.pipeline.audit import audit  # noqa: E402
from kubeiam.pipeline.evidence import Evidence  # noqa: E402


def test_the_estate_with_usage_data_is_judged_whole(tmp_path: Path) -> None:
    generate("gcp", tmp_path / "usage", Scale(200, 50, 10, 4), usage=True)
    generate("gcp", tmp_path / "none", Scale(200, 50, 10, 4), usage=False)
    with_usage = audit(Evidence(tmp_path / "usage"))
    without = audit(Evidence(tmp_path / "none"))
    notes = [e for e in with_usage.coverage["errors"] if e.get("rules") == ["GCP-011"]]
    assert notes == []
    assert len([e for e in without.coverage["errors"] if e.get("rules") == ["GCP-011"]]) == 50  # one per identity
    unused = [f for f in with_usage.findings if f.rule_id == "GCP-011"]
    titles = {f.title.split(": ", 1)[1].split(" ")[0] for f in unused}
    assert titles == {"never", "not", "uses"}  # never used, not used for N days, unused permissions
    assert {f.severity.value for f in unused} >= {"low", "medium", "high"}
    # The same estate otherwise: the other rules' findings are the same.
    others = {f.fingerprint for f in with_usage.findings if f.rule_id != "GCP-011"}
    assert others == {f.fingerprint for f in without.findings}
